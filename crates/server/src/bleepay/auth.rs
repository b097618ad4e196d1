//! Sign-up and sign-in (payer accounts by e-mail or app installation, payees by context
//! code), and the payer's wallet of vouchers. Passwords are hashed with argon2id off the async
//! workers; wrong passwords and wrong context codes are throttled per address.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use serde_json::{Value, json};
use voucherd_domain::DomainError;
use voucherd_domain::bleepay::BleepayRefusal;
use voucherd_domain::password;
use voucherd_store::{Actor, Command, CommandResult, Outcome};

use super::input::{self, SignIn};
use super::{Caller, execute, payer_only, present, read, reply, tenant_of};
use crate::AppState;
use crate::passwords::hashed;
use crate::submit::Answer;

fn token_body(outcome: &Outcome, with_id: bool) -> Value {
    match outcome {
        Outcome::BleepayToken {
            token,
            expires_at,
            payer_id,
        } => {
            let mut body = json!({ "authorization": {
                "token": token, "expiresAt": present::time(*expires_at) } });
            if with_id {
                body["id"] = json!(payer_id);
            }
            body
        }
        _ => Value::Null,
    }
}

pub async fn sign_up(State(state): State<AppState>, request: Request) -> Response {
    let tenant_id = tenant_of(request.headers());
    let write = match read(None, request).await {
        Ok(write) => write,
        Err(response) => return response,
    };
    let (kind, identifier, password) = match input::sign_up(&write.body) {
        Ok(SignIn::Payer {
            kind,
            identifier,
            password,
        }) => (kind, identifier, password),
        Ok(SignIn::Resource { .. }) => {
            let problem = (
                "type".into(),
                "must be email-password or mobile-device".into(),
            );
            return reply::invalid(&[problem]);
        }
        Err(problems) => return reply::invalid(&problems),
    };
    let Some(password_hash) = hashed(password).await else {
        return reply::stored(reply::error(500, "unexpected", "Something went wrong."));
    };
    let render = reply::renderer(|outcome| token_body(outcome, true));
    let command = Command::PayerSignUp {
        kind,
        identifier,
        password_hash,
    };
    reply::respond(execute(&state, &tenant_id, Actor::Anonymous, write, command, render).await)
}

pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let tenant_id = tenant_of(request.headers());
    let write = match read(None, request).await {
        Ok(write) => write,
        Err(response) => return response,
    };
    let sign_in = match input::sign_in(&write.body) {
        Ok(sign_in) => sign_in,
        Err(problems) => return reply::invalid(&problems),
    };
    let now = state.clock.now();
    let throttle_key = format!("bleepay-sign-in/{}", peer.ip());
    if let Some(wait) = state.connect_attempts.blocked_for(&throttle_key, now) {
        return reply::too_many(wait, "Too many failed sign-ins from this address.");
    }
    let render = reply::renderer(|outcome| token_body(outcome, false));
    let command = match sign_in {
        SignIn::Resource { context_code } => Command::PayeeSignIn { context_code },
        SignIn::Payer {
            kind,
            identifier,
            password,
        } => {
            let credential = match state
                .store
                .payer_credential(&tenant_id, kind, &identifier)
                .await
            {
                Ok(credential) => credential,
                Err(e) => return reply::store_failure(&e),
            };
            let stored_hash = credential.as_ref().map(|c| c.password_hash.clone());
            let verified = tokio::task::spawn_blocking(move || {
                password::verify(&password, stored_hash.as_deref())
            })
            .await
            .unwrap_or(false);
            match credential {
                Some(credential) if verified => Command::PayerSignIn {
                    payer_id: credential.payer_id,
                },
                _ => {
                    state.connect_attempts.record(&throttle_key, now);
                    return reply::stored(reply::error(
                        401,
                        "invalid_credentials",
                        "The credentials are not correct.",
                    ));
                }
            }
        }
    };
    let answer = execute(&state, &tenant_id, Actor::Anonymous, write, command, render).await;
    if let Answer::Fresh {
        result: Err(DomainError::Bleepay(BleepayRefusal::InvalidCode)),
        ..
    } = &answer
    {
        state.connect_attempts.record(&throttle_key, now);
    }
    reply::respond(answer)
}

/// Whether a result is a wrong voucher code or PIN (a guess to count).
fn missed_voucher(result: &CommandResult) -> bool {
    matches!(
        result,
        Err(DomainError::Bleepay(
            BleepayRefusal::InvalidVoucher | BleepayRefusal::VoucherNotRegistered
        ))
    )
}

/// Runs a payer command that takes voucher codes and PINs, throttling wrong ones per payer.
pub(super) async fn guessable(
    state: &AppState,
    caller: &Caller,
    request: Request,
    build: impl FnOnce(&Value, &str) -> Result<Command, input::Problems>,
    render: crate::submit::Render,
) -> Response {
    let payer_id = match caller.payer() {
        Some(id) => id.to_string(),
        None => return payer_only(),
    };
    let now = state.clock.now();
    let throttle_key = format!("bleepay-voucher/{}", caller.key());
    if let Some(wait) = state.code_misses.blocked_for(&throttle_key, now) {
        return reply::too_many(wait, "Too many wrong voucher codes or PINs.");
    }
    let write = match read(Some(caller.key()), request).await {
        Ok(write) => write,
        Err(response) => return response,
    };
    let command = match build(&write.body, &payer_id) {
        Ok(command) => command,
        Err(problems) => return reply::invalid(&problems),
    };
    let answer = execute(
        state,
        &caller.tenant_id,
        caller.actor(),
        write,
        command,
        render,
    )
    .await;
    if let Answer::Fresh { result, .. } = &answer
        && missed_voucher(result)
    {
        state.code_misses.record(&throttle_key, now);
    }
    reply::respond(answer)
}

pub async fn add_voucher(
    State(state): State<AppState>,
    caller: Caller,
    request: Request,
) -> Response {
    let build = |body: &Value, payer_id: &str| {
        let (code, pin) = input::add_voucher(body)?;
        Ok(Command::AddPayerVoucher {
            payer_id: payer_id.to_string(),
            code,
            pin,
        })
    };
    let render = reply::renderer(|outcome| match outcome {
        Outcome::PayerVoucher(v) => present::payer_voucher(v),
        _ => Value::Null,
    });
    guessable(&state, &caller, request, build, render).await
}

pub async fn payer_vouchers(State(state): State<AppState>, caller: Caller) -> Response {
    let payer_id = match caller.payer() {
        Some(id) => id,
        None => return payer_only(),
    };
    match state
        .store
        .payer_vouchers(&caller.tenant_id, payer_id, state.clock.now())
        .await
    {
        Ok(vouchers) => reply::stored(reply::ok(&Value::Array(
            vouchers.iter().map(present::payer_voucher).collect(),
        ))),
        Err(e) => reply::store_failure(&e),
    }
}
