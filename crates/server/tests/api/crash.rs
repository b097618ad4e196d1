//! Crash durability: tills reserve and charge on a running `voucherd` while it is killed with
//! SIGKILL at a random moment, over and over. After each restart every charge that was
//! acknowledged must be in the ledger, the integrity check must pass, the vouchers' balances
//! must account for every charge the ledger holds, acknowledged or not (nothing half-applied),
//! and the event feed must hold exactly those charges, once each, without a gap.
//!
//! `VOUCHERD_CRASH_CYCLES` sets the number of kills (default 3; `scripts/crash-test` runs 20).

use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rand::Rng;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::binary::{Logs, serve_with};
use crate::support::{Backend, fresh_database};

on_both_stores!(acknowledged_charges_survive_kill_9);

pub(crate) const ADMIN: &str = "crash-test-admin-token-0123456789";
const TILLS: usize = 12;
const VOUCHERS: usize = 20;
/// Each voucher starts with 1 000.00 and every charge takes 1.00, so none runs out.
const CHARGE: &str = "1.00";
/// How often the test looks whether enough charges were acknowledged to kill (every 2 ms, at
/// most 30 s in all).
const PROGRESS_POLLS_MAX: usize = 15_000;

pub(crate) fn start(database: &str) -> (Child, String) {
    let (child, address, _) = serve_with(database, &["--admin-token", ADMIN], &[], Logs::Collected);
    (child, format!("http://{address}"))
}

pub(crate) fn kill_9(child: &mut Child) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let _ = child.wait();
}

pub(crate) async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> reqwest::Result<(StatusCode, Value)> {
    let mut request = http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status();
    let value = response.json::<Value>().await.unwrap_or(Value::Null);
    Ok((status, value))
}

/// A GET that must be answered.
async fn read(http: &reqwest::Client, url: String, token: &str) -> (StatusCode, Value) {
    call(http, reqwest::Method::GET, url, token, None)
        .await
        .expect("answered")
}

/// A client token and a pool of vouchers (codes) on a fresh database.
pub(crate) async fn prepare(base: &str) -> (String, Vec<(String, String)>) {
    let http = reqwest::Client::new();
    let admin = |path: &str, body: Value| {
        http.post(format!("{base}/admin/api/v1/tenants/default{path}"))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
    };
    let group: Value = admin("/client-groups", json!({ "name": "Tills", "scopes": ["read", "read-lists", "read-secrets", "use", "manage"] }))
        .await.expect("sent").json().await.expect("json");
    let client: Value = admin(
        "/clients",
        json!({ "name": "Till", "client_group_id": group["id"] }),
    )
    .await
    .expect("sent")
    .json()
    .await
    .expect("json");
    let client_id = client["id"].as_str().expect("id").to_string();
    let pin: Value = admin(&format!("/clients/{client_id}/pin"), json!({}))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let connected: Value = http
        .post(format!("{base}/v1/clients/connect"))
        .json(&json!({ "pin": pin["pin"] }))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let token: Value = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            (
                "client_secret",
                connected["secret"].as_str().expect("secret"),
            ),
        ])
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let token = token["access_token"].as_str().expect("token").to_string();
    let mut vouchers = Vec::new();
    for _ in 0..VOUCHERS {
        let (status, v) = call(
            &http,
            reqwest::Method::POST,
            format!("{base}/v1/vouchers"),
            &token,
            Some(json!({ "amount": "1000.00", "currency": "EUR", "status": "active" })),
        )
        .await
        .expect("sent");
        assert_eq!(status, StatusCode::CREATED);
        vouchers.push((
            v["id"].as_str().expect("id").to_string(),
            v["code"].as_str().expect("code").to_string(),
        ));
    }
    (token, vouchers)
}

/// Twelve tills reserving and charging 1.00 until their task ends (or voucherd stops
/// answering); every acknowledged charge is recorded with its voucher, and counted.
pub(crate) fn spawn_tills(
    base: &str,
    token: &str,
    vouchers: &Arc<Vec<(String, String)>>,
    acknowledged: &Arc<Mutex<Vec<(String, String)>>>,
    count: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..TILLS)
        .map(|index| {
            tokio::spawn(till(
                base.to_string(),
                token.to_string(),
                vouchers.clone(),
                acknowledged.clone(),
                count.clone(),
                index,
            ))
        })
        .collect()
}

