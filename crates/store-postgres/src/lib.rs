//! The scale-out store: PostgreSQL shared by several stateless voucherd nodes.
//!
//! Commands are group-committed by a few writer lanes per node, one loading its batch (its
//! vouchers locked) while the others decide and write theirs, append their events and wait for
//! their commits; each lane begins its next transaction before its turn ([`GROUP_COMMIT`]).
//! Each batch runs in one READ COMMITTED transaction that first locks every voucher the batch
//! changes, in primary-key order: the ledger engine's commands in its set-based load, the
//! others before they run, each behind a savepoint, locking the rows they change with `SELECT
//! ... FOR UPDATE`. Commands on one voucher are serialised across all nodes, and batches never
//! deadlock over vouchers. Serialization failures, deadlocks and lost uniqueness races surface
//! as retryable errors; the shared store runs such a command again, alone, a bounded number of
//! times. This crate owns only the connection, binding, error mapping, migrations and, when the
//! server's autovacuum is off, the upkeep of voucherd's tables (`upkeep`); the ledger is the
//! shared SQL of `voucherd-store`.

mod upkeep;

use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Column, Postgres, Row as _, Transaction, TypeInfo, ValueRef};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use upkeep::UPKEEP_INTERVAL_SECONDS;
pub use upkeep::{UPKEEP_LOCK_KEY, UpkeepReport, upkeep_round};
use voucherd_store::StoreError;
use voucherd_store::sql::events::EVENTS_CHANNEL;
use voucherd_store::sql::{
    Backend, Dialect, GroupCommit, Migration, QUEUE_COMMANDS_MAX, Row, SqlExec, SqlStore, Value,
    migrate,
};

/// Connections per node.
const CONNECTIONS_MAX: u32 = 24;
/// Writer lanes per node: each holds one connection while its batch runs and commits. One
/// lane at a time loads its batch while the others decide, write and wait for their commits,
/// so a batch takes whatever queued meanwhile (see the writer). Measured with 64 tills on one
/// node (2 cores), 2, 3 and 4 lanes of up to 48 commands were level, and again 3, 4 and 6 once
/// a lane handed the queue on after its loads.
const WRITER_LANES: usize = 4;
/// Commands per batch. With 64 tills the batches held about 31 commands; a cap of 16 cut `pos`
/// by a quarter. A command the engine does not decide keeps its savepoint, a subtransaction,
/// until the commit, so a batch stays under the 64 subtransactions a backend caches (beyond
/// them, every snapshot in the cluster has to look them up in `pg_subtrans`).
const BATCH_COMMANDS_MAX: usize = 48;
const _: () = assert!(BATCH_COMMANDS_MAX < 64);
/// How long a lane's transaction, begun before its batch arrives, may wait for it: past this
/// (the node was idle), a fresh one replaces it.
const EARLY_TRANSACTION_AGE_MAX: Duration = Duration::from_secs(1);

/// How the PostgreSQL store group-commits: a few lanes per node on the runtime's workers (they
/// wait on the network, not in place), each beginning its next transaction early (BEGIN and
/// the batch's plan settings, two round trips off the queue's path).
pub const GROUP_COMMIT: GroupCommit = GroupCommit {
    lanes: WRITER_LANES,
    batch_commands_max: BATCH_COMMANDS_MAX,
    queue_commands_max: QUEUE_COMMANDS_MAX,
    lane_threads: false,
    begin_early: Some(EARLY_TRANSACTION_AGE_MAX),
};
/// How long a pooled connection may sit idle before it is tested (pinged) when lent again.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);
/// How long a request waits for a pooled connection before the store reports it unavailable.
const ACQUIRE_TIMEOUT_SECONDS: u64 = 5;
/// A statement that runs longer than this is cancelled by the server.
const STATEMENT_TIMEOUT_MILLISECONDS: u64 = 10_000;
/// Keeps nodes that migrate at the same time apart (an arbitrary, fixed key).
const MIGRATION_LOCK: &str = "SELECT pg_advisory_xact_lock(7413902211)";

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "ledger",
        script: include_str!("../migrations/0001_ledger.sql"),
    },
    Migration {
        version: 2,
        name: "front",
        script: include_str!("../migrations/0002_front.sql"),
    },
    Migration {
        version: 3,
        name: "bleepay",
        script: include_str!("../migrations/0003_bleepay.sql"),
    },
    Migration {
        version: 4,
        name: "console",
        script: include_str!("../migrations/0004_console.sql"),
    },
    Migration {
        version: 5,
        name: "series",
        script: include_str!("../migrations/0005_series.sql"),
    },
    Migration {
        version: 6,
        name: "operations",
        script: include_str!("../migrations/0006_operations.sql"),
    },
    Migration {
        version: 7,
        name: "events",
        script: include_str!("../migrations/0007_events.sql"),
    },
    Migration {
        version: 8,
        name: "webhooks",
        script: include_str!("../migrations/0008_webhooks.sql"),
    },
    Migration {
        version: 9,
        name: "branding",
        script: include_str!("../migrations/0009_branding.sql"),
    },
    Migration {
        version: 10,
        name: "front_payers",
        script: include_str!("../migrations/0010_front_payers.sql"),
    },
    Migration {
        version: 11,
        name: "ledger_references",
        script: include_str!("../migrations/0011_ledger_references.sql"),
    },
];

