//! Loads the Front Payment rows an engine batch names, after its vouchers are locked: the
//! reservations (locked in key order on PostgreSQL, so each is changed by one batch at a time),
//! the vouchers paying those that were paid, their lines, and, only when the batch refunds,
//! their postings with what each drew per line and from which voucher. Five statements at
//! most, whatever the batch's size.

use std::collections::HashMap;

use time::OffsetDateTime;
use voucherd_domain::engine::{
    Draw, FrontLine, FrontPayer, FrontPosting, FrontReservation, Ledger, PostingLine, RowKey,
};
use voucherd_domain::front::PostingSource;

use super::super::front_reads::{self, RESERVATION_SELECT};
use super::super::sets::{in_ints, in_text_tuples, key_in_locked};
use super::super::{Dialect, SqlExec, Value};
use crate::StoreError;
use crate::front::{FrontLineView, FrontReservationView};

/// The reservations a batch names, by tenant and id, as two text columns.
pub(super) type ReservationNames = [Value; 2];

/// Each loaded reservation's view, by key.
pub(super) type Views = HashMap<i64, FrontReservationView>;

/// Reads and (on PostgreSQL) locks the named reservations; answers their views and the keys of
/// the vouchers paid with them.
pub(super) async fn reservations<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    names: ReservationNames,
    now: OffsetDateTime,
    ledger: &mut Ledger,
) -> Result<(Views, Vec<i64>), StoreError> {
    let lock = match dialect {
        Dialect::Postgres => " FOR UPDATE OF r",
        Dialect::Sqlite => "",
    };
    let sql = format!(
        "{RESERVATION_SELECT} WHERE {} ORDER BY r.pk{lock}",
        key_in_locked(
            dialect,
            "r.pk",
            &format!(
                "SELECT pk FROM front_reservations WHERE {}",
                in_text_tuples(dialect, &["tenant_id", "id"], 2)
            )
        )
    );
    let mut params = vec![Value::from(now)];
    params.extend(names);
    let mut views = HashMap::new();
    let mut found = Vec::new();
    let mut paid = Vec::new();
    for row in tx.fetch(&sql, params).await? {
        let record = front_reads::reservation_row(&row, now)?;
        let view = &record.view;
        found.push(FrontReservation {
            pk: record.pk,
            tenant_id: view.tenant_id.clone(),
            id: view.id.clone(),
            merchant_token_id: record.merchant_token_id.clone(),
            callback_url: view.callback_url.clone(),
            customer_email: view
                .details
                .pointer("/customerDetails/email")
                .and_then(|e| e.as_str())
                .map(str::to_string),
            status: record.stored_status,
            due_at: view.due_at,
            reserved_at: view.reserved_at,
            charge_validity_days: view.charge_validity_days,
            capture_deadline_days: record.capture_deadline_days,
            charge_limit_minor: view.charge_limit_minor,
            charge_partially_refundable: view.charge_partially_refundable,
            grand_total_minor: view.grand_total_minor,
            payers: Vec::new(),
            captured_minor: view.captured_minor,
            charged_minor: view.charged_minor,
            refunded_captured_minor: view.refunded_captured_minor,
            refunded_charged_minor: view.refunded_charged_minor,
            updated_at: view.updated_at,
        });
        if record.voucher_pk.is_some() {
            paid.push(Some(record.pk));
        }
        views.insert(record.pk, record.view);
    }
    let mut paid_with = Vec::new();
    if !paid.is_empty() {
        let mut payers = payers(tx, dialect, paid).await?;
        for reservation in &mut found {
            if let Some(theirs) = payers.remove(&reservation.pk) {
                paid_with.extend(theirs.iter().map(|p| p.voucher_pk));
                reservation.payers = theirs;
            }
        }
    }
    for reservation in found {
        ledger.load_front_reservation(reservation);
    }
    Ok((views, paid_with))
}

/// The vouchers paying these reservations, with their holds, each reservation's in order.
async fn payers<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    reservation_pks: Vec<Option<i64>>,
) -> Result<HashMap<i64, Vec<FrontPayer>>, StoreError> {
    let sql = format!(
        "SELECT reservation_pk, voucher_pk, hold_pk FROM front_payers WHERE {} \
         ORDER BY reservation_pk, position",
        in_ints(dialect, "reservation_pk", 1)
    );
    let mut payers: HashMap<i64, Vec<FrontPayer>> = HashMap::new();
    for row in tx.fetch(&sql, vec![Value::Ints(reservation_pks)]).await? {
        let mut r = row.reader();
        let reservation_pk = r.int()?;
        let payer = FrontPayer {
            voucher_pk: r.int()?,
            hold: RowKey::Stored(r.int()?),
        };
        payers.entry(reservation_pk).or_default().push(payer);
    }
    Ok(payers)
}

