//! The bleepay face end to end: payer accounts and their vouchers, contexts and payee
//! sign-in, voucher codes reserved, redeemed, resolved and discarded, every error code, the
//! token guards, expiry by the injected clock, the lockout after wrong codes, code uniqueness
//! under 1 000 concurrent reservations, and one voucher used through all three faces at once.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;

use crate::front_flow::{self, BASE as FRONT};
use crate::support::{ALL_SCOPES, Backend, Reply, TestApp};

on_both_stores!(
    a_payer_pays_a_payee_through_a_context,
    refusals_carry_bleepay_codes,
    tokens_are_guarded,
    codes_and_contexts_lapse_with_the_clock,
    wrong_codes_lock_the_context_and_are_throttled,
    a_thousand_concurrent_codes_are_distinct,
    one_voucher_serves_all_three_faces_without_overdraw,
);

const PASSWORD: &str = "correct horse battery";

#[track_caller]
fn bleepay_error(reply: Reply, status: u16, code: &str) -> Reply {
    assert_eq!(reply.status.as_u16(), status, "body: {}", reply.text);
    assert_eq!(reply.json["statusCode"], status, "body: {}", reply.text);
    assert_eq!(reply.json["code"], code, "body: {}", reply.text);
    reply
}

async fn anonymous(app: &TestApp, path: &str, body: Value) -> Reply {
    app.send(Method::POST, path, None, Some(body), &[]).await
}

/// A new payer account by e-mail; answers its token.
pub(crate) async fn payer(app: &TestApp, email: &str) -> String {
    let reply = anonymous(
        app,
        "/api/v1/auth/sign-up",
        json!({ "type": "email-password", "data": { "email": email, "password": PASSWORD } }),
    )
    .await
    .expect(StatusCode::OK);
    assert!(reply.json["id"].as_str().expect("id").starts_with("usr_"));
    reply.json["authorization"]["token"]
        .as_str()
        .expect("token")
        .to_string()
}

/// An active voucher with a chosen code and PIN, made through the JTL face.
async fn voucher(
    app: &TestApp,
    jtl_token: &str,
    code: &str,
    pin: Option<&str>,
    amount: &str,
) -> String {
    let mut body = json!({ "amount": amount, "currency": "EUR", "status": "active", "code": code });
    if let Some(pin) = pin {
        body["pin"] = json!(pin);
    }
    let created = app
        .post("/v1/vouchers", jtl_token, body)
        .await
        .expect(StatusCode::CREATED);
    created.json["id"].as_str().expect("id").to_string()
}

async fn add(app: &TestApp, payer: &str, code: &str, pin: Option<&str>) -> Reply {
    app.post(
        "/api/v1/payers/me/vouchers",
        payer,
        json!({ "code": code, "pin": pin }),
    )
    .await
}

/// Opens a numeric context over the named vouchers; answers its id and code.
async fn open(app: &TestApp, payer: &str, payers: Value) -> (String, String) {
    let reply = app
        .post(
            "/api/v1/vouchers/contexts/context-open",
            payer,
            json!({ "format": "numeric", "payers": payers }),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.json["status"], "OPEN");
    (
        reply.json["id"].as_str().expect("id").to_string(),
        reply.json["code"].as_str().expect("code").to_string(),
    )
}

async fn payee(app: &TestApp, context_code: &str) -> String {
    let reply = anonymous(
        app,
        "/api/v1/auth/sign-in",
        json!({ "type": "resource",
                "data": { "resource": format!("voucher::context::code::{context_code}") } }),
    )
    .await
    .expect(StatusCode::OK);
    reply.json["authorization"]["token"]
        .as_str()
        .expect("token")
        .to_string()
}

async fn reserve(app: &TestApp, token: &str, context_code: &str) -> Reply {
    app.post(
        "/api/v1/vouchers/reserve-voucher",
        token,
        json!({ "code": context_code }),
    )
    .await
}

/// Reserves a code and answers its id.
async fn reserved(app: &TestApp, token: &str, context_code: &str) -> String {
    let reply = reserve(app, token, context_code)
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.json["status"], "RESERVED");
    reply.json["id"].as_str().expect("id").to_string()
}

