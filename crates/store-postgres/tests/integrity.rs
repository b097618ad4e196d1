//! Holds and entries carry no foreign keys on PostgreSQL (migration 11): the integrity check is
//! what finds one whose voucher or hold is not its tenant's. The broken rows are written here
//! by hand, as nothing voucherd runs writes them.

use std::sync::Arc;

use sqlx::{Connection, PgConnection};
use voucherd_domain::{Currency, VoucherStatus};
use voucherd_store::command::NewVoucher;
use voucherd_store::conformance::T0;
use voucherd_store::{
    Actor, Command, CommandContext, CommandRequest, CommandResult, Execution, Outcome, Store,
};
use voucherd_store_postgres::testing::fresh_database_url;

const TENANT: &str = "default";

async fn run(store: &Arc<dyn Store>, command: Command) -> CommandResult {
    let request = CommandRequest {
        context: CommandContext {
            tenant_id: TENANT.into(),
            actor: Actor::Client("till-1".into()),
            request_id: "integrity".into(),
            now: T0,
        },
        command,
        idempotency: None,
    };
    match store.execute(request).await.expect("the store answers") {
        Execution::Done(result) => result,
        other => panic!("no idempotency key was sent, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_integrity_check_names_holds_and_entries_whose_references_do_not_resolve() {
    let Some(url) = fresh_database_url().await else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(
        voucherd_store_postgres::open(&url)
            .await
            .expect("open PostgreSQL"),
    );
    store.bootstrap(T0).await.expect("bootstrap");
    let eur = Currency::parse("EUR").expect("EUR");
    let new = NewVoucher {
        code: Some("REFS".into()),
        ..NewVoucher::digital(10_000, eur, VoucherStatus::Active)
    };
    let Ok(Outcome::Voucher(voucher)) = run(&store, Command::CreateVoucher(new)).await else {
        panic!("voucher not created");
    };
    let reserve = Command::Reserve {
        code: "REFS".into(),
        pin: None,
        amount_minor: 2_500,
        currency: eur,
    };
    let Ok(Outcome::Reservation(hold)) = run(&store, reserve).await else {
        panic!("reservation refused");
    };
    let charge = Command::ChargeReservation {
        reservation_id: hold.id,
        order_number: "R-1".into(),
    };
    assert!(matches!(
        run(&store, charge).await,
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
                voucher.id,
                "references_resolve",
                "entry E-HOLDLESS: its hold is not one of its tenant's".to_string()
            ),
        ]
    );
}