/// The lines of the loaded reservations, into the ledger and their views.
pub(super) async fn lines<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    views: &mut Views,
    ledger: &mut Ledger,
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT l.pk, l.reservation_pk, l.charge_entry_pk, e.id, l.name, l.product_id, \
         l.rate_minor, l.tax, l.amount_minor, l.captured_minor FROM front_lines l \
         LEFT JOIN entries e ON e.pk = l.charge_entry_pk WHERE {} ORDER BY l.pk",
        in_ints(dialect, "l.reservation_pk", 1)
    );
    let params = vec![Value::Ints(views.keys().map(|pk| Some(*pk)).collect())];
    for row in tx.fetch(&sql, params).await? {
        let mut r = row.reader();
        let pk = r.int()?;
        let reservation_pk = r.int()?;
        let charge_entry_pk = r.opt_int()?;
        let line = FrontLineView {
            id: pk,
            charge_id: r.opt_text()?,
            name: r.text()?,
            product_id: r.opt_text()?,
            rate_minor: r.int()?,
            tax: r.text()?,
            amount_minor: r.int()?,
            captured_minor: r.int()?,
        };
        ledger.load_front_line(FrontLine {
            key: RowKey::Stored(pk),
            reservation_pk,
            charge_entry: charge_entry_pk.map(RowKey::Stored),
            name: line.name.clone(),
            product_id: line.product_id.clone(),
            rate_minor: line.rate_minor,
            tax: line.tax.clone(),
            amount_minor: line.amount_minor,
            captured_minor: line.captured_minor,
        });
        if let Some(view) = views.get_mut(&reservation_pk) {
            view.lines.push(line);
        }
    }
    Ok(())
}

/// The postings of the loaded reservations, each with what it drew per line.
pub(super) async fn postings<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    reservation_pks: Vec<Option<i64>>,
    ledger: &mut Ledger,
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT p.entry_pk, e.id, p.reservation_pk, p.source, p.amount_minor, p.refunded_minor, \
         p.refunded_at, p.note, pl.line_pk, pl.amount_minor, pl.refunded_minor \
         FROM front_postings p JOIN entries e ON e.pk = p.entry_pk \
         LEFT JOIN front_posting_lines pl ON pl.entry_pk = p.entry_pk \
         WHERE {} ORDER BY e.created_at, p.entry_pk, pl.line_pk",
        in_ints(dialect, "p.reservation_pk", 1)
    );
    let mut postings: Vec<FrontPosting> = Vec::new();
    for row in tx
        .fetch(&sql, vec![Value::Ints(reservation_pks.clone())])
        .await?
    {
        let mut r = row.reader();
        let entry = RowKey::Stored(r.int()?);
        let entry_id = r.text()?;
        let reservation_pk = r.int()?;
        let source_text = r.text()?;
        let source = PostingSource::parse(&source_text)
            .ok_or_else(|| front_reads::corrupt("posting source", &source_text))?;
        let (amount_minor, refunded_minor) = (r.int()?, r.int()?);
        let (refunded_at, note) = (r.opt_time()?, r.opt_text()?);
        if postings.last().is_none_or(|p| p.entry != entry) {
            postings.push(FrontPosting {
                entry,
                entry_id,
                reservation_pk,
                source,
                amount_minor,
                refunded_minor,
                refunded_at,
                note,
                lines: Vec::new(),
                draws: Vec::new(),
            });
        }
        if let (Some(line_pk), Some(posting)) = (r.opt_int()?, postings.last_mut()) {
            posting.lines.push(PostingLine {
                line: RowKey::Stored(line_pk),
                amount_minor: r.int()?,
                refunded_minor: r.int()?,
            });
        }
    }
    let mut draws = draws(tx, dialect, reservation_pks).await?;
    for mut posting in postings {
        if let RowKey::Stored(pk) = posting.entry {
            posting.draws = draws.remove(&pk).unwrap_or_default();
        }
        ledger.load_front_posting(posting);
    }
    Ok(())
}

/// The draws of the postings of these reservations, by posting, each posting's in order; what
/// was refunded of each is the sum of the refund entries that name it.
async fn draws<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    reservation_pks: Vec<Option<i64>>,
) -> Result<HashMap<i64, Vec<Draw>>, StoreError> {
    let sql = format!(
        "SELECT d.posting_entry_pk, d.entry_pk, e.id, e.voucher_pk, e.amount_minor, \
         CAST(COALESCE((SELECT SUM(back.amount_minor) FROM entries back \
         WHERE back.refund_of_pk = d.entry_pk), 0) AS BIGINT) \
         FROM front_posting_draws d JOIN front_postings p ON p.entry_pk = d.posting_entry_pk \
         JOIN entries e ON e.pk = d.entry_pk WHERE {} ORDER BY d.posting_entry_pk, d.position",
        in_ints(dialect, "p.reservation_pk", 1)
    );
    let mut draws: HashMap<i64, Vec<Draw>> = HashMap::new();
    for row in tx.fetch(&sql, vec![Value::Ints(reservation_pks)]).await? {
        let mut r = row.reader();
        let posting = r.int()?;
        let draw = Draw {
            entry: RowKey::Stored(r.int()?),
            entry_id: r.text()?,
            voucher_pk: r.int()?,
            amount_minor: r.int()?,
            refunded_minor: r.int()?,
        };
        draws.entry(posting).or_default().push(draw);
    }
    Ok(draws)
}
