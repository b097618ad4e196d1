//! The rule every face shares at the edge, over real HTTP on both stores: text holding the NUL
//! character, in a body, a path or a query, is refused with 400 (Front Payment: 417, its
//! validation status) in the face's envelope, before credentials are even looked at, and
//! nothing is written; a body over 64 KiB gets 413 in the face's envelope, read to its end.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::front_flow::{BASE, merchant};
use crate::support::{ALL_SCOPES, Backend, Reply, TestApp};

/// The JSON text of `{"key": "a<NUL>b"}` with the NUL escaped, as clients send it.
fn with_nul(fields: &str) -> Value {
    Value::String(fields.replace("NUL", "a\\u0000b"))
}

async fn form(app: &TestApp, path: &str, body: &str) -> Reply {
    let response = app
        .http
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    Reply {
        status,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
        headers,
    }
}

#[track_caller]
fn jtl_nul(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(
        reply.json["code"], "REQUEST.NUL_CHARACTER",
        "{}",
        reply.text
    );
}

async fn text_holding_nul_is_refused_at_every_face(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let till = app.client("default", ALL_SCOPES).await;
    let before = app.voucher_count("default").await;

    // JTL: a body field, a path id, a query value, the token form; with and without a token.
    let body = with_nul(r#"{"amount":"10.00","currency":"EUR","status":"active","batch":"NUL"}"#);
    jtl_nul(&app.post("/v1/vouchers", &till.token, body.clone()).await);
    jtl_nul(
        &app.send(Method::POST, "/v1/vouchers", None, Some(body), &[])
            .await,
    );
    jtl_nul(&app.get("/v1/vouchers/%00", &till.token).await);
    jtl_nul(&app.get("/v1/vouchers?code=a%00", &till.token).await);
    jtl_nul(
        &form(
            &app,
            "/oauth/token",
            "grant_type=client_credentials&client_id=a%00b",
        )
        .await,
    );
    assert_eq!(
        app.voucher_count("default").await,
        before,
        "nothing written"
    );
    // A backslash that is itself escaped is text, not NUL.
    let plain = Value::String(
        r#"{"amount":"10.00","currency":"EUR","status":"active","batch":"a\\u0000b"}"#.into(),
    );
    app.post("/v1/vouchers", &till.token, plain)
        .await
        .expect(StatusCode::CREATED);

    // The admin API.
    let reply = app
        .send(
            Method::POST,
            "/admin/api/v1/tenants",
            Some(crate::support::ADMIN_TOKEN),
            Some(with_nul(r#"{"id":"NUL","name":"x"}"#)),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.json["error"]["code"], "nul_character");

    // Front Payment: a path id and a body field.
    let m = merchant(&app).await;
    for reply in [
        app.get(&format!("{BASE}/details/RES%00"), &m.token).await,
        app.post(
            &format!("{BASE}/submit"),
            &m.token,
            with_nul(r#"{"customerDetails":{"name":"NUL"}}"#),
        )
        .await,
    ] {
        assert_eq!(
            reply.status,
            StatusCode::EXPECTATION_FAILED,
            "{}",
            reply.text
        );
        assert_eq!(reply.json["is_error"], true, "{}", reply.text);
    }

    // bleepay: a sign-up e-mail and a wallet code in the path.
    for reply in [
        app.send(
            Method::POST,
            "/api/v1/auth/sign-up",
            None,
            Some(with_nul(
                r#"{"type":"email-password","data":{"email":"NUL","password":"p"}}"#,
            )),
            &[],
        )
        .await,
        app.send(Method::GET, "/api/v1/vouchers/vch_%00", None, None, &[])
            .await,
    ] {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
        assert_eq!(reply.json["statusCode"], 400, "{}", reply.text);
        assert_eq!(reply.json["code"], "validation_failed", "{}", reply.text);
    }

    // The payment page and the console: HTML pages.
    for reply in [
        form(&app, "/pay/RES0000000001", "code=a%00b").await,
        form(&app, "/admin/login", "username=a%00b&password=p").await,
    ] {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
        assert!(reply.text.contains("NUL character"), "{}", reply.text);
    }
    app.integrity_is_clean("default").await;
}

async fn bodies_over_64_kib_get_413_at_every_face(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let till = app.client("default", ALL_SCOPES).await;
    let m = merchant(&app).await;
    let big = json!({ "padding": "x".repeat(70 * 1024) });
    let reply = app.post("/v1/vouchers", &till.token, big.clone()).await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text
    );
    assert_eq!(reply.json["status"], 413);
    let reply = app
        .post(&format!("{BASE}/submit"), &m.token, big.clone())
        .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text
    );
    assert_eq!(reply.json["status_code"], 413);
    let reply = app
        .send(
            Method::POST,
            "/api/v1/auth/sign-up",
            None,
            Some(big.clone()),
            &[],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text
    );
    assert_eq!(reply.json["statusCode"], 413);
    let reply = app.admin(Method::POST, "/tenants", Some(big)).await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text
    );
    assert_eq!(reply.json["error"]["code"], "too_large");
    let reply = form(
        &app,
        "/pay/RES0000000001",
        &format!("code={}", "9".repeat(70 * 1024)),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text
    );
}

on_both_stores!(
    text_holding_nul_is_refused_at_every_face,
    bodies_over_64_kib_get_413_at_every_face,
);
