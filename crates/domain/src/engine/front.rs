//! Front Payment's rules over the one hold lifecycle. Paying holds the reservation's grand
//! total on the customer's vouchers, up to [`PAYING_VOUCHERS_MAX`] of them, each holding what it
//! can of what is still to cover in the order given (holds of purpose [`PURPOSE_FRONT`],
//! several of which may live on one voucher, expiring at the capture deadline); a capture draws
//! part of those holds per line, the first voucher's first; a merchant-initiated charge takes
//! the vouchers' free balance in the same order, within the charge runway and deadline; cancel
//! and complete end what the holds still hold; a refund puts money back against one capture or
//! charge, per line, to the last-drawn voucher first. Each voucher's part of a capture or
//! charge is an entry of its own ([`Draw`]). Every change records a history event and, when
//! the merchant gave a callback URL and the status changed, a status callback.
//!
//! When each step is allowed is `crate::front`'s decision; how money moves is
//! [`lifecycle`]'s. Each function decides everything before it changes anything.

use std::collections::BTreeMap;

use serde_json::json;
use time::Duration;

use super::front_book::{
    Draw, FrontCallback, FrontEvent, FrontLine, FrontPayer, FrontPosting, PostingLine,
};
use super::lifecycle::{self, NewEntry, NewHold};
use super::state::{Ledger, RowKey, Voucher};
use super::{Answer, IdSource, Origin};
use crate::front::{
    self as rules, FrontLineInput, FrontRefusal, FrontStatus, LineAmount, PAYING_VOUCHERS_MAX,
    PayingVoucher, PostingSource,
};
use crate::{Currency, DomainError, EntryKind, HoldState};

/// The hold purpose of Front Payment reservations (several may live on one voucher).
pub const PURPOSE_FRONT: &str = "front";

type Decided = Result<Answer, DomainError>;

fn refused(refusal: FrontRefusal) -> DomainError {
    DomainError::Front(refusal)
}

/// Sums the amounts per line id (ids sorted).
pub fn per_line(lines: &[LineAmount]) -> BTreeMap<i64, i64> {
    let mut sums = BTreeMap::new();
    for line in lines {
        *sums.entry(line.line_id).or_insert(0) += line.amount_minor;
    }
    sums
}

/// Who Front Payment's history names as acting, by the kind of actor.
pub fn action_by(actor_kind: &str) -> &'static str {
    match actor_kind {
        "merchant" => "merchant",
        "anonymous" => "customer",
        "admin" => "operator",
        _ => "system",
    }
}

fn reservation(ledger: &Ledger, origin: &Origin, id: &str) -> Result<usize, DomainError> {
    ledger
        .front()
        .reservation_index(&origin.tenant_id, id)
        .ok_or(refused(FrontRefusal::ReservationNotFound))
}

/// What a history event says, besides who and when.
struct Event<'a> {
    uuid: &'a str,
    title: &'static str,
    amount_minor: Option<i64>,
    sent_to: Option<String>,
    note: Option<&'a str>,
}

/// Records a history event, and the status callback when `status` is given and the merchant
/// asked for callbacks.
fn record(
    ledger: &mut Ledger,
    origin: &Origin,
    index: usize,
    event: Event<'_>,
    status: Option<(FrontStatus, i64)>,
) {
    let r = ledger.front().reservation(index);
    let event = FrontEvent {
        tenant_id: origin.tenant_id.clone(),
        reservation_pk: r.pk,
        uuid: event.uuid.to_string(),
        title: event.title,
        at: origin.now,
        amount_minor: event.amount_minor,
        sent_to: event.sent_to,
        action_by: action_by(origin.actor_kind),
        note: event.note.map(str::to_string),
    };
    let callback = match (status, &r.callback_url) {
        (Some((status, amount_minor)), Some(url)) => Some(FrontCallback {
            tenant_id: origin.tenant_id.clone(),
            merchant_token_id: r.merchant_token_id.clone(),
            url: url.clone(),
            order_uuid: r.id.clone(),
            status,
            created_at: origin.now,
            amount_minor,
        }),
        _ => None,
    };
    let book = ledger.front_mut();
    book.add_event(event);
    if let Some(callback) = callback {
        book.add_callback(callback);
    }
}

