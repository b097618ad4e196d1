//! Paying one Front Payment reservation with several vouchers, on both stores: the holds are
//! placed together in the order given, captures and charges draw the first voucher first,
//! refunds go back last-drawn first, completion and cancellation release what is left, and
//! every voucher's balance and the integrity check are exact after each step (the rule in
//! docs/front-face.md). A voucher added on the page that can no longer pay is dropped and
//! named. Then customers paying at once with overlapping vouchers: none is ever overdrawn.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::front_flow::{BASE, Merchant, details, merchant, pay_with, submit_body};
use crate::support::{ALL_SCOPES, Backend, TestApp};

on_both_stores!(
    two_vouchers_pay_capture_and_refund_in_the_stated_order,
    charges_spread_in_entry_order_and_cancel_releases_every_hold,
    an_added_voucher_that_can_no_longer_pay_is_dropped_and_named,
    customers_paying_with_overlapping_vouchers_never_overdraw,
);

/// A voucher's remaining and held amounts, in minor units.
async fn figures(app: &TestApp, voucher_id: &str) -> (i64, i64) {
    let v = app
        .admin(
            Method::GET,
            &format!("/tenants/default/vouchers/{voucher_id}"),
            None,
        )
        .await
        .expect(StatusCode::OK);
    (
        v.json["remaining_minor"].as_i64().expect("remaining"),
        v.json["held_minor"].as_i64().expect("held"),
    )
}

/// A reservation of 40.00 (room) + 5.00 (breakfast); its id and line ids.
async fn reservation(app: &TestApp, m: &Merchant) -> (String, i64, i64) {
    let reply = app
        .post(&format!("{BASE}/submit"), &m.token, submit_body(app, None))
        .await
        .expect(StatusCode::CREATED);
    let id = reply.json["data"]["reservationUuid"]
        .as_str()
        .expect("id")
        .to_string();
    let sent = details(app, m, &id).await;
    let line = |n: usize| sent["productList"][n]["id"].as_i64().expect("line id");
    (id, line(0), line(1))
}

/// Captures `amount` of the room line `room` of `id`; answers the capture's id (CAP...).
async fn capture_room(app: &TestApp, m: &Merchant, id: &str, room: i64, amount: i64) -> String {
    app.post(
        &format!("{BASE}/capture/{id}"),
        &m.token,
        json!({ "products": [{"id": room, "amount": amount}], "grandTotal": amount }),
    )
    .await
    .expect(StatusCode::ACCEPTED)
    .json["data"]["uuid"]
        .as_str()
        .expect("CAP")
        .to_string()
}

/// Pays `id` with `code` alone, which is short of the total: nothing is held, and the page keeps
/// the voucher and asks for another.
async fn short_alone(app: &TestApp, m: &Merchant, id: &str, code: &str) {
    let (status, page) = pay_with(app, id, &[], code).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("id=\"short\""), "{page}");
    assert!(page.contains("name=\"added-code\""), "{page}");
    assert_eq!(details(app, m, id).await["status"], "SENT");
}

/// Each paying voucher's (held, captured, refunded) as Front Payment's details show them.
fn parts(reservation: &Value) -> Vec<(Value, Value, Value)> {
    reservation["paymentDetails"]["vouchers"]
        .as_array()
        .expect("vouchers")
        .iter()
        .map(|v| {
            (
                v["heldAmount"].clone(),
                v["capturedAmount"].clone(),
                v["refundedAmount"].clone(),
            )
        })
        .collect()
}

