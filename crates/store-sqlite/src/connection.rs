//! The SQLite store's connections and transactions. Every statement is a call into SQLite in
//! place, on the task that owns the transaction, with no hand-off to another thread per
//! statement (an async driver's thread hop per statement cost more than the statement: half
//! of a read request's CPU went to threads waking each other). The writer lane runs on a thread
//! of its own; a write begun on an async worker (an outbox's claim, say) moves only its commit,
//! which waits for the disk, off the worker. A read runs in place too (reads are
//! lookups and pages), but for a scan through much of the ledger (the integrity check, the
//! reports), whose statements run off the async worker.

use std::sync::Arc;

use rusqlite::OpenFlags;
use rusqlite::types::{Null, ValueRef};
use tokio::sync::{Mutex, OwnedMutexGuard};
use voucherd_store::StoreError;
use voucherd_store::sql::{Row, SqlExec, Value};

use crate::readers::{ReaderLease, ReaderPool};

/// Statements kept prepared per connection.
const STATEMENT_CACHE_CAPACITY: usize = 256;
/// How long a connection waits for a lock another process holds, in milliseconds.
const BUSY_TIMEOUT_MILLISECONDS: u32 = 5_000;

/// The writer connection, shared by everything that writes.
pub type SharedWriter = Arc<Mutex<rusqlite::Connection>>;

/// What a connection may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The one writer: creates the file, sets the journal mode, writes.
    Write,
    /// A reader: opened read-only, so nothing it runs can change the database.
    Read,
}

/// Opens a connection with the settings voucherd relies on. The writer's are the durability
/// settings (WAL, `synchronous = FULL`), no automatic checkpoints (the checkpointer's thread
/// copies the WAL into the database file), and `temp_store = MEMORY`, which keeps the savepoints'
/// sub-journal (each command runs behind one, and every page it changes is copied there
/// first) in memory instead of a temporary file: a fifth of the writer's time per command went
/// to writing that file. Readers keep their sorts in memory too.
pub fn open_connection(
    path: &std::path::Path,
    access: Access,
) -> Result<rusqlite::Connection, StoreError> {
    let conn = match access {
        Access::Write => {
            let conn = rusqlite::Connection::open(path).map_err(map_error)?;
            conn.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                 PRAGMA wal_autocheckpoint = 0;",
            )
            .map_err(map_error)?;
            conn
        }
        Access::Read => rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(map_error)?,
    };
    conn.execute_batch(&format!(
        "PRAGMA busy_timeout = {BUSY_TIMEOUT_MILLISECONDS}; PRAGMA temp_store = MEMORY;"
    ))
    .map_err(map_error)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    Ok(conn)
}

/// Opens the writer connection.
pub fn open_writer(path: &std::path::Path) -> Result<SharedWriter, StoreError> {
    open_connection(path, Access::Write).map(|conn| Arc::new(Mutex::new(conn)))
}

/// The connection a transaction runs on, and for a reader how the read runs.
enum Lease {
    Writer(OwnedMutexGuard<rusqlite::Connection>),
    Reader(ReaderLease, ReadKind),
}

/// How a read runs its statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    /// Several statements on one snapshot, in place.
    Snapshot,
    /// Several statements on one snapshot, off the async worker: a scan, which may take long.
    Scan,
    /// One statement, without a transaction around it (it sees one snapshot by itself).
    Single,
}

/// An open transaction: the writer's (`BEGIN IMMEDIATE`), or a reader's snapshot (`BEGIN`,
/// which takes its snapshot at the first read), or a reader lent for one statement. Dropped
/// without commit, a transaction rolls back.
pub struct SqliteTx {
    lease: Lease,
    /// Whether a statement has run: a single-statement read refuses a second.
    ran: bool,
    /// Whether a transaction is open, to roll back if dropped (never for a single statement).
    open: bool,
}

/// Runs `work` where a long wait cannot stall the other tasks of the calling async worker
/// (which hands them to another thread meanwhile). On the writer lane's own thread, whose
/// single-threaded runtime has no other tasks to stall, it runs in place.
fn off_worker<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

