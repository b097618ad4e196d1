//! The one hold lifecycle and the one way a balance moves. A hold is placed `Live`; it may be
//! drawn on in parts (each part a charge entry, the hold shrinking by it); it ends `Charged`
//! (its money, or what is left of it, becomes a charge entry), `Released` or `Superseded` (its
//! money is free again) or `Expired` (its time ran out first; the sweeper writes that down).
//! Every entry moves its voucher's remaining balance by its signed amount, and every credit is
//! checked against the balance limit here. The faces' rules decide *whether* a transition may
//! happen; this module is *how* it happens.

use time::OffsetDateTime;

use super::state::{Entry, Hold, Ledger, RowKey, Voucher};
use super::{IdSource, Origin};
use crate::{BALANCE_MINOR_MAX, Currency, DomainError, EntryKind, HoldState, VoucherStatus};

/// An active voucher whose validity has not passed.
pub fn check_usable(voucher: &Voucher, now: OffsetDateTime) -> Result<(), DomainError> {
    usable(voucher.status, voucher.valid_until, now)
}

/// The one usability rule, for the engine's vouchers and for the faces still deciding outside
/// it: inactive is reported before expired, as that is what the operator must fix first.
pub fn usable(
    status: VoucherStatus,
    valid_until: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<(), DomainError> {
    if status != VoucherStatus::Active {
        return Err(DomainError::VoucherInactive);
    }
    if valid_until.is_some_and(|until| until <= now) {
        return Err(DomainError::VoucherExpired);
    }
    Ok(())
}

/// The amount is in the voucher's currency.
pub fn check_currency(voucher: &Voucher, currency: Currency) -> Result<(), DomainError> {
    same_currency(voucher.currency, currency)
}

/// The one currency rule: an amount in another currency than the voucher's is refused.
pub fn same_currency(voucher: Currency, amount: Currency) -> Result<(), DomainError> {
    if voucher == amount {
        Ok(())
    } else {
        Err(DomainError::CurrencyMismatch)
    }
}

/// Crediting `amount_minor` (a recharge or a refund) keeps the voucher within the balance
/// limit.
pub fn check_credit(voucher: &Voucher, amount_minor: i64) -> Result<(), DomainError> {
    credit_fits(voucher.remaining_minor, amount_minor)
}

/// The balance limit, for a remaining balance and a credit to it: the one place it is checked,
/// for the engine's commands and for the faces still deciding outside it.
pub fn credit_fits(remaining_minor: i64, amount_minor: i64) -> Result<(), DomainError> {
    match remaining_minor.checked_add(amount_minor) {
        Some(after) if after <= BALANCE_MINOR_MAX => Ok(()),
        _ => Err(DomainError::BalanceLimitExceeded),
    }
}

/// The one refund bound: refunds against a charge of `charged_minor`, of which `refunded_minor`
/// was refunded already, never add up to more than the charge.
pub fn check_refund(
    charged_minor: i64,
    refunded_minor: i64,
    amount_minor: i64,
) -> Result<(), DomainError> {
    match refunded_minor.checked_add(amount_minor) {
        Some(total) if total <= charged_minor => Ok(()),
        _ => Err(DomainError::RefundExceedsCharge),
    }
}

/// The PIN presented for a voucher matches its own (a voucher without a PIN needs none). Compared
/// in constant time.
pub fn pin_matches(voucher: &Voucher, given: Option<&str>) -> bool {
    pin_fits(voucher.pin.as_deref(), given)
}

/// The one PIN rule: a voucher's PIN, if it has one, must be presented, and is compared in
/// constant time. For the engine's vouchers and the faces still deciding outside it.
pub fn pin_fits(expected: Option<&str>, given: Option<&str>) -> bool {
    match expected {
        None => true,
        Some(expected) => given.is_some_and(|g| crate::secret::constant_time_eq(g, expected)),
    }
}

/// A voucher may be deleted while nothing but its issue entry exists and nothing is held.
pub fn deletable(has_activity: bool, held_minor: i64) -> bool {
    !has_activity && held_minor == 0
}

/// The money free on a voucher at `now`, leaving out the holds `ignored` says to.
pub fn available_minor(
    ledger: &Ledger,
    voucher: &Voucher,
    now: OffsetDateTime,
    ignored: impl Fn(&Hold) -> bool,
) -> i64 {
    let held: i64 = ledger
        .holds_of(voucher.pk)
        .iter()
        .map(|&i| ledger.hold(i))
        .filter(|h| h.is_live_at(now) && !ignored(h))
        .map(|h| h.amount_minor)
        .sum();
    voucher.remaining_minor - held
}

/// What a new hold is for and how long it lasts.
pub struct NewHold<'a> {
    pub voucher_pk: i64,
    pub purpose: &'a str,
    pub amount_minor: i64,
    pub currency: Currency,
    pub expires_at: OffsetDateTime,
}

