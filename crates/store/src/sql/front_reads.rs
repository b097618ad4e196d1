//! Reading Front Payment reservations back: one reservation with its lines and postings, the
//! history events of a time range, and the status callbacks due for delivery.

use time::OffsetDateTime;
use voucherd_domain::Currency;
use voucherd_domain::events::masked_code;
use voucherd_domain::front::{FrontSnapshot, FrontStatus};

use super::{Row, SqlExec, Value};
use crate::StoreError;
use crate::front::{
    FrontCallback, FrontEventView, FrontLineView, FrontPayerView, FrontPostingView,
    FrontReservationView, PostingSource,
};

/// The most events one history answer holds.
pub(super) const HISTORY_EVENTS_MAX: i64 = 1_000;

/// A reservation with the keys the ledger needs to change it.
pub(super) struct FrontRecord {
    pub(super) pk: i64,
    /// The first paying voucher, once paid.
    pub(super) voucher_pk: Option<i64>,
    pub(super) merchant_token_id: String,
    pub(super) link_opened: bool,
    /// The status as stored (never `Expired`).
    pub(super) stored_status: FrontStatus,
    pub(super) capture_deadline_days: i64,
    pub(super) view: FrontReservationView,
}

impl FrontRecord {
    /// What the decisions need.
    pub(super) fn snapshot(&self) -> FrontSnapshot {
        FrontSnapshot {
            status: self.stored_status,
            due_at: self.view.due_at,
            reserved_at: self.view.reserved_at,
            charge_validity_days: self.view.charge_validity_days,
            capture_deadline_days: self.capture_deadline_days,
            charge_limit_minor: self.view.charge_limit_minor,
            charged_minor: self.view.charged_minor,
        }
    }
}

pub(super) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Other(format!("stored {what} is invalid: {value}"))
}

/// A reservation's columns as [`reservation_row`] reads them, with `$1` the time of the read;
/// the caller adds its `WHERE`.
pub(super) const RESERVATION_SELECT: &str = "SELECT r.pk, r.voucher_pk, r.merchant_token_id, \
     r.link_opened_at, r.capture_deadline_days, r.tenant_id, r.id, r.customer_id, r.status, \
     r.details, r.due_at, COALESCE(r.charge_limit_minor, r.grand_total_minor), \
     r.charge_validity_days, r.charge_partially_refundable, r.grand_total_minor, r.callback_url, \
     r.success_url, r.failure_url, v.id, v.currency, r.reserved_at, \
     CAST(COALESCE((SELECT SUM(h.amount_minor) FROM front_payers p \
     JOIN holds h ON h.pk = p.hold_pk WHERE p.reservation_pk = r.pk AND h.state = 'live' \
     AND h.expires_at > $1), 0) AS BIGINT), \
     r.captured_minor, r.charged_minor, r.refunded_captured_minor, r.refunded_charged_minor, \
     r.created_at, r.updated_at \
     FROM front_reservations r LEFT JOIN vouchers v ON v.pk = r.voucher_pk";

pub(super) fn reservation_row(row: &Row, now: OffsetDateTime) -> Result<FrontRecord, StoreError> {
    let mut r = row.reader();
    let pk = r.int()?;
    let voucher_pk = r.opt_int()?;
    let merchant_token_id = r.text()?;
    let link_opened = r.opt_int()?.is_some();
    let capture_deadline_days = r.int()?;
    let tenant_id = r.text()?;
    let id = r.text()?;
    let customer_id = r.text()?;
    let status_text = r.text()?;
    let stored_status =
        FrontStatus::parse(&status_text).ok_or_else(|| corrupt("status", &status_text))?;
    let details_text = r.text()?;
    let details =
        serde_json::from_str(&details_text).map_err(|_| corrupt("details", &details_text))?;
    let due_at = r.time()?;
    let view = FrontReservationView {
        tenant_id,
        id,
        customer_id,
        status: stored_status.at(due_at, now),
        details,
        due_at,
        charge_limit_minor: r.int()?,
        charge_validity_days: r.int()?,
        charge_partially_refundable: r.bool()?,
        grand_total_minor: r.int()?,
        callback_url: r.opt_text()?,
        success_url: r.opt_text()?,
        failure_url: r.opt_text()?,
        voucher_id: r.opt_text()?,
        currency: r
            .opt_text()?
            .map(|code| Currency::parse(&code).map_err(|_| corrupt("currency", &code)))
            .transpose()?,
        reserved_at: r.opt_time()?,
        held_minor: r.int()?,
        captured_minor: r.int()?,
        charged_minor: r.int()?,
        refunded_captured_minor: r.int()?,
        refunded_charged_minor: r.int()?,
        lines: Vec::new(),
        postings: Vec::new(),
        vouchers: Vec::new(),
        created_at: r.time()?,
        updated_at: r.time()?,
    };
    Ok(FrontRecord {
        pk,
        voucher_pk,
        merchant_token_id,
        link_opened,
        stored_status,
        capture_deadline_days,
        view,
    })
}

