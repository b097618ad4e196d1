//! The console's own users: listed with their status, created, disabled and enabled, unlocked
//! after failed logins, and given a new password, by any logged-in operator. Each change is a
//! store command, audited in the default tenant like logins; disabling a user or setting their
//! password ends their sessions. An operator cannot disable themselves, so the console always
//! keeps someone who can undo a change.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use voucherd_store::Command;
use voucherd_store::console::{
    CONSOLE_PASSWORD_CHARS_MAX, CONSOLE_PASSWORD_CHARS_MIN, CONSOLE_USERNAME_CHARS_MAX,
    ConsoleUserChange, password_problem, username_problem,
};
use voucherd_store::model::DEFAULT_TENANT_ID;

use super::session::Fields;
use super::{Nav, Operator, csrf_refused, flashes, render, run, see_other, unavailable, when};
use crate::AppState;

pub struct UserRow {
    pub username: String,
    pub status: String,
    pub created: String,
    pub disabled: bool,
    pub locked: bool,
    pub is_you: bool,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct Users {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    csrf: String,
    users: Vec<UserRow>,
    username_max: usize,
    password_min: usize,
    password_max: usize,
}

async fn users_page(
    state: &AppState,
    operator: &Operator,
    status: StatusCode,
    notice: Option<String>,
    problem: Option<String>,
) -> Response {
    let users = match state.store.console_users().await {
        Ok(users) => users,
        Err(error) => return unavailable(&error),
    };
    let now = state.clock.now();
    let users = users
        .into_iter()
        .map(|u| {
            let locked = u.locked_until.filter(|until| *until > now);
            let status = match (u.disabled_at, locked) {
                (Some(since), _) => format!("Disabled since {}", when(since)),
                (None, Some(until)) => format!("Locked until {}", when(until)),
                (None, None) => "Active".to_string(),
            };
            UserRow {
                is_you: u.id == operator.user_id,
                status,
                created: when(u.created_at),
                disabled: u.disabled_at.is_some(),
                locked: locked.is_some(),
                username: u.username,
            }
        })
        .collect();
    render(
        status,
        &Users {
            nav: Some(operator.nav(None, "users")),
            notice,
            problem,
            csrf: operator.csrf.clone(),
            users,
            username_max: CONSOLE_USERNAME_CHARS_MAX,
            password_min: CONSOLE_PASSWORD_CHARS_MIN,
            password_max: CONSOLE_PASSWORD_CHARS_MAX,
        },
    )
}

pub async fn page(
    State(state): State<AppState>,
    operator: Operator,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (notice, problem) = flashes(&query);
    users_page(&state, &operator, StatusCode::OK, notice, problem).await
}

/// The hash of a new password typed twice, or what is wrong with it.
async fn new_password_hash(fields: &Fields) -> Result<String, String> {
    let password = fields.get("password").unwrap_or_default().to_string();
    if fields.get("again") != Some(password.as_str()) {
        return Err("The two passwords differ; nothing was changed.".into());
    }
    if let Some(problem) = password_problem(&password) {
        return Err(format!("Not changed: {problem}."));
    }
    crate::passwords::hashed(password)
        .await
        .ok_or_else(|| "The password could not be hashed; try again.".to_string())
}

/// Runs a console-user command; the page to answer with.
async fn apply(state: &AppState, operator: &Operator, command: Command, notice: &str) -> Response {
    match run(state, DEFAULT_TENANT_ID, operator, command).await {
        Ok(Ok(_)) => see_other(&format!("/admin/users?notice={notice}")),
        Ok(Err(refusal)) => {
            let problem = Some(format!("Not changed: {refusal}."));
            users_page(
                state,
                operator,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                problem,
            )
            .await
        }
        Err(response) => response,
    }
}

pub async fn create(
    State(state): State<AppState>,
    operator: Operator,
    Form(fields): Form<Fields>,
) -> Response {
    if !operator.sent_by_console(&fields) {
        return csrf_refused(&operator);
    }
    let refused = |problem: String| {
        users_page(
            &state,
            &operator,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(problem),
        )
    };
    let username = fields
        .get("username")
        .unwrap_or_default()
        .trim()
        .to_string();
    if let Some(problem) = username_problem(&username) {
        return refused(format!("Not created: {problem}.")).await;
    }
    let password_hash = match new_password_hash(&fields).await {
        Ok(hash) => hash,
        Err(problem) => return refused(problem).await,
    };
    let command = Command::CreateConsoleUser {
        username,
        password_hash,
    };
    apply(&state, &operator, command, "user-created").await
}

pub async fn change(
    State(state): State<AppState>,
    operator: Operator,
    Form(fields): Form<Fields>,
) -> Response {
    if !operator.sent_by_console(&fields) {
        return csrf_refused(&operator);
    }
    let username = fields.get("username").unwrap_or_default().to_string();
    let (change, notice) = match fields.get("do") {
        Some("disable") if username == operator.username => {
            return see_other("/admin/users?problem=not-yourself");
        }
        Some("disable") => (ConsoleUserChange::Disable, "user-disabled"),
        Some("enable") => (ConsoleUserChange::Enable, "user-enabled"),
        Some("unlock") => (ConsoleUserChange::Unlock, "user-unlocked"),
        Some("password") => match new_password_hash(&fields).await {
            Ok(password_hash) => (
                ConsoleUserChange::ResetPassword { password_hash },
                "password-set",
            ),
            Err(problem) => {
                let problem = Some(problem);
                return users_page(
                    &state,
                    &operator,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    problem,
                )
                .await;
            }
        },
        _ => return see_other("/admin/users?problem=not-found"),
    };
    apply(
        &state,
        &operator,
        Command::ChangeConsoleUser { username, change },
        notice,
    )
    .await
}
