//! The JTL error envelope: `{"status", "code", "message"}` plus `errors[]` for validation,
//! the bare JSON string `"Forbidden"` for a missing scope, and the mapping of every ledger
//! refusal and store failure to its status and code.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use voucherd_domain::DomainError;
use voucherd_store::StoreError;

/// One failed rule of one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub code: String,
    pub property: String,
    pub rule: String,
    pub message: String,
}

/// Everything the JTL face can answer instead of a success.
#[derive(Debug, Clone, PartialEq)]
pub enum JtlError {
    /// No, unknown, expired or revoked token.
    Unauthenticated,
    /// The token lacks the scope.
    Forbidden,
    /// 404 with a resource code such as `VOUCHER.NOT_FOUND`.
    NotFound(&'static str, &'static str),
    /// 422 business refusal without `errors`.
    Business(&'static str, &'static str),
    /// 422 `<ACTION>.UNPROCESSABLE_ENTITY` with field errors.
    Validation {
        action: &'static str,
        errors: Vec<FieldError>,
    },
    /// 400: the body is not a JSON object, or a header is malformed.
    BadRequest(&'static str, &'static str),
    /// 408: the body did not arrive within the client timeout.
    RequestTimeout,
    /// 413: the body is larger than the limit.
    TooLarge,
    /// 429 with the seconds to wait.
    TooManyRequests(u64),
    /// 503: the database cannot be reached.
    Unavailable,
    /// 500: a bug; the cause is logged with the request id.
    Internal,
}

