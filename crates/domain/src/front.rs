//! Front Payment "Connect" reservations over vouchers: the statuses a reservation moves
//! through, the refusals with Front Payment's message keys, and the decisions on capture,
//! charge, cancel, complete and refund. Nothing here touches money directly: the store turns an
//! accepted decision into holds and ledger entries.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// Days a confirmed reservation may be captured, unless the tenant says otherwise.
pub const CAPTURE_DEADLINE_DAYS_DEFAULT: i64 = 31;
/// Days a confirmed reservation may be charged when `chargeValidity` is not given.
pub const CHARGE_VALIDITY_DAYS_DEFAULT: i64 = 90;
/// The longest `chargeValidity` accepted (ten years).
pub const CHARGE_VALIDITY_DAYS_MAX: i64 = 3_650;

/// Where a reservation stands. `Expired` is never stored: an unpaid reservation whose link is
/// past its due date reads as expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FrontStatus {
    /// Created; the payment link waits for the customer.
    Sent,
    /// The customer held the grand total on a voucher; nothing drawn yet.
    Reserved,
    /// The latest draw was a capture.
    Captured,
    /// The latest draw was a charge.
    Charged,
    Completed,
    Cancelled,
    Expired,
}

impl FrontStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FrontStatus::Sent => "sent",
            FrontStatus::Reserved => "reserved",
            FrontStatus::Captured => "captured",
            FrontStatus::Charged => "charged",
            FrontStatus::Completed => "completed",
            FrontStatus::Cancelled => "cancelled",
            FrontStatus::Expired => "expired",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            FrontStatus::Sent,
            FrontStatus::Reserved,
            FrontStatus::Captured,
            FrontStatus::Charged,
            FrontStatus::Completed,
            FrontStatus::Cancelled,
            FrontStatus::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// The name on Front Payment's wire (`RESERVED`, `CAPTURED`, ...).
    pub fn wire(self) -> &'static str {
        match self {
            FrontStatus::Sent => "SENT",
            FrontStatus::Reserved => "RESERVED",
            FrontStatus::Captured => "CAPTURED",
            FrontStatus::Charged => "CHARGED",
            FrontStatus::Completed => "COMPLETED",
            FrontStatus::Cancelled => "CANCELLED",
            FrontStatus::Expired => "EXPIRED",
        }
    }

    /// The status as of `now`: an unpaid reservation past its link's due date is expired.
    pub fn at(self, due_at: OffsetDateTime, now: OffsetDateTime) -> Self {
        if self == FrontStatus::Sent && due_at <= now {
            FrontStatus::Expired
        } else {
            self
        }
    }

    /// Whether money was drawn (captured or charged).
    fn drawn(self) -> bool {
        matches!(self, FrontStatus::Captured | FrontStatus::Charged)
    }
}

/// A product line as the merchant sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrontLineInput {
    pub name: String,
    pub product_id: Option<String>,
    pub rate_minor: i64,
    /// The VAT percentage as sent (`"0"`, `"12"`, `"25"`).
    pub tax: String,
    /// The gross line total.
    pub amount_minor: i64,
}

/// The most vouchers one reservation is paid with.
pub const PAYING_VOUCHERS_MAX: usize = 5;

/// A voucher the customer pays with, as typed on the payment page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayingVoucher {
    pub code: String,
    pub pin: Option<String>,
}

/// An amount drawn from, or refunded to, one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineAmount {
    pub line_id: i64,
    pub amount_minor: i64,
}

/// Which kind of posting a refund goes back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PostingSource {
    Captured,
    Charged,
}

impl PostingSource {
    /// The stored and wire name (`captured`, `charged`).
    pub fn as_str(self) -> &'static str {
        match self {
            PostingSource::Captured => "captured",
            PostingSource::Charged => "charged",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "captured" => Some(PostingSource::Captured),
            "charged" => Some(PostingSource::Charged),
            _ => None,
        }
    }
}

