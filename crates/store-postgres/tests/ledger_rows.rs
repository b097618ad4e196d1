//! The ledger's rows on PostgreSQL. Holds and entries carry no foreign keys (migration 11): the
//! integrity check is what finds one whose voucher or hold is not its tenant's (the broken rows
//! are written here by hand, as nothing voucherd runs writes them). An engine batch finds its
//! rows by key even with plans made while its tables were empty. And new holds take keys drawn
//! ahead a block at a time.

use std::sync::Arc;

use sqlx::{Connection, PgConnection};
use voucherd_domain::{Currency, VoucherStatus};
use voucherd_store::command::NewVoucher;
use voucherd_store::conformance::T0;
use voucherd_store::{
    Actor, Command, CommandContext, CommandRequest, CommandResult, Execution, Outcome, Store,
};
use voucherd_store_postgres::PgStore;
use voucherd_store_postgres::testing::fresh_database_url;

const TENANT: &str = "default";

fn request(command: Command) -> CommandRequest {
    CommandRequest {
        context: CommandContext {
            tenant_id: TENANT.into(),
            actor: Actor::Client("till-1".into()),
            request_id: "ledger-rows".into(),
            now: T0,
        },
        command,
        idempotency: None,
    }
}

async fn run(store: &PgStore, command: Command) -> CommandResult {
    match store
        .execute(request(command))
        .await
        .expect("the store answers")
    {
        Execution::Done(result) => result,
        other => panic!("no idempotency key was sent, got {other:?}"),
    }
}

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

/// A fresh store with one active voucher of 100.00, coded `code`; its id.
async fn store_with_voucher(url: &str, code: &str) -> (Arc<PgStore>, String) {
    let store = Arc::new(
        voucherd_store_postgres::open(url)
            .await
            .expect("open PostgreSQL"),
    );
    store.bootstrap(T0).await.expect("bootstrap");
    let new = NewVoucher {
        code: Some(code.into()),
        ..NewVoucher::digital(10_000, eur(), VoucherStatus::Active)
    };
    let Ok(Outcome::Voucher(voucher)) = run(&store, Command::CreateVoucher(new)).await else {
        panic!("voucher not created");
    };
    (store, voucher.id)
}

fn reserve(code: &str) -> Command {
    Command::Reserve {
        code: code.into(),
        pin: None,
        amount_minor: 2_500,
        currency: eur(),
    }
}

async fn reservation(store: &PgStore, code: &str) -> String {
    let Ok(Outcome::Reservation(hold)) = run(store, reserve(code)).await else {
        panic!("reservation refused");
    };
    hold.id
}

