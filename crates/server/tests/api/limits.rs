//! Abuse limits over real HTTP: each authenticated caller and each remote address gets its
//! rate (and a burst of twice as much) and then 429 with `Retry-After` in its face's envelope;
//! oversized request heads get 431; clients too slow with their head are disconnected and
//! those too slow with their body get 408 with nothing written. Rates are counted on the
//! server's manual clock; slowness is real, bounded by a one-second client timeout.

use reqwest::{Method, StatusCode};
use serde_json::json;
use time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use voucherd_server::config::Limits;

use crate::bleepay_flow::payer;
use crate::front_flow::{BASE, merchant};
use crate::support::{ALL_SCOPES, Backend, Reply, TestApp};

/// A limit of 5 requests a second per caller: bursts of 10 pass.
const CALLER_RATE: u32 = 5;
const BURST: usize = 10;

fn limits(caller: u32, address: u32, client_timeout_seconds: u64) -> Limits {
    Limits {
        caller_rate_limit: caller,
        address_rate_limit: address,
        client_timeout_seconds,
    }
}

#[track_caller]
fn refused(reply: &Reply) {
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.text
    );
    assert_eq!(
        reply.headers.get("retry-after").map(|v| v.to_str().ok()),
        Some(Some("1")),
        "Retry-After on {}",
        reply.text
    );
}

