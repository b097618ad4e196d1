//! The ledger's events in SQL. Every write transaction collects the events of the commands it
//! ran and appends them last, just before it commits ([`append`]): it takes their numbers from
//! the tenant's row in `event_sequences` (an upsert that adds the count; the new last number is
//! its answer on PostgreSQL and read right after it on SQLite), so numbers are dense, and as
//! that row stays locked until the commit, a tenant's transactions commit in the order of their
//! numbers on every node. A reader that has seen number N never sees a number below N appear
//! later. On PostgreSQL the same statement notifies `voucherd_events` with the tenant id, which
//! reaches every node's listener at the commit.
//!
//! [`page`] reads the feed: events after a number, in order, optionally of some types or of
//! one voucher.

use std::collections::BTreeMap;

use voucherd_domain::events::LedgerEvent;

use super::sets::Column;
use super::{Dialect, SqlExec, Value};
use crate::StoreError;
use crate::events::{EventFilter, StoredEvent};

/// The PostgreSQL channel a commit with events notifies, with the tenant id as payload.
pub const EVENTS_CHANNEL: &str = "voucherd_events";

/// The columns of an event as [`append`] binds them (its number is given by the database).
const EVENT_COLUMNS: [Column; 9] = [
    Column::Text("tenant_id"),
    Column::Text("type"),
    Column::Int("at"),
    Column::Text("face"),
    Column::Text("actor_kind"),
    Column::Text("actor_id"),
    Column::Text("request_id"),
    Column::Text("voucher_id"),
    Column::Text("data"),
];

/// Numbers `events` in their tenants' sequences and writes them. Call it last in a write
/// transaction, right before the commit.
pub(super) async fn append<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    events: &[LedgerEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    // Per tenant, in tenant order: every transaction locks the counters in the same order.
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for event in events {
        *counts.entry(event.tenant_id.as_str()).or_default() += 1;
    }
    let rows = events
        .iter()
        .map(|event| {
            vec![
                event.tenant_id.as_str().into(),
                event.kind.into(),
                event.at.into(),
                event.face.into(),
                event.actor_kind.into(),
                event.actor_id.as_str().into(),
                event.request_id.as_str().into(),
                event.voucher_id.clone().into(),
                event.data.as_str().into(),
            ]
        })
        .collect::<Vec<Vec<Value>>>();
    match dialect {
        Dialect::Postgres => {
            // One statement: the counters move and the rows go in together, numbered in the
            // order given.
            let params = EVENT_COLUMNS
                .iter()
                .enumerate()
                .map(|(i, column)| column.gather(&rows, i))
                .collect();
            tx.execute(&postgres_append(), params).await?;
        }
        Dialect::Sqlite => {
            let mut next: BTreeMap<&str, i64> = BTreeMap::new();
            for (tenant_id, count) in &counts {
                // The upsert, then a read of its row: SQLite answers `RETURNING` through a
                // temporary b-tree built for every execution, which costs more than the read.
                tx.execute(
                    "INSERT INTO event_sequences (tenant_id, last_seq) VALUES ($1, $2) \
                     ON CONFLICT (tenant_id) DO UPDATE \
                     SET last_seq = last_seq + excluded.last_seq",
                    vec![(*tenant_id).into(), (*count).into()],
                )
                .await?;
                let row = tx
                    .fetch_optional(
                        "SELECT last_seq FROM event_sequences WHERE tenant_id = $1",
                        vec![(*tenant_id).into()],
                    )
                    .await?
                    .ok_or_else(|| StoreError::Other("no event number answered".into()))?;
                let last = row.reader().int()?;
                next.insert(tenant_id, last - count + 1);
            }
            let mut numbered = Vec::with_capacity(rows.len());
            for (event, mut row) in events.iter().zip(rows) {
                let seq = next
                    .get_mut(event.tenant_id.as_str())
                    .ok_or_else(|| StoreError::Other("an event's tenant got no numbers".into()))?;
                row.insert(1, (*seq).into());
                *seq += 1;
                numbered.push(row);
            }
            tx.execute_each(SQLITE_INSERT, numbered).await?;
        }
    }
    Ok(())
}

const SQLITE_INSERT: &str = "INSERT INTO ledger_events (tenant_id, seq, type, at, face, \
     actor_kind, actor_id, request_id, voucher_id, data) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// The PostgreSQL statement of [`append`]: the events as arrays, the tenants' counters moved
