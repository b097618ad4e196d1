//! The operator's web console: login with CSRF-protected forms, lockout, session expiry and
//! security headers over plain HTTP on both stores; and the whole operator story driven in
//! headless Chromium (screenshots in `target/browser-artifacts/`).

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::json;
use time::Duration;

use crate::browser::Browser;
use crate::support::{ALL_SCOPES, Backend, TestApp};

on_both_stores!(
    forms_without_the_csrf_token_are_refused,
    five_wrong_passwords_lock_the_user_for_a_while,
    an_idle_session_expires,
    a_series_is_issued_in_the_background_and_downloaded,
    a_series_resumes_after_a_restart_without_issuing_too_many,
    an_import_writes_nothing_until_every_row_is_right,
    reports_show_liability_movements_expiry_integrity_and_audit,
    settings_are_checked_previewed_and_saved_and_merchant_tokens_made,
    the_voucher_list_sorts_and_pages,
    a_voucher_page_refunds_a_charge_and_deletes_an_untouched_voucher,
    the_events_page_shows_filters_and_follows_the_feed,
);

async fn the_events_page_shows_filters_and_follows_the_feed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    create_user(&app, OPERATOR, PASSWORD);
    let http = plain_http();
    let cookie = session(&app, &http).await;
    let c = app.client("default", ALL_SCOPES).await;
    let (id, code) = app.active_voucher(&c.token, "40.00").await;
    let reserved = app
        .post(
            "/v1/reservations",
            &c.token,
            json!({ "amount": "15.00", "currency": "EUR", "code": code }),
        )
        .await
        .expect(StatusCode::CREATED);
    let rid = reserved.json["id"].as_str().expect("id");
    app.post(
        &format!("/v1/reservations/{rid}/charge"),
        &c.token,
        json!({ "order_number": "E-1" }),
    )
    .await
    .expect(StatusCode::CREATED);

    let page = get(&app, &http, &cookie, "/admin/t/default/events").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("page");
    for shown in [
        "voucher.created",
        "hold.placed",
        "charge.created",
        "15.00 EUR",
        "25.00 EUR",
    ] {
        assert!(html.contains(shown), "{shown} on the page: {html}");
    }
    assert!(!html.contains(&code), "a code on the events page");
    let charges = get(
        &app,
        &http,
        &cookie,
        "/admin/t/default/events?type=charge.*",
    )
    .await;
    let html = charges.text().await.expect("page");
    assert!(
        html.contains("charge.created") && !html.contains("hold.placed"),
        "{html}"
    );
    let by_voucher = get(
        &app,
        &http,
        &cookie,
        &format!("/admin/t/default/events?voucher={id}&type=hold.placed"),
    )
    .await;
    assert!(
        by_voucher
            .text()
            .await
            .expect("page")
            .contains("hold.placed")
    );
    let refused = get(
        &app,
        &http,
        &cookie,
        "/admin/t/default/events?type=charge.made",
    )
    .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text()
            .await
            .expect("page")
            .contains("not an event type")
    );
    let bad_day = get(
        &app,
        &http,
        &cookie,
        "/admin/t/default/events?from=yesterday",
    )
    .await;
    assert_eq!(bad_day.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The live endpoint answers the events after the cursor, waiting for one to commit.
    let last = app
        .admin(
            Method::GET,
            "/tenants/default/events?after=0&limit=1000",
            None,
        )
        .await
        .expect(StatusCode::OK)
        .json["next_after"]
        .as_i64()
        .expect("cursor");
    let waiting = {
        let (http, base, cookie) = (http.clone(), app.base.clone(), cookie.clone());
        tokio::spawn(async move {
            http.get(format!("{base}/admin/t/default/events/live?after={last}"))
                .header(COOKIE, cookie)
                .send()
                .await
                .expect("answered")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        })
    };
    let (new_id, _) = app.active_voucher(&c.token, "2.00").await;
    let live = waiting.await.expect("the live request ends");
    assert_eq!(live["rows"][0]["voucher"], json!(new_id), "{live}");
    assert_eq!(live["rows"][0]["type"], "voucher.created");
    // Without a session there is nothing to follow.
    let anonymous = http
        .get(format!("{}/admin/t/default/events/live?after=0", app.base))
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.headers()[LOCATION], "/admin/login");
    app.stop().await;
}

