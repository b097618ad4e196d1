//! `/v1/reservations...` and `/v1/charges/{id}/refund`: holding, charging, releasing and
//! refunding.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use voucherd_domain::{DomainError, Scope};
use voucherd_store::{Command, Outcome};

use super::auth::Caller;
use super::error::JtlError;
use super::input::{JtlInput, JtlPath};
use super::present;
use super::respond::{Success, ok_json, renderer};
use super::validate::{AmountMin, Validator};
use super::{execute, execute_guarded};
use crate::AppState;

/// Longest code, PIN and order number.
const TEXT_CHARS_MAX: usize = 255;

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    input: JtlInput,
) -> Result<Response, JtlError> {
    caller.require(Scope::Use)?;
    let mut v = Validator::new("RESERVATION.CREATE", &input.fields);
    let amount = v.amount("amount", AmountMin::OneCent);
    let currency = v.currency("currency");
    let code = v.string("code", "code", true, TEXT_CHARS_MAX);
    let pin = v.string("pin", "pin", false, TEXT_CHARS_MAX);
    v.finish()?;
    let (Some(amount_minor), Some(currency), Some(code)) = (amount, currency, code) else {
        return Err(JtlError::Internal);
    };
    let render = renderer("RESERVATION.CREATE", |outcome| match outcome {
        Outcome::Reservation(hold) => {
            Success::json(StatusCode::CREATED, &present::reservation(hold, false))
        }
        _ => Success::no_content(),
    });
    let command = Command::Reserve {
        code,
        pin,
        amount_minor,
        currency,
    };
    Ok(execute_guarded(&state, &caller, &input, command, render).await)
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    JtlPath(id): JtlPath<String>,
) -> Result<Response, JtlError> {
    caller.require(Scope::Use)?;
    let hold = state
        .store
        .reservation(&caller.tenant_id, &id, state.clock.now())
        .await
        .map_err(|e| JtlError::from_store(&e))?
        .ok_or_else(|| {
            JtlError::from_refusal("RESERVATION.SHOW", &DomainError::ReservationNotFound)
        })?;
    Ok(ok_json(&present::reservation(&hold, true)))
}

pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    JtlPath(id): JtlPath<String>,
    input: JtlInput,
) -> Result<Response, JtlError> {
    caller.require(Scope::Use)?;
    let render = renderer("RESERVATION.DELETE", |_| Success::no_content());
    Ok(execute(
        &state,
        &caller,
        &input,
        Command::ReleaseReservation { reservation_id: id },
        render,
    )
    .await)
}

pub async fn charge(
    State(state): State<AppState>,
    caller: Caller,
    JtlPath(id): JtlPath<String>,
    input: JtlInput,
) -> Result<Response, JtlError> {
    caller.require(Scope::Use)?;
    let mut v = Validator::new("RESERVATION.CHARGE", &input.fields);
    let order_number = v.string("order_number", "order_number", true, TEXT_CHARS_MAX);
    v.finish()?;
    let order_number = order_number.ok_or(JtlError::Internal)?;
    let render = renderer("RESERVATION.CHARGE", |outcome| match outcome {
        // A retry with the same order number answers the same charge, 200 instead of 201.
        Outcome::Charge { entry, first_time } => {
            let status = if *first_time {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Success::json(status, &present::charge(entry))
        }
        _ => Success::no_content(),
    });
    let command = Command::ChargeReservation {
        reservation_id: id,
        order_number,
    };
    Ok(execute(&state, &caller, &input, command, render).await)
}

pub async fn refund(
    State(state): State<AppState>,
    caller: Caller,
    JtlPath(id): JtlPath<String>,
    input: JtlInput,
) -> Result<Response, JtlError> {
    caller.require(Scope::Use)?;
    let mut v = Validator::new("CHARGE.REFUND", &input.fields);
    let amount = v.amount("amount", AmountMin::OneCent);
    let currency = v.currency("currency");
    v.finish()?;
    let (Some(amount_minor), Some(currency)) = (amount, currency) else {
        return Err(JtlError::Internal);
    };
    let render = renderer("CHARGE.REFUND", |outcome| match outcome {
        Outcome::Refund(entry) => Success::json(StatusCode::CREATED, &present::charge(entry)),
        _ => Success::no_content(),
    });
    let command = Command::Refund {
        charge_id: id,
        amount_minor,
        currency,
    };
    Ok(execute(&state, &caller, &input, command, render).await)
}