fn audit(
    ledger: &mut Ledger,
    origin: &Origin,
    action: &'static str,
    id: &str,
    detail: serde_json::Value,
) {
    super::audit(ledger, origin, action, ("front_reservation", id), detail);
}

/// The voucher the customer typed, if its code is known, its PIN right, it is usable now and
/// it is in the currency the page showed (and Front Payment's two decimals).
fn paying_voucher<'l>(
    ledger: &'l Ledger,
    origin: &Origin,
    given: &PayingVoucher,
    currency: Option<Currency>,
) -> Result<&'l Voucher, DomainError> {
    let voucher = ledger
        .voucher_by_code(&origin.tenant_id, &given.code)
        .ok_or(DomainError::VoucherNotFound)?;
    // A wrong PIN answers exactly like an unknown code.
    if !lifecycle::pin_matches(voucher, given.pin.as_deref()) {
        return Err(DomainError::VoucherNotFound);
    }
    if voucher.currency.minor_unit_digits() != Some(2)
        || currency.is_some_and(|shown| shown != voucher.currency)
    {
        return Err(DomainError::CurrencyMismatch);
    }
    lifecycle::check_usable(voucher, origin.now)?;
    Ok(voucher)
}

/// Splits `total` over sources with what each can give, in order: each gives what it can of
/// what is left. Answers each source's index and part, leaving out sources that give nothing;
/// a total of zero is the first source's, so that every posting has an entry.
fn spread(total: i64, can_give: &[i64]) -> Vec<(usize, i64)> {
    if total == 0 {
        return can_give.first().map(|_| (0, 0)).into_iter().collect();
    }
    let mut left = total;
    let mut parts = Vec::new();
    for (index, &can) in can_give.iter().enumerate() {
        let part = can.clamp(0, left);
        if part > 0 {
            parts.push((index, part));
            left -= part;
        }
    }
    parts
}

/// The customer pays the reservation with one voucher or several: the grand total is held on
/// them together, each holding what it can of what is still to cover in the order given,
/// until the capture deadline. A voucher refused, or the vouchers together short of the total,
/// holds nothing on any of them.
pub(super) fn pay(
    ledger: &mut Ledger,
    origin: &Origin,
    (id, given, shown_currency): (&str, &[PayingVoucher], Option<Currency>),
    ids: &mut dyn IdSource,
) -> Decided {
    let now = origin.now;
    let index = reservation(ledger, origin, id)?;
    let r = ledger.front().reservation(index);
    rules::decide_pay(&r.snapshot(), now).map_err(refused)?;
    if given.is_empty() || given.len() > PAYING_VOUCHERS_MAX {
        return Err(refused(FrontRefusal::VoucherCountInvalid));
    }
    let (grand_total, deadline_days) = (r.grand_total_minor, r.capture_deadline_days);
    // The first voucher decides the currency when the page showed none.
    let mut currency = shown_currency;
    let mut chosen: Vec<(i64, String, Currency)> = Vec::with_capacity(given.len());
    let mut available = Vec::with_capacity(given.len());
    for (position, typed) in given.iter().enumerate() {
        let at = |refusal| DomainError::PayingVoucher {
            position,
            refusal: Box::new(refusal),
        };
        let voucher = paying_voucher(ledger, origin, typed, currency).map_err(at)?;
        if chosen.iter().any(|(pk, _, _)| *pk == voucher.pk) {
            return Err(at(refused(FrontRefusal::VoucherRepeated)));
        }
        currency = Some(voucher.currency);
        available.push(lifecycle::available_minor(ledger, voucher, now, |_| false));
        chosen.push((voucher.pk, voucher.id.clone(), voucher.currency));
    }
    let parts = spread(grand_total, &available);
    let covered: i64 = parts.iter().map(|(_, part)| part).sum();
    if covered < grand_total {
        let mut covers_minor = vec![0; given.len()];
        for (at, part) in parts {
            covers_minor[at] = part;
        }
        return Err(DomainError::VouchersShort { covers_minor });
    }
    let mut payers = Vec::with_capacity(parts.len());
    let mut held = Vec::with_capacity(parts.len());
    for (at, part) in parts {
        let (voucher_pk, ref voucher_id, currency) = chosen[at];
        let new = NewHold {
            voucher_pk,
            purpose: PURPOSE_FRONT,
            amount_minor: part,
            currency,
            expires_at: now + Duration::days(deadline_days),
        };
        let placed = lifecycle::place(ledger, origin, new, ids);
        let hold = ledger.hold(placed);
        payers.push(FrontPayer {
            voucher_pk,
            hold: hold.key,
        });
        held.push(json!({ "voucher_id": voucher_id, "hold_id": hold.id, "amount_minor": part }));
    }
    ledger.front_mut().change_reservation(index, |r| {
        r.status = FrontStatus::Reserved;
        r.payers = payers;
        r.reserved_at = Some(now);
        r.updated_at = now;
    });
    let event = Event {
        uuid: id,
        title: "amount-reserved",
        amount_minor: Some(grand_total),
        sent_to: None,
        note: None,
    };
    record(
        ledger,
        origin,
        index,
        event,
        Some((FrontStatus::Reserved, grand_total)),
    );
    let detail = json!({
        "voucher_id": held[0]["voucher_id"],
        "hold_id": held[0]["hold_id"],
        "amount_minor": grand_total,
        "vouchers": held,
    });
    audit(ledger, origin, "front.reserve", id, detail);
    Ok(Answer::FrontPaid(Box::new(
        ledger.front().reservation(index).clone(),
    )))
}

