//! What a database backend provides to the shared SQL: transactions that run statements with
//! [`Value`] parameters and return [`Row`]s, and the dialect's few differences.

use std::future::Future;

use super::{Row, Value};
use crate::StoreError;

/// The SQL dialect differences the shared code must know about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// One writer at a time (`BEGIN IMMEDIATE`), so reads inside a write transaction are
    /// already serialised and need no row locks.
    Sqlite,
    /// Many writers; rows read for update are locked with `FOR UPDATE`.
    Postgres,
}

impl Dialect {
    /// The clause that locks the rows a write transaction reads before changing them.
    pub fn lock_clause(&self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// Like [`Dialect::lock_clause`], locking only the rows of the voucher table aliased `v`
    /// (a query that also reads other tables in joins or subqueries).
    pub fn voucher_lock_clause(&self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE OF v",
        }
    }

    /// Like [`Dialect::voucher_lock_clause`], locking the rows of the hold table aliased `h`
    /// too. Locked rows are read again as the transaction a lock waited for left them; a
    /// joined row that is not locked is not.
    pub fn voucher_and_hold_lock_clause(&self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE OF v, h",
        }
    }
}

/// An open transaction (or connection) that runs statements.
pub trait SqlExec: Send {
    /// Runs a statement and returns the number of rows it changed.
    fn execute(
        &mut self,
        sql: &str,
        params: Vec<Value>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Runs one statement once for each row of parameters, in order, and returns the number of
    /// rows they changed together. A backend whose statements run in place (SQLite) prepares
    /// and reads the statement's parameters once for all the rows.
    fn execute_each(
        &mut self,
        sql: &str,
        rows: Vec<Vec<Value>>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        async move {
            let mut changed = 0;
            for params in rows {
                changed += self.execute(sql, params).await?;
            }
            Ok(changed)
        }
    }

    /// Runs a query and returns all of its rows.
    fn fetch(
        &mut self,
        sql: &str,
        params: Vec<Value>,
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send;

    /// Runs a script of several statements without parameters (migrations).
    fn execute_script(&mut self, sql: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Runs a query that returns at most one row.
    fn fetch_optional(
        &mut self,
        sql: &str,
        params: Vec<Value>,
    ) -> impl Future<Output = Result<Option<Row>, StoreError>> + Send {
        async move { Ok(self.fetch(sql, params).await?.into_iter().next()) }
    }
}

/// A database the shared SQL can run on.
pub trait Backend: Send + Sync + 'static {
    /// A transaction; dropping it without [`Backend::commit`] rolls it back.
    type Tx: SqlExec;

    /// Which dialect the statements must be written in.
    fn dialect(&self) -> Dialect;

    /// Opens a transaction that will write. On SQLite this takes the write lock at once.
    fn begin_write(&self) -> impl Future<Output = Result<Self::Tx, StoreError>> + Send;

    /// Opens a transaction that only reads, for a consistent view across several queries.
    fn begin_read(&self) -> impl Future<Output = Result<Self::Tx, StoreError>> + Send;

    /// Like [`Backend::begin_read`], for a read of one statement, which sees one snapshot by
    /// itself: a backend may run it without a transaction around it (on PostgreSQL, one round
    /// trip instead of three). Such a backend refuses a second statement on it, rather than
    /// letting it read another snapshot, so a read given the wrong kind fails its tests.
    fn begin_single(&self) -> impl Future<Output = Result<Self::Tx, StoreError>> + Send {
        self.begin_read()
    }

    /// Like [`Backend::begin_read`], for reads that go through much of a tenant's ledger (the
    /// integrity check, reports). A backend that runs statements on the calling async worker
    /// moves these off it, so that one long read does not hold up the requests queued there.
    fn begin_scan(&self) -> impl Future<Output = Result<Self::Tx, StoreError>> + Send {
        self.begin_read()
    }

    /// Makes a transaction durable.
    fn commit(tx: Self::Tx) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Answers whether the database is reachable.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}
