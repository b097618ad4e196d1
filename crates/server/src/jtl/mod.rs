//! The JTL Voucher Cloud API v1.8 face: `/v1/...` and `/oauth/token`.
//!
//! Each handler checks the token's scope, validates the body with JTL's rules and codes, builds
//! one store command, and answers in JTL's envelope. Two extensions are added, as documented in
//! the OpenAPI: `GET` and `DELETE /v1/reservations/{id}`.

pub mod auth;
mod clients;
pub mod error;
mod input;
mod oauth;
pub(crate) mod pages;
mod present;
mod reservations;
mod respond;
pub mod validate;
mod vouchers;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use voucherd_store::Actor;

use self::auth::Caller;
use self::error::JtlError;
use self::input::JtlInput;
use self::respond::respond;
use crate::AppState;
use crate::submit::{Answer, Render, submit};

/// The routes of the face.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth/token", post(oauth::token))
        .route("/v1/clients/connect", post(clients::connect))
        .route("/v1/clients/disconnect", post(clients::disconnect))
        .route("/v1/vouchers", get(vouchers::list).post(vouchers::create))
        .route("/v1/vouchers/recharge", post(vouchers::recharge))
        .route(
            "/v1/vouchers/{id}",
            get(vouchers::show)
                .patch(vouchers::update)
                .delete(vouchers::delete),
        )
        .route("/v1/vouchers/{id}/complete", get(vouchers::complete))
        .route(
            "/v1/vouchers/{id}/status",
            axum::routing::patch(vouchers::set_status),
        )
        .route("/v1/vouchers/{id}/charges", get(vouchers::charges))
        .route(
            "/v1/vouchers/{id}/charges/{charge_id}",
            get(vouchers::charge),
        )
        .route("/v1/reservations", post(reservations::create))
        .route(
            "/v1/reservations/{id}",
            get(reservations::show).delete(reservations::release),
        )
        .route("/v1/reservations/{id}/charge", post(reservations::charge))
        .route("/v1/charges/{id}/refund", post(reservations::refund))
}

/// Submits a command for the calling API client.
async fn submit_as(
    state: &AppState,
    caller: &Caller,
    input: &JtlInput,
    command: voucherd_store::Command,
    render: Render,
) -> Answer {
    submit(
        state,
        &caller.tenant_id,
        Actor::Client(caller.client_id.clone()),
        &input.request_id,
        command,
        input.keyed(&caller.client_id),
        render,
    )
    .await
}

/// Submits a command for an API client and answers in the JTL envelope.
async fn execute(
    state: &AppState,
    caller: &Caller,
    input: &JtlInput,
    command: voucherd_store::Command,
    render: Render,
) -> Response {
    respond(submit_as(state, caller, input, command, render).await)
}

/// Like [`execute`] for commands that name a voucher by its code: a client that keeps missing
/// (unknown codes, wrong PINs) is throttled, so codes cannot be guessed at speed.
async fn execute_guarded(
    state: &AppState,
    caller: &Caller,
    input: &JtlInput,
    command: voucherd_store::Command,
    render: Render,
) -> Response {
    let key = format!("{}/{}", caller.tenant_id, caller.client_id);
    if let Some(wait) = state.code_misses.blocked_for(&key, state.clock.now()) {
        return JtlError::TooManyRequests(wait).into_response();
    }
    let answer = submit_as(state, caller, input, command, render).await;
    if matches!(&answer, Answer::Fresh { response, .. } if response.status == 404) {
        state.code_misses.record(&key, state.clock.now());
    }
    respond(answer)
}
