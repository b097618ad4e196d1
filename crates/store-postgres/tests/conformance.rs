//! The shared conformance suite on a fresh PostgreSQL database per test.

use std::sync::Arc;

use voucherd_store::Store;
use voucherd_store_postgres::testing::fresh_database_url;

async fn open_fresh() -> Option<Arc<dyn Store>> {
    Some(open_postgres().await?)
}

/// A store on a fresh database; `None` where no PostgreSQL server is configured.
async fn open_postgres() -> Option<Arc<voucherd_store_postgres::PgStore>> {
    let url = fresh_database_url().await?;
    let store = voucherd_store_postgres::open(&url)
        .await
        .expect("open PostgreSQL");
    Some(Arc::new(store))
}

voucherd_store::conformance_tests!(open_fresh());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_naming_one_voucher_many_ways_decides_on_one_copy() {
    let Some(store) = open_postgres().await else {
        return;
    };
    voucherd_store::conformance::a_batch_naming_one_voucher_many_ways_decides_on_one_copy(store)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_batches_run_the_same_statements_whatever_their_size() {
    let Some(store) = open_postgres().await else {
        return;
    };
    voucherd_store::conformance::engine_batches_run_the_same_statements_whatever_their_size(
        store,
        voucherd_store::sql::Dialect::Postgres,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn front_batches_run_the_same_statements_whatever_their_size() {
    let Some(store) = open_postgres().await else {
        return;
    };
    voucherd_store::conformance::front_batches_run_the_same_statements_whatever_their_size(
        store,
        voucherd_store::sql::Dialect::Postgres,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bleepay_batches_run_the_same_statements_whatever_their_size() {
    let Some(store) = open_postgres().await else {
        return;
    };
    voucherd_store::conformance::bleepay_batches_run_the_same_statements_whatever_their_size(
        store,
        voucherd_store::sql::Dialect::Postgres,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_voucher_reservations_survive_the_upgrade_to_several() {
    let Some(url) = fresh_database_url().await else {
        return;
    };
    let store = voucherd_store_postgres::open(&url)
        .await
        .expect("open PostgreSQL");
    voucherd_store::conformance::single_voucher_reservations_survive_the_upgrade_to_several(
        Arc::new(store),
        || async move {
            let reopened = voucherd_store_postgres::open(&url)
                .await
                .expect("open PostgreSQL again");
            Arc::new(reopened) as Arc<dyn Store>
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_voucher_costs_a_fixed_number_of_statements() {
    let Some(store) = open_postgres().await else {
        return;
    };
    voucherd_store::conformance::a_new_voucher_costs_a_fixed_number_of_statements(
        store,
        voucherd_store::sql::Dialect::Postgres,
    )
    .await;
}