async fn till(
    base: String,
    token: String,
    vouchers: Arc<Vec<(String, String)>>,
    acknowledged: Arc<Mutex<Vec<(String, String)>>>,
    count: Arc<AtomicUsize>,
    index: usize,
) {
    let http = reqwest::Client::new();
    let mut turn = index;
    loop {
        turn += TILLS;
        let (voucher, code) = &vouchers[turn % vouchers.len()];
        let Ok((status, reservation)) = call(
            &http,
            reqwest::Method::POST,
            format!("{base}/v1/reservations"),
            &token,
            Some(json!({ "amount": CHARGE, "currency": "EUR", "code": code })),
        )
        .await
        else {
            return;
        };
        if status != StatusCode::CREATED {
            continue;
        }
        let id = reservation["id"].as_str().expect("id");
        let Ok((status, charge)) = call(
            &http,
            reqwest::Method::POST,
            format!("{base}/v1/reservations/{id}/charge"),
            &token,
            Some(json!({ "order_number": format!("till-{index}-{turn}") })),
        )
        .await
        else {
            return;
        };
        if status == StatusCode::CREATED {
            let charge_id = charge["id"].as_str().expect("charge id").to_string();
            acknowledged
                .lock()
                .expect("lock")
                .push((voucher.clone(), charge_id));
            count.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn acknowledged_charges_survive_kill_9(backend: Backend) {
    let Some(database) = fresh_database(backend).await else {
        return;
    };
    let cycles: usize = std::env::var("VOUCHERD_CRASH_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(3);
    let (mut child, base) = start(&database);
    let (token, vouchers) = prepare(&base).await;
    let vouchers = Arc::new(vouchers);
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut base = base;
    for cycle in 0..cycles {
        let count = Arc::new(AtomicUsize::new(0));
        // A random moment: after some number of acknowledged charges, with requests in flight.
        let kill_after = rand::rng().random_range(5..60);
        let tills = spawn_tills(&base, &token, &vouchers, &acknowledged, &count);
        let mut waited = 0;
        while count.load(Ordering::SeqCst) < kill_after {
            waited += 1;
            assert!(
                waited < PROGRESS_POLLS_MAX,
                "the tills made no progress in cycle {cycle}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        kill_9(&mut child);
        for t in tills {
            let _ = t.await;
        }
        (child, base) = start(&database);
        eprintln!(
            "cycle {cycle}: killed after {} acknowledged charges",
            count.load(Ordering::SeqCst)
        );
    }

    let acknowledged = acknowledged.lock().expect("lock").clone();
    verify(&base, &token, &vouchers, &acknowledged).await;
    eprintln!("after {cycles} kills");
    kill_9(&mut child);
}

/// Every acknowledged charge is in the ledger, the integrity check passes, and the vouchers
/// lost exactly the charges the ledger holds (nothing half-applied).
pub(crate) async fn verify(
    base: &str,
    token: &str,
    vouchers: &[(String, String)],
    acknowledged: &[(String, String)],
) {
    let http = reqwest::Client::new();
    for (voucher, charge) in acknowledged {
        let (status, _) = read(
            &http,
            format!("{base}/v1/vouchers/{voucher}/charges/{charge}"),
            token,
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "acknowledged charge {charge} of {voucher} is lost"
        );
    }
    let (status, integrity) = read(
        &http,
        format!("{base}/admin/api/v1/tenants/default/integrity"),
        ADMIN,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(integrity["violations"], json!([]), "{integrity}");
    let mut lost_minor = 0;
    let mut charges_in_ledger = 0;
    for (voucher, _) in vouchers {
        let (_, v) = read(&http, format!("{base}/v1/vouchers/{voucher}"), token).await;
        lost_minor += 100_000 - minor(v["remaining_amount"].as_str().expect("remaining"));
        let (_, list) = read(
            &http,
            format!("{base}/v1/vouchers/{voucher}/charges?filter[type]=charge&per_page=1"),
            token,
        )
        .await;
        charges_in_ledger += list["meta"]["total"].as_i64().expect("total");
    }
    assert_eq!(
        lost_minor,
        charges_in_ledger * 100,
        "balances match the charges in the ledger"
    );
    assert!(charges_in_ledger >= i64::try_from(acknowledged.len()).expect("count"));
    verify_events(&http, base, token, acknowledged, charges_in_ledger).await;
    eprintln!(
        "{} acknowledged charges, {charges_in_ledger} in the ledger",
        acknowledged.len()
    );
}

/// The event feed agrees with the ledger: its numbers have no gap, every acknowledged charge
/// has exactly one `charge.created`, and every `charge.created` names a charge the ledger holds
/// (so the feed has as many as the ledger).
async fn verify_events(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    acknowledged: &[(String, String)],
    charges_in_ledger: i64,
) {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let url = format!("{base}/admin/api/v1/tenants/default/events?after={after}&limit=1000");
        let (status, page) = read(http, url, ADMIN).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let data = page["data"].as_array().expect("data").clone();
        if data.is_empty() {
            break;
        }
        after = page["next_after"].as_i64().expect("cursor");
        events.extend(data);
    }
    for (n, event) in events.iter().enumerate() {
        assert_eq!(event["seq"], json!(n + 1), "a gap in the event numbers");
    }
    let mut charged: std::collections::HashMap<String, usize> = Default::default();
    for event in events.iter().filter(|e| e["type"] == "charge.created") {
        let charge = event["data"]["charge"]["id"].as_str().expect("charge id");
        *charged.entry(charge.to_string()).or_default() += 1;
        let voucher = event["voucher_id"].as_str().expect("voucher");
        let url = format!("{base}/v1/vouchers/{voucher}/charges/{charge}");
        let (status, _) = read(http, url, token).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "event of a charge the ledger lacks: {event}"
        );
    }
    for (_, charge) in acknowledged {
        assert_eq!(
            charged.get(charge),
            Some(&1),
            "acknowledged charge {charge} in the feed"
        );
    }
    assert_eq!(
        i64::try_from(charged.len()).expect("count"),
        charges_in_ledger,
        "the feed's charges are the ledger's"
    );
    assert!(
        charged.values().all(|&n| n == 1),
        "a charge with two events"
    );
}

/// `"987.50"` → `98750`.
fn minor(amount: &str) -> i64 {
    let (whole, cents) = amount.split_once('.').expect("two decimals");
    whole.parse::<i64>().expect("digits") * 100 + cents.parse::<i64>().expect("digits")
}
