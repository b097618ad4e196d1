//! The admin API's error envelope, `{"error": {"code", "message"}}`, and how each
//! refusal and store failure is answered in it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use voucherd_domain::DomainError;
use voucherd_store::StoreError;

#[derive(Debug)]
pub struct AdminError {
    pub(super) status: StatusCode,
    code: &'static str,
    message: String,
}

impl AdminError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AdminError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 429: the address sent more than its rate limit.
    pub(crate) fn too_many_requests(wait_seconds: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!("too many requests; retry in {wait_seconds} s"),
        )
    }

    pub(super) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
    }

    pub(super) fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub(super) fn store(error: &StoreError) -> Self {
        match error {
            StoreError::Other(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error",
            ),
            _ => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database is unavailable; retry",
            ),
        }
    }

    pub(super) fn refusal(refusal: &DomainError) -> Self {
        use DomainError as D;
        match refusal {
            D::TenantNotFound => Self::not_found("tenant"),
            D::ClientNotFound => Self::not_found("client"),
            D::ClientGroupNotFound => Self::not_found("client group"),
            D::VoucherNotFound => Self::not_found("voucher"),
            D::MerchantTokenNotFound => Self::not_found("merchant token"),
            D::WebhookNotFound => Self::not_found("webhook endpoint"),
            D::ConsoleUserNotFound => Self::not_found("console user"),
            D::TenantIdTaken => {
                Self::new(StatusCode::CONFLICT, "conflict", "tenant id already taken")
            }
            // Refusals of the ledger's and other faces' rules: the operator reads the reason.
            D::ReservationNotFound
            | D::ChargeNotFound
            | D::VoucherInactive
            | D::VoucherExpired
            | D::InsufficientBalance
            | D::CurrencyMismatch
            | D::ReservationExpired
            | D::ReservationAlreadyCharged
            | D::RefundExceedsCharge
            | D::ChargeNotRefundable
            | D::VoucherNotDeletable
            | D::BalanceLimitExceeded
            | D::VoucherIdTaken
            | D::VoucherCodeTaken
            | D::VoucherIdAndCodeTaken
            | D::PinInvalid
            | D::ClientCredentialsInvalid
            | D::ScopeNotAllowed
            | D::PatternExhausted
            | D::ImportRowTaken { .. }
            | D::ConsoleUsernameTaken
            | D::PayingVoucher { .. }
            | D::VouchersShort { .. }
            | D::Front(_)
            | D::Bleepay(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "refused",
                refusal.to_string(),
            ),
        }
    }

    pub(super) fn body(&self) -> String {
        json!({ "error": { "code": self.code, "message": self.message } }).to_string()
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let mut r = (self.status, self.body()).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}
