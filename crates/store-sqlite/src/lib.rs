//! The embedded default store: one SQLite file, no setup.
//!
//! Durability and ordering: WAL journal, `synchronous=FULL` (a commit is on disk before it is
//! acknowledged), and one writer connection whose transactions start with `BEGIN IMMEDIATE`, so
//! commands on one voucher are strictly serialised. Commands are group-committed: one writer,
//! on a thread of its own, runs every waiting command in one transaction and answers them after
//! the single commit. A pool of reader connections sees committed
//! snapshots. This crate owns only the connection, the dialect's binding and error mapping,
//! and the migrations; the ledger itself is the shared SQL of `voucherd-store`.

use std::path::{Path, PathBuf};

use voucherd_store::StoreError;

mod checkpointer;
mod connection;
mod readers;
use checkpointer::Checkpointer;
use connection::{
    Access, ReadKind, SharedWriter, SqliteTx, map_error, open_connection, open_writer,
};
use readers::ReaderPool;
use voucherd_store::sql::{
    Backend, Dialect, GroupCommit, Migration, QUEUE_COMMANDS_MAX, SqlStore, migrate,
};

/// Reader connections; WAL lets them read while the writer writes.
const READ_CONNECTIONS_MAX: usize = 8;
/// Commands one commit takes at most.
const BATCH_COMMANDS_MAX: usize = 512;

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
];

/// The SQLite [`Backend`].
pub struct SqliteBackend {
    writer: SharedWriter,
    readers: ReaderPool,
    /// Copies the WAL into the database file; stops when the backend is dropped.
    _checkpointer: Checkpointer,
}

/// The store on SQLite.
pub type SqliteStore = SqlStore<SqliteBackend>;

/// How the SQLite store group-commits: one lane (one writer) on a thread of its own, since
/// its statements run in place; large batches.
pub const GROUP_COMMIT: GroupCommit = GroupCommit {
    lanes: 1,
    batch_commands_max: BATCH_COMMANDS_MAX,
    queue_commands_max: QUEUE_COMMANDS_MAX,
    lane_threads: true,
    // Its write transaction holds the write lock from the start.
    begin_early: None,
};

/// Opens (creating the file and its folder if needed) and migrates the database at `url`
/// (`sqlite://path/to/file.db`).
pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
    open_with(url, GROUP_COMMIT).await
}

/// Writes a consistent copy of the database at `url` to the new file `to`, while the service
/// keeps running (SQLite's `VACUUM INTO` reads one snapshot; writers are not held up). The copy
/// is a complete database: serve it, or put it in place of the original, to restore.
pub async fn backup(url: &str, to: &Path) -> Result<(), StoreError> {
    if to.exists() {
        return Err(StoreError::Other(format!(
            "{} exists; a backup never overwrites a file",
            to.display()
        )));
    }
    let path = database_path(url)?;
    if !path.exists() {
        return Err(StoreError::Other(format!(
            "no database at {}",
            path.display()
        )));
    }
    let target = to
        .to_str()
        .ok_or_else(|| StoreError::Other("the backup path must be UTF-8".into()))?
        .to_string();
    // The copy reads the whole database: a thread of its own, not an async worker.
    tokio::task::spawn_blocking(move || {
        let connection = open_connection(&path, Access::Read)?;
        connection
            .execute("VACUUM INTO ?1", [target])
            .map(|_| ())
            .map_err(map_error)
    })
    .await
    .map_err(|e| StoreError::Other(format!("the backup stopped: {e}")))?
}

/// The file a `sqlite://path/to/file.db` (or `sqlite:path/to/file.db`) URL names.
pub fn database_path(url: &str) -> Result<PathBuf, StoreError> {
    let invalid = |why: &str| StoreError::Other(format!("invalid SQLite URL {url:?}: {why}"));
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| invalid("it must start with sqlite://"))?;
    if path.is_empty() {
        return Err(invalid("it names no file"));
    }
    if path.contains('?') {
        return Err(invalid("options after ? are not supported"));
    }
    if path == ":memory:" {
        return Err(invalid(
            "an in-memory database would lose every acknowledged write",
        ));
    }
    Ok(PathBuf::from(path))
}

/// Like [`open`], with another group-commit configuration (tests use a tiny queue).
pub async fn open_with(url: &str, group_commit: GroupCommit) -> Result<SqliteStore, StoreError> {
    let path = database_path(url)?;
    if let Some(folder) = path.parent()
        && !folder.as_os_str().is_empty()
    {
        std::fs::create_dir_all(folder)
            .map_err(|e| StoreError::Other(format!("cannot create {}: {e}", folder.display())))?;
    }
    // The writer creates the file; the readers open what it created.
    let writer = open_writer(&path)?;
    let readers = ReaderPool::open(&path, READ_CONNECTIONS_MAX)?;
    let checkpointer = checkpointer::spawn(&path, writer.clone())?;
    let backend = SqliteBackend {
        writer,
        readers,
        _checkpointer: checkpointer,
    };
    migrate(&backend, MIGRATIONS, "").await?;
    // One writer connection: group commit turns one fsync per command into one per batch.
    // One process writes this file: its own commits are the only ones to wake the feed for.
    let event_signal = std::sync::Arc::new(tokio::sync::Notify::new());
    SqlStore::with_group_commit(backend, group_commit, event_signal)
}

impl Backend for SqliteBackend {
    type Tx = SqliteTx;

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn begin_write(&self) -> Result<SqliteTx, StoreError> {
        SqliteTx::begin_write(&self.writer).await
    }

    async fn begin_read(&self) -> Result<SqliteTx, StoreError> {
        SqliteTx::begin_read(&self.readers, ReadKind::Snapshot).await
    }

    async fn begin_single(&self) -> Result<SqliteTx, StoreError> {
        SqliteTx::begin_read(&self.readers, ReadKind::Single).await
    }

    async fn begin_scan(&self) -> Result<SqliteTx, StoreError> {
        SqliteTx::begin_read(&self.readers, ReadKind::Scan).await
    }

    async fn commit(tx: SqliteTx) -> Result<(), StoreError> {
        tx.commit()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut tx = self.begin_read().await?;
        voucherd_store::sql::SqlExec::fetch(&mut tx, "SELECT 1", Vec::new()).await?;
        tx.commit()
    }
}