async fn a_voucher_page_refunds_a_charge_and_deletes_an_untouched_voucher(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    create_user(&app, OPERATOR, PASSWORD);
    let c = app.client("default", ALL_SCOPES).await;
    let (used, code) = app.active_voucher(&c.token, "40.00").await;
    let (untouched, _) = app.active_voucher(&c.token, "10.00").await;
    let r = app
        .post(
            "/v1/reservations",
            &c.token,
            json!({ "code": code, "amount": "15.00", "currency": "EUR" }),
        )
        .await
        .expect(StatusCode::CREATED);
    let rid = r.json["id"].as_str().expect("id").to_string();
    let charge = app
        .post(
            &format!("/v1/reservations/{rid}/charge"),
            &c.token,
            json!({ "order_number": "O-1" }),
        )
        .await
        .expect(StatusCode::CREATED);
    let charge_id = charge.json["id"].as_str().expect("charge").to_string();

    let http = plain_http();
    let cookie = session(&app, &http).await;
    let page = get(
        &app,
        &http,
        &cookie,
        &format!("/admin/t/default/vouchers/{used}"),
    )
    .await
    .text()
    .await
    .expect("page");
    assert!(
        page.contains(&charge_id),
        "the charge is offered for a refund"
    );
    assert!(
        !page.contains("id=\"delete\""),
        "a voucher with activity cannot be deleted"
    );
    let csrf = csrf_of(&page);
    let act = |voucher: String, action: &'static str, fields: Vec<(&'static str, String)>| {
        let mut form = vec![("_csrf", csrf.clone())];
        form.extend(fields);
        http.post(format!(
            "{}/admin/t/default/vouchers/{voucher}/{action}",
            app.base
        ))
        .header(COOKIE, &cookie)
        .form(&form)
        .send()
    };
    // More than was charged is refused; part of it is booked.
    let too_much = act(
        used.clone(),
        "refund",
        vec![("charge_id", charge_id.clone()), ("amount", "15.01".into())],
    )
    .await
    .expect("sent");
    assert_eq!(
        too_much.headers()[LOCATION],
        format!("/admin/t/default/vouchers/{used}?problem=refused")
    );
    let refunded = act(
        used.clone(),
        "refund",
        vec![("charge_id", charge_id.clone()), ("amount", "5.00".into())],
    )
    .await
    .expect("sent");
    assert_eq!(
        refunded.headers()[LOCATION],
        format!("/admin/t/default/vouchers/{used}?notice=refunded")
    );
    let v = app
        .get(&format!("/v1/vouchers/{used}"), &c.token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(v.json["remaining_amount"], "30.00");
    // Deleting needs a comment; a voucher with activity is refused; an untouched one goes.
    let refused = act(used.clone(), "delete", vec![("comment", "oops".into())])
        .await
        .expect("sent");
    assert_eq!(
        refused.headers()[LOCATION],
        format!("/admin/t/default/vouchers/{used}?problem=not-deletable")
    );
    let deleted = act(
        untouched.clone(),
        "delete",
        vec![("comment", "printed twice".into())],
    )
    .await
    .expect("sent");
    assert_eq!(
        deleted.headers()[LOCATION],
        "/admin/t/default/vouchers?notice=deleted"
    );
    app.get(&format!("/v1/vouchers/{untouched}"), &c.token)
        .await
        .jtl_error(404, "VOUCHER.NOT_FOUND");
    app.integrity_is_clean("default").await;
    app.stop().await;
}

/// The voucher ids of a list page, in order.
fn listed_ids(page: &str) -> Vec<String> {
    page.split("<a class=\"mono\" href=\"/admin/t/default/vouchers/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_string))
        .collect()
}

async fn the_voucher_list_sorts_and_pages(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    create_user(&app, OPERATOR, PASSWORD);
    let c = app.client("default", ALL_SCOPES).await;
    for i in 0..30 {
        app.post(
            "/v1/vouchers",
            &c.token,
            json!({ "id": format!("SORT-{i:02}"), "amount": format!("{}.00", 100 - i), "currency": "EUR" }),
        )
        .await
        .expect(StatusCode::CREATED);
        app.advance(Duration::seconds(1));
    }
    let http = plain_http();
    let cookie = session(&app, &http).await;
    let page = |path: &'static str| {
        let (app, http, cookie) = (&app, &http, &cookie);
        async move {
            get(app, http, cookie, path)
                .await
                .text()
                .await
                .expect("page")
        }
    };
    let newest = page("/admin/t/default/vouchers").await;
    assert!(
        newest.contains("30 vouchers") && newest.contains("Page 1 of 2"),
        "{newest}"
    );
    assert_eq!(listed_ids(&newest).len(), 25);
    assert_eq!(listed_ids(&newest)[0], "SORT-29");
    let cheapest = page("/admin/t/default/vouchers?sort=amount&dir=asc").await;
    assert_eq!(listed_ids(&cheapest)[0], "SORT-29", "71.00 is the smallest");
    assert!(cheapest.contains("Amount ↑"));
    let dearest_last_page = page("/admin/t/default/vouchers?sort=amount&dir=desc&page=2").await;
    assert_eq!(
        listed_ids(&dearest_last_page),
        ["SORT-25", "SORT-26", "SORT-27", "SORT-28", "SORT-29"]
    );
    let oldest = page("/admin/t/default/vouchers?sort=created&dir=asc").await;
    assert_eq!(listed_ids(&oldest)[0], "SORT-00");

    // Behind a TLS proxy the session cookie is Secure; a disconnect form works.
    let form = http
        .get(format!("{}/admin/login", app.base))
        .send()
        .await
        .expect("page");
    let login_cookie = set_cookie(&form, "voucherd_login").expect("cookie");
    let csrf = csrf_of(&form.text().await.expect("page"));
    let tls = http
        .post(format!("{}/admin/login", app.base))
        .header(COOKIE, login_cookie)
        .header("x-forwarded-proto", "https")
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", OPERATOR),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("sent");
    let secure = tls
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("voucherd_console="))
        .expect("session cookie")
        .to_string();
    assert!(secure.contains("; Secure"), "{secure}");
    let clients = page("/admin/t/default/clients").await;
    let csrf = csrf_of(&clients);
    let out = http
        .post(format!(
            "{}/admin/t/default/clients/{}/disconnect",
            app.base, c.id
        ))
        .header(COOKIE, &cookie)
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    app.get("/v1/vouchers", &c.token)
        .await
        .jtl_error(401, "UNAUTHENTICATED");
    app.stop().await;
}

