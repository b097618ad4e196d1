//! The group-commit writer under faults: a full queue refuses at once and loses nothing, and a
//! command that fails in the database fails alone while the writer keeps going.

use std::sync::Arc;

use time::OffsetDateTime;
use voucherd_domain::{Currency, VoucherStatus};
use voucherd_store::command::NewVoucher;
use voucherd_store::conformance::{create_group, group_names};
use voucherd_store::model::{DEFAULT_TENANT_ID, PageRequest, VoucherFilter};
use voucherd_store::sql::GroupCommit;
use voucherd_store::{
    Actor, Command, CommandContext, CommandRequest, Execution, Outcome, Store, StoreError,
};

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
        ..voucherd_store_sqlite::GROUP_COMMIT
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

/// A fresh store on a fresh file, bootstrapped; answers the file's path with it.
async fn fresh_store() -> (std::path::PathBuf, Arc<voucherd_store_sqlite::SqliteStore>) {
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
    (path, store)
}

/// Installs `fault` (a trigger, a fault the ledger cannot foresee: the database itself refuses
/// a row), then holds the writer back behind another connection's write lock while `commands`
/// queue up, so that they share batches; answers each command's answer, in order.
async fn queued_behind_a_fault(
    path: &std::path::Path,
    store: &Arc<voucherd_store_sqlite::SqliteStore>,
    fault: &str,
    commands: Vec<CommandRequest>,
) -> Vec<Result<Execution, StoreError>> {
    let side = rusqlite::Connection::open(path).expect("open side connection");
    side.execute_batch(fault).expect("install the fault");
    side.execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let count = commands.len();
    let mut tasks = Vec::new();
    for command in commands {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.execute(command).await }));
    }
    for _ in 0..count {
        tokio::task::yield_now().await;
    }
    side.execute_batch("ROLLBACK").expect("release the lock");
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("the task ran"));
    }
    answers
}

/// The fourth command (the one the fault is for) failed with the injected fault; every other
/// answered, and as `answered` expects.
fn only_the_fourth_failed(
    answers: Vec<Result<Execution, StoreError>>,
    answered: impl Fn(&Execution) -> bool,
) {
    for (n, answer) in answers.into_iter().enumerate() {
        if n == 3 {
            assert!(
                matches!(answer, Err(StoreError::Other(ref m)) if m.contains("injected fault")),
                "{answer:?}"
            );
        } else {
            assert!(
                answer.as_ref().is_ok_and(&answered),
                "command {n}: {answer:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_failing_in_the_database_fails_alone_and_the_writer_goes_on() {
    let (path, store) = fresh_store().await;
    let submitted = 8;
    let answers = queued_behind_a_fault(
        &path,
        &store,
        "CREATE TRIGGER injected_fault BEFORE INSERT ON client_groups \
         WHEN NEW.name = 'group 3' BEGIN SELECT RAISE(ABORT, 'injected fault'); END;",
        (0..submitted).map(create_group).collect(),
    )
    .await;
    only_the_fourth_failed(answers, |_| true);
    // The writer is still there.
    assert!(store.execute(create_group(100)).await.is_ok());
    let names = group_names(store.as_ref()).await;
    assert_eq!(names.len(), submitted, "{names:?}");
    assert!(!names.contains(&"group 3".to_string()));
}

fn as_till(command: Command) -> CommandRequest {
    CommandRequest {
        context: CommandContext {
            tenant_id: DEFAULT_TENANT_ID.into(),
            actor: Actor::Client("till".into()),
            request_id: "writer-test".into(),
            now: OffsetDateTime::now_utc(),
        },
        command,
        idempotency: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_batch_with_a_failing_command_answers_the_others_and_the_writer_goes_on() {
    let (path, store) = fresh_store().await;
    let eur = Currency::parse("EUR").expect("EUR");
    let mut charges = Vec::new();
    for n in 0..8 {
        let new = NewVoucher {
            code: Some(format!("ENGINE-{n}")),
            ..NewVoucher::digital(1_000, eur, VoucherStatus::Active)
        };
        store
            .execute(as_till(Command::CreateVoucher(new)))
            .await
            .expect("voucher created");
        let reserved = store
            .execute(as_till(Command::Reserve {
                code: format!("ENGINE-{n}"),
                pin: None,
                amount_minor: 300,
                currency: eur,
            }))
            .await;
        let Ok(Execution::Done(Ok(Outcome::Reservation(hold)))) = reserved else {
            panic!("reservation refused: {reserved:?}");
        };
        charges.push(as_till(Command::ChargeReservation {
            reservation_id: hold.id,
            order_number: format!("ORDER-{n}"),
        }));
    }
    // The database refuses the charge entry of one order number.
    let answers = queued_behind_a_fault(
        &path,
        &store,
        "CREATE TRIGGER injected_fault BEFORE INSERT ON entries \
         WHEN NEW.order_number = 'ORDER-3' BEGIN SELECT RAISE(ABORT, 'injected fault'); END;",
        charges,
    )
    .await;
    only_the_fourth_failed(answers, |execution| {
        matches!(execution, Execution::Done(Ok(Outcome::Charge { .. })))
    });
    let now = OffsetDateTime::now_utc();
    for n in 0..8 {
        let voucher = store
            .vouchers(
                DEFAULT_TENANT_ID,
                &VoucherFilter {
                    code: Some(format!("ENGINE-{n}")),
                    ..VoucherFilter::default()
                },
                PageRequest {
                    page: 1,
                    per_page: 10,
                },
                now,
            )
            .await
            .expect("list")
            .items
            .remove(0);
        let expected = if n == 3 { (1_000, 300) } else { (700, 0) };
        assert_eq!(
            (voucher.remaining_minor, voucher.held_minor),
            expected,
            "{n}"
        );
    }
    // The writer is still there, and the ledger is whole.
    assert!(store.execute(create_group(100)).await.is_ok());
    let report = store
        .integrity(DEFAULT_TENANT_ID, now)
        .await
        .expect("integrity");
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}
