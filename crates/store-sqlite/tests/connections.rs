//! The SQLite store's connections: many more concurrent reads than read connections all get
//! their answer, and a database URL the store cannot serve is refused with its reason.

use std::sync::Arc;

use time::OffsetDateTime;
use voucherd_store::{Store, StoreError};

fn fresh_url() -> String {
    let path = std::env::temp_dir()
        .join(format!(
            "voucherd-connections-{}-{}",
            std::process::id(),
            voucherd_domain::secret::opaque_id()
        ))
        .join("ledger.db");
    format!("sqlite://{}", path.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_beyond_the_read_connections_wait_for_one_and_all_answer() {
    let store = Arc::new(
        voucherd_store_sqlite::open(&fresh_url())
            .await
            .expect("open SQLite"),
    );
    store
        .bootstrap(OffsetDateTime::now_utc())
        .await
        .expect("bootstrap");
    let readers: Vec<_> = (0..256)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let now = OffsetDateTime::now_utc();
                // A scan and a lookup, so both kinds of read transaction take part.
                let report = store.integrity("default", now).await?;
                let tenant = store.tenant("default").await?;
                Ok::<_, StoreError>((report.violations.len(), tenant.is_some()))
            })
        })
        .collect();
    for reader in readers {
        let answer = reader
            .await
            .expect("the read task ran")
            .expect("the read answered");
        assert_eq!(answer, (0, true));
    }
    store.ping().await.expect("ping after the reads");
}

async fn refusal(url: &str) -> String {
    match voucherd_store_sqlite::open(url).await {
        Ok(_) => panic!("{url} was accepted"),
        Err(error) => error.to_string(),
    }
}

#[tokio::test]
async fn a_database_url_the_store_cannot_serve_is_refused_with_its_reason() {
    assert!(
        refusal("postgres://127.0.0.1/x")
            .await
            .contains("must start with sqlite://")
    );
    assert!(refusal("sqlite://").await.contains("names no file"));
    assert!(
        refusal("sqlite://ledger.db?mode=ro")
            .await
            .contains("options after ?")
    );
    assert!(refusal("sqlite::memory:").await.contains("in-memory"));
}

#[tokio::test]
async fn a_url_without_slashes_names_a_file_too() {
    let url = fresh_url();
    let path = url.strip_prefix("sqlite://").expect("a sqlite:// URL");
    let store = voucherd_store_sqlite::open(&format!("sqlite:{path}"))
        .await
        .expect("open sqlite:PATH");
    store
        .bootstrap(OffsetDateTime::now_utc())
        .await
        .expect("bootstrap");
    assert!(std::path::Path::new(path).exists());
}
