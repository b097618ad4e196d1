//! Reading the bleepay face back: token grants, payer credentials and vouchers, contexts with
//! their bound vouchers, and voucher codes, each with the keys the ledger needs to change them.

use time::OffsetDateTime;
use voucherd_domain::Currency;
use voucherd_domain::bleepay::{CodeFormat, CodeStatus, ContextStatus};

use super::{Row, SqlExec, Value};
use crate::StoreError;
use crate::bleepay::{
    BindingView, BleepayCaller, BleepayGrant, CodeView, ContextView, ListWindow, PayerCredential,
    PayerKind, PayerVoucherView,
};

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Other(format!("stored {what} is invalid: {value}"))
}

/// A context with its key.
pub(super) struct ContextRecord {
    pub(super) pk: i64,
    pub(super) misses: i64,
    pub(super) view: ContextView,
}

/// A voucher code with the keys of what it holds.
pub(super) struct CodeRecord {
    pub(super) pk: i64,
    pub(super) tenant_id: String,
    pub(super) context_pk: i64,
    pub(super) voucher_pk: Option<i64>,
    pub(super) hold_pk: Option<i64>,
    pub(super) entry_pk: Option<i64>,
    pub(super) view: CodeView,
}

/// Which context to read.
pub(super) enum ContextKey<'a> {
    Id(&'a str),
    Pk(i64),
}

const CONTEXT_SELECT: &str = "SELECT c.pk, c.misses, c.id, c.code, c.format, \
     c.status, p.id, c.payee_id, c.closed_reason, c.expires_at, c.created_at, c.updated_at \
     FROM bleepay_contexts c JOIN payers p ON p.pk = c.payer_pk WHERE c.tenant_id = $1";

fn context_row(row: &Row) -> Result<ContextRecord, StoreError> {
    let mut r = row.reader();
    let pk = r.int()?;
    let misses = r.int()?;
    let id = r.text()?;
    let code = r.text()?;
    let format_text = r.text()?;
    let format = CodeFormat::parse(&format_text).ok_or_else(|| corrupt("format", &format_text))?;
    let status_text = r.text()?;
    let status =
        ContextStatus::parse(&status_text).ok_or_else(|| corrupt("status", &status_text))?;
    Ok(ContextRecord {
        pk,
        misses,
        view: ContextView {
            id,
            code,
            format,
            status,
            payer_id: r.text()?,
            payee_id: r.opt_text()?,
            closed_reason: r.opt_text()?,
            bindings: Vec::new(),
            expires_at: r.time()?,
            created_at: r.time()?,
            updated_at: r.time()?,
        },
    })
}

async fn with_bindings<T: SqlExec>(
    tx: &mut T,
    mut record: ContextRecord,
) -> Result<ContextRecord, StoreError> {
    let rows = tx
        .fetch(
            "SELECT b.address, v.id FROM bleepay_bindings b JOIN vouchers v ON v.pk = b.voucher_pk \
             WHERE b.context_pk = $1 ORDER BY b.position",
            vec![record.pk.into()],
        )
        .await?;
    record.view.bindings = rows
        .iter()
        .map(|row| {
            let mut r = row.reader();
            Ok(BindingView {
                address: r.text()?,
                voucher_id: r.text()?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(record)
}

/// One context of the tenant, with its bound vouchers.
pub(super) async fn context<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    key: ContextKey<'_>,
) -> Result<Option<ContextRecord>, StoreError> {
    let (condition, value): (&str, Value) = match key {
        ContextKey::Id(id) => ("c.id = $2", id.into()),
        ContextKey::Pk(pk) => ("c.pk = $2", pk.into()),
    };
    let sql = format!("{CONTEXT_SELECT} AND {condition}");
    match tx
        .fetch_optional(&sql, vec![tenant_id.into(), value])
        .await?
    {
        Some(row) => Ok(Some(with_bindings(tx, context_row(&row)?).await?)),
        None => Ok(None),
    }
}

/// The open, unexpired context that a context code names right now.
pub(super) async fn live_context_by_code<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    code: &str,
    now: OffsetDateTime,
) -> Result<Option<ContextRecord>, StoreError> {
    let sql = format!(
        "{CONTEXT_SELECT} AND c.code = $2 AND c.status = 'OPEN' AND c.expires_at > $3 \
         ORDER BY c.pk DESC LIMIT 1"
    );
    match tx
        .fetch_optional(&sql, vec![tenant_id.into(), code.into(), now.into()])
        .await?
    {
        Some(row) => Ok(Some(with_bindings(tx, context_row(&row)?).await?)),
        None => Ok(None),
    }
}

/// A payer's contexts, newest first.
pub(super) async fn contexts<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    payer_id: &str,
    window: &ListWindow,
) -> Result<Vec<ContextView>, StoreError> {
    let (filter, mut params) = window_filter("c.created_at", window, 3);
    let sql = format!(
        "{CONTEXT_SELECT} AND p.id = $2{filter} ORDER BY c.created_at DESC, c.pk DESC \
         LIMIT {} OFFSET {}",
        window.limit, window.offset
    );
    let mut all = vec![tenant_id.into(), payer_id.into()];
    all.append(&mut params);
    let rows = tx.fetch(&sql, all).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(with_bindings(tx, context_row(row)?).await?.view);
    }
    Ok(out)
}

