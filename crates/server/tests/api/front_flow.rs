//! The Front Payment face end to end: submit, the payment page, capture, charge, refund,
//! cancel, complete, history, the error keys, deadlines by the injected clock, callbacks, and
//! one voucher used by the JTL and Front Payment faces at once.

use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use voucherd_domain::front::callback_checksum;
use voucherd_server::clock::Clock;

use crate::support::{ALL_SCOPES, Backend, Reply, TestApp};

on_both_stores!(
    a_reservation_is_paid_captured_charged_refunded_and_completed,
    refusals_carry_front_payments_keys,
    deadlines_follow_the_clock,
    a_charge_may_be_refunded_only_whole_when_the_merchant_says_so,
    callbacks_are_retried_and_carry_the_checksum,
    a_queued_callback_survives_a_restart,
    the_jtl_and_front_payment_faces_share_a_voucher_without_overdraw,
);

pub const BASE: &str = "/api/v1/connect/reservations";

/// A merchant token and its callback secret.
pub struct Merchant {
    pub token: String,
    pub callback_secret: String,
}

pub async fn merchant(app: &TestApp) -> Merchant {
    let created = app
        .admin(
            Method::POST,
            "/tenants/default/merchant-tokens",
            Some(json!({ "name": "Hotel" })),
        )
        .await
        .expect(StatusCode::CREATED);
    Merchant {
        token: created.json["token"].as_str().expect("token").into(),
        callback_secret: created.json["callback_secret"]
            .as_str()
            .expect("secret")
            .into(),
    }
}

/// A submit body for lines of 40.00 and 5.00, due in one day.
pub fn submit_body(app: &TestApp, callback_url: Option<&str>) -> Value {
    let due = (app.clock.now() + Duration::days(1)).unix_timestamp();
    json!({
        "customerDetails": {
            "type": "private", "countryCode": "+47", "msisdn": "46567468",
            "email": "kari@example.no", "name": "Kari Nordmann", "preferredLanguage": "en",
            "address": { "street": "Gate 1", "zip": "0150", "city": "Oslo", "country": "NO" }
        },
        "orderDate": "01 Mar, 2026",
        "dueDateForPaymentLink": due.to_string(),
        "sendOrderBy": { "sms": false, "email": true },
        "products": {
            "0": { "name": "Room", "productId": "R1", "rate": 40, "tax": "12", "amount": 40 },
            "1": { "name": "Breakfast", "productId": null, "rate": "5.00", "tax": 15, "amount": "5" }
        },
        "orderSummary": { "subTotal": "40.06", "totalTax": "4.94", "grandTotal": 45 },
        "callback": { "callbackUrl": callback_url }
    })
}