impl SqliteTx {
    pub async fn begin_write(writer: &SharedWriter) -> Result<SqliteTx, StoreError> {
        let conn = writer.clone().lock_owned().await;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(map_error)?;
        Ok(SqliteTx {
            lease: Lease::Writer(conn),
            ran: false,
            open: true,
        })
    }

    /// A read on a lent reader connection.
    pub async fn begin_read(readers: &ReaderPool, kind: ReadKind) -> Result<SqliteTx, StoreError> {
        let lease = readers.acquire().await?;
        let open = kind != ReadKind::Single;
        if open {
            lease.connection.execute_batch("BEGIN").map_err(map_error)?;
        }
        Ok(SqliteTx {
            lease: Lease::Reader(lease, kind),
            ran: false,
            open,
        })
    }

    /// Counts a statement, refusing a second one on a single-statement read.
    fn count_statement(&mut self) -> Result<(), StoreError> {
        if self.ran && matches!(self.lease, Lease::Reader(_, ReadKind::Single)) {
            return Err(StoreError::Other(
                "a second statement on a single-statement read".into(),
            ));
        }
        self.ran = true;
        Ok(())
    }

    /// Whether its statements run off the async worker: a scan's do, which may take long.
    fn runs_off_worker(&self) -> bool {
        matches!(self.lease, Lease::Reader(_, ReadKind::Scan))
    }

    fn conn(&self) -> &rusqlite::Connection {
        match &self.lease {
            Lease::Writer(conn) => conn,
            Lease::Reader(lease, _) => &lease.connection,
        }
    }

    /// Commits; the writer's wait for the disk runs where it cannot stall other tasks. A
    /// reader's commit only ends its snapshot.
    pub fn commit(mut self) -> Result<(), StoreError> {
        if !self.open {
            // A single-statement read: no transaction, its one statement ended by itself.
            return Ok(());
        }
        let commit = || self.conn().execute_batch("COMMIT").map_err(map_error);
        let result = match self.lease {
            Lease::Writer(_) => off_worker(commit),
            Lease::Reader(..) => commit(),
        };
        self.open = result.is_err();
        result
    }

    /// The statement, prepared (or taken from the cache), with `params` bound.
    fn prepare(
        &self,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<rusqlite::CachedStatement<'_>, StoreError> {
        let mut statement = self.conn().prepare_cached(sql).map_err(map_error)?;
        for index in 1..=statement.parameter_count() {
            let number = parameter_number(&statement, index, sql)?;
            bind_one(&mut statement, index, number, &params, sql)?;
        }
        Ok(statement)
    }

    fn execute_now(&self, sql: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        let mut statement = self.prepare(sql, params)?;
        let changed = statement.raw_execute().map_err(map_error)?;
        Ok(u64::try_from(changed).unwrap_or(0))
    }

    /// The statement prepared and its parameters read once, then bound and stepped per row.
    fn execute_each_now(&self, sql: &str, rows: Vec<Vec<Value>>) -> Result<u64, StoreError> {
        let mut statement = self.conn().prepare_cached(sql).map_err(map_error)?;
        let numbers = (1..=statement.parameter_count())
            .map(|index| parameter_number(&statement, index, sql))
            .collect::<Result<Vec<usize>, StoreError>>()?;
        let mut changed = 0;
        for params in &rows {
            for (offset, &number) in numbers.iter().enumerate() {
                bind_one(&mut statement, offset + 1, number, params, sql)?;
            }
            changed += statement.raw_execute().map_err(map_error)?;
        }
        Ok(u64::try_from(changed).unwrap_or(0))
    }

    fn fetch_now(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        let mut statement = self.prepare(sql, params)?;
        let columns = statement.column_count();
        let mut rows = statement.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(map_error)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(decode(row.get_ref(i).map_err(map_error)?)?);
            }
            out.push(Row(values));
        }
        Ok(out)
    }
}

