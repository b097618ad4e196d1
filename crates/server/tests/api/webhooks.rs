//! Webhooks over real HTTP: a receiver started by the test is down (500) for ten minutes of the
//! server's clock, then recovers, and receives every event committed since its endpoint was
//! made, once delivered each, in order, without gaps, with Standard Webhooks signatures checked
//! here independently; deliveries to a loopback address are refused unless the endpoint allows
//! private addresses; bad endpoints are refused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{ALL_SCOPES, Backend, TestApp};

on_both_stores!(
    a_receiver_down_for_ten_minutes_gets_every_event_in_order_once_it_recovers,
    deliveries_to_loopback_are_refused_unless_the_endpoint_allows_them,
    bad_endpoints_are_refused,
);

/// One request a receiver got: its headers (lower-case names) and body.
#[derive(Clone, Debug)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
}

/// An HTTP receiver on loopback answering `status` (changeable) and keeping every request.
struct Receiver {
    url: String,
    status: Arc<AtomicU16>,
    requests: Arc<Mutex<Vec<(u16, Received)>>>,
}

impl Receiver {
    async fn start(status: u16) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hooks", listener.local_addr().expect("address"));
        let status = Arc::new(AtomicU16::new(status));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (answer, kept) = (status.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (answer, kept) = (answer.clone(), kept.clone());
                tokio::spawn(async move {
                    loop {
                        let Some(received) = read_request(&mut socket).await else {
                            return;
                        };
                        let status = answer.load(Ordering::SeqCst);
                        kept.lock().expect("lock").push((status, received));
                        let head = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                        if socket.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Receiver {
            url,
            status,
            requests,
        }
    }

    fn received(&self) -> Vec<(u16, Received)> {
        self.requests.lock().expect("lock").clone()
    }

    /// Waits (at most 20 s of real time) until `done` holds of what was received.
    async fn wait_for(&self, what: &str, done: impl Fn(&[(u16, Received)]) -> bool) {
        for _ in 0..400 {
            if done(&self.received()) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{what}: the receiver got {:#?}", self.received());
    }
}

/// Reads one HTTP/1.1 request with a content length; `None` when the connection ends.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut data = Vec::new();
    let mut buffer = [0_u8; 8192];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = socket.read(&mut buffer).await.ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buffer[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        let n = socket.read(&mut buffer).await.ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buffer[..n]);
    }
    let body = String::from_utf8_lossy(&data[head_end..head_end + length]).to_string();
    Some(Received { headers, body })
}

/// Checks a delivery's signature the way a Standard Webhooks verifier does.
fn signature_is_valid(secret: &str, received: &Received) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").expect("prefix"))
        .expect("base64 secret");
    let content = format!(
        "{}.{}.{}",
        received.headers["webhook-id"], received.headers["webhook-timestamp"], received.body
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("key");
    mac.update(content.as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    received.headers["webhook-signature"]
        .split(' ')
        .any(|s| s == expected)
}

/// Waits (at most 20 s of real time) until the endpoint has `count` attempts on record, so
/// that the next move of the clock comes after them.
async fn recorded_attempts(app: &TestApp, id: &str, count: usize) {
    for _ in 0..400 {
        let attempts = app
            .admin(
                Method::GET,
                &format!("/tenants/default/webhooks/{id}/deliveries"),
                None,
            )
            .await
            .expect(StatusCode::OK);
        if attempts.json["data"].as_array().map_or(0, Vec::len) >= count {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} attempts recorded");
}

async fn endpoint(app: &TestApp, url: &str, allow_private: bool) -> Value {
    app.admin(
        Method::POST,
        "/tenants/default/webhooks",
        Some(json!({ "url": url, "allow_private_addresses": allow_private })),
    )
    .await
    .expect(StatusCode::CREATED)
    .json
}

async fn a_receiver_down_for_ten_minutes_gets_every_event_in_order_once_it_recovers(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    // Events before the endpoint exists are not sent to it.
    app.active_voucher(&c.token, "1.00").await;
    let receiver = Receiver::start(500).await;
    let made = endpoint(&app, &receiver.url, true).await;
    let secret = made["secret"]
        .as_str()
        .expect("secret shown once")
        .to_string();
    let id = made["id"].as_str().expect("id").to_string();
    let from = made["delivered_through"].as_i64().expect("cursor");
    assert!(from > 0);
    let (_, code) = app.active_voucher(&c.token, "50.00").await;
    let reserved = app
        .post(
            "/v1/reservations",
            &c.token,
            json!({ "amount": "20.00", "currency": "EUR", "code": code }),
        )
        .await
        .expect(StatusCode::CREATED);
    app.post(
        &format!(
            "/v1/reservations/{}/charge",
            reserved.json["id"].as_str().expect("id")
        ),
        &c.token,
        json!({ "order_number": "W-1" }),
    )
    .await
    .expect(StatusCode::CREATED);

    // Down: the first attempt fails; ten minutes later (the backoff is due) it fails again.
    recorded_attempts(&app, &id, 1).await;
    app.advance(Duration::minutes(10));
    receiver.wait_for("a retry", |r| r.len() >= 2).await;
    recorded_attempts(&app, &id, 2).await;
    assert!(receiver.received().iter().all(|(status, _)| *status == 500));
    // Up again: the next attempt is due within the backoff's cap of an hour.
    receiver.status.store(200, Ordering::SeqCst);
    app.advance(Duration::hours(1));
    let feed = app
        .admin(
            Method::GET,
            &format!("/tenants/default/events?after={from}"),
            None,
        )
        .await
        .expect(StatusCode::OK);
    let expected: Vec<i64> = feed.json["data"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(
        expected.len(),
        3,
        "created, placed, charged: {feed:?}",
        feed = feed.text
    );
    receiver
        .wait_for("every event", |r| {
            r.iter().filter(|(status, _)| *status == 200).count() >= expected.len()
        })
        .await;
    // The round is recorded once it ends: two failures, then each delivery.
    recorded_attempts(&app, &id, 2 + expected.len()).await;

    let delivered: Vec<Received> = receiver
        .received()
        .into_iter()
        .filter(|(status, _)| *status == 200)
        .map(|(_, r)| r)
        .collect();
    let seqs: Vec<i64> = delivered
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).expect("json body");
            assert_eq!(r.headers["webhook-id"], body["id"].as_str().expect("id"));
            assert_eq!(r.headers["content-type"], "application/json");
            assert!(r.headers["webhook-timestamp"].parse::<i64>().is_ok());
            assert!(signature_is_valid(&secret, r), "bad signature on {r:?}");
            body["seq"].as_i64().expect("seq")
        })
        .collect();
    assert_eq!(
        seqs, expected,
        "every event once, in order, from the endpoint's start"
    );
    // What was tried is on record, with statuses.
    let attempts = app
        .admin(
            Method::GET,
            &format!("/tenants/default/webhooks/{id}/deliveries"),
            None,
        )
        .await
        .expect(StatusCode::OK);
    let statuses: Vec<i64> = attempts.json["data"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["status"].as_i64().expect("status"))
        .collect();
    assert!(
        statuses.contains(&500) && statuses.contains(&200),
        "{statuses:?}"
    );
    let listed = app
        .admin(Method::GET, "/tenants/default/webhooks", None)
        .await
        .expect(StatusCode::OK);
    let shown = &listed.json["data"][0];
    assert_eq!(shown["status"], "active", "{shown}");
    assert_eq!(shown["delivered_through"], json!(expected.last()));
    assert!(shown.get("secret").is_none());

    // Sent again from the endpoint's start: the same events, the same ids, in order.
    let again = app
        .admin(
            Method::POST,
            &format!("/tenants/default/webhooks/{id}/redeliver"),
            Some(json!({ "after": from })),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(again.json["delivered_through"], json!(from));
    let first_round = delivered.len();
    receiver
        .wait_for("the events again", |r| {
            r.iter().filter(|(status, _)| *status == 200).count() >= first_round * 2
        })
        .await;
    let ids = |received: &[Received]| -> Vec<String> {
        received
            .iter()
            .map(|r| r.headers["webhook-id"].clone())
            .collect()
    };
    let all: Vec<Received> = receiver
        .received()
        .into_iter()
        .filter(|(status, _)| *status == 200)
        .map(|(_, r)| r)
        .collect();
    assert_eq!(ids(&all[first_round..]), ids(&delivered));
    // A new secret: for a day both sign, then only the new one.
    let rotated = app
        .admin(
            Method::POST,
            &format!("/tenants/default/webhooks/{id}/rotate-secret"),
            None,
        )
        .await
        .expect(StatusCode::OK);
    let new_secret = rotated.json["secret"]
        .as_str()
        .expect("new secret")
        .to_string();
    assert_ne!(new_secret, secret);
    assert!(rotated.json["previous_secret_valid_until"].is_string());
    let newest = |received: Vec<(u16, Received)>| received.last().expect("a delivery").1.clone();
    // The clock has moved past the client's token: a fresh client for the vouchers below.
    let c = app.client("default", ALL_SCOPES).await;
    let count = receiver.received().len();
    app.active_voucher(&c.token, "2.00").await;
    receiver
        .wait_for("an event after the rotation", |r| r.len() > count)
        .await;
    let during = newest(receiver.received());
    assert!(signature_is_valid(&new_secret, &during) && signature_is_valid(&secret, &during));
    app.advance(Duration::hours(25));
    let c = app.client("default", ALL_SCOPES).await;
    let count = receiver.received().len();
    app.active_voucher(&c.token, "3.00").await;
    receiver
        .wait_for("an event after the grace", |r| r.len() > count)
        .await;
    let after = newest(receiver.received());
    assert!(signature_is_valid(&new_secret, &after) && !signature_is_valid(&secret, &after));

    app.admin(
        Method::POST,
        "/tenants/default/webhooks/nope/redeliver",
        Some(json!({ "after": 0 })),
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    app.admin(
        Method::POST,
        &format!("/tenants/default/webhooks/{id}/redeliver"),
        Some(json!({ "after": -1 })),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

async fn deliveries_to_loopback_are_refused_unless_the_endpoint_allows_them(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let receiver = Receiver::start(200).await;
    let made = endpoint(&app, &receiver.url, false).await;
    let id = made["id"].as_str().expect("id").to_string();
    app.active_voucher(&c.token, "5.00").await;
    let mut last_error = Value::Null;
    for _ in 0..400 {
        let listed = app
            .admin(Method::GET, "/tenants/default/webhooks", None)
            .await
            .expect(StatusCode::OK);
        last_error = listed.json["data"][0]["last_error"].clone();
        if !last_error.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        last_error
            .as_str()
            .is_some_and(|e| e.contains("private or loopback")),
        "{last_error}"
    );
    assert!(receiver.received().is_empty(), "a request reached loopback");
    let attempts = app
        .admin(
            Method::GET,
            &format!("/tenants/default/webhooks/{id}/deliveries"),
            None,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(attempts.json["data"][0]["status"], Value::Null);
    app.admin(
        Method::DELETE,
        &format!("/tenants/default/webhooks/{id}"),
        None,
    )
    .await
    .expect(StatusCode::OK);
    app.admin(
        Method::DELETE,
        &format!("/tenants/default/webhooks/{id}"),
        None,
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn bad_endpoints_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for body in [
        json!({ "url": "ftp://example.com/x" }),
        json!({ "url": "https://user:pw@example.com/" }),
        json!({ "url": "https://example.com/", "types": ["charge.made"] }),
        json!({ "url": "https://example.com/", "secret": "mine" }),
    ] {
        let refused = app
            .admin(
                Method::POST,
                "/tenants/default/webhooks",
                Some(body.clone()),
            )
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            refused.json["error"]["code"], "invalid_request",
            "{body}: {}",
            refused.text
        );
    }
    app.admin(
        Method::POST,
        "/tenants/nowhere/webhooks",
        Some(json!({ "url": "https://example.com/" })),
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    app.stop().await;
}
