//! The write endpoints of every face, in process over a real SQLite file: the first byte picks
//! an endpoint, the second whether an `Idempotency-Key` goes along, the rest is the body. No
//! answer may be a 5xx, every JSON answer must be JSON, and the ledger must stay consistent
//! (the integrity check runs every few hundred inputs).

#![no_main]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use tower::ServiceExt;
use voucherd_server::clock::SystemClock;
use voucherd_server::config::Limits;
use voucherd_server::{Config, app};

const ADMIN_TOKEN: &str = "fuzz-admin-token-0123456789";
const INTEGRITY_EVERY: u64 = 500;

/// Who calls an endpoint.
#[derive(Clone, Copy)]
enum Auth {
    Anonymous,
    Admin,
    Jtl,
    Merchant,
    Payer,
}

/// The server, and the credentials and ids the endpoints need.
struct Fixture {
    app: axum::Router,
    jtl: String,
    merchant: String,
    payer: String,
    endpoints: Vec<(Method, String, Auth)>,
}

/// The fixture on its runtime, and how many inputs ran.
struct World {
    runtime: tokio::runtime::Runtime,
    fixture: Fixture,
    runs: AtomicU64,
}

struct Answer {
    status: StatusCode,
    json: Option<Value>,
    is_json: bool,
}

async fn call(
    app: &axum::Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
    idempotency_key: Option<&str>,
    content_type: &str,
) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(key) = idempotency_key {
        request = request.header("idempotency-key", key);
    }
    let mut request = request.body(Body::from(body)).expect("request");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    Answer {
        status,
        json: serde_json::from_slice(&bytes).ok(),
        is_json,
    }
}

async fn setup_json(
    app: &axum::Router,
    method: Method,
    path: &str,
    token: &str,
    body: Value,
) -> Value {
    let answer = call(
        app,
        method,
        path,
        Some(token),
        body.to_string().into_bytes(),
        None,
        "application/json",
    )
    .await;
    assert!(answer.status.is_success(), "{path}: {}", answer.status);
    answer.json.expect("json")
}

fn text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} in {value}"))
        .to_string()
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let fixture = runtime.block_on(setup());
        World {
            runtime,
            fixture,
            runs: AtomicU64::new(0),
        }
    })
}