/// The PostgreSQL [`Backend`].
pub struct PgBackend {
    pool: PgPool,
    /// Table upkeep, when the server's autovacuum is off; stops with the backend.
    upkeep: Option<JoinHandle<()>>,
    /// Listens for the events other nodes commit; stops with the backend.
    listener: JoinHandle<()>,
}

impl Drop for PgBackend {
    fn drop(&mut self) {
        self.listener.abort();
        if let Some(upkeep) = &self.upkeep {
            upkeep.abort();
        }
    }
}

/// The store on PostgreSQL.
pub type PgStore = SqlStore<PgBackend>;

/// Connects to and migrates the database at `url` (`postgres://user@host/db`).
pub async fn open(url: &str) -> Result<PgStore, StoreError> {
    open_with(url, GROUP_COMMIT).await
}

/// Like [`open`], with another group-commit configuration (tests hold early transactions
/// longer).
pub async fn open_with(url: &str, group_commit: GroupCommit) -> Result<PgStore, StoreError> {
    let options: PgConnectOptions = url
        .parse()
        .map_err(|e| StoreError::Other(format!("invalid PostgreSQL URL: {e}")))?;
    // The writer lanes wait for their next batch in a transaction begun early (see the
    // writer): a server-wide idle-in-transaction timeout must not end them.
    let options = options.options([
        (
            "statement_timeout",
            STATEMENT_TIMEOUT_MILLISECONDS.to_string(),
        ),
        ("idle_in_transaction_session_timeout", "0".to_string()),
    ]);
    let pool = connect(options.clone()).await?;
    let upkeep = if autovacuum_runs(&pool).await? {
        None
    } else {
        // Cached generic plans may be made while the tables are still empty, and only a fresh
        // ANALYZE replaces them: until then they may scan a whole index for what one unique
        // key would find. Without autovacuum, voucherd keeps its tables analysed itself.
        tracing::warn!(
            "autovacuum is off on this PostgreSQL server: voucherd vacuums and analyses its \
             own tables every {UPKEEP_INTERVAL_SECONDS} s; turn autovacuum on"
        );
        Some(tokio::spawn(upkeep::run_upkeep(options)))
    };
    let event_signal = Arc::new(Notify::new());
    let listener = tokio::spawn(listen_for_events(pool.clone(), event_signal.clone()));
    let backend = PgBackend {
        pool,
        upkeep,
        listener,
    };
    migrate(&backend, MIGRATIONS, MIGRATION_LOCK).await?;
    SqlStore::with_group_commit(backend, group_commit, event_signal)
}

