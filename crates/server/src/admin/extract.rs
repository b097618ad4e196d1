//! What every admin handler starts from: proof of the admin token, a JSON body with its
//! idempotency key, path parameters in the admin envelope, and submitting a command.

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;
use voucherd_store::{Actor, Command, CommandResult, StoredResponse};

use crate::AppState;
use crate::submit::{Answer, Keyed, Render, submit};
use crate::wire::{self, BodyError, WriteRequestError};

use super::NAME_CHARS_MAX;
use super::error::AdminError;

/// Proof that the request carries the admin token.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AdminError> {
        match crate::wire::bearer(parts) {
            Some(token) if state.is_admin_token(token) => Ok(Admin),
            _ => Err(AdminError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "a valid admin token is required",
            )),
        }
    }
}

/// A JSON admin request body, with its idempotency key.
pub(super) struct AdminBody<T> {
    pub(super) value: T,
    pub(super) keyed: Option<Keyed>,
    pub(super) request_id: String,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for AdminBody<T> {
    type Rejection = AdminError;

    async fn from_request(request: Request, _state: &AppState) -> Result<Self, AdminError> {
        let raw = wire::read_write_request(request)
            .await
            .map_err(|e| match e {
                WriteRequestError::KeyInvalid => AdminError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_idempotency_key",
                    "Idempotency-Key must be 1 to 255 visible ASCII characters",
                ),
                WriteRequestError::Body(BodyError::TimedOut) => AdminError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    "the body was not received in time",
                ),
                WriteRequestError::Body(BodyError::TooLarge) => AdminError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    "the body may not exceed 64 KiB",
                ),
                WriteRequestError::Body(BodyError::Unreadable) => AdminError::new(
                    StatusCode::BAD_REQUEST,
                    "unreadable",
                    "the body could not be read",
                ),
            })?;
        let text: &[u8] = if raw.bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &raw.bytes
        };
        let value = serde_json::from_slice::<T>(text).map_err(|e| {
            if e.is_syntax() || e.is_eof() {
                AdminError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_json",
                    "the body is not valid JSON",
                )
            } else {
                AdminError::invalid(e.to_string())
            }
        })?;
        let keyed = raw.idempotency.map(|(key, request_digest)| Keyed {
            caller: "admin".into(),
            key,
            request_digest,
        });
        Ok(AdminBody {
            value,
            keyed,
            request_id: raw.request_id,
        })
    }
}

/// Path parameters; a segment that is not valid UTF-8 answers in the admin envelope.
pub struct AdminPath<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for AdminPath<T> {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AdminError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| AdminPath(value))
            .map_err(|_| {
                AdminError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_path",
                    "the request path is not valid",
                )
            })
    }
}

/// Names of tenants, groups, clients and tokens: 1 to 255 characters, not blank.
pub(super) fn check_name(name: &str) -> Result<(), AdminError> {
    if name.trim().is_empty() || name.chars().count() > NAME_CHARS_MAX {
        return Err(AdminError::invalid("name must be 1 to 255 characters"));
    }
    Ok(())
}

pub(super) fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut r = (status, value.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub(super) fn renderer(
    status: StatusCode,
    success: impl Fn(&voucherd_store::Outcome) -> Value + Send + Sync + 'static,
) -> Render {
    std::sync::Arc::new(move |result: &CommandResult| match result {
        Ok(outcome) => StoredResponse {
            status: status.as_u16(),
            body: success(outcome).to_string(),
        },
        Err(refusal) => {
            let e = AdminError::refusal(refusal);
            StoredResponse {
                status: e.status.as_u16(),
                body: e.body(),
            }
        }
    })
}

pub(super) async fn run(
    state: &AppState,
    tenant_id: &str,
    body_meta: (String, Option<Keyed>),
    command: Command,
    render: Render,
) -> Response {
    let (request_id, keyed) = body_meta;
    let answer = submit(
        state,
        tenant_id,
        Actor::Admin("admin".into()),
        &request_id,
        command,
        keyed,
        render,
    )
    .await;
    let stored = |r: StoredResponse, replayed: bool| {
        let mut response = json_response(
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &serde_json::from_str(&r.body).unwrap_or(Value::Null),
        );
        if replayed {
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        response
    };
    match answer {
        Answer::Fresh { response, .. } => stored(response, false),
        Answer::Replayed(r) => stored(r, true),
        Answer::KeyReused => AdminError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "the Idempotency-Key was used with a different request",
        )
        .into_response(),
        Answer::Failed(e) => AdminError::store(&e).into_response(),
    }
}

pub(super) async fn existing_tenant(
    state: &AppState,
    tenant_id: &str,
) -> Result<voucherd_store::model::Tenant, AdminError> {
    state
        .store
        .tenant(tenant_id)
        .await
        .map_err(|e| AdminError::store(&e))?
        .ok_or_else(|| AdminError::not_found("tenant"))
}
