//! The embedded default store: one SQLite file, no setup.
//!
//! Durability and ordering: WAL journal, `synchronous=FULL` (a commit is on disk before it is
//! acknowledged), and one writer connection whose transactions start with `BEGIN IMMEDIATE`, so
//! commands on one voucher are strictly serialised. Commands are group-committed: one writer
//! task runs every waiting command in one transaction (each behind its own savepoint) and
//! answers them after the single commit. A pool of reader connections sees committed
//! snapshots. This crate owns only the connection, the dialect's binding and error mapping,
//! and the migrations; the ledger itself is the shared SQL of `voucherd-store`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Column, Row as _, Sqlite, Transaction, TypeInfo, ValueRef};
use voucherd_store::StoreError;

mod writer_conn;
use voucherd_store::sql::{
    Backend, Dialect, GroupCommit, Migration, QUEUE_COMMANDS_MAX, Row, SqlExec, SqlStore, Value,
    migrate,
};
use writer_conn::{SharedWriter, WriteTx};

/// How long a connection waits for a lock held by another process before giving up.
const BUSY_TIMEOUT_SECONDS: u64 = 5;
/// Reader connections; WAL lets them read while the writer writes.
const READ_CONNECTIONS_MAX: u32 = 8;
/// Commands one commit takes at most.
const BATCH_COMMANDS_MAX: usize = 512;
/// How long a request waits for a pooled connection.
const ACQUIRE_TIMEOUT_SECONDS: u64 = 10;

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
];

/// The SQLite [`Backend`].
pub struct SqliteBackend {
    writer: SharedWriter,
    readers: SqlitePool,
}

/// The store on SQLite.
pub type SqliteStore = SqlStore<SqliteBackend>;

/// How the SQLite store group-commits: one lane (one writer), large batches.
pub const GROUP_COMMIT: GroupCommit = GroupCommit {
    lanes: 1,
    batch_commands_max: BATCH_COMMANDS_MAX,
    queue_commands_max: QUEUE_COMMANDS_MAX,
};

/// Opens (creating the file and its folder if needed) and migrates the database at `url`
/// (`sqlite://path/to/file.db`).
pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
    open_with(url, GROUP_COMMIT).await
}

/// Writes a consistent copy of the database at `url` to the new file `to`, while the service
/// keeps running (SQLite's `VACUUM INTO` reads one snapshot; writers are not held up). The copy
/// is a complete database: serve it, or put it in place of the original, to restore.
pub async fn backup(url: &str, to: &std::path::Path) -> Result<(), StoreError> {
    use sqlx::ConnectOptions;
    if to.exists() {
        return Err(StoreError::Other(format!(
            "{} exists; a backup never overwrites a file",
            to.display()
        )));
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Other(format!("invalid SQLite URL: {e}")))?
        .busy_timeout(Duration::from_secs(BUSY_TIMEOUT_SECONDS))
        .read_only(true);
    if !options.get_filename().exists() {
        return Err(StoreError::Other(format!(
            "no database at {}",
            options.get_filename().display()
        )));
    }
    let mut connection = options.connect().await.map_err(map_error)?;
    let target = to
        .to_str()
        .ok_or_else(|| StoreError::Other("the backup path must be UTF-8".into()))?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut connection)
        .await
        .map_err(map_error)?;
    Ok(())
}

/// Like [`open`], with another group-commit configuration (tests use a tiny queue).
pub async fn open_with(url: &str, group_commit: GroupCommit) -> Result<SqliteStore, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Other(format!("invalid SQLite URL: {e}")))?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(BUSY_TIMEOUT_SECONDS))
        .read_only(true);
    let path = options.get_filename().to_path_buf();
    if let Some(folder) = path.parent()
        && !folder.as_os_str().is_empty()
    {
        std::fs::create_dir_all(folder)
            .map_err(|e| StoreError::Other(format!("cannot create {}: {e}", folder.display())))?;
    }
    // The writer creates the file; the readers open what it created.
    let writer = writer_conn::open(&path)?;
    let readers = SqlitePoolOptions::new()
        .max_connections(READ_CONNECTIONS_MAX)
        .acquire_timeout(Duration::from_secs(ACQUIRE_TIMEOUT_SECONDS))
        .connect_with(options)
        .await
        .map_err(map_error)?;
    let backend = SqliteBackend { writer, readers };
    migrate(&backend, MIGRATIONS, "").await?;
    // One writer connection: group commit turns one fsync per command into one per batch.
    Ok(SqlStore::with_group_commit(backend, group_commit))
}

