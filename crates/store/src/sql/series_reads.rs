//! Reading series back, claiming one to work on, and reading vouchers in key order (for
//! streaming exports of any size).

use time::OffsetDateTime;

use super::reads::{VOUCHER_COLUMNS, voucher_row};
use super::{Row, SqlExec, Value};
use crate::StoreError;
use crate::model::VoucherView;
use crate::series::{SeriesState, SeriesTemplate, SeriesView};

const SERIES_SELECT: &str = "SELECT pk, tenant_id, id, template, requested, issued, state, \
     failure, created_by, created_at, finished_at FROM voucher_series";

fn series_row(row: &Row) -> Result<(i64, SeriesView), StoreError> {
    let mut r = row.reader();
    let pk = r.int()?;
    let tenant_id = r.text()?;
    let id = r.text()?;
    let template_text = r.text()?;
    let template: SeriesTemplate = serde_json::from_str(&template_text)
        .map_err(|e| StoreError::Other(format!("stored series template: {e}")))?;
    let requested = r.int()?;
    let issued = r.int()?;
    let state_text = r.text()?;
    let state = SeriesState::parse(&state_text)
        .ok_or_else(|| StoreError::Other(format!("stored series state: {state_text}")))?;
    Ok((
        pk,
        SeriesView {
            id,
            tenant_id,
            template,
            requested,
            issued,
            state,
            failure: r.opt_text()?,
            created_by: r.text()?,
            created_at: r.time()?,
            finished_at: r.opt_time()?,
        },
    ))
}

pub(super) async fn series<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    id: &str,
) -> Result<Option<(i64, SeriesView)>, StoreError> {
    let sql = format!("{SERIES_SELECT} WHERE tenant_id = $1 AND id = $2");
    tx.fetch_optional(&sql, vec![tenant_id.into(), id.into()])
        .await?
        .as_ref()
        .map(series_row)
        .transpose()
}

/// A tenant's series, newest first.
pub(super) async fn all_series<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    limit: i64,
) -> Result<Vec<SeriesView>, StoreError> {
    let sql = format!("{SERIES_SELECT} WHERE tenant_id = $1 ORDER BY pk DESC LIMIT $2");
    let rows = tx.fetch(&sql, vec![tenant_id.into(), limit.into()]).await?;
    rows.iter()
        .map(|row| series_row(row).map(|(_, view)| view))
        .collect()
}

/// Takes the lease of one running series whose lease has run out; answers its tenant and id.
pub(super) async fn claim<T: SqlExec>(
    tx: &mut T,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> Result<Option<(String, String)>, StoreError> {
    let row = tx
        .fetch_optional(
            "UPDATE voucher_series SET lease_until = $2 WHERE pk = (SELECT pk FROM voucher_series \
             WHERE state = 'running' AND lease_until <= $1 ORDER BY pk LIMIT 1) \
             AND lease_until <= $1 RETURNING tenant_id, id",
            vec![now.into(), lease_until.into()],
        )
        .await?;
    row.map(|row| {
        let mut r = row.reader();
        Ok((r.text()?, r.text()?))
    })
    .transpose()
}

/// Up to `limit` live vouchers after key `after_pk`, in key order, of one series or all.
pub(super) async fn vouchers_after<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    series_id: Option<&str>,
    after_pk: i64,
    limit: i64,
    now: OffsetDateTime,
) -> Result<Vec<(i64, VoucherView)>, StoreError> {
    let mut params: Vec<Value> = vec![now.into(), tenant_id.into(), after_pk.into(), limit.into()];
    let series = match series_id {
        Some(id) => {
            params.push(id.into());
            " AND v.series_pk = (SELECT s.pk FROM voucher_series s WHERE s.tenant_id = $2 AND s.id = $5)"
        }
        None => "",
    };
    let sql = format!(
        "SELECT {VOUCHER_COLUMNS} FROM vouchers v WHERE v.tenant_id = $2 AND v.pk > $3 \
         AND v.deleted_at IS NULL{series} ORDER BY v.pk LIMIT $4"
    );
    let rows = tx.fetch(&sql, params).await?;
    rows.iter()
        .map(|row| voucher_row(row).map(|record| (record.pk, record.view)))
        .collect()
}
