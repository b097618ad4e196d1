//! `/v1/clients/connect` (a pin for credentials, rate limited per address) and
//! `/v1/clients/disconnect` (the calling client revokes itself).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use voucherd_store::{Actor, Command, Outcome};

use super::auth::Caller;
use super::error::JtlError;
use super::input::JtlInput;
use super::present;
use super::respond::{Success, renderer, respond};
use super::validate::Validator;
use crate::AppState;
use crate::submit::{Answer, submit};

/// Longest pin accepted.
const PIN_CHARS_MAX: usize = 255;

pub async fn connect(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    input: JtlInput,
) -> Result<Response, JtlError> {
    let now = state.clock.now();
    let address = peer.ip().to_string();
    if let Some(wait) = state.connect_attempts.blocked_for(&address, now) {
        return Err(JtlError::TooManyRequests(wait));
    }
    state.connect_attempts.record(&address, now);
    let mut v = Validator::new("CLIENT.CONNECT", &input.fields);
    let pin = v.string("pin", "pin", true, PIN_CHARS_MAX);
    v.finish()?;
    let pin = pin.ok_or(JtlError::Internal)?;
    let render = renderer("CLIENT.CONNECT", |outcome| match outcome {
        Outcome::Connected { client, secret, .. } => {
            Success::json(axum::http::StatusCode::OK, &present::client(client, secret))
        }
        _ => Success::no_content(),
    });
    // No idempotency here: the caller is unknown until the pin is exchanged, and a pin works once.
    let answer = submit(
        &state,
        "",
        Actor::Anonymous,
        &input.request_id,
        Command::ConnectClient { pin },
        None,
        render,
    )
    .await;
    // Connecting again rotates the credentials: earlier tokens of the client end here at once.
    if let Answer::Fresh {
        result: Ok(Outcome::Connected { client, .. }),
        ..
    } = &answer
    {
        state.tokens.forget_client(&client.id);
    }
    Ok(respond(answer))
}

pub async fn disconnect(
    State(state): State<AppState>,
    caller: Caller,
    input: JtlInput,
) -> Response {
    let render = renderer("CLIENT.DISCONNECT", |_| Success::no_content());
    let command = Command::DisconnectClient {
        client_id: caller.client_id.clone(),
    };
    let response = super::execute(&state, &caller, &input, command, render).await;
    state.tokens.forget_client(&caller.client_id);
    response
}