/// Why Front Payment's face refuses an action; each maps to one message key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum FrontRefusal {
    #[error("reservationNotFound")]
    ReservationNotFound,
    #[error("paymentCardNotFound")]
    PaymentCardNotFound,
    #[error("paymentChargeRunwayExceed")]
    ChargeRunwayExceeded,
    #[error("paymentChargeDeadlineExceed")]
    ChargeDeadlineExceeded,
    #[error("requestedCaptureAmountExceedAvailableCaptureRunway")]
    CaptureRunwayExceeded,
    #[error("paymentCaptureDeadlineExceed")]
    CaptureDeadlineExceeded,
    #[error("reservationStatusAlreadyCancelled")]
    AlreadyCancelled,
    #[error("reservationStatusAlreadyCompleted")]
    AlreadyCompleted,
    #[error("prerequisiteFailedToCancelReservation")]
    CannotCancel,
    #[error("prerequisiteFailedToCompleteReservation")]
    CannotComplete,
    #[error("prerequisiteFailedToResendReservation")]
    CannotResend,
    #[error("refundRejectionForTransactionNotFound")]
    RefundTransactionNotFound,
    #[error("requestProductIdNotAvailable")]
    RefundLineNotAvailable,
    #[error("refundRejectionForRefundedCancelledInvoicedOrderParamRefunded")]
    RefundAlreadyRefunded,
    #[error("refundRejectionForAmountExceedRefundableAmount")]
    RefundExceedsRefundable,
    #[error("refundRejectionForPartialRefundOfChargeNotAllowed")]
    PartialChargeRefundNotAllowed,
    /// The payment page: the link is past its due date.
    #[error("paymentLinkExpired")]
    LinkExpired,
    /// The payment page: the reservation was already paid, cancelled or completed.
    #[error("paymentLinkAlreadyUsed")]
    LinkAlreadyUsed,
    /// The payment page: the same voucher was given twice.
    #[error("paymentVoucherRepeated")]
    VoucherRepeated,
    /// The payment page: more than [`PAYING_VOUCHERS_MAX`] vouchers, or none.
    #[error("paymentVoucherCountInvalid")]
    VoucherCountInvalid,
}

impl FrontRefusal {
    /// The message key on the wire.
    pub fn key(self) -> String {
        self.to_string()
    }

    /// Whether the face answers 404 (else 400, "Conflict of Business Logic").
    pub fn is_not_found(self) -> bool {
        matches!(
            self,
            FrontRefusal::ReservationNotFound
                | FrontRefusal::PaymentCardNotFound
                | FrontRefusal::RefundTransactionNotFound
        )
    }
}

/// What the decisions need to know about a reservation.
#[derive(Debug, Clone, Copy)]
pub struct FrontSnapshot {
    /// The stored status (never `Expired`).
    pub status: FrontStatus,
    pub due_at: OffsetDateTime,
    /// When the customer held the money; `None` while unpaid.
    pub reserved_at: Option<OffsetDateTime>,
    pub charge_validity_days: i64,
    pub capture_deadline_days: i64,
    /// What merchant-initiated charges may add up to.
    pub charge_limit_minor: i64,
    pub charged_minor: i64,
}

impl FrontSnapshot {
    fn refuse_closed(&self) -> Result<(), FrontRefusal> {
        match self.status {
            FrontStatus::Cancelled => Err(FrontRefusal::AlreadyCancelled),
            FrontStatus::Completed => Err(FrontRefusal::AlreadyCompleted),
            _ => Ok(()),
        }
    }

    /// The end of the capture window, once confirmed.
    pub fn capture_deadline(&self) -> Option<OffsetDateTime> {
        self.reserved_at
            .map(|at| at + Duration::days(self.capture_deadline_days))
    }

    /// The end of the charge window, once confirmed.
    pub fn charge_deadline(&self) -> Option<OffsetDateTime> {
        self.reserved_at
            .map(|at| at + Duration::days(self.charge_validity_days))
    }
}