async fn settings_are_checked_previewed_and_saved_and_merchant_tokens_made(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    create_user(&app, OPERATOR, PASSWORD);
    let http = plain_http();
    let cookie = session(&app, &http).await;
    let page = get(&app, &http, &cookie, "/admin/t/default/settings")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("bits of randomness"), "samples are shown");
    let csrf = csrf_of(&page);
    let form = |code: &'static str, action: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("voucher_id_pattern", "V[0-9]{10}".to_string()),
            ("code_pattern", code.to_string()),
            ("pin_pattern", "[0-9]{4}".to_string()),
            ("default_validity_value", "2".to_string()),
            ("default_validity_interval", "years".to_string()),
            ("reservation_ttl_seconds", "900".to_string()),
            ("token_ttl_seconds", "1800".to_string()),
            ("do", action.to_string()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| {
        http.post(format!("{}/admin/t/default/settings", app.base))
            .header(COOKIE, &cookie)
            .form(&fields)
            .send()
    };
    // Too little randomness for codes: refused, shown again with the reason, nothing saved.
    let weak = post(form("[0-9]{4}", "save")).await.expect("sent");
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        weak.text()
            .await
            .expect("page")
            .contains("at least 40 bits")
    );
    let unchanged = app
        .admin(Method::GET, "/tenants/default/settings", None)
        .await
        .expect(StatusCode::OK);
    assert_ne!(unchanged.json["code_pattern"], "[0-9]{4}");
    // Preview shows samples of what was typed and saves nothing.
    let previewed = post(form("G-[A-HJ-NP-Z2-9]{10}", "preview"))
        .await
        .expect("sent");
    assert_eq!(previewed.status(), StatusCode::OK);
    assert!(previewed.text().await.expect("page").contains("G-"));
    let live = get(
        &app,
        &http,
        &cookie,
        "/admin/t/default/settings/preview?pattern=X%5B0-9%5D%7B3%7D",
    )
    .await;
    let text = live.json::<serde_json::Value>().await.expect("json")["text"]
        .as_str()
        .expect("text")
        .to_string();
    assert!(
        text.starts_with('X') && text.contains("bits of randomness"),
        "{text}"
    );
    // Saved.
    let saved = post(form("G-[A-HJ-NP-Z2-9]{10}", "save"))
        .await
        .expect("sent");
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let now = app
        .admin(Method::GET, "/tenants/default/settings", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(now.json["code_pattern"], "G-[A-HJ-NP-Z2-9]{10}");
    assert_eq!(now.json["token_ttl_seconds"], 1800);

    // A merchant token is shown once and works on the Front Payment face.
    let made = http
        .post(format!("{}/admin/t/default/merchant-tokens", app.base))
        .header(COOKIE, &cookie)
        .form(&[("_csrf", csrf.as_str()), ("name", "Hotel")])
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("page");
    let start = made
        .find("<p class=\"mono\" id=\"token\">")
        .expect("token shown")
        + 27;
    let token = made[start..].split('<').next().expect("token");
    app.get("/api/v1/connect/reservations/history", token)
        .await
        .expect(StatusCode::OK);
    let again = get(&app, &http, &cookie, "/admin/t/default/settings")
        .await
        .text()
        .await
        .expect("page");
    assert!(
        again.contains("Hotel") && !again.contains(token),
        "listed, never shown again"
    );
    app.stop().await;
}

