//! The write side of the SQLite store: one connection, driven directly on the task that owns
//! the write transaction. Every statement is a call into SQLite in place, with no hand-off to
//! another thread per statement, which is what bounds a single writer; only the commit, which
//! waits for the disk, is moved off the async worker.

use std::sync::Arc;

use rusqlite::types::{Value as SqlValue, ValueRef};
use tokio::sync::{Mutex, OwnedMutexGuard};
use voucherd_store::StoreError;
use voucherd_store::sql::{Row, SqlExec, Value};

/// Statements kept prepared on the writer connection.
const STATEMENT_CACHE_CAPACITY: usize = 256;
/// How long the writer waits for a lock another process holds, in milliseconds.
const BUSY_TIMEOUT_MILLISECONDS: u32 = 5_000;

/// The writer connection, shared by everything that writes.
pub type SharedWriter = Arc<Mutex<rusqlite::Connection>>;

/// Opens the writer connection with the durability settings voucherd relies on.
/// `temp_store = MEMORY` keeps the savepoints' sub-journal (each command runs behind one, and
/// every page it changes is copied there first) in memory instead of a temporary file: a
/// fifth of the writer's time per command went to writing that file.
pub fn open(path: &std::path::Path) -> Result<SharedWriter, StoreError> {
    let conn = rusqlite::Connection::open(path).map_err(map_error)?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = {BUSY_TIMEOUT_MILLISECONDS}; PRAGMA temp_store = MEMORY;"
    ))
    .map_err(map_error)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    Ok(Arc::new(Mutex::new(conn)))
}

/// An open write transaction (`BEGIN IMMEDIATE`); dropped without commit, it rolls back.
pub struct WriteTx {
    conn: OwnedMutexGuard<rusqlite::Connection>,
    open: bool,
}

impl WriteTx {
    pub async fn begin(writer: &SharedWriter) -> Result<WriteTx, StoreError> {
        let conn = writer.clone().lock_owned().await;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(map_error)?;
        Ok(WriteTx { conn, open: true })
    }

    /// Commits; the wait for the disk runs where it cannot stall other tasks.
    pub fn commit(mut self) -> Result<(), StoreError> {
        let commit = |conn: &rusqlite::Connection| conn.execute_batch("COMMIT").map_err(map_error);
        let result = match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                tokio::task::block_in_place(|| commit(&self.conn))
            }
            _ => commit(&self.conn),
        };
        self.open = result.is_err();
        result
    }

    fn prepare(
        &self,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<rusqlite::CachedStatement<'_>, StoreError> {
        let mut statement = self.conn.prepare_cached(sql).map_err(map_error)?;
        for index in 1..=statement.parameter_count() {
            // Parameters are written `$N`: bind the N-th value wherever `$N` stands.
            let number = statement
                .parameter_name(index)
                .and_then(|name| name.strip_prefix('$'))
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| StoreError::Other(format!("parameter {index} is not $N: {sql}")))?;
            let value = params
                .get(number - 1)
                .ok_or_else(|| StoreError::Other(format!("no value for ${number}: {sql}")))?;
            let bound = match value {
                Value::Null | Value::NullInt => SqlValue::Null,
                Value::Int(v) => SqlValue::Integer(*v),
                Value::Text(v) => SqlValue::Text(v.clone()),
                Value::Bool(v) => SqlValue::Integer(i64::from(*v)),
            };
            statement
                .raw_bind_parameter(index, bound)
                .map_err(map_error)?;
        }
        Ok(statement)
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
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

impl SqlExec for WriteTx {
    async fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        let mut statement = self.prepare(sql, params)?;
        let changed = statement.raw_execute().map_err(map_error)?;
        Ok(u64::try_from(changed).unwrap_or(0))
    }

    async fn fetch(&mut self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
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

    async fn execute_script(&mut self, sql: &str) -> Result<(), StoreError> {
        self.conn.execute_batch(sql).map_err(map_error)
    }
}

fn map_error(error: rusqlite::Error) -> StoreError {
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
