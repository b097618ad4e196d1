//! The group-commit writer lanes on PostgreSQL under a fault: commands that share a batch with
//! one failing in the database keep their answers and their effects, whatever their place in
//! the batch, and the lanes keep going.

use std::sync::Arc;

use sqlx::{Connection, PgConnection};
use time::OffsetDateTime;
use voucherd_store::conformance::{create_group, group_names};
use voucherd_store::{Store, StoreError};
use voucherd_store_postgres::testing::fresh_database_url;

/// More commands than the lanes take at once (4 lanes × 16), so most share a batch.
const SUBMITTED: usize = 96;

/// Every fifth command, from the fourth on, meets the injected fault.
fn faulty(n: usize) -> bool {
    n % 5 == 3
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_sharing_a_batch_with_a_failing_one_keep_their_answers_and_effects() {
    let Some(url) = fresh_database_url().await else {
        return;
    };
    let store = Arc::new(voucherd_store_postgres::open(&url).await.expect("open"));
    store
        .bootstrap(OffsetDateTime::now_utc())
        .await
        .expect("bootstrap");
    let mut side = PgConnection::connect(&url).await.expect("side connection");
    // A fault the ledger cannot foresee: the database itself refuses some rows, after the
    // command has written them.
    sqlx::Executor::execute(
        &mut side,
        "CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN RAISE EXCEPTION 'injected fault'; END $$; \
         CREATE TRIGGER injected_fault AFTER INSERT ON client_groups FOR EACH ROW \
         WHEN (substr(NEW.name, 7)::int % 5 = 3) EXECUTE FUNCTION injected_fault();",
    )
    .await
    .expect("install the fault");
    // Hold the lanes back so that the commands queue up and share batches.
    sqlx::Executor::execute(
        &mut side,
        "BEGIN; LOCK TABLE client_groups IN EXCLUSIVE MODE",
    )
    .await
    .expect("lock the table");
    let mut tasks = Vec::new();
    for n in 0..SUBMITTED {
        let store = store.clone();
        tasks.push(tokio::spawn(
            async move { store.execute(create_group(n)).await },
        ));
    }
    for _ in 0..SUBMITTED {
        tokio::task::yield_now().await;
    }
    sqlx::Executor::execute(&mut side, "ROLLBACK")
        .await
        .expect("release the lock");
    for (n, task) in tasks.into_iter().enumerate() {
        let answer = task.await.expect("the task ran");
        if faulty(n) {
            assert!(
                matches!(answer, Err(StoreError::Other(ref m)) if m.contains("injected fault")),
                "command {n}: {answer:?}"
            );
        } else {
            assert!(answer.is_ok(), "command {n}: {answer:?}");
        }
    }
    // The lanes are still there.
    assert!(store.execute(create_group(1_000)).await.is_ok());
    let mut expected: Vec<String> = (0..SUBMITTED)
        .filter(|n| !faulty(*n))
        .chain([1_000])
        .map(|n| format!("group {n}"))
        .collect();
    expected.sort();
    assert_eq!(group_names(store.as_ref()).await, expected);
}