/// A fresh database with a JTL client, a merchant token, a payer, a voucher, a JTL
/// reservation and charge, and a Front Payment reservation.
async fn setup() -> Fixture {
    let dir = std::path::Path::new("/dev/shm")
        .to_path_buf()
        .join(format!("voucherd-fuzz-{}", std::process::id()));
    let mut config = Config::for_database(&format!("sqlite://{}/voucherd.db", dir.display()));
    config.admin_token = Some(ADMIN_TOKEN.into());
    config.limits = Limits::without_rate_limits();
    let (state, _) = voucherd_server::prepare(&config, Arc::new(SystemClock))
        .await
        .expect("prepared");
    let app = app(state);
    let admin = "/admin/api/v1/tenants/default";

    let scopes = [
        "read",
        "read-lists",
        "read-secrets",
        "use",
        "manage",
        "update",
        "recharge",
    ];
    let group = setup_json(
        &app,
        Method::POST,
        &format!("{admin}/client-groups"),
        ADMIN_TOKEN,
        json!({ "name": "Fuzz", "scopes": scopes }),
    )
    .await;
    let client = setup_json(
        &app,
        Method::POST,
        &format!("{admin}/clients"),
        ADMIN_TOKEN,
        json!({ "name": "Till", "client_group_id": text(&group, "/id") }),
    )
    .await;
    let client_id = text(&client, "/id");
    let pin = setup_json(
        &app,
        Method::POST,
        &format!("{admin}/clients/{client_id}/pin"),
        ADMIN_TOKEN,
        json!({}),
    )
    .await;
    let connected = call(
        &app,
        Method::POST,
        "/v1/clients/connect",
        None,
        json!({ "pin": text(&pin, "/pin") })
            .to_string()
            .into_bytes(),
        None,
        "application/json",
    )
    .await;
    let secret = text(&connected.json.expect("connected"), "/secret");
    let form =
        format!("grant_type=client_credentials&client_id={client_id}&client_secret={secret}");
    let token = call(
        &app,
        Method::POST,
        "/oauth/token",
        None,
        form.into_bytes(),
        None,
        "application/x-www-form-urlencoded",
    )
    .await;
    let jtl = text(&token.json.expect("token"), "/access_token");

    let voucher = setup_json(&app, Method::POST, "/v1/vouchers", &jtl,
        json!({ "amount": "900000.00", "currency": "EUR", "status": "active", "code": "FUZZ-CODE-1", "pin": "1234" })).await;
    let voucher_id = text(&voucher, "/id");
    // A new reservation supersedes the live one: the charged one first, then the live one.
    let reserve = || {
        setup_json(
            &app,
            Method::POST,
            "/v1/reservations",
            &jtl,
            json!({ "amount": "5.00", "currency": "EUR", "code": "FUZZ-CODE-1", "pin": "1234" }),
        )
    };
    let spent = reserve().await;
    let charge = setup_json(
        &app,
        Method::POST,
        &format!("/v1/reservations/{}/charge", text(&spent, "/id")),
        &jtl,
        json!({ "order_number": "FUZZ" }),
    )
    .await;
    let reservation_id = text(&reserve().await, "/id");
    let charge_id = text(&charge, "/id");

    let merchant = text(
        &setup_json(
            &app,
            Method::POST,
            &format!("{admin}/merchant-tokens"),
            ADMIN_TOKEN,
            json!({ "name": "Hotel" }),
        )
        .await,
        "/token",
    );
    let base = "/api/v1/connect/reservations";
    let due = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 86_400)
        .to_string();
    let submitted = setup_json(
        &app,
        Method::POST,
        &format!("{base}/submit"),
        &merchant,
        json!({
            "customerDetails": {
                "type": "private", "countryCode": "+47", "msisdn": "46567468",
                "email": "kari@example.no", "name": "Kari Nordmann", "preferredLanguage": "en",
                "address": { "street": "Gate 1", "zip": "0150", "city": "Oslo", "country": "NO" }
            },
            "orderDate": "01 Mar, 2026",
            "dueDateForPaymentLink": due,
            "sendOrderBy": { "sms": false, "email": true },
            "products": { "0": { "name": "Room", "productId": "R1", "rate": 40, "tax": "12", "amount": 40 } },
            "orderSummary": { "subTotal": "35.71", "totalTax": "4.29", "grandTotal": 40 },
            "callback": { "callbackUrl": null }
        }),
    )
    .await;
    let front_id = submitted
        .pointer("/data/reservationUuid")
        .and_then(Value::as_str)
        .unwrap_or("RES0000000000")
        .to_string();

    let paid = call(
        &app,
        Method::POST,
        &format!("/pay/{front_id}"),
        None,
        b"code=FUZZ-CODE-1&pin=1234".to_vec(),
        None,
        "application/x-www-form-urlencoded",
    )
    .await;
    assert!(
        paid.status.is_success(),
        "paying the Front Payment reservation: {}",
        paid.status
    );

    let signed_up = call(&app, Method::POST, "/api/v1/auth/sign-up", None,
        json!({ "type": "email-password", "data": { "email": "fuzz@example.no", "password": "correct horse battery" } })
            .to_string().into_bytes(), None, "application/json").await;
    let payer = text(&signed_up.json.expect("payer"), "/authorization/token");

    let endpoints = vec![
        (Method::POST, "/v1/vouchers".to_string(), Auth::Jtl),
        (Method::POST, "/v1/vouchers/recharge".to_string(), Auth::Jtl),
        (
            Method::PATCH,
            format!("/v1/vouchers/{voucher_id}/status"),
            Auth::Jtl,
        ),
        (Method::POST, "/v1/reservations".to_string(), Auth::Jtl),
        (
            Method::POST,
            format!("/v1/reservations/{reservation_id}/charge"),
            Auth::Jtl,
        ),
        (
            Method::POST,
            format!("/v1/charges/{charge_id}/refund"),
            Auth::Jtl,
        ),
        (
            Method::POST,
            "/v1/clients/connect".to_string(),
            Auth::Anonymous,
        ),
        (Method::POST, "/oauth/token".to_string(), Auth::Anonymous),
        (Method::POST, format!("{base}/submit"), Auth::Merchant),
        (Method::POST, format!("{base}/create"), Auth::Merchant),
        (
            Method::POST,
            format!("{base}/capture/{front_id}"),
            Auth::Merchant,
        ),
        (
            Method::POST,
            format!("{base}/charge/{front_id}"),
            Auth::Merchant,
        ),
        (
            Method::POST,
            format!("{base}/cancel/{front_id}"),
            Auth::Merchant,
        ),
        (
            Method::POST,
            format!("{base}/complete/{front_id}"),
            Auth::Merchant,
        ),
        (
            Method::POST,
            format!("{base}/refund/{front_id}"),
            Auth::Merchant,
        ),
        (Method::POST, format!("/pay/{front_id}"), Auth::Anonymous),
        (
            Method::POST,
            "/api/v1/auth/sign-up".to_string(),
            Auth::Anonymous,
        ),
        (
            Method::POST,
            "/api/v1/auth/sign-in".to_string(),
            Auth::Anonymous,
        ),
        (
            Method::POST,
            "/api/v1/payers/me/vouchers".to_string(),
            Auth::Payer,
        ),
        (
            Method::POST,
            "/api/v1/vouchers/contexts/context-open".to_string(),
            Auth::Payer,
        ),
        (
            Method::POST,
            "/api/v1/vouchers/reserve-voucher".to_string(),
            Auth::Payer,
        ),
        (
            Method::POST,
            "/api/v1/vouchers/000000/redeem-voucher".to_string(),
            Auth::Payer,
        ),
        (
            Method::POST,
            "/api/v1/vouchers/000000/resolve-voucher".to_string(),
            Auth::Payer,
        ),
        (Method::POST, format!("{admin}/client-groups"), Auth::Admin),
        (Method::POST, format!("{admin}/clients"), Auth::Admin),
        (Method::PUT, format!("{admin}/settings"), Auth::Admin),
        (
            Method::POST,
            format!("{admin}/settings/preview"),
            Auth::Admin,
        ),
        (
            Method::POST,
            "/admin/api/v1/tenants".to_string(),
            Auth::Admin,
        ),
    ];
    Fixture {
        app,
        jtl,
        merchant,
        payer,
        endpoints,
    }
}

