//! Applies a backend's numbered migration scripts once each, in order, recording them in
//! `schema_migrations`. Each script runs in its own write transaction, so a failed migration
//! leaves the schema as it was; PostgreSQL nodes starting together serialise on an advisory
//! lock statement that the backend passes in.

use super::{Backend, SqlExec};
use crate::StoreError;

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub script: &'static str,
}

/// Applies the migrations that are not applied yet; answers how many ran. `lock` is a
/// statement run first in each transaction to keep concurrent migrators apart (empty if the
/// write transaction already excludes other writers).
pub async fn migrate<B: Backend>(
    backend: &B,
    migrations: &[Migration],
    lock: &str,
) -> Result<usize, StoreError> {
    let mut tx = backend.begin_write().await?;
    tx.execute_script(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, \
         name TEXT NOT NULL)",
    )
    .await?;
    B::commit(tx).await?;
    let mut applied = 0;
    for migration in migrations {
        let mut tx = backend.begin_write().await?;
        if !lock.is_empty() {
            tx.execute_script(lock).await?;
        }
        let done = tx
            .fetch_optional(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                vec![migration.version.into()],
            )
            .await?
            .is_some();
        if done {
            continue;
        }
        tx.execute_script(migration.script).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            vec![migration.version.into(), migration.name.into()],
        )
        .await?;
        B::commit(tx).await?;
        applied += 1;
    }
    Ok(applied)
}