async fn reports_show_liability_movements_expiry_integrity_and_audit(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    create_user(&app, OPERATOR, PASSWORD);
    let c = app.client("default", ALL_SCOPES).await;
    let (_, code) = app.active_voucher(&c.token, "100.00").await;
    app.active_voucher(&c.token, "50.00").await;
    app.post(
        "/v1/vouchers",
        &c.token,
        json!({ "amount": "7.00", "currency": "EUR", "status": "active",
                "validity_value": 10, "validity_interval": "days" }),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post(
        "/v1/vouchers",
        &c.token,
        json!({ "amount": "9.00", "currency": "EUR" }),
    )
    .await
    .expect(StatusCode::CREATED);
    let r = app
        .post(
            "/v1/reservations",
            &c.token,
            json!({ "code": code, "amount": "30.00", "currency": "EUR" }),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = r.json["id"].as_str().expect("id").to_string();
    app.post(
        &format!("/v1/reservations/{id}/charge"),
        &c.token,
        json!({ "order_number": "R-1" }),
    )
    .await
    .expect(StatusCode::CREATED);

    let http = plain_http();
    let cookie = session(&app, &http).await;
    let page = get(&app, &http, &cookie, "/admin/t/default/reports")
        .await
        .text()
        .await
        .expect("page");
    // Active vouchers only: 70 + 50 + 7 (the inactive 9.00 is not sold yet).
    assert!(
        page.contains("<td>EUR</td><td class=\"num\">3</td><td class=\"num\">127.00</td>"),
        "{page}"
    );
    assert!(
        page.contains("<td>issued</td><td class=\"num\">4</td><td class=\"num\">166.00 EUR</td>"),
        "{page}"
    );
    assert!(
        page.contains("<td>charged</td><td class=\"num\">1</td><td class=\"num\">30.00 EUR</td>"),
        "{page}"
    );
    assert!(page.contains("<svg class=\"chart\""), "a chart is drawn");
    assert!(page.contains("1 active voucher with value left."), "{page}");
    let checked = get(
        &app,
        &http,
        &cookie,
        "/admin/t/default/reports?integrity=run",
    )
    .await
    .text()
    .await
    .expect("page");
    assert!(
        checked.contains("4 vouchers checked: every balance equals the sum of its entries."),
        "{checked}"
    );

    let audit = get(
        &app,
        &http,
        &cookie,
        "/admin/t/default/audit?action=voucher.create",
    )
    .await
    .text()
    .await
    .expect("page");
    assert!(audit.contains("4 events"), "{audit}");
    app.stop().await;
}

const IMPORT_HEADER: &str = "custom_id;code;pin;batch;amount;taxable;tax_rate;currency;status;type;validity_value;validity_interval;sku;valid_until";

/// Two good rows, and (with `bad`) a third whose amount is wrong.
fn import_file(bad: bool) -> String {
    let mut file = format!(
        "{IMPORT_HEADER}\nIMP-1;IMPCODE-1;4321;IMPORTED;12.00;0;;EUR;inactive;digital;;;;\n\
         IMP-2;IMPCODE-2;;IMPORTED;30.00;1;19;EUR;active;print;1;years;SKU-9;2027-06-29T00:00:00+02:00\n"
    );
    if bad {
        file.push_str("IMP-3;IMPCODE-3;;IMPORTED;12,00;0;;EUR;inactive;digital;;;;\n");
    }
    file
}

/// Posts a file to the import form as a browser's multipart form does.
async fn upload(
    app: &TestApp,
    http: &reqwest::Client,
    cookie: &str,
    csrf: &str,
    file: &str,
) -> reqwest::Response {
    let boundary = "----voucherdTestBoundary7MA4YWxk";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"v.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"
    );
    http.post(format!("{}/admin/t/default/import", app.base))
        .header(COOKIE, cookie)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("sent")
}

async fn an_import_writes_nothing_until_every_row_is_right(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    create_user(&app, OPERATOR, PASSWORD);
    let http = plain_http();
    let cookie = session(&app, &http).await;
    let page = get(&app, &http, &cookie, "/admin/t/default/import").await;
    let csrf = csrf_of(&page.text().await.expect("page"));

    let refused = upload(&app, &http, &cookie, &csrf, &import_file(true)).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = refused.text().await.expect("page");
    assert!(text.contains("Nothing was imported: 1 problem"), "{text}");
    assert!(
        text.contains("<td class=\"num\">4</td><td>amount</td>"),
        "{text}"
    );
    assert_eq!(app.voucher_count("default").await, 0, "nothing written");

    let forged = upload(&app, &http, &cookie, "not-the-token", &import_file(false)).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.voucher_count("default").await, 0);

    let imported = upload(&app, &http, &cookie, &csrf, &import_file(false)).await;
    assert_eq!(imported.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        imported.headers()[LOCATION],
        "/admin/t/default/import?imported=2"
    );
    assert_eq!(app.voucher_count("default").await, 2);
    let found = app
        .admin(
            Method::GET,
            "/tenants/default/vouchers?code=IMPCODE-2",
            None,
        )
        .await
        .expect(StatusCode::OK);
    let v = &found.json["data"][0];
    assert_eq!(
        (v["id"].as_str(), v["status"].as_str()),
        (Some("IMP-2"), Some("active"))
    );

    // The same file again: the first row's id is taken, and still nothing is written.
    let again = upload(&app, &http, &cookie, &csrf, &import_file(false)).await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.text().await.expect("page").contains("already taken"));
    assert_eq!(app.voucher_count("default").await, 2);

    let exported = csv_lines(&app, &http, &cookie, "/admin/t/default/export.csv").await;
    assert_eq!(exported.len(), 3);
    assert!(
        exported[1].starts_with("IMP-1;IMPCODE-1;4321;IMPORTED;12.00;0;;EUR;inactive;digital;"),
        "{}",
        exported[1]
    );
    app.integrity_is_clean("default").await;
    app.stop().await;
}

pub(crate) const OPERATOR: &str = "ops";
pub(crate) const PASSWORD: &str = "a long console password";

