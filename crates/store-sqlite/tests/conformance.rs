//! The shared conformance suite on a fresh SQLite file per test.

use std::sync::Arc;

use voucherd_store::Store;

async fn open_fresh() -> Option<Arc<dyn Store>> {
    let dir = std::env::temp_dir().join(format!(
        "voucherd-conformance-{}-{}",
        std::process::id(),
        voucherd_domain::secret::opaque_id()
    ));
    let url = format!("sqlite://{}/ledger.db", dir.display());
    Some(Arc::new(
        voucherd_store_sqlite::open(&url)
            .await
            .expect("open SQLite"),
    ))
}

voucherd_store::conformance_tests!(open_fresh());
