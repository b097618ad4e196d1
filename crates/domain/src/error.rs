//! Business-rule refusals shared by every face. Each face maps them to its own wire codes.

use serde::{Deserialize, Serialize};

/// Why the ledger refused a command. These are the refusals a client can cause and correct;
/// storage failures are not domain errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum DomainError {
    #[error("voucher not found")]
    VoucherNotFound,
    #[error("reservation not found")]
    ReservationNotFound,
    #[error("charge not found")]
    ChargeNotFound,
    #[error("client not found")]
    ClientNotFound,
    #[error("client group not found")]
    ClientGroupNotFound,
    #[error("tenant not found")]
    TenantNotFound,
    #[error("voucher is inactive")]
    VoucherInactive,
    #[error("voucher validity has passed")]
    VoucherExpired,
    #[error("available balance is too low")]
    InsufficientBalance,
    #[error("currency does not match the voucher")]
    CurrencyMismatch,
    #[error("reservation is no longer live")]
    ReservationExpired,
    #[error("reservation was already charged")]
    ReservationAlreadyCharged,
    #[error("refunds would exceed the charge")]
    RefundExceedsCharge,
    #[error("only charges can be refunded")]
    ChargeNotRefundable,
    #[error("voucher has ledger activity or a live reservation")]
    VoucherNotDeletable,
    #[error("balance would exceed the maximum")]
    BalanceLimitExceeded,
    #[error("voucher id already taken")]
    VoucherIdTaken,
    #[error("voucher code already taken")]
    VoucherCodeTaken,
    #[error("voucher id and code already taken")]
    VoucherIdAndCodeTaken,
    #[error("tenant id already taken")]
    TenantIdTaken,
    #[error("connection pin unknown, used or expired")]
    PinInvalid,
    #[error("client credentials are invalid")]
    ClientCredentialsInvalid,
    #[error("requested scope exceeds the client group")]
    ScopeNotAllowed,
    #[error("could not generate a unique value from the pattern")]
    PatternExhausted,
    /// An imported voucher's id or code (`column`) is already taken; `row` counts from 0.
    #[error("import row {row}: {column} already taken")]
    ImportRowTaken { row: i64, column: String },
    #[error("a console user with that name exists")]
    ConsoleUsernameTaken,
    #[error("console user not found")]
    ConsoleUserNotFound,
    #[error("merchant token not found")]
    MerchantTokenNotFound,
    #[error("webhook endpoint not found")]
    WebhookNotFound,
    /// Paying with several vouchers: the one at `position` (from 0, in the order given) was
    /// refused for `refusal`.
    #[error("paying voucher {position}: {refusal}")]
    PayingVoucher {
        position: usize,
        refusal: Box<DomainError>,
    },
    /// Paying: the vouchers together do not cover the amount. What each would cover, in the
    /// order given.
    #[error("the vouchers do not cover the amount")]
    VouchersShort { covers_minor: Vec<i64> },
    /// A refusal of the Front Payment face's reservation rules.
    #[error("{0}")]
    Front(crate::front::FrontRefusal),
    /// A refusal of the bleepay face's context and voucher-code rules.
    #[error("{0}")]
    Bleepay(crate::bleepay::BleepayRefusal),
}
