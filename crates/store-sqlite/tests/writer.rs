//! The group-commit writer under faults: a full queue refuses at once and loses nothing, and a
//! command that fails in the database fails alone while the writer keeps going.

use std::sync::Arc;

use time::OffsetDateTime;
use voucherd_store::conformance::{create_group, group_names};
use voucherd_store::sql::GroupCommit;
use voucherd_store::{Store, StoreError};

fn fresh_path() -> std::path::PathBuf {
    std::env::temp_dir()
        .join(format!(
            "voucherd-writer-{}-{}",
            std::process::id(),
            voucherd_domain::secret::opaque_id()
        ))
        .join("ledger.db")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_write_queue_refuses_at_once_and_loses_nothing() {
    let path = fresh_path();
    let url = format!("sqlite://{}", path.display());
    // One lane that takes one command at a time, and room for one more in the queue.
    let tiny = GroupCommit {
        lanes: 1,
        batch_commands_max: 1,
        queue_commands_max: 1,
    };
    let store = Arc::new(
        voucherd_store_sqlite::open_with(&url, tiny)
            .await
            .expect("open SQLite"),
    );
    store
        .bootstrap(OffsetDateTime::now_utc())
        .await
        .expect("bootstrap");

    // Another connection holds the database's write lock, so the writer stalls at its first
    // command: at most one command is in the lane and one in the queue.
    let blocker = rusqlite::Connection::open(&path).expect("open blocker");
    blocker
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let submitted = 3;
    let (answers, mut answered) = tokio::sync::mpsc::unbounded_channel();
    for n in 0..submitted {
        let (store, answers) = (store.clone(), answers.clone());
        tokio::spawn(async move {
            let _ = answers.send(store.execute(create_group(n)).await);
        });
    }
    let mut results = Vec::new();
    // A refusal arrives while the writer is still stalled: it did not wait for the writer.
    while !results
        .iter()
        .any(|r| matches!(r, Err(StoreError::Overloaded)))
    {
        results.push(answered.recv().await.expect("an answer"));
    }
    blocker.execute_batch("ROLLBACK").expect("release the lock");
    while results.len() < submitted {
        results.push(answered.recv().await.expect("an answer"));
    }

    let accepted = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Overloaded)))
        .count();
    assert_eq!(accepted + refused, submitted, "{results:?}");
    assert!(
        accepted >= 1,
        "the writer went on after the lock was released"
    );
    assert_eq!(
        group_names(store.as_ref()).await.len(),
        accepted,
        "every accepted command, and only those, is in the ledger"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_failing_in_the_database_fails_alone_and_the_writer_goes_on() {
    let path = fresh_path();
    let url = format!("sqlite://{}", path.display());
    let store = Arc::new(
        voucherd_store_sqlite::open(&url)
            .await
            .expect("open SQLite"),
    );
    store
        .bootstrap(OffsetDateTime::now_utc())
        .await
        .expect("bootstrap");
    // A fault the ledger cannot foresee: the database itself refuses one particular row.
    let side = rusqlite::Connection::open(&path).expect("open side connection");
    side.execute_batch(
        "CREATE TRIGGER injected_fault BEFORE INSERT ON client_groups \
         WHEN NEW.name = 'group 3' BEGIN SELECT RAISE(ABORT, 'injected fault'); END;",
    )
    .expect("install the fault");
    // Hold the writer back so that the commands queue up and share batches.
    side.execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let submitted = 8;
    let mut tasks = Vec::new();
    for n in 0..submitted {
        let store = store.clone();
        tasks.push(tokio::spawn(
            async move { store.execute(create_group(n)).await },
        ));
    }
    for _ in 0..submitted {
        tokio::task::yield_now().await;
    }
    side.execute_batch("ROLLBACK").expect("release the lock");
    for (n, task) in tasks.into_iter().enumerate() {
        let answer = task.await.expect("the task ran");
        if n == 3 {
            assert!(
                matches!(answer, Err(StoreError::Other(ref m)) if m.contains("injected fault")),
                "{answer:?}"
            );
        } else {
            assert!(answer.is_ok(), "command {n}: {answer:?}");
        }
    }
    // The writer is still there.
    assert!(store.execute(create_group(100)).await.is_ok());
    let names = group_names(store.as_ref()).await;
    assert_eq!(names.len(), submitted, "{names:?}");
    assert!(!names.contains(&"group 3".to_string()));
}