/// Sends `request` until it is refused; answers how many passed and the refusal.
async fn until_refused<F, Fut>(mut request: F) -> (usize, Reply)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    for passed in 0..1000 {
        let reply = request().await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            return (passed, reply);
        }
    }
    panic!("never refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_caller_gets_its_burst_then_429_in_its_face_envelope() {
    let app = TestApp::spawn_limited(Backend::Sqlite, limits(CALLER_RATE, 0, 10))
        .await
        .expect("sqlite");

    let till = app.client("default", ALL_SCOPES).await;
    let other_till = app.client("default", ALL_SCOPES).await;
    let (passed, reply) = until_refused(|| app.get("/v1/vouchers", &till.token)).await;
    assert_eq!(passed, BURST);
    refused(&reply);
    assert_eq!(reply.json["status"], 429);
    assert_eq!(reply.json["code"], "TOO_MANY_REQUESTS");
    app.get("/v1/vouchers", &other_till.token)
        .await
        .expect(StatusCode::OK);
    app.advance(Duration::seconds(1));
    let (passed, _) = until_refused(|| app.get("/v1/vouchers", &till.token)).await;
    assert_eq!(passed, CALLER_RATE as usize, "one second refills five");

    let hotel = merchant(&app).await;
    let history = format!("{BASE}/history");
    let (passed, reply) = until_refused(|| app.get(&history, &hotel.token)).await;
    assert_eq!(passed, BURST);
    refused(&reply);
    assert_eq!(reply.json["status_code"], 429);
    assert_eq!(reply.json["message"], "tooManyRequests");
    assert_eq!(reply.json["is_error"], true);

    let payer_token = payer(&app, "kari@example.no").await;
    let (passed, reply) =
        until_refused(|| app.get("/api/v1/vouchers/contexts", &payer_token)).await;
    assert_eq!(passed, BURST);
    refused(&reply);
    assert_eq!(reply.json["statusCode"], 429);
    assert_eq!(reply.json["code"], "too_many_requests");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_sending_as_fast_as_it_can_gets_no_more_than_its_rate() {
    let app = TestApp::spawn_limited(Backend::Sqlite, limits(CALLER_RATE, 0, 10))
        .await
        .expect("sqlite");
    let till = app.client("default", ALL_SCOPES).await;
    // 20 requests a second for 10 seconds of the server's clock.
    let mut answered = 0;
    for _ in 0..200 {
        let reply = app.get("/v1/vouchers", &till.token).await;
        if reply.status != StatusCode::TOO_MANY_REQUESTS {
            answered += 1;
        }
        app.advance(Duration::milliseconds(50));
    }
    // 5 a second plus the burst of 10, give or take the last interval.
    assert!(
        (59..=61).contains(&answered),
        "{answered} requests were answered"
    );
    app.stop().await;
}

/// Requests of the sequential bulk job, and of the parallel burst after it.
const BULK_REQUESTS: usize = 1_000;
const BURST_REQUESTS: usize = 64;

/// Under the default limits, one shop back end (one client, one address) syncs vouchers one
/// after the other as fast as it can, then fires a burst of parallel requests: no 429. The
/// clock stands still, so all of it must fit in what a caller and an address may burst.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_back_end_runs_a_bulk_job_and_a_burst_under_the_defaults() {
    let app = TestApp::spawn_limited(Backend::Sqlite, Limits::default())
        .await
        .expect("sqlite");
    let erp = app.client("default", ALL_SCOPES).await;
    let mut ids = Vec::new();
    for n in 0..BULK_REQUESTS {
        let reply = if n % 2 == 0 {
            let body = json!({ "amount": "10.00", "currency": "EUR", "status": "active" });
            let reply = app.post("/v1/vouchers", &erp.token, body).await;
            ids.extend(reply.json["id"].as_str().map(str::to_string));
            reply
        } else {
            app.get(&format!("/v1/vouchers/{}", ids[ids.len() - 1]), &erp.token)
                .await
        };
        assert!(reply.status.is_success(), "request {n}: {}", reply.text);
    }
    let burst = (0..BURST_REQUESTS).map(|n| {
        let path = format!("/v1/vouchers/{}", ids[n % ids.len()]);
        let (app, token) = (&app, &erp.token);
        async move { app.get(&path, token).await }
    });
    for reply in futures::future::join_all(burst).await {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_address_gets_its_burst_then_429_on_every_face_but_health() {
    let app = TestApp::spawn_limited(Backend::Sqlite, limits(0, CALLER_RATE, 10))
        .await
        .expect("sqlite");
    let anonymous = |method: Method, path: &'static str| {
        let app = &app;
        move || app.send(method.clone(), path, None, None, &[])
    };

    let faces: [(Method, &str); 6] = [
        (Method::GET, "/v1/vouchers"),
        (Method::POST, "/api/v1/connect/reservations/create"),
        (Method::GET, "/api/v1/vouchers/contexts"),
        (Method::GET, "/admin/api/v1/tenants"),
        (Method::GET, "/admin/login"),
        (Method::GET, "/openapi.json"),
    ];
    let mut refusals = Vec::new();
    for (method, path) in faces {
        app.advance(Duration::seconds(10));
        let (passed, reply) = until_refused(anonymous(method, path)).await;
        assert_eq!(passed, BURST, "{path}");
        refused(&reply);
        refusals.push(reply);
    }
    assert_eq!(refusals[0].json["code"], "TOO_MANY_REQUESTS");
    assert_eq!(refusals[1].json["message"], "tooManyRequests");
    assert_eq!(refusals[2].json["code"], "too_many_requests");
    assert_eq!(refusals[3].json["error"]["code"], "too_many_requests");
    assert!(refusals[4].text.contains("Too many requests"));
    assert_eq!(refusals[5].json["code"], "TOO_MANY_REQUESTS");

    for _ in 0..50 {
        app.send(Method::GET, "/healthz", None, None, &[])
            .await
            .expect(StatusCode::OK);
    }
    app.stop().await;
}

/// Behind a trusted reverse proxy each forwarded client gets its own burst; from an address not
/// named as a proxy, `X-Forwarded-For` changes nothing (a client cannot pick its address).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_forwarded_client_is_limited_on_its_own() {
    for trusted in [true, false] {
        let app = TestApp::spawn_configured(Backend::Sqlite, |config| {
            config.limits = limits(0, CALLER_RATE, 10);
            if trusted {
                config.trusted_proxies = vec!["127.0.0.1".parse().expect("address")];
            }
        })
        .await
        .expect("sqlite");
        let from = |client: &'static str| {
            let app = &app;
            let forwarded = [("x-forwarded-for", client)];
            move || async move {
                app.send(Method::GET, "/openapi.json", None, None, &forwarded)
                    .await
            }
        };
        let (passed, reply) = until_refused(from("198.51.100.1, 203.0.113.1")).await;
        assert_eq!(passed, BURST);
        refused(&reply);
        let other_client = from("198.51.100.1, 203.0.113.2")().await;
        if trusted {
            assert_eq!(other_client.status, StatusCode::OK, "{}", other_client.text);
        } else {
            refused(&other_client);
        }
        // The left-most entry is the client's own word: changing it changes nothing.
        refused(&from("198.51.100.9, 203.0.113.1")().await);
        app.stop().await;
    }
}