async fn redeem(app: &TestApp, token: &str, id: &str, amount: &str) -> Reply {
    app.post(
        &format!("/api/v1/vouchers/{id}/redeem-voucher"),
        token,
        json!({ "expectedPayment": { "currency": "EUR", "amount": amount } }),
    )
    .await
}

async fn resolve(app: &TestApp, token: &str, id: &str) -> Reply {
    app.post(
        &format!("/api/v1/vouchers/{id}/resolve-voucher"),
        token,
        json!({ "receipts": [{ "paymentId": "pay_1" }] }),
    )
    .await
}

async fn discard(app: &TestApp, token: &str, id: &str) -> Reply {
    app.post(
        &format!("/api/v1/vouchers/{id}/discard-voucher"),
        token,
        json!({}),
    )
    .await
}

/// The voucher's (remaining, available) as the payer's wallet shows them.
async fn wallet(app: &TestApp, payer: &str, voucher_id: &str) -> (String, String) {
    let list = app
        .get("/api/v1/payers/me/vouchers", payer)
        .await
        .expect(StatusCode::OK);
    let v = list
        .json
        .as_array()
        .expect("array")
        .iter()
        .find(|v| v["voucherId"] == voucher_id)
        .expect("voucher in wallet")
        .clone();
    (
        v["remainingAmount"].as_str().expect("remaining").into(),
        v["availableAmount"].as_str().expect("available").into(),
    )
}