/// Creates a console user with the `voucherd` binary, as an operator would.
pub(crate) fn create_user(app: &TestApp, username: &str, password: &str) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_voucherd"))
        .args([
            "admin",
            "--database-url",
            &app.database_url,
            "user",
            "create",
            "--username",
            username,
        ])
        .env("VOUCHERD_CONSOLE_PASSWORD", password)
        .output()
        .expect("voucherd runs");
    assert!(
        output.status.success(),
        "user create failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// An HTTP client that shows redirects instead of following them.
pub(crate) fn plain_http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The value of `name="_csrf"` in a page.
pub(crate) fn csrf_of(html: &str) -> String {
    let start = html
        .find("name=\"_csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 20;
    html[start..].split('"').next().expect("token").to_string()
}

/// The `name=value` of a `Set-Cookie` header for `name`.
pub(crate) fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
}

/// Posts the login form as a browser would; answers the response.
pub(crate) async fn log_in(
    app: &TestApp,
    http: &reqwest::Client,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let form = http
        .get(format!("{}/admin/login", app.base))
        .send()
        .await
        .expect("login page");
    let cookie = set_cookie(&form, "voucherd_login").expect("login cookie");
    let csrf = csrf_of(&form.text().await.expect("page"));
    http.post(format!("{}/admin/login", app.base))
        .header(COOKIE, cookie)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .expect("login sent")
}

/// Logs in; answers the session cookie.
pub(crate) async fn session(app: &TestApp, http: &reqwest::Client) -> String {
    session_as(app, http, OPERATOR, PASSWORD).await
}

/// Logs in as `username`; answers the session cookie.
pub(crate) async fn session_as(
    app: &TestApp,
    http: &reqwest::Client,
    username: &str,
    password: &str,
) -> String {
    let response = log_in(app, http, username, password).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/admin/");
    let cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("voucherd_console="))
        .expect("session cookie")
        .to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    cookie.split(';').next().expect("pair").to_string()
}

pub(crate) async fn get(
    app: &TestApp,
    http: &reqwest::Client,
    cookie: &str,
    path: &str,
) -> reqwest::Response {
    http.get(format!("{}{path}", app.base))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("sent")
}

async fn group_count(app: &TestApp) -> usize {
    app.admin(Method::GET, "/tenants/default/client-groups", None)
        .await
        .expect(StatusCode::OK)
        .json["data"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default()
}

async fn forms_without_the_csrf_token_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    create_user(&app, OPERATOR, PASSWORD);
    let http = plain_http();

    // The login form itself: without the cookie's token nothing happens.
    let forged = http
        .post(format!("{}/admin/login", app.base))
        .form(&[
            ("_csrf", "guess"),
            ("username", OPERATOR),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&forged, "voucherd_console").is_none());

    let cookie = session(&app, &http).await;
    let page = get(&app, &http, &cookie, "/admin/t/default/clients").await;
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert!(
        headers["content-security-policy"]
            .to_str()
            .expect("csp")
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    let csrf = csrf_of(&page.text().await.expect("page"));
    let before = group_count(&app).await;
    for token in [None, Some("wrong-token")] {
        let mut form = vec![("name", "Forged"), ("scopes", "read")];
        if let Some(token) = token {
            form.push(("_csrf", token));
        }
        let refused = http
            .post(format!("{}/admin/t/default/groups", app.base))
            .header(COOKIE, &cookie)
            .form(&form)
            .send()
            .await
            .expect("sent");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(
            refused
                .text()
                .await
                .expect("page")
                .contains("CSRF check failed")
        );
    }
    assert_eq!(group_count(&app).await, before, "nothing was created");
    // With the token it works.
    let made = http
        .post(format!("{}/admin/t/default/groups", app.base))
        .header(COOKIE, &cookie)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("name", "Shops"),
            ("scopes", "read"),
            ("scopes", "use"),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    assert_eq!(group_count(&app).await, before + 1);
    // Logging out needs the token too; afterwards the cookie is worthless.
    let kept = http
        .post(format!("{}/admin/logout", app.base))
        .header(COOKIE, &cookie)
        .form(&[("_csrf", "nope")])
        .send()
        .await
        .expect("sent");
    assert_eq!(kept.status(), StatusCode::FORBIDDEN);
    let out = http
        .post(format!("{}/admin/logout", app.base))
        .header(COOKIE, &cookie)
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = get(&app, &http, &cookie, "/admin/").await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(after.headers()[LOCATION], "/admin/login");
    app.stop().await;
}

async fn five_wrong_passwords_lock_the_user_for_a_while(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    create_user(&app, OPERATOR, PASSWORD);
    let http = plain_http();
    for attempt in 1..=5 {
        let wrong = log_in(&app, &http, OPERATOR, "not the password").await;
        let expected = if attempt < 5 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(wrong.status(), expected, "attempt {attempt}");
    }
    // Locked: even the right password does not open a session.
    let locked = log_in(&app, &http, OPERATOR, PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::FORBIDDEN);
    assert!(locked.text().await.expect("page").contains("locked"));
    // An unknown user reads like a wrong password.
    let unknown = log_in(&app, &http, "nobody", PASSWORD).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    app.advance(Duration::minutes(15));
    session(&app, &http).await;
    app.stop().await;
}

/// Guessing across user names: after 10 failed logins in a minute from one address, that
/// address gets 429 (even with the right password) until the minute is over; over ten minutes
/// of the clock a guesser gets 100 tries, not one per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_from_one_address_are_throttled() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    create_user(&app, OPERATOR, PASSWORD);
    let http = plain_http();
    let mut tried = 0;
    for second in 0..600 {
        let guess = log_in(&app, &http, &format!("guess-{second}"), "not the password").await;
        match guess.status() {
            StatusCode::UNAUTHORIZED => tried += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("guess {second}: {other}"),
        }
        if second == 10 {
            let right = log_in(&app, &http, OPERATOR, PASSWORD).await;
            assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
        }
        app.advance(Duration::seconds(1));
    }
    assert_eq!(tried, 100, "10 tries a minute for 10 minutes");
    app.advance(Duration::minutes(1));
    session(&app, &http).await;
    app.stop().await;
}

