//! The stored first responses behind `Idempotency-Key`: looked up before a command runs and
//! written in the same transaction as the command's change, so a retry can never see the change
//! without its answer or the answer without its change.

use time::{Duration, OffsetDateTime};

use super::SqlExec;
use crate::StoreError;
use crate::command::{Execution, IdempotencyRequest, StoredResponse};
use crate::model::IDEMPOTENCY_TTL_SECONDS;

/// The earlier answer for this key, if the key was used in the last 24 hours.
pub(super) async fn stored_response<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    idem: &IdempotencyRequest,
    now: OffsetDateTime,
) -> Result<Option<Execution>, StoreError> {
    let row = tx
        .fetch_optional(
            "SELECT request_digest, status, body, created_at FROM idempotency_keys \
             WHERE tenant_id = $1 AND caller = $2 AND key = $3",
            vec![
                tenant_id.into(),
                idem.caller.as_str().into(),
                idem.key.as_str().into(),
            ],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut r = row.reader();
    let (digest, status, body, created_at) = (r.text()?, r.int()?, r.text()?, r.time()?);
    if created_at + Duration::seconds(IDEMPOTENCY_TTL_SECONDS) <= now {
        // Past its lifetime the key is free again; the sweeper may not have reached it.
        tx.execute(
            "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND caller = $2 AND key = $3",
            vec![
                tenant_id.into(),
                idem.caller.as_str().into(),
                idem.key.as_str().into(),
            ],
        )
        .await?;
        return Ok(None);
    }
    if digest != idem.request_digest {
        return Ok(Some(Execution::KeyReused));
    }
    let status = u16::try_from(status)
        .map_err(|_| StoreError::Other(format!("stored status {status} invalid")))?;
    Ok(Some(Execution::Replayed(StoredResponse { status, body })))
}

/// Keeps the first answer for this key.
pub(super) async fn store_response<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    idem: &IdempotencyRequest,
    response: &StoredResponse,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO idempotency_keys (tenant_id, caller, key, request_digest, status, body, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        vec![
            tenant_id.into(),
            idem.caller.as_str().into(),
            idem.key.as_str().into(),
            idem.request_digest.as_str().into(),
            i64::from(response.status).into(),
            response.body.as_str().into(),
            now.into(),
        ],
    )
    .await?;
    Ok(())
}