/// A reservation by id, in `tenant_id` or (for the payment page) in whichever tenant has it.
pub(super) async fn reservation<T: SqlExec>(
    tx: &mut T,
    tenant_id: Option<&str>,
    id: &str,
    now: OffsetDateTime,
) -> Result<Option<FrontRecord>, StoreError> {
    let mut sql = format!("{RESERVATION_SELECT} WHERE r.id = $2");
    let mut params: Vec<Value> = vec![now.into(), id.into()];
    if let Some(tenant_id) = tenant_id {
        sql.push_str(" AND r.tenant_id = $3");
        params.push(tenant_id.into());
    }
    let Some(row) = tx.fetch_optional(&sql, params).await? else {
        return Ok(None);
    };
    let mut record = reservation_row(&row, now)?;
    record.view.lines = lines(tx, record.pk).await?;
    record.view.postings = postings(tx, record.pk).await?;
    if record.voucher_pk.is_some() {
        record.view.vouchers = payers(tx, record.pk, now).await?;
    }
    Ok(Some(record))
}

/// Each paying voucher of a reservation: what its hold still holds, and what the reservation's
/// captures and charges drew from it and its refunds gave back.
async fn payers<T: SqlExec>(
    tx: &mut T,
    reservation_pk: i64,
    now: OffsetDateTime,
) -> Result<Vec<FrontPayerView>, StoreError> {
    let drawn = |source: &str| {
        format!(
            "CAST(COALESCE((SELECT SUM(e.amount_minor) FROM front_postings p \
             JOIN front_posting_draws d ON d.posting_entry_pk = p.entry_pk \
             JOIN entries e ON e.pk = d.entry_pk WHERE p.reservation_pk = fp.reservation_pk \
             AND p.source = '{source}' AND e.voucher_pk = fp.voucher_pk), 0) AS BIGINT)"
        )
    };
    let sql = format!(
        "SELECT v.id, v.code, CASE WHEN h.state = 'live' AND h.expires_at > $2 THEN h.amount_minor \
         ELSE 0 END, {}, {}, \
         CAST(COALESCE((SELECT SUM(back.amount_minor) FROM front_postings p \
         JOIN front_posting_draws d ON d.posting_entry_pk = p.entry_pk \
         JOIN entries back ON back.refund_of_pk = d.entry_pk \
         WHERE p.reservation_pk = fp.reservation_pk AND back.voucher_pk = fp.voucher_pk), 0) \
         AS BIGINT) \
         FROM front_payers fp JOIN vouchers v ON v.pk = fp.voucher_pk \
         JOIN holds h ON h.pk = fp.hold_pk WHERE fp.reservation_pk = $1 ORDER BY fp.position",
        drawn("captured"),
        drawn("charged"),
    );
    let rows = tx
        .fetch(&sql, vec![reservation_pk.into(), now.into()])
        .await?;
    rows.iter()
        .map(|row| {
            let mut r = row.reader();
            Ok(FrontPayerView {
                voucher_id: r.text()?,
                masked_code: masked_code(&r.text()?),
                held_minor: r.int()?,
                captured_minor: r.int()?,
                charged_minor: r.int()?,
                refunded_minor: r.int()?,
            })
        })
        .collect()
}

async fn lines<T: SqlExec>(
    tx: &mut T,
    reservation_pk: i64,
) -> Result<Vec<FrontLineView>, StoreError> {
    let rows = tx
        .fetch(
            "SELECT l.pk, e.id, l.name, l.product_id, l.rate_minor, l.tax, l.amount_minor, \
             l.captured_minor FROM front_lines l LEFT JOIN entries e ON e.pk = l.charge_entry_pk \
             WHERE l.reservation_pk = $1 ORDER BY l.pk",
            vec![reservation_pk.into()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let mut r = row.reader();
            Ok(FrontLineView {
                id: r.int()?,
                charge_id: r.opt_text()?,
                name: r.text()?,
                product_id: r.opt_text()?,
                rate_minor: r.int()?,
                tax: r.text()?,
                amount_minor: r.int()?,
                captured_minor: r.int()?,
            })
        })
        .collect()
}