async fn an_idle_session_expires(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    create_user(&app, OPERATOR, PASSWORD);
    let http = plain_http();
    let cookie = session(&app, &http).await;
    // Each request within 30 minutes keeps the session alive.
    for _ in 0..3 {
        app.advance(Duration::minutes(20));
        let page = get(&app, &http, &cookie, "/admin/").await;
        assert_eq!(page.status(), StatusCode::OK);
    }
    app.advance(Duration::minutes(30));
    let expired = get(&app, &http, &cookie, "/admin/t/default/vouchers").await;
    assert_eq!(expired.status(), StatusCode::SEE_OTHER);
    assert_eq!(expired.headers()[LOCATION], "/admin/login");
    app.stop().await;
}

/// Starts a series with the console's form; answers its id.
async fn start_series(app: &TestApp, http: &reqwest::Client, cookie: &str, count: &str) -> String {
    let page = get(app, http, cookie, "/admin/t/default/series").await;
    let csrf = csrf_of(&page.text().await.expect("page"));
    let started = http
        .post(format!("{}/admin/t/default/series", app.base))
        .header(COOKIE, cookie)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("count", count),
            ("amount", "20.00"),
            ("currency", "EUR"),
            ("status", "active"),
            ("batch", "XMAS"),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let location = started.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_string();
    location.rsplit('/').next().expect("series id").to_string()
}

