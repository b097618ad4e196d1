//! Reading webhook endpoints and their deliveries, and the worker's side: claiming endpoints
//! that are due (a lease, as with Front Payment's callbacks: the claim moves `next_attempt_at`
//! past now, so no other node takes the endpoint meanwhile) and recording what was delivered.

use time::{Duration, OffsetDateTime};

use super::{Row, SqlExec};
use crate::StoreError;
use crate::webhooks::{
    WEBHOOK_DELIVERIES_KEPT, WEBHOOK_DISABLE_AFTER_DAYS, WebhookAttempt, WebhookEndpoint,
    WebhookProgress, WebhookTarget, parse_types,
};

const ENDPOINT_COLUMNS: &str = "id, url, types, allow_private, cursor, attempts, \
     next_attempt_at, failing_since, last_error, disabled_at, created_at, previous_until";

fn read_endpoint(row: &Row) -> Result<WebhookEndpoint, StoreError> {
    let mut r = row.reader();
    Ok(WebhookEndpoint {
        id: r.text()?,
        url: r.text()?,
        types: parse_types(&r.text()?),
        allow_private: r.bool()?,
        cursor: r.int()?,
        attempts: r.int()?,
        next_attempt_at: r.time()?,
        failing_since: r.opt_time()?,
        last_error: r.opt_text()?,
        disabled_at: r.opt_time()?,
        created_at: r.time()?,
        previous_secret_until: r.opt_time()?,
    })
}

pub(super) async fn endpoint<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    id: &str,
) -> Result<Option<WebhookEndpoint>, StoreError> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2"
    );
    let row = tx
        .fetch_optional(&sql, vec![tenant_id.into(), id.into()])
        .await?;
    row.as_ref().map(read_endpoint).transpose()
}

pub(super) async fn endpoints<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
) -> Result<Vec<WebhookEndpoint>, StoreError> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 \
         ORDER BY created_at, id"
    );
    let rows = tx.fetch(&sql, vec![tenant_id.into()]).await?;
    rows.iter().map(read_endpoint).collect()
}

/// The endpoint's latest attempts, newest first.
pub(super) async fn deliveries<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    id: &str,
    limit: i64,
) -> Result<Vec<WebhookAttempt>, StoreError> {
    let rows = tx
        .fetch(
            "SELECT d.seq, d.type, d.status, d.latency_ms, d.at, d.error \
             FROM webhook_deliveries d JOIN webhook_endpoints e ON e.pk = d.endpoint_pk \
             WHERE e.tenant_id = $1 AND e.id = $2 ORDER BY d.pk DESC LIMIT $3",
            vec![tenant_id.into(), id.into(), limit.into()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let mut r = row.reader();
            Ok(WebhookAttempt {
                seq: r.int()?,
                kind: r.text()?,
                status: r.opt_int()?,
                latency_ms: r.int()?,
                at: r.time()?,
                error: r.opt_text()?,
            })
        })
        .collect()
}

/// Whether any endpoint is due: the read the worker makes before it claims, so that waking on
/// every commit takes no write lock unless there is something to send.
pub(super) async fn any_due<T: SqlExec>(
    tx: &mut T,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let row = tx
        .fetch_optional(
            &format!("SELECT 1 FROM webhook_endpoints WHERE {DUE} LIMIT 1"),
            vec![now.into()],
        )
        .await?;
    Ok(row.is_some())
}

/// An endpoint that is due at `$1`: enabled, its backoff or lease over, and events after its
/// cursor.
const DUE: &str = "disabled_at IS NULL AND next_attempt_at <= $1 \
     AND cursor < COALESCE((SELECT s.last_seq FROM event_sequences s \
     WHERE s.tenant_id = webhook_endpoints.tenant_id), 0)";

/// Claims up to `limit` enabled endpoints that are due at `now` and have events after their
/// cursor, until `lease_until`. An endpoint with nothing new is never claimed, so idle endpoints
/// cost no writes.
pub(super) async fn claim<T: SqlExec>(
    tx: &mut T,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: i64,
) -> Result<Vec<WebhookTarget>, StoreError> {
    let rows = tx
        .fetch(
            &format!(
                "UPDATE webhook_endpoints SET next_attempt_at = $2 WHERE pk IN (\
                 SELECT pk FROM webhook_endpoints WHERE {DUE} \
                 ORDER BY next_attempt_at, pk LIMIT $3) AND next_attempt_at <= $1 \
                 RETURNING {TARGET_COLUMNS}"
            ),
            vec![now.into(), lease_until.into(), limit.into()],
        )
        .await?;
    rows.iter().map(read_target).collect()
}

/// The columns [`read_target`] reads, with `$1` the time the previous secret is judged at.
const TARGET_COLUMNS: &str = "pk, tenant_id, id, url, types, allow_private, secret, \
     CASE WHEN previous_until > $1 THEN previous_secret END, cursor, attempts, failing_since";

fn read_target(row: &Row) -> Result<WebhookTarget, StoreError> {
    let mut r = row.reader();
    Ok(WebhookTarget {
        pk: r.int()?,
        tenant_id: r.text()?,
        id: r.text()?,
        url: r.text()?,
        types: parse_types(&r.text()?),
        allow_private: r.bool()?,
        secret: r.text()?,
        previous_secret: r.opt_text()?,
        cursor: r.int()?,
        attempts: r.int()?,
        failing_since: r.opt_time()?,
    })
}