async fn postings<T: SqlExec>(
    tx: &mut T,
    reservation_pk: i64,
) -> Result<Vec<FrontPostingView>, StoreError> {
    let rows = tx
        .fetch(
            "SELECT e.id, p.source, p.amount_minor, p.refunded_minor, e.created_at, p.refunded_at \
             FROM front_postings p JOIN entries e ON e.pk = p.entry_pk \
             WHERE p.reservation_pk = $1 ORDER BY e.created_at, p.entry_pk",
            vec![reservation_pk.into()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let mut r = row.reader();
            let id = r.text()?;
            let source_text = r.text()?;
            Ok(FrontPostingView {
                id,
                source: PostingSource::parse(&source_text)
                    .ok_or_else(|| corrupt("posting source", &source_text))?,
                amount_minor: r.int()?,
                refunded_minor: r.int()?,
                created_at: r.time()?,
                refunded_at: r.opt_time()?,
            })
        })
        .collect()
}

/// The tenant's events from `since` (inclusive) to `until` (exclusive), oldest first, at most
/// [`HISTORY_EVENTS_MAX`].
pub(super) async fn events<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    since: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<Vec<FrontEventView>, StoreError> {
    let rows = tx
        .fetch(
            "SELECT ev.uuid, r.id, ev.title, ev.at, ev.amount_minor, ev.sent_to, ev.action_by, \
             ev.note, CAST(CASE WHEN p.entry_pk IS NOT NULL AND p.refunded_minor < p.amount_minor \
             THEN 1 ELSE 0 END AS BIGINT) \
             FROM front_events ev JOIN front_reservations r ON r.pk = ev.reservation_pk \
             LEFT JOIN entries e ON e.tenant_id = ev.tenant_id AND e.id = ev.uuid \
             LEFT JOIN front_postings p ON p.entry_pk = e.pk \
             WHERE ev.tenant_id = $1 AND ev.at >= $2 AND ev.at < $3 ORDER BY ev.at, ev.pk LIMIT $4",
            vec![
                tenant_id.into(),
                since.into(),
                until.into(),
                HISTORY_EVENTS_MAX.into(),
            ],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let mut r = row.reader();
            Ok(FrontEventView {
                uuid: r.text()?,
                reservation_id: r.text()?,
                title: r.text()?,
                at: r.time()?,
                amount_minor: r.opt_int()?,
                sent_to: r.opt_text()?,
                action_by: r.opt_text()?,
                note: r.opt_text()?,
                is_refundable: r.int()? != 0,
            })
        })
        .collect()
}

/// Claims up to `limit` callbacks due at `now` until `lease_until`, so that no other node sends
/// them meanwhile; answers them with their merchant's secret. The outer due-check is evaluated
/// again on PostgreSQL after a concurrent claim of the same row commits, so that claim wins.
/// Whether any callback is due: the read the worker makes before it claims, so that waking on
/// every commit takes no write lock unless there is something to send.
pub(super) async fn any_callback_due<T: SqlExec>(
    tx: &mut T,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let row = tx
        .fetch_optional(
            &format!("SELECT 1 FROM front_callbacks WHERE {CALLBACK_DUE} LIMIT 1"),
            vec![now.into()],
        )
        .await?;
    Ok(row.is_some())
}

/// A callback that is due at `$1`: neither delivered nor given up, its backoff or lease over.
const CALLBACK_DUE: &str =
    "delivered_at IS NULL AND abandoned_at IS NULL AND next_attempt_at <= $1";

pub(super) async fn claim_callbacks<T: SqlExec>(
    tx: &mut T,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: i64,
) -> Result<Vec<FrontCallback>, StoreError> {
    let rows = tx
        .fetch(
            &format!("UPDATE front_callbacks SET next_attempt_at = $2 WHERE pk IN (\
             SELECT pk FROM front_callbacks WHERE {CALLBACK_DUE} \
             ORDER BY next_attempt_at, pk LIMIT $3) \
             AND next_attempt_at <= $1 RETURNING pk, url, order_uuid, status, created_at, amount_minor, attempts, \
             (SELECT COALESCE(m.callback_secret, '') FROM merchant_tokens m \
              WHERE m.tenant_id = front_callbacks.tenant_id AND m.id = front_callbacks.merchant_token_id)"),
            vec![now.into(), lease_until.into(), limit.into()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let mut r = row.reader();
            let pk = r.int()?;
            let url = r.text()?;
            let order_uuid = r.text()?;
            let status_text = r.text()?;
            Ok(FrontCallback {
                pk,
                url,
                order_uuid,
                status: FrontStatus::parse(&status_text)
                    .ok_or_else(|| corrupt("callback status", &status_text))?,
                created_at: r.time()?,
                amount_minor: r.int()?,
                attempts: r.int()?,
                secret: r.opt_text()?.unwrap_or_default(),
            })
        })
        .collect()
}