/// The N of the statement's `index`-th parameter (in SQLite's order), written `$N`: the
/// position of its value among those given.
fn parameter_number(
    statement: &rusqlite::CachedStatement<'_>,
    index: usize,
    sql: &str,
) -> Result<usize, StoreError> {
    statement
        .parameter_name(index)
        .and_then(|name| name.strip_prefix('$'))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&number| number > 0)
        .ok_or_else(|| StoreError::Other(format!("parameter {index} is not $N: {sql}")))
}

/// Binds the N-th of `params` (`number`, from [`parameter_number`]) as the statement's
/// `index`-th parameter.
fn bind_one(
    statement: &mut rusqlite::CachedStatement<'_>,
    index: usize,
    number: usize,
    params: &[Value],
    sql: &str,
) -> Result<(), StoreError> {
    let value = params
        .get(number - 1)
        .ok_or_else(|| StoreError::Other(format!("no value for ${number}: {sql}")))?;
    let bound = match value {
        Value::Null | Value::NullInt => statement.raw_bind_parameter(index, Null),
        Value::Int(v) => statement.raw_bind_parameter(index, v),
        Value::Text(v) => statement.raw_bind_parameter(index, v.as_str()),
        Value::Bool(v) => statement.raw_bind_parameter(index, i64::from(*v)),
        array @ (Value::Ints(_) | Value::Texts(_)) => {
            statement.raw_bind_parameter(index, array.json_array().unwrap_or_default())
        }
    };
    bound.map_err(map_error)
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn().execute_batch("ROLLBACK");
        }
    }
}

fn decode(value: ValueRef<'_>) -> Result<Value, StoreError> {
    match value {
        ValueRef::Null => Ok(Value::Null),
        ValueRef::Integer(v) => Ok(Value::Int(v)),
        ValueRef::Text(bytes) => String::from_utf8(bytes.to_vec())
            .map(Value::Text)
            .map_err(|e| StoreError::Other(format!("stored text is not UTF-8: {e}"))),
        ValueRef::Real(_) | ValueRef::Blob(_) => {
            Err(StoreError::Other("unexpected SQLite value type".into()))
        }
    }
}

impl SqlExec for SqliteTx {
    async fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        self.count_statement()?;
        if self.runs_off_worker() {
            off_worker(|| self.execute_now(sql, params))
        } else {
            self.execute_now(sql, params)
        }
    }

    async fn execute_each(&mut self, sql: &str, rows: Vec<Vec<Value>>) -> Result<u64, StoreError> {
        self.count_statement()?;
        if self.runs_off_worker() {
            off_worker(|| self.execute_each_now(sql, rows))
        } else {
            self.execute_each_now(sql, rows)
        }
    }

    async fn fetch(&mut self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        self.count_statement()?;
        if self.runs_off_worker() {
            off_worker(|| self.fetch_now(sql, params))
        } else {
            self.fetch_now(sql, params)
        }
    }

    async fn execute_script(&mut self, sql: &str) -> Result<(), StoreError> {
        match self.lease {
            Lease::Writer(ref conn) => conn.execute_batch(sql).map_err(map_error),
            Lease::Reader(..) => Err(StoreError::Other(
                "scripts run in write transactions".into(),
            )),
        }
    }
}

pub fn map_error(error: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match &error {
        rusqlite::Error::SqliteFailure(failure, message) => {
            let text = message.clone().unwrap_or_else(|| failure.to_string());
            match failure.code {
                ErrorCode::ConstraintViolation
                    if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
                {
                    StoreError::Conflict(text)
                }
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Retryable(text),
                ErrorCode::CannotOpen | ErrorCode::SystemIoFailure | ErrorCode::DiskFull => {
                    StoreError::Unavailable(text)
                }
                _ => StoreError::Other(error.to_string()),
            }
        }
        _ => StoreError::Other(error.to_string()),
    }
}

