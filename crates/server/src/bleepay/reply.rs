//! bleepay's answers: bare JSON objects and arrays on success, and
//! `{"statusCode": N, "code": "snake_case", "message": "..."}` on failure, the HTTP status
//! equal to `statusCode`. Rendered the same way live and on an idempotent replay.

use std::sync::Arc;

use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::{Value, json};
use voucherd_domain::DomainError;
use voucherd_domain::bleepay::BleepayRefusal;
use voucherd_store::{CommandResult, Outcome, StoreError, StoredResponse};

use crate::submit::{Answer, Render};

/// Seconds a client is asked to wait when the store is busy or unreachable.
const RETRY_AFTER_SECONDS: &str = "1";

/// A success: the bare resource.
pub fn ok(value: &Value) -> StoredResponse {
    StoredResponse {
        status: 200,
        body: value.to_string(),
    }
}

/// A failure in bleepay's shape.
pub fn error(status: u16, code: &str, message: &str) -> StoredResponse {
    StoredResponse {
        status,
        body: json!({ "statusCode": status, "code": code, "message": message }).to_string(),
    }
}

/// `validation_failed`, naming every field that is wrong.
pub fn invalid(problems: &[(String, String)]) -> Response {
    let message = problems
        .iter()
        .map(|(field, problem)| format!("{field} {problem}"))
        .collect::<Vec<_>>()
        .join("; ");
    let errors: Vec<Value> = problems
        .iter()
        .map(|(field, problem)| json!({ "property": field, "message": problem }))
        .collect();
    stored(StoredResponse {
        status: 400,
        body: json!({ "statusCode": 400, "code": "validation_failed", "message": message,
                      "errors": errors })
        .to_string(),
    })
}

pub fn unauthorized() -> Response {
    stored(error(
        401,
        "unauthorized",
        "A valid bearer token from /api/v1/auth/sign-in is required.",
    ))
}

pub fn forbidden(message: &str) -> Response {
    stored(error(403, "forbidden", message))
}

pub fn not_found() -> Response {
    stored(refusal(&DomainError::Bleepay(BleepayRefusal::NotFound)))
}

/// 408: the body did not arrive within the client timeout.
pub fn request_timeout() -> Response {
    stored(error(
        408,
        "request_timeout",
        "The request body was not received in time.",
    ))
}

/// 429 with `Retry-After`.
pub fn too_many(wait_seconds: u64, message: &str) -> Response {
    let mut r = stored(error(429, "too_many_requests", message));
    if let Ok(value) = HeaderValue::from_str(&wait_seconds.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, value);
    }
    r
}

fn explain(refusal: BleepayRefusal) -> &'static str {
    match refusal {
        BleepayRefusal::InvalidCode => "The context code is invalid or expired.",
        BleepayRefusal::NotFound => "Not found.",
        BleepayRefusal::AlreadyClosed => "The context is already closed.",
        BleepayRefusal::NotRedeemed => "The voucher has not been redeemed yet.",
        BleepayRefusal::AlreadyRedeemed => "The voucher is already redeemed.",
        BleepayRefusal::AlreadyResolved => "The voucher is already resolved.",
        BleepayRefusal::AlreadyDiscarded => "The voucher is discarded.",
        BleepayRefusal::Expired => "The voucher expired unresolved and is discarded.",
        BleepayRefusal::InsufficientFunds => {
            "No voucher of the context has enough available balance in that currency."
        }
        BleepayRefusal::VoucherNotRegistered => {
            "A named voucher is not in this payer's account, or its PIN is wrong."
        }
        BleepayRefusal::InvalidVoucher => "The voucher code or PIN is not correct.",
        BleepayRefusal::AlreadyRegistered => "An account with these credentials exists.",
        BleepayRefusal::AlreadyAdded => "The voucher is already in this account.",
        BleepayRefusal::CodesExhausted => "No free code is available; try again shortly.",
    }
}

/// The answer to a business refusal.
pub fn refusal(refused: &DomainError) -> StoredResponse {
    match refused {
        DomainError::Bleepay(r) => {
            let status = match r {
                BleepayRefusal::NotFound => 404,
                BleepayRefusal::CodesExhausted => 503,
                _ => 400,
            };
            error(status, r.code(), explain(*r))
        }
        DomainError::TenantNotFound => error(404, "not_found", "Unknown tenant."),
        // The voucher that holds the amount can no longer pay it (deactivated or lapsed).
        DomainError::VoucherInactive
        | DomainError::VoucherExpired
        | DomainError::InsufficientBalance
        | DomainError::CurrencyMismatch
        | DomainError::ReservationExpired => error(
            400,
            "voucher_unusable",
            "The voucher holding this payment can no longer pay it.",
        ),
        // Refusals of other faces' commands, which this face never submits.
        DomainError::VoucherNotFound
        | DomainError::ReservationNotFound
        | DomainError::ChargeNotFound
        | DomainError::ClientNotFound
        | DomainError::ClientGroupNotFound
        | DomainError::ReservationAlreadyCharged
        | DomainError::RefundExceedsCharge
        | DomainError::ChargeNotRefundable
        | DomainError::VoucherNotDeletable
        | DomainError::BalanceLimitExceeded
        | DomainError::VoucherIdTaken
        | DomainError::VoucherCodeTaken
        | DomainError::VoucherIdAndCodeTaken
        | DomainError::TenantIdTaken
        | DomainError::PinInvalid
        | DomainError::ClientCredentialsInvalid
        | DomainError::ScopeNotAllowed
        | DomainError::PatternExhausted
        | DomainError::ImportRowTaken { .. }
        | DomainError::ConsoleUsernameTaken
        | DomainError::ConsoleUserNotFound
        | DomainError::MerchantTokenNotFound
        | DomainError::WebhookNotFound
        | DomainError::PayingVoucher { .. }
        | DomainError::VouchersShort { .. }
        | DomainError::Front(_) => error(400, "refused", &refused.to_string()),
    }
}

/// The answer to a store failure: 503 with `Retry-After` when worth retrying.
pub fn store_failure(failure: &StoreError) -> Response {
    match failure {
        StoreError::Other(_) => {
            tracing::error!(error = %failure, "bleepay request failed");
            stored(error(500, "unexpected", "Something went wrong."))
        }
        _ => {
            let mut r = stored(error(
                503,
                "service_unavailable",
                "The service is busy or its database is unreachable; retry shortly.",
            ));
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
            r
        }
    }
}

/// A renderer whose successes `success` shapes and whose refusals get [`refusal`].
pub fn renderer(success: impl Fn(&Outcome) -> Value + Send + Sync + 'static) -> Render {
    Arc::new(move |result: &CommandResult| match result {
        Ok(outcome) => ok(&success(outcome)),
        Err(refused) => refusal(refused),
    })
}

/// A stored or fresh answer as an HTTP response.
pub fn stored(response: StoredResponse) -> Response {
    crate::submit::json_response(response)
}

/// The response to a submission.
pub fn respond(answer: Answer) -> Response {
    crate::submit::respond_with(
        answer,
        || {
            stored(error(
                400,
                "idempotency_key_reused",
                "This Idempotency-Key was used with another request.",
            ))
        },
        store_failure,
    )
}
