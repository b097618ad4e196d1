//! WAL checkpoints off the writer's path. SQLite's own automatic checkpoint runs inside the
//! commit that crosses its threshold, so every few batches one commit also copied a thousand
//! pages into the database file and flushed it while every waiting command waited with it.
//! Here the writer connection never checkpoints; a thread of its own copies what the WAL holds
//! into the database file every [`CHECKPOINT_INTERVAL_MILLISECONDS`], on a connection of its
//! own, while the writer goes on committing.
//!
//! Those passes alone would never let the WAL start over: under steady writes there are always
//! frames newer than the last pass when the next transaction begins, and SQLite rewinds the WAL
//! only when a write begins with every frame copied. So once the WAL holds
//! [`WAL_RESTART_FRAMES`], one pass runs while it holds the writer connection: it copies only
//! what came since the previous pass, and the writer's next transaction rewinds the WAL. Must
//! not: change what a commit makes durable (the WAL is flushed by every commit, before this
//! copies anything), or hold the writer longer than that one short pass.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use voucherd_store::StoreError;

use crate::connection::{SharedWriter, map_error};

/// How often the checkpointer copies the WAL into the database file.
pub const CHECKPOINT_INTERVAL_MILLISECONDS: u64 = 50;
/// WAL frames (pages) past which the next pass makes the WAL start over: 4 096 pages of 4 KiB.
pub const WAL_RESTART_FRAMES: i64 = 4_096;
/// A pass that keeps failing (a full disk, say) is logged at most this often.
const FAILURE_LOG_INTERVAL_SECONDS: u64 = 60;

/// What one checkpoint pass found, from `PRAGMA wal_checkpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Frames in the WAL.
    pub wal_frames: i64,
    /// Frames of those now copied into the database file.
    pub copied_frames: i64,
}

/// The checkpoint thread; it stops when this is dropped.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The checkpointer's own connection to the database, and the writer it pauses to restart.
pub struct CheckpointConnection {
    connection: rusqlite::Connection,
    writer: SharedWriter,
    restart_frames: i64,
}

impl CheckpointConnection {
    /// Opens a connection to the database at `path` (which the writer has created).
    pub fn open(
        path: &Path,
        writer: SharedWriter,
        restart_frames: i64,
    ) -> Result<CheckpointConnection, StoreError> {
        let connection = rusqlite::Connection::open(path).map_err(map_error)?;
        // A checkpoint flushes the database file after copying, as the writer's settings say.
        connection
            .execute_batch("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;")
            .map_err(map_error)?;
        Ok(CheckpointConnection {
            connection,
            writer,
            restart_frames,
        })
    }

    /// Copies what the WAL holds into the database file without waiting for anyone; when the
    /// WAL has grown past the restart size, copies the rest again while holding the writer, so
    /// that its next transaction rewinds the WAL. Runs on a thread that is not an async worker.
    pub fn pass(&self) -> Result<Pass, StoreError> {
        let pass = self.checkpoint()?;
        if pass.wal_frames < self.restart_frames {
            return Ok(pass);
        }
        let _writer = self.writer.blocking_lock();
        self.checkpoint()
    }

    fn checkpoint(&self) -> Result<Pass, StoreError> {
        self.connection
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok(Pass {
                    wal_frames: row.get(1)?,
                    copied_frames: row.get(2)?,
                })
            })
            .map_err(map_error)
    }
}

/// Starts the checkpoint thread for the database at `path`.
pub fn spawn(path: &Path, writer: SharedWriter) -> Result<Checkpointer, StoreError> {
    let connection = CheckpointConnection::open(path, writer, WAL_RESTART_FRAMES)?;
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let shown = path.to_path_buf();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let mut logged: Option<Instant> = None;
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(CHECKPOINT_INTERVAL_MILLISECONDS));
                if let Err(error) = connection.pass() {
                    // The WAL keeps every commit meanwhile; the next pass tries again.
                    let quiet = Duration::from_secs(FAILURE_LOG_INTERVAL_SECONDS);
                    if logged.is_none_or(|at| at.elapsed() >= quiet) {
                        tracing::warn!(database = %shown.display(), %error, "WAL checkpoint failed");
                        logged = Some(Instant::now());
                    }
                }
            }
        })
        .map_err(|e| StoreError::Other(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(Checkpointer { stop })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::connection::{fresh_test_path as fresh_path, open_writer};

    /// The WAL file's length: it grows while frames are appended and keeps its length when the
    /// WAL starts over (new frames overwrite it from the start).
    fn wal_bytes(path: &Path) -> u64 {
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        std::fs::metadata(wal).expect("the WAL file").len()
    }

    fn write_transactions(writer: &SharedWriter, count: usize) {
        let conn = writer.blocking_lock();
        for i in 0..count {
            conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
            conn.execute("INSERT INTO t (a) VALUES (?1)", [format!("{i:04096}")])
                .expect("insert");
            conn.execute_batch("COMMIT").expect("commit");
        }
    }

    #[test]
    fn the_writer_connection_never_checkpoints_by_itself() {
        let writer = open_writer(&fresh_path()).expect("open the writer");
        let threshold: i64 = writer
            .blocking_lock()
            .query_row("PRAGMA wal_autocheckpoint", [], |row| row.get(0))
            .expect("read wal_autocheckpoint");
        assert_eq!(threshold, 0);
    }

    /// A fresh database whose writer has made the table [`write_transactions`] writes to.
    fn writer_with_table() -> (PathBuf, SharedWriter) {
        let path = fresh_path();
        let writer = open_writer(&path).expect("open the writer");
        writer
            .blocking_lock()
            .execute_batch("CREATE TABLE t (a TEXT)")
            .expect("create the table");
        (path, writer)
    }

    #[test]
    fn a_pass_past_the_restart_size_copies_the_wal_and_the_next_write_rewinds_it() {
        let (path, writer) = writer_with_table();
        let restart_frames = 32;
        let checkpointer = CheckpointConnection::open(&path, writer.clone(), restart_frames)
            .expect("open the checkpointer");

        write_transactions(&writer, 40);
        let filled = wal_bytes(&path);
        let pass = checkpointer.pass().expect("a pass");
        assert!(pass.wal_frames >= restart_frames, "{pass:?}");
        assert_eq!(pass.copied_frames, pass.wal_frames, "everything is copied");

        // The next transaction starts the WAL over: its frames go at the start of the file.
        write_transactions(&writer, 1);
        assert_eq!(wal_bytes(&path), filled, "the WAL did not start over");
        let after = checkpointer.checkpoint().expect("read the WAL");
        assert!(after.wal_frames < 8, "{after:?}");
    }

    #[test]
    fn without_passes_the_wal_only_grows() {
        let (path, writer) = writer_with_table();
        write_transactions(&writer, 40);
        let filled = wal_bytes(&path);
        write_transactions(&writer, 1);
        assert!(wal_bytes(&path) > filled);
    }
}