/// A database path in a fresh folder of its own, for this crate's unit tests.
#[cfg(test)]
pub fn fresh_test_path() -> std::path::PathBuf {
    let folder = std::env::temp_dir().join(format!(
        "voucherd-sqlite-{}-{}",
        std::process::id(),
        voucherd_domain::secret::opaque_id()
    ));
    std::fs::create_dir_all(&folder).expect("create the folder");
    folder.join("ledger.db")
}

#[cfg(test)]
mod tests {
    use super::fresh_test_path as fresh_path;
    use super::*;

    #[tokio::test]
    async fn a_single_statement_read_refuses_a_second_statement() {
        let path = fresh_path();
        let _writer = open_writer(&path).expect("open the writer");
        let readers = ReaderPool::open(&path, 1).expect("open a reader");
        let mut single = SqliteTx::begin_read(&readers, ReadKind::Single)
            .await
            .expect("lend the reader");
        let rows = single
            .fetch("SELECT 1", Vec::new())
            .await
            .expect("one statement");
        assert_eq!(rows[0].0, vec![Value::Int(1)]);
        let refused = single
            .fetch("SELECT 2", Vec::new())
            .await
            .expect_err("a second statement must be refused");
        assert!(
            refused.to_string().contains("single-statement"),
            "{refused}"
        );
        single.commit().expect("end the read");
        // The reader came back and serves a snapshot of several statements.
        let mut snapshot = SqliteTx::begin_read(&readers, ReadKind::Snapshot)
            .await
            .expect("the reader came back");
        snapshot.fetch("SELECT 1", Vec::new()).await.expect("read");
        snapshot
            .fetch("SELECT 2", Vec::new())
            .await
            .expect("read again");
        snapshot.commit().expect("commit");
    }

    #[tokio::test]
    async fn one_statement_for_many_rows_binds_each_row_by_its_parameter_numbers() {
        let path = fresh_path();
        let writer = open_writer(&path).expect("open the writer");
        writer
            .lock()
            .await
            .execute_batch("CREATE TABLE t (a INTEGER, b TEXT, c TEXT)")
            .expect("create the table");
        let mut tx = SqliteTx::begin_write(&writer).await.expect("begin");
        // `$2` stands first, and `$1` twice: each row's values go where their numbers stand.
        let changed = tx
            .execute_each(
                "INSERT INTO t (b, a, c) VALUES ($2, $1, $1 || '-' || $2)",
                vec![
                    vec![Value::Int(1), Value::Text("one".into())],
                    vec![Value::Int(2), Value::Null],
                    vec![Value::Int(3), Value::Text("three".into())],
                ],
            )
            .await
            .expect("insert three rows");
        assert_eq!(changed, 3);
        let rows = tx
            .fetch("SELECT a, b, c FROM t ORDER BY a", Vec::new())
            .await
            .expect("read them");
        let text = |t: &str| Value::Text(t.into());
        assert_eq!(
            rows.into_iter().map(|row| row.0).collect::<Vec<_>>(),
            vec![
                vec![Value::Int(1), text("one"), text("1-one")],
                vec![Value::Int(2), Value::Null, Value::Null],
                vec![Value::Int(3), text("three"), text("3-three")],
            ]
        );
        let short = tx
            .execute_each(
                "INSERT INTO t (a, b) VALUES ($1, $2)",
                vec![vec![Value::Int(4)]],
            )
            .await
            .expect_err("a row without its $2 must be refused");
        assert!(short.to_string().contains("no value for $2"), "{short}");
        tx.commit().expect("commit");
    }

    #[test]
    fn a_reader_connection_cannot_write() {
        let path = fresh_path();
        let writer = open_connection(&path, Access::Write).expect("open the writer");
        writer
            .execute_batch("CREATE TABLE t (a INTEGER)")
            .expect("the writer writes");
        let reader = open_connection(&path, Access::Read).expect("open a reader");
        let refused = reader
            .execute_batch("INSERT INTO t (a) VALUES (1)")
            .expect_err("a reader must not write");
        assert!(refused.to_string().contains("readonly"), "{refused}");
        let count: i64 = reader
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .expect("the reader reads");
        assert_eq!(count, 0);
    }
}