/// The merchant captures amounts of the reserved lines from the reservation's holds, the
/// first voucher's first.
pub(super) fn capture(
    ledger: &mut Ledger,
    origin: &Origin,
    (id, lines, note): (&str, &[LineAmount], Option<&str>),
    ids: &mut dyn IdSource,
) -> Decided {
    let now = origin.now;
    let index = reservation(ledger, origin, id)?;
    let r = ledger.front().reservation(index);
    rules::decide_capture(&r.snapshot(), now).map_err(refused)?;
    // A deleted voucher is not loaded (and held nothing when it was deleted).
    let payers: Vec<FrontPayer> = r
        .payers
        .iter()
        .filter(|p| ledger.voucher(p.voucher_pk).is_some())
        .copied()
        .collect();
    if payers.is_empty() {
        return Err(refused(FrontRefusal::PaymentCardNotFound));
    }
    let wanted = per_line(lines);
    let mut drawn = Vec::with_capacity(wanted.len());
    for (&line_id, &amount) in &wanted {
        let line = ledger
            .front()
            .line_index(RowKey::Stored(line_id))
            .filter(|&l| {
                let line = ledger.front().line(l);
                line.reservation_pk == r.pk && line.charge_entry.is_none()
            })
            .ok_or(refused(FrontRefusal::RefundLineNotAvailable))?;
        let reserved = ledger.front().line(line);
        if amount > reserved.amount_minor - reserved.captured_minor {
            return Err(refused(FrontRefusal::CaptureRunwayExceeded));
        }
        drawn.push((line, amount));
    }
    let total: i64 = wanted.values().sum();
    // What the holds still hold: less than the lines allow once a voucher was deactivated
    // (which releases its holds).
    let holds: Vec<usize> = payers
        .iter()
        .filter_map(|p| ledger.hold_index_by_key(p.hold))
        .filter(|&h| ledger.hold(h).is_live_at(now))
        .collect();
    let held: Vec<i64> = holds.iter().map(|&h| ledger.hold(h).amount_minor).collect();
    let parts = spread(total, &held);
    if parts.is_empty() || parts.iter().map(|(_, part)| part).sum::<i64>() < total {
        return Err(refused(FrontRefusal::CaptureRunwayExceeded));
    }
    let mut draws = Vec::with_capacity(parts.len());
    for (at, part) in parts {
        let entry_id = ids.posting_id("CAP");
        let entry = lifecycle::draw(ledger, origin, holds[at], (part, id, entry_id), ids);
        draws.push(Draw {
            entry: entry.key,
            entry_id: entry.id,
            voucher_pk: entry.voucher_pk,
            amount_minor: part,
            refunded_minor: 0,
        });
    }
    let book = ledger.front_mut();
    let mut posting_lines = Vec::with_capacity(drawn.len());
    for (line, amount) in drawn {
        book.change_line(line, |l| l.captured_minor += amount);
        posting_lines.push(PostingLine {
            line: book.line(line).key,
            amount_minor: amount,
            refunded_minor: 0,
        });
    }
    let posted = Posted {
        id,
        source: PostingSource::Captured,
        total,
        note,
        lines: posting_lines,
        draws,
        sent_to: None,
    };
    Ok(post(ledger, origin, index, posted))
}

