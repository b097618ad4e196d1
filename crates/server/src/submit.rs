//! Submitting a command for any face: build the context, attach the idempotency key with the
//! face's renderer (so the store keeps the exact first response in the same transaction),
//! execute, and count the outcome.

use std::sync::Arc;

use voucherd_store::{
    Actor, Command, CommandContext, CommandRequest, CommandResult, Execution, IdempotencyRequest,
    StoreError, StoredResponse,
};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// A face's renderer: the same function answers the live request and is stored for replays.
pub type Render = Arc<dyn Fn(&CommandResult) -> StoredResponse + Send + Sync>;

/// How a submission ended.
// Built and moved once per request; boxing the result would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Answer {
    /// The command ran now: its result and the response rendered from it.
    Fresh {
        result: CommandResult,
        response: StoredResponse,
    },
    /// A retry of an earlier request with the same key and body.
    Replayed(StoredResponse),
    /// The key was used before with a different request.
    KeyReused,
    /// The store failed; nothing was changed.
    Failed(StoreError),
}

/// An idempotency key and the digest of the request it came with.
pub struct Keyed {
    pub caller: String,
    pub key: String,
    pub request_digest: String,
}

/// Runs `command` for `actor` in `tenant_id`.
pub async fn submit(
    state: &AppState,
    tenant_id: &str,
    actor: Actor,
    request_id: &str,
    command: Command,
    keyed: Option<Keyed>,
    render: Render,
) -> Answer {
    let action = command.action();
    let idempotency = keyed.map(|k| {
        let render = render.clone();
        IdempotencyRequest {
            caller: k.caller,
            key: k.key,
            request_digest: k.request_digest,
            render: Box::new(move |result| render(result)),
        }
    });
    let request = CommandRequest {
        context: CommandContext {
            tenant_id: tenant_id.to_string(),
            actor,
            request_id: request_id.to_string(),
            now: state.clock.now(),
        },
        command,
        idempotency,
    };
    let (answer, outcome, refusal) = match state.store.execute(request).await {
        Ok(Execution::Done(result)) => {
            // The refusal's kind only: a label must not carry values (rows, amounts).
            let (outcome, refusal) = match &result {
                Ok(_) => ("ok", String::new()),
                Err(refused) => ("refused", crate::observe::label_of(&format!("{refused:?}"))),
            };
            let response = render(&result);
            (Answer::Fresh { result, response }, outcome, refusal)
        }
        Ok(Execution::Replayed(stored)) => (Answer::Replayed(stored), "replayed", String::new()),
        Ok(Execution::KeyReused) => (Answer::KeyReused, "key_reused", String::new()),
        Err(error) => {
            tracing::error!(request_id, action, %error, "store failed");
            (Answer::Failed(error), "store_error", String::new())
        }
    };
    metrics::counter!("voucherd_ledger_commands_total",
        "action" => action, "outcome" => outcome, "refusal" => refusal)
    .increment(1);
    answer
}

/// The renderer of callers that answer in their own way and send no idempotency key (pages,
/// background commands): nothing of it is kept.
pub fn unrendered() -> Render {
    Arc::new(|_: &CommandResult| StoredResponse {
        status: 200,
        body: String::new(),
    })
}

/// A stored answer as an HTTP response: its status, and its body as JSON (none if empty).
pub fn json_response(response: StoredResponse) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if response.body.is_empty() {
        return status.into_response();
    }
    let mut r = (status, response.body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The response to a submission: a fresh answer as rendered, a replay as first rendered (marked
/// `Idempotent-Replayed: true`); a reused key and a store failure in the face's own words.
pub fn respond_with(
    answer: Answer,
    key_reused: impl FnOnce() -> Response,
    failed: impl FnOnce(&StoreError) -> Response,
) -> Response {
    match answer {
        Answer::Fresh { response, .. } => json_response(response),
        Answer::Replayed(response) => {
            let mut r = json_response(response);
            r.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            r
        }
        Answer::KeyReused => key_reused(),
        Answer::Failed(error) => failed(&error),
    }
}
