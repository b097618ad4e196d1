//! What the store returns: tenants, clients, vouchers, holds, entries and audit events as the
//! server needs them, plus the filters and pages of the lists. Wire formats are not here; each
//! face formats these its own way.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use voucherd_domain::{
    Currency, EntryKind, HoldState, Scope, Validity, VoucherKind, VoucherStatus,
    integrity::Violation,
};

/// The id of the tenant that exists from the first start.
pub const DEFAULT_TENANT_ID: &str = "default";
/// Default voucher id pattern: 16 upper-case letters and digits.
pub const VOUCHER_ID_PATTERN_DEFAULT: &str = "[A-Z0-9]{16}";
/// Default code pattern: 12 characters without look-alikes (about 60 bits).
pub const CODE_PATTERN_DEFAULT: &str = "[A-HJ-NP-Z2-9]{12}";
/// Default reservation lifetime.
pub const RESERVATION_TTL_SECONDS_DEFAULT: i64 = 30 * 60;
/// Bounds of the reservation lifetime setting.
pub const RESERVATION_TTL_SECONDS_RANGE: std::ops::RangeInclusive<i64> = 60..=86_400;
/// Default access token lifetime.
pub const TOKEN_TTL_SECONDS_DEFAULT: i64 = 3_600;
/// Bounds of the token lifetime setting.
pub const TOKEN_TTL_SECONDS_RANGE: std::ops::RangeInclusive<i64> = 60..=86_400;
/// How long a connection pin can be exchanged.
pub const CONNECTION_PIN_TTL_SECONDS: i64 = 30 * 60;
/// How long a stored idempotent response is replayed.
pub const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 3_600;

/// A tenant's settings: the generators and lifetimes an operator can change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantSettings {
    pub voucher_id_pattern: String,
    pub code_pattern: String,
    /// `None`: vouchers get no PIN unless one is sent.
    pub pin_pattern: Option<String>,
    pub default_validity: Validity,
    pub reservation_ttl_seconds: i64,
    pub token_ttl_seconds: i64,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            voucher_id_pattern: VOUCHER_ID_PATTERN_DEFAULT.into(),
            code_pattern: CODE_PATTERN_DEFAULT.into(),
            pin_pattern: None,
            default_validity: Validity {
                value: 3,
                interval: voucherd_domain::ValidityInterval::Years,
            },
            reservation_ttl_seconds: RESERVATION_TTL_SECONDS_DEFAULT,
            token_ttl_seconds: TOKEN_TTL_SECONDS_DEFAULT,
        }
    }
}

/// An operator's account. Nothing crosses tenants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub settings: TenantSettings,
    pub created_at: OffsetDateTime,
}

/// A set of clients sharing the scopes they may ask for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientGroup {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: OffsetDateTime,
}

/// One integration (a till, a shop).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    pub id: String,
    pub client_group_id: String,
    pub name: String,
    pub client_type: String,
    /// The scopes of the client's group.
    pub scopes: Vec<Scope>,
    pub connected: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub connected_at: Option<OffsetDateTime>,
}

/// What a valid access token grants.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenGrant {
    pub tenant_id: String,
    pub client_id: String,
    pub scopes: Vec<Scope>,
    pub expires_at: OffsetDateTime,
}

/// A merchant API token as listed (the token itself is shown once, at creation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MerchantToken {
    pub id: String,
    pub name: String,
    pub created_at: OffsetDateTime,
    /// When the token was revoked; a revoked token is refused on its next request.
    pub revoked_at: Option<OffsetDateTime>,
}

