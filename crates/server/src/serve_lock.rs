//! One `voucherd serve` per SQLite file. SQLite lets two processes open one file, but two
//! services on it would each run a writer and a checkpointer of their own and take turns
//! failing with "database is locked". A serving process holds an exclusive lock on
//! `<database>.serve.lock` (with its process id in it) for as long as it runs; a second one
//! stops at start naming the first. The lock ends with the process, however it ends; the file
//! stays. PostgreSQL takes any number of nodes and needs no lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};

/// Held while the process serves.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
}

/// Takes the serving lock of an SQLite database; `None` for PostgreSQL.
pub fn claim(database_url: &str) -> anyhow::Result<Option<ServeLock>> {
    if !database_url.starts_with("sqlite:") {
        return Ok(None);
    }
    let database = voucherd_store_sqlite::database_path(database_url)?;
    if let Some(folder) = database.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create the folder {}", folder.display()))?;
    }
    let mut name = database.clone().into_os_string();
    name.push(".serve.lock");
    let lock = PathBuf::from(name);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock)
        .with_context(|| format!("cannot open {}", lock.display()))?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            writeln!(file, "{}", std::process::id())?;
            Ok(Some(ServeLock { _file: file }))
        }
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            bail!(
                "{} is already served by process {} (it holds {}): stop that one first, or \
                 give this one another database",
                database.display(),
                holder.trim(),
                lock.display()
            )
        }
        Err(TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {}", lock.display()))
        }
    }
}
