//! A PostgreSQL outage under load: while tills charge, the database server is stopped and
//! started again. Requests must fail within a bounded time with a clean 503 in the face's
//! envelope, `/readyz` must go red and back to green, voucherd must recover on its own, and
//! nothing acknowledged may be lost.
//!
//! It stops this machine's PostgreSQL cluster, so it does not run with the other tests: run it
//! with `scripts/outage-test` (it is `#[ignore]`d otherwise).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::crash::{call, kill_9, prepare, spawn_tills, start, verify};
use crate::support::{Backend, fresh_database};

/// The longest a request may take while the database is down.
const FAIL_FAST: Duration = Duration::from_secs(7);
/// How long voucherd may take to answer ready again after the database is back.
const RECOVERY_MAX: Duration = Duration::from_secs(30);

/// Runs `pg_ctlcluster <version> main <action>` on this machine's only cluster.
fn cluster(action: &str) {
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("a PostgreSQL cluster on this machine")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().to_string())
        .next()
        .expect("a cluster version");
    let mut command = std::process::Command::new("pg_ctlcluster");
    command.args(["--skip-systemctl-redirect", &version, "main", action]);
    if action == "stop" {
        command.args(["-m", "fast"]);
    }
    assert!(
        command.status().expect("pg_ctlcluster runs").success(),
        "pg_ctlcluster {action}"
    );
}

/// Waits until `count` reaches `at_least` (the tills are making progress).
async fn progress(count: &AtomicUsize, at_least: usize) {
    let began = Instant::now();
    while count.load(Ordering::SeqCst) < at_least {
        assert!(
            began.elapsed() < RECOVERY_MAX,
            "no progress: {} charges",
            count.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops this machine's PostgreSQL server; run with scripts/outage-test"]
async fn a_database_outage_answers_503_and_recovers() {
    let database = fresh_database(Backend::Postgres)
        .await
        .expect("VOUCHERD_TEST_DATABASE_URL names the PostgreSQL server to stop");
    let (mut child, base) = start(&database);
    let (token, vouchers) = prepare(&base).await;
    let vouchers = Arc::new(vouchers);
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let tills = spawn_tills(&base, &token, &vouchers, &acknowledged, &count);
    progress(&count, 30).await;

    cluster("stop");
    let http = reqwest::Client::new();
    let (code, _) = &vouchers[0];
    let asked = Instant::now();
    let (status, body) = call(
        &http,
        reqwest::Method::POST,
        format!("{base}/v1/reservations"),
        &token,
        Some(json!({ "amount": "1.00", "currency": "EUR", "code": code })),
    )
    .await
    .expect("answered");
    let waited = asked.elapsed();
    let asked = Instant::now();
    let ready = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("answered")
        .status();
    let ready_waited = asked.elapsed();
    let during = count.load(Ordering::SeqCst);
    cluster("start");
    eprintln!(
        "while down: reservation {status} in {waited:?} ({body}); readyz {ready} in {ready_waited:?}"
    );
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "SERVICE_UNAVAILABLE", "{body}");
    assert!(waited < FAIL_FAST, "took {waited:?}");
    assert_eq!(ready, StatusCode::SERVICE_UNAVAILABLE);

    let back = Instant::now();
    loop {
        let status = http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .expect("answered")
            .status();
        if status == StatusCode::OK {
            break;
        }
        assert!(back.elapsed() < RECOVERY_MAX, "not ready again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "ready again {:?} after the database started",
        back.elapsed()
    );
    progress(&count, during + 30).await;
    for t in tills {
        t.abort();
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    verify(&base, &token, &vouchers, &acknowledged).await;
    kill_9(&mut child);
}
