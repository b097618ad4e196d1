//! The SQLite store's read connections: a fixed set opened read-only next to the writer's,
//! each lent to one read transaction at a time. WAL lets them read committed snapshots while
//! the writer writes. A caller that finds every connection lent waits, at most
//! [`ACQUIRE_TIMEOUT_SECONDS`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};
use voucherd_store::StoreError;

use crate::connection::{Access, open_connection};

/// How long a read waits for a connection before the store reports itself unavailable.
pub const ACQUIRE_TIMEOUT_SECONDS: u64 = 10;

/// The read connections, and a permit for each so that waiting for a free one is fair.
pub struct ReaderPool {
    connections: Vec<Arc<Mutex<rusqlite::Connection>>>,
    permits: Arc<Semaphore>,
}

/// One read connection, lent until dropped.
pub struct ReaderLease {
    pub connection: OwnedMutexGuard<rusqlite::Connection>,
    /// Released after the connection (fields drop in order), so a permit always finds one.
    _permit: OwnedSemaphorePermit,
}

impl ReaderPool {
    /// Opens `count` read-only connections to the database at `path`, which must exist.
    pub fn open(path: &Path, count: usize) -> Result<ReaderPool, StoreError> {
        let connections = (0..count)
            .map(|_| open_connection(path, Access::Read).map(|c| Arc::new(Mutex::new(c))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ReaderPool {
            connections,
            permits: Arc::new(Semaphore::new(count)),
        })
    }

    /// Lends a connection, waiting for one to come back if all are lent.
    pub async fn acquire(&self) -> Result<ReaderLease, StoreError> {
        let wait = self.permits.clone().acquire_owned();
        let permit = tokio::time::timeout(Duration::from_secs(ACQUIRE_TIMEOUT_SECONDS), wait)
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "no SQLite read connection came free within {ACQUIRE_TIMEOUT_SECONDS} s"
                ))
            })?
            .map_err(|_| {
                StoreError::Unavailable("the SQLite read connections are closed".into())
            })?;
        // Leases hold at most as many connections as there are permits, and give the
        // connection back before the permit, so a permit holder always finds one unlocked.
        let connection = self
            .connections
            .iter()
            .find_map(|connection| connection.clone().try_lock_owned().ok())
            .ok_or_else(|| StoreError::Other("a read permit found no free connection".into()))?;
        Ok(ReaderLease {
            connection,
            _permit: permit,
        })
    }
}
