//! The shared conformance suite on a fresh PostgreSQL database per test.

use std::sync::Arc;

use voucherd_store::Store;
use voucherd_store_postgres::testing::fresh_database_url;

async fn open_fresh() -> Option<Arc<dyn Store>> {
    let url = fresh_database_url().await?;
    Some(Arc::new(
        voucherd_store_postgres::open(&url)
            .await
            .expect("open PostgreSQL"),
    ))
}

voucherd_store::conformance_tests!(open_fresh());