async fn a_payer_pays_a_payee_through_a_context(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let small = voucher(&app, &c.token, "BLEE-SMALL", Some("1111"), "50.00").await;
    let large = voucher(&app, &c.token, "BLEE-LARGE", None, "100.00").await;

    // The payer signs up, signs in again, and adds both vouchers (proving the PIN).
    let first = payer(&app, "Kari@Example.no").await;
    let signed_in = anonymous(
        &app,
        "/api/v1/auth/sign-in",
        json!({ "type": "email-password", "data": { "email": "kari@example.no", "password": PASSWORD } }),
    )
    .await
    .expect(StatusCode::OK);
    let p = signed_in.json["authorization"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_ne!(p, first);
    add(&app, &p, "BLEE-SMALL", Some("1111"))
        .await
        .expect(StatusCode::OK);
    let added = add(&app, &p, "BLEE-LARGE", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(added.json["availableAmount"], "100.00");
    assert_eq!(
        wallet(&app, &first, &small).await,
        ("50.00".into(), "50.00".into())
    );

    // A context over both; its code signs the payee in.
    let (context_id, code) = open(
        &app,
        &p,
        json!([{ "address": "BLEE-SMALL", "pin": "1111" }, { "address": "BLEE-LARGE" }]),
    )
    .await;
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );
    let till = payee(&app, &code).await;

    // 60.00 does not fit the first voucher (50.00): the second holds it.
    let id = reserved(&app, &till, &code).await;
    let fresh = app
        .get(&format!("/api/v1/vouchers/{id}"), &till)
        .await
        .expect(StatusCode::OK);
    let six = fresh.json["code"].as_str().expect("code");
    assert!(
        six.len() == 6 && six.bytes().all(|b| b.is_ascii_digit()),
        "{six}"
    );
    assert_eq!(fresh.json["contextId"], context_id.as_str());
    assert_eq!(fresh.json["type"], Value::Null);
    let redeemed = redeem(&app, &till, &id, "60").await.expect(StatusCode::OK);
    assert_eq!(redeemed.json["status"], "REDEEMED");
    assert_eq!(redeemed.json["type"], "SIMPLE");
    assert_eq!(
        redeemed.json["expectedPayment"],
        json!({ "currency": "EUR", "amount": "60.00" })
    );
    assert_eq!(
        wallet(&app, &p, &large).await,
        ("100.00".into(), "40.00".into())
    );
    // The hold is real for the other faces too.
    app.post(
        "/v1/reservations",
        &c.token,
        json!({ "code": "BLEE-LARGE", "amount": "40.01", "currency": "EUR" }),
    )
    .await
    .jtl_error(422, "VOUCHER.INSUFFICIENT_BALANCE");

    // The payer sees the code in its list and confirms it: a charge of 60.00.
    let payer_view = app.get("/api/v1/vouchers", &p).await.expect(StatusCode::OK);
    assert_eq!(payer_view.json[0]["id"], id.as_str());
    let done = resolve(&app, &p, &id).await.expect(StatusCode::OK);
    assert_eq!(done.json["status"], "RESOLVED");
    let charge_id = done.json["chargeId"].as_str().expect("charge").to_string();
    assert_eq!(
        wallet(&app, &p, &large).await,
        ("40.00".into(), "40.00".into())
    );
    let charge = app
        .get(
            &format!("/v1/vouchers/{large}/charges/{charge_id}"),
            &c.token,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(charge.json["amount"], "60.00");
    let polled = app
        .get(&format!("/api/v1/vouchers/{id}"), &till)
        .await
        .expect(StatusCode::OK);
    assert_eq!(polled.json["status"], "RESOLVED");
    assert_eq!(polled.json["payments"][0]["id"], charge_id.as_str());
    assert_eq!(polled.json["payments"][0]["voucherId"], large.as_str());

    // A second code: 20.00 fits the first voucher; the payee discards it and the hold goes.
    let second = reserved(&app, &till, &code).await;
    redeem(&app, &till, &second, "20.00")
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        wallet(&app, &p, &small).await,
        ("50.00".into(), "30.00".into())
    );
    let dropped = discard(&app, &till, &second).await.expect(StatusCode::OK);
    assert_eq!(dropped.json["status"], "DISCARDED");
    assert_eq!(
        wallet(&app, &p, &small).await,
        ("50.00".into(), "50.00".into())
    );

    // Lists: the payee's context holds both codes; filters by status.
    let all = app
        .get("/api/v1/vouchers", &till)
        .await
        .expect(StatusCode::OK);
    assert_eq!(all.json.as_array().map(Vec::len), Some(2));
    let only = app
        .get("/api/v1/vouchers?status=RESOLVED", &till)
        .await
        .expect(StatusCode::OK);
    assert_eq!(only.json.as_array().map(Vec::len), Some(1));
    let paged = app
        .get("/api/v1/vouchers?limit=1&offset=1", &till)
        .await
        .expect(StatusCode::OK);
    assert_eq!(paged.json[0]["id"], second.as_str());
    let contexts = app
        .get("/api/v1/vouchers/contexts", &p)
        .await
        .expect(StatusCode::OK);
    assert_eq!(contexts.json[0]["id"], context_id.as_str());
    assert_eq!(contexts.json[0]["payers"][1]["voucherId"], large.as_str());

    // The payer closes the context: the payee token stops working, the code is void.
    let closed = app
        .post(
            &format!("/api/v1/vouchers/contexts/{context_id}/context-close"),
            &p,
            json!({ "payeeId": "till-7" }),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(closed.json["status"], "CLOSED");
    assert_eq!(closed.json["payeeId"], "till-7");
    bleepay_error(
        app.get("/api/v1/vouchers", &till).await,
        401,
        "unauthorized",
    );
    bleepay_error(reserve(&app, &p, &code).await, 400, "invalid_code");
    app.integrity_is_clean("default").await;
    app.stop().await;
}

async fn refusals_carry_bleepay_codes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    voucher(&app, &c.token, "BLEE-ONE", Some("2222"), "30.00").await;
    voucher(&app, &c.token, "BLEE-OTHER", None, "30.00").await;
    let p = payer(&app, "ola@example.no").await;

    // Accounts.
    bleepay_error(
        anonymous(&app, "/api/v1/auth/sign-up",
            json!({ "type": "email-password", "data": { "email": "OLA@example.no", "password": PASSWORD } })).await,
        400,
        "already_registered",
    );
    bleepay_error(
        anonymous(&app, "/api/v1/auth/sign-in",
            json!({ "type": "email-password", "data": { "email": "ola@example.no", "password": "wrong password" } })).await,
        401,
        "invalid_credentials",
    );
    let invalid = bleepay_error(
        anonymous(
            &app,
            "/api/v1/auth/sign-up",
            json!({ "type": "email-password", "data": { "email": "x" } }),
        )
        .await,
        400,
        "validation_failed",
    );
    assert_eq!(invalid.json["errors"][0]["property"], "data.email");
    bleepay_error(
        anonymous(
            &app,
            "/api/v1/auth/sign-in",
            json!({ "type": "resource", "data": { "resource": "voucher::context::code::999999" } }),
        )
        .await,
        400,
        "invalid_code",
    );
    bleepay_error(
        app.send(
            Method::POST,
            "/api/v1/auth/sign-in",
            None,
            Some(Value::String("{".into())),
            &[],
        )
        .await,
        400,
        "validation_failed",
    );

    // A wallet app installation signs up and in with its device password.
    let device = json!({ "type": "mobile-device", "data": {
        "installationId": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "password": "device-password-0123456789abcdef" } });
    let app_payer = anonymous(&app, "/api/v1/auth/sign-up", device.clone())
        .await
        .expect(StatusCode::OK);
    let again = anonymous(&app, "/api/v1/auth/sign-in", device.clone())
        .await
        .expect(StatusCode::OK);
    assert!(app_payer.json["id"].is_string());
    assert!(again.json["authorization"]["token"].is_string());
    bleepay_error(
        anonymous(&app, "/api/v1/auth/sign-up", device).await,
        400,
        "already_registered",
    );

    // Wallet and contexts.
    bleepay_error(
        add(&app, &p, "BLEE-ONE", Some("0000")).await,
        400,
        "invalid_voucher",
    );
    bleepay_error(
        add(&app, &p, "NO-SUCH-CODE", None).await,
        400,
        "invalid_voucher",
    );
    add(&app, &p, "BLEE-ONE", Some("2222"))
        .await
        .expect(StatusCode::OK);
    bleepay_error(
        add(&app, &p, "BLEE-ONE", Some("2222")).await,
        400,
        "already_added",
    );
    bleepay_error(
        app.post(
            "/api/v1/vouchers/contexts/context-open",
            &p,
            json!({ "format": "numeric", "payers": [{ "address": "BLEE-OTHER" }] }),
        )
        .await,
        400,
        "voucher_not_registered",
    );
    bleepay_error(
        app.post(
            "/api/v1/vouchers/contexts/context-open",
            &p,
            json!({ "format": "numeric", "payers": [{ "address": "BLEE-ONE" }] }),
        )
        .await,
        400,
        "voucher_not_registered",
    );
    bleepay_error(
        app.post(
            "/api/v1/vouchers/contexts/context-open",
            &p,
            json!({ "format": "numeric" }),
        )
        .await,
        400,
        "validation_failed",
    );
    let (context_id, code) =
        open(&app, &p, json!([{ "address": "BLEE-ONE", "pin": "2222" }])).await;
    bleepay_error(
        app.get("/api/v1/vouchers/contexts/ctx_nope", &p).await,
        404,
        "not_found",
    );
    bleepay_error(
        app.get("/api/v1/vouchers/contexts?limit=0", &p).await,
        400,
        "validation_failed",
    );

    // Codes.
    let till = payee(&app, &code).await;
    let id = reserved(&app, &till, &code).await;
    bleepay_error(resolve(&app, &p, &id).await, 400, "not_redeemed");
    bleepay_error(
        redeem(&app, &till, &id, "30.01").await,
        400,
        "insufficient_funds",
    );
    bleepay_error(
        redeem(&app, &till, &id, "1.001").await,
        400,
        "validation_failed",
    );
    // A JSON number is read from its literal text, never through a float: this one has more
    // decimals than money has, however close it is to 0.10.
    let literal: serde_json::Value = serde_json::from_str(
        r#"{ "expectedPayment": { "currency": "EUR", "amount": 0.1000000000000000000001 } }"#,
    )
    .expect("a JSON body");
    bleepay_error(
        app.post(
            &format!("/api/v1/vouchers/{id}/redeem-voucher"),
            &till,
            literal,
        )
        .await,
        400,
        "validation_failed",
    );
    bleepay_error(
        app.post(
            &format!("/api/v1/vouchers/{id}/redeem-voucher"),
            &till,
            json!({ "expectedPayment": { "currency": "NOK", "amount": "1" } }),
        )
        .await,
        400,
        "insufficient_funds",
    );
    redeem(&app, &till, &id, "30").await.expect(StatusCode::OK);
    bleepay_error(redeem(&app, &till, &id, "1").await, 400, "already_redeemed");
    resolve(&app, &p, &id).await.expect(StatusCode::OK);
    bleepay_error(resolve(&app, &p, &id).await, 400, "already_resolved");
    bleepay_error(discard(&app, &till, &id).await, 400, "already_resolved");
    let second = reserved(&app, &till, &code).await;
    discard(&app, &p, &second).await.expect(StatusCode::OK);
    bleepay_error(
        discard(&app, &till, &second).await,
        400,
        "already_discarded",
    );
    bleepay_error(
        redeem(&app, &till, &second, "1").await,
        400,
        "already_discarded",
    );
    bleepay_error(
        app.get("/api/v1/vouchers/vch_nope", &till).await,
        404,
        "not_found",
    );
    bleepay_error(
        app.get("/api/v1/vouchers?status=LOST", &till).await,
        400,
        "validation_failed",
    );
    bleepay_error(
        app.post(
            &format!("/api/v1/vouchers/contexts/{context_id}/context-close"),
            &p,
            json!({}),
        )
        .await,
        400,
        "validation_failed",
    );
    app.post(
        &format!("/api/v1/vouchers/contexts/{context_id}/context-close"),
        &p,
        json!({ "payeeId": null }),
    )
    .await
    .expect(StatusCode::OK);
    bleepay_error(
        app.post(
            &format!("/api/v1/vouchers/contexts/{context_id}/context-close"),
            &p,
            json!({ "payeeId": null }),
        )
        .await,
        400,
        "already_closed",
    );
    app.integrity_is_clean("default").await;
    app.stop().await;
}

async fn tokens_are_guarded(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    voucher(&app, &c.token, "BLEE-G1", None, "30.00").await;
    voucher(&app, &c.token, "BLEE-G2", None, "30.00").await;
    let p = payer(&app, "guard@example.no").await;
    let stranger = payer(&app, "stranger@example.no").await;
    add(&app, &p, "BLEE-G1", None).await.expect(StatusCode::OK);
    add(&app, &stranger, "BLEE-G2", None)
        .await
        .expect(StatusCode::OK);
    let (context_id, code) = open(&app, &p, json!([{ "address": "BLEE-G1" }])).await;
    let (_, other_code) = open(&app, &stranger, json!([{ "address": "BLEE-G2" }])).await;
    let till = payee(&app, &code).await;
    let other_till = payee(&app, &other_code).await;

    // No token, a wrong token, another face's token.
    bleepay_error(
        app.send(Method::GET, "/api/v1/vouchers", None, None, &[])
            .await,
        401,
        "unauthorized",
    );
    bleepay_error(
        app.get("/api/v1/vouchers", "not-a-token").await,
        401,
        "unauthorized",
    );
    bleepay_error(
        app.get("/api/v1/vouchers", &c.token).await,
        401,
        "unauthorized",
    );

    // A payee token acts only on voucher codes of its context.
    bleepay_error(
        app.get("/api/v1/vouchers/contexts", &till).await,
        403,
        "forbidden",
    );
    bleepay_error(
        app.get(&format!("/api/v1/vouchers/contexts/{context_id}"), &till)
            .await,
        403,
        "forbidden",
    );
    bleepay_error(add(&app, &till, "BLEE-G1", None).await, 403, "forbidden");
    bleepay_error(
        app.post(
            "/api/v1/vouchers/contexts/context-open",
            &till,
            json!({ "format": "numeric", "payers": [{ "address": "BLEE-G1" }] }),
        )
        .await,
        403,
        "forbidden",
    );
    bleepay_error(reserve(&app, &till, &other_code).await, 400, "invalid_code");
    let id = reserved(&app, &till, &code).await;
    bleepay_error(
        app.get(&format!("/api/v1/vouchers/{id}"), &other_till)
            .await,
        404,
        "not_found",
    );
    bleepay_error(redeem(&app, &other_till, &id, "1").await, 404, "not_found");
    redeem(&app, &till, &id, "5").await.expect(StatusCode::OK);
    bleepay_error(resolve(&app, &till, &id).await, 403, "forbidden");

    // Another payer sees neither the context nor the code, and cannot resolve it.
    bleepay_error(
        app.get(
            &format!("/api/v1/vouchers/contexts/{context_id}"),
            &stranger,
        )
        .await,
        404,
        "not_found",
    );
    bleepay_error(
        app.get(&format!("/api/v1/vouchers/{id}"), &stranger).await,
        404,
        "not_found",
    );
    bleepay_error(resolve(&app, &stranger, &id).await, 404, "not_found");
    bleepay_error(
        app.post(
            &format!("/api/v1/vouchers/contexts/{context_id}/context-close"),
            &stranger,
            json!({ "payeeId": null }),
        )
        .await,
        404,
        "not_found",
    );
    // A registered payer may act as a payee with a context code: it then sees that code.
    let by_payer = reserved(&app, &stranger, &code).await;
    app.get(&format!("/api/v1/vouchers/{by_payer}"), &stranger)
        .await
        .expect(StatusCode::OK);
    resolve(&app, &p, &id).await.expect(StatusCode::OK);
    app.integrity_is_clean("default").await;
    app.stop().await;
}

async fn codes_and_contexts_lapse_with_the_clock(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let v = voucher(&app, &c.token, "BLEE-CLOCK", None, "10.00").await;
    let p = payer(&app, "clock@example.no").await;
    add(&app, &p, "BLEE-CLOCK", None)
        .await
        .expect(StatusCode::OK);
    let (context_id, code) = open(&app, &p, json!([{ "address": "BLEE-CLOCK" }])).await;
    let till = payee(&app, &code).await;
    let id = reserved(&app, &till, &code).await;
    redeem(&app, &till, &id, "10").await.expect(StatusCode::OK);
    assert_eq!(wallet(&app, &p, &v).await.1, "0.00");

    // Two minutes on, the unresolved code reads DISCARDED and holds nothing.
    app.advance(Duration::seconds(119));
    let live = app
        .get(&format!("/api/v1/vouchers/{id}"), &till)
        .await
        .expect(StatusCode::OK);
    assert_eq!(live.json["status"], "REDEEMED");
    app.advance(Duration::seconds(1));
    let lapsed = app
        .get(&format!("/api/v1/vouchers/{id}"), &till)
        .await
        .expect(StatusCode::OK);
    assert_eq!(lapsed.json["status"], "DISCARDED");
    assert_eq!(wallet(&app, &p, &v).await.1, "10.00");
    bleepay_error(resolve(&app, &p, &id).await, 400, "expired");
    let discarded = app
        .get("/api/v1/vouchers?status=DISCARDED", &till)
        .await
        .expect(StatusCode::OK);
    assert_eq!(discarded.json.as_array().map(Vec::len), Some(1));

    // Ten minutes after opening, the context reads CLOSED and its code and payee token lapse.
    app.advance(Duration::minutes(8));
    let ctx = app
        .get(&format!("/api/v1/vouchers/contexts/{context_id}"), &p)
        .await
        .expect(StatusCode::OK);
    assert_eq!(ctx.json["status"], "CLOSED");
    assert_eq!(ctx.json["closedReason"], "expired");
    bleepay_error(
        app.get("/api/v1/vouchers", &till).await,
        401,
        "unauthorized",
    );
    bleepay_error(
        anonymous(&app, "/api/v1/auth/sign-in",
            json!({ "type": "resource", "data": { "resource": format!("voucher::context::code::{code}") } })).await,
        400,
        "invalid_code",
    );
    bleepay_error(
        app.post(
            &format!("/api/v1/vouchers/contexts/{context_id}/context-close"),
            &p,
            json!({ "payeeId": null }),
        )
        .await,
        400,
        "already_closed",
    );
    // The payer token lives an hour (the tenant's token lifetime).
    app.advance(Duration::minutes(50));
    bleepay_error(app.get("/api/v1/vouchers", &p).await, 401, "unauthorized");
    app.integrity_is_clean("default").await;
    app.stop().await;
}

async fn wrong_codes_lock_the_context_and_are_throttled(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    voucher(&app, &c.token, "BLEE-LOCK", None, "10.00").await;
    let p = payer(&app, "lock@example.no").await;
    add(&app, &p, "BLEE-LOCK", None)
        .await
        .expect(StatusCode::OK);
    let (context_id, code) = open(&app, &p, json!([{ "address": "BLEE-LOCK" }])).await;
    let till = payee(&app, &code).await;
    let wrong = if code == "000000" { "000001" } else { "000000" };

    // The payee's fifth wrong code closes its context.
    for _ in 0..5 {
        bleepay_error(reserve(&app, &till, wrong).await, 400, "invalid_code");
    }
    let ctx = app
        .get(&format!("/api/v1/vouchers/contexts/{context_id}"), &p)
        .await
        .expect(StatusCode::OK);
    assert_eq!(ctx.json["status"], "CLOSED");
    assert_eq!(ctx.json["closedReason"], "locked");
    bleepay_error(reserve(&app, &till, &code).await, 401, "unauthorized");

    // A registered caller guessing context codes is held to 20 misses a minute.
    let guesser = payer(&app, "guesser@example.no").await;
    let mut answers = Vec::new();
    for guess in 0..25 {
        let reply = reserve(&app, &guesser, &format!("{:06}", 900_000 + guess)).await;
        answers.push(reply.status.as_u16());
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(reply.json["code"], "too_many_requests");
            assert!(reply.headers.get("retry-after").is_some());
        }
    }
    assert_eq!(
        answers.iter().filter(|s| **s == 400).count(),
        20,
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|s| **s == 429).count(),
        5,
        "{answers:?}"
    );

    // Signing in with guessed context codes is held to 10 failures a minute per address.
    let mut sign_ins = Vec::new();
    for guess in 0..12 {
        let reply = anonymous(&app, "/api/v1/auth/sign-in",
            json!({ "type": "resource", "data": { "resource": format!("voucher::context::code::{:06}", 800_000 + guess) } })).await;
        sign_ins.push(reply.status.as_u16());
    }
    assert_eq!(
        sign_ins.iter().filter(|s| **s == 429).count(),
        2,
        "{sign_ins:?}"
    );
    // The window passes.
    app.advance(Duration::seconds(61));
    bleepay_error(reserve(&app, &guesser, "999999").await, 400, "invalid_code");
    app.stop().await;
}

