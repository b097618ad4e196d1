//! Table upkeep for servers whose autovacuum is off: voucherd analyses and vacuums its own
//! tables, with autovacuum's own thresholds, so that the planner keeps fresh statistics and
//! dead row versions are cleared.
//!
//! Without statistics, PostgreSQL may keep a generic plan for a prepared statement that was
//! made while the tables were empty. An ANALYZE replaces it (it invalidates the plans of the
//! table), so with upkeep running every statement can use the cached plans sqlx prepares once
//! per connection instead of being planned again at every execution, which cost nearly half of
//! the database's CPU time under load. Only one node works at a time (an advisory lock); the
//! others skip the round. This module never touches a table outside the current schema.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection as _, Row as _};
use voucherd_store::StoreError;

use super::map_error;

/// How often the tables are looked at.
pub(crate) const UPKEEP_INTERVAL_SECONDS: u64 = 10;
/// Keeps the nodes' upkeep rounds apart: the key of the session advisory lock a round holds.
pub const UPKEEP_LOCK_KEY: i64 = 7_413_902_212;

/// The tables of the current schema that are due, by autovacuum's rules and the server's own
/// `autovacuum_*` thresholds: `vacuum` after enough dead or newly inserted rows (the latter
/// unless the insert threshold is -1, which disables it), `analyze` after enough changed rows
/// since the last ANALYZE.
const DUE_TABLES: &str = "\
    SELECT relname, \
      n_dead_tup > current_setting('autovacuum_vacuum_threshold')::float8 \
          + current_setting('autovacuum_vacuum_scale_factor')::float8 * n_live_tup \
        OR current_setting('autovacuum_vacuum_insert_threshold')::float8 >= 0 \
          AND n_ins_since_vacuum > current_setting('autovacuum_vacuum_insert_threshold')::float8 \
          + current_setting('autovacuum_vacuum_insert_scale_factor')::float8 * n_live_tup \
        AS vacuum, \
      n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float8 \
          + current_setting('autovacuum_analyze_scale_factor')::float8 * n_live_tup \
        AS analyze \
    FROM pg_stat_user_tables WHERE schemaname = current_schema() ORDER BY relname";

/// What one round did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UpkeepReport {
    /// Tables vacuumed (and analysed with it).
    pub vacuumed: Vec<String>,
    /// Tables only analysed.
    pub analyzed: Vec<String>,
    /// Another node held the upkeep lock, so this one did nothing.
    pub skipped: bool,
}

/// Runs upkeep rounds every [`UPKEEP_INTERVAL_SECONDS`] until the task is aborted. A failed
/// round is logged and the next one tries again.
pub(crate) async fn run_upkeep(options: PgConnectOptions) {
    let mut ticks = tokio::time::interval(Duration::from_secs(UPKEEP_INTERVAL_SECONDS));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match upkeep_round(&options).await {
            Ok(report) if !report.vacuumed.is_empty() || !report.analyzed.is_empty() => {
                tracing::debug!(
                    vacuumed = ?report.vacuumed,
                    analyzed = ?report.analyzed,
                    "table upkeep"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "table upkeep failed; trying again later"),
        }
    }
}

/// Vacuums and analyses the tables that are due, unless another node is at it.
///
/// VACUUM cannot run inside a transaction, so the round holds a session lock, on a connection
/// of its own rather than a pooled one: however the round ends, even aborted halfway, the
/// connection closes and the lock goes with it.
pub async fn upkeep_round(options: &PgConnectOptions) -> Result<UpkeepReport, StoreError> {
    let mut conn = PgConnection::connect_with(options)
        .await
        .map_err(map_error)?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(UPKEEP_LOCK_KEY)
        .fetch_one(&mut conn)
        .await
        .map_err(map_error)?;
    let report = if locked {
        // A large table may take longer than the statement timeout of the pool's connections.
        match sqlx::Executor::execute(&mut conn, "SET statement_timeout = 0").await {
            Ok(_) => upkeep_due_tables(&mut conn).await,
            Err(error) => Err(map_error(error)),
        }
    } else {
        Ok(UpkeepReport {
            skipped: true,
            ..UpkeepReport::default()
        })
    };
    // Closing ends the session, which releases the lock.
    let _ = conn.close().await;
    report
}

async fn upkeep_due_tables(conn: &mut PgConnection) -> Result<UpkeepReport, StoreError> {
    let due = sqlx::query(DUE_TABLES)
        .fetch_all(&mut *conn)
        .await
        .map_err(map_error)?;
    let mut report = UpkeepReport::default();
    for row in due {
        let table: String = row.try_get("relname").map_err(map_error)?;
        let vacuum: bool = row.try_get("vacuum").map_err(map_error)?;
        let analyze: bool = row.try_get("analyze").map_err(map_error)?;
        let sql = if vacuum {
            format!("VACUUM (ANALYZE) {}", quoted_identifier(&table))
        } else if analyze {
            format!("ANALYZE {}", quoted_identifier(&table))
        } else {
            continue;
        };
        sqlx::Executor::execute(&mut *conn, sql.as_str())
            .await
            .map_err(map_error)?;
        if vacuum {
            report.vacuumed.push(table);
        } else {
            report.analyzed.push(table);
        }
    }
    Ok(report)
}

/// `name` as a PostgreSQL identifier in double quotes.
fn quoted_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::quoted_identifier;

    #[test]
    fn identifiers_are_quoted_with_inner_quotes_doubled() {
        assert_eq!(quoted_identifier("holds"), "\"holds\"");
        assert_eq!(quoted_identifier("a\"b"), "\"a\"\"b\"");
    }
}
