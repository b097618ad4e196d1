//! What the JTL face answers to missing scopes and to bad input: the documented envelope with a
//! precise code, never a 500, and nothing written.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;

use crate::support::{ALL_SCOPES, Backend, TestApp};

on_both_stores!(
    every_endpoint_refuses_a_token_without_its_scope,
    malformed_bodies_are_refused_in_the_envelope_and_write_nothing,
    money_and_currency_are_parsed_strictly,
    list_queries_are_validated,
    business_refusals_carry_their_codes,
    wrong_codes_and_pins_are_not_an_oracle_and_are_throttled,
);

/// Every JTL operation, the scope it needs, and a body that passes validation.
fn operations(voucher: &str, code: &str) -> Vec<(Method, String, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/v1/vouchers".into(), "read-lists", None),
        (
            Method::POST,
            "/v1/vouchers".into(),
            "manage",
            Some(json!({ "amount": "1.00", "currency": "EUR" })),
        ),
        (Method::GET, format!("/v1/vouchers/{voucher}"), "read", None),
        (
            Method::PATCH,
            format!("/v1/vouchers/{voucher}"),
            "update",
            Some(json!({ "sku": "X" })),
        ),
        (
            Method::DELETE,
            format!("/v1/vouchers/{voucher}"),
            "manage",
            Some(json!({ "comment": "c" })),
        ),
        (
            Method::GET,
            format!("/v1/vouchers/{voucher}/complete"),
            "read-secrets",
            None,
        ),
        (
            Method::PATCH,
            format!("/v1/vouchers/{voucher}/status"),
            "use",
            Some(json!({ "status": "active" })),
        ),
        (
            Method::POST,
            "/v1/vouchers/recharge".into(),
            "recharge",
            Some(
                json!({ "id": voucher, "amount": "1.00", "currency": "EUR", "order_number": "R" }),
            ),
        ),
        (
            Method::GET,
            format!("/v1/vouchers/{voucher}/charges"),
            "read-lists",
            None,
        ),
        (
            Method::GET,
            format!("/v1/vouchers/{voucher}/charges/x"),
            "read",
            None,
        ),
        (
            Method::POST,
            "/v1/reservations".into(),
            "use",
            Some(json!({ "amount": "1.00", "currency": "EUR", "code": code })),
        ),
        (Method::GET, "/v1/reservations/x".into(), "use", None),
        (Method::DELETE, "/v1/reservations/x".into(), "use", None),
        (
            Method::POST,
            "/v1/reservations/x/charge".into(),
            "use",
            Some(json!({ "order_number": "O" })),
        ),
        (
            Method::POST,
            "/v1/charges/x/refund".into(),
            "use",
            Some(json!({ "amount": "1.00", "currency": "EUR" })),
        ),
    ]
}

async fn every_endpoint_refuses_a_token_without_its_scope(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.client("default", ALL_SCOPES).await;
    let (voucher, code) = app.active_voucher(&owner.token, "10.00").await;
    for (method, path, scope, body) in operations(&voucher, &code) {
        // Connecting two clients per operation would pass the per-address connect limit.
        app.advance(Duration::seconds(
            voucherd_server::state::THROTTLE_WINDOW_SECONDS,
        ));
        let others: Vec<&str> = ALL_SCOPES.iter().copied().filter(|s| *s != scope).collect();
        let lacking = app.client("default", &others).await;
        let refused = app
            .send(
                method.clone(),
                &path,
                Some(&lacking.token),
                body.clone(),
                &[],
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{method} {path} without {scope}: {}",
            refused.text
        );
        assert_eq!(refused.json, json!("Forbidden"), "{method} {path}");
        let anonymous = app
            .send(method.clone(), &path, None, body.clone(), &[])
            .await;
        anonymous.jtl_error(401, "UNAUTHENTICATED");
        let allowed = app.client("default", &[scope]).await;
        let answered = app
            .send(method.clone(), &path, Some(&allowed.token), body, &[])
            .await;
        assert!(
            answered.status != StatusCode::FORBIDDEN
                && answered.status != StatusCode::UNAUTHORIZED
                && answered.status.as_u16() < 500,
            "{method} {path} with {scope}: {} {}",
            answered.status,
            answered.text
        );
    }
}

