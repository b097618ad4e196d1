//! What the store keeps for Front Payment "Connect" reservations: the fields of a new
//! reservation and of its captures, charges and refunds, and the views read back (the
//! reservation with its lines and postings, history events, callbacks due for delivery).
//! Money is in minor units; the face converts Front Payment's major-unit numbers.

use serde::Serialize;
use time::OffsetDateTime;
use voucherd_domain::Currency;
use voucherd_domain::front::FrontStatus;
pub use voucherd_domain::front::{FrontLineInput, LineAmount, PayingVoucher, PostingSource};

/// A new reservation (submit or create session).
#[derive(Debug, Clone, PartialEq)]
pub struct NewFrontReservation {
    /// The customer id sent by the merchant, if any (`CSRT…`); else one is made.
    pub customer_id: Option<String>,
    /// The customer, order and settings fields as submitted, kept for the details page.
    pub details: serde_json::Value,
    /// When an unpaid payment link expires.
    pub due_at: OffsetDateTime,
    /// What charges may add up to; `None`: the reserved grand total.
    pub charge_limit_minor: Option<i64>,
    pub charge_validity_days: i64,
    pub charge_partially_refundable: bool,
    pub lines: Vec<FrontLineInput>,
    pub grand_total_minor: i64,
    pub callback_url: Option<String>,
    pub success_url: Option<String>,
    pub failure_url: Option<String>,
    /// Where the link is said to be sent (e-mail or phone), for the history.
    pub sent_to: Option<String>,
}

/// One product line of a reservation: reserved at submission, or added by a charge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrontLineView {
    /// The id captures and refunds name the line by.
    pub id: i64,
    /// The charge that added the line; `None` for reserved lines.
    pub charge_id: Option<String>,
    pub name: String,
    pub product_id: Option<String>,
    pub rate_minor: i64,
    pub tax: String,
    pub amount_minor: i64,
    pub captured_minor: i64,
}

/// A capture or charge of a reservation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrontPostingView {
    /// `CAP…` or `CHA…`: the ledger entry id.
    pub id: String,
    pub source: PostingSource,
    pub amount_minor: i64,
    pub refunded_minor: i64,
    pub created_at: OffsetDateTime,
    /// When the last refund of it was made.
    pub refunded_at: Option<OffsetDateTime>,
}

/// A reservation as of a moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrontReservationView {
    pub tenant_id: String,
    pub id: String,
    pub customer_id: String,
    /// The status as of the read (an unpaid link past its due date is `Expired`).
    pub status: FrontStatus,
    pub details: serde_json::Value,
    pub due_at: OffsetDateTime,
    pub charge_limit_minor: i64,
    pub charge_validity_days: i64,
    pub charge_partially_refundable: bool,
    pub grand_total_minor: i64,
    pub callback_url: Option<String>,
    pub success_url: Option<String>,
    pub failure_url: Option<String>,
    /// The first paying voucher's id, and the currency of them all, once paid.
    pub voucher_id: Option<String>,
    pub currency: Option<Currency>,
    pub reserved_at: Option<OffsetDateTime>,
    /// What the vouchers still hold for this reservation.
    pub held_minor: i64,
    pub captured_minor: i64,
    pub charged_minor: i64,
    pub refunded_captured_minor: i64,
    pub refunded_charged_minor: i64,
    pub lines: Vec<FrontLineView>,
    pub postings: Vec<FrontPostingView>,
    /// Each paying voucher's part, in the order the customer gave them.
    pub vouchers: Vec<FrontPayerView>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What one paying voucher holds for a reservation, and what was captured, charged and
/// refunded on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrontPayerView {
    pub voucher_id: String,
    /// The voucher's code as the customer may see it again: its last four characters.
    pub masked_code: String,
    pub held_minor: i64,
    pub captured_minor: i64,
    pub charged_minor: i64,
    pub refunded_minor: i64,
}

/// One event of a reservation's history, with Front Payment's title slugs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrontEventView {
    /// The reservation id, or the capture/charge id for those events.
    pub uuid: String,
    pub reservation_id: String,
    pub title: String,
    pub at: OffsetDateTime,
    pub amount_minor: Option<i64>,
    pub sent_to: Option<String>,
    pub action_by: Option<String>,
    pub note: Option<String>,
    pub is_refundable: bool,
}

/// Who a merchant token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantGrant {
    pub tenant_id: String,
    pub token_id: String,
}

/// A status callback due for delivery, claimed for a while by the node that read it.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontCallback {
    pub pk: i64,
    pub url: String,
    pub order_uuid: String,
    pub status: FrontStatus,
    /// When the status changed.
    pub created_at: OffsetDateTime,
    pub amount_minor: i64,
    /// Attempts made before this one.
    pub attempts: i64,
    /// The merchant's checksum secret.
    pub secret: String,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CallbackAttempt {
    Delivered,
    /// Try again at `retry_at`, or give up when `None`.
    Failed {
        error: String,
        retry_at: Option<OffsetDateTime>,
    },
}