async fn two_vouchers_pay_capture_and_refund_in_the_stated_order(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (small, small_code) = app.active_voucher(&c.token, "10.00").await;
    let (large, large_code) = app.active_voucher(&c.token, "100.00").await;
    let m = merchant(&app).await;
    let (id, room, _breakfast) = reservation(&app, &m).await;

    short_alone(&app, &m, &id, &small_code).await;
    assert_eq!(figures(&app, &small).await, (1_000, 0));

    // With the large one added, 10.00 is held on the small and 35.00 on the large.
    let (status, page) = pay_with(&app, &id, &[&small_code], &large_code).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("data-status=\"RESERVED\""), "{page}");
    assert_eq!(figures(&app, &small).await, (1_000, 1_000));
    assert_eq!(figures(&app, &large).await, (10_000, 3_500));
    let paid = details(&app, &m, &id).await;
    assert_eq!(paid["paymentDetails"]["voucherId"], small.as_str());
    assert_eq!(paid["paymentDetails"]["heldAmount"], json!(45));
    assert_eq!(
        parts(&paid),
        vec![
            (json!(10), json!(0), json!(0)),
            (json!(35), json!(0), json!(0))
        ]
    );
    app.integrity_is_clean("default").await;

    // The small voucher, all held now, covers nothing of another order: an error on its field,
    // and it is not added.
    let (next, _, _) = reservation(&app, &m).await;
    let (status, page) = pay_with(&app, &next, &[], &small_code).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(
        page.contains("The balance of this voucher is too low for this payment."),
        "{page}"
    );
    assert!(!page.contains("name=\"added-code\""), "{page}");

    // Capturing the room (40.00) draws the small voucher's 10.00 first, then 30.00 of the large.
    let cap = capture_room(&app, &m, &id, room, 40).await;
    assert_eq!(figures(&app, &small).await, (0, 0));
    assert_eq!(figures(&app, &large).await, (7_000, 500));
    let after_capture = details(&app, &m, &id).await;
    assert_eq!(after_capture["paymentDetails"]["capturedAmount"], json!(40));
    let history = &after_capture["paymentHistory"]["captured"][0];
    assert_eq!(history["reference"], cap);
    assert_eq!(history["amount"], json!(40), "one posting of the two draws");
    assert_eq!(
        parts(&after_capture),
        vec![
            (json!(0), json!(10), json!(0)),
            (json!(5), json!(30), json!(0))
        ]
    );
    app.integrity_is_clean("default").await;

    // Refunds go back to the last-drawn voucher first: 25.00 all to the large, then 15.00 as
    // the large's last 5.00 and the small's 10.00.
    let refund = |amount: &str| {
        json!({ "type": "reservation", "source": "captured", "reference": cap,
                "grandTotal": amount, "products": [{"id": room, "amount": amount}] })
    };
    app.post(&format!("{BASE}/refund/{id}"), &m.token, refund("25"))
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(figures(&app, &small).await, (0, 0));
    assert_eq!(figures(&app, &large).await, (9_500, 500));
    app.post(&format!("{BASE}/refund/{id}"), &m.token, refund("15"))
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(figures(&app, &small).await, (1_000, 0));
    assert_eq!(figures(&app, &large).await, (10_000, 500));
    let refunded = details(&app, &m, &id).await;
    assert_eq!(
        refunded["paymentDetails"]["amountRefunded"]["fromCaptured"],
        json!(40)
    );
    assert_eq!(
        parts(&refunded),
        vec![
            (json!(0), json!(10), json!(10)),
            (json!(5), json!(30), json!(30))
        ]
    );
    // Nothing more to refund on that capture.
    let over = app
        .post(&format!("{BASE}/refund/{id}"), &m.token, refund("0.01"))
        .await;
    assert_eq!(over.status, StatusCode::BAD_REQUEST, "{}", over.text);

    // Completing releases what the large voucher still holds for the breakfast.
    app.post(
        &format!("{BASE}/complete/{id}"),
        &m.token,
        json!({ "note": "checked out" }),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    assert_eq!(figures(&app, &large).await, (10_000, 0));
    let done = details(&app, &m, &id).await;
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["paymentDetails"]["heldAmount"], json!(0));
    app.integrity_is_clean("default").await;
    app.stop().await;
}