/// Guessing connection pins: 10 attempts a minute per address, then 429 (even for the right
/// pin) until the minute is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_pin_guesses_are_bounded_per_address() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let connect = |pin: String| {
        let app = &app;
        async move {
            app.send(
                Method::POST,
                "/v1/clients/connect",
                None,
                Some(json!({ "pin": pin })),
                &[],
            )
            .await
        }
    };
    let mut answered = 0;
    // One guess every two seconds for five minutes of the clock.
    for guess in 0..150 {
        let reply = connect(format!("{:06}", 100_000 + guess)).await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(reply.json["code"], "TOO_MANY_REQUESTS");
            assert!(reply.headers.contains_key("retry-after"));
        } else {
            answered += 1;
        }
        app.advance(Duration::seconds(2));
    }
    assert_eq!(answered, 50, "10 a minute for 5 minutes");
    app.stop().await;
}

/// The server's address as `host:port`.
fn address(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (at most 15 s); answers what it sent.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(15),
        stream.read_to_end(&mut received),
    )
    .await
    .expect("the server closed the connection");
    if let Err(error) = read {
        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}");
    }
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_heads_get_431() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let long = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    let many = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\n{}Connection: close\r\n\r\n",
        (0..80)
            .map(|i| format!("X-Field-{i}: {i}\r\n"))
            .collect::<String>()
    );
    for head in [long, many] {
        let mut stream = TcpStream::connect(address(&app)).await.expect("connect");
        stream.write_all(head.as_bytes()).await.expect("write");
        let answer = read_to_close(&mut stream).await;
        assert!(
            answer.starts_with("HTTP/1.1 431"),
            "answer: {}",
            answer.lines().next().unwrap_or_default()
        );
    }
    app.send(Method::GET, "/healthz", None, None, &[])
        .await
        .expect(StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_too_slow_with_its_head_is_disconnected() {
    let app = TestApp::spawn_limited(Backend::Sqlite, limits(0, 0, 1))
        .await
        .expect("sqlite");
    let mut stream = TcpStream::connect(address(&app)).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let answer = read_to_close(&mut stream).await;
    assert!(!answer.contains("200 OK"), "answer: {answer}");
    app.send(Method::GET, "/healthz", None, None, &[])
        .await
        .expect(StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_too_slow_with_its_body_gets_408_and_nothing_is_written() {
    let app = TestApp::spawn_limited(Backend::Sqlite, limits(0, 0, 1))
        .await
        .expect("sqlite");
    let till = app.client("default", ALL_SCOPES).await;
    let before = app.voucher_count("default").await;
    let body = json!({ "amount": "10.00", "currency": "EUR", "status": "active" }).to_string();
    let mut stream = TcpStream::connect(address(&app)).await.expect("connect");
    let head = format!(
        "POST /v1/vouchers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        till.token,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream
        .write_all(&body.as_bytes()[..body.len() - 1])
        .await
        .expect("most of the body");
    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "answer: {answer}");
    assert!(answer.contains("\"REQUEST.TIMEOUT\""), "answer: {answer}");
    assert_eq!(app.voucher_count("default").await, before);
    app.stop().await;
}
