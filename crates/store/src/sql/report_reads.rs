//! The operator's report in three aggregate queries.

use time::{Duration, OffsetDateTime};
use voucherd_domain::{Currency, EntryKind};

use super::{SqlExec, from_micros};
use crate::StoreError;
use crate::report::{DayMovement, Expiring, Liability, Report};

const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Expiring vouchers listed by name.
const EXPIRING_LISTED: i64 = 25;

fn currency(text: &str) -> Result<Currency, StoreError> {
    Currency::parse(text).map_err(|_| StoreError::Other(format!("stored currency: {text}")))
}

/// Movements since `days` days before `now`, vouchers expiring within `expiry_days`.
pub(super) async fn report<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    now: OffsetDateTime,
    days: i64,
    expiry_days: i64,
) -> Result<Report, StoreError> {
    let rows = tx
        .fetch(
            "SELECT currency, COUNT(*), CAST(SUM(remaining_minor) AS BIGINT) FROM vouchers \
             WHERE tenant_id = $1 AND deleted_at IS NULL AND status = 'active' \
             GROUP BY currency ORDER BY currency",
            vec![tenant_id.into()],
        )
        .await?;
    let liability = rows
        .iter()
        .map(|row| {
            let mut r = row.reader();
            Ok(Liability {
                currency: currency(&r.text()?)?,
                vouchers: r.int()?,
                remaining_minor: r.int()?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let since = now - Duration::days(days);
    let rows = tx
        .fetch(
            "SELECT e.created_at / $3, e.kind, e.currency, COUNT(*), CAST(SUM(e.amount_minor) AS BIGINT) \
             FROM entries e WHERE e.tenant_id = $1 AND e.created_at >= $2 \
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            vec![tenant_id.into(), since.into(), MICROS_PER_DAY.into()],
        )
        .await?;
    let movements = rows
        .iter()
        .map(|row| {
            let mut r = row.reader();
            let day = from_micros(r.int()? * MICROS_PER_DAY)?.date();
            let kind_text = r.text()?;
            Ok(DayMovement {
                day,
                kind: EntryKind::parse(&kind_text)
                    .ok_or_else(|| StoreError::Other(format!("stored kind: {kind_text}")))?,
                currency: currency(&r.text()?)?,
                entries: r.int()?,
                amount_minor: r.int()?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let until = now + Duration::days(expiry_days);
    let soon = "tenant_id = $1 AND deleted_at IS NULL AND status = 'active' \
                AND remaining_minor > 0 AND valid_until > $2 AND valid_until <= $3";
    let total = tx
        .fetch_optional(
            &format!("SELECT COUNT(*) FROM vouchers WHERE {soon}"),
            vec![tenant_id.into(), now.into(), until.into()],
        )
        .await?
        .map(|row| row.reader().int())
        .transpose()?
        .unwrap_or_default();
    let rows = tx
        .fetch(
            &format!(
                "SELECT id, currency, remaining_minor, valid_until FROM vouchers WHERE {soon} \
                 ORDER BY valid_until, pk LIMIT {EXPIRING_LISTED}"
            ),
            vec![tenant_id.into(), now.into(), until.into()],
        )
        .await?;
    let expiring = rows
        .iter()
        .map(|row| {
            let mut r = row.reader();
            Ok(Expiring {
                voucher_id: r.text()?,
                currency: currency(&r.text()?)?,
                remaining_minor: r.int()?,
                valid_until: r.time()?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Report {
        liability,
        movements,
        expiring,
        expiring_total: total,
    })
}
