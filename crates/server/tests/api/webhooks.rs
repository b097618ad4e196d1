//! Webhooks over real HTTP: a receiver started by the test is down (500) for ten minutes of the
//! server's clock, then recovers, and receives every event committed since its endpoint was
//! made, once delivered each, in order, without gaps, with Standard Webhooks signatures checked
//! here independently; deliveries to a loopback address are refused unless the endpoint allows
//! private addresses; bad endpoints are refused; the operator's test event is signed and
//! recorded without touching the feed; and the console manages an endpoint end to end, warning
//! when one was disabled.

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

use crate::console::{OPERATOR, PASSWORD, create_user, csrf_of, get, plain_http, session};
use crate::support::{ALL_SCOPES, Backend, TestApp};

on_both_stores!(
    a_receiver_down_for_ten_minutes_gets_every_event_in_order_once_it_recovers,
    deliveries_to_loopback_are_refused_unless_the_endpoint_allows_them,
    bad_endpoints_are_refused,
    a_test_event_is_signed_and_recorded_and_leaves_the_feed_alone,
    the_console_manages_an_endpoint_and_warns_when_one_is_disabled,
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

async fn a_test_event_is_signed_and_recorded_and_leaves_the_feed_alone(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let receiver = Receiver::start(200).await;
    let made = endpoint(&app, &receiver.url, true).await;
    let (id, secret) = (
        made["id"].as_str().expect("id").to_string(),
        made["secret"].as_str().expect("secret").to_string(),
    );
    app.active_voucher(&c.token, "5.00").await;
    receiver
        .wait_for("the voucher's event", |r| r.len() == 1)
        .await;
    // The receiver answers before the outbox records the attempt and moves the cursor (one
    // transaction): the cursor is read once the attempt is on record.
    recorded_attempts(&app, &id, 1).await;
    let cursor = |listed: &Value| listed["data"][0]["delivered_through"].clone();
    let before = app
        .admin(Method::GET, "/tenants/default/webhooks", None)
        .await
        .expect(StatusCode::OK);

    let tested = app
        .admin(
            Method::POST,
            &format!("/tenants/default/webhooks/{id}/test"),
            None,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(tested.json["status"], 200, "{}", tested.text);
    assert_eq!(tested.json["error"], Value::Null);
    assert_eq!(tested.json["type"], "webhook.test");
    let sent = receiver
        .received()
        .last()
        .expect("the test event")
        .1
        .clone();
    let body: Value = serde_json::from_str(&sent.body).expect("json");
    assert_eq!(body["type"], "webhook.test");
    assert_eq!(body["seq"], 0);
    assert_eq!(sent.headers["webhook-id"], body["id"].as_str().expect("id"));
    assert!(signature_is_valid(&secret, &sent), "{sent:?}");
    // On record as attempt 0; the feed and the endpoint's cursor are as they were.
    let attempts = app
        .admin(
            Method::GET,
            &format!("/tenants/default/webhooks/{id}/deliveries"),
            None,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(attempts.json["data"][0]["seq"], 0);
    assert_eq!(attempts.json["data"][0]["type"], "webhook.test");
    let after = app
        .admin(Method::GET, "/tenants/default/webhooks", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(cursor(&after.json), cursor(&before.json));
    let feed = app
        .admin(Method::GET, "/tenants/default/events?type=webhook.*", None)
        .await;
    assert_eq!(
        feed.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not a feed type"
    );

    // A receiver that fails the test: the answer says so; the endpoint is not marked failing.
    receiver.status.store(503, Ordering::SeqCst);
    let failed = app
        .admin(
            Method::POST,
            &format!("/tenants/default/webhooks/{id}/test"),
            None,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(failed.json["status"], 503);
    assert_eq!(failed.json["error"], "answered 503");
    let listed = app
        .admin(Method::GET, "/tenants/default/webhooks", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        listed.json["data"][0]["status"], "active",
        "{}",
        listed.text
    );

    app.admin(Method::POST, "/tenants/default/webhooks/nope/test", None)
        .await
        .expect(StatusCode::NOT_FOUND);
    app.admin(
        Method::POST,
        &format!("/tenants/nowhere/webhooks/{id}/test"),
        None,
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    app.stop().await;
}

/// The `data-endpoint` ids of the console's endpoint list.
fn listed_endpoints(html: &str) -> Vec<String> {
    html.split("data-endpoint=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

/// Waits (at most 20 s of real time) until the endpoint's status in the admin API is `status`.
async fn endpoint_status(app: &TestApp, status: &str) {
    for _ in 0..400 {
        let listed = app
            .admin(Method::GET, "/tenants/default/webhooks", None)
            .await
            .expect(StatusCode::OK);
        if listed.json["data"][0]["status"] == status {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the endpoint never became {status}");
}

async fn the_console_manages_an_endpoint_and_warns_when_one_is_disabled(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    create_user(&app, OPERATOR, PASSWORD);
    let http = plain_http();
    let mut cookie = session(&app, &http).await;
    let receiver = Receiver::start(200).await;
    let list = "/admin/t/default/webhooks";
    let page = get(&app, &http, &cookie, list).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("page");
    assert!(html.contains("No endpoints yet"), "{html}");
    let csrf = csrf_of(&html);
    let post = |cookie: String, path: String, fields: Vec<(&'static str, String)>| {
        let mut form = vec![("_csrf", csrf.clone())];
        form.extend(fields);
        http.post(format!("{}{path}", app.base))
            .header(reqwest::header::COOKIE, cookie)
            .form(&form)
            .send()
    };

    // A bad URL is refused and shown again; a good one is made, its secret shown once.
    let refused = post(
        cookie.clone(),
        list.into(),
        vec![("url", "ftp://example.com/x".into()), ("types", "".into())],
    )
    .await
    .expect("sent");
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.expect("page");
    assert!(
        html.contains("Not created") && html.contains("ftp://example.com/x"),
        "{html}"
    );
    let refused = post(
        cookie.clone(),
        list.into(),
        vec![
            ("url", receiver.url.clone()),
            ("types", "charge.made".into()),
        ],
    )
    .await
    .expect("sent");
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let made = post(
        cookie.clone(),
        list.into(),
        vec![
            ("url", receiver.url.clone()),
            ("types", "voucher.*".into()),
            ("allow_private", "on".into()),
        ],
    )
    .await
    .expect("sent");
    assert_eq!(made.status(), StatusCode::OK);
    let html = made.text().await.expect("page");
    assert!(html.contains("id=\"secret\">whsec_"), "{html}");
    let ids = listed_endpoints(&html);
    assert_eq!(ids.len(), 1, "{html}");
    let here = format!("{list}/{}", ids[0]);
    let again = get(&app, &http, &cookie, list)
        .await
        .text()
        .await
        .expect("page");
    assert!(!again.contains("whsec_"), "the secret is shown once");

    // The test event: delivered, its status and latency in the deliveries.
    let tested = post(cookie.clone(), format!("{here}/test"), vec![])
        .await
        .expect("sent");
    let html = tested.text().await.expect("page");
    assert!(
        html.contains("The test event was delivered: answered 200"),
        "{html}"
    );
    assert!(html.contains("<td>webhook.test</td><td>200</td>"), "{html}");
    assert_eq!(receiver.received().len(), 1);

    // Failing for three days: disabled, and the console says so on its first page too.
    receiver.status.store(500, Ordering::SeqCst);
    let c = app.client("default", ALL_SCOPES).await;
    app.active_voucher(&c.token, "7.00").await;
    recorded_attempts(&app, &ids[0], 2).await;
    app.advance(Duration::days(3) + Duration::hours(2));
    endpoint_status(&app, "disabled").await;
    cookie = session(&app, &http).await;
    let home = get(&app, &http, &cookie, "/admin/")
        .await
        .text()
        .await
        .expect("page");
    assert!(home.contains("1 webhook endpoint disabled"), "{home}");
    let html = get(&app, &http, &cookie, list)
        .await
        .text()
        .await
        .expect("page");
    assert!(html.contains("id=\"disabled-warning\""), "{html}");
    let html = get(&app, &http, &cookie, &here)
        .await
        .text()
        .await
        .expect("page");
    assert!(html.contains("Redeliver and enable"), "{html}");
    assert!(html.contains("answered 500"), "{html}");
    let csrf = csrf_of(&html);
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let mut form = vec![("_csrf", csrf.clone())];
        form.extend(fields);
        http.post(format!("{}{path}", app.base))
            .header(reqwest::header::COOKIE, cookie.clone())
            .form(&form)
            .send()
    };

    // Redelivered from before the voucher: enabled, and the event arrives.
    receiver.status.store(200, Ordering::SeqCst);
    let bad = post(format!("{here}/redeliver"), vec![("after", "-3".into())])
        .await
        .expect("sent");
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let redelivered = post(format!("{here}/redeliver"), vec![("after", "0".into())])
        .await
        .expect("sent");
    assert_eq!(
        redelivered.headers()[reqwest::header::LOCATION],
        format!("{here}?notice=webhook-redelivering")
    );
    receiver
        .wait_for("the voucher's event, delivered", |r| {
            r.iter().any(|(status, received)| {
                *status == 200 && received.body.contains("\"voucher.created\"")
            })
        })
        .await;
    endpoint_status(&app, "active").await;

    // A new secret, shown once; then the endpoint goes.
    let rotated = post(format!("{here}/rotate"), vec![])
        .await
        .expect("sent")
        .text()
        .await
        .expect("page");
    assert!(
        rotated.contains("id=\"secret\">whsec_") && rotated.contains("24 hours"),
        "{rotated}"
    );
    let deleted = post(format!("{here}/delete"), vec![]).await.expect("sent");
    assert_eq!(
        deleted.headers()[reqwest::header::LOCATION],
        format!("{list}?notice=webhook-deleted")
    );
    let html = get(&app, &http, &cookie, list)
        .await
        .text()
        .await
        .expect("page");
    assert!(listed_endpoints(&html).is_empty(), "{html}");
    let gone = get(&app, &http, &cookie, &here).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
