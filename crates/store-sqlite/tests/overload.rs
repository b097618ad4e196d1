//! A full write queue: commands beyond it are refused at once with `Overloaded`, never left
//! waiting, and the commands that were accepted all complete once the writer can go on.

use std::sync::Arc;

use time::OffsetDateTime;
use voucherd_store::sql::GroupCommit;
use voucherd_store::{
    Actor, Command, CommandContext, CommandRequest, Store, StoreError, model::DEFAULT_TENANT_ID,
};

fn create_group(n: usize) -> CommandRequest {
    CommandRequest {
        context: CommandContext {
            tenant_id: DEFAULT_TENANT_ID.into(),
            actor: Actor::System,
            request_id: format!("overload-{n}"),
            now: OffsetDateTime::now_utc(),
        },
        command: Command::CreateClientGroup {
            name: format!("group {n}"),
            scopes: Vec::new(),
        },
        idempotency: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_write_queue_refuses_at_once_and_loses_nothing() {
    let dir = std::env::temp_dir().join(format!(
        "voucherd-overload-{}-{}",
        std::process::id(),
        voucherd_domain::secret::opaque_id()
    ));
    let path = dir.join("ledger.db");
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
    let groups = store
        .client_groups(DEFAULT_TENANT_ID)
        .await
        .expect("list groups");
    assert_eq!(
        groups.len(),
        accepted,
        "every accepted command, and only those, is in the ledger"
    );
}
