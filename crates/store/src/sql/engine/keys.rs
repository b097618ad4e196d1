//! The idempotency keys of an engine batch: every key the batch carries is looked up in one
//! statement; a key used again within the batch finds the answer its first use kept. New
//! answers and the removal of keys past their lifetime are written with the batch.

use std::collections::HashMap;

use time::{Duration, OffsetDateTime};

use super::super::sets::{self, Column};
use super::super::{Dialect, SqlExec, Value};
use crate::StoreError;
use crate::command::{CommandRequest, Execution, IdempotencyRequest, StoredResponse};
use crate::model::IDEMPOTENCY_TTL_SECONDS;

/// A key as tenant, caller and key.
type KeyName = (String, String, String);

struct Kept {
    request_digest: String,
    response: StoredResponse,
    created_at: OffsetDateTime,
}

/// The keys of one batch.
#[derive(Default)]
pub(super) struct Keys {
    kept: HashMap<KeyName, Kept>,
    /// Stored keys past their lifetime, to be removed before new answers are kept.
    pub(super) expired: Vec<KeyName>,
    /// Answers kept by this batch, in order.
    new: Vec<(KeyName, String)>,
}

fn name(tenant_id: &str, idem: &IdempotencyRequest) -> KeyName {
    (tenant_id.to_string(), idem.caller.clone(), idem.key.clone())
}

impl Keys {
    /// Reads the stored answers of every key the batch carries (no statement when none does).
    pub(super) async fn load<T: SqlExec>(
        tx: &mut T,
        dialect: Dialect,
        requests: &[&CommandRequest],
    ) -> Result<Keys, StoreError> {
        let mut keys = Keys::default();
        let named: Vec<KeyName> = requests
            .iter()
            .filter_map(|r| {
                r.idempotency
                    .as_ref()
                    .map(|i| name(&r.context.tenant_id, i))
            })
            .collect();
        if named.is_empty() {
            return Ok(keys);
        }
        let sql = format!(
            "SELECT tenant_id, caller, key, request_digest, status, body, created_at \
             FROM idempotency_keys WHERE {}",
            sets::in_text_tuples(dialect, &["tenant_id", "caller", "key"], 1)
        );
        let params = vec![
            Value::Texts(named.iter().map(|k| Some(k.0.clone())).collect()),
            Value::Texts(named.iter().map(|k| Some(k.1.clone())).collect()),
            Value::Texts(named.iter().map(|k| Some(k.2.clone())).collect()),
        ];
        for row in tx.fetch(&sql, params).await? {
            let mut r = row.reader();
            let key = (r.text()?, r.text()?, r.text()?);
            let request_digest = r.text()?;
            let status = r.int()?;
            let status = u16::try_from(status)
                .map_err(|_| StoreError::Other(format!("stored status {status} invalid")))?;
            let response = StoredResponse {
                status,
                body: r.text()?,
            };
            let created_at = r.time()?;
            keys.kept.insert(
                key,
                Kept {
                    request_digest,
                    response,
                    created_at,
                },
            );
        }
        Ok(keys)
    }

    /// The answer a request gets without running because its key was used before: the first
    /// answer for the same request, or a refusal for another request.
    pub(super) fn earlier(
        &mut self,
        tenant_id: &str,
        idem: &IdempotencyRequest,
        now: OffsetDateTime,
    ) -> Option<Execution> {
        let key = name(tenant_id, idem);
        let kept = self.kept.get(&key)?;
        if kept.created_at + Duration::seconds(IDEMPOTENCY_TTL_SECONDS) <= now {
            // Past its lifetime the key is free again; the sweeper may not have reached it.
            self.kept.remove(&key);
            self.expired.push(key);
            return None;
        }
        Some(if kept.request_digest == idem.request_digest {
            Execution::Replayed(kept.response.clone())
        } else {
            Execution::KeyReused
        })
    }

    /// Keeps the first answer for a key.
    pub(super) fn keep(
        &mut self,
        tenant_id: &str,
        idem: &IdempotencyRequest,
        response: StoredResponse,
        now: OffsetDateTime,
    ) {
        let key = name(tenant_id, idem);
        self.new.push((key.clone(), idem.request_digest.clone()));
        self.kept.insert(
            key,
            Kept {
                request_digest: idem.request_digest.clone(),
                response,
                created_at: now,
            },
        );
    }

    /// The rows of the answers this batch kept.
    pub(super) fn new_rows(&self) -> Vec<Vec<Value>> {
        self.new
            .iter()
            .filter_map(|(key, digest)| {
                let kept = self.kept.get(key)?;
                Some(vec![
                    key.0.as_str().into(),
                    key.1.as_str().into(),
                    key.2.as_str().into(),
                    digest.as_str().into(),
                    i64::from(kept.response.status).into(),
                    kept.response.body.as_str().into(),
                    kept.created_at.into(),
                ])
            })
            .collect()
    }
}

/// The columns of a kept answer, in the order of [`Keys::new_rows`].
pub(super) const KEY_COLUMNS: [Column; 7] = [
    Column::Text("tenant_id"),
    Column::Text("caller"),
    Column::Text("key"),
    Column::Text("request_digest"),
    Column::Int("status"),
    Column::Text("body"),
    Column::Int("created_at"),
];
