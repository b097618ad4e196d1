//! The group-commit writer lanes on PostgreSQL under faults: commands that share a batch with
//! one failing in the database keep their answers and their effects, whatever their place in
//! the batch, and the lanes keep going; and batches whose transactions, begun before they
//! arrived, the server ended meanwhile still run.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use time::OffsetDateTime;
use voucherd_domain::{Currency, VoucherStatus};
use voucherd_store::command::NewVoucher;
use voucherd_store::conformance::{T0, create_group, group_names};
use voucherd_store::{
    Actor, Command, CommandContext, CommandRequest, Execution, Outcome, Store, StoreError,
};
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

fn till_request(command: Command) -> CommandRequest {
    CommandRequest {
        context: CommandContext {
            tenant_id: "default".into(),
            actor: Actor::Client("till-1".into()),
            request_id: "early-transactions".into(),
            now: T0,
        },
        command,
        idempotency: None,
    }
}

/// The sessions of this database that are idle in a transaction: the lanes' early ones.
const IDLE_IN_TRANSACTION: &str = "FROM pg_stat_activity WHERE datname = current_database() \
     AND state = 'idle in transaction'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_run_when_the_server_ended_the_transactions_begun_for_them() {
    let Some(url) = fresh_database_url().await else {
        return;
    };
    // Early transactions that stay usable for an hour: each batch below runs on one begun
    // before the server ended it, whatever the pace of this test.
    let group_commit = voucherd_store::sql::GroupCommit {
        begin_early: Some(Duration::from_secs(3_600)),
        ..voucherd_store_postgres::GROUP_COMMIT
    };
    let lanes = group_commit.lanes;
    let store = voucherd_store_postgres::open_with(&url, group_commit)
        .await
        .expect("open");
    store.bootstrap(T0).await.expect("bootstrap");
    let eur = Currency::parse("EUR").expect("EUR");
    let new = NewVoucher {
        code: Some("EARLY-1".into()),
        ..NewVoucher::digital(100_000, eur, VoucherStatus::Active)
    };
    let created = store
        .execute(till_request(Command::CreateVoucher(new)))
        .await;
    assert!(
        matches!(created, Ok(Execution::Done(Ok(Outcome::Voucher(_))))),
        "{created:?}"
    );

    // Every lane waits for its next batch in a transaction of its own; the server ends them
    // all, as a restart would.
    let mut side = PgConnection::connect(&url).await.expect("side connection");
    let count = format!("SELECT count(*) {IDLE_IN_TRANSACTION}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(&count)
            .fetch_one(&mut side)
            .await
            .expect("count the lanes' transactions");
        if usize::try_from(waiting).is_ok_and(|n| n == lanes) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{waiting} of {lanes} lanes began their next transaction"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ended: Vec<bool> = sqlx::query_scalar(&format!(
        "SELECT pg_terminate_backend(pid) {IDLE_IN_TRANSACTION}"
    ))
    .fetch_all(&mut side)
    .await
    .expect("end the lanes' transactions");
    assert_eq!(ended, vec![true; lanes]);

    // One command after another, so that each lane gets one: an engine command and one that
    // runs alone behind its savepoint, in turn.
    for n in 0..2 * lanes {
        let answer = if n % 2 == 0 {
            let reserve = Command::Reserve {
                code: "EARLY-1".into(),
                pin: None,
                amount_minor: 100,
                currency: eur,
            };
            store.execute(till_request(reserve)).await
        } else {
            store.execute(create_group(n)).await
        };
        assert!(
            matches!(answer, Ok(Execution::Done(Ok(_)))),
            "command {n}: {answer:?}"
        );
    }
}

/// Whether another transaction holds the row lock of the voucher with this code.
async fn voucher_locked(side: &mut PgConnection, code: &str) -> bool {
    let mut probe = side.begin().await.expect("begin the probe");
    let taken = sqlx::query("SELECT pk FROM vouchers WHERE code = $1 FOR UPDATE NOWAIT")
        .bind(code)
        .fetch_optional(&mut *probe)
        .await;
    probe.rollback().await.expect("end the probe");
    match taken {
        Ok(_) => false,
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => true,
        Err(e) => panic!("probe the lock of {code}: {e}"),
    }
}

/// Waits until a lane holds the row lock of the voucher with this code.
async fn wait_until_locked(side: &mut PgConnection, code: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !voucher_locked(side, code).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no lane locked {code}: the lane before it kept the queue"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_hands_on_the_queue_once_its_batch_holds_its_vouchers() {
    let Some(url) = fresh_database_url().await else {
        return;
    };
    let store = Arc::new(voucherd_store_postgres::open(&url).await.expect("open"));
    store.bootstrap(T0).await.expect("bootstrap");
    let eur = Currency::parse("EUR").expect("EUR");
    for code in ["HANDS-ON-1", "HANDS-ON-2"] {
        let new = NewVoucher {
            code: Some(code.into()),
            ..NewVoucher::digital(100_000, eur, VoucherStatus::Active)
        };
        let created = store
            .execute(till_request(Command::CreateVoucher(new)))
            .await;
        assert!(matches!(created, Ok(Execution::Done(Ok(_)))), "{created:?}");
    }
    // Every batch's write stops at the audit records until this transaction ends; reading
    // and locking vouchers does not.
    let mut blocker = PgConnection::connect(&url)
        .await
        .expect("blocking connection");
    sqlx::Executor::execute(&mut blocker, "BEGIN; LOCK TABLE audit_events IN SHARE MODE")
        .await
        .expect("hold the audit records");
    let mut side = PgConnection::connect(&url).await.expect("side connection");
    let mut reserves = Vec::new();
    for code in ["HANDS-ON-1", "HANDS-ON-2"] {
        let store = store.clone();
        let reserve = Command::Reserve {
            code: code.into(),
            pin: None,
            amount_minor: 100,
            currency: eur,
        };
        reserves.push(tokio::spawn(async move {
            store.execute(till_request(reserve)).await
        }));
        // The first reserve's lane waits at its write with its voucher locked; the second
        // reserve is taken by the next lane all the same.
        wait_until_locked(&mut side, code).await;
    }
    sqlx::Executor::execute(&mut blocker, "ROLLBACK")
        .await
        .expect("let the writes go");
    for reserve in reserves {
        let answer = reserve.await.expect("the task ran");
        assert!(
            matches!(answer, Ok(Execution::Done(Ok(Outcome::Reservation(_))))),
            "{answer:?}"
        );
    }
}
