//! Front Payment's response envelope: `status_code` (equal to the HTTP status),
//! `status_message`, `message` (a camelCase key), and either `is_data`/`data` or
//! `is_error`/`errors`. Rendered the same way live and on an idempotent replay.

use std::sync::Arc;

use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::{Value, json};
use voucherd_domain::DomainError;
use voucherd_domain::front::FrontRefusal;
use voucherd_store::{CommandResult, Outcome, StoreError, StoredResponse};

use crate::submit::{Answer, Render};

/// Seconds a client is asked to wait when the store is busy or unreachable.
const RETRY_AFTER_SECONDS: &str = "1";

fn status_message(status: u16) -> &'static str {
    match status {
        200..=299 => "OK",
        400 => "Conflict of Business Logic",
        401 => "Unauthorized",
        404 => "Not Found",
        408 => "Request Timeout",
        417 => "Client Error",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Execution Exception Occurred",
    }
}

/// A success with data.
pub fn data(status: u16, message: &str, data: Value) -> StoredResponse {
    body(
        status,
        json!({ "status_code": status, "status_message": status_message(status),
                "message": message, "is_data": true, "data": data }),
    )
}

/// A success or refusal without data (`is_data: false, data: null`).
pub fn no_data(status: u16, message: &str) -> StoredResponse {
    body(
        status,
        json!({ "status_code": status, "status_message": status_message(status),
                "message": message, "is_data": false, "data": null }),
    )
}

/// An error with a list of messages (`is_error: true`).
pub fn error(status: u16, message: &str, errors: Vec<String>) -> StoredResponse {
    body(
        status,
        json!({ "status_code": status, "status_message": status_message(status),
                "message": message, "is_error": true, "errors": errors }),
    )
}

/// 429 `tooManyRequests` with `Retry-After`: the caller or its address is over its limit.
pub fn too_many_requests(wait_seconds: u64) -> Response {
    let mut response = stored(error(429, "tooManyRequests", Vec::new()));
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait_seconds));
    response
}

/// 417 `payloadValidationErrors` with Laravel-style messages.
pub fn invalid(errors: Vec<String>) -> StoredResponse {
    error(417, "payloadValidationErrors", errors)
}

fn body(status: u16, value: Value) -> StoredResponse {
    StoredResponse {
        status,
        body: value.to_string(),
    }
}

/// The envelope of a business refusal.
pub fn refusal(refusal: &DomainError) -> StoredResponse {
    match refusal {
        DomainError::Front(front) => {
            let status = if front.is_not_found() { 404 } else { 400 };
            no_data(status, &front.key())
        }
        // Limits of the voucher that pays: the charge or capture cannot be covered.
        DomainError::InsufficientBalance
        | DomainError::VoucherInactive
        | DomainError::VoucherExpired
        | DomainError::CurrencyMismatch
        | DomainError::RefundExceedsCharge
        | DomainError::BalanceLimitExceeded
        | DomainError::VouchersShort { .. } => {
            no_data(400, &FrontRefusal::ChargeRunwayExceeded.key())
        }
        // The payment page's refusal of one of several vouchers answers as that refusal.
        DomainError::PayingVoucher { refusal, .. } => self::refusal(refusal),
        DomainError::VoucherNotFound => no_data(404, "paymentCardNotFound"),
        // What this merchant cannot see answers as an unknown reservation; the rest are
        // refusals of other faces' commands, which this face never submits.
        DomainError::ReservationNotFound
        | DomainError::ChargeNotFound
        | DomainError::TenantNotFound
        | DomainError::ReservationExpired
        | DomainError::ReservationAlreadyCharged
        | DomainError::ChargeNotRefundable
        | DomainError::VoucherNotDeletable
        | DomainError::ClientNotFound
        | DomainError::ClientGroupNotFound
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
        | DomainError::Bleepay(_) => no_data(404, &FrontRefusal::ReservationNotFound.key()),
    }
}

/// The envelope of a store failure: 503 with `Retry-After` when it is worth retrying, else
/// 510 as Front Payment answers unexpected failures.
pub fn store_failure(error: &StoreError) -> Response {
    match error {
        StoreError::Other(_) => stored(error_510()),
        _ => {
            let mut r = stored(self::error(
                503,
                "serviceTemporarilyUnavailable",
                Vec::new(),
            ));
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
            r
        }
    }
}

fn error_510() -> StoredResponse {
    error(510, "Something Went Wrong", Vec::new())
}

/// A renderer whose successes `success` formats and whose refusals get [`refusal`].
pub fn renderer(success: impl Fn(&Outcome) -> StoredResponse + Send + Sync + 'static) -> Render {
    Arc::new(move |result: &CommandResult| match result {
        Ok(outcome) => success(outcome),
        Err(refused) => refusal(refused),
    })
}

/// A stored or fresh envelope as an HTTP response.
pub fn stored(response: StoredResponse) -> Response {
    crate::submit::json_response(response)
}

/// The response to a submission.
pub fn respond(answer: Answer) -> Response {
    crate::submit::respond_with(
        answer,
        || stored(no_data(422, "idempotencyKeyReused")),
        store_failure,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_use_front_payments_keys_and_statuses() {
        let r = refusal(&DomainError::Front(FrontRefusal::ChargeDeadlineExceeded));
        assert_eq!(r.status, 400);
        let body: Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(
            body,
            json!({ "status_code": 400, "status_message": "Conflict of Business Logic",
                    "message": "paymentChargeDeadlineExceed", "is_data": false, "data": null })
        );
        assert_eq!(
            refusal(&DomainError::Front(FrontRefusal::PaymentCardNotFound)).status,
            404
        );
    }

    #[test]
    fn validation_errors_are_417_with_a_list() {
        let r = invalid(vec!["The products field is required.".into()]);
        let body: Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(body["status_code"], 417);
        assert_eq!(body["status_message"], "Client Error");
        assert_eq!(body["is_error"], true);
        assert_eq!(body["errors"][0], "The products field is required.");
    }
}