/// Wakes `signal` whenever any node commits events: each commit with events notifies
/// [`EVENTS_CHANNEL`], delivered at the commit. The listener reconnects after a lost
/// connection; while it is away, waiters fall back to their own timeouts.
async fn listen_for_events(pool: PgPool, signal: Arc<Notify>) {
    loop {
        let listening = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener.listen(EVENTS_CHANNEL).await?;
            loop {
                listener.recv().await?;
                signal.notify_waiters();
            }
        };
        let stopped: Result<(), sqlx::Error> = listening.await;
        if let Err(error) = stopped {
            tracing::warn!(%error, "listening for other nodes' events failed; trying again");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Opens the pool, after one connection of its own: the pool reports a server it cannot reach
/// only as a timeout, while a single connection says why (refused, unknown host, no such
/// database, authentication), and the error names the server and database either way.
async fn connect(options: PgConnectOptions) -> Result<PgPool, StoreError> {
    let server = format!(
        "PostgreSQL at {}:{} (database {})",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("of the user's name")
    );
    let first = tokio::time::timeout(
        Duration::from_secs(ACQUIRE_TIMEOUT_SECONDS),
        <PgConnection as sqlx::Connection>::connect_with(&options),
    )
    .await;
    match first {
        Ok(Ok(connection)) => drop(connection),
        Ok(Err(cause)) => {
            return Err(StoreError::Unavailable(format!(
                "cannot connect to {server}: {cause}"
            )));
        }
        Err(_) => {
            return Err(StoreError::Unavailable(format!(
                "cannot connect to {server}: no answer within {ACQUIRE_TIMEOUT_SECONDS} s"
            )));
        }
    }
    PgPoolOptions::new()
        .max_connections(CONNECTIONS_MAX)
        .acquire_timeout(Duration::from_secs(ACQUIRE_TIMEOUT_SECONDS))
        // A connection is tested before it is lent only after it sat idle (when a restart of
        // the server may have ended it unnoticed); one in steady use is lent as it is. A test
        // on every loan cost each read and each writer batch a round trip of its own.
        .test_before_acquire(false)
        .before_acquire(|connection, metadata| {
            Box::pin(async move {
                if metadata.idle_for >= PING_AFTER_IDLE {
                    sqlx::Connection::ping(connection).await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await
        .map_err(map_error)
}

/// Answers whether the server keeps table statistics fresh on its own.
async fn autovacuum_runs(pool: &PgPool) -> Result<bool, StoreError> {
    let setting: String = sqlx::query_scalar("SELECT current_setting('autovacuum')")
        .fetch_one(pool)
        .await
        .map_err(map_error)?;
    Ok(setting == "on")
}

/// An open PostgreSQL transaction, or a connection lent for one statement.
pub enum PgTx {
    Transaction(Transaction<'static, Postgres>),
    /// A pooled connection outside any transaction, for one statement
    /// ([`Backend::begin_single`]); `ran` says whether it has run it.
    Single {
        connection: PoolConnection<Postgres>,
        ran: bool,
    },
}

impl PgTx {
    /// The connection the next statement runs on.
    fn connection(&mut self) -> Result<&mut PgConnection, StoreError> {
        match self {
            PgTx::Transaction(tx) => Ok(&mut **tx),
            PgTx::Single { connection, ran } => {
                if std::mem::replace(ran, true) {
                    return Err(StoreError::Other(
                        "a second statement on a single-statement read".into(),
                    ));
                }
                Ok(&mut **connection)
            }
        }
    }
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    params: Vec<Value>,
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    for param in params {
        query = match param {
            Value::Null => query.bind(None::<String>),
            Value::NullInt => query.bind(None::<i64>),
            Value::Int(v) => query.bind(v),
            Value::Text(v) => query.bind(v),
            Value::Bool(v) => query.bind(v),
            Value::Ints(v) => query.bind(v),
            Value::Texts(v) => query.bind(v),
        };
    }
    query
}

fn decode_row(row: &sqlx::postgres::PgRow) -> Result<Row, StoreError> {
    let mut values = Vec::with_capacity(row.columns().len());
    for column in row.columns() {
        let i = column.ordinal();
        let raw = row.try_get_raw(i).map_err(map_error)?;
        let value = if raw.is_null() {
            Value::Null
        } else {
            match column.type_info().name() {
                "INT8" => Value::Int(row.try_get::<i64, _>(i).map_err(map_error)?),
                "INT4" => Value::Int(i64::from(row.try_get::<i32, _>(i).map_err(map_error)?)),
                "BOOL" => Value::Bool(row.try_get::<bool, _>(i).map_err(map_error)?),
                "TEXT" | "VARCHAR" => Value::Text(row.try_get::<String, _>(i).map_err(map_error)?),
                other => {
                    return Err(StoreError::Other(format!(
                        "unexpected PostgreSQL type {other}"
                    )));
                }
            }
        };
        values.push(value);
    }
    Ok(Row(values))
}

impl SqlExec for PgTx {
    async fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        let done = bind_all(sqlx::query(sql), params)
            .execute(self.connection()?)
            .await
            .map_err(map_error)?;
        Ok(done.rows_affected())
    }

    async fn fetch(&mut self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        let rows = bind_all(sqlx::query(sql), params)
            .fetch_all(self.connection()?)
            .await
            .map_err(map_error)?;
        rows.iter().map(decode_row).collect()
    }

    async fn execute_script(&mut self, sql: &str) -> Result<(), StoreError> {
        // A plain string runs through the simple protocol, which accepts several statements.
        sqlx::Executor::execute(self.connection()?, sql)
            .await
            .map_err(map_error)?;
        Ok(())
    }
}

impl Backend for PgBackend {
    type Tx = PgTx;

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn begin_write(&self) -> Result<PgTx, StoreError> {
        self.pool
            .begin()
            .await
            .map(PgTx::Transaction)
            .map_err(map_error)
    }

    async fn begin_read(&self) -> Result<PgTx, StoreError> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map(PgTx::Transaction)
            .map_err(map_error)
    }

    async fn begin_single(&self) -> Result<PgTx, StoreError> {
        self.pool
            .acquire()
            .await
            .map(|connection| PgTx::Single {
                connection,
                ran: false,
            })
            .map_err(map_error)
    }

    async fn commit(tx: PgTx) -> Result<(), StoreError> {
        match tx {
            PgTx::Transaction(tx) => tx.commit().await.map_err(map_error),
            // Its one statement committed by itself; the connection goes back to the pool.
            PgTx::Single { .. } => Ok(()),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_error)
    }
}

/// serialization_failure and deadlock_detected: the transaction may simply be run again.
const RETRYABLE_CODES: [&str; 2] = ["40001", "40P01"];

fn map_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            if db.is_unique_violation() {
                StoreError::Conflict(db.message().to_string())
            } else if RETRYABLE_CODES.contains(&code.as_str()) {
                StoreError::Retryable(db.message().to_string())
            } else if code.starts_with("08") || code.starts_with("57P") {
                // connection exceptions; the server shutting down or restarting
                StoreError::Unavailable(db.message().to_string())
            } else {
                StoreError::Other(error.to_string())
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
        _ => StoreError::Other(error.to_string()),
    }
}

pub mod testing {
    //! Fresh, empty databases for tests, created on the server named by
    //! `VOUCHERD_TEST_DATABASE_URL` (any database of it, e.g. `postgres://postgres@127.0.0.1/postgres`).

    use sqlx::Connection;
    use sqlx::postgres::PgConnection;

    /// The variable that enables the PostgreSQL tests.
    pub const TEST_DATABASE_URL_VAR: &str = "VOUCHERD_TEST_DATABASE_URL";
    /// Databases made by earlier runs are dropped once they are this old.
    const STALE_AFTER_SECONDS: u64 = 3_600;
    const PREFIX: &str = "voucherd_t_";

    /// The URL of a new, empty database, or `None` (with the reason printed) when
    /// `VOUCHERD_TEST_DATABASE_URL` is not set. A set but unreachable server fails the test:
    /// PostgreSQL tests are never skipped because the server is down.
    pub async fn fresh_database_url() -> Option<String> {
        let Ok(base) = std::env::var(TEST_DATABASE_URL_VAR) else {
            // In CI the PostgreSQL half must run: a missing variable is a broken pipeline.
            assert!(
                std::env::var_os("CI").is_none(),
                "{TEST_DATABASE_URL_VAR} must be set in CI; PostgreSQL tests are never skipped there"
            );
            eprintln!("skipping PostgreSQL test: {TEST_DATABASE_URL_VAR} is not set");
            return None;
        };
        let mut admin = PgConnection::connect(&base).await.unwrap_or_else(|e| {
            panic!("{TEST_DATABASE_URL_VAR}={base} is set but PostgreSQL does not answer: {e}")
        });
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        drop_stale(&mut admin, now).await;
        let name = format!(
            "{PREFIX}{now}_{}",
            voucherd_domain::secret::random_string(b"abcdefghijklmnopqrstuvwxyz0123456789", 10)
        );
        sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let (head, _) = base.rsplit_once('/').unwrap_or((&base, ""));
        let head = head.to_string();
        Some(format!("{head}/{name}"))
    }

    async fn drop_stale(admin: &mut PgConnection, now: u64) {
        let names: Vec<(String,)> =
            sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'voucherd_t_%'")
                .fetch_all(&mut *admin)
                .await
                .unwrap_or_default();
        for (name,) in names {
            let created = name
                .trim_start_matches(PREFIX)
                .split('_')
                .next()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(now);
            if now.saturating_sub(created) > STALE_AFTER_SECONDS {
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let _ = sqlx::Executor::execute(&mut *admin, sql.as_str()).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_single_statement_read_refuses_a_second_statement() {
        let Some(url) = testing::fresh_database_url().await else {
            return;
        };
        let backend = PgBackend {
            pool: PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .expect("connect"),
            upkeep: None,
            listener: tokio::spawn(async {}),
        };
        let mut single = backend.begin_single().await.expect("lend a connection");
        let rows = single
            .fetch("SELECT 1::BIGINT", Vec::new())
            .await
            .expect("the first statement runs");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0, vec![Value::Int(1)]);
        let refused = single
            .fetch("SELECT 2::BIGINT", Vec::new())
            .await
            .expect_err("a second statement must be refused");
        assert!(
            refused.to_string().contains("single-statement"),
            "{refused}"
        );
        PgBackend::commit(single).await.expect("end the read");
        // The connection went back to the pool (it has one) and serves a transaction.
        let mut tx = backend
            .begin_read()
            .await
            .expect("the connection came back");
        tx.fetch("SELECT 1::BIGINT", Vec::new())
            .await
            .expect("read");
        tx.fetch("SELECT 2::BIGINT", Vec::new())
            .await
            .expect("read again");
        PgBackend::commit(tx).await.expect("commit");
    }
}
