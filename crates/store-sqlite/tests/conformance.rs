//! The shared conformance suite on a fresh SQLite file per test.

use std::sync::Arc;

use voucherd_store::Store;

async fn open_fresh() -> Option<Arc<dyn Store>> {
    Some(open_sqlite().await)
}

async fn open_sqlite() -> Arc<voucherd_store_sqlite::SqliteStore> {
    open_sqlite_file().await.0
}

/// A store on a fresh file, and the file's path.
async fn open_sqlite_file() -> (Arc<voucherd_store_sqlite::SqliteStore>, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "voucherd-conformance-{}-{}",
        std::process::id(),
        voucherd_domain::secret::opaque_id()
    ));
    let path = dir.join("ledger.db");
    let url = format!("sqlite://{}", path.display());
    let store = voucherd_store_sqlite::open(&url)
        .await
        .expect("open SQLite");
    (Arc::new(store), path)
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
async fn a_batch_naming_one_voucher_many_ways_decides_on_one_copy() {
    voucherd_store::conformance::a_batch_naming_one_voucher_many_ways_decides_on_one_copy(
        open_sqlite().await,
    )
    .await;
}

/// SQLite answers `IN (subquery)`, `RETURNING` and a `CHECK (x IN (3 or more values))` from a
/// temporary b-tree that it builds and drops on every execution, which cost about a tenth of the
/// writer's work per payment. A payment batch's statements build none, but for the insert of
/// an entry, whose `kind` check does (changing a check means rebuilding the ledger's table).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_batches_build_no_temporary_btrees_but_for_the_entry_kind_check() {
    let (store, path) = open_sqlite_file().await;
    let statements = voucherd_store::conformance::payment_batch_statements(store).await;
    let explained = rusqlite::Connection::open(&path).expect("open the file");
    let mut building = Vec::new();
    for sql in &statements {
        let mut explain = explained
            .prepare(&format!("EXPLAIN {sql}"))
            .expect("explain the statement");
        // The plan does not depend on the values, so the parameters stay unbound.
        let mut rows = explain.raw_query();
        let mut opcodes = Vec::new();
        while let Some(row) = rows.next().expect("explained") {
            opcodes.push(row.get::<_, String>(1).expect("an opcode"));
        }
        if opcodes.iter().any(|op| op == "OpenEphemeral") {
            building.push(sql.as_str());
        }
    }
    assert!(
        statements.iter().any(|sql| sql.starts_with("SELECT v.pk")),
        "the vouchers' load is among the statements: {statements:#?}"
    );
    assert_eq!(
        building
            .iter()
            .map(|sql| sql.split(" (").next().unwrap_or(sql))
            .collect::<Vec<_>>(),
        vec!["INSERT INTO entries"],
        "{building:#?}"
    );
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
    let (store, path) = open_sqlite_file().await;
    let url = format!("sqlite://{}", path.display());
    voucherd_store::conformance::single_voucher_reservations_survive_the_upgrade_to_several(
        store,
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