async fn submit(app: &TestApp, m: &Merchant, callback_url: Option<&str>) -> String {
    let reply = app
        .post(
            &format!("{BASE}/submit"),
            &m.token,
            submit_body(app, callback_url),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(reply.json["message"], "reservationSubmittedSuccessfully");
    let id = reply.json["data"]["reservationUuid"].as_str().expect("id");
    assert!(id.starts_with("RES") && id.len() == 13, "{id}");
    assert!(
        reply.json["data"]["paymentUrl"]
            .as_str()
            .expect("url")
            .ends_with(&format!("/pay/{id}"))
    );
    id.to_string()
}

/// Pays on the payment page with a form post; answers the status and the page.
pub async fn pay(app: &TestApp, id: &str, code: &str) -> (StatusCode, String) {
    pay_with(app, id, &[], code).await
}

/// Pays `id` on the payment page with the vouchers `added` on earlier tries (no PIN) and
/// `code` typed now; answers the status and the page.
pub async fn pay_with(app: &TestApp, id: &str, added: &[&str], code: &str) -> (StatusCode, String) {
    let mut form: Vec<(&str, &str)> = Vec::new();
    for code in added {
        form.extend([
            ("added-code", *code),
            ("added-pin", ""),
            ("added-covers", "0"),
        ]);
    }
    form.extend([("code", code), ("pin", "")]);
    let response = app
        .http
        .post(format!("{}/pay/{id}", app.base))
        .form(&form)
        .send()
        .await
        .expect("sent");
    (response.status(), response.text().await.expect("page"))
}

pub async fn details(app: &TestApp, m: &Merchant, id: &str) -> Value {
    let reply = app
        .get(&format!("{BASE}/details/{id}"), &m.token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.json["message"], "reservationRetrievedSuccessfully");
    reply.json["data"].clone()
}

#[track_caller]
fn front_error(reply: Reply, status: u16, key: &str) {
    assert_eq!(reply.status.as_u16(), status, "body: {}", reply.text);
    assert_eq!(reply.json["status_code"], status, "body: {}", reply.text);
    assert_eq!(reply.json["message"], key, "body: {}", reply.text);
}

pub async fn remaining(app: &TestApp, token: &str, voucher_id: &str) -> String {
    let v = app
        .get(&format!("/v1/vouchers/{voucher_id}"), token)
        .await
        .expect(StatusCode::OK);
    v.json["remaining_amount"]
        .as_str()
        .expect("remaining")
        .into()
}

async fn a_reservation_is_paid_captured_charged_refunded_and_completed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (voucher_id, code) = app.active_voucher(&c.token, "100.00").await;
    let m = merchant(&app).await;
    let id = submit(&app, &m, None).await;
    let sent = details(&app, &m, &id).await;
    assert_eq!(sent["status"], "SENT");
    assert_eq!(sent["grandTotal"], json!(45));
    assert_eq!(sent["productList"][1]["rate"], json!(5));

    let page = app
        .http
        .get(format!("{}/pay/{id}", app.base))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("html");
    assert!(
        page.contains("Breakfast") && page.contains("45.00"),
        "{page}"
    );
    let (status, confirmed) = pay(&app, &id, &code).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert!(
        confirmed.contains("data-status=\"RESERVED\""),
        "{confirmed}"
    );

    let reserved = details(&app, &m, &id).await;
    assert_eq!(reserved["status"], "RESERVED");
    assert!(reserved["paymentDetails"]["reservedAt"].is_i64());
    assert_eq!(reserved["paymentDetails"]["heldAmount"], json!(45));
    let room = reserved["productList"][0]["id"].as_i64().expect("line id");
    let breakfast = reserved["productList"][1]["id"].as_i64().expect("line id");

    let captured = app
        .post(
            &format!("{BASE}/capture/{id}"),
            &m.token,
            json!({ "products": {"0": {"id": room, "amount": 30}}, "grandTotal": 30, "additionalText": "night 1" }),
        )
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(captured.json["message"], "reservationCapturedSuccessfully");
    let cap = captured.json["data"]["uuid"]
        .as_str()
        .expect("CAP")
        .to_string();
    assert!(cap.starts_with("CAP"), "{cap}");
    front_error(
        app.post(
            &format!("{BASE}/capture/{id}"),
            &m.token,
            json!({ "products": [{"id": room, "amount": "10.01"}], "grandTotal": "10.01" }),
        )
        .await,
        400,
        "requestedCaptureAmountExceedAvailableCaptureRunway",
    );
    app.post(
        &format!("{BASE}/capture/{id}"),
        &m.token,
        json!({ "products": [{"id": breakfast, "amount": 5}], "grandTotal": 5 }),
    )
    .await
    .expect(StatusCode::ACCEPTED);

    let charged = app
        .post(
            &format!("{BASE}/charge/{id}"),
            &m.token,
            json!({ "products": {"0": {"name": "Minibar", "productId": null, "rate": 20, "tax": "25", "amount": 20}}, "grandTotal": 20 }),
        )
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(charged.json["message"], "reservationChargedSuccessfully");
    let cha = charged.json["data"]["uuid"]
        .as_str()
        .expect("CHA")
        .to_string();
    assert!(cha.starts_with("CHA"), "{cha}");
    // The charge limit is the reserved total (45): 20 charged, 26 more is too much.
    front_error(
        app.post(
            &format!("{BASE}/charge/{id}"),
            &m.token,
            json!({ "products": [{"name": "Spa", "rate": 26, "tax": 25, "amount": 26}], "grandTotal": 26 }),
        )
        .await,
        400,
        "paymentChargeRunwayExceed",
    );
    // 100 - 30 - 5 - 20 = 45, of which 10 still held for the room.
    assert_eq!(remaining(&app, &c.token, &voucher_id).await, "45.00");

    let refund = |source: &str, reference: &str, line: i64, amount: &str| {
        json!({ "type": "reservation", "source": source, "reference": reference,
                "grandTotal": amount, "products": [{"id": line, "amount": amount}] })
    };
    let refunded = app
        .post(
            &format!("{BASE}/refund/{id}"),
            &m.token,
            refund("captured", &cap, room, "10"),
        )
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(refunded.json["message"], "orderRefundedSuccessfully");
    front_error(
        app.post(
            &format!("{BASE}/refund/{id}"),
            &m.token,
            refund("captured", &cap, room, "20.01"),
        )
        .await,
        400,
        "refundRejectionForAmountExceedRefundableAmount",
    );
    front_error(
        app.post(
            &format!("{BASE}/refund/{id}"),
            &m.token,
            refund("captured", &cap, breakfast, "1"),
        )
        .await,
        400,
        "requestProductIdNotAvailable",
    );
    front_error(
        app.post(
            &format!("{BASE}/refund/{id}"),
            &m.token,
            refund("charged", &cap, room, "1"),
        )
        .await,
        404,
        "refundRejectionForTransactionNotFound",
    );
    let drawn = details(&app, &m, &id).await;
    let charge_line = drawn["chargedProductList"][0]["id"].as_i64().expect("line");
    app.post(
        &format!("{BASE}/refund/{id}"),
        &m.token,
        refund("charged", &cha, charge_line, "20"),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    front_error(
        app.post(
            &format!("{BASE}/refund/{id}"),
            &m.token,
            refund("charged", &cha, charge_line, "1"),
        )
        .await,
        400,
        "refundRejectionForRefundedCancelledInvoicedOrderParamRefunded",
    );

    let completed = app
        .post(
            &format!("{BASE}/complete/{id}"),
            &m.token,
            json!({ "note": "checked out" }),
        )
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(
        completed.json["message"],
        "reservationCompletedSuccessfully"
    );
    assert_eq!(completed.json["data"], Value::Null);
    let done = details(&app, &m, &id).await;
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["isPaid"], true);
    assert_eq!(done["paymentDetails"]["heldAmount"], json!(0));
    assert_eq!(done["paymentDetails"]["capturedAmount"], json!(35));
    assert_eq!(
        done["paymentDetails"]["amountRefunded"]["fromCaptured"],
        json!(10)
    );
    assert_eq!(
        done["paymentDetails"]["amountRefunded"]["fromCharge"],
        json!(20)
    );
    assert_eq!(done["paymentHistory"]["charged"][0]["isRefunded"], true);
    // 100 - 35 captured + 10 refunded = 75; the charge was refunded whole.
    assert_eq!(remaining(&app, &c.token, &voucher_id).await, "75.00");

    let now = app.clock.now().unix_timestamp();
    let history = app
        .get(&format!("{BASE}/history/{}/{}", now - 60, now), &m.token)
        .await
        .expect(StatusCode::OK);
    let titles: Vec<&str> = history.json["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["reservationUuid"] == json!(id))
        .filter_map(|e| e["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        [
            "payment-link-sent-to-customer",
            "payment-link-opened",
            "amount-reserved",
            "amount-captured-from-reservation",
            "amount-captured-from-reservation",
            "amount-charged-from-card",
            "refund-sent-from-captured",
            "refund-sent-from-charged",
            "reservation-completed",
        ]
    );
    app.integrity_is_clean("default").await;
    app.stop().await;
}

async fn refusals_carry_front_payments_keys(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (_, code) = app.active_voucher(&c.token, "100.00").await;
    let m = merchant(&app).await;

    let unauthenticated = app
        .send(
            Method::GET,
            &format!("{BASE}/details/RES0000000000"),
            None,
            None,
            &[],
        )
        .await;
    front_error(unauthenticated, 401, "unauthenticated");
    front_error(
        app.get(&format!("{BASE}/details/RES0000000000"), &m.token)
            .await,
        404,
        "reservationNotFound",
    );
    front_error(
        app.post(
            &format!("{BASE}/cancel/RES0000000000"),
            &m.token,
            json!({ "note": "x" }),
        )
        .await,
        404,
        "orderNotFound",
    );
    let mut bad = submit_body(&app, None);
    bad["products"]["0"]["rate"] = Value::Null;
    bad["orderSummary"]["grandTotal"] = json!("45.001");
    let invalid = app.post(&format!("{BASE}/submit"), &m.token, bad).await;
    assert_eq!(
        invalid.json["errors"],
        json!([
            "The products.0.rate field is required.",
            "The order summary.grand total field must have 0-2 decimal places.",
        ]),
        "{}",
        invalid.text
    );
    front_error(invalid, 417, "payloadValidationErrors");

    let id = submit(&app, &m, None).await;
    front_error(
        app.post(
            &format!("{BASE}/charge/{id}"),
            &m.token,
            json!({ "products": [{"name": "X", "rate": 1, "tax": 0, "amount": 1}], "grandTotal": 1 }),
        )
        .await,
        404,
        "paymentCardNotFound",
    );
    front_error(
        app.post(
            &format!("{BASE}/complete/{id}"),
            &m.token,
            json!({ "note": "x" }),
        )
        .await,
        400,
        "prerequisiteFailedToCompleteReservation",
    );
    let charge_mismatch = app
        .post(
            &format!("{BASE}/charge/{id}"),
            &m.token,
            json!({ "products": [{"name": "X", "rate": 1, "tax": 0, "amount": 1}], "grandTotal": 2 }),
        )
        .await;
    assert_eq!(
        charge_mismatch.json["errors"],
        json!(["The grand total must equal the sum of the products' amounts."])
    );
    front_error(charge_mismatch, 417, "payloadValidationErrors");

    let (status, page) = pay(&app, &id, "NOT-A-CODE").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("not correct"), "{page}");
    let (status, _) = pay(&app, &id, &code).await;
    assert_eq!(status, StatusCode::OK);
    let (status, page) = pay(&app, &id, &code).await;
    assert_eq!(status, StatusCode::CONFLICT, "a paid link cannot pay twice");
    assert!(page.contains("already made"), "{page}");

    let room = details(&app, &m, &id).await["productList"][0]["id"]
        .as_i64()
        .expect("id");
    app.post(
        &format!("{BASE}/capture/{id}"),
        &m.token,
        json!({ "products": [{"id": room, "amount": 1}], "grandTotal": 1 }),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    front_error(
        app.send(
            Method::GET,
            &format!("{BASE}/cancel/{id}"),
            Some(&m.token),
            Some(json!({ "note": "GET with a body, as documented" })),
            &[],
        )
        .await,
        400,
        "prerequisiteFailedToCancelReservation",
    );
    app.post(
        &format!("{BASE}/complete/{id}"),
        &m.token,
        json!({ "note": "done" }),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    front_error(
        app.post(
            &format!("{BASE}/cancel/{id}"),
            &m.token,
            json!({ "note": "x" }),
        )
        .await,
        400,
        "reservationStatusAlreadyCompleted",
    );

    // Cancel before anything was drawn frees the money; then nothing more can be drawn.
    let other = submit(&app, &m, None).await;
    let (status, _) = pay(&app, &other, &code).await;
    assert_eq!(status, StatusCode::OK);
    let cancelled = app
        .send(
            Method::GET,
            &format!("{BASE}/cancel/{other}"),
            Some(&m.token),
            Some(json!({ "note": "guest cancelled" })),
            &[],
        )
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(cancelled.json["message"], "cancelledOrderSuccessfully");
    front_error(
        app.post(
            &format!("{BASE}/capture/{other}"),
            &m.token,
            json!({ "products": [{"id": room, "amount": 1}], "grandTotal": 1 }),
        )
        .await,
        400,
        "reservationStatusAlreadyCancelled",
    );
    app.integrity_is_clean("default").await;
    app.stop().await;
}

async fn a_charge_may_be_refunded_only_whole_when_the_merchant_says_so(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (voucher_id, code) = app.active_voucher(&c.token, "100.00").await;
    let m = merchant(&app).await;
    let mut body = submit_body(&app, None);
    body["settings"] = json!({ "isChargePartiallyRefundable": false });
    let id = app
        .post(&format!("{BASE}/submit"), &m.token, body)
        .await
        .expect(StatusCode::CREATED)
        .json["data"]["reservationUuid"]
        .as_str()
        .expect("id")
        .to_string();
    let (status, _) = pay(&app, &id, &code).await;
    assert_eq!(status, StatusCode::OK);
    let charged = app
        .post(
            &format!("{BASE}/charge/{id}"),
            &m.token,
            json!({ "products": [{"name": "Minibar", "rate": 10, "tax": 25, "amount": 10}], "grandTotal": 10 }),
        )
        .await
        .expect(StatusCode::ACCEPTED);
    let cha = charged.json["data"]["uuid"]
        .as_str()
        .expect("CHA")
        .to_string();
    let line = details(&app, &m, &id).await["chargedProductList"][0]["id"]
        .as_i64()
        .expect("line");
    let refund = |amount: &str| {
        json!({ "type": "reservation", "source": "charged", "reference": cha,
                "grandTotal": amount, "products": [{"id": line, "amount": amount}] })
    };
    front_error(
        app.post(&format!("{BASE}/refund/{id}"), &m.token, refund("4.99"))
            .await,
        400,
        "refundRejectionForPartialRefundOfChargeNotAllowed",
    );
    // The charge left the balance (the 45.00 held is not spent).
    assert_eq!(remaining(&app, &c.token, &voucher_id).await, "90.00");
    app.post(&format!("{BASE}/refund/{id}"), &m.token, refund("10"))
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(remaining(&app, &c.token, &voucher_id).await, "100.00");
    app.integrity_is_clean("default").await;
    app.stop().await;
}

async fn deadlines_follow_the_clock(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (_, code) = app.active_voucher(&c.token, "500.00").await;
    let m = merchant(&app).await;

    let unpaid = submit(&app, &m, None).await;
    let paid = submit(&app, &m, None).await;
    let (status, _) = pay(&app, &paid, &code).await;
    assert_eq!(status, StatusCode::OK);
    let room = details(&app, &m, &paid).await["productList"][0]["id"]
        .as_i64()
        .expect("id");
    let resend = json!({ "email": "kari@example.no" });
    app.post(&format!("{BASE}/resend/{unpaid}"), &m.token, resend.clone())
        .await
        .expect(StatusCode::ACCEPTED);

    app.advance(Duration::days(1));
    assert_eq!(details(&app, &m, &unpaid).await["status"], "EXPIRED");
    front_error(
        app.post(&format!("{BASE}/resend/{unpaid}"), &m.token, resend)
            .await,
        400,
        "prerequisiteFailedToResendReservation",
    );
    let (status, page) = pay(&app, &unpaid, &code).await;
    assert_eq!(status, StatusCode::GONE, "an expired link cannot be paid");
    assert!(page.contains("expired"), "{page}");
    front_error(
        app.post(
            &format!("{BASE}/cancel/{unpaid}"),
            &m.token,
            json!({ "note": "x" }),
        )
        .await,
        400,
        "prerequisiteFailedToCancelReservation",
    );

    let capture = json!({ "products": [{"id": room, "amount": 1}], "grandTotal": 1 });
    app.advance(Duration::days(29));
    app.post(&format!("{BASE}/capture/{paid}"), &m.token, capture.clone())
        .await
        .expect(StatusCode::ACCEPTED);
    app.advance(Duration::days(1));
    front_error(
        app.post(&format!("{BASE}/capture/{paid}"), &m.token, capture)
            .await,
        400,
        "paymentCaptureDeadlineExceed",
    );
    let charge = json!({ "products": [{"name": "Late fee", "rate": 1, "tax": 0, "amount": 1}], "grandTotal": 1 });
    app.post(&format!("{BASE}/charge/{paid}"), &m.token, charge.clone())
        .await
        .expect(StatusCode::ACCEPTED);
    app.advance(Duration::days(60));
    front_error(
        app.post(&format!("{BASE}/charge/{paid}"), &m.token, charge)
            .await,
        400,
        "paymentChargeDeadlineExceed",
    );
    app.integrity_is_clean("default").await;
    app.stop().await;
}

/// A loopback HTTP receiver that answers 500 to the first request and 200 after, and keeps
/// every request line.
async fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    receiver_on(listener, true)
}

/// A callback receiver on `listener` that keeps each request line; with `fail_first` it
/// answers the first request 500 and all others 200.
fn receiver_on(
    listener: tokio::net::TcpListener,
    fail_first: bool,
) -> (String, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = format!(
        "http://{}/callbacks/front",
        listener.local_addr().expect("addr")
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = vec![0u8; 8192];
            let read = socket.read(&mut buffer).await.unwrap_or(0);
            // A connection closed before a request (a node stopped mid-send) is no callback.
            if read == 0 {
                continue;
            }
            let head = String::from_utf8_lossy(&buffer[..read]).to_string();
            let line = head.lines().next().unwrap_or_default().to_string();
            let first = {
                let mut seen = kept.lock().expect("lock");
                seen.push(line);
                seen.len() == 1
            };
            let status = if first && fail_first {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let answer =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    (url, seen)
}

/// Waits, up to a bound, until `seen` holds `count` requests.
async fn wait_for(seen: &Arc<Mutex<Vec<String>>>, count: usize) -> Vec<String> {
    for _ in 0..200 {
        let now = seen.lock().expect("lock").clone();
        if now.len() >= count {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "expected {count} callbacks, got {:?}",
        seen.lock().expect("lock")
    );
}

async fn callbacks_are_retried_and_carry_the_checksum(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (_, code) = app.active_voucher(&c.token, "100.00").await;
    let m = merchant(&app).await;
    let (url, seen) = receiver().await;
    let id = submit(&app, &m, Some(&url)).await;
    let (status, _) = pay(&app, &id, &code).await;
    assert_eq!(status, StatusCode::OK);
    let first = wait_for(&seen, 1).await;
    // The first attempt failed: the retry waits for its backoff on the injected clock.
    app.advance(Duration::seconds(6));
    let both = wait_for(&seen, 2).await;
    let before_send_time = |line: &str| {
        line.split("&timestamp=")
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        before_send_time(&first[0]),
        before_send_time(&both[1]),
        "the retry sends the same callback"
    );
    let target = both[1]
        .split_whitespace()
        .nth(1)
        .expect("request target")
        .to_string();
    let query = target.split_once('?').expect("query").1;
    let params: Vec<(String, String)> = form_urlencoded_pairs(query);
    let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "orderUuid",
            "status",
            "createdAt",
            "paymentMethod",
            "amount",
            "timestamp",
            "checksum"
        ]
    );
    assert_eq!(params[0].1, id);
    assert_eq!(params[1].1, "RESEVRED");
    assert_eq!(params[4].1, "45.00");
    let values: Vec<&str> = params[..6].iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(params[6].1, callback_checksum(&values, &m.callback_secret));
    app.stop().await;
}

async fn a_queued_callback_survives_a_restart(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (_, code) = app.active_voucher(&c.token, "100.00").await;
    let m = merchant(&app).await;
    // The merchant's receiver is down while the reservation is paid: nothing listens there.
    let address = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        probe.local_addr().expect("addr")
    };
    let id = submit(&app, &m, Some(&format!("http://{address}/callbacks/front"))).await;
    let (status, _) = pay(&app, &id, &code).await;
    assert_eq!(status, StatusCode::OK);
    let (database_url, clock) = (app.database_url.clone(), app.clock.clone());
    app.stop().await;

    // The receiver comes back, and so does voucherd, on the same database.
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .expect("bind the receiver's address again");
    let (_, seen) = receiver_on(listener, false);
    let app = TestApp::spawn_on(&database_url, clock).await;
    // Past any backoff and any lease the stopped node held.
    app.advance(Duration::minutes(2));
    let delivered = wait_for(&seen, 1).await;
    let target = delivered[0]
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("target in {delivered:?}"));
    let params = form_urlencoded_pairs(target.split_once('?').expect("query").1);
    assert_eq!(params[0], ("orderUuid".to_string(), id.clone()));
    assert_eq!(params[1], ("status".to_string(), "RESEVRED".to_string()));
    app.stop().await;
}

fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("%2B", "+").replace("%3A", ":")))
        .collect()
}

async fn the_jtl_and_front_payment_faces_share_a_voucher_without_overdraw(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (voucher_id, code) = app.active_voucher(&c.token, "100.00").await;
    let m = merchant(&app).await;
    let mut body = submit_body(&app, None);
    body["chargeLimit"] = json!(1000);
    let reply = app
        .post(&format!("{BASE}/submit"), &m.token, body)
        .await
        .expect(StatusCode::CREATED);
    let id = reply.json["data"]["reservationUuid"]
        .as_str()
        .expect("id")
        .to_string();
    let (status, _) = pay(&app, &id, &code).await;
    assert_eq!(status, StatusCode::OK);
    // 45 held for the reservation: JTL may reserve at most 55.
    app.post(
        "/v1/reservations",
        &c.token,
        json!({ "code": code, "amount": "55.01", "currency": "EUR" }),
    )
    .await
    .jtl_error(422, "VOUCHER.INSUFFICIENT_BALANCE");

    // Tills (JTL) and the merchant (Front Payment charges) spend 5.00 at a time, at once.
    let mut tasks = Vec::new();
    for i in 0..12 {
        let http = app.http.clone();
        let base = app.base.clone();
        let (jtl_token, merchant_token, code, id) =
            (c.token.clone(), m.token.clone(), code.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                let reserved = http
                    .post(format!("{base}/v1/reservations"))
                    .bearer_auth(&jtl_token)
                    .json(&json!({ "code": code, "amount": "5.00", "currency": "EUR" }))
                    .send()
                    .await
                    .expect("sent");
                if reserved.status() != StatusCode::CREATED {
                    return 0;
                }
                let r: Value = reserved.json().await.expect("json");
                let rid = r["id"].as_str().expect("id");
                let charged = http
                    .post(format!("{base}/v1/reservations/{rid}/charge"))
                    .bearer_auth(&jtl_token)
                    .json(&json!({ "order_number": format!("o{i}") }))
                    .send()
                    .await
                    .expect("sent");
                i32::from(charged.status() == StatusCode::CREATED) * 500
            } else {
                let charged = http
                    .post(format!("{base}{BASE}/charge/{id}"))
                    .bearer_auth(&merchant_token)
                    .json(&json!({ "products": [{"name": "Extra", "rate": 5, "tax": 0, "amount": 5}], "grandTotal": 5 }))
                    .send()
                    .await
                    .expect("sent");
                i32::from(charged.status() == StatusCode::ACCEPTED) * 500
            }
        }));
    }
    let mut spent = 0;
    for task in tasks {
        spent += task.await.expect("task");
    }
    let left = remaining(&app, &c.token, &voucher_id).await;
    let left_minor: i32 = left.replace('.', "").parse().expect("amount");
    assert_eq!(
        left_minor,
        10_000 - spent,
        "remaining {left}, spent {spent}"
    );
    assert!(
        left_minor >= 4_500,
        "the reservation's 45.00 stays held: {left}"
    );
    app.integrity_is_clean("default").await;
    app.stop().await;
}
