//! The writes of a batch's Front Payment rows, one statement per table and kind of change:
//! reservations changed and the vouchers paying them, lines added and captured, postings added
//! (with their draws) and refunded (with their per-line amounts), history events and status
//! callbacks. New rows reference the batch's new
//! entries and lines by the keys drawn for them.

use voucherd_domain::engine::{FrontWrites, RowKey};

use super::super::ledger::writes::Write;
use super::super::sets::{self, Column};
use super::super::{Dialect, Value};
use super::persist::NewKeys;
use crate::StoreError;

const RESERVATION_CHANGE_COLUMNS: [Column; 9] = [
    Column::Text("status"),
    Column::Int("voucher_pk"),
    Column::Int("hold_pk"),
    Column::Int("reserved_at"),
    Column::Int("captured_minor"),
    Column::Int("charged_minor"),
    Column::Int("refunded_captured_minor"),
    Column::Int("refunded_charged_minor"),
    Column::Int("updated_at"),
];
const LINE_COLUMNS: [Column; 9] = [
    Column::Int("pk"),
    Column::Int("reservation_pk"),
    Column::Int("charge_entry_pk"),
    Column::Text("name"),
    Column::Text("product_id"),
    Column::Int("rate_minor"),
    Column::Text("tax"),
    Column::Int("amount_minor"),
    Column::Int("captured_minor"),
];
const PAYER_COLUMNS: [Column; 4] = [
    Column::Int("reservation_pk"),
    Column::Int("position"),
    Column::Int("voucher_pk"),
    Column::Int("hold_pk"),
];
const DRAW_COLUMNS: [Column; 3] = [
    Column::Int("entry_pk"),
    Column::Int("posting_entry_pk"),
    Column::Int("position"),
];
const POSTING_COLUMNS: [Column; 7] = [
    Column::Int("entry_pk"),
    Column::Int("reservation_pk"),
    Column::Text("source"),
    Column::Int("amount_minor"),
    Column::Int("refunded_minor"),
    Column::Int("refunded_at"),
    Column::Text("note"),
];
const POSTING_REFUND_COLUMNS: [Column; 2] =
    [Column::Int("refunded_minor"), Column::Int("refunded_at")];
const POSTING_LINE_KEYS: [Column; 2] = [Column::Int("entry_pk"), Column::Int("line_pk")];
const POSTING_LINE_COLUMNS: [Column; 4] = [
    Column::Int("entry_pk"),
    Column::Int("line_pk"),
    Column::Int("amount_minor"),
    Column::Int("refunded_minor"),
];
const EVENT_COLUMNS: [Column; 9] = [
    Column::Text("tenant_id"),
    Column::Int("reservation_pk"),
    Column::Text("uuid"),
    Column::Text("title"),
    Column::Int("at"),
    Column::Int("amount_minor"),
    Column::Text("sent_to"),
    Column::Text("action_by"),
    Column::Text("note"),
];
const CALLBACK_COLUMNS: [Column; 8] = [
    Column::Text("tenant_id"),
    Column::Text("merchant_token_id"),
    Column::Text("url"),
    Column::Text("order_uuid"),
    Column::Text("status"),
    Column::Int("created_at"),
    Column::Int("amount_minor"),
    Column::Int("next_attempt_at"),
];

type Rows = Vec<Vec<Value>>;

