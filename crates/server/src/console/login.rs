//! Logging in and out. The login form is protected against cross-site posts by a token in a
//! cookie that the form must repeat; wrong passwords are counted per user (five in a row lock
//! the user for 15 minutes) and per address; passwords are checked with argon2id off the async
//! workers, and an unknown user costs the same time as a known one.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use voucherd_domain::{password, secret};
use voucherd_store::model::DEFAULT_TENANT_ID;
use voucherd_store::{Actor, Command, Outcome};

use super::session::{Fields, LOGIN_COOKIE, Operator, SESSION_COOKIE, cookie, set_cookie};
use super::{Nav, render, see_other, unavailable};
use crate::AppState;
use crate::submit::{Answer, submit, unrendered};

#[derive(Template)]
#[template(path = "console/login.html")]
struct Login {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    csrf: String,
    username: String,
}

/// The login page with a fresh form token (also set as a cookie).
fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    problem: Option<String>,
    username: &str,
) -> Response {
    let csrf = secret::random_string(secret::ALPHANUMERIC, 32);
    let notice = None;
    let mut r = render(
        status,
        &Login {
            nav: None,
            notice,
            problem,
            csrf: csrf.clone(),
            username: username.to_string(),
        },
    );
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, headers, LOGIN_COOKIE, Some(&csrf)),
    );
    r
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    login_page(&state, &headers, StatusCode::OK, None, "")
}

async fn command(state: &AppState, command: Command) -> Answer {
    submit(
        state,
        DEFAULT_TENANT_ID,
        Actor::Anonymous,
        &format!("console-{}", secret::opaque_id()),
        command,
        None,
        unrendered(),
    )
    .await
}

pub async fn log_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    let username = fields.get("username").unwrap_or_default().to_string();
    let fail = |status, text: &str| {
        login_page(&state, &headers, status, Some(text.to_string()), &username)
    };
    let form_token = fields.get("_csrf").unwrap_or_default();
    let cookie_token = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if form_token.is_empty() || !secret::constant_time_eq(form_token, cookie_token) {
        return fail(
            StatusCode::FORBIDDEN,
            "The login form expired or did not come from this console. Please try again.",
        );
    }
    let now = state.clock.now();
    let address_key = format!("console-login/{}", peer.ip());
    if let Some(wait) = state.connect_attempts.blocked_for(&address_key, now) {
        return fail(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many failed logins from this address. Try again in {wait} seconds."),
        );
    }
    let password = fields.get("password").unwrap_or_default().to_string();
    if username.is_empty() || password.is_empty() || username.len() > 64 || password.len() > 256 {
        return fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter your user name and password.",
        );
    }
    let user = match state.store.console_user(&username).await {
        Ok(user) => user,
        Err(error) => return unavailable(&error),
    };
    if let Some(until) = user
        .as_ref()
        .and_then(|u| u.locked_until)
        .filter(|u| *u > now)
    {
        let minutes = ((until - now).whole_seconds() + 59) / 60;
        return fail(
            StatusCode::FORBIDDEN,
            &format!(
                "This user is locked after repeated failed logins. Try again in {minutes} minutes."
            ),
        );
    }
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verified =
        tokio::task::spawn_blocking(move || password::verify(&password, stored.as_deref()))
            .await
            .unwrap_or(false);
    let Some(user) = user.filter(|_| verified) else {
        state.connect_attempts.record(&address_key, now);
        if !username.is_empty() {
            let counted = command(
                &state,
                Command::ConsoleLoginFailed {
                    username: username.clone(),
                },
            )
            .await;
            if let Answer::Fresh {
                result:
                    Ok(Outcome::ConsoleLoginCounted {
                        locked_until: Some(_),
                    }),
                ..
            } = counted
            {
                return fail(
                    StatusCode::FORBIDDEN,
                    "This user is locked after repeated failed logins. Try again in 15 minutes.",
                );
            }
        }
        return fail(StatusCode::UNAUTHORIZED, "Wrong user name or password.");
    };
    // Said only to someone who knows the password, so it tells a guesser nothing.
    if user.disabled_at.is_some() {
        return fail(
            StatusCode::FORBIDDEN,
            "This user is disabled. Ask another operator to enable it.",
        );
    }
    match command(&state, Command::OpenConsoleSession { user_id: user.id }).await {
        Answer::Fresh {
            result: Ok(Outcome::ConsoleSession { token, .. }),
            ..
        } => {
            let mut r = see_other("/admin/");
            let cookies = r.headers_mut();
            cookies.append(
                header::SET_COOKIE,
                set_cookie(&state, &headers, SESSION_COOKIE, Some(&token)),
            );
            cookies.append(
                header::SET_COOKIE,
                set_cookie(&state, &headers, LOGIN_COOKIE, None),
            );
            r
        }
        Answer::Failed(error) => unavailable(&error),
        _ => fail(StatusCode::UNAUTHORIZED, "Wrong user name or password."),
    }
}

pub async fn logout(
    State(state): State<AppState>,
    operator: Operator,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    if !operator.sent_by_console(&fields) {
        return super::csrf_refused(&operator);
    }
    let closed = command(
        &state,
        Command::CloseConsoleSession {
            token_digest: operator.token_digest.clone(),
        },
    )
    .await;
    if let Answer::Failed(error) = closed {
        return unavailable(&error);
    }
    let mut r = see_other("/admin/login");
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, &headers, SESSION_COOKIE, None),
    );
    r
}
