//! The ten reservation endpoints. Writes go through [`execute`]: read the request (body,
//! `Idempotency-Key`), validate, submit one command, answer in the envelope.

use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use voucherd_domain::DomainError;
use voucherd_domain::front::FrontRefusal;
use voucherd_store::{Actor, Command, Outcome, StoredResponse};

use super::envelope::{self, data, no_data, renderer, respond, stored};
use super::input::{self, Flow};
use super::{Merchant, invalid, payment_url, present};
use crate::AppState;
use crate::submit::{self as submission, Keyed, Render};
use crate::wire::{BodyError, WriteRequestError, read_write_request};

/// The body, request id and idempotency key of a write, or the answer to give instead.
struct Write {
    body: Value,
    request_id: String,
    keyed: Option<Keyed>,
}

async fn read(merchant: &Merchant, request: Request) -> Result<Write, Response> {
    let write = read_write_request(request).await.map_err(|e| match e {
        WriteRequestError::KeyInvalid => invalid(vec![
            "The Idempotency-Key header must be 1 to 255 visible ASCII characters.".into(),
        ]),
        WriteRequestError::Body(BodyError::TimedOut) => {
            envelope::stored(envelope::error(408, "requestTimeout", Vec::new()))
        }
        WriteRequestError::Body(_) => invalid(vec![
            "The request body must be at most 64 KiB of JSON.".into(),
        ]),
    })?;
    let body = input::object(&write.bytes).map_err(invalid)?;
    Ok(Write {
        body,
        request_id: write.request_id,
        keyed: write.idempotency.map(|(key, request_digest)| Keyed {
            caller: format!("merchant:{}", merchant.token_id),
            key,
            request_digest,
        }),
    })
}

async fn execute(
    state: &AppState,
    merchant: &Merchant,
    write: Write,
    command: Command,
    render: Render,
) -> Response {
    respond(
        submission::submit(
            state,
            &merchant.tenant_id,
            Actor::Merchant(merchant.token_id.clone()),
            &write.request_id,
            command,
            write.keyed,
            render,
        )
        .await,
    )
}

/// Renders `success` for every outcome and refusals as usual, except that an unknown
/// reservation answers `not_found`: endpoints documented with `orderNotFound` use that key.
fn answering(
    not_found: &'static str,
    success: impl Fn() -> StoredResponse + Send + Sync + 'static,
) -> Render {
    std::sync::Arc::new(move |result: &voucherd_store::CommandResult| match result {
        Ok(_) => success(),
        Err(DomainError::Front(FrontRefusal::ReservationNotFound)) => no_data(404, not_found),
        Err(refusal) => envelope::refusal(refusal),
    })
}

async fn submit_or_create(
    state: AppState,
    merchant: Merchant,
    request: Request,
    flow: Flow,
) -> Response {
    let headers = request.headers().clone();
    let write = match read(&merchant, request).await {
        Ok(write) => write,
        Err(response) => return response,
    };
    let new = match input::reservation(&write.body, flow, state.clock.now()) {
        Ok(new) => new,
        Err(errors) => return invalid(errors),
    };
    let message = match flow {
        Flow::Submit => "reservationSubmittedSuccessfully",
        Flow::Session => "reservationSessionCreatedSuccessfully",
    };
    let base_state = state.clone();
    let render = renderer(move |outcome| match outcome {
        Outcome::FrontReservation(r) => data(
            201,
            message,
            json!({
                "reservationUuid": r.id,
                "customerUuid": r.customer_id,
                "status": r.status.wire(),
                "paymentUrl": payment_url(&base_state, &headers, &r.id),
            }),
        ),
        _ => no_data(201, message),
    });
    execute(&state, &merchant, write, Command::FrontSubmit(new), render).await
}

pub async fn submit(
    State(state): State<AppState>,
    merchant: Merchant,
    request: Request,
) -> Response {
    submit_or_create(state, merchant, request, Flow::Submit).await
}

pub async fn create(
    State(state): State<AppState>,
    merchant: Merchant,
    request: Request,
) -> Response {
    submit_or_create(state, merchant, request, Flow::Session).await
}

pub async fn details(
    State(state): State<AppState>,
    merchant: Merchant,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let now = state.clock.now();
    let found = state
        .store
        .front_reservation(Some(&merchant.tenant_id), &id, now)
        .await;
    let reservation = match found {
        Ok(Some(r)) => r,
        Ok(None) => return stored(no_data(404, "reservationNotFound")),
        Err(e) => return envelope::store_failure(&e),
    };
    let merchant_name = match state.store.tenant(&merchant.tenant_id).await {
        Ok(tenant) => tenant.map(|t| t.name).unwrap_or_default(),
        Err(e) => return envelope::store_failure(&e),
    };
    let url = payment_url(&state, &headers, &id);
    stored(data(
        200,
        "reservationRetrievedSuccessfully",
        present::reservation(&reservation, &merchant_name, &url),
    ))
}