/// The statements that write `front`, in an order that has every referenced row written first.
pub(super) fn writes(
    dialect: Dialect,
    front: &FrontWrites,
    new: &NewKeys,
) -> Result<Vec<Write>, StoreError> {
    let mut all = Vec::new();
    let reservations = front
        .changed_reservations
        .iter()
        .map(|r| {
            // The reservation row names the first paying voucher and its hold.
            let first = r.payers.first();
            Ok(vec![
                r.pk.into(),
                r.status.as_str().into(),
                first.map(|p| p.voucher_pk).into(),
                first.map(|p| new.hold(p.hold)).transpose()?.into(),
                r.reserved_at.into(),
                r.captured_minor.into(),
                r.charged_minor.into(),
                r.refunded_captured_minor.into(),
                r.refunded_charged_minor.into(),
                r.updated_at.into(),
            ])
        })
        .collect::<Result<Rows, StoreError>>()?;
    all.extend(sets::update(
        dialect,
        "front_reservations",
        &[Column::Int("pk")],
        &RESERVATION_CHANGE_COLUMNS,
        reservations,
    ));
    // Payers are set once, when the customer pays, with holds the batch placed.
    let mut payers = Vec::new();
    for r in &front.changed_reservations {
        for (position, payer) in r.payers.iter().enumerate() {
            if matches!(payer.hold, RowKey::New(_)) {
                payers.push(vec![
                    r.pk.into(),
                    i64::try_from(position).unwrap_or(i64::MAX).into(),
                    payer.voucher_pk.into(),
                    new.hold(payer.hold)?.into(),
                ]);
            }
        }
    }
    all.extend(sets::insert(
        dialect,
        "front_payers",
        &PAYER_COLUMNS,
        payers,
    ));
    let lines = front
        .new_lines
        .iter()
        .map(|l| {
            Ok(vec![
                new.line(l.key)?.into(),
                l.reservation_pk.into(),
                l.charge_entry.map(|k| new.entry(k)).transpose()?.into(),
                l.name.as_str().into(),
                l.product_id.clone().into(),
                l.rate_minor.into(),
                l.tax.as_str().into(),
                l.amount_minor.into(),
                l.captured_minor.into(),
            ])
        })
        .collect::<Result<Rows, StoreError>>()?;
    all.extend(sets::insert(dialect, "front_lines", &LINE_COLUMNS, lines));
    let captured = front
        .changed_lines
        .iter()
        .map(|l| Ok(vec![new.line(l.key)?.into(), l.captured_minor.into()]))
        .collect::<Result<Rows, StoreError>>()?;
    all.extend(sets::update(
        dialect,
        "front_lines",
        &[Column::Int("pk")],
        &[Column::Int("captured_minor")],
        captured,
    ));
    let mut postings = Vec::new();
    let mut posting_lines = Vec::new();
    let mut draws = Vec::new();
    for p in &front.new_postings {
        let entry_pk = new.entry(p.entry)?;
        for (position, draw) in p.draws.iter().enumerate() {
            draws.push(vec![
                new.entry(draw.entry)?.into(),
                entry_pk.into(),
                i64::try_from(position).unwrap_or(i64::MAX).into(),
            ]);
        }
        postings.push(vec![
            entry_pk.into(),
            p.reservation_pk.into(),
            p.source.as_str().into(),
            p.amount_minor.into(),
            p.refunded_minor.into(),
            p.refunded_at.into(),
            p.note.clone().into(),
        ]);
        for line in &p.lines {
            posting_lines.push(vec![
                entry_pk.into(),
                new.line(line.line)?.into(),
                line.amount_minor.into(),
                line.refunded_minor.into(),
            ]);
        }
    }
    all.extend(sets::insert(
        dialect,
        "front_postings",
        &POSTING_COLUMNS,
        postings,
    ));
    all.extend(sets::insert(
        dialect,
        "front_posting_draws",
        &DRAW_COLUMNS,
        draws,
    ));
    all.extend(sets::insert(
        dialect,
        "front_posting_lines",
        &POSTING_LINE_COLUMNS,
        posting_lines,
    ));
    let mut refunded = Vec::new();
    let mut refunded_lines = Vec::new();
    for p in &front.changed_postings {
        let entry_pk = new.entry(p.entry)?;
        refunded.push(vec![
            entry_pk.into(),
            p.refunded_minor.into(),
            p.refunded_at.into(),
        ]);
        for line in &p.lines {
            refunded_lines.push(vec![
                entry_pk.into(),
                new.line(line.line)?.into(),
                line.refunded_minor.into(),
            ]);
        }
    }
    all.extend(sets::update(
        dialect,
        "front_postings",
        &[Column::Int("entry_pk")],
        &POSTING_REFUND_COLUMNS,
        refunded,
    ));
    all.extend(sets::update(
        dialect,
        "front_posting_lines",
        &POSTING_LINE_KEYS,
        &[Column::Int("refunded_minor")],
        refunded_lines,
    ));
    let events = front
        .events
        .iter()
        .map(|e| {
            vec![
                e.tenant_id.as_str().into(),
                e.reservation_pk.into(),
                e.uuid.as_str().into(),
                e.title.into(),
                e.at.into(),
                e.amount_minor.into(),
                e.sent_to.clone().into(),
                e.action_by.into(),
                e.note.clone().into(),
            ]
        })
        .collect();
    all.extend(sets::insert(
        dialect,
        "front_events",
        &EVENT_COLUMNS,
        events,
    ));
    let callbacks = front
        .callbacks
        .iter()
        .map(|c| {
            vec![
                c.tenant_id.as_str().into(),
                c.merchant_token_id.as_str().into(),
                c.url.as_str().into(),
                c.order_uuid.as_str().into(),
                c.status.as_str().into(),
                c.created_at.into(),
                c.amount_minor.into(),
                c.created_at.into(),
            ]
        })
        .collect();
    all.extend(sets::insert(
        dialect,
        "front_callbacks",
        &CALLBACK_COLUMNS,
        callbacks,
    ));
    Ok(all)
}
