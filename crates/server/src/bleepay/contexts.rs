//! Contexts: a payer opens one over some of their vouchers and hands its 6-character code to a
//! payee; gets, lists and closes them. Payer tokens only.

use std::collections::HashMap;

use axum::extract::{Path, Query, Request, State};
use axum::response::Response;
use serde_json::Value;
use voucherd_store::{Command, Outcome};

use super::auth::guessable;
use super::{Caller, execute, input, payer_only, present, read, reply};
use crate::AppState;

fn context_renderer(state: &AppState) -> crate::submit::Render {
    let clock = state.clock.clone();
    reply::renderer(move |outcome| match outcome {
        Outcome::Context(c) => present::context(c, clock.now()),
        _ => Value::Null,
    })
}

pub async fn open(State(state): State<AppState>, caller: Caller, request: Request) -> Response {
    let build = |body: &Value, payer_id: &str| {
        let (format, addresses) = input::open_context(body)?;
        Ok(Command::OpenContext {
            payer_id: payer_id.to_string(),
            format,
            addresses,
        })
    };
    let render = context_renderer(&state);
    guessable(&state, &caller, request, build, render).await
}

pub async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let payer_id = match caller.payer() {
        Some(id) => id,
        None => return payer_only(),
    };
    match state.store.bleepay_context(&caller.tenant_id, &id).await {
        Ok(Some(context)) if context.payer_id == payer_id => {
            reply::stored(reply::ok(&present::context(&context, state.clock.now())))
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
    let payer_id = match caller.payer() {
        Some(id) => id,
        None => return payer_only(),
    };
    let (window, _) = match input::window(&query, false) {
        Ok(window) => window,
        Err(problems) => return reply::invalid(&problems),
    };
    match state
        .store
        .bleepay_contexts(&caller.tenant_id, payer_id, &window)
        .await
    {
        Ok(contexts) => {
            let now = state.clock.now();
            reply::stored(reply::ok(&Value::Array(
                contexts.iter().map(|c| present::context(c, now)).collect(),
            )))
        }
        Err(e) => reply::store_failure(&e),
    }
}

pub async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let payer_id = match caller.payer() {
        Some(id) => id.to_string(),
        None => return payer_only(),
    };
    let write = match read(Some(caller.key()), request).await {
        Ok(write) => write,
        Err(response) => return response,
    };
    let payee_id = match input::close_context(&write.body) {
        Ok(payee_id) => payee_id,
        Err(problems) => return reply::invalid(&problems),
    };
    let command = Command::CloseContext {
        payer_id,
        context_id: id,
        payee_id,
    };
    let render = context_renderer(&state);
    reply::respond(
        execute(
            &state,
            &caller.tenant_id,
            caller.actor(),
            write,
            command,
            render,
        )
        .await,
    )
}