/// The merchant charges new lines from the paying vouchers' free balance, the first voucher's
/// first, within the charge runway and deadline.
pub(super) fn charge(
    ledger: &mut Ledger,
    origin: &Origin,
    (id, lines, note): (&str, &[FrontLineInput], Option<&str>),
    ids: &mut dyn IdSource,
) -> Decided {
    let now = origin.now;
    let index = reservation(ledger, origin, id)?;
    let r = ledger.front().reservation(index);
    let total: i64 = lines.iter().map(|l| l.amount_minor).sum();
    // The paying vouchers that can pay now (loaded, so not deleted, and usable), each with
    // its free balance, in the order given.
    let (usable, free): (Vec<(i64, Currency)>, Vec<i64>) = r
        .payers
        .iter()
        .filter_map(|p| ledger.voucher(p.voucher_pk))
        .filter(|v| lifecycle::check_usable(v, now).is_ok())
        .map(|v| {
            let free = lifecycle::available_minor(ledger, v, now, |_| false);
            ((v.pk, v.currency), free)
        })
        .unzip();
    rules::decide_charge(&r.snapshot(), total, free.iter().sum(), now).map_err(refused)?;
    if usable.is_empty() {
        return Err(refused(FrontRefusal::PaymentCardNotFound));
    }
    let (reservation_pk, sent_to) = (r.pk, r.customer_email.clone());
    let mut draws = Vec::new();
    for (at, part) in spread(total, &free) {
        let (voucher_pk, currency) = usable[at];
        let entry_id = ids.posting_id("CHA");
        let new = NewEntry {
            id: Some(entry_id),
            voucher_pk,
            kind: EntryKind::Charge,
            amount_minor: part,
            currency,
            order_number: Some(id.to_string()),
            refund_of: None,
            hold: None,
        };
        let entry = lifecycle::write_entry(ledger, origin, new, ids);
        draws.push(Draw {
            entry: entry.key,
            entry_id: entry.id,
            voucher_pk,
            amount_minor: part,
            refunded_minor: 0,
        });
    }
    let charge_entry = draws[0].entry;
    let book = ledger.front_mut();
    let mut posting_lines = Vec::with_capacity(lines.len());
    for line in lines {
        // A charged line is drawn in full when it is made.
        let key = book.add_line(FrontLine {
            key: RowKey::New(0),
            reservation_pk,
            charge_entry: Some(charge_entry),
            name: line.name.clone(),
            product_id: line.product_id.clone(),
            rate_minor: line.rate_minor,
            tax: line.tax.clone(),
            amount_minor: line.amount_minor,
            captured_minor: line.amount_minor,
        });
        if line.amount_minor > 0 {
            posting_lines.push(PostingLine {
                line: key,
                amount_minor: line.amount_minor,
                refunded_minor: 0,
            });
        }
    }
    let posted = Posted {
        id,
        source: PostingSource::Charged,
        total,
        note,
        lines: posting_lines,
        draws,
        sent_to,
    };
    Ok(post(ledger, origin, index, posted))
}

/// A capture or charge just drawn, to be recorded.
struct Posted<'a> {
    /// The reservation's id.
    id: &'a str,
    source: PostingSource,
    total: i64,
    note: Option<&'a str>,
    lines: Vec<PostingLine>,
    /// At least one: the first names the posting.
    draws: Vec<Draw>,
    /// Where a charge receipt is said to go.
    sent_to: Option<String>,
}