impl JtlError {
    pub fn status(&self) -> StatusCode {
        match self {
            JtlError::Unauthenticated => StatusCode::UNAUTHORIZED,
            JtlError::Forbidden => StatusCode::FORBIDDEN,
            JtlError::NotFound(..) => StatusCode::NOT_FOUND,
            JtlError::Business(..) | JtlError::Validation { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            JtlError::BadRequest(..) => StatusCode::BAD_REQUEST,
            JtlError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            JtlError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            JtlError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            JtlError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            JtlError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        let status = self.status().as_u16();
        let envelope = |code: &str, message: &str| {
            json!({ "status": status, "code": code, "message": message }).to_string()
        };
        match self {
            JtlError::Unauthenticated => envelope("UNAUTHENTICATED", "Unauthenticated."),
            JtlError::Forbidden => "\"Forbidden\"".to_string(),
            JtlError::NotFound(code, message)
            | JtlError::Business(code, message)
            | JtlError::BadRequest(code, message) => envelope(code, message),
            JtlError::Validation { action, errors } => json!({
                "status": status,
                "code": format!("{action}.UNPROCESSABLE_ENTITY"),
                "message": "The given data was invalid.",
                "errors": errors,
            })
            .to_string(),
            JtlError::RequestTimeout => envelope(
                "REQUEST.TIMEOUT",
                "The request body was not received in time.",
            ),
            JtlError::TooLarge => envelope(
                "REQUEST.TOO_LARGE",
                "The request body may not be greater than 65536 bytes.",
            ),
            JtlError::TooManyRequests(_) => envelope(
                "TOO_MANY_REQUESTS",
                "Too many attempts. Please try again later.",
            ),
            JtlError::Unavailable => envelope(
                "SERVICE_UNAVAILABLE",
                "The service is temporarily unavailable. Please try again.",
            ),
            JtlError::Internal => envelope("SERVER_ERROR", "An internal error occurred."),
        }
    }

    /// A single-field validation failure.
    pub fn field(
        action: &'static str,
        property: &str,
        rule: &str,
        params: &str,
        message: String,
    ) -> Self {
        JtlError::Validation {
            action,
            errors: vec![field_error(action, property, rule, params, message)],
        }
    }

    /// The answer to a ledger refusal of a command of `action` (for field-shaped refusals).
    pub fn from_refusal(action: &'static str, refusal: &DomainError) -> Self {
        use DomainError as D;
        match refusal {
            D::VoucherNotFound => {
                JtlError::NotFound("VOUCHER.NOT_FOUND", "The requested Voucher was not found.")
            }
            D::ReservationNotFound => JtlError::NotFound(
                "RESERVATION.NOT_FOUND",
                "The requested Reservation was not found.",
            ),
            D::ChargeNotFound => {
                JtlError::NotFound("CHARGE.NOT_FOUND", "The requested Charge was not found.")
            }
            D::ClientNotFound | D::ClientGroupNotFound | D::TenantNotFound => {
                JtlError::NotFound("CLIENT.NOT_FOUND", "The requested Client was not found.")
            }
            D::VoucherInactive => {
                JtlError::Business("VOUCHER.INACTIVE", "The voucher is inactive.")
            }
            D::VoucherExpired => JtlError::Business("VOUCHER.EXPIRED", "The voucher has expired."),
            D::InsufficientBalance => JtlError::Business(
                "VOUCHER.INSUFFICIENT_BALANCE",
                "The available balance of the voucher is too low.",
            ),
            D::CurrencyMismatch => JtlError::Business(
                "VOUCHER.CURRENCY_MISMATCH",
                "The currency does not match the currency of the voucher.",
            ),
            D::ReservationExpired => JtlError::Business(
                "RESERVATION.EXPIRED",
                "The reservation has expired or was replaced.",
            ),
            D::ReservationAlreadyCharged => JtlError::Business(
                "RESERVATION.ALREADY_CHARGED",
                "The reservation was already charged.",
            ),
            D::RefundExceedsCharge => JtlError::Business(
                "CHARGE.REFUND.EXCEEDS_CHARGE",
                "The refunds may not exceed the charge amount.",
            ),
            D::ChargeNotRefundable => JtlError::Business(
                "CHARGE.NOT_REFUNDABLE",
                "Only charges of type charge can be refunded.",
            ),
            D::VoucherNotDeletable => JtlError::Business(
                "VOUCHER.DELETE.NOT_DELETABLE",
                "The voucher has charges or a live reservation and cannot be deleted.",
            ),
            // A refund is refused on the same limit as a recharge, under its own action.
            D::BalanceLimitExceeded if action == "CHARGE.REFUND" => JtlError::Business(
                "CHARGE.REFUND.LIMIT_EXCEEDED",
                "The remaining amount may not exceed 999999.99.",
            ),
            D::BalanceLimitExceeded => JtlError::Business(
                "VOUCHER.RECHARGE.LIMIT_EXCEEDED",
                "The remaining amount may not exceed 999999.99.",
            ),
            D::VoucherIdTaken => taken(action, &["custom_id"]),
            D::VoucherCodeTaken => taken(action, &["code"]),
            D::VoucherIdAndCodeTaken => taken(action, &["custom_id", "code"]),
            D::PinInvalid => JtlError::field(
                "CLIENT.CONNECT",
                "pin",
                "invalid",
                "",
                "The selected pin is invalid.".into(),
            ),
            D::PatternExhausted => JtlError::Unavailable,
            // Refusals of other faces' commands, which this face never submits.
            D::TenantIdTaken
            | D::ClientCredentialsInvalid
            | D::ScopeNotAllowed
            | D::PayingVoucher { .. }
            | D::VouchersShort { .. }
            | D::Front(_)
            | D::Bleepay(_)
            | D::ConsoleUsernameTaken
            | D::ConsoleUserNotFound
            | D::MerchantTokenNotFound
            | D::WebhookNotFound
            | D::ImportRowTaken { .. } => JtlError::Internal,
        }
    }

    /// The answer to a store failure: retry later, or a bug.
    pub fn from_store(error: &StoreError) -> Self {
        match error {
            StoreError::Unavailable(_)
            | StoreError::Retryable(_)
            | StoreError::Conflict(_)
            | StoreError::Overloaded => JtlError::Unavailable,
            StoreError::Other(_) => JtlError::Internal,
        }
    }
}

fn taken(action: &'static str, properties: &[&str]) -> JtlError {
    JtlError::Validation {
        action,
        errors: properties
            .iter()
            .map(|p| {
                field_error(
                    action,
                    p,
                    "unique",
                    "",
                    format!("The {p} has already been taken."),
                )
            })
            .collect(),
    }
}

/// Builds an `errors[]` item: code `<ACTION>.<FIELD>.<RULE>[:<PARAMS>]`.
pub fn field_error(
    action: &str,
    property: &str,
    rule: &str,
    params: &str,
    message: String,
) -> FieldError {
    let field = property
        .replace(['[', ']'], ".")
        .trim_end_matches('.')
        .replace("..", ".");
    let mut code = format!("{action}.{}.{}", field.to_uppercase(), rule.to_uppercase());
    if !params.is_empty() {
        code.push(':');
        code.push_str(&params.to_uppercase());
    }
    FieldError {
        code,
        property: property.to_string(),
        rule: rule.to_string(),
        message,
    }
}

impl IntoResponse for JtlError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), self.body()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        match self {
            JtlError::Unauthenticated => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            JtlError::TooManyRequests(seconds) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            JtlError::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_codes_follow_the_resource_action_field_rule_scheme() {
        let e = field_error("VOUCHER.CREATE", "custom_id", "max", "255", String::new());
        assert_eq!(e.code, "VOUCHER.CREATE.CUSTOM_ID.MAX:255");
        let f = field_error(
            "VOUCHER.LIST",
            "filter[created_from]",
            "date",
            "",
            String::new(),
        );
        assert_eq!(f.code, "VOUCHER.LIST.FILTER.CREATED_FROM.DATE");
    }

    #[test]
    fn a_full_write_queue_answers_503_with_retry_after() {
        let response = JtlError::from_store(&StoreError::Overloaded).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn a_missing_scope_answers_the_bare_string_forbidden() {
        assert_eq!(JtlError::Forbidden.body(), "\"Forbidden\"");
        assert_eq!(JtlError::Forbidden.status(), StatusCode::FORBIDDEN);
    }
}
