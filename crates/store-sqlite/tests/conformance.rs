//! The shared conformance suite on a fresh SQLite file per test.

use std::sync::Arc;

use voucherd_store::Store;

async fn open_fresh() -> Option<Arc<dyn Store>> {
    Some(open_sqlite().await)
}

async fn open_sqlite() -> Arc<voucherd_store_sqlite::SqliteStore> {
    let dir = std::env::temp_dir().join(format!(
        "voucherd-conformance-{}-{}",
        std::process::id(),
        voucherd_domain::secret::opaque_id()
    ));
    let url = format!("sqlite://{}/ledger.db", dir.display());
    Arc::new(
        voucherd_store_sqlite::open(&url)
            .await
            .expect("open SQLite"),
    )
}

voucherd_store::conformance_tests!(open_fresh());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_batches_run_the_same_statements_whatever_their_size() {
    voucherd_store::conformance::engine_batches_run_the_same_statements_whatever_their_size(
        open_sqlite().await,
        voucherd_store::sql::Dialect::Sqlite,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn front_batches_run_the_same_statements_whatever_their_size() {
    voucherd_store::conformance::front_batches_run_the_same_statements_whatever_their_size(
        open_sqlite().await,
        voucherd_store::sql::Dialect::Sqlite,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bleepay_batches_run_the_same_statements_whatever_their_size() {
    voucherd_store::conformance::bleepay_batches_run_the_same_statements_whatever_their_size(
        open_sqlite().await,
        voucherd_store::sql::Dialect::Sqlite,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_voucher_reservations_survive_the_upgrade_to_several() {
    let dir = std::env::temp_dir().join(format!(
        "voucherd-upgrade-{}-{}",
        std::process::id(),
        voucherd_domain::secret::opaque_id()
    ));
    let url = format!("sqlite://{}/ledger.db", dir.display());
    let store = voucherd_store_sqlite::open(&url)
        .await
        .expect("open SQLite");
    voucherd_store::conformance::single_voucher_reservations_survive_the_upgrade_to_several(
        Arc::new(store),
        || async move {
            let reopened = voucherd_store_sqlite::open(&url)
                .await
                .expect("open SQLite again");
            Arc::new(reopened) as Arc<dyn Store>
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_voucher_costs_a_fixed_number_of_statements() {
    voucherd_store::conformance::a_new_voucher_costs_a_fixed_number_of_statements(
        open_sqlite().await,
        voucherd_store::sql::Dialect::Sqlite,
    )
    .await;
}