/// Records a capture or charge: its posting, the reservation's totals and status, the history
/// event and callback, and the audit record; answers the posting's id.
fn post(ledger: &mut Ledger, origin: &Origin, index: usize, posted: Posted<'_>) -> Answer {
    let now = origin.now;
    let (status, title, action, id_field) = match posted.source {
        PostingSource::Captured => (
            FrontStatus::Captured,
            "amount-captured-from-reservation",
            "front.capture",
            "capture_id",
        ),
        PostingSource::Charged => (
            FrontStatus::Charged,
            "amount-charged-from-card",
            "front.charge",
            "charge_id",
        ),
    };
    let total = posted.total;
    let (entry, entry_id) = (posted.draws[0].entry, posted.draws[0].entry_id.clone());
    let draws_detail: Vec<serde_json::Value> = posted
        .draws
        .iter()
        .map(|d| {
            let voucher_id = ledger.voucher(d.voucher_pk).map(|v| v.id.clone());
            json!({ "voucher_id": voucher_id, "entry_id": d.entry_id, "amount_minor": d.amount_minor })
        })
        .collect();
    let book = ledger.front_mut();
    let reservation_pk = book.reservation(index).pk;
    book.add_posting(FrontPosting {
        entry,
        entry_id: entry_id.clone(),
        reservation_pk,
        source: posted.source,
        amount_minor: total,
        refunded_minor: 0,
        refunded_at: None,
        note: posted.note.map(str::to_string),
        lines: posted.lines,
        draws: posted.draws,
    });
    book.change_reservation(index, |r| {
        match posted.source {
            PostingSource::Captured => r.captured_minor += total,
            PostingSource::Charged => r.charged_minor += total,
        }
        r.status = status;
        r.updated_at = now;
    });
    let event = Event {
        uuid: &entry_id,
        title,
        amount_minor: Some(total),
        sent_to: posted.sent_to,
        note: posted.note,
    };
    record(ledger, origin, index, event, Some((status, total)));
    let mut detail = serde_json::Map::new();
    detail.insert(id_field.into(), entry_id.clone().into());
    detail.insert("voucher_id".into(), draws_detail[0]["voucher_id"].clone());
    detail.insert("amount_minor".into(), total.into());
    detail.insert("draws".into(), draws_detail.into());
    audit(ledger, origin, action, posted.id, detail.into());
    Answer::FrontPosted { id: entry_id }
}

/// How a reservation is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// Before anything was drawn.
    Cancel,
    /// After something was drawn.
    Complete,
}

/// Cancel and complete: end what the hold still holds, set the status, record and announce it.
pub(super) fn close(
    ledger: &mut Ledger,
    origin: &Origin,
    (id, closing, note): (&str, Closing, &str),
) -> Decided {
    let now = origin.now;
    let index = reservation(ledger, origin, id)?;
    let r = ledger.front().reservation(index);
    let (status, title, action, amount_minor) = match closing {
        Closing::Cancel => {
            rules::decide_cancel(&r.snapshot(), now).map_err(refused)?;
            (
                FrontStatus::Cancelled,
                "reservation-cancelled",
                "front.cancelled",
                r.grand_total_minor,
            )
        }
        Closing::Complete => {
            rules::decide_complete(&r.snapshot(), now).map_err(refused)?;
            (
                FrontStatus::Completed,
                "reservation-completed",
                "front.completed",
                r.captured_minor + r.charged_minor,
            )
        }
    };
    // A deleted voucher's holds are left as they are, whether or not the batch loaded it
    // before the deletion.
    let holds: Vec<usize> = r
        .payers
        .iter()
        .filter(|p| ledger.voucher(p.voucher_pk).is_some())
        .filter_map(|p| ledger.hold_index_by_key(p.hold))
        .collect();
    for hold in holds {
        lifecycle::end(ledger, hold, HoldState::Released, now);
    }
    ledger.front_mut().change_reservation(index, |r| {
        r.status = status;
        r.updated_at = now;
    });
    let event = Event {
        uuid: id,
        title,
        amount_minor: None,
        sent_to: None,
        note: Some(note),
    };
    record(ledger, origin, index, event, Some((status, amount_minor)));
    audit(ledger, origin, action, id, json!({ "note": note }));
    Ok(Answer::FrontDone)
}

/// What a refund names: the reservation, the kind and id of the posting, and the amounts per
/// line.
pub struct RefundOf<'a> {
    pub id: &'a str,
    pub source: PostingSource,
    pub reference: &'a str,
    pub lines: &'a [LineAmount],
}