/// May the customer pay (confirm) the reservation now?
pub fn decide_pay(r: &FrontSnapshot, now: OffsetDateTime) -> Result<(), FrontRefusal> {
    match r.status.at(r.due_at, now) {
        FrontStatus::Sent => Ok(()),
        FrontStatus::Expired => Err(FrontRefusal::LinkExpired),
        _ => Err(FrontRefusal::LinkAlreadyUsed),
    }
}

/// May lines be captured now? Per-line amounts are checked by the caller against each line's
/// `reserved - captured`, and must also fit what the hold still holds.
pub fn decide_capture(r: &FrontSnapshot, now: OffsetDateTime) -> Result<(), FrontRefusal> {
    r.refuse_closed()?;
    let deadline = r
        .capture_deadline()
        .ok_or(FrontRefusal::PaymentCardNotFound)?;
    // The hold expires at the deadline, so the deadline itself is already too late.
    if now >= deadline {
        return Err(FrontRefusal::CaptureDeadlineExceeded);
    }
    Ok(())
}

/// May a merchant-initiated charge of `amount_minor` be made now, with `available_minor`
/// spendable on the voucher?
pub fn decide_charge(
    r: &FrontSnapshot,
    amount_minor: i64,
    available_minor: i64,
    now: OffsetDateTime,
) -> Result<(), FrontRefusal> {
    r.refuse_closed()?;
    let deadline = r
        .charge_deadline()
        .ok_or(FrontRefusal::PaymentCardNotFound)?;
    if now > deadline {
        return Err(FrontRefusal::ChargeDeadlineExceeded);
    }
    let runway = r.charge_limit_minor - r.charged_minor;
    if amount_minor > runway || amount_minor > available_minor {
        return Err(FrontRefusal::ChargeRunwayExceeded);
    }
    Ok(())
}

/// May the reservation be cancelled now? Only while nothing was drawn.
pub fn decide_cancel(r: &FrontSnapshot, now: OffsetDateTime) -> Result<(), FrontRefusal> {
    match r.status.at(r.due_at, now) {
        FrontStatus::Sent | FrontStatus::Reserved => Ok(()),
        FrontStatus::Completed | FrontStatus::Cancelled => Err(FrontRefusal::AlreadyCompleted),
        _ => Err(FrontRefusal::CannotCancel),
    }
}

/// May the reservation be completed now? Only after something was drawn.
pub fn decide_complete(r: &FrontSnapshot, now: OffsetDateTime) -> Result<(), FrontRefusal> {
    r.refuse_closed()?;
    if r.status.at(r.due_at, now).drawn() {
        Ok(())
    } else {
        Err(FrontRefusal::CannotComplete)
    }
}

/// May the payment link be sent again? Only while it can still be paid.
pub fn decide_resend(r: &FrontSnapshot, now: OffsetDateTime) -> Result<(), FrontRefusal> {
    r.refuse_closed()?;
    match r.status.at(r.due_at, now) {
        FrontStatus::Sent => Ok(()),
        _ => Err(FrontRefusal::CannotResend),
    }
}

/// May `amount_minor` be refunded from a posting line that drew `drawn_minor` and has
/// `refunded_minor` refunded already?
pub fn decide_line_refund(
    drawn_minor: i64,
    refunded_minor: i64,
    amount_minor: i64,
) -> Result<(), FrontRefusal> {
    let refundable = drawn_minor - refunded_minor;
    if refundable <= 0 {
        return Err(FrontRefusal::RefundAlreadyRefunded);
    }
    if amount_minor > refundable {
        return Err(FrontRefusal::RefundExceedsRefundable);
    }
    Ok(())
}