/// Places a live hold (the caller decided it may); answers its index.
pub fn place(
    ledger: &mut Ledger,
    origin: &Origin,
    new: NewHold<'_>,
    ids: &mut dyn IdSource,
) -> usize {
    let hold = Hold {
        key: ledger.next_hold_key(),
        tenant_id: origin.tenant_id.clone(),
        id: ids.next_id(origin.now),
        voucher_pk: new.voucher_pk,
        client_id: origin.client_id.clone(),
        purpose: new.purpose.to_string(),
        amount_minor: new.amount_minor,
        currency: new.currency,
        state: HoldState::Live,
        expires_at: new.expires_at,
        charge: None,
        created_at: origin.now,
        updated_at: origin.now,
    };
    ledger.add_hold(hold)
}

/// Ends a live hold without taking its money: `to` (released or superseded), or expired if
/// its time ran out first. Holds that are not live are left as they are.
pub fn end(ledger: &mut Ledger, index: usize, to: HoldState, now: OffsetDateTime) {
    if ledger.hold(index).state != HoldState::Live {
        return;
    }
    ledger.change_hold(index, |hold| {
        hold.state = if hold.expires_at > now {
            to
        } else {
            HoldState::Expired
        };
        hold.updated_at = now;
    });
}

/// The sweeper: marks every loaded live hold whose time ran out as expired. No money moves,
/// as an expired hold holds nothing already ([`Hold::is_live_at`]); the written state catches
/// up. Answers how many holds it marked.
pub fn expire(ledger: &mut Ledger, now: OffsetDateTime) -> usize {
    let due: Vec<usize> = (0..ledger.hold_count())
        .filter(|&i| {
            let hold = ledger.hold(i);
            hold.state == HoldState::Live && hold.expires_at <= now
        })
        .collect();
    for &index in &due {
        end(ledger, index, HoldState::Expired, now);
    }
    due.len()
}

/// What a new entry records.
pub struct NewEntry {
    /// The entry's id when the face names it (Front Payment's `CAP…`/`CHA…`); else one is
    /// drawn from the [`IdSource`].
    pub id: Option<String>,
    pub voucher_pk: i64,
    pub kind: EntryKind,
    pub amount_minor: i64,
    pub currency: Currency,
    pub order_number: Option<String>,
    /// For a refund: the charge's key and id.
    pub refund_of: Option<(RowKey, String)>,
    /// For a charge: the hold it charges.
    pub hold: Option<RowKey>,
}

/// Writes an entry and moves its voucher's balance by it (the caller decided it may); answers
/// the entry.
pub fn write_entry(
    ledger: &mut Ledger,
    origin: &Origin,
    new: NewEntry,
    ids: &mut dyn IdSource,
) -> Entry {
    let voucher_id = ledger
        .voucher(new.voucher_pk)
        .map(|v| v.id.clone())
        .unwrap_or_default();
    let entry = Entry {
        key: ledger.next_entry_key(),
        tenant_id: origin.tenant_id.clone(),
        id: new.id.unwrap_or_else(|| ids.next_id(origin.now)),
        voucher_pk: new.voucher_pk,
        voucher_id,
        client_id: origin.client_id.clone(),
        kind: new.kind,
        amount_minor: new.amount_minor,
        currency: new.currency,
        order_number: new.order_number,
        refund_of: new.refund_of,
        hold: new.hold,
        created_at: origin.now,
        refunded_minor: 0,
    };
    let signed = entry.kind.balance_sign() * entry.amount_minor;
    let moves_balance = entry.kind != EntryKind::Issue;
    ledger.change_voucher(new.voucher_pk, |voucher| {
        if moves_balance {
            voucher.remaining_minor += signed;
            voucher.has_activity = true;
        }
        voucher.updated_at = origin.now;
    });
    ledger.add_entry(entry.clone());
    entry
}