async fn a_thousand_concurrent_codes_are_distinct(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    voucher(&app, &c.token, "BLEE-MANY", None, "10.00").await;
    let p = payer(&app, "many@example.no").await;
    add(&app, &p, "BLEE-MANY", None)
        .await
        .expect(StatusCode::OK);
    let (_, code) = open(&app, &p, json!([{ "address": "BLEE-MANY" }])).await;
    let till = payee(&app, &code).await;
    let mut tasks = Vec::new();
    for _ in 0..1_000 {
        let (http, base, till, code) = (
            app.http.clone(),
            app.base.clone(),
            till.clone(),
            code.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let response = http
                .post(format!("{base}/api/v1/vouchers/reserve-voucher"))
                .bearer_auth(&till)
                .json(&json!({ "code": code }))
                .send()
                .await
                .expect("sent");
            assert_eq!(response.status(), StatusCode::OK);
            let body: Value = response.json().await.expect("json");
            body["code"].as_str().expect("code").to_string()
        }));
    }
    let mut codes = HashSet::new();
    for task in tasks {
        let six = task.await.expect("task");
        assert!(
            six.len() == 6 && six.bytes().all(|b| b.is_ascii_digit()),
            "{six}"
        );
        assert!(codes.insert(six.clone()), "code {six} handed out twice");
    }
    assert_eq!(codes.len(), 1_000);
    app.stop().await;
}