/// An open SQLite transaction: the writer's, or a reader's snapshot.
pub enum SqliteTx {
    Write(WriteTx),
    Read(Transaction<'static, Sqlite>),
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    params: Vec<Value>,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    for param in params {
        query = match param {
            Value::Null => query.bind(None::<String>),
            Value::NullInt => query.bind(None::<i64>),
            Value::Int(v) => query.bind(v),
            Value::Text(v) => query.bind(v),
            Value::Bool(v) => query.bind(v),
        };
    }
    query
}

fn decode_row(row: &sqlx::sqlite::SqliteRow) -> Result<Row, StoreError> {
    let mut values = Vec::with_capacity(row.columns().len());
    for column in row.columns() {
        let i = column.ordinal();
        let raw = row.try_get_raw(i).map_err(map_error)?;
        let value = if raw.is_null() {
            Value::Null
        } else {
            match raw.type_info().name() {
                "INTEGER" | "BOOLEAN" => Value::Int(row.try_get::<i64, _>(i).map_err(map_error)?),
                "TEXT" => Value::Text(row.try_get::<String, _>(i).map_err(map_error)?),
                other => return Err(StoreError::Other(format!("unexpected SQLite type {other}"))),
            }
        };
        values.push(value);
    }
    Ok(Row(values))
}

impl SqlExec for SqliteTx {
    async fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        match self {
            SqliteTx::Write(tx) => tx.execute(sql, params).await,
            SqliteTx::Read(tx) => {
                let done = bind_all(sqlx::query(sql), params)
                    .execute(&mut **tx)
                    .await
                    .map_err(map_error)?;
                Ok(done.rows_affected())
            }
        }
    }

    async fn fetch(&mut self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        match self {
            SqliteTx::Write(tx) => tx.fetch(sql, params).await,
            SqliteTx::Read(tx) => {
                let rows = bind_all(sqlx::query(sql), params)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(map_error)?;
                rows.iter().map(decode_row).collect()
            }
        }
    }

    async fn execute_script(&mut self, sql: &str) -> Result<(), StoreError> {
        match self {
            SqliteTx::Write(tx) => tx.execute_script(sql).await,
            SqliteTx::Read(_) => Err(StoreError::Other(
                "scripts run in write transactions".into(),
            )),
        }
    }
}

impl Backend for SqliteBackend {
    type Tx = SqliteTx;

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn begin_write(&self) -> Result<SqliteTx, StoreError> {
        WriteTx::begin(&self.writer).await.map(SqliteTx::Write)
    }

    async fn begin_read(&self) -> Result<SqliteTx, StoreError> {
        self.readers
            .begin()
            .await
            .map(SqliteTx::Read)
            .map_err(map_error)
    }

    async fn commit(tx: SqliteTx) -> Result<(), StoreError> {
        match tx {
            SqliteTx::Write(tx) => tx.commit(),
            SqliteTx::Read(tx) => tx.commit().await.map_err(map_error),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.readers)
            .await
            .map(|_| ())
            .map_err(map_error)
    }
}

/// SQLite's result codes for a lock held elsewhere: BUSY, LOCKED and their extended forms.
const BUSY_CODES: [&str; 5] = ["5", "6", "261", "262", "517"];

fn map_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                StoreError::Conflict(db.message().to_string())
            } else if db
                .code()
                .is_some_and(|code| BUSY_CODES.contains(&code.as_ref()))
            {
                StoreError::Retryable(db.message().to_string())
            } else {
                StoreError::Other(error.to_string())
            }
        }
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            StoreError::Unavailable(error.to_string())
        }
        _ => StoreError::Other(error.to_string()),
    }
}
