//! What the store keeps for the bleepay face: payer accounts and their vouchers, contexts and
//! the vouchers they bind, tokens of payers and payees, and the short-lived 6-digit voucher
//! codes with the hold or charge each one made. Money is in minor units.

use time::OffsetDateTime;
use voucherd_domain::Currency;
pub use voucherd_domain::bleepay::BleepayCaller;
use voucherd_domain::bleepay::{CodeFormat, CodeSnapshot, CodeStatus, ContextStatus};

/// How a payer signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayerKind {
    /// An e-mail address (kept lower-cased) and a password.
    EmailPassword,
    /// A wallet app installation: its `installationId` and a device password.
    MobileDevice,
}

impl PayerKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "email-password" => Some(PayerKind::EmailPassword),
            "mobile-device" => Some(PayerKind::MobileDevice),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            PayerKind::EmailPassword => "email-password",
            PayerKind::MobileDevice => "mobile-device",
        }
    }
}

/// What a bleepay bearer token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BleepayGrant {
    pub tenant_id: String,
    pub caller: BleepayCaller,
}

/// A payer's stored credential, for verifying a sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayerCredential {
    pub payer_id: String,
    pub password_hash: String,
}

/// A voucher named when opening a context: its code, and its PIN where it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextAddress {
    pub code: String,
    pub pin: Option<String>,
}

/// A voucher in a payer's account.
#[derive(Debug, Clone, PartialEq)]
pub struct PayerVoucherView {
    pub voucher_id: String,
    pub currency: Currency,
    pub remaining_minor: i64,
    pub available_minor: i64,
    pub valid_until: Option<OffsetDateTime>,
    pub active: bool,
    pub added_at: OffsetDateTime,
}

/// One voucher a context binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingView {
    /// As the payer named it (the voucher's code).
    pub address: String,
    pub voucher_id: String,
}

/// A context.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextView {
    pub id: String,
    pub code: String,
    pub format: CodeFormat,
    /// As stored; [`ContextView::status_at`] gives what callers see.
    pub status: ContextStatus,
    pub payer_id: String,
    pub payee_id: Option<String>,
    /// Why it closed other than by the payer: `expired`, `locked` (too many wrong codes).
    pub closed_reason: Option<String>,
    pub bindings: Vec<BindingView>,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl ContextView {
    pub fn status_at(&self, now: OffsetDateTime) -> ContextStatus {
        self.status.at(self.expires_at, now)
    }
}

/// A 6-digit voucher code with what it holds or charged.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeView {
    pub id: String,
    pub code: String,
    pub context_id: String,
    /// The payer who opened the context (the one who resolves).
    pub payer_id: String,
    /// The payer account that reserved it as a payee; `None`: the context's resource token.
    pub reserved_by: Option<String>,
    /// As stored; [`CodeView::status_at`] gives what callers see.
    pub status: CodeStatus,
    pub currency: Option<Currency>,
    pub amount_minor: Option<i64>,
    /// The stored-value voucher holding or paying the amount, once redeemed.
    pub voucher_id: Option<String>,
    /// The ledger charge made when the payer resolved it.
    pub charge_id: Option<String>,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl CodeView {
    pub fn snapshot(&self) -> CodeSnapshot {
        CodeSnapshot {
            status: self.status,
            expires_at: self.expires_at,
        }
    }

    pub fn status_at(&self, now: OffsetDateTime) -> CodeStatus {
        self.snapshot().status_at(now)
    }

    /// Whether `caller` may see and act on this code as a payee or as its payer.
    pub fn visible_to(&self, caller: &BleepayCaller) -> bool {
        caller.sees(
            &self.context_id,
            &self.payer_id,
            self.reserved_by.as_deref(),
        )
    }
}

/// Which page of contexts or codes to list (bleepay's `limit`, `offset`, `since`, `until`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListWindow {
    pub limit: i64,
    pub offset: i64,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}