fn charge(reservation_id: String) -> Command {
    Command::ChargeReservation {
        reservation_id,
        order_number: "R-1".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_integrity_check_names_holds_and_entries_whose_references_do_not_resolve() {
    let Some(url) = fresh_database_url().await else {
        return;
    };
    let (store, voucher_id) = store_with_voucher(&url, "REFS").await;
    let hold = reservation(&store, "REFS").await;
    assert!(matches!(
        run(&store, charge(hold)).await,
        Ok(Outcome::Charge { .. })
    ));
    let clean = store.integrity(TENANT, T0).await.expect("check");
    assert!(clean.violations.is_empty(), "{:?}", clean.violations);

    let mut conn = PgConnection::connect(&url).await.expect("connect");
    let script = "INSERT INTO holds (tenant_id, id, voucher_pk, purpose, amount_minor, currency, \
         state, expires_at, created_at, updated_at) \
         VALUES ('default', 'H-ORPHAN', 999999, 'jtl', 100, 'EUR', 'released', 0, 0, 0); \
         INSERT INTO entries (tenant_id, id, voucher_pk, kind, amount_minor, currency, hold_pk, \
         created_at) \
         SELECT 'default', 'E-HOLDLESS', pk, 'charge', 0, 'EUR', 999999, 0 FROM vouchers \
         WHERE code = 'REFS';";
    sqlx::Executor::execute(&mut conn, script)
        .await
        .expect("rows without foreign keys go in");
    conn.close().await.expect("close");

    let report = store.integrity(TENANT, T0).await.expect("check");
    let mut found: Vec<(String, &str, String)> = report
        .violations
        .iter()
        .map(|v| (v.voucher_id.clone(), v.rule, v.detail.clone()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            (
                String::new(),
                "references_resolve",
                "hold H-ORPHAN: its voucher is not one of its tenant's".to_string()
            ),
            (
                voucher_id,
                "references_resolve",
                "entry E-HOLDLESS: its hold is not one of its tenant's".to_string()
            ),
        ]
    );
}

/// The plans PostgreSQL makes for `statements` as generic plans on a fresh database, after the
/// first of them (the engine's plan settings) has run in the same transaction.
async fn generic_plans(url: &str, statements: &[String]) -> Vec<String> {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    sqlx::Executor::execute(&mut conn, "BEGIN")
        .await
        .expect("begin");
    let (settings, rest) = statements.split_first().expect("statements");
    assert!(settings.contains("set_config"), "{settings}");
    sqlx::Executor::execute(&mut conn, settings.as_str())
        .await
        .expect("settings");
    let mut plans = Vec::new();
    for (n, statement) in rest.iter().enumerate() {
        let parameters = (1..)
            .take_while(|i| statement.contains(&format!("${i}")))
            .count();
        let prepare = format!("PREPARE p{n} AS {statement}");
        sqlx::Executor::execute(&mut conn, prepare.as_str())
            .await
            .expect("prepare");
        let nulls = vec!["NULL"; parameters].join(", ");
        let explain = format!("EXPLAIN (COSTS OFF) EXECUTE p{n}({nulls})");
        let lines: Vec<String> = sqlx::query_scalar(&explain)
            .fetch_all(&mut conn)
            .await
            .expect("explain");
        plans.push(format!("{statement}\n{}", lines.join("\n")));
    }
    plans
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_batches_find_their_rows_by_key_on_a_fresh_database() {
    let Some(url) = fresh_database_url().await else {
        return;
    };
    let (store, _) = store_with_voucher(&url, "KEYED").await;
    let (reserving, _) = store
        .engine_batch_statements(&[request(reserve("KEYED"))])
        .await
        .expect("reserve batch");
    let hold = reservation(&store, "KEYED").await;
    let (charging, _) = store
        .engine_batch_statements(&[request(charge(hold))])
        .await
        .expect("charge batch");
    for statements in [reserving, charging] {
        let plans = generic_plans(&url, &statements).await;
        assert!(
            plans
                .iter()
                .any(|plan| plan.contains("Index Scan using holds")),
            "the batch's statements never looked holds up: {plans:#?}"
        );
        for plan in plans {
            assert!(
                !plan.contains("Seq Scan on") && !plan.contains("Hash Join"),
                "a statement scans a table instead of finding its rows by key:\n{plan}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_holds_take_keys_drawn_ahead_a_block_at_a_time() {
    let Some(url) = fresh_database_url().await else {
        return;
    };
    let (store, _) = store_with_voucher(&url, "BLOCKS").await;
    for _ in 0..3 {
        // Each a batch of its own, each superseding the one before.
        reservation(&store, "BLOCKS").await;
    }
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    let keys: Vec<i64> = sqlx::query_scalar("SELECT pk FROM holds ORDER BY pk")
        .fetch_all(&mut conn)
        .await
        .expect("read the holds");
    assert_eq!(keys, [1, 2, 3]);
    // One draw served all three: the first batch's key and a block beyond it.
    let drawn: i64 = sqlx::query_scalar("SELECT last_value FROM holds_pk_seq")
        .fetch_one(&mut conn)
        .await
        .expect("read the sequence");
    let block = i64::try_from(voucherd_store::sql::BLOCK_KEYS).expect("a small block");
    assert_eq!(drawn, 1 + block);
    conn.close().await.expect("close");
}