fuzz_target!(|data: &[u8]| {
    let [pick, flags, body @ ..] = data else {
        return;
    };
    let world = world();
    let fixture = &world.fixture;
    let (method, path, auth) = &fixture.endpoints[usize::from(*pick) % fixture.endpoints.len()];
    let token = match auth {
        Auth::Anonymous => None,
        Auth::Admin => Some(ADMIN_TOKEN),
        Auth::Jtl => Some(fixture.jtl.as_str()),
        Auth::Merchant => Some(fixture.merchant.as_str()),
        Auth::Payer => Some(fixture.payer.as_str()),
    };
    let key = format!("fuzz-{}", flags >> 1);
    let content_type = if path == "/oauth/token" || path.starts_with("/pay/") {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    world.runtime.block_on(async {
        let answer = call(
            &fixture.app,
            method.clone(),
            path,
            token,
            body.to_vec(),
            (flags & 1 == 1).then_some(key.as_str()),
            content_type,
        )
        .await;
        assert!(
            !answer.status.is_server_error(),
            "{method} {path}: {}",
            answer.status
        );
        assert!(
            !answer.is_json || answer.json.is_some(),
            "{method} {path}: JSON that is not JSON"
        );
        if world.runs.fetch_add(1, Ordering::Relaxed) % INTEGRITY_EVERY == 0 {
            let report = call(
                &fixture.app,
                Method::GET,
                "/admin/api/v1/tenants/default/integrity",
                Some(ADMIN_TOKEN),
                Vec::new(),
                None,
                "application/json",
            )
            .await;
            let report = report.json.expect("integrity report");
            assert_eq!(report["violations"], json!([]), "integrity: {report}");
        }
    });
});
