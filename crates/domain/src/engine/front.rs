//! Front Payment's rules over the one hold lifecycle. Paying holds the reservation's grand
//! total on the customer's voucher (a hold of purpose [`PURPOSE_FRONT`], several of which may
//! live on one voucher, expiring at the capture deadline); a capture draws part of that hold
//! per line; a merchant-initiated charge takes the voucher's free balance within the charge
//! runway and deadline; cancel and complete end what the hold still holds; a refund puts money
//! back against one capture or charge, per line. Every change records a history event and,
//! when the merchant gave a callback URL and the status changed, a status callback.
//!
//! When each step is allowed is `crate::front`'s decision; how money moves is
//! [`lifecycle`]'s. Each function decides everything before it changes anything.

use std::collections::BTreeMap;

use serde_json::json;
use time::Duration;

use super::front_book::{FrontCallback, FrontEvent, FrontLine, FrontPosting, PostingLine};
use super::lifecycle::{self, NewEntry, NewHold};
use super::state::{Ledger, RowKey};
use super::{Answer, IdSource, Origin};
use crate::front::{
    self as rules, FrontLineInput, FrontRefusal, FrontStatus, LineAmount, PostingSource,
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

/// The customer pays the reservation with a voucher: its grand total is held until the capture
/// deadline.
pub(super) fn pay(
    ledger: &mut Ledger,
    origin: &Origin,
    (id, code, pin, shown_currency): (&str, &str, Option<&str>, Option<Currency>),
    ids: &mut dyn IdSource,
) -> Decided {
    let now = origin.now;
    let voucher = ledger
        .voucher_by_code(&origin.tenant_id, code)
        .ok_or(DomainError::VoucherNotFound)?;
    // A wrong PIN answers exactly like an unknown code.
    if !lifecycle::pin_matches(voucher, pin) {
        return Err(DomainError::VoucherNotFound);
    }
    let index = reservation(ledger, origin, id)?;
    let r = ledger.front().reservation(index);
    rules::decide_pay(&r.snapshot(), now).map_err(refused)?;
    // Front Payment's amounts have two decimals, in the currency the page showed, if any.
    if voucher.currency.minor_unit_digits() != Some(2)
        || shown_currency.is_some_and(|shown| shown != voucher.currency)
    {
        return Err(DomainError::CurrencyMismatch);
    }
    lifecycle::check_usable(voucher, now)?;
    let amount_minor = r.grand_total_minor;
    if amount_minor > lifecycle::available_minor(ledger, voucher, now, |_| false) {
        return Err(DomainError::InsufficientBalance);
    }
    let (voucher_pk, voucher_id, currency) = (voucher.pk, voucher.id.clone(), voucher.currency);
    let new = NewHold {
        voucher_pk,
        purpose: PURPOSE_FRONT,
        amount_minor,
        currency,
        expires_at: now + Duration::days(r.capture_deadline_days),
    };
    let hold = lifecycle::place(ledger, origin, new, ids);
    let (hold_key, hold_id) = {
        let hold = ledger.hold(hold);
        (hold.key, hold.id.clone())
    };
    ledger.front_mut().change_reservation(index, |r| {
        r.status = FrontStatus::Reserved;
        r.voucher_pk = Some(voucher_pk);
        r.hold = Some(hold_key);
        r.reserved_at = Some(now);
        r.updated_at = now;
    });
    let event = Event {
        uuid: id,
        title: "amount-reserved",
        amount_minor: Some(amount_minor),
        sent_to: None,
        note: None,
    };
    record(
        ledger,
        origin,
        index,
        event,
        Some((FrontStatus::Reserved, amount_minor)),
    );
    audit(
        ledger,
        origin,
        "front.reserve",
        id,
        json!({ "voucher_id": voucher_id, "hold_id": hold_id, "amount_minor": amount_minor }),
    );
    Ok(Answer::FrontPaid(Box::new(
        ledger.front().reservation(index).clone(),
    )))
}

/// The merchant captures amounts of the reserved lines from the reservation's hold.
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
    let voucher = r.voucher_pk.and_then(|pk| ledger.voucher(pk));
    let (Some(voucher), Some(hold_key)) = (voucher, r.hold) else {
        return Err(refused(FrontRefusal::PaymentCardNotFound));
    };
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
    // What the hold still holds: less than the lines allow once the voucher was deactivated
    // (which releases its holds).
    let hold = ledger
        .hold_index_by_key(hold_key)
        .filter(|&h| ledger.hold(h).is_live_at(now));
    let held = hold.map_or(0, |h| ledger.hold(h).amount_minor);
    let Some(hold) = hold.filter(|_| total <= held) else {
        return Err(refused(FrontRefusal::CaptureRunwayExceeded));
    };
    let voucher_id = voucher.id.clone();
    let entry_id = ids.posting_id("CAP");
    let entry = lifecycle::draw(ledger, origin, hold, (total, id, entry_id.clone()), ids);
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
        entry: entry.key,
        entry_id,
        source: PostingSource::Captured,
        total,
        note,
        lines: posting_lines,
        voucher_id,
        sent_to: None,
    };
    Ok(post(ledger, origin, index, posted))
}

