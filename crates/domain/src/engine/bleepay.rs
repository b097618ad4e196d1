//! bleepay's rules over the one hold lifecycle. Redeeming a voucher code holds the amount on
//! the first voucher bound to the code's context (in the payer's order) that can carry it: a
//! hold of purpose [`PURPOSE_BLEEPAY`] that lapses with the code. Resolving charges that hold
//! whole; discarding releases it. A code that ends gives its six digits back to the pool.
//!
//! When each step is allowed is `crate::bleepay`'s decision; how money moves is
//! [`lifecycle`]'s. Each function decides everything before it changes anything.

use serde_json::json;

use super::lifecycle::{self, NewHold};
use super::state::Ledger;
use super::{Answer, IdSource, Origin};
use crate::bleepay::{self as rules, BleepayCaller, BleepayRefusal, CodeStatus};
use crate::{Currency, DomainError, HoldState};

/// The hold purpose of redeemed bleepay voucher codes.
pub const PURPOSE_BLEEPAY: &str = "bleepay";

type Decided = Result<Answer, DomainError>;

fn refused(refusal: BleepayRefusal) -> DomainError {
    DomainError::Bleepay(refusal)
}

/// The code with this id that the caller may act on.
fn code(
    ledger: &Ledger,
    origin: &Origin,
    id: &str,
    caller: &BleepayCaller,
) -> Result<usize, DomainError> {
    ledger
        .bleepay()
        .code_index(&origin.tenant_id, id)
        .filter(|&i| ledger.bleepay().code(i).visible_to(caller))
        .ok_or(refused(BleepayRefusal::NotFound))
}

fn audit(
    ledger: &mut Ledger,
    origin: &Origin,
    action: &'static str,
    id: &str,
    detail: serde_json::Value,
) {
    super::audit(ledger, origin, action, ("voucher_code", id), detail);
}

fn answer(ledger: &Ledger, index: usize) -> Decided {
    Ok(Answer::BleepayCode(Box::new(
        ledger.bleepay().code(index).clone(),
    )))
}

/// The payee redeems the code: the amount is held on the first bound voucher that can carry
/// it, until the code lapses.
pub(super) fn redeem(
    ledger: &mut Ledger,
    origin: &Origin,
    (caller, id, amount_minor, currency): (&BleepayCaller, &str, i64, Currency),
    ids: &mut dyn IdSource,
) -> Decided {
    let now = origin.now;
    let index = code(ledger, origin, id, caller)?;
    let c = ledger.bleepay().code(index);
    rules::decide_redeem(&c.snapshot(), now).map_err(refused)?;
    let expires_at = c.expires_at;
    let chosen = ledger
        .bleepay()
        .bound(c.context_pk)
        .into_iter()
        .filter_map(|pk| ledger.voucher(pk))
        .find(|v| {
            lifecycle::check_usable(v, now).is_ok()
                && lifecycle::check_currency(v, currency).is_ok()
                && amount_minor <= lifecycle::available_minor(ledger, v, now, |_| false)
        })
        .map(|v| (v.pk, v.id.clone()))
        .ok_or(refused(BleepayRefusal::InsufficientFunds))?;
    let (voucher_pk, voucher_id) = chosen;
    let new = NewHold {
        voucher_pk,
        purpose: PURPOSE_BLEEPAY,
        amount_minor,
        currency,
        expires_at,
    };
    let hold = lifecycle::place(ledger, origin, new, ids);
    let (hold_key, hold_id) = {
        let hold = ledger.hold(hold);
        (hold.key, hold.id.clone())
    };
    ledger.bleepay_mut().change_code(index, |c| {
        c.status = CodeStatus::Redeemed;
        c.currency = Some(currency);
        c.amount_minor = Some(amount_minor);
        c.voucher_pk = Some(voucher_pk);
        c.hold = Some(hold_key);
        c.updated_at = now;
    });
    audit(
        ledger,
        origin,
        "code.redeem",
        id,
        json!({ "voucher_id": voucher_id, "hold_id": hold_id, "amount_minor": amount_minor }),
    );
    answer(ledger, index)
}

/// The payer confirms the payment: the code's hold is charged whole.
pub(super) fn resolve(
    ledger: &mut Ledger,
    origin: &Origin,
    (payer_id, id): (&str, &str),
    ids: &mut dyn IdSource,
) -> Decided {
    let now = origin.now;
    let caller = BleepayCaller::Payer(payer_id.to_string());
    let index = code(ledger, origin, id, &caller)?;
    let c = ledger.bleepay().code(index);
    if c.payer_id != payer_id {
        return Err(refused(BleepayRefusal::NotFound));
    }
    rules::decide_resolve(&c.snapshot(), now).map_err(refused)?;
    // A redeemed, unexpired code holds its amount on a voucher that cannot have been deleted.
    let voucher = c
        .voucher_pk
        .and_then(|pk| ledger.voucher(pk))
        .ok_or(DomainError::VoucherNotFound)?;
    lifecycle::check_usable(voucher, now)?;
    // Its hold lapses with it, but deactivating the voucher released it.
    let hold = c
        .hold
        .and_then(|key| ledger.hold_index_by_key(key))
        .filter(|&h| ledger.hold(h).is_live_at(now))
        .ok_or(DomainError::ReservationExpired)?;
    if ledger.hold(hold).amount_minor > voucher.remaining_minor {
        return Err(DomainError::InsufficientBalance);
    }
    let voucher_id = voucher.id.clone();
    let entry = lifecycle::charge(ledger, origin, hold, id, ids);
    let book = ledger.bleepay_mut();
    book.change_code(index, |c| {
        c.status = CodeStatus::Resolved;
        c.charge = Some((entry.key, entry.id.clone()));
        c.updated_at = now;
    });
    book.free(index, now);
    audit(
        ledger,
        origin,
        "code.resolve",
        id,
        json!({ "voucher_id": voucher_id, "charge_id": entry.id, "amount_minor": entry.amount_minor }),
    );
    answer(ledger, index)
}

/// The payer or payee discards the code: what it holds is released.
pub(super) fn discard(
    ledger: &mut Ledger,
    origin: &Origin,
    (caller, id): (&BleepayCaller, &str),
) -> Decided {
    let now = origin.now;
    let index = code(ledger, origin, id, caller)?;
    let c = ledger.bleepay().code(index);
    rules::decide_discard(&c.snapshot(), now).map_err(refused)?;
    // A deleted voucher's holds are left as they are.
    let hold = c
        .hold
        .filter(|_| c.voucher_pk.and_then(|pk| ledger.voucher(pk)).is_some())
        .and_then(|key| ledger.hold_index_by_key(key));
    if let Some(hold) = hold {
        lifecycle::end(ledger, hold, HoldState::Released, now);
    }
    let book = ledger.bleepay_mut();
    book.change_code(index, |c| {
        c.status = CodeStatus::Discarded;
        c.updated_at = now;
    });
    book.free(index, now);
    audit(ledger, origin, "code.discard", id, json!({}));
    answer(ledger, index)
}