async fn charges_spread_in_entry_order_and_cancel_releases_every_hold(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (small, small_code) = app.active_voucher(&c.token, "10.00").await;
    let (large, large_code) = app.active_voucher(&c.token, "100.00").await;
    let m = merchant(&app).await;
    let (id, room, _) = reservation(&app, &m).await;
    let (status, page) = pay_with(&app, &id, &[&small_code], &large_code).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let cap = capture_room(&app, &m, &id, room, 40).await;
    // 35.00 back: 30.00 to the large voucher (drawn last), 5.00 to the small one.
    app.post(
        &format!("{BASE}/refund/{id}"),
        &m.token,
        json!({ "type": "reservation", "source": "captured", "reference": cap,
                "grandTotal": 35, "products": [{"id": room, "amount": 35}] }),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    assert_eq!(figures(&app, &small).await, (500, 0));
    assert_eq!(figures(&app, &large).await, (10_000, 500));
    // A charge of 20.00 takes the small voucher's free 5.00 first, then 15.00 of the large.
    app.post(
        &format!("{BASE}/charge/{id}"),
        &m.token,
        json!({ "products": [{"name": "Minibar", "rate": 20, "tax": 0, "amount": 20}], "grandTotal": 20 }),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    assert_eq!(figures(&app, &small).await, (0, 0));
    assert_eq!(figures(&app, &large).await, (8_500, 500));
    let charged = details(&app, &m, &id).await;
    assert_eq!(charged["paymentDetails"]["chargedAmount"], json!(20));
    let charged_parts: Vec<Value> = charged["paymentDetails"]["vouchers"]
        .as_array()
        .expect("vouchers")
        .iter()
        .map(|v| v["chargedAmount"].clone())
        .collect();
    assert_eq!(charged_parts, vec![json!(5), json!(15)]);
    // More than the charge runway left (45.00 − 20.00) is refused.
    let over = app
        .post(
            &format!("{BASE}/charge/{id}"),
            &m.token,
            json!({ "products": [{"name": "Spa", "rate": 25.01, "tax": 0, "amount": 25.01}], "grandTotal": 25.01 }),
        )
        .await;
    assert_eq!(over.status, StatusCode::BAD_REQUEST, "{}", over.text);
    app.integrity_is_clean("default").await;

    // Cancelling a reservation paid with two vouchers releases both holds.
    let (other_small, other_small_code) = app.active_voucher(&c.token, "20.00").await;
    let (other, _, _) = reservation(&app, &m).await;
    let (status, page) = pay_with(&app, &other, &[&other_small_code], &large_code).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(figures(&app, &other_small).await, (2_000, 2_000));
    assert_eq!(figures(&app, &large).await, (8_500, 3_000));
    app.post(
        &format!("{BASE}/cancel/{other}"),
        &m.token,
        json!({ "note": "changed plans" }),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    assert_eq!(figures(&app, &other_small).await, (2_000, 0));
    assert_eq!(figures(&app, &large).await, (8_500, 500));
    app.integrity_is_clean("default").await;
    app.stop().await;
}

async fn an_added_voucher_that_can_no_longer_pay_is_dropped_and_named(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (blocked, blocked_code) = app.active_voucher(&c.token, "20.00").await;
    let (_, large_code) = app.active_voucher(&c.token, "100.00").await;
    let m = merchant(&app).await;
    let (id, _, _) = reservation(&app, &m).await;
    short_alone(&app, &m, &id, &blocked_code).await;
    // The voucher is blocked before the customer adds the next one.
    app.patch(
        &format!("/v1/vouchers/{blocked}/status"),
        &c.token,
        json!({ "status": "inactive" }),
    )
    .await
    .expect(StatusCode::OK);
    let (status, page) = pay_with(&app, &id, &[&blocked_code], &large_code).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    let tail: String = blocked_code
        .chars()
        .skip(blocked_code.chars().count() - 4)
        .collect();
    assert!(
        page.contains(&format!("Voucher ••••{tail}: This voucher is not active.")),
        "{page}"
    );
    assert!(
        !page.contains("name=\"added-code\""),
        "the blocked voucher is dropped"
    );
    assert!(
        page.contains(&format!("value=\"{large_code}\"")),
        "the code typed stays"
    );
    assert_eq!(details(&app, &m, &id).await["status"], "SENT");
    // Paying again with the large voucher alone works.
    let (status, page) = pay_with(&app, &id, &[], &large_code).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("data-status=\"RESERVED\""), "{page}");
    app.integrity_is_clean("default").await;
    app.stop().await;
}

async fn customers_paying_with_overlapping_vouchers_never_overdraw(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    // Three vouchers of 50.00; each customer pays 45.00 with two of them, every pair shared
    // with other customers.
    let mut vouchers = Vec::new();
    for _ in 0..3 {
        vouchers.push(app.active_voucher(&c.token, "50.00").await);
    }
    let m = merchant(&app).await;
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(reservation(&app, &m).await.0);
    }
    let mut tasks = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let (first, second) = (&vouchers[n % 3].1, &vouchers[(n + 1) % 3].1);
        let form = [
            ("added-code", first.clone()),
            ("added-pin", String::new()),
            ("code", second.clone()),
            ("pin", String::new()),
        ];
        let (http, url) = (app.http.clone(), format!("{}/pay/{id}", app.base));
        tasks.push(tokio::spawn(async move {
            let page = http
                .post(url)
                .form(&form)
                .send()
                .await
                .expect("sent")
                .text()
                .await
                .expect("page");
            page.contains("data-status=\"RESERVED\"")
        }));
    }
    let mut paid = 0;
    for task in tasks {
        paid += i64::from(task.await.expect("task"));
    }
    // 150.00 in all pays three reservations of 45.00 at most.
    assert!((1..=3).contains(&paid), "{paid} paid");
    let mut held = 0;
    for (voucher_id, _) in &vouchers {
        let (remaining, on_hold) = figures(&app, voucher_id).await;
        assert_eq!(remaining, 5_000, "nothing is drawn by paying");
        assert!(on_hold <= remaining, "{voucher_id} holds {on_hold}");
        held += on_hold;
    }
    assert_eq!(held, paid * 4_500, "every payment holds its total, no more");
    let mut reserved = 0;
    for id in &ids {
        let r = details(&app, &m, id).await;
        if r["status"] == "RESERVED" {
            reserved += 1;
            assert_eq!(r["paymentDetails"]["heldAmount"], json!(45), "{r}");
        } else {
            assert_eq!(r["status"], "SENT", "{r}");
        }
    }
    assert_eq!(reserved, paid);
    app.integrity_is_clean("default").await;
    app.stop().await;
}