async fn malformed_bodies_are_refused_in_the_envelope_and_write_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let before = app.voucher_count("default").await;
    let raw = |text: &str| Some(Value::String(text.to_string()));
    app.send(
        Method::POST,
        "/v1/vouchers",
        Some(&c.token),
        raw("{\"amount\": \"1.00\","),
        &[],
    )
    .await
    .jtl_error(400, "REQUEST.MALFORMED_JSON");
    app.send(
        Method::POST,
        "/v1/vouchers",
        Some(&c.token),
        raw("[1, 2]"),
        &[],
    )
    .await
    .jtl_error(400, "REQUEST.INVALID_BODY");
    app.send(
        Method::POST,
        "/v1/vouchers",
        Some(&c.token),
        raw("\"text\""),
        &[],
    )
    .await
    .jtl_error(400, "REQUEST.INVALID_BODY");
    let huge = format!(
        "{{\"amount\":\"1.00\",\"currency\":\"EUR\",\"data\":\"{}\"}}",
        "x".repeat(70 * 1024)
    );
    app.send(
        Method::POST,
        "/v1/vouchers",
        Some(&c.token),
        Some(Value::String(huge)),
        &[],
    )
    .await
    .jtl_error(413, "REQUEST.TOO_LARGE");
    let wrong_types = app
        .post("/v1/vouchers", &c.token, json!({ "id": 7, "code": ["x"], "sku": true, "pin": 1, "batch": "b".repeat(31), "amount": "1.00", "currency": "EUR", "taxable": "yes", "validity_value": "2", "status": "gone", "type": "plastic", "data": {} }))
        .await;
    for code in [
        "VOUCHER.CREATE.CUSTOM_ID.STRING",
        "VOUCHER.CREATE.CODE.STRING",
        "VOUCHER.CREATE.SKU.STRING",
        "VOUCHER.CREATE.PIN.STRING",
        "VOUCHER.CREATE.BATCH.MAX:30",
        "VOUCHER.CREATE.TAXABLE.BOOLEAN",
        "VOUCHER.CREATE.VALIDITY_VALUE.INTEGER",
        "VOUCHER.CREATE.STATUS.IN:ACTIVE,INACTIVE",
        "VOUCHER.CREATE.TYPE.IN:DIGITAL,PRINT",
        "VOUCHER.CREATE.DATA.STRING",
    ] {
        assert!(
            wrong_types.text.contains(code),
            "{code} missing in {}",
            wrong_types.text
        );
    }
    assert_eq!(wrong_types.json["errors"][0]["property"], "custom_id");
    app.post(
        "/v1/vouchers",
        &c.token,
        json!({ "amount": "1.00", "currency": "EUR", "taxable": true }),
    )
    .await
    .invalid(
        "VOUCHER.CREATE",
        "VOUCHER.CREATE.TAX_RATE.REQUIRED_IF:TAXABLE,TRUE",
    );
    app.post(
        "/v1/vouchers",
        &c.token,
        json!({ "amount": "1.00", "currency": "EUR", "valid_until": "2027-01-01T00:00:00+00:00" }),
    )
    .await
    .invalid(
        "VOUCHER.CREATE",
        "VOUCHER.CREATE.VALID_UNTIL.PROHIBITED_UNLESS:STATUS,ACTIVE",
    );
    app.post(
        "/v1/vouchers",
        &c.token,
        json!({ "amount": "1.00", "currency": "EUR", "status": "active", "valid_until": "soon" }),
    )
    .await
    .invalid("VOUCHER.CREATE", "VOUCHER.CREATE.VALID_UNTIL.DATE");
    app.post("/v1/reservations", &c.token, json!({}))
        .await
        .invalid("RESERVATION.CREATE", "RESERVATION.CREATE.CODE.REQUIRED");
    app.post(
        "/v1/reservations/x/charge",
        &c.token,
        json!({ "order_number": 5 }),
    )
    .await
    .invalid(
        "RESERVATION.CHARGE",
        "RESERVATION.CHARGE.ORDER_NUMBER.STRING",
    );
    app.send(Method::DELETE, "/v1/vouchers/x", Some(&c.token), None, &[])
        .await
        .invalid("VOUCHER.DELETE", "VOUCHER.DELETE.COMMENT.REQUIRED");
    app.patch("/v1/vouchers/x/status", &c.token, json!({}))
        .await
        .invalid("VOUCHER.STATUS", "VOUCHER.STATUS.STATUS.REQUIRED");
    app.post(
        "/v1/vouchers/recharge",
        &c.token,
        json!({ "amount": "1.00", "currency": "EUR", "order_number": "R" }),
    )
    .await
    .invalid(
        "VOUCHER.RECHARGE",
        "VOUCHER.RECHARGE.CODE.REQUIRED_WITHOUT:ID",
    );
    app.send(Method::GET, "/v1/nothing-here", Some(&c.token), None, &[])
        .await
        .jtl_error(404, "ROUTE.NOT_FOUND");
    assert_eq!(
        app.voucher_count("default").await,
        before,
        "refused requests wrote nothing"
    );
}