/// by their counts (locked in tenant order, notifying [`EVENTS_CHANNEL`]), the rows numbered
/// from each counter's old value in the order given.
fn postgres_append() -> String {
    format!(
        "WITH e AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], \
         $5::text[], $6::text[], $7::text[], $8::text[], $9::text[]) WITH ORDINALITY \
         AS e(tenant_id, type, at, face, actor_kind, actor_id, request_id, voucher_id, data, ord)), \
         counts AS (SELECT tenant_id, count(*)::bigint AS n FROM e GROUP BY tenant_id), \
         bumped AS (INSERT INTO event_sequences (tenant_id, last_seq) \
         SELECT tenant_id, n FROM counts ORDER BY tenant_id \
         ON CONFLICT (tenant_id) DO UPDATE \
         SET last_seq = event_sequences.last_seq + EXCLUDED.last_seq \
         RETURNING tenant_id, last_seq, pg_notify('{EVENTS_CHANNEL}', tenant_id)::text AS notified) \
         INSERT INTO ledger_events (tenant_id, seq, type, at, face, actor_kind, actor_id, \
         request_id, voucher_id, data) \
         SELECT e.tenant_id, \
         b.last_seq - c.n + row_number() OVER (PARTITION BY e.tenant_id ORDER BY e.ord), \
         e.type, e.at, e.face, e.actor_kind, e.actor_id, e.request_id, e.voucher_id, e.data \
         FROM e JOIN counts c ON c.tenant_id = e.tenant_id \
         JOIN bumped b ON b.tenant_id = e.tenant_id"
    )
}

/// The tenant's events after `filter.after`, in order, at most `filter.limit`.
pub(super) async fn page<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    filter: &EventFilter,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut sql = String::from(
        "SELECT seq, type, at, face, actor_kind, actor_id, request_id, voucher_id, data \
         FROM ledger_events WHERE tenant_id = $1 AND seq > $2",
    );
    let mut params: Vec<Value> = vec![tenant_id.into(), filter.after.into()];
    if let Some(voucher_id) = &filter.voucher_id {
        params.push(voucher_id.as_str().into());
        sql.push_str(&format!(" AND voucher_id = ${}", params.len()));
    }
    if let Some(from) = filter.from {
        params.push(from.into());
        sql.push_str(&format!(" AND at >= ${}", params.len()));
    }
    if let Some(to) = filter.to {
        params.push(to.into());
        sql.push_str(&format!(" AND at < ${}", params.len()));
    }
    if !filter.types.is_empty() {
        let mut alternatives = Vec::new();
        for pattern in &filter.types {
            match pattern.strip_suffix('*') {
                Some(prefix) => {
                    params.push(format!("{prefix}%").into());
                    alternatives.push(format!("type LIKE ${}", params.len()));
                }
                None => {
                    params.push(pattern.as_str().into());
                    alternatives.push(format!("type = ${}", params.len()));
                }
            }
        }
        sql.push_str(&format!(" AND ({})", alternatives.join(" OR ")));
    }
    params.push(filter.limit.into());
    sql.push_str(&format!(" ORDER BY seq LIMIT ${}", params.len()));
    let rows = tx.fetch(&sql, params).await?;
    rows.iter()
        .map(|row| {
            let mut r = row.reader();
            Ok(StoredEvent {
                seq: r.int()?,
                kind: r.text()?,
                at: r.time()?,
                face: r.text()?,
                actor_kind: r.text()?,
                actor_id: r.text()?,
                request_id: r.text()?,
                voucher_id: r.opt_text()?,
                data: serde_json::from_str(&r.text()?)
                    .map_err(|e| StoreError::Other(format!("stored event data unreadable: {e}")))?,
            })
        })
        .collect()
}

/// The tenant's last event number (0 before its first event).
pub(super) async fn last_seq<T: SqlExec>(tx: &mut T, tenant_id: &str) -> Result<i64, StoreError> {
    let row = tx
        .fetch_optional(
            "SELECT last_seq FROM event_sequences WHERE tenant_id = $1",
            vec![tenant_id.into()],
        )
        .await?;
    row.map_or(Ok(0), |row| row.reader().int())
}
