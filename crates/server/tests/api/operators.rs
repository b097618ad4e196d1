//! Day-2 operations: merchant tokens listed and revoked (admin API, console, command line) and
//! refused at once on every node; console users listed, disabled, enabled, unlocked and given
//! a new password (admin API, console, command line), every change audited.

use reqwest::header::{COOKIE, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::macros::datetime;
use voucherd_server::clock::ManualClock;

use crate::console::{
    OPERATOR, PASSWORD, create_user, csrf_of, get, log_in, plain_http, session, session_as,
};
use crate::front_flow::{BASE, merchant};
use crate::support::{Backend, TestApp};

on_both_stores!(
    a_revoked_merchant_token_is_refused_on_every_node_at_once,
    console_users_are_disabled_unlocked_and_given_new_passwords_with_an_audit,
    an_operator_revokes_tokens_and_manages_users_in_the_console,
);

/// The status of a Front Payment request with this merchant token.
async fn front_status(app: &TestApp, token: &str) -> StatusCode {
    app.send(
        Method::GET,
        &format!("{BASE}/details/RES0000000001"),
        Some(token),
        None,
        &[],
    )
    .await
    .status
}

/// A new merchant token of the default tenant: its id and the token.
async fn merchant_token(app: &TestApp, name: &str) -> (String, String) {
    let created = app
        .admin(
            Method::POST,
            "/tenants/default/merchant-tokens",
            Some(json!({ "name": name })),
        )
        .await
        .expect(StatusCode::CREATED);
    let text = |field: &str| created.json[field].as_str().expect(field).to_string();
    (text("id"), text("token"))
}

/// The audit actions of the default tenant about `subject_id`, oldest first.
async fn audited(app: &TestApp, subject_id: &str) -> Vec<String> {
    let log = app
        .admin(
            Method::GET,
            &format!("/tenants/default/audit?subject_id={subject_id}"),
            None,
        )
        .await
        .expect(StatusCode::OK);
    let mut actions: Vec<String> = log.json["data"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_string())
        .collect();
    actions.reverse();
    actions
}

async fn a_revoked_merchant_token_is_refused_on_every_node_at_once(backend: Backend) {
    let Some(url) = crate::support::fresh_database(backend).await else {
        return;
    };
    let clock = ManualClock::new(datetime!(2026-03-01 09:00 UTC));
    let node_a = TestApp::spawn_on(&url, clock.clone()).await;
    let node_b = TestApp::spawn_on(&url, clock.clone()).await;
    let (id, token) = merchant_token(&node_a, "Hotel").await;
    let (kept_id, kept) = merchant_token(&node_a, "Spa").await;
    assert_eq!(front_status(&node_b, &token).await, StatusCode::NOT_FOUND);
    let listed = node_b
        .admin(Method::GET, "/tenants/default/merchant-tokens", None)
        .await
        .expect(StatusCode::OK);
    let tokens = listed.json["data"].as_array().expect("tokens").clone();
    assert_eq!(tokens.len(), 2);
    assert!(tokens.iter().all(|t| t["status"] == "active"));
    assert!(
        tokens.iter().all(|t| t.get("token").is_none()),
        "{tokens:?}"
    );
    let revoked = node_a
        .admin(
            Method::POST,
            &format!("/tenants/default/merchant-tokens/{id}/revoke"),
            None,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(revoked.json["status"], "revoked");
    assert!(revoked.json["revoked_at"].is_string(), "{}", revoked.text);
    // No time passes: the other node refuses the token on its very next request.
    assert_eq!(
        front_status(&node_b, &token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        front_status(&node_a, &token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(front_status(&node_b, &kept).await, StatusCode::NOT_FOUND);
    // Revoking again answers the same and audits nothing more.
    let again = node_b
        .admin(
            Method::POST,
            &format!("/tenants/default/merchant-tokens/{id}/revoke"),
            None,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(again.json, revoked.json);
    assert_eq!(
        audited(&node_a, &id).await,
        ["merchant_token.create", "merchant_token.revoke"]
    );
    let missing = node_a
        .admin(
            Method::POST,
            "/tenants/default/merchant-tokens/nope/revoke",
            None,
        )
        .await
        .expect(StatusCode::NOT_FOUND);
    assert_eq!(missing.json["error"]["code"], "not_found");
    // A token of one tenant cannot be revoked through another.
    node_a
        .admin(
            Method::POST,
            "/tenants",
            Some(json!({ "id": "other", "name": "Other" })),
        )
        .await
        .expect(StatusCode::CREATED);
    node_a
        .admin(
            Method::POST,
            &format!("/tenants/other/merchant-tokens/{kept_id}/revoke"),
            None,
        )
        .await
        .expect(StatusCode::NOT_FOUND);
    assert_eq!(front_status(&node_a, &kept).await, StatusCode::NOT_FOUND);
}

/// One console user as the admin API lists it.
async fn listed_user(app: &TestApp, username: &str) -> Value {
    let list = app
        .admin(Method::GET, "/console-users", None)
        .await
        .expect(StatusCode::OK);
    assert!(!list.text.contains("argon2"), "{}", list.text);
    list.json["data"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == username)
        .cloned()
        .unwrap_or_else(|| panic!("{username} not listed in {}", list.text))
}

async fn console_users_are_disabled_unlocked_and_given_new_passwords_with_an_audit(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let http = plain_http();
    let created = app
        .admin(
            Method::POST,
            "/console-users",
            Some(json!({ "username": "kari", "password": PASSWORD })),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = created.json["id"].as_str().expect("id").to_string();
    for (body, problem) in [
        (
            json!({ "username": "kari2", "password": "short" }),
            "password",
        ),
        (
            json!({ "username": " kari", "password": PASSWORD }),
            "user name",
        ),
        (json!({ "username": "", "password": PASSWORD }), "user name"),
    ] {
        let refused = app
            .admin(Method::POST, "/console-users", Some(body))
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.text.contains(problem), "{}", refused.text);
    }
    assert_eq!(listed_user(&app, "kari").await["status"], "active");

    // Five wrong passwords lock; an unlock lets the right one in at once.
    for _ in 0..5 {
        log_in(&app, &http, "kari", "not the password at all").await;
    }
    let locked = listed_user(&app, "kari").await;
    assert_eq!(locked["status"], "locked");
    assert!(locked["locked_until"].is_string(), "{locked}");
    assert_eq!(
        log_in(&app, &http, "kari", PASSWORD).await.status(),
        StatusCode::FORBIDDEN
    );
    let unlocked = app
        .admin(Method::POST, "/console-users/kari/unlock", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(unlocked.json["status"], "active");
    let cookie = session_as(&app, &http, "kari", PASSWORD).await;
    assert_eq!(
        get(&app, &http, &cookie, "/admin/").await.status(),
        StatusCode::OK
    );

    // Disabling ends the session and refuses the right password.
    let disabled = app
        .admin(Method::POST, "/console-users/kari/disable", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(disabled.json["status"], "disabled");
    let ended = get(&app, &http, &cookie, "/admin/").await;
    assert_eq!(ended.headers()[LOCATION], "/admin/login");
    let refused = log_in(&app, &http, "kari", PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.expect("page").contains("disabled"));
    // A wrong password still reads as wrong: being disabled is told only to the right one.
    let guessed = log_in(&app, &http, "kari", "not the password at all").await;
    assert_eq!(guessed.status(), StatusCode::UNAUTHORIZED);
    app.admin(Method::POST, "/console-users/kari/enable", None)
        .await
        .expect(StatusCode::OK);
    let cookie = session_as(&app, &http, "kari", PASSWORD).await;

    // A new password ends the sessions; the old password no longer works.
    let new_password = "another long password";
    app.admin(
        Method::POST,
        "/console-users/kari/password",
        Some(json!({ "password": "short" })),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    let reset = app
        .admin(
            Method::POST,
            "/console-users/kari/password",
            Some(json!({ "password": new_password })),
        )
        .await
        .expect(StatusCode::OK);
    assert!(!reset.text.contains(new_password));
    let ended = get(&app, &http, &cookie, "/admin/").await;
    assert_eq!(ended.headers()[LOCATION], "/admin/login");
    assert_eq!(
        log_in(&app, &http, "kari", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    session_as(&app, &http, "kari", new_password).await;

    let missing = app
        .admin(Method::POST, "/console-users/nobody/disable", None)
        .await
        .expect(StatusCode::NOT_FOUND);
    assert_eq!(missing.json["error"]["code"], "not_found");
    let actions = audited(&app, &id).await;
    for action in [
        "console_user.create",
        "console.locked",
        "console_user.unlock",
        "console_user.disable",
        "console_user.enable",
        "console_user.reset_password",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    let log = app
        .admin(
            Method::GET,
            &format!("/tenants/default/audit?subject_id={id}&action=console_user.disable"),
            None,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(log.json["data"][0]["actor_id"], "admin", "{}", log.text);
    app.stop().await;
}

/// Posts a console form with the page's CSRF token; answers the response.
async fn post_form(
    app: &TestApp,
    http: &reqwest::Client,
    cookie: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let page = get(app, http, cookie, "/admin/users").await;
    let csrf = csrf_of(&page.text().await.expect("page"));
    let mut form = vec![("_csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    http.post(format!("{}{path}", app.base))
        .header(COOKIE, cookie)
        .form(&form)
        .send()
        .await
        .expect("form sent")
}

async fn an_operator_revokes_tokens_and_manages_users_in_the_console(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    create_user(&app, OPERATOR, PASSWORD);
    let http = plain_http();
    let cookie = session(&app, &http).await;

    // Merchant tokens: the settings page lists them with a revoke button.
    let m = merchant(&app).await;
    let settings = get(&app, &http, &cookie, "/admin/t/default/settings").await;
    let html = settings.text().await.expect("page");
    let listed = app
        .admin(Method::GET, "/tenants/default/merchant-tokens", None)
        .await
        .expect(StatusCode::OK);
    let id = listed.json["data"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let action = format!("/admin/t/default/merchant-tokens/{id}/revoke");
    assert!(html.contains(&action), "{html}");
    let revoked = post_form(&app, &http, &cookie, &action, &[]).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(front_status(&app, &m.token).await, StatusCode::UNAUTHORIZED);
    let after = get(
        &app,
        &http,
        &cookie,
        "/admin/t/default/settings?notice=token-revoked",
    )
    .await;
    let html = after.text().await.expect("page");
    assert!(html.contains("Revoked "), "{html}");
    assert!(!html.contains(&action), "{html}");
    let forged = http
        .post(format!("{}{action}", app.base))
        .header(COOKIE, &cookie)
        .form(&[("_csrf", "forged")])
        .send()
        .await
        .expect("sent");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // Console users: made, disabled, enabled and given a password from the users page.
    let change = "/admin/users/change";
    let made = post_form(
        &app,
        &http,
        &cookie,
        "/admin/users",
        &[
            ("username", "ola"),
            ("password", PASSWORD),
            ("again", "differs from it"),
        ],
    )
    .await;
    assert_eq!(made.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(made.text().await.expect("page").contains("differ"));
    let made = post_form(
        &app,
        &http,
        &cookie,
        "/admin/users",
        &[
            ("username", "ola"),
            ("password", PASSWORD),
            ("again", PASSWORD),
        ],
    )
    .await;
    assert_eq!(made.headers()[LOCATION], "/admin/users?notice=user-created");
    let ola = session_as(&app, &http, "ola", PASSWORD).await;
    let disabled = post_form(
        &app,
        &http,
        &cookie,
        change,
        &[("username", "ola"), ("do", "disable")],
    )
    .await;
    assert_eq!(
        disabled.headers()[LOCATION],
        "/admin/users?notice=user-disabled"
    );
    assert_eq!(
        get(&app, &http, &ola, "/admin/").await.headers()[LOCATION],
        "/admin/login"
    );
    let page = get(&app, &http, &cookie, "/admin/users").await;
    let html = page.text().await.expect("page");
    assert!(html.contains("Disabled since"), "{html}");
    assert!(html.contains("value=\"enable\""), "{html}");
    // An operator cannot disable themselves.
    let myself = post_form(
        &app,
        &http,
        &cookie,
        change,
        &[("username", OPERATOR), ("do", "disable")],
    )
    .await;
    assert_eq!(
        myself.headers()[LOCATION],
        "/admin/users?problem=not-yourself"
    );
    assert_eq!(listed_user(&app, OPERATOR).await["status"], "active");
    post_form(
        &app,
        &http,
        &cookie,
        change,
        &[("username", "ola"), ("do", "enable")],
    )
    .await;
    let new_password = "the new password of ola";
    let set = post_form(
        &app,
        &http,
        &cookie,
        change,
        &[
            ("username", "ola"),
            ("do", "password"),
            ("password", new_password),
            ("again", new_password),
        ],
    )
    .await;
    assert_eq!(set.headers()[LOCATION], "/admin/users?notice=password-set");
    session_as(&app, &http, "ola", new_password).await;
    let unknown = post_form(
        &app,
        &http,
        &cookie,
        change,
        &[("username", "nobody"), ("do", "unlock")],
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let ola_id = listed_user(&app, "ola").await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let log = app
        .admin(
            Method::GET,
            &format!("/tenants/default/audit?subject_id={ola_id}&action=console_user.disable"),
            None,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        log.json["data"][0]["actor_id"],
        format!("console:{OPERATOR}"),
        "{}",
        log.text
    );
    app.stop().await;
}
