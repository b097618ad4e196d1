//! What the operator's reports show: outstanding liability per currency, ledger movements per
//! day, and vouchers about to expire.

use time::{Date, OffsetDateTime};
use voucherd_domain::{Currency, EntryKind};

/// Value still owed to holders of active vouchers in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Liability {
    pub currency: Currency,
    pub vouchers: i64,
    pub remaining_minor: i64,
}

/// Entries of one kind and currency on one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayMovement {
    pub day: Date,
    pub kind: EntryKind,
    pub currency: Currency,
    pub entries: i64,
    pub amount_minor: i64,
}

/// An active voucher with value left that expires soon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiring {
    pub voucher_id: String,
    pub currency: Currency,
    pub remaining_minor: i64,
    pub valid_until: OffsetDateTime,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub liability: Vec<Liability>,
    pub movements: Vec<DayMovement>,
    /// The soonest first, at most a page of them.
    pub expiring: Vec<Expiring>,
    /// How many expire within the window in all.
    pub expiring_total: i64,
}