/// Puts money back against one capture or charge, per line, to the vouchers that paid it: the
/// last-drawn voucher first, none more than it paid.
pub(super) fn refund(
    ledger: &mut Ledger,
    origin: &Origin,
    of: RefundOf<'_>,
    ids: &mut dyn IdSource,
) -> Decided {
    let now = origin.now;
    let index = reservation(ledger, origin, of.id)?;
    let r = ledger.front().reservation(index);
    let posting = ledger
        .front()
        .posting_index(r.pk, of.reference)
        .filter(|&p| ledger.front().posting(p).source == of.source);
    let Some(posting) = posting else {
        return Err(refused(FrontRefusal::RefundTransactionNotFound));
    };
    let p = ledger.front().posting(posting);
    let wanted = per_line(of.lines);
    for (&line_id, &amount) in &wanted {
        let drawn = p
            .lines
            .iter()
            .find(|l| l.line == RowKey::Stored(line_id))
            .ok_or(refused(FrontRefusal::RefundLineNotAvailable))?;
        rules::decide_line_refund(drawn.amount_minor, drawn.refunded_minor, amount)
            .map_err(refused)?;
    }
    let total: i64 = wanted.values().sum();
    if of.source == PostingSource::Charged
        && !r.charge_partially_refundable
        && total != p.amount_minor - p.refunded_minor
    {
        return Err(refused(FrontRefusal::PartialChargeRefundNotAllowed));
    }
    lifecycle::check_refund(p.amount_minor, p.refunded_minor, total)?;
    // Last drawn, first refunded.
    let room: Vec<i64> = p
        .draws
        .iter()
        .rev()
        .map(|d| d.amount_minor - d.refunded_minor)
        .collect();
    let last = p.draws.len() - 1;
    let parts: Vec<(usize, i64)> = spread(total, &room)
        .into_iter()
        .map(|(at, part)| (last - at, part))
        .collect();
    let mut refunds = Vec::with_capacity(parts.len());
    for &(at, part) in &parts {
        let draw = &p.draws[at];
        let voucher = ledger
            .voucher(draw.voucher_pk)
            .ok_or(refused(FrontRefusal::RefundTransactionNotFound))?;
        lifecycle::check_credit(voucher, part)?;
        refunds.push(NewEntry {
            id: None,
            voucher_pk: voucher.pk,
            kind: EntryKind::Refund,
            amount_minor: part,
            currency: voucher.currency,
            order_number: Some(of.id.to_string()),
            refund_of: Some((draw.entry, draw.entry_id.clone())),
            hold: None,
        });
    }
    let refund_ids: Vec<String> = refunds
        .into_iter()
        .map(|new| lifecycle::write_entry(ledger, origin, new, ids).id)
        .collect();
    let book = ledger.front_mut();
    book.change_posting(posting, |p| {
        for line in &mut p.lines {
            if let RowKey::Stored(pk) = line.line {
                line.refunded_minor += wanted.get(&pk).copied().unwrap_or(0);
            }
        }
        for &(at, part) in &parts {
            p.draws[at].refunded_minor += part;
        }
        p.refunded_minor += total;
        p.refunded_at = Some(now);
    });
    book.change_reservation(index, |r| {
        match of.source {
            PostingSource::Captured => r.refunded_captured_minor += total,
            PostingSource::Charged => r.refunded_charged_minor += total,
        }
        r.updated_at = now;
    });
    let title = match of.source {
        PostingSource::Captured => "refund-sent-from-captured",
        PostingSource::Charged => "refund-sent-from-charged",
    };
    let event = Event {
        uuid: of.reference,
        title,
        amount_minor: Some(total),
        sent_to: None,
        note: None,
    };
    record(ledger, origin, index, event, None);
    let detail = json!({
        "reference": of.reference,
        "refund_id": refund_ids.first(),
        "refund_ids": refund_ids,
        "amount_minor": total,
    });
    audit(ledger, origin, "front.refund", of.id, detail);
    Ok(Answer::FrontDone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_for_the_same_line_add_up() {
        let sums = per_line(&[
            LineAmount {
                line_id: 7,
                amount_minor: 100,
            },
            LineAmount {
                line_id: 3,
                amount_minor: 5,
            },
            LineAmount {
                line_id: 7,
                amount_minor: 50,
            },
        ]);
        assert_eq!(sums.into_iter().collect::<Vec<_>>(), vec![(3, 5), (7, 150)]);
    }
}
