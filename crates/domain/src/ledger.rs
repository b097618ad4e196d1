//! The decisions that move money: may this voucher be reserved, charged, refunded, recharged or
//! deleted, given its state, its holds and the time. Each function either accepts (returning
//! what to write) or refuses with a [`DomainError`]; none writes anything.
//!
//! Order of checks is part of the contract: a voucher that is both inactive and short of
//! balance reports `VoucherInactive`, because that is what the operator must fix first.

use time::OffsetDateTime;

use crate::{Currency, DomainError, HoldState, VoucherStatus};

/// What the decisions need to know about a voucher.
#[derive(Debug, Clone)]
pub struct VoucherSnapshot {
    pub status: VoucherStatus,
    pub currency: Currency,
    pub valid_until: Option<OffsetDateTime>,
    /// initial + recharges + refunds - charges, over the voucher's entries.
    pub remaining_minor: i64,
}

/// A hold that may still hold money.
#[derive(Debug, Clone, Copy)]
pub struct HoldSnapshot {
    pub amount_minor: i64,
    pub state: HoldState,
    pub expires_at: OffsetDateTime,
}

impl HoldSnapshot {
    /// A hold holds money while it is live and its expiry lies in the future. Expiry is
    /// evaluated here, at every read and write, so a hold the sweeper has not reached yet
    /// never blocks money.
    pub fn is_live_at(&self, now: OffsetDateTime) -> bool {
        self.state == HoldState::Live && self.expires_at > now
    }
}

/// The sum of the holds that hold money at `now`.
pub fn held_minor<'a>(
    holds: impl IntoIterator<Item = &'a HoldSnapshot>,
    now: OffsetDateTime,
) -> i64 {
    holds
        .into_iter()
        .filter(|h| h.is_live_at(now))
        .map(|h| h.amount_minor)
        .sum()
}

/// An active voucher whose validity has not passed.
pub fn check_usable(voucher: &VoucherSnapshot, now: OffsetDateTime) -> Result<(), DomainError> {
    crate::engine::lifecycle::usable(voucher.status, voucher.valid_until, now)
}

fn check_currency(voucher: &VoucherSnapshot, currency: Currency) -> Result<(), DomainError> {
    crate::engine::lifecycle::same_currency(voucher.currency, currency)
}

/// May `amount_minor` be held on the voucher? `other_holds` are the holds that stay in force
/// (a JTL reservation that the new one supersedes is left out by the caller).
pub fn decide_reserve(
    voucher: &VoucherSnapshot,
    other_holds: &[HoldSnapshot],
    amount_minor: i64,
    currency: Currency,
    now: OffsetDateTime,
) -> Result<(), DomainError> {
    check_usable(voucher, now)?;
    check_currency(voucher, currency)?;
    let available = voucher.remaining_minor - held_minor(other_holds, now);
    if amount_minor > available {
        return Err(DomainError::InsufficientBalance);
    }
    Ok(())
}

/// May a hold be turned into a charge now?
pub fn decide_charge(
    voucher: &VoucherSnapshot,
    hold: &HoldSnapshot,
    now: OffsetDateTime,
) -> Result<(), DomainError> {
    match hold.state {
        HoldState::Charged => return Err(DomainError::ReservationAlreadyCharged),
        HoldState::Live if hold.expires_at > now => {}
        _ => return Err(DomainError::ReservationExpired),
    }
    check_usable(voucher, now)?;
    // The hold guaranteed this; a violation means the ledger is already inconsistent.
    if hold.amount_minor > voucher.remaining_minor {
        return Err(DomainError::InsufficientBalance);
    }
    Ok(())
}

/// May `amount_minor` be refunded against a charge of `charge_minor` that already has
/// `refunded_minor` refunded? Refunds work on inactive and expired vouchers: returned goods put
/// value back whatever the voucher's state, but not past the balance limit.
pub fn decide_refund(
    voucher: &VoucherSnapshot,
    charge_minor: i64,
    refunded_minor: i64,
    amount_minor: i64,
    currency: Currency,
) -> Result<(), DomainError> {
    check_currency(voucher, currency)?;
    if refunded_minor + amount_minor > charge_minor {
        return Err(DomainError::RefundExceedsCharge);
    }
    crate::engine::lifecycle::credit_fits(voucher.remaining_minor, amount_minor)
}

/// May `amount_minor` be added to the voucher? Recharging does not extend validity.
pub fn decide_recharge(
    voucher: &VoucherSnapshot,
    amount_minor: i64,
    currency: Currency,
    now: OffsetDateTime,
) -> Result<(), DomainError> {
    check_usable(voucher, now)?;
    check_currency(voucher, currency)?;
    crate::engine::lifecycle::credit_fits(voucher.remaining_minor, amount_minor)
}