/// One endpoint as a delivery target, claimed or not.
pub(super) async fn target<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    id: &str,
    now: OffsetDateTime,
) -> Result<Option<WebhookTarget>, StoreError> {
    let sql =
        format!("SELECT {TARGET_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $2 AND id = $3");
    let row = tx
        .fetch_optional(&sql, vec![now.into(), tenant_id.into(), id.into()])
        .await?;
    row.as_ref().map(read_target).transpose()
}

/// Adds attempts to an endpoint's deliveries in one statement, then forgets all but its latest
/// [`WEBHOOK_DELIVERIES_KEPT`].
pub(super) async fn insert_attempts<T: SqlExec>(
    tx: &mut T,
    endpoint_pk: i64,
    attempts: &[WebhookAttempt],
) -> Result<(), StoreError> {
    if attempts.is_empty() {
        return Ok(());
    }
    const COLUMNS: usize = 7;
    let rows: Vec<String> = (0..attempts.len())
        .map(|i| {
            let n = i * COLUMNS;
            format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5,
                n + 6,
                n + 7
            )
        })
        .collect();
    let mut params = Vec::with_capacity(attempts.len() * COLUMNS);
    for attempt in attempts {
        params.extend([
            endpoint_pk.into(),
            attempt.seq.into(),
            attempt.kind.as_str().into(),
            attempt.at.into(),
            attempt.status.into(),
            attempt.latency_ms.into(),
            attempt.error.clone().into(),
        ]);
    }
    let sql = format!(
        "INSERT INTO webhook_deliveries (endpoint_pk, seq, type, at, status, latency_ms, error) \
         VALUES {}",
        rows.join(", ")
    );
    tx.execute(&sql, params).await?;
    tx.execute(
        "DELETE FROM webhook_deliveries WHERE endpoint_pk = $1 AND pk <= (\
         SELECT pk FROM webhook_deliveries WHERE endpoint_pk = $1 ORDER BY pk DESC \
         LIMIT 1 OFFSET $2)",
        vec![endpoint_pk.into(), WEBHOOK_DELIVERIES_KEPT.into()],
    )
    .await
    .map(|_| ())
}

/// Records what became of a claimed endpoint and ends the claim: the cursor moves past what was
/// delivered; after a failure the next attempt waits, and an endpoint failing for
/// [`WEBHOOK_DISABLE_AFTER_DAYS`] is disabled. If the operator moved the cursor while the
/// round ran (a redelivery), the endpoint keeps theirs and only the attempts are recorded.
pub(super) async fn record<T: SqlExec>(
    tx: &mut T,
    target: &WebhookTarget,
    progress: &WebhookProgress,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let attempts = match progress {
        WebhookProgress::Idle { cursor } => {
            tx.execute(
                "UPDATE webhook_endpoints SET cursor = $2, next_attempt_at = $3 \
                 WHERE pk = $1 AND cursor = $4",
                vec![
                    target.pk.into(),
                    (*cursor).into(),
                    now.into(),
                    target.cursor.into(),
                ],
            )
            .await?;
            return Ok(());
        }
        WebhookProgress::Attempted { attempts, retry_at } => (attempts, retry_at),
    };
    let (attempts, retry_at) = attempts;
    insert_attempts(tx, target.pk, attempts).await?;
    let delivered = attempts
        .iter()
        .filter(|a| a.error.is_none())
        .map(|a| a.seq)
        .max();
    let cursor = delivered.unwrap_or(target.cursor).max(target.cursor);
    match retry_at {
        None => {
            tx.execute(
                "UPDATE webhook_endpoints SET cursor = $2, attempts = 0, next_attempt_at = $3, \
                 failing_since = NULL, last_error = NULL, updated_at = $3 \
                 WHERE pk = $1 AND cursor = $4",
                vec![
                    target.pk.into(),
                    cursor.into(),
                    now.into(),
                    target.cursor.into(),
                ],
            )
            .await?;
        }
        Some(retry_at) => {
            let error = attempts
                .last()
                .and_then(|a| a.error.clone())
                .unwrap_or_default();
            // A delivery in this round ends the failing streak that came before it.
            let since = match (delivered, target.failing_since) {
                (Some(_), _) | (None, None) => now,
                (None, Some(since)) => since,
            };
            let over = now - since >= Duration::days(WEBHOOK_DISABLE_AFTER_DAYS);
            let disabled = (over || retry_at.is_none()).then_some(now);
            let next = retry_at.unwrap_or(now);
            let tried = if delivered.is_some() {
                1
            } else {
                target.attempts + 1
            };
            tx.execute(
                "UPDATE webhook_endpoints SET cursor = $2, attempts = $3, next_attempt_at = $4, \
                 failing_since = $5, last_error = $6, disabled_at = $7, updated_at = $8 \
                 WHERE pk = $1 AND cursor = $9",
                vec![
                    target.pk.into(),
                    cursor.into(),
                    tried.into(),
                    next.into(),
                    since.into(),
                    error.into(),
                    disabled.into(),
                    now.into(),
                    target.cursor.into(),
                ],
            )
            .await?;
        }
    }
    Ok(())
}
