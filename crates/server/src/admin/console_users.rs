//! Console users (the operators of the web console): listed, created, disabled and enabled,
//! unlocked after failed logins, and given a new password. Every change is audited; disabling
//! a user or giving them a new password ends their sessions at once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use voucherd_store::console::{ConsoleUserChange, password_problem, username_problem};
use voucherd_store::model::DEFAULT_TENANT_ID;
use voucherd_store::{Command, Outcome};

use crate::AppState;

use super::error::AdminError;
use super::extract::{Admin, AdminBody, AdminPath, json_response, renderer, run};
use super::present;

pub(super) async fn list(_: Admin, State(state): State<AppState>) -> Result<Response, AdminError> {
    let users = state
        .store
        .console_users()
        .await
        .map_err(|e| AdminError::store(&e))?;
    let now = state.clock.now();
    let data: Vec<Value> = users
        .iter()
        .map(|u| present::console_user(u, now))
        .collect();
    Ok(json_response(StatusCode::OK, &json!({ "data": data })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewUser {
    username: String,
    password: String,
}

/// Hashes a password off the async workers, after checking its length.
async fn password_hash(password: String) -> Result<String, AdminError> {
    if let Some(problem) = password_problem(&password) {
        return Err(AdminError::invalid(problem));
    }
    crate::passwords::hashed(password)
        .await
        .ok_or_else(|| AdminError::invalid("the password could not be hashed"))
}

pub(super) async fn create(
    _: Admin,
    State(state): State<AppState>,
    body: AdminBody<NewUser>,
) -> Result<Response, AdminError> {
    let NewUser { username, password } = body.value;
    if let Some(problem) = username_problem(&username) {
        return Err(AdminError::invalid(problem));
    }
    let password_hash = password_hash(password).await?;
    let render = renderer(StatusCode::CREATED, |o| match o {
        Outcome::ConsoleUser { id, username } => json!({ "id": id, "username": username }),
        _ => Value::Null,
    });
    Ok(run(
        &state,
        DEFAULT_TENANT_ID,
        (body.request_id, body.keyed),
        Command::CreateConsoleUser {
            username,
            password_hash,
        },
        render,
    )
    .await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewPassword {
    password: String,
}

pub(super) async fn reset_password(
    admin: Admin,
    state: State<AppState>,
    AdminPath(username): AdminPath<String>,
    body: AdminBody<NewPassword>,
) -> Result<Response, AdminError> {
    let password_hash = password_hash(body.value.password).await?;
    let change = ConsoleUserChange::ResetPassword { password_hash };
    // A password is not kept for replays: a repeated request sets it again.
    let meta = (body.request_id, None);
    change_user(admin, state, username, meta, change).await
}

pub(super) async fn disable(
    admin: Admin,
    state: State<AppState>,
    AdminPath(username): AdminPath<String>,
    body: AdminBody<Value>,
) -> Result<Response, AdminError> {
    let meta = (body.request_id, body.keyed);
    change_user(admin, state, username, meta, ConsoleUserChange::Disable).await
}

pub(super) async fn enable(
    admin: Admin,
    state: State<AppState>,
    AdminPath(username): AdminPath<String>,
    body: AdminBody<Value>,
) -> Result<Response, AdminError> {
    let meta = (body.request_id, body.keyed);
    change_user(admin, state, username, meta, ConsoleUserChange::Enable).await
}

pub(super) async fn unlock(
    admin: Admin,
    state: State<AppState>,
    AdminPath(username): AdminPath<String>,
    body: AdminBody<Value>,
) -> Result<Response, AdminError> {
    let meta = (body.request_id, body.keyed);
    change_user(admin, state, username, meta, ConsoleUserChange::Unlock).await
}

async fn change_user(
    _: Admin,
    State(state): State<AppState>,
    username: String,
    meta: (String, Option<crate::submit::Keyed>),
    change: ConsoleUserChange,
) -> Result<Response, AdminError> {
    let now = state.clock.now();
    let render = renderer(StatusCode::OK, move |o| match o {
        Outcome::ConsoleUserChanged(user) => present::console_user(user, now),
        _ => Value::Null,
    });
    Ok(run(
        &state,
        DEFAULT_TENANT_ID,
        meta,
        Command::ChangeConsoleUser { username, change },
        render,
    )
    .await)
}