/// ` AND column >= $n AND column <= $n+1` for the window's bounds, and their values.
fn window_filter(column: &str, window: &ListWindow, first: usize) -> (String, Vec<Value>) {
    let mut sql = String::new();
    let mut params = Vec::new();
    if let Some(since) = window.since {
        sql.push_str(&format!(" AND {column} >= ${}", first + params.len()));
        params.push(since.into());
    }
    if let Some(until) = window.until {
        sql.push_str(&format!(" AND {column} <= ${}", first + params.len()));
        params.push(until.into());
    }
    (sql, params)
}

/// A voucher code's columns as [`code_row`] reads them (the code aliased `b`); the caller adds
/// its `WHERE`.
pub(super) const CODE_COLUMNS_FROM: &str = "SELECT b.pk, b.hold_pk, b.id, b.code, c.id, p.id, \
     r.id, b.status, b.currency, b.amount_minor, v.id, e.id, b.expires_at, b.created_at, \
     b.updated_at, b.tenant_id, b.context_pk, b.voucher_pk, b.entry_pk \
     FROM bleepay_vouchers b JOIN bleepay_contexts c ON c.pk = b.context_pk \
     JOIN payers p ON p.pk = c.payer_pk LEFT JOIN payers r ON r.pk = b.reserved_by \
     LEFT JOIN vouchers v ON v.pk = b.voucher_pk LEFT JOIN entries e ON e.pk = b.entry_pk";

pub(super) fn code_row(row: &Row) -> Result<CodeRecord, StoreError> {
    let mut r = row.reader();
    let pk = r.int()?;
    let hold_pk = r.opt_int()?;
    let id = r.text()?;
    let code = r.text()?;
    let context_id = r.text()?;
    let payer_id = r.text()?;
    let reserved_by = r.opt_text()?;
    let status_text = r.text()?;
    let status = CodeStatus::parse(&status_text).ok_or_else(|| corrupt("status", &status_text))?;
    let currency = r
        .opt_text()?
        .map(|c| Currency::parse(&c).map_err(|_| corrupt("currency", &c)))
        .transpose()?;
    let view = CodeView {
        id,
        code,
        context_id,
        payer_id,
        reserved_by,
        status,
        currency,
        amount_minor: r.opt_int()?,
        voucher_id: r.opt_text()?,
        charge_id: r.opt_text()?,
        expires_at: r.time()?,
        created_at: r.time()?,
        updated_at: r.time()?,
    };
    Ok(CodeRecord {
        pk,
        tenant_id: r.text()?,
        context_pk: r.int()?,
        voucher_pk: r.opt_int()?,
        hold_pk,
        entry_pk: r.opt_int()?,
        view,
    })
}

/// One voucher code of the tenant.
pub(super) async fn code<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    id: &str,
) -> Result<Option<CodeRecord>, StoreError> {
    let sql = format!("{CODE_COLUMNS_FROM} WHERE b.tenant_id = $1 AND b.id = $2");
    tx.fetch_optional(&sql, vec![tenant_id.into(), id.into()])
        .await?
        .as_ref()
        .map(code_row)
        .transpose()
}

