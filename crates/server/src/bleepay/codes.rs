//! Voucher codes: a payee reserves a fresh 6-digit code with the context code, redeems it for
//! an amount (a hold), the payer resolves it (a charge) or either side discards it. Wrong
//! context codes are throttled per caller, and a payee's wrong codes count against its context
//! (the fifth closes it).

use std::collections::HashMap;

use axum::extract::{Path, Query, Request, State};
use axum::response::Response;
use serde_json::Value;
use voucherd_domain::DomainError;
use voucherd_domain::bleepay::BleepayRefusal;
use voucherd_store::bleepay::BleepayCaller;
use voucherd_store::{Command, Outcome};

use super::{Caller, execute, input, payer_only, present, read, reply};
use crate::AppState;
use crate::submit::{Answer, Render, submit, unrendered};

fn code_renderer(state: &AppState) -> Render {
    let clock = state.clock.clone();
    reply::renderer(move |outcome| match outcome {
        Outcome::Code(v) => present::code(v, clock.now()),
        _ => Value::Null,
    })
}

pub async fn reserve(State(state): State<AppState>, caller: Caller, request: Request) -> Response {
    let now = state.clock.now();
    let throttle_key = format!("bleepay-context/{}", caller.key());
    if let Some(wait) = state.code_misses.blocked_for(&throttle_key, now) {
        return reply::too_many(wait, "Too many wrong context codes.");
    }
    let write = match read(Some(caller.key()), request).await {
        Ok(write) => write,
        Err(response) => return response,
    };
    let context_code = match input::reserve(&write.body) {
        Ok(code) => code,
        Err(problems) => return reply::invalid(&problems),
    };
    let request_id = write.request_id.clone();
    let command = Command::ReserveCode {
        caller: caller.who.clone(),
        context_code,
    };
    let render = code_renderer(&state);
    let answer = execute(
        &state,
        &caller.tenant_id,
        caller.actor(),
        write,
        command,
        render,
    )
    .await;
    if let Answer::Fresh {
        result: Err(DomainError::Bleepay(BleepayRefusal::InvalidCode)),
        ..
    } = &answer
    {
        state.code_misses.record(&throttle_key, now);
        if let BleepayCaller::Payee { context_id } = &caller.who {
            // Counted in the database, so every node sees the same count.
            let miss = Command::ContextMiss {
                context_id: context_id.clone(),
            };
            let _ = submit(
                &state,
                &caller.tenant_id,
                caller.actor(),
                &request_id,
                miss,
                None,
                unrendered(),
            )
            .await;
        }
    }
    reply::respond(answer)
}

/// A write on one voucher code: read the body, check it with `parse`, submit `build(value)`.
async fn act<T>(
    state: &AppState,
    caller: &Caller,
    request: Request,
    parse: impl FnOnce(&Value) -> Result<T, input::Problems>,
    build: impl FnOnce(T) -> Command,
    render: Render,
) -> Response {
    let write = match read(Some(caller.key()), request).await {
        Ok(write) => write,
        Err(response) => return response,
    };
    let value = match parse(&write.body) {
        Ok(value) => value,
        Err(problems) => return reply::invalid(&problems),
    };
    let command = build(value);
    reply::respond(
        execute(
            state,
            &caller.tenant_id,
            caller.actor(),
            write,
            command,
            render,
        )
        .await,
    )
}

pub async fn redeem(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let who = caller.who.clone();
    let build = |(amount_minor, currency)| Command::RedeemCode {
        caller: who,
        code_id: id,
        amount_minor,
        currency,
    };
    let render = code_renderer(&state);
    act(&state, &caller, request, input::redeem, build, render).await
}

pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let payer_id = match caller.payer() {
        Some(id) => id.to_string(),
        None => return payer_only(),
    };
    let build = |()| Command::ResolveCode {
        payer_id,
        code_id: id,
    };
    let render = reply::renderer(|outcome| match outcome {
        Outcome::Code(v) => present::resolved(v),
        _ => Value::Null,
    });
    act(&state, &caller, request, input::resolve, build, render).await
}

pub async fn discard(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let who = caller.who.clone();
    let build = |()| Command::DiscardCode {
        caller: who,
        code_id: id,
    };
    let render = code_renderer(&state);
    act(&state, &caller, request, |_| Ok(()), build, render).await
}

pub async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    match state.store.bleepay_code(&caller.tenant_id, &id).await {
        Ok(Some(code)) if code.visible_to(&caller.who) => {
            reply::stored(reply::ok(&present::code(&code, state.clock.now())))
        }
        Ok(_) => reply::not_found(),
        Err(e) => reply::store_failure(&e),
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (window, status) = match input::window(&query, true) {
        Ok(window) => window,
        Err(problems) => return reply::invalid(&problems),
    };
    let now = state.clock.now();
    match state
        .store
        .bleepay_codes(&caller.tenant_id, &caller.who, status, &window, now)
        .await
    {
        Ok(codes) => reply::stored(reply::ok(&Value::Array(
            codes.iter().map(|c| present::code(c, now)).collect(),
        ))),
        Err(e) => reply::store_failure(&e),
    }
}