async fn one_voucher_serves_all_three_faces_without_overdraw(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let v = voucher(&app, &c.token, "BLEE-SHARED", None, "100.00").await;
    // Front Payment holds 45.00 on it.
    let m = front_flow::merchant(&app).await;
    let mut body = front_flow::submit_body(&app, None);
    body["chargeLimit"] = json!(1000);
    let submitted = app
        .post(&format!("{FRONT}/submit"), &m.token, body)
        .await
        .expect(StatusCode::CREATED);
    let reservation = submitted.json["data"]["reservationUuid"]
        .as_str()
        .expect("id")
        .to_string();
    let (status, _) = front_flow::pay(&app, &reservation, "BLEE-SHARED").await;
    assert_eq!(status, StatusCode::OK);
    // A bleepay payer owns it too.
    let p = payer(&app, "shared@example.no").await;
    add(&app, &p, "BLEE-SHARED", None)
        .await
        .expect(StatusCode::OK);
    let (_, code) = open(&app, &p, json!([{ "address": "BLEE-SHARED" }])).await;
    let till = payee(&app, &code).await;

    // 18 spenders of 5.00 at once against 55.00 available: tills, the merchant, the payee.
    let mut tasks = Vec::new();
    for i in 0..18 {
        let (http, base) = (app.http.clone(), app.base.clone());
        let (jtl, merchant, till, payer_token, code, reservation) = (
            c.token.clone(),
            m.token.clone(),
            till.clone(),
            p.clone(),
            code.clone(),
            reservation.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let post = |path: String, token: String, body: Value| {
                let http = http.clone();
                let base = base.clone();
                async move {
                    let response = http.post(format!("{base}{path}")).bearer_auth(token).json(&body).send().await.expect("sent");
                    let status = response.status();
                    (status, response.json::<Value>().await.unwrap_or(Value::Null))
                }
            };
            match i % 3 {
                0 => {
                    let (s, r) = post("/v1/reservations".into(), jtl.clone(),
                        json!({ "code": "BLEE-SHARED", "amount": "5.00", "currency": "EUR" })).await;
                    if s != StatusCode::CREATED { return 0; }
                    let rid = r["id"].as_str().expect("id").to_string();
                    let (s, _) = post(format!("/v1/reservations/{rid}/charge"), jtl, json!({ "order_number": format!("o{i}") })).await;
                    i64::from(s == StatusCode::CREATED) * 500
                }
                1 => {
                    let (s, _) = post(format!("{FRONT}/charge/{reservation}"), merchant,
                        json!({ "products": [{"name": "Extra", "rate": 5, "tax": 0, "amount": 5}], "grandTotal": 5 })).await;
                    i64::from(s == StatusCode::ACCEPTED) * 500
                }
                _ => {
                    let (s, r) = post("/api/v1/vouchers/reserve-voucher".into(), till.clone(), json!({ "code": code })).await;
                    assert_eq!(s, StatusCode::OK);
                    let id = r["id"].as_str().expect("id").to_string();
                    let (s, _) = post(format!("/api/v1/vouchers/{id}/redeem-voucher"), till,
                        json!({ "expectedPayment": { "currency": "EUR", "amount": "5" } })).await;
                    if s != StatusCode::OK { return 0; }
                    let (s, _) = post(format!("/api/v1/vouchers/{id}/resolve-voucher"), payer_token, json!({})).await;
                    i64::from(s == StatusCode::OK) * 500
                }
            }
        }));
    }
    let mut spent = 0;
    for task in tasks {
        spent += task.await.expect("task");
    }
    let left = front_flow::remaining(&app, &c.token, &v).await;
    let left_minor: i64 = left.replace('.', "").parse().expect("amount");
    assert_eq!(
        left_minor,
        10_000 - spent,
        "remaining {left}, spent {spent}"
    );
    assert!(
        left_minor >= 4_500,
        "the Front Payment hold stays covered: {left}"
    );
    assert!(spent > 0, "something was paid");
    app.integrity_is_clean("default").await;
    app.stop().await;
}