/// Draws `amount_minor` of a live hold (at most what it holds) into a charge entry with the
/// given id: the hold shrinks by it, and is charged once nothing is left (the caller decided it
/// may); answers the entry.
pub fn draw(
    ledger: &mut Ledger,
    origin: &Origin,
    index: usize,
    (amount_minor, order_number, id): (i64, &str, String),
    ids: &mut dyn IdSource,
) -> Entry {
    let hold = ledger.hold(index);
    let left = hold.amount_minor - amount_minor;
    let new = NewEntry {
        id: Some(id),
        voucher_pk: hold.voucher_pk,
        kind: EntryKind::Charge,
        amount_minor,
        currency: hold.currency,
        order_number: Some(order_number.to_string()),
        refund_of: None,
        hold: Some(hold.key),
    };
    let entry = write_entry(ledger, origin, new, ids);
    let charge = (entry.key, entry.id.clone());
    ledger.change_hold(index, |hold| {
        if left == 0 {
            hold.state = HoldState::Charged;
            hold.charge = Some(charge);
        } else {
            hold.amount_minor = left;
        }
        hold.updated_at = origin.now;
    });
    entry
}

/// Turns the whole of a live hold into a charge entry (the caller decided it may); answers the
/// entry.
pub fn charge(
    ledger: &mut Ledger,
    origin: &Origin,
    index: usize,
    order_number: &str,
    ids: &mut dyn IdSource,
) -> Entry {
    let hold = ledger.hold(index);
    let new = NewEntry {
        id: None,
        voucher_pk: hold.voucher_pk,
        kind: EntryKind::Charge,
        amount_minor: hold.amount_minor,
        currency: hold.currency,
        order_number: Some(order_number.to_string()),
        refund_of: None,
        hold: Some(hold.key),
    };
    let entry = write_entry(ledger, origin, new, ids);
    let charge = (entry.key, entry.id.clone());
    ledger.change_hold(index, |hold| {
        hold.state = HoldState::Charged;
        hold.charge = Some(charge);
        hold.updated_at = origin.now;
    });
    entry
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-03-01 09:00 UTC);

    #[test]
    fn inactive_is_reported_before_expired() {
        let past = Some(NOW);
        assert_eq!(
            usable(VoucherStatus::Inactive, past, NOW),
            Err(DomainError::VoucherInactive)
        );
        assert_eq!(
            usable(VoucherStatus::Active, past, NOW),
            Err(DomainError::VoucherExpired),
            "valid until now is already past"
        );
        assert_eq!(
            usable(
                VoucherStatus::Active,
                Some(NOW + time::Duration::SECOND),
                NOW
            ),
            Ok(())
        );
        assert_eq!(usable(VoucherStatus::Active, None, NOW), Ok(()));
    }

    #[test]
    fn credits_stop_at_the_balance_limit() {
        assert_eq!(credit_fits(BALANCE_MINOR_MAX - 10, 10), Ok(()));
        assert_eq!(
            credit_fits(BALANCE_MINOR_MAX - 10, 11),
            Err(DomainError::BalanceLimitExceeded)
        );
        assert_eq!(
            credit_fits(i64::MAX, 1),
            Err(DomainError::BalanceLimitExceeded),
            "no overflow"
        );
    }

    #[test]
    fn refunds_add_up_to_the_charge_at_most() {
        assert_eq!(check_refund(500, 300, 200), Ok(()));
        assert_eq!(
            check_refund(500, 300, 201),
            Err(DomainError::RefundExceedsCharge)
        );
        assert_eq!(
            check_refund(500, i64::MAX, 1),
            Err(DomainError::RefundExceedsCharge),
            "no overflow"
        );
    }

    #[test]
    fn pins_are_needed_only_where_a_voucher_has_one() {
        assert!(pin_fits(None, None));
        assert!(pin_fits(None, Some("anything")));
        assert!(pin_fits(Some("1234"), Some("1234")));
        assert!(!pin_fits(Some("1234"), Some("1235")));
        assert!(!pin_fits(Some("1234"), None));
    }

    #[test]
    fn deletable_means_no_activity_and_nothing_held() {
        assert!(deletable(false, 0));
        assert!(!deletable(true, 0));
        assert!(!deletable(false, 5));
    }
}