/// The checksum of a status callback: SHA-256, in lower-case hex, of the values in the
/// documented order followed by the merchant's secret.
pub fn callback_checksum(values: &[&str], secret: &str) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for value in values {
        hasher.update(value.as_bytes());
    }
    hasher.update(secret.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-01-10 12:00 UTC);

    fn confirmed() -> FrontSnapshot {
        FrontSnapshot {
            status: FrontStatus::Reserved,
            due_at: NOW + Duration::days(1),
            reserved_at: Some(NOW),
            charge_validity_days: 90,
            capture_deadline_days: 31,
            charge_limit_minor: 10_000,
            charged_minor: 0,
        }
    }

    #[test]
    fn an_unpaid_link_expires_at_its_due_date() {
        let mut r = confirmed();
        r.status = FrontStatus::Sent;
        r.reserved_at = None;
        assert_eq!(decide_pay(&r, NOW), Ok(()));
        assert_eq!(
            decide_pay(&r, NOW + Duration::days(1)),
            Err(FrontRefusal::LinkExpired)
        );
        assert_eq!(
            decide_cancel(&r, NOW + Duration::days(2)),
            Err(FrontRefusal::CannotCancel)
        );
        assert_eq!(
            decide_pay(&confirmed(), NOW),
            Err(FrontRefusal::LinkAlreadyUsed)
        );
    }

    #[test]
    fn charges_need_a_confirmed_voucher_a_runway_and_time() {
        let mut unpaid = confirmed();
        unpaid.reserved_at = None;
        assert_eq!(
            decide_charge(&unpaid, 1, 100, NOW),
            Err(FrontRefusal::PaymentCardNotFound)
        );
        let mut r = confirmed();
        r.charged_minor = 9_000;
        assert_eq!(decide_charge(&r, 1_000, 5_000, NOW), Ok(()));
        assert_eq!(
            decide_charge(&r, 1_001, 5_000, NOW),
            Err(FrontRefusal::ChargeRunwayExceeded)
        );
        assert_eq!(
            decide_charge(&r, 600, 500, NOW),
            Err(FrontRefusal::ChargeRunwayExceeded),
            "never beyond the voucher's available balance"
        );
        assert_eq!(decide_charge(&r, 1, 5, NOW + Duration::days(90)), Ok(()));
        assert_eq!(
            decide_charge(&r, 1, 5, NOW + Duration::days(90) + Duration::SECOND),
            Err(FrontRefusal::ChargeDeadlineExceeded)
        );
    }

    #[test]
    fn captures_end_at_the_capture_deadline() {
        let r = confirmed();
        assert_eq!(decide_capture(&r, NOW + Duration::days(30)), Ok(()));
        assert_eq!(
            decide_capture(&r, NOW + Duration::days(31)),
            Err(FrontRefusal::CaptureDeadlineExceeded)
        );
        let mut cancelled = confirmed();
        cancelled.status = FrontStatus::Cancelled;
        assert_eq!(
            decide_capture(&cancelled, NOW),
            Err(FrontRefusal::AlreadyCancelled)
        );
    }

    #[test]
    fn cancel_before_any_draw_complete_only_after_one() {
        let mut r = confirmed();
        assert_eq!(decide_cancel(&r, NOW), Ok(()));
        assert_eq!(decide_complete(&r, NOW), Err(FrontRefusal::CannotComplete));
        r.status = FrontStatus::Captured;
        assert_eq!(decide_cancel(&r, NOW), Err(FrontRefusal::CannotCancel));
        assert_eq!(decide_complete(&r, NOW), Ok(()));
        r.status = FrontStatus::Completed;
        assert_eq!(decide_cancel(&r, NOW), Err(FrontRefusal::AlreadyCompleted));
        assert_eq!(
            decide_complete(&r, NOW),
            Err(FrontRefusal::AlreadyCompleted)
        );
    }

    #[test]
    fn line_refunds_stop_at_what_was_drawn() {
        assert_eq!(decide_line_refund(500, 200, 300), Ok(()));
        assert_eq!(
            decide_line_refund(500, 200, 301),
            Err(FrontRefusal::RefundExceedsRefundable)
        );
        assert_eq!(
            decide_line_refund(500, 500, 1),
            Err(FrontRefusal::RefundAlreadyRefunded)
        );
    }

    #[test]
    fn the_callback_checksum_hashes_values_then_secret() {
        // sha256("abc")
        assert_eq!(
            callback_checksum(&["a", "b"], "c"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
