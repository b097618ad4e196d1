//! The hosted payment page in a real browser: a customer opens the link, mistypes the code,
//! pays with code and PIN, and sees the confirmation; a checkout session sends the browser on
//! to the shop's success URL. Screenshots land in `target/browser-artifacts/`.
//!
//! The page is the same over either store (the stores are covered by `front_flow`), so this
//! runs on SQLite only.

use reqwest::StatusCode;
use serde_json::json;

use crate::browser::Browser;
use crate::front_flow::{BASE, details, merchant, submit_body};
use crate::support::{ALL_SCOPES, Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_pays_on_the_payment_page_in_chromium() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let Some(browser) = Browser::start().await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let voucher = app
        .post(
            "/v1/vouchers",
            &c.token,
            json!({ "amount": "100.00", "currency": "EUR", "status": "active",
                    "code": "GIFT-BROWSER-1", "pin": "4711" }),
        )
        .await
        .expect(StatusCode::CREATED);
    let voucher_id = voucher.json["id"].as_str().expect("id").to_string();
    let m = merchant(&app).await;

    // A sent link: the customer opens it and sees merchant, lines and total.
    let submitted = app
        .post(&format!("{BASE}/submit"), &m.token, submit_body(&app, None))
        .await
        .expect(StatusCode::CREATED);
    let id = submitted.json["data"]["reservationUuid"]
        .as_str()
        .expect("id")
        .to_string();
    let link = submitted.json["data"]["paymentUrl"]
        .as_str()
        .expect("link")
        .to_string();
    browser.open(&link).await;
    assert_eq!(browser.text("#reservation").await, id);
    assert_eq!(browser.text("#total").await, "45.00");
    assert!(browser.text("body").await.contains("Breakfast"));
    browser.screenshot("pay-page").await;

    // A wrong PIN reads like a wrong code, and nothing is held.
    browser.fill("#code", "GIFT-BROWSER-1").await;
    browser.fill("#pin", "0000").await;
    browser.click_and_wait("#pay").await;
    assert_eq!(
        browser.text(".error").await,
        "Error: The voucher code or PIN is not correct."
    );
    browser.screenshot("pay-page-wrong-pin").await;
    assert_eq!(details(&app, &m, &id).await["status"], "SENT");

    // Code and PIN: the grand total is held and the page confirms.
    browser.fill("#code", "GIFT-BROWSER-1").await;
    browser.fill("#pin", "4711").await;
    browser.click_and_wait("#pay").await;
    assert_eq!(
        browser.attribute("#status", "data-status").await.as_deref(),
        Some("RESERVED")
    );
    assert_eq!(
        browser.text("#status").await,
        "✓ Thank you. €45.00 is reserved on your voucher."
    );
    assert!(!browser.has("#code").await, "a paid link shows no form");
    browser.screenshot("pay-page-confirmed").await;
    let paid = details(&app, &m, &id).await;
    assert_eq!(paid["status"], "RESERVED");
    assert_eq!(paid["paymentDetails"]["voucherId"], voucher_id.as_str());
    assert_eq!(paid["paymentDetails"]["heldAmount"], 45);

    // A checkout session: after paying, the browser lands on the shop's success URL.
    let success = format!("{}/healthz?order=4711", app.base);
    let mut session = submit_body(&app, None);
    session["callback"] =
        json!({ "success": success, "failure": format!("{}/healthz?failed", app.base) });
    let created = app
        .post(&format!("{BASE}/create"), &m.token, session)
        .await
        .expect(StatusCode::CREATED);
    let second = created.json["data"]["reservationUuid"]
        .as_str()
        .expect("id")
        .to_string();
    browser
        .open(created.json["data"]["paymentUrl"].as_str().expect("link"))
        .await;
    assert!(
        browser.has("a[href$='/healthz?failed']").await,
        "the way back to the shop"
    );
    browser.fill("#code", "GIFT-BROWSER-1").await;
    browser.fill("#pin", "4711").await;
    browser.click_and_wait("#pay").await;
    assert_eq!(browser.current_url().await, success);
    assert_eq!(details(&app, &m, &second).await["status"], "RESERVED");

    // 100.00 − 45.00 − 45.00 is left to spend.
    let v = app
        .get(&format!("/v1/vouchers/{voucher_id}"), &c.token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(v.json["remaining_amount"], "100.00");
    let reservation = app
        .post(
            "/v1/reservations",
            &c.token,
            json!({ "amount": "10.01", "currency": "EUR", "code": "GIFT-BROWSER-1", "pin": "4711" }),
        )
        .await;
    assert_eq!(
        reservation.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reservation.text
    );
    browser.quit().await;
    app.integrity_is_clean("default").await;
    app.stop().await;
}
