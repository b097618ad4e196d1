//! The ledger's events as the store keeps and reads them: numbered per tenant, in commit order
//! (see `sql::events`). The event types and their data are the domain's
//! ([`voucherd_domain::events`]).

use serde_json::Value;
use time::OffsetDateTime;

/// Events a feed page holds at most.
pub const EVENT_PAGE_MAX: i64 = 1_000;

/// An event as stored: its number in the tenant's sequence, and what it tells.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: i64,
    pub kind: String,
    pub at: OffsetDateTime,
    pub face: String,
    pub actor_kind: String,
    pub actor_id: String,
    pub request_id: String,
    pub voucher_id: Option<String>,
    pub data: Value,
}

/// Which events a feed page holds.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFilter {
    /// Only events numbered after this one.
    pub after: i64,
    /// At most this many (1 to [`EVENT_PAGE_MAX`]).
    pub limit: i64,
    /// Only these types (exact, or a family ending in `.*`); empty: every type.
    pub types: Vec<String>,
    /// Only events about this voucher.
    pub voucher_id: Option<String>,
    /// Only events at or after this time.
    pub from: Option<OffsetDateTime>,
    /// Only events before this time.
    pub to: Option<OffsetDateTime>,
}