/// The voucher codes a caller may see, in order of creation: a payee's in its context; a
/// payer's in the contexts it opened or reserved as a payee.
pub(super) async fn codes<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    caller: &BleepayCaller,
    status: Option<CodeStatus>,
    window: &ListWindow,
    now: OffsetDateTime,
) -> Result<Vec<CodeView>, StoreError> {
    let (scope, who): (&str, &str) = match caller {
        BleepayCaller::Payee { context_id } => ("c.id = $2", context_id),
        BleepayCaller::Payer(payer_id) => ("(p.id = $2 OR r.id = $2)", payer_id),
    };
    let (filter, mut params) = window_filter("b.created_at", window, 3);
    let mut all: Vec<Value> = vec![tenant_id.into(), who.into()];
    all.append(&mut params);
    // Status as callers see it: an open code past its expiry reads DISCARDED.
    let at = all.len() + 1;
    let status_filter = match status {
        None => String::new(),
        Some(CodeStatus::Resolved) => " AND b.status = 'RESOLVED'".to_string(),
        Some(CodeStatus::Discarded) => format!(
            " AND (b.status = 'DISCARDED' OR (b.status IN ('RESERVED', 'REDEEMED') \
             AND b.expires_at <= ${at}))"
        ),
        Some(open) => format!(
            " AND b.status = '{}' AND b.expires_at > ${at}",
            open.as_str()
        ),
    };
    if status.is_some_and(|s| s != CodeStatus::Resolved) {
        all.push(now.into());
    }
    let sql = format!(
        "{CODE_COLUMNS_FROM} WHERE b.tenant_id = $1 AND {scope}{filter}{status_filter} \
         ORDER BY b.created_at, b.pk \
         LIMIT {} OFFSET {}",
        window.limit, window.offset
    );
    let rows = tx.fetch(&sql, all).await?;
    rows.iter()
        .map(|row| code_row(row).map(|record| record.view))
        .collect()
}

/// The stored credential of a payer account.
pub(super) async fn payer_credential<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    kind: PayerKind,
    identifier: &str,
) -> Result<Option<PayerCredential>, StoreError> {
    let row = tx
        .fetch_optional(
            "SELECT id, password_hash FROM payers \
             WHERE tenant_id = $1 AND kind = $2 AND identifier = $3",
            vec![tenant_id.into(), kind.as_str().into(), identifier.into()],
        )
        .await?;
    row.map(|row| {
        let mut r = row.reader();
        Ok(PayerCredential {
            payer_id: r.text()?,
            password_hash: r.text()?,
        })
    })
    .transpose()
}

/// The key of a payer account.
pub(super) async fn payer_pk<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    payer_id: &str,
) -> Result<Option<i64>, StoreError> {
    let row = tx
        .fetch_optional(
            "SELECT pk FROM payers WHERE tenant_id = $1 AND id = $2",
            vec![tenant_id.into(), payer_id.into()],
        )
        .await?;
    row.map(|row| row.reader().int()).transpose()
}

/// What a bearer token grants right now: a payer token until it expires, a payee token while
/// its context is open and unexpired.
pub(super) async fn grant<T: SqlExec>(
    tx: &mut T,
    digest: &str,
    now: OffsetDateTime,
) -> Result<Option<BleepayGrant>, StoreError> {
    let row = tx
        .fetch_optional(
            "SELECT t.tenant_id, p.id, c.id FROM bleepay_tokens t \
             LEFT JOIN payers p ON p.pk = t.payer_pk \
             LEFT JOIN bleepay_contexts c ON c.pk = t.context_pk \
             AND c.status = 'OPEN' AND c.expires_at > $2 \
             WHERE t.digest = $1 AND t.expires_at > $2",
            vec![digest.into(), now.into()],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut r = row.reader();
    let tenant_id = r.text()?;
    let caller = match (r.opt_text()?, r.opt_text()?) {
        (Some(payer_id), _) => BleepayCaller::Payer(payer_id),
        (None, Some(context_id)) => BleepayCaller::Payee { context_id },
        (None, None) => return Ok(None),
    };
    Ok(Some(BleepayGrant { tenant_id, caller }))
}

/// The vouchers in a payer's account, in the order they were added.
pub(super) async fn payer_vouchers<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    payer_id: &str,
    now: OffsetDateTime,
) -> Result<Vec<PayerVoucherView>, StoreError> {
    let rows = tx
        .fetch(
            "SELECT v.id, v.currency, v.remaining_minor, \
             v.remaining_minor - CAST(COALESCE((SELECT SUM(h.amount_minor) FROM holds h \
               WHERE h.voucher_pk = v.pk AND h.state = 'live' AND h.expires_at > $3), 0) \
               AS BIGINT), \
             v.valid_until, v.status, pv.created_at \
             FROM payer_vouchers pv JOIN payers p ON p.pk = pv.payer_pk \
             JOIN vouchers v ON v.pk = pv.voucher_pk \
             WHERE p.tenant_id = $1 AND p.id = $2 AND v.deleted_at IS NULL \
             ORDER BY pv.created_at, v.pk",
            vec![tenant_id.into(), payer_id.into(), now.into()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let mut r = row.reader();
            let voucher_id = r.text()?;
            let currency_text = r.text()?;
            Ok(PayerVoucherView {
                voucher_id,
                currency: Currency::parse(&currency_text)
                    .map_err(|_| corrupt("currency", &currency_text))?,
                remaining_minor: r.int()?,
                available_minor: r.int()?,
                valid_until: r.opt_time()?,
                active: r.text()? == "active",
                added_at: r.time()?,
            })
        })
        .collect()
}