/// A voucher may be deleted while nothing but its issue entry exists and nothing is held.
pub fn is_deletable(entries_besides_issue: i64, held_minor: i64) -> bool {
    entries_besides_issue == 0 && held_minor == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BALANCE_MINOR_MAX;
    use time::macros::datetime;

    fn eur() -> Currency {
        Currency::parse("EUR").expect("EUR")
    }

    fn active(remaining_minor: i64) -> VoucherSnapshot {
        VoucherSnapshot {
            status: VoucherStatus::Active,
            currency: eur(),
            valid_until: Some(datetime!(2030-01-01 0:00 UTC)),
            remaining_minor,
        }
    }

    const NOW: OffsetDateTime = datetime!(2026-01-01 12:00 UTC);

    fn hold(amount_minor: i64, state: HoldState, expires_at: OffsetDateTime) -> HoldSnapshot {
        HoldSnapshot {
            amount_minor,
            state,
            expires_at,
        }
    }

    #[test]
    fn reserving_more_than_the_available_balance_is_refused() {
        let holds = [hold(600, HoldState::Live, datetime!(2026-01-01 12:10 UTC))];
        assert_eq!(
            decide_reserve(&active(1000), &holds, 500, eur(), NOW),
            Err(DomainError::InsufficientBalance)
        );
        assert_eq!(
            decide_reserve(&active(1000), &holds, 400, eur(), NOW),
            Ok(())
        );
    }

    #[test]
    fn an_expired_hold_never_blocks_money() {
        let holds = [hold(1000, HoldState::Live, NOW)];
        assert_eq!(
            decide_reserve(&active(1000), &holds, 1000, eur(), NOW),
            Ok(())
        );
    }

    #[test]
    fn inactive_is_reported_before_expiry_and_balance() {
        let mut v = active(0);
        v.status = VoucherStatus::Inactive;
        v.valid_until = Some(datetime!(2020-01-01 0:00 UTC));
        assert_eq!(
            decide_reserve(&v, &[], 1, eur(), NOW),
            Err(DomainError::VoucherInactive)
        );
    }

    #[test]
    fn a_voucher_past_its_validity_is_expired() {
        let mut v = active(1000);
        v.valid_until = Some(NOW);
        assert_eq!(
            decide_reserve(&v, &[], 1, eur(), NOW),
            Err(DomainError::VoucherExpired)
        );
        assert_eq!(
            decide_recharge(&v, 1, eur(), NOW),
            Err(DomainError::VoucherExpired)
        );
    }

    #[test]
    fn charging_an_expired_reservation_is_refused() {
        let h = hold(100, HoldState::Live, datetime!(2026-01-01 11:59 UTC));
        assert_eq!(
            decide_charge(&active(1000), &h, NOW),
            Err(DomainError::ReservationExpired)
        );
        let superseded = hold(100, HoldState::Superseded, datetime!(2026-01-01 12:30 UTC));
        assert_eq!(
            decide_charge(&active(1000), &superseded, NOW),
            Err(DomainError::ReservationExpired)
        );
        let charged = hold(100, HoldState::Charged, datetime!(2026-01-01 12:30 UTC));
        assert_eq!(
            decide_charge(&active(1000), &charged, NOW),
            Err(DomainError::ReservationAlreadyCharged)
        );
    }

    #[test]
    fn refunds_may_sum_up_to_the_charge_but_not_beyond() {
        let mut v = active(0);
        v.status = VoucherStatus::Inactive;
        assert_eq!(decide_refund(&v, 500, 300, 200, eur()), Ok(()));
        assert_eq!(
            decide_refund(&v, 500, 300, 201, eur()),
            Err(DomainError::RefundExceedsCharge)
        );
        let full = active(BALANCE_MINOR_MAX - 100);
        assert_eq!(decide_refund(&full, 500, 0, 100, eur()), Ok(()));
        assert_eq!(
            decide_refund(&full, 500, 0, 101, eur()),
            Err(DomainError::BalanceLimitExceeded)
        );
    }

    #[test]
    fn recharge_is_capped_and_currency_checked() {
        assert_eq!(
            decide_recharge(&active(BALANCE_MINOR_MAX - 1), 2, eur(), NOW),
            Err(DomainError::BalanceLimitExceeded)
        );
        let usd = Currency::parse("USD").expect("USD");
        assert_eq!(
            decide_recharge(&active(0), 2, usd, NOW),
            Err(DomainError::CurrencyMismatch)
        );
    }

    #[test]
    fn deletable_means_no_activity_and_nothing_held() {
        assert!(is_deletable(0, 0));
        assert!(!is_deletable(1, 0));
        assert!(!is_deletable(0, 5));
    }
}