async fn money_and_currency_are_parsed_strictly(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (_, code) = app.active_voucher(&c.token, "10.00").await;
    let before = app.voucher_count("default").await;
    for (amount, rule) in [
        (json!("10.5"), "REGEX"),
        (json!("1e3"), "REGEX"),
        (json!("-1.00"), "MIN:0"),
        (json!(10.00), "STRING"),
        (json!("ten"), "NUMERIC"),
        (json!("1234567.00"), "REGEX"),
        (json!(null), "REQUIRED"),
    ] {
        app.post(
            "/v1/vouchers",
            &c.token,
            json!({ "amount": amount, "currency": "EUR" }),
        )
        .await
        .invalid("VOUCHER.CREATE", &format!("VOUCHER.CREATE.AMOUNT.{rule}"));
    }
    for (currency, rule) in [
        (json!("XYZ"), "VALID_CURRENCY"),
        (json!("JPY"), "VALID_CURRENCY"),
        (json!("EURO"), "SIZE:3"),
        (json!(null), "REQUIRED"),
    ] {
        app.post(
            "/v1/vouchers",
            &c.token,
            json!({ "amount": "1.00", "currency": currency }),
        )
        .await
        .invalid("VOUCHER.CREATE", &format!("VOUCHER.CREATE.CURRENCY.{rule}"));
    }
    app.post(
        "/v1/reservations",
        &c.token,
        json!({ "amount": "0.00", "currency": "EUR", "code": code }),
    )
    .await
    .invalid("RESERVATION.CREATE", "RESERVATION.CREATE.AMOUNT.MIN:0.01");
    let zero = app
        .post(
            "/v1/vouchers",
            &c.token,
            json!({ "amount": "0.00", "currency": "EUR" }),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(zero.json["amount"], "0.00");
    let max = app
        .post(
            "/v1/vouchers",
            &c.token,
            json!({ "amount": "999999.99", "currency": "EUR" }),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(max.json["remaining_amount"], "999999.99");
    assert_eq!(app.voucher_count("default").await, before + 2);
}

async fn list_queries_are_validated(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    app.get("/v1/vouchers?filter%5Bcreated_from%5D=yesterday", &c.token)
        .await
        .invalid("VOUCHER.LIST", "VOUCHER.LIST.FILTER.CREATED_FROM.DATE");
    app.get("/v1/vouchers?page=0", &c.token)
        .await
        .invalid("VOUCHER.LIST", "VOUCHER.LIST.PAGE.MIN:1");
    app.get("/v1/vouchers?per_page=lots", &c.token)
        .await
        .invalid("VOUCHER.LIST", "VOUCHER.LIST.PER_PAGE.INTEGER");
    app.get("/v1/vouchers?filter%5Bstatus%5D=expired", &c.token)
        .await
        .invalid(
            "VOUCHER.LIST",
            "VOUCHER.LIST.FILTER.STATUS.IN:ACTIVE,INACTIVE",
        );
    let (id, _) = app.active_voucher(&c.token, "1.00").await;
    app.get(
        &format!("/v1/vouchers/{id}/charges?filter%5Bcreated_to%5D=2026-13-01T00:00:00Z"),
        &c.token,
    )
    .await
    .invalid("CHARGE.LIST", "CHARGE.LIST.FILTER.CREATED_TO.DATE");
    app.get("/v1/vouchers/unknown/charges", &c.token)
        .await
        .jtl_error(404, "VOUCHER.NOT_FOUND");
    app.get(&format!("/v1/vouchers/{id}/charges/unknown"), &c.token)
        .await
        .jtl_error(404, "CHARGE.NOT_FOUND");
}

async fn business_refusals_carry_their_codes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (id, code) = app.active_voucher(&c.token, "10.00").await;
    let reserve = |amount: &str, currency: &str| {
        app.post(
            "/v1/reservations",
            &c.token,
            json!({ "amount": amount, "currency": currency, "code": code }),
        )
    };
    reserve("10.01", "EUR")
        .await
        .jtl_error(422, "VOUCHER.INSUFFICIENT_BALANCE");
    reserve("1.00", "USD")
        .await
        .jtl_error(422, "VOUCHER.CURRENCY_MISMATCH");
    let recharge = |amount: &str| {
        app.post(
            "/v1/vouchers/recharge",
            &c.token,
            json!({ "id": id, "amount": amount, "currency": "EUR", "order_number": "R" }),
        )
    };
    recharge("999990.00")
        .await
        .jtl_error(422, "VOUCHER.RECHARGE.LIMIT_EXCEEDED");
    recharge("999989.99").await.expect(StatusCode::CREATED);
    app.post("/v1/vouchers/recharge", &c.token, json!({ "id": id, "code": "not-its-code", "amount": "1.00", "currency": "EUR", "order_number": "R" }))
        .await
        .jtl_error(404, "VOUCHER.NOT_FOUND");
    app.get("/v1/vouchers/unknown", &c.token)
        .await
        .jtl_error(404, "VOUCHER.NOT_FOUND");
    // Three years later the voucher has expired (and the client needs a fresh token).
    app.advance(Duration::days(3 * 366));
    let token = app
        .token(&c.id, &c.secret, None)
        .await
        .expect(StatusCode::OK)
        .json["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let reserve = |amount: &str, currency: &str| {
        app.post(
            "/v1/reservations",
            &token,
            json!({ "amount": amount, "currency": currency, "code": code }),
        )
    };
    let recharge = |amount: &str| {
        app.post(
            "/v1/vouchers/recharge",
            &token,
            json!({ "id": id, "amount": amount, "currency": "EUR", "order_number": "R" }),
        )
    };
    reserve("1.00", "EUR")
        .await
        .jtl_error(422, "VOUCHER.EXPIRED");
    recharge("1.00").await.jtl_error(422, "VOUCHER.EXPIRED");
    let duplicate = app
        .post(
            "/v1/vouchers",
            &token,
            json!({ "amount": "1.00", "currency": "EUR", "id": id, "code": code }),
        )
        .await;
    let duplicate = duplicate.invalid("VOUCHER.CREATE", "VOUCHER.CREATE.CUSTOM_ID.UNIQUE");
    assert!(
        duplicate.text.contains("VOUCHER.CREATE.CODE.UNIQUE"),
        "{}",
        duplicate.text
    );
}

async fn wrong_codes_and_pins_are_not_an_oracle_and_are_throttled(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let created = app
        .post("/v1/vouchers", &c.token, json!({ "amount": "10.00", "currency": "EUR", "status": "active", "code": "CARD-1", "pin": "4711" }))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(created.json["pin"], "4711");
    let reserve = |code: &str, pin: Option<&str>| {
        let mut body = json!({ "amount": "1.00", "currency": "EUR", "code": code });
        if let Some(pin) = pin {
            body["pin"] = json!(pin);
        }
        app.post("/v1/reservations", &c.token, body)
    };
    let unknown = reserve("NO-SUCH-CODE", None)
        .await
        .jtl_error(404, "VOUCHER.NOT_FOUND");
    let wrong_pin = reserve("CARD-1", Some("0000"))
        .await
        .jtl_error(404, "VOUCHER.NOT_FOUND");
    assert_eq!(
        unknown.json, wrong_pin.json,
        "an unknown code and a wrong PIN look the same"
    );
    reserve("CARD-1", None)
        .await
        .jtl_error(404, "VOUCHER.NOT_FOUND");
    reserve("CARD-1", Some("4711"))
        .await
        .expect(StatusCode::CREATED);
    for _ in 3..voucherd_server::state::CODE_MISSES_PER_WINDOW_MAX {
        reserve("GUESS", None)
            .await
            .jtl_error(404, "VOUCHER.NOT_FOUND");
    }
    let throttled = reserve("CARD-1", Some("4711"))
        .await
        .jtl_error(429, "TOO_MANY_REQUESTS");
    assert!(throttled.headers.contains_key("retry-after"));
    app.advance(Duration::seconds(
        voucherd_server::state::THROTTLE_WINDOW_SECONDS,
    ));
    reserve("CARD-1", Some("4711"))
        .await
        .expect(StatusCode::CREATED);
}