/// Waits, up to a bound, until the series page says `done`; answers the page.
async fn finished_series(app: &TestApp, http: &reqwest::Client, cookie: &str, id: &str) -> String {
    for _ in 0..600 {
        let page = get(app, http, cookie, &format!("/admin/t/default/series/{id}"))
            .await
            .text()
            .await
            .expect("page");
        if page.contains("<strong id=\"state\">done</strong>") {
            return page;
        }
        assert!(
            !page.contains("<strong id=\"state\">failed</strong>"),
            "{page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("series {id} did not finish");
}

async fn csv_lines(app: &TestApp, http: &reqwest::Client, cookie: &str, path: &str) -> Vec<String> {
    let response = get(app, http, cookie, path).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let text = response.text().await.expect("csv");
    text.lines().map(str::to_string).collect()
}

async fn a_series_is_issued_in_the_background_and_downloaded(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    create_user(&app, OPERATOR, PASSWORD);
    let http = plain_http();
    let cookie = session(&app, &http).await;
    let id = start_series(&app, &http, &cookie, "1200").await;
    let page = finished_series(&app, &http, &cookie, &id).await;
    assert!(page.contains("<span id=\"issued\">1200</span>"), "{page}");

    let lines = csv_lines(
        &app,
        &http,
        &cookie,
        &format!("/admin/t/default/series/{id}/vouchers.csv"),
    )
    .await;
    assert_eq!(
        lines[0],
        "custom_id;code;pin;batch;amount;taxable;tax_rate;currency;status;type;validity_value;validity_interval;sku;valid_until"
    );
    assert_eq!(lines.len(), 1 + 1200);
    let codes: std::collections::HashSet<&str> = lines[1..]
        .iter()
        .map(|l| l.split(';').nth(1).expect("code"))
        .collect();
    assert_eq!(codes.len(), 1200, "every code differs");
    for line in &lines[1..] {
        let fields: Vec<&str> = line.split(';').collect();
        assert_eq!(fields.len(), 14, "{line}");
        assert_eq!(
            (fields[3], fields[4], fields[7], fields[8]),
            ("XMAS", "20.00", "EUR", "active")
        );
    }
    // The tenant's export holds them too (and a voucher made elsewhere).
    let c = app.client("default", ALL_SCOPES).await;
    app.active_voucher(&c.token, "5.00").await;
    let all = csv_lines(&app, &http, &cookie, "/admin/t/default/export.csv").await;
    assert_eq!(all.len(), 1 + 1201);
    // The vouchers are real: one of them pays.
    let code = lines[1].split(';').nth(1).expect("code");
    app.post(
        "/v1/reservations",
        &c.token,
        json!({ "code": code, "amount": "20.00", "currency": "EUR" }),
    )
    .await
    .expect(StatusCode::CREATED);
    app.integrity_is_clean("default").await;
    app.stop().await;
}

async fn a_series_resumes_after_a_restart_without_issuing_too_many(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    create_user(&app, OPERATOR, PASSWORD);
    let http = plain_http();
    let cookie = session(&app, &http).await;
    let id = start_series(&app, &http, &cookie, "3000").await;
    // Stopped at once, most likely in the middle of the series.
    let (database_url, clock) = (app.database_url.clone(), app.clock.clone());
    app.stop().await;
    let app = TestApp::spawn_on(&database_url, clock).await;
    // The stopped node's lease runs out; this node takes the series over.
    app.advance(Duration::seconds(61));
    let cookie = session(&app, &http).await;
    finished_series(&app, &http, &cookie, &id).await;
    let lines = csv_lines(
        &app,
        &http,
        &cookie,
        &format!("/admin/t/default/series/{id}/vouchers.csv"),
    )
    .await;
    assert_eq!(lines.len(), 1 + 3000, "exactly the vouchers asked for");
    app.integrity_is_clean("default").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_manages_clients_and_vouchers_in_chromium() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let Some(browser) = Browser::start().await else {
        return;
    };
    create_user(&app, OPERATOR, PASSWORD);
    let c = app.client("default", ALL_SCOPES).await;
    for (batch, amount) in [
        ("SPRING", "25.00"),
        ("AUTUMN", "40.00"),
        ("AUTUMN", "15.00"),
    ] {
        app.post(
            "/v1/vouchers",
            &c.token,
            json!({ "amount": amount, "currency": "EUR", "status": "active", "batch": batch }),
        )
        .await
        .expect(StatusCode::CREATED);
    }

    // Logging in.
    browser.open(&format!("{}/admin/", app.base)).await;
    assert!(browser.current_url().await.ends_with("/admin/login"));
    browser.screenshot("console-login").await;
    browser.fill("#username", OPERATOR).await;
    browser.fill("#password", PASSWORD).await;
    browser.click_and_wait("#login").await;
    assert_eq!(browser.text("#operator").await, OPERATOR);
    assert!(browser.text("body").await.contains("default"));

    // A client group and a client, then the client's connection pin.
    browser
        .open(&format!("{}/admin/t/default/clients", app.base))
        .await;
    browser.click("#group-panel summary").await;
    browser.fill("#group-name", "Tills").await;
    browser.click_and_wait("#create-group").await;
    assert_eq!(
        browser.text("#notice").await,
        "The client group was created."
    );
    assert!(browser.text("#groups").await.contains("Tills"));
    browser.click("#client-panel summary").await;
    browser.fill("#client-name", "Till 7").await;
    browser.click_and_wait("#create-client").await;
    assert_eq!(browser.text("#notice").await, "The client was created.");
    browser.screenshot("console-clients").await;
    browser
        .click_and_wait("#clients tr[data-name='Till 7'] button.connect")
        .await;
    let pin = browser.text("#pin").await;
    // The countdown script fills the element (by the browser's clock, not the test's, so it
    // may already read "expired"); without the script it stays empty.
    assert!(
        !browser.text("#countdown").await.is_empty(),
        "the countdown runs"
    );
    browser.screenshot("console-pin").await;
    let connected = app
        .send(
            Method::POST,
            "/v1/clients/connect",
            None,
            Some(json!({ "pin": pin })),
            &[],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(connected.json["name"], "Till 7");

    // Finding a voucher by batch, its timeline, a recharge and a deactivation.
    browser
        .open(&format!("{}/admin/t/default/vouchers", app.base))
        .await;
    assert_eq!(browser.text("#count").await, "3 vouchers");
    browser.fill("input[name=batch]", "SPRING").await;
    browser.click_and_wait("#find").await;
    assert_eq!(browser.text("#count").await, "1 voucher");
    browser.screenshot("console-vouchers").await;
    browser.click_and_wait("#vouchers tbody a").await;
    assert_eq!(browser.text("#remaining").await, "25.00 EUR");
    assert!(browser.text("#timeline").await.contains("voucher.create"));
    browser.fill("#recharge input[name=amount]", "5.00").await;
    browser
        .fill("#recharge input[name=order_number]", "CONSOLE-1")
        .await;
    browser.click_and_wait("#recharge button").await;
    assert_eq!(browser.text("#notice").await, "The voucher was recharged.");
    assert_eq!(browser.text("#remaining").await, "30.00 EUR");
    assert!(browser.text("#timeline").await.contains("CONSOLE-1"));
    browser.click_and_wait("#toggle-status button").await;
    assert_eq!(browser.text("#status").await, "inactive");
    browser.screenshot("console-voucher").await;

    // A series of 300 with its progress page, then its CSV link.
    browser
        .open(&format!("{}/admin/t/default/series", app.base))
        .await;
    browser.fill("#series-count", "300").await;
    browser.fill("#series-amount", "10.00").await;
    browser.fill("#series-batch", "GIFT").await;
    browser.click_and_wait("#issue").await;
    assert!(browser.has("#progress").await);
    browser.screenshot("console-series-progress").await;
    let series_url = browser.current_url().await;
    let mut state = String::new();
    for _ in 0..300 {
        browser.open(&series_url).await;
        state = browser.text("#state").await;
        if state != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(state, "done");
    assert_eq!(browser.text("#issued").await, "300");
    assert!(browser.has("#csv").await);
    browser.screenshot("console-series-done").await;

    // Settings: the code pattern's samples follow what the operator types.
    browser
        .open(&format!("{}/admin/t/default/settings", app.base))
        .await;
    browser.fill("#code_pattern", "LIVE-[0-9]{12}").await;
    let mut samples = String::new();
    for _ in 0..100 {
        samples = browser.text("#code_pattern-samples").await;
        if samples.starts_with("LIVE-") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(samples.starts_with("LIVE-"), "live preview: {samples}");
    browser.screenshot("console-settings").await;

    // Reports and the audit log.
    browser
        .open(&format!("{}/admin/t/default/reports", app.base))
        .await;
    assert!(browser.has("#chart").await);
    browser.screenshot("console-reports").await;
    browser
        .open(&format!("{}/admin/t/default/audit", app.base))
        .await;
    assert!(browser.text("#audit").await.contains("console:ops"));
    browser.screenshot("console-audit").await;

    // An import with one bad row (nothing written, the line named), then a good one.
    let dir = std::env::temp_dir().join(format!("voucherd-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (bad, good) = (dir.join("bad.csv"), dir.join("good.csv"));
    std::fs::write(&bad, import_file(true)).expect("file");
    std::fs::write(&good, import_file(false)).expect("file");
    browser
        .open(&format!("{}/admin/t/default/import", app.base))
        .await;
    browser.choose_file("#file", &bad).await;
    browser.click_and_wait("#upload").await;
    assert!(browser.text("#problems").await.contains("amount"));
    browser.screenshot("console-import-refused").await;
    browser.choose_file("#file", &good).await;
    browser.click_and_wait("#upload").await;
    assert_eq!(browser.text("#notice").await, "2 vouchers were imported.");
    browser.screenshot("console-import-done").await;

    // Day-2: a merchant token made and revoked; a second operator made and disabled.
    browser
        .open(&format!("{}/admin/t/default/settings", app.base))
        .await;
    browser.fill("#merchant-name", "Hotel").await;
    browser.click_and_wait("#create-token").await;
    let merchant_token = browser.text("#token").await;
    let front = |token: String| {
        let app = &app;
        async move {
            app.send(
                Method::GET,
                "/api/v1/connect/reservations/details/RES0000000001",
                Some(&token),
                None,
                &[],
            )
            .await
            .status
        }
    };
    assert_eq!(front(merchant_token.clone()).await, StatusCode::NOT_FOUND);
    browser
        .click_and_wait("#merchant-tokens button.revoke")
        .await;
    assert!(browser.text("#notice").await.contains("revoked"));
    assert!(browser.text("#merchant-tokens").await.contains("Revoked"));
    assert_eq!(front(merchant_token).await, StatusCode::UNAUTHORIZED);
    browser.click_and_wait("#users-link").await;
    browser.click("#user-panel summary").await;
    browser.fill("#new-username", "ola").await;
    browser.fill("#new-password", PASSWORD).await;
    browser.fill("#new-again", PASSWORD).await;
    browser.click_and_wait("#create-user").await;
    assert_eq!(
        browser.text("#notice").await,
        "The console user was created."
    );
    browser
        .click_and_wait("#users tr[data-user='ola'] button.disable")
        .await;
    assert!(
        browser
            .text("#users tr[data-user='ola'] .status")
            .await
            .starts_with("Disabled since")
    );
    assert!(
        !browser
            .has("#users tr[data-user='ops'] button.disable")
            .await
    );
    browser.screenshot("console-users").await;

    // Events: the page follows the feed live; a voucher made now appears without a reload.
    browser
        .open(&format!("{}/admin/t/default/events", app.base))
        .await;
    assert!(browser.text("#events").await.contains("voucher.created"));
    browser.click("#follow").await;
    let (followed, _) = app.active_voucher(&c.token, "3.00").await;
    let mut shown = String::new();
    for _ in 0..100 {
        shown = browser.text("#events").await;
        if shown.contains(&followed) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        shown.contains(&followed),
        "the new event was not shown: {shown}"
    );
    browser.screenshot("console-events").await;

    // The payment page's branding: a colour, then a logo chosen as a file.
    browser
        .open(&format!("{}/admin/t/default/branding", app.base))
        .await;
    browser.fill("#display_name", "Hotel Fjord").await;
    browser.fill("#colour", "#0a6e5a").await;
    browser.click_and_wait("#save-branding").await;
    assert_eq!(
        browser.text("#notice").await,
        "The payment page's settings were saved."
    );
    let logo =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/api/fixtures/logo.png");
    browser.choose_file("#logo-file", &logo).await;
    browser.click_and_wait("#upload-logo").await;
    assert!(browser.has("#current-logo").await, "the logo is shown");
    browser.screenshot("console-branding").await;

    // Webhooks: an endpoint whose receiver is not there; the test event says so.
    browser
        .open(&format!("{}/admin/t/default/webhooks", app.base))
        .await;
    browser.click("#webhook-panel summary").await;
    browser
        .fill("#webhook-url", "http://127.0.0.1:9/nowhere")
        .await;
    browser.click("#webhook-private").await;
    browser.click_and_wait("#create-webhook").await;
    assert!(browser.text("#secret").await.starts_with("whsec_"));
    browser.click_and_wait("#endpoints a").await;
    browser.click_and_wait("#send-test").await;
    assert_eq!(
        browser.text("#problem").await,
        "The test event was not delivered: connection failed."
    );
    assert!(browser.text("#deliveries").await.contains("webhook.test"));
    browser.screenshot("console-webhook").await;

    browser.click_and_wait("#logout").await;
    assert!(browser.current_url().await.ends_with("/admin/login"));
    browser.quit().await;
    app.integrity_is_clean("default").await;
    app.stop().await;
}