/// The merchant charges new lines from the voucher's free balance, within the charge runway
/// and deadline.
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
    let voucher = r.voucher_pk.and_then(|pk| ledger.voucher(pk));
    let available = match voucher {
        Some(v) if lifecycle::check_usable(v, now).is_ok() => {
            lifecycle::available_minor(ledger, v, now, |_| false)
        }
        _ => 0,
    };
    rules::decide_charge(&r.snapshot(), total, available, now).map_err(refused)?;
    let Some(voucher) = voucher else {
        return Err(refused(FrontRefusal::PaymentCardNotFound));
    };
    let (voucher_pk, voucher_id, currency) = (voucher.pk, voucher.id.clone(), voucher.currency);
    let (reservation_pk, sent_to) = (r.pk, r.customer_email.clone());
    let entry_id = ids.posting_id("CHA");
    let new = NewEntry {
        id: Some(entry_id.clone()),
        voucher_pk,
        kind: EntryKind::Charge,
        amount_minor: total,
        currency,
        order_number: Some(id.to_string()),
        refund_of: None,
        hold: None,
    };
    let entry = lifecycle::write_entry(ledger, origin, new, ids);
    let book = ledger.front_mut();
    let mut posting_lines = Vec::with_capacity(lines.len());
    for line in lines {
        // A charged line is drawn in full when it is made.
        let key = book.add_line(FrontLine {
            key: RowKey::New(0),
            reservation_pk,
            charge_entry: Some(entry.key),
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
        entry: entry.key,
        entry_id,
        source: PostingSource::Charged,
        total,
        note,
        lines: posting_lines,
        voucher_id,
        sent_to,
    };
    Ok(post(ledger, origin, index, posted))
}

/// A capture or charge just drawn, to be recorded.
struct Posted<'a> {
    /// The reservation's id.
    id: &'a str,
    entry: RowKey,
    entry_id: String,
    source: PostingSource,
    total: i64,
    note: Option<&'a str>,
    lines: Vec<PostingLine>,
    voucher_id: String,
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
    let book = ledger.front_mut();
    let reservation_pk = book.reservation(index).pk;
    book.add_posting(FrontPosting {
        entry: posted.entry,
        entry_id: posted.entry_id.clone(),
        reservation_pk,
        source: posted.source,
        amount_minor: total,
        refunded_minor: 0,
        refunded_at: None,
        note: posted.note.map(str::to_string),
        lines: posted.lines,
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
        uuid: &posted.entry_id,
        title,
        amount_minor: Some(total),
        sent_to: posted.sent_to,
        note: posted.note,
    };
    record(ledger, origin, index, event, Some((status, total)));
    let mut detail = serde_json::Map::new();
    detail.insert(id_field.into(), posted.entry_id.clone().into());
    detail.insert("voucher_id".into(), posted.voucher_id.into());
    detail.insert("amount_minor".into(), total.into());
    audit(ledger, origin, action, posted.id, detail.into());
    Answer::FrontPosted {
        id: posted.entry_id,
    }
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
    let hold = r
        .hold
        .filter(|_| r.voucher_pk.and_then(|pk| ledger.voucher(pk)).is_some())
        .and_then(|key| ledger.hold_index_by_key(key));
    if let Some(hold) = hold {
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

/// Puts money back on the voucher against one capture or charge, per line.
pub(super) fn refund(
    ledger: &mut Ledger,
    origin: &Origin,
    of: RefundOf<'_>,
    ids: &mut dyn IdSource,
) -> Decided {
    let now = origin.now;
    let index = reservation(ledger, origin, of.id)?;
    let r = ledger.front().reservation(index);
    let voucher = r.voucher_pk.and_then(|pk| ledger.voucher(pk));
    let posting = ledger
        .front()
        .posting_index(r.pk, of.reference)
        .filter(|&p| ledger.front().posting(p).source == of.source);
    let (Some(voucher), Some(posting)) = (voucher, posting) else {
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
    lifecycle::check_credit(voucher, total)?;
    let new = NewEntry {
        id: None,
        voucher_pk: voucher.pk,
        kind: EntryKind::Refund,
        amount_minor: total,
        currency: voucher.currency,
        order_number: Some(of.id.to_string()),
        refund_of: Some((p.entry, p.entry_id.clone())),
        hold: None,
    };
    let entry = lifecycle::write_entry(ledger, origin, new, ids);
    let book = ledger.front_mut();
    book.change_posting(posting, |p| {
        for line in &mut p.lines {
            if let RowKey::Stored(pk) = line.line {
                line.refunded_minor += wanted.get(&pk).copied().unwrap_or(0);
            }
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
    audit(
        ledger,
        origin,
        "front.refund",
        of.id,
        json!({ "reference": of.reference, "refund_id": entry.id, "amount_minor": total }),
    );
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