/// A voucher with its balance as of the read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoucherView {
    pub id: String,
    pub code: String,
    pub pin: Option<String>,
    pub client_id: Option<String>,
    pub sku: Option<String>,
    pub batch: Option<String>,
    pub amount_minor: i64,
    pub currency: Currency,
    pub valid_until: Option<OffsetDateTime>,
    pub validity: Validity,
    pub status: VoucherStatus,
    pub kind: VoucherKind,
    pub taxable: bool,
    pub tax_rate: Option<String>,
    pub order_number: Option<String>,
    pub data: Option<String>,
    pub remaining_minor: i64,
    pub held_minor: i64,
    pub deletable: bool,
    pub deleted_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A hold (a reservation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldView {
    pub id: String,
    pub voucher_id: String,
    pub voucher_taxable: bool,
    pub voucher_tax_rate: Option<String>,
    pub client_id: Option<String>,
    pub purpose: String,
    pub amount_minor: i64,
    pub currency: Currency,
    /// The state as of the read: a live hold past its expiry reads `Expired`.
    pub state: HoldState,
    pub expires_at: OffsetDateTime,
    pub charge_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// An immutable ledger entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryView {
    pub id: String,
    pub voucher_id: String,
    pub client_id: Option<String>,
    pub kind: EntryKind,
    pub amount_minor: i64,
    pub currency: Currency,
    pub order_number: Option<String>,
    /// For a refund: the charge it refunds.
    pub refund_of: Option<String>,
    pub created_at: OffsetDateTime,
}

/// One recorded state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: i64,
    pub at: OffsetDateTime,
    pub actor_kind: String,
    pub actor_id: String,
    pub action: String,
    pub subject_kind: String,
    pub subject_id: String,
    pub request_id: String,
    pub detail: serde_json::Value,
}

/// Which page of a list, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: i64,
    pub per_page: i64,
}

/// One page of a list and the size of the whole list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// Filters of the voucher list. Bounds are inclusive.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VoucherFilter {
    pub created_from: Option<OffsetDateTime>,
    pub created_to: Option<OffsetDateTime>,
    pub status: Option<VoucherStatus>,
    pub batch: Option<String>,
    pub sku: Option<String>,
    pub order_number: Option<String>,
    pub kind: Option<VoucherKind>,
    /// Exact voucher id (admin search).
    pub id: Option<String>,
    /// Exact code (admin search; never offered to API clients).
    pub code: Option<String>,
    /// The order of the list.
    pub order: VoucherOrder,
}

/// How a voucher list is sorted; ties are broken by insertion order in the same direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VoucherOrder {
    pub by: VoucherSort,
    pub descending: bool,
}

/// The column a voucher list is sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum VoucherSort {
    #[default]
    Created,
    Amount,
    Remaining,
    ValidUntil,
}

impl VoucherSort {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "created" => Some(VoucherSort::Created),
            "amount" => Some(VoucherSort::Amount),
            "remaining" => Some(VoucherSort::Remaining),
            "valid_until" => Some(VoucherSort::ValidUntil),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            VoucherSort::Created => "created",
            VoucherSort::Amount => "amount",
            VoucherSort::Remaining => "remaining",
            VoucherSort::ValidUntil => "valid_until",
        }
    }

    /// The column it sorts by.
    pub fn column(&self) -> &'static str {
        match self {
            VoucherSort::Created => "v.created_at",
            VoucherSort::Amount => "v.amount_minor",
            VoucherSort::Remaining => "v.remaining_minor",
            // Vouchers without an end (not yet active) sort as the farthest future on every store.
            VoucherSort::ValidUntil => "COALESCE(v.valid_until, 9223372036854775807)",
        }
    }
}

/// Filters of a voucher's entry list. Bounds are inclusive.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntryFilter {
    pub created_from: Option<OffsetDateTime>,
    pub created_to: Option<OffsetDateTime>,
    pub order_number: Option<String>,
    pub kind: Option<EntryKind>,
}

/// Filters of the audit log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub subject_id: Option<String>,
    pub action: Option<String>,
    pub actor_id: Option<String>,
}

/// The result of recomputing every voucher of a tenant from its entries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntegrityReport {
    pub vouchers_checked: i64,
    pub violations: Vec<Violation>,
}

/// What a background sweep tidied up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub holds_expired: u64,
    pub idempotency_keys_dropped: u64,
    pub tokens_dropped: u64,
}
