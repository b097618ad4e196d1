//! The payment page as a shop's customers see it: the shop's branding (set through the admin
//! API: name, colour, logo, support, links, currency), the customer's language (the pick, the
//! reservation's `preferredLanguage`, the browser's `Accept-Language`), amounts with their
//! currency, and a voucher in another currency refused; then, in Chromium on a phone and a
//! desktop in Norwegian and English, and on a 320-pixel phone in German and Finnish, every
//! state of the page checked with axe-core
//! (`tests/axe`, from npm) and kept as a screenshot in `target/browser-artifacts/`.

use reqwest::header::{ACCEPT_LANGUAGE, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;

use crate::browser::Browser;
use crate::console::{OPERATOR, PASSWORD, create_user, csrf_of, get, plain_http, session};
use crate::front_flow::{BASE, Merchant, details, merchant, submit_body};
use crate::support::{ALL_SCOPES, Backend, TestApp};

on_both_stores!(
    the_page_speaks_the_customer_s_language_in_the_shop_s_colours,
    the_console_sets_the_shop_s_branding_and_logo,
);

const LOGO: &[u8] = include_bytes!("fixtures/logo.png");

/// A reservation of 40.00 + 5.00 whose customer prefers `language`.
async fn reservation(app: &TestApp, m: &Merchant, language: &str) -> String {
    let mut body = submit_body(app, None);
    body["customerDetails"]["preferredLanguage"] = json!(language);
    let reply = app
        .post(&format!("{BASE}/submit"), &m.token, body)
        .await
        .expect(StatusCode::CREATED);
    reply.json["data"]["reservationUuid"]
        .as_str()
        .expect("id")
        .to_string()
}

async fn voucher(app: &TestApp, token: &str, code: &str, amount: &str, currency: &str) {
    app.post(
        "/v1/vouchers",
        token,
        json!({ "amount": amount, "currency": currency, "status": "active", "code": code }),
    )
    .await
    .expect(StatusCode::CREATED);
}

/// The page as a browser asking for `accept_language` gets it.
async fn page(app: &TestApp, path: &str, accept_language: &str) -> (StatusCode, String, String) {
    let response = app
        .http
        .get(format!("{}{path}", app.base))
        .header(ACCEPT_LANGUAGE, accept_language)
        .send()
        .await
        .expect("page");
    let policy = response
        .headers()
        .get(CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (
        response.status(),
        response.text().await.expect("html"),
        policy,
    )
}

async fn pay(app: &TestApp, id: &str, code: &str) -> (StatusCode, String) {
    let response = app
        .http
        .post(format!("{}/pay/{id}", app.base))
        .form(&[("code", code), ("pin", "")])
        .send()
        .await
        .expect("pay");
    (response.status(), response.text().await.expect("html"))
}

async fn put_logo(app: &TestApp, content_type: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let response = app
        .http
        .put(format!(
            "{}/admin/api/v1/tenants/default/branding/logo",
            app.base
        ))
        .bearer_auth(crate::support::ADMIN_TOKEN)
        .header(CONTENT_TYPE, content_type)
        .body(bytes)
        .send()
        .await
        .expect("logo");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The shop's branding as the tests set it.
async fn brand(app: &TestApp) {
    app.admin(
        Method::PUT,
        "/tenants/default/branding",
        Some(json!({
            "display_name": "Hotel Fjord", "colour": "#0A6E5A", "support": "post@fjord.example",
            "terms_url": "https://fjord.example/terms", "privacy_url": "https://fjord.example/privacy",
            "currency": "nok"
        })),
    )
    .await
    .expect(StatusCode::OK);
    let (status, shown) = put_logo(app, "image/png", LOGO.to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["has_logo"], true);
}

async fn the_page_speaks_the_customer_s_language_in_the_shop_s_colours(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // Bad branding is refused with the field named; nothing is stored.
    for (body, field) in [
        (json!({ "colour": "teal" }), "colour"),
        (json!({ "currency": "JPY" }), "currency"),
        (json!({ "terms_url": "javascript:alert(1)" }), "terms_url"),
        (json!({ "display_name": "x".repeat(81) }), "display_name"),
        (json!({ "logo": "x" }), "logo"),
    ] {
        let refused = app
            .admin(Method::PUT, "/tenants/default/branding", Some(body))
            .await;
        assert!(
            refused.status == StatusCode::UNPROCESSABLE_ENTITY
                || refused.status == StatusCode::BAD_REQUEST,
            "{}",
            refused.text
        );
        assert!(refused.text.contains(field), "{field}: {}", refused.text);
    }
    let (status, _) = put_logo(&app, "image/svg+xml", b"<svg onload=alert(1)/>".to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = put_logo(&app, "image/jpeg", LOGO.to_vec()).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the type must match"
    );
    let mut huge = LOGO.to_vec();
    huge.resize(300 * 1024, 0);
    let (status, _) = put_logo(&app, "image/png", huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let unset = app
        .admin(Method::GET, "/tenants/default/branding", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(unset.json["colour"], Value::Null);
    assert_eq!(unset.json["has_logo"], false);
    brand(&app).await;
    let shown = app
        .admin(Method::GET, "/tenants/default/branding", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(shown.json["currency"], "NOK");
    assert_eq!(shown.json["colour"], "#0A6E5A");

    let c = app.client("default", ALL_SCOPES).await;
    voucher(&app, &c.token, "NOK-GIFT-1", "100.00", "NOK").await;
    voucher(&app, &c.token, "EUR-GIFT-1", "100.00", "EUR").await;
    let m = merchant(&app).await;

    // Front Payment's `no` is Norwegian Bokmål, whatever the browser asks for.
    let id = reservation(&app, &m, "no").await;
    let (status, html, policy) = page(&app, &format!("/pay/{id}"), "de").await;
    assert_eq!(status, StatusCode::OK);
    for shown in [
        "<html lang=\"nb\">",
        "alt=\"Hotel Fjord\"",
        "--brand:#0a6e5a;--on-brand:#ffffff",
        "45,00\u{a0}kr",
        "Betal 45,00\u{a0}kr",
        "Kontakt post@fjord.example",
        "href=\"https://fjord.example/terms\"",
        "Personvern",
        "aria-current=\"true\">Norsk bokmål",
    ] {
        assert!(html.contains(shown), "{shown:?} in {html}");
    }
    assert!(
        policy.contains("style-src 'nonce-") && !policy.contains("unsafe-inline"),
        "{policy}"
    );
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("nonce");
    assert!(html.contains(&format!("<style nonce=\"{nonce}\">")));
    // PINs may hold letters unless the shop's PIN pattern makes digits only.
    assert!(html.contains("type=\"password\" autocomplete=\"off\" inputmode=\"text\""));
    let mut settings = app
        .admin(Method::GET, "/tenants/default/settings", None)
        .await
        .expect(StatusCode::OK)
        .json;
    settings["pin_pattern"] = json!("[0-9]{4}");
    app.admin(Method::PUT, "/tenants/default/settings", Some(settings))
        .await
        .expect(StatusCode::OK);
    let (_, digits, _) = page(&app, &format!("/pay/{id}"), "de").await;
    assert!(digits.contains("type=\"password\" autocomplete=\"off\" inputmode=\"numeric\""));
    // The customer's pick wins; the switcher keeps it.
    let (_, swedish, _) = page(&app, &format!("/pay/{id}?lang=sv"), "de").await;
    assert!(
        swedish.contains("<html lang=\"sv\">") && swedish.contains("Betala 45,00\u{a0}NOK"),
        "{swedish}"
    );
    // Without a language the page knows, the browser's decides.
    let other = reservation(&app, &m, "fr").await;
    let (_, german, _) = page(&app, &format!("/pay/{other}"), "fr-CH, de;q=0.8, en;q=0.5").await;
    assert!(
        german.contains("<html lang=\"de\">") && german.contains("45,00\u{a0}NOK bezahlen"),
        "{german}"
    );

    // The logo, served for the reservation's shop.
    let logo = app
        .http
        .get(format!("{}/pay/{id}/logo", app.base))
        .send()
        .await
        .expect("logo");
    assert_eq!(logo.status(), StatusCode::OK);
    assert_eq!(logo.headers()[CONTENT_TYPE], "image/png");
    assert_eq!(logo.headers()["x-content-type-options"], "nosniff");
    assert_eq!(logo.bytes().await.expect("bytes").as_ref(), LOGO);

    // A voucher in another currency than the page showed is refused, in the customer's language.
    let (status, refused) = pay(&app, &id, "EUR-GIFT-1").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.contains("Dette gavekortet kan ikke betale i denne valutaen."),
        "{refused}"
    );
    assert!(refused.contains("aria-invalid=\"true\""), "{refused}");
    assert_eq!(details(&app, &m, &id).await["status"], "SENT");
    let (status, paid) = pay(&app, &id, "NOK-GIFT-1").await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert!(
        paid.contains("Takk. 45,00\u{a0}kr er reservert på gavekortet ditt."),
        "{paid}"
    );
    assert_eq!(
        details(&app, &m, &id).await["paymentDetails"]["currency"],
        "NOK"
    );

    // Without a logo, the name; a link that does not exist, in the language asked for.
    app.admin(Method::DELETE, "/tenants/default/branding/logo", None)
        .await
        .expect(StatusCode::OK);
    let (_, html, _) = page(&app, &format!("/pay/{other}"), "en").await;
    assert!(
        html.contains("<p class=\"shop-name\">Hotel Fjord</p>"),
        "{html}"
    );
    let gone = app
        .http
        .get(format!("{}/pay/{other}/logo", app.base))
        .send()
        .await
        .expect("logo");
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let (status, html, _) = page(&app, "/pay/RES0000000000?lang=fi", "en").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Maksulinkkiä ei löytynyt"), "{html}");
    app.integrity_is_clean("default").await;
    app.stop().await;
}

/// axe-core's source, installed by `npm ci --prefix tests/axe`; `None` (the test is skipped)
/// when it is not there and the browser is not required.
fn axe_source() -> Option<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/axe/node_modules/axe-core/axe.min.js"
    );
    match std::fs::read_to_string(path) {
        Ok(source) => Some(source),
        Err(_) if std::env::var_os("VOUCHERD_REQUIRE_BROWSER").is_some() => {
            panic!(
                "VOUCHERD_REQUIRE_BROWSER is set but {path} is missing (npm ci --prefix tests/axe)"
            )
        }
        Err(_) => {
            eprintln!("skipped: no axe-core (npm ci --prefix tests/axe)");
            None
        }
    }
}

/// Checks the page as it is now: no accessibility violation, no horizontal scrolling; keeps a
/// screenshot.
async fn check(browser: &Browser, axe: &str, name: &str) {
    browser.screenshot(name).await;
    let violations = browser.accessibility_violations(axe).await;
    assert!(violations.is_empty(), "{name}: {violations:#?}");
    assert_eq!(
        browser.horizontal_overflow().await,
        0,
        "{name} scrolls sideways"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_of_the_page_passes_axe_on_phones_and_a_desktop_in_four_languages() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let Some(axe) = axe_source() else {
        return;
    };
    let Some(browser) = Browser::start().await else {
        return;
    };
    brand(&app).await;
    let m = merchant(&app).await;
    // A phone and a desktop in Norwegian and English, and the narrowest phone in the languages
    // with the longest words.
    let runs = [
        (375, 812, "nb"),
        (375, 812, "en"),
        (1280, 900, "nb"),
        (1280, 900, "en"),
        (320, 640, "de"),
        (320, 640, "fi"),
    ];
    for (round, (width, height, language)) in runs.into_iter().enumerate() {
        browser.resize(width, height).await;
        let name = |state: &str| format!("pay-{language}-{width}-{state}");
        let c = app.client("default", ALL_SCOPES).await;
        let (good, low) = (format!("GOOD-{round}"), format!("LOW-{round}"));
        // LOW covers 10.00 of the 45.00; GOOD covers the rest, twice.
        voucher(&app, &c.token, &good, "100.00", "NOK").await;
        voucher(&app, &c.token, &low, "10.00", "NOK").await;

        let id = reservation(&app, &m, language).await;
        browser.open(&format!("{}/pay/{id}", app.base)).await;
        assert_eq!(
            browser.attribute("html", "lang").await.as_deref(),
            Some(language)
        );
        check(&browser, &axe, &name("open")).await;

        browser.fill("#code", "NOT-A-VOUCHER").await;
        browser.click_and_wait("#pay").await;
        assert!(browser.has("#error").await);
        assert_eq!(
            browser
                .attribute("#code", "aria-describedby")
                .await
                .as_deref(),
            Some("code-hint error")
        );
        assert_eq!(
            browser.focused().await,
            "input#code",
            "the field to fix has the focus"
        );
        check(&browser, &axe, &name("wrong-code")).await;

        // A voucher short of the total is kept, with what it covers and what is left.
        browser.fill("#code", &low).await;
        browser.click_and_wait("#pay").await;
        assert!(!browser.has("#error").await, "a short voucher is no error");
        assert!(browser.has("#short").await, "the page says more is to pay");
        // (The browser reports no-break spaces as spaces.)
        let (covered, left) = match language {
            "nb" => ("10,00 kr", "35,00 kr"),
            "en" => ("NOK 10.00", "NOK 35.00"),
            _ => ("10,00 NOK", "35,00 NOK"),
        };
        assert_eq!(
            browser.text("#added").await,
            format!("••••OW-{round}\n{covered}")
        );
        assert_eq!(browser.text("#still-to-pay").await, left);
        assert_eq!(
            browser.focused().await,
            "input#code",
            "the next voucher's field has the focus"
        );
        check(&browser, &axe, &name("short-add-another")).await;

        // The same voucher again is refused; the voucher added stays.
        browser.fill("#code", &low).await;
        browser.click_and_wait("#pay").await;
        assert!(browser.has("#error").await);
        assert!(browser.has("#added").await);
        check(&browser, &axe, &name("repeated")).await;

        // A second voucher covers the rest: both hold their part together.
        browser.fill("#code", &good).await;
        browser.click_and_wait("#pay").await;
        assert_eq!(
            browser.attribute("#status", "data-status").await.as_deref(),
            Some("RESERVED")
        );
        assert!(
            browser.has("#paid-with").await,
            "each voucher's part is shown"
        );
        check(&browser, &axe, &name("paid-two-vouchers")).await;
        let paid = details(&app, &m, &id).await;
        assert_eq!(paid["status"], "RESERVED");
        let parts: Vec<(Value, Value)> = paid["paymentDetails"]["vouchers"]
            .as_array()
            .expect("vouchers")
            .iter()
            .map(|v| (v["voucherId"].clone(), v["heldAmount"].clone()))
            .collect();
        assert_eq!(parts.len(), 2, "{paid}");
        assert_eq!(
            (parts[0].1.clone(), parts[1].1.clone()),
            (json!(10), json!(35))
        );
        assert_eq!(paid["paymentDetails"]["voucherId"], parts[0].0);

        // One voucher that covers the total pays alone.
        let single = reservation(&app, &m, language).await;
        browser.open(&format!("{}/pay/{single}", app.base)).await;
        browser.fill("#code", &good).await;
        browser.click_and_wait("#pay").await;
        assert_eq!(
            browser.attribute("#status", "data-status").await.as_deref(),
            Some("RESERVED")
        );
        assert!(!browser.has("#paid-with").await);
        check(&browser, &axe, &name("paid-one-voucher")).await;

        let late = reservation(&app, &m, language).await;
        app.advance(Duration::days(2));
        browser.open(&format!("{}/pay/{late}", app.base)).await;
        assert_eq!(
            browser.attribute("#status", "data-status").await.as_deref(),
            Some("EXPIRED")
        );
        assert!(!browser.has("#code").await, "an expired link shows no form");
        check(&browser, &axe, &name("expired")).await;
    }
    browser.quit().await;
    app.integrity_is_clean("default").await;
    app.stop().await;
}

async fn the_console_sets_the_shop_s_branding_and_logo(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    create_user(&app, OPERATOR, PASSWORD);
    let http = plain_http();
    let cookie = session(&app, &http).await;
    let here = "/admin/t/default/branding";
    let html = get(&app, &http, &cookie, here)
        .await
        .text()
        .await
        .expect("page");
    assert!(html.contains("No logo"), "{html}");
    let csrf = csrf_of(&html);
    let form = |fields: Vec<(&'static str, &'static str)>| {
        let mut sent = vec![("_csrf", csrf.as_str())];
        sent.extend(fields);
        http.post(format!("{}{here}", app.base))
            .header(reqwest::header::COOKIE, &cookie)
            .form(&sent)
            .send()
    };
    let refused = form(vec![("display_name", "Hotel Fjord"), ("colour", "green")])
        .await
        .expect("sent");
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.expect("page");
    assert!(html.contains("Not saved: colour must be #rrggbb"), "{html}");
    assert!(
        html.contains("value=\"Hotel Fjord\""),
        "what was sent is shown again"
    );
    let saved = form(vec![
        ("display_name", "Hotel Fjord"),
        ("colour", "#fcd34d"),
        ("currency", "NOK"),
        ("support", ""),
    ])
    .await
    .expect("sent");
    assert_eq!(
        saved.headers()[reqwest::header::LOCATION],
        format!("{here}?notice=branding-saved")
    );
    let stored = app
        .admin(Method::GET, "/tenants/default/branding", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(stored.json["display_name"], "Hotel Fjord");
    assert_eq!(stored.json["support"], Value::Null, "empty is unset");
    assert_eq!(stored.json["currency"], "NOK");

    // The logo, as a browser's file upload sends it.
    let boundary = "----voucherdLogoBoundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"logo.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(LOGO);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let uploaded = http
        .post(format!("{}{here}/logo", app.base))
        .header(reqwest::header::COOKIE, &cookie)
        .header(
            CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(
        uploaded.headers()[reqwest::header::LOCATION],
        format!("{here}?notice=logo-saved")
    );
    let html = get(&app, &http, &cookie, here)
        .await
        .text()
        .await
        .expect("page");
    assert!(html.contains("id=\"current-logo\""), "{html}");
    let logo = get(&app, &http, &cookie, &format!("{here}/logo")).await;
    assert_eq!(logo.headers()[CONTENT_TYPE], "image/png");
    assert_eq!(logo.bytes().await.expect("bytes").as_ref(), LOGO);
    // On the customer's page: the logo, and black text on the light yellow button.
    let m = merchant(&app).await;
    let id = reservation(&app, &m, "en").await;
    let (_, page_html, _) = page(&app, &format!("/pay/{id}"), "en").await;
    assert!(
        page_html.contains("--brand:#fcd34d;--on-brand:#000000")
            && page_html.contains(&format!("src=\"/pay/{id}/logo\"")),
        "{page_html}"
    );

    let removed = http
        .post(format!("{}{here}/logo-remove", app.base))
        .header(reqwest::header::COOKIE, &cookie)
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(
        removed.headers()[reqwest::header::LOCATION],
        format!("{here}?notice=logo-removed")
    );
    let audit = app
        .admin(
            Method::GET,
            "/tenants/default/audit?action=branding.logo",
            None,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        audit.json["data"].as_array().map(Vec::len),
        Some(2),
        "{}",
        audit.text
    );
    app.stop().await;
}
