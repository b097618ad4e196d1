//! The JTL face's success paths and ledger rules, end to end.

use reqwest::{Method, StatusCode};
use serde_json::json;
use time::Duration;

use crate::support::{ALL_SCOPES, Backend, Reply, TestApp};

on_both_stores!(
    quickstart_flow_reaches_a_charged_refunded_and_recharged_voucher,
    a_new_reservation_supersedes_and_a_released_one_frees_the_money,
    reservations_expire_after_thirty_minutes,
    charging_twice_with_the_same_order_number_returns_the_same_charge,
    refunds_are_limited_to_the_charge,
    a_refund_never_lifts_a_voucher_past_the_balance_limit,
    idempotency_keys_replay_the_first_answer,
    tenants_do_not_see_each_other,
    connection_pins_work_once_and_for_thirty_minutes,
    tokens_expire_and_disconnect_revokes_them,
    concurrent_reserve_and_charge_never_overdraw,
    lists_paginate_with_absolute_links_and_filters,
    vouchers_update_status_and_delete_by_the_rules,
);

async fn quickstart_flow_reaches_a_charged_refunded_and_recharged_voucher(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let created = app
        .post(
            "/v1/vouchers",
            &c.token,
            json!({ "amount": "10.00", "currency": "EUR" }),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(created.json["status"], "inactive");
    assert_eq!(created.json["valid_until"], json!(null));
    assert_eq!(created.json["remaining_amount"], "10.00");
    assert_eq!(created.json["deletable"], true);
    assert_eq!(created.json["client_id"], json!(c.id));
    let id = created.json["id"].as_str().expect("id").to_string();
    let code = created.json["code"].as_str().expect("code").to_string();
    assert_eq!(id.len(), 16);
    assert_eq!(code.len(), 12);
    // An inactive voucher cannot be reserved.
    app.post(
        "/v1/reservations",
        &c.token,
        json!({ "amount": "5.00", "currency": "EUR", "code": code }),
    )
    .await
    .jtl_error(422, "VOUCHER.INACTIVE");
    let active = app
        .patch(
            &format!("/v1/vouchers/{id}/status"),
            &c.token,
            json!({ "status": "active" }),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(active.json["valid_until"], "2029-03-01T09:00:00+00:00");
    assert!(
        active.json.get("code").is_none(),
        "secrets only on /complete and create"
    );
    let reservation = app
        .post(
            "/v1/reservations",
            &c.token,
            json!({ "amount": "5.00", "currency": "EUR", "code": code }),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(reservation.json["valid_until"], "2026-03-01T09:30:00+00:00");
    assert_eq!(reservation.json["voucher_id"], json!(id));
    let rid = reservation.json["id"].as_str().expect("reservation id");
    let charge = app
        .post(
            &format!("/v1/reservations/{rid}/charge"),
            &c.token,
            json!({ "order_number": "ORDER-001" }),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(charge.json["type"], "charge");
    assert_eq!(charge.json["amount"], "5.00");
    let charge_id = charge.json["id"].as_str().expect("charge id");
    let refund = app
        .post(
            &format!("/v1/charges/{charge_id}/refund"),
            &c.token,
            json!({ "amount": "2.50", "currency": "EUR" }),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(
        (
            refund.json["type"].as_str(),
            refund.json["order_number"].as_str()
        ),
        (Some("refund"), Some("ORDER-001"))
    );
    let recharge = app
        .post("/v1/vouchers/recharge", &c.token, json!({ "code": code, "amount": "10.00", "currency": "EUR", "order_number": "RECHARGE-001" }))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(recharge.json["type"], "recharge");
    let voucher = app
        .get(&format!("/v1/vouchers/{id}"), &c.token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(voucher.json["remaining_amount"], "17.50");
    assert_eq!(voucher.json["deletable"], false);
    let complete = app
        .get(&format!("/v1/vouchers/{id}/complete"), &c.token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(complete.json["code"], json!(code));
    assert_eq!(complete.json["pin"], json!(null));
    let charges = app
        .get(&format!("/v1/vouchers/{id}/charges"), &c.token)
        .await
        .expect(StatusCode::OK);
    let kinds: Vec<_> = charges.json["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|c| c["type"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(kinds, ["charge", "refund", "recharge"]);
    let one = app
        .get(&format!("/v1/vouchers/{id}/charges/{charge_id}"), &c.token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(one.json["id"], json!(charge_id));
    app.integrity_is_clean("default").await;
}

async fn a_new_reservation_supersedes_and_a_released_one_frees_the_money(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (_, code) = app.active_voucher(&c.token, "10.00").await;
    let reserve = |amount: &'static str| {
        app.post(
            "/v1/reservations",
            &c.token,
            json!({ "amount": amount, "currency": "EUR", "code": code }),
        )
    };
    let first = reserve("8.00").await.expect(StatusCode::CREATED);
    let second = reserve("10.00").await.expect(StatusCode::CREATED);
    let first_id = first.json["id"].as_str().expect("id");
    let second_id = second.json["id"].as_str().expect("id");
    app.post(
        &format!("/v1/reservations/{first_id}/charge"),
        &c.token,
        json!({ "order_number": "A" }),
    )
    .await
    .jtl_error(422, "RESERVATION.EXPIRED");
    let read = app
        .get(&format!("/v1/reservations/{first_id}"), &c.token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(read.json["status"], "superseded");
    // A refused reservation leaves the live one alone.
    reserve("10.01")
        .await
        .jtl_error(422, "VOUCHER.INSUFFICIENT_BALANCE");
    assert_eq!(
        app.get(&format!("/v1/reservations/{second_id}"), &c.token)
            .await
            .json["status"],
        "live"
    );
    app.send(
        Method::DELETE,
        &format!("/v1/reservations/{second_id}"),
        Some(&c.token),
        None,
        &[],
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    app.send(
        Method::DELETE,
        &format!("/v1/reservations/{second_id}"),
        Some(&c.token),
        None,
        &[],
    )
    .await
    .jtl_error(422, "RESERVATION.EXPIRED");
    app.post(
        &format!("/v1/reservations/{second_id}/charge"),
        &c.token,
        json!({ "order_number": "B" }),
    )
    .await
    .jtl_error(422, "RESERVATION.EXPIRED");
    app.get("/v1/reservations/unknown", &c.token)
        .await
        .jtl_error(404, "RESERVATION.NOT_FOUND");
    app.integrity_is_clean("default").await;
}

async fn reservations_expire_after_thirty_minutes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (id, code) = app.active_voucher(&c.token, "10.00").await;
    let r = app
        .post(
            "/v1/reservations",
            &c.token,
            json!({ "amount": "10.00", "currency": "EUR", "code": code }),
        )
        .await
        .expect(StatusCode::CREATED);
    let rid = r.json["id"].as_str().expect("id");
    app.advance(Duration::minutes(29));
    assert_eq!(
        app.get(&format!("/v1/vouchers/{id}"), &c.token).await.json["remaining_amount"],
        "10.00"
    );
    assert_eq!(
        app.get(&format!("/v1/reservations/{rid}"), &c.token)
            .await
            .json["status"],
        "live"
    );
    app.advance(Duration::minutes(1));
    app.post(
        &format!("/v1/reservations/{rid}/charge"),
        &c.token,
        json!({ "order_number": "LATE" }),
    )
    .await
    .jtl_error(422, "RESERVATION.EXPIRED");
    assert_eq!(
        app.get(&format!("/v1/reservations/{rid}"), &c.token)
            .await
            .json["status"],
        "expired"
    );
    assert_eq!(
        app.get(&format!("/v1/vouchers/{id}"), &c.token).await.json["remaining_amount"],
        "10.00"
    );
    app.integrity_is_clean("default").await;
}

async fn charging_twice_with_the_same_order_number_returns_the_same_charge(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (id, code) = app.active_voucher(&c.token, "10.00").await;
    let r = app
        .post(
            "/v1/reservations",
            &c.token,
            json!({ "amount": "4.00", "currency": "EUR", "code": code }),
        )
        .await
        .expect(StatusCode::CREATED);
    let path = format!(
        "/v1/reservations/{}/charge",
        r.json["id"].as_str().expect("id")
    );
    let first = app
        .post(&path, &c.token, json!({ "order_number": "O-1" }))
        .await
        .expect(StatusCode::CREATED);
    let again = app
        .post(&path, &c.token, json!({ "order_number": "O-1" }))
        .await
        .expect(StatusCode::OK);
    assert_eq!(first.json, again.json);
    app.post(&path, &c.token, json!({ "order_number": "O-2" }))
        .await
        .jtl_error(422, "RESERVATION.ALREADY_CHARGED");
    assert_eq!(
        app.get(&format!("/v1/vouchers/{id}"), &c.token).await.json["remaining_amount"],
        "6.00"
    );
}

/// Reserves `amount` with `code` and charges the reservation with order number `O`; answers
/// the charge.
async fn reserve_and_charge(app: &TestApp, token: &str, code: &str, amount: &str) -> Reply {
    let r = app
        .post(
            "/v1/reservations",
            token,
            json!({ "amount": amount, "currency": "EUR", "code": code }),
        )
        .await
        .expect(StatusCode::CREATED);
    app.post(
        &format!(
            "/v1/reservations/{}/charge",
            r.json["id"].as_str().expect("id")
        ),
        token,
        json!({ "order_number": "O" }),
    )
    .await
    .expect(StatusCode::CREATED)
}

async fn a_refund_never_lifts_a_voucher_past_the_balance_limit(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (id, code) = app.active_voucher(&c.token, "999999.99").await;
    let charge = reserve_and_charge(&app, &c.token, &code, "10.00").await;
    app.post(
        "/v1/vouchers/recharge",
        &c.token,
        json!({ "code": code, "amount": "10.00", "currency": "EUR", "order_number": "R" }),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post(
        &format!(
            "/v1/charges/{}/refund",
            charge.json["id"].as_str().expect("id")
        ),
        &c.token,
        json!({ "amount": "10.00", "currency": "EUR" }),
    )
    .await
    .jtl_error(422, "CHARGE.REFUND.LIMIT_EXCEEDED");
    let voucher = app
        .get(&format!("/v1/vouchers/{id}"), &c.token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(voucher.json["remaining_amount"], "999999.99");
    app.integrity_is_clean("default").await;
}

async fn refunds_are_limited_to_the_charge(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (id, code) = app.active_voucher(&c.token, "10.00").await;
    let charge = reserve_and_charge(&app, &c.token, &code, "4.00").await;
    let refund_path = format!(
        "/v1/charges/{}/refund",
        charge.json["id"].as_str().expect("id")
    );
    app.post(
        &refund_path,
        &c.token,
        json!({ "amount": "3.00", "currency": "EUR" }),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post(
        &refund_path,
        &c.token,
        json!({ "amount": "1.01", "currency": "EUR" }),
    )
    .await
    .jtl_error(422, "CHARGE.REFUND.EXCEEDS_CHARGE");
    app.post(
        &refund_path,
        &c.token,
        json!({ "amount": "1.00", "currency": "USD" }),
    )
    .await
    .jtl_error(422, "VOUCHER.CURRENCY_MISMATCH");
    // Refunds work on a deactivated voucher: returned goods put value back.
    app.patch(
        &format!("/v1/vouchers/{id}/status"),
        &c.token,
        json!({ "status": "inactive" }),
    )
    .await
    .expect(StatusCode::OK);
    let last = app
        .post(
            &refund_path,
            &c.token,
            json!({ "amount": "1.00", "currency": "EUR" }),
        )
        .await
        .expect(StatusCode::CREATED);
    app.post(
        &format!(
            "/v1/charges/{}/refund",
            last.json["id"].as_str().expect("id")
        ),
        &c.token,
        json!({ "amount": "1.00", "currency": "EUR" }),
    )
    .await
    .jtl_error(422, "CHARGE.NOT_REFUNDABLE");
    app.post(
        "/v1/charges/nope/refund",
        &c.token,
        json!({ "amount": "1.00", "currency": "EUR" }),
    )
    .await
    .jtl_error(404, "CHARGE.NOT_FOUND");
    assert_eq!(
        app.get(&format!("/v1/vouchers/{id}"), &c.token).await.json["remaining_amount"],
        "10.00"
    );
    app.integrity_is_clean("default").await;
}

async fn idempotency_keys_replay_the_first_answer(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (id, _) = app.active_voucher(&c.token, "10.00").await;
    let body = json!({ "id": id, "amount": "1.00", "currency": "EUR", "order_number": "R-1" });
    let (app_ref, token) = (&app, c.token.as_str());
    let send = |body: serde_json::Value, key: &'static str| async move {
        app_ref
            .send(
                Method::POST,
                "/v1/vouchers/recharge",
                Some(token),
                Some(body),
                &[("Idempotency-Key", key)],
            )
            .await
    };
    let first = send(body.clone(), "key-1")
        .await
        .expect(StatusCode::CREATED);
    let replay = send(body.clone(), "key-1")
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(first.text, replay.text);
    assert_eq!(
        replay
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let mut other = body.clone();
    other["amount"] = json!("2.00");
    send(other, "key-1")
        .await
        .jtl_error(422, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(
        app.get(&format!("/v1/vouchers/{id}"), &c.token).await.json["remaining_amount"],
        "11.00"
    );
    app.send(
        Method::POST,
        "/v1/vouchers/recharge",
        Some(&c.token),
        Some(body),
        &[("Idempotency-Key", "has space")],
    )
    .await
    .jtl_error(400, "REQUEST.IDEMPOTENCY_KEY_INVALID");
}

async fn tenants_do_not_see_each_other(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.admin(
        Method::POST,
        "/tenants",
        Some(json!({ "id": "other", "name": "Other shop" })),
    )
    .await
    .expect(StatusCode::CREATED);
    let a = app.client("default", ALL_SCOPES).await;
    let b = app.client("other", ALL_SCOPES).await;
    let (id, code) = app.active_voucher(&a.token, "10.00").await;
    app.get(&format!("/v1/vouchers/{id}"), &b.token)
        .await
        .jtl_error(404, "VOUCHER.NOT_FOUND");
    app.post(
        "/v1/reservations",
        &b.token,
        json!({ "amount": "1.00", "currency": "EUR", "code": code }),
    )
    .await
    .jtl_error(404, "VOUCHER.NOT_FOUND");
    app.post(
        "/v1/vouchers/recharge",
        &b.token,
        json!({ "code": code, "amount": "1.00", "currency": "EUR", "order_number": "X" }),
    )
    .await
    .jtl_error(404, "VOUCHER.NOT_FOUND");
    let r = app
        .post(
            "/v1/reservations",
            &a.token,
            json!({ "amount": "1.00", "currency": "EUR", "code": code }),
        )
        .await
        .expect(StatusCode::CREATED);
    let rid = r.json["id"].as_str().expect("id");
    app.post(
        &format!("/v1/reservations/{rid}/charge"),
        &b.token,
        json!({ "order_number": "X" }),
    )
    .await
    .jtl_error(404, "RESERVATION.NOT_FOUND");
    let listed = app
        .get("/v1/vouchers", &b.token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(listed.json["meta"]["total"], 0);
    // The same code can be issued in the other tenant.
    app.post(
        "/v1/vouchers",
        &b.token,
        json!({ "amount": "1.00", "currency": "EUR", "code": code }),
    )
    .await
    .expect(StatusCode::CREATED);
}

async fn connection_pins_work_once_and_for_thirty_minutes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let group = app
        .admin(
            Method::POST,
            "/tenants/default/client-groups",
            Some(json!({ "name": "G", "scopes": ["read"] })),
        )
        .await;
    let client = app
        .admin(
            Method::POST,
            "/tenants/default/clients",
            Some(json!({ "name": "Till", "client_group_id": group.json["id"] })),
        )
        .await
        .expect(StatusCode::CREATED);
    let pin_path = format!(
        "/tenants/default/clients/{}/pin",
        client.json["id"].as_str().expect("id")
    );
    let pin = app
        .admin(Method::POST, &pin_path, None)
        .await
        .expect(StatusCode::CREATED)
        .json["pin"]
        .clone();
    let connect = |pin: serde_json::Value| {
        app.send(
            Method::POST,
            "/v1/clients/connect",
            None,
            Some(json!({ "pin": pin })),
            &[],
        )
    };
    let connected = connect(pin.clone()).await.expect(StatusCode::OK);
    assert_eq!(connected.json["secret"].as_str().map(str::len), Some(40));
    assert_eq!(connected.json["scopes"], json!([]));
    connect(pin)
        .await
        .invalid("CLIENT.CONNECT", "CLIENT.CONNECT.PIN.INVALID");
    let late = app
        .admin(Method::POST, &pin_path, None)
        .await
        .expect(StatusCode::CREATED)
        .json["pin"]
        .clone();
    app.advance(Duration::minutes(30));
    connect(late)
        .await
        .invalid("CLIENT.CONNECT", "CLIENT.CONNECT.PIN.INVALID");
    connect(json!(null))
        .await
        .invalid("CLIENT.CONNECT", "CLIENT.CONNECT.PIN.REQUIRED");
    connect(json!(12))
        .await
        .invalid("CLIENT.CONNECT", "CLIENT.CONNECT.PIN.STRING");
    // Guessing pins is bounded: one address gets a fixed number of attempts per window.
    let window = Duration::seconds(voucherd_server::state::THROTTLE_WINDOW_SECONDS);
    app.advance(window);
    for _ in 0..voucherd_server::state::CONNECT_ATTEMPTS_PER_WINDOW_MAX {
        connect(json!("GUESSED1"))
            .await
            .invalid("CLIENT.CONNECT", "CLIENT.CONNECT.PIN.INVALID");
    }
    let limited = connect(json!("GUESSED1"))
        .await
        .jtl_error(429, "TOO_MANY_REQUESTS");
    assert!(limited.headers.contains_key("retry-after"));
    app.advance(window);
    connect(json!("GUESSED1"))
        .await
        .invalid("CLIENT.CONNECT", "CLIENT.CONNECT.PIN.INVALID");
}

async fn tokens_expire_and_disconnect_revokes_them(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", &["read", "read-lists"]).await;
    app.get("/v1/vouchers", &c.token)
        .await
        .expect(StatusCode::OK);
    // Scope subsets, unknown scopes and scopes beyond the group.
    let narrow = app
        .token(&c.id, &c.secret, Some("read"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(narrow.json["scope"], "read");
    assert_eq!(narrow.json["token_type"], "Bearer");
    assert_eq!(narrow.json["expires_in"], 3600);
    let narrow = narrow.json["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    app.get("/v1/vouchers", &narrow)
        .await
        .expect(StatusCode::FORBIDDEN);
    assert_eq!(
        app.token(&c.id, &c.secret, Some("manage"))
            .await
            .expect(StatusCode::BAD_REQUEST)
            .json["error"],
        "invalid_scope"
    );
    assert_eq!(
        app.token(&c.id, &c.secret, Some("fly"))
            .await
            .expect(StatusCode::BAD_REQUEST)
            .json["error"],
        "invalid_scope"
    );
    assert_eq!(
        app.token(&c.id, "wrong", None)
            .await
            .expect(StatusCode::UNAUTHORIZED)
            .json["error"],
        "invalid_client"
    );
    // Expiry after one hour.
    app.advance(Duration::minutes(60));
    let expired = app
        .get("/v1/vouchers", &c.token)
        .await
        .jtl_error(401, "UNAUTHENTICATED");
    assert_eq!(
        expired
            .headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    let fresh = app
        .token(&c.id, &c.secret, None)
        .await
        .expect(StatusCode::OK)
        .json["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    app.send(
        Method::POST,
        "/v1/clients/disconnect",
        Some(&fresh),
        None,
        &[],
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    app.get("/v1/vouchers", &fresh)
        .await
        .jtl_error(401, "UNAUTHENTICATED");
    app.token(&c.id, &c.secret, None)
        .await
        .expect(StatusCode::UNAUTHORIZED);
    app.send(Method::GET, "/v1/vouchers", None, None, &[])
        .await
        .jtl_error(401, "UNAUTHENTICATED");
    app.get("/v1/vouchers", "made-up-token")
        .await
        .jtl_error(401, "UNAUTHENTICATED");
}

/// How many tills race for one voucher.
const RACERS: usize = 200;

async fn concurrent_reserve_and_charge_never_overdraw(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (id, code) = app.active_voucher(&c.token, "50.00").await;
    let app = std::sync::Arc::new(app);
    let token = std::sync::Arc::new(c.token.clone());
    let code = std::sync::Arc::new(code);
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let (app, token, code) = (app.clone(), token.clone(), code.clone());
        tasks.push(tokio::spawn(async move {
            let r = app
                .post(
                    "/v1/reservations",
                    &token,
                    json!({ "amount": "1.00", "currency": "EUR", "code": *code }),
                )
                .await;
            assert!(r.status.as_u16() < 500, "{}", r.text);
            let Some(rid) = r.json["id"].as_str() else {
                return false;
            };
            let charge = app
                .post(
                    &format!("/v1/reservations/{rid}/charge"),
                    &token,
                    json!({ "order_number": format!("O-{i}") }),
                )
                .await;
            assert!(charge.status.as_u16() < 500, "{}", charge.text);
            charge.status == StatusCode::CREATED
        }));
    }
    let mut charged = 0;
    for task in tasks {
        if task.await.expect("task") {
            charged += 1;
        }
    }
    let voucher = app
        .get(&format!("/v1/vouchers/{id}"), &token)
        .await
        .expect(StatusCode::OK);
    let remaining = voucher.json["remaining_amount"]
        .as_str()
        .expect("amount")
        .to_string();
    assert!(charged <= 50, "{charged} charges of 1.00 from 50.00");
    assert_eq!(remaining, format!("{}.00", 50 - charged));
    app.integrity_is_clean("default").await;
}

async fn lists_paginate_with_absolute_links_and_filters(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    for i in 0..5 {
        let batch = if i % 2 == 0 { "Winter" } else { "Summer" };
        app.post(
            "/v1/vouchers",
            &c.token,
            json!({ "amount": "1.00", "currency": "EUR", "batch": batch, "id": format!("V-{i}") }),
        )
        .await
        .expect(StatusCode::CREATED);
        app.advance(Duration::seconds(1));
    }
    let page = app
        .get(
            "/v1/vouchers?per_page=2&page=2&filter%5Bbatch%5D=Winter",
            &c.token,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(page.json["meta"]["total"], 3);
    assert_eq!(page.json["meta"]["last_page"], 2);
    assert_eq!(page.json["meta"]["from"], 3);
    assert_eq!(page.json["data"][0]["id"], "V-4");
    assert_eq!(page.json["links"]["next"], json!(null));
    let prev = page.json["links"]["prev"].as_str().expect("prev link");
    assert!(
        prev.starts_with(&app.base)
            && prev.contains("filter%5Bbatch%5D=Winter")
            && prev.ends_with("page=1"),
        "{prev}"
    );
    let clamped = app
        .get("/v1/vouchers?per_page=1000000", &c.token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(clamped.json["meta"]["per_page"], 100);
    let window = app
        .get("/v1/vouchers?filter%5Bcreated_from%5D=2026-03-01T09:00:01%2B00:00&filter%5Bcreated_to%5D=2026-03-01T11:00:03%2B02:00", &c.token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(window.json["meta"]["total"], 3);
    let empty = app
        .get("/v1/vouchers?page=9", &c.token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (
            empty.json["meta"]["from"].clone(),
            empty.json["data"].clone()
        ),
        (json!(null), json!([]))
    );
}

async fn vouchers_update_status_and_delete_by_the_rules(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let created = app
        .post("/v1/vouchers", &c.token, json!({ "amount": "5.00", "currency": "EUR", "sku": "GC-5", "taxable": true, "tax_rate": "19", "validity_value": 2, "validity_interval": "weeks", "data": "{\"foo\": \"bar\"}" }))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(
        (
            created.json["tax_rate"].as_str(),
            created.json["validity_interval"].as_str()
        ),
        (Some("19"), Some("weeks"))
    );
    let id = created.json["id"].as_str().expect("id").to_string();
    let updated = app
        .patch(
            &format!("/v1/vouchers/{id}"),
            &c.token,
            json!({ "sku": "GC-5B", "batch": "Spring", "amount": "99.00" }),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (
            updated.json["sku"].as_str(),
            updated.json["batch"].as_str(),
            updated.json["amount"].as_str()
        ),
        (Some("GC-5B"), Some("Spring"), Some("5.00"))
    );
    let active = app
        .patch(
            &format!("/v1/vouchers/{id}/status"),
            &c.token,
            json!({ "status": "active", "comment": "sold" }),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(active.json["valid_until"], "2026-03-15T09:00:00+00:00");
    let same = app
        .patch(
            &format!("/v1/vouchers/{id}/status"),
            &c.token,
            json!({ "status": "active" }),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(same.json["valid_until"], active.json["valid_until"]);
    // Deactivating releases the live reservation and clears the validity.
    let code = created.json["code"].as_str().expect("code");
    let r = app
        .post(
            "/v1/reservations",
            &c.token,
            json!({ "amount": "5.00", "currency": "EUR", "code": code }),
        )
        .await
        .expect(StatusCode::CREATED);
    let inactive = app
        .patch(
            &format!("/v1/vouchers/{id}/status"),
            &c.token,
            json!({ "status": "inactive" }),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(inactive.json["valid_until"], json!(null));
    assert_eq!(
        app.get(
            &format!("/v1/reservations/{}", r.json["id"].as_str().expect("id")),
            &c.token
        )
        .await
        .json["status"],
        "released"
    );
    let (app_ref, token) = (&app, c.token.as_str());
    let delete = |id: String| async move {
        app_ref
            .send(
                Method::DELETE,
                &format!("/v1/vouchers/{id}"),
                Some(token),
                Some(json!({ "comment": "printed twice" })),
                &[],
            )
            .await
    };
    delete(id.clone()).await.expect(StatusCode::NO_CONTENT);
    app.get(&format!("/v1/vouchers/{id}"), &c.token)
        .await
        .jtl_error(404, "VOUCHER.NOT_FOUND");
    app.post(
        "/v1/vouchers",
        &c.token,
        json!({ "amount": "1.00", "currency": "EUR", "id": id }),
    )
    .await
    .invalid("VOUCHER.CREATE", "VOUCHER.CREATE.CUSTOM_ID.UNIQUE");
    let (used, used_code) = app.active_voucher(&c.token, "5.00").await;
    app.post(
        "/v1/vouchers/recharge",
        &c.token,
        json!({ "code": used_code, "amount": "1.00", "currency": "EUR", "order_number": "R" }),
    )
    .await
    .expect(StatusCode::CREATED);
    delete(used)
        .await
        .jtl_error(422, "VOUCHER.DELETE.NOT_DELETABLE");
    app.integrity_is_clean("default").await;
}