/// A capture or charge: answers the new `CAP…`/`CHA…` id.
fn posting(message: &'static str) -> Render {
    renderer(move |outcome| match outcome {
        Outcome::FrontPosting { id } => data(202, message, json!({ "uuid": id })),
        _ => no_data(202, message),
    })
}

/// A write on one reservation: read the request, validate its body with `parse`, submit the
/// command `build` makes of it, answer with `render`.
async fn act<T>(
    state: &AppState,
    merchant: &Merchant,
    request: Request,
    parse: fn(&Value) -> Result<T, Vec<String>>,
    build: impl FnOnce(T) -> Command,
    render: Render,
) -> Response {
    let write = match read(merchant, request).await {
        Ok(write) => write,
        Err(response) => return response,
    };
    match parse(&write.body) {
        Ok(parsed) => execute(state, merchant, write, build(parsed), render).await,
        Err(errors) => invalid(errors),
    }
}

pub async fn capture(
    State(state): State<AppState>,
    merchant: Merchant,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let build = |(lines, note)| Command::FrontCapture {
        reservation_id: id,
        lines,
        note,
    };
    let render = posting("reservationCapturedSuccessfully");
    act(&state, &merchant, request, input::capture, build, render).await
}

pub async fn charge(
    State(state): State<AppState>,
    merchant: Merchant,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let build = |(lines, note)| Command::FrontCharge {
        reservation_id: id,
        lines,
        note,
    };
    let render = posting("reservationChargedSuccessfully");
    act(&state, &merchant, request, input::charge, build, render).await
}

pub async fn cancel(
    State(state): State<AppState>,
    merchant: Merchant,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let build = |note| Command::FrontCancel {
        reservation_id: id,
        note,
    };
    let render = answering("orderNotFound", || {
        no_data(202, "cancelledOrderSuccessfully")
    });
    act(&state, &merchant, request, input::note, build, render).await
}

pub async fn complete(
    State(state): State<AppState>,
    merchant: Merchant,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let build = |note| Command::FrontComplete {
        reservation_id: id,
        note,
    };
    let render = answering("reservationNotFound", || {
        no_data(202, "reservationCompletedSuccessfully")
    });
    act(&state, &merchant, request, input::note, build, render).await
}

pub async fn resend(
    State(state): State<AppState>,
    merchant: Merchant,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let build = |sent_to| Command::FrontResend {
        reservation_id: id,
        sent_to,
    };
    // Documented as `is_data: true, data: null`.
    let render = answering("orderNotFound", || {
        data(202, "resentOrderSuccessfully", Value::Null)
    });
    act(&state, &merchant, request, input::resend, build, render).await
}

pub async fn refund(
    State(state): State<AppState>,
    merchant: Merchant,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let build = |(source, reference, lines)| Command::FrontRefund {
        reservation_id: id,
        source,
        reference,
        lines,
    };
    let render = answering("orderNotFound", || {
        no_data(202, "orderRefundedSuccessfully")
    });
    act(&state, &merchant, request, input::refund, build, render).await
}

async fn history_between(
    state: &AppState,
    merchant: &Merchant,
    since: OffsetDateTime,
    until: OffsetDateTime,
) -> Response {
    match state
        .store
        .front_history(&merchant.tenant_id, since, until)
        .await
    {
        Ok(events) => stored(data(
            200,
            "reservationRetrievedSuccessfully",
            Value::Array(events.iter().map(present::event).collect()),
        )),
        Err(e) => envelope::store_failure(&e),
    }
}

/// The last 24 hours, as when no range is given.
pub async fn history_last_day(State(state): State<AppState>, merchant: Merchant) -> Response {
    let now = state.clock.now();
    history_between(
        &state,
        &merchant,
        now - Duration::days(1),
        now + Duration::SECOND,
    )
    .await
}

/// Events from `start` to `end` (Unix seconds, both inclusive).
pub async fn history(
    State(state): State<AppState>,
    merchant: Merchant,
    Path((start, end)): Path<(String, String)>,
) -> Response {
    let parse = |text: &str| {
        text.parse::<i64>()
            .ok()
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
    };
    let mut errors = Vec::new();
    let since = parse(&start);
    let until = parse(&end);
    if since.is_none() {
        errors.push("The start timestamp must be a Unix timestamp in seconds.".to_string());
    }
    if until.is_none() {
        errors.push("The end timestamp must be a Unix timestamp in seconds.".to_string());
    }
    match (since, until) {
        (Some(since), Some(until)) if since <= until => {
            history_between(&state, &merchant, since, until + Duration::SECOND).await
        }
        (Some(_), Some(_)) => invalid(vec![
            "The end timestamp must be a date after or equal to start timestamp.".into(),
        ]),
        _ => invalid(errors),
    }
}
