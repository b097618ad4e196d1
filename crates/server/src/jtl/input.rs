//! The body of a JTL write request: at most 64 KiB, a JSON object (an empty body reads as
//! `{}` so that missing fields are reported field by field), plus the request's id and its
//! `Idempotency-Key` with the digest that key is bound to.

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::JtlError;
use crate::AppState;
use crate::submit::Keyed;
use crate::wire::{self, BodyError, WriteRequestError};

/// A parsed JTL write request.
pub struct JtlInput {
    pub fields: Map<String, Value>,
    pub request_id: String,
    /// The key and digest; the caller is filled in once the token is known.
    idempotency: Option<(String, String)>,
}

impl JtlInput {
    /// The idempotency key for `caller`, if the request sent one.
    pub fn keyed(&self, caller: &str) -> Option<Keyed> {
        self.idempotency.as_ref().map(|(key, digest)| Keyed {
            caller: caller.to_string(),
            key: key.clone(),
            request_digest: digest.clone(),
        })
    }
}

impl FromRequest<AppState> for JtlInput {
    type Rejection = JtlError;

    async fn from_request(request: Request, _state: &AppState) -> Result<Self, JtlError> {
        let raw = wire::read_write_request(request)
            .await
            .map_err(|e| match e {
                WriteRequestError::KeyInvalid => JtlError::BadRequest(
                    "REQUEST.IDEMPOTENCY_KEY_INVALID",
                    "The Idempotency-Key header must be 1 to 255 visible ASCII characters.",
                ),
                WriteRequestError::Body(BodyError::TooLarge) => JtlError::TooLarge,
                WriteRequestError::Body(BodyError::TimedOut) => JtlError::RequestTimeout,
                WriteRequestError::Body(BodyError::Unreadable) => JtlError::BadRequest(
                    "REQUEST.UNREADABLE",
                    "The request body could not be read.",
                ),
            })?;
        let fields = if raw.bytes.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            match serde_json::from_slice::<Value>(&raw.bytes) {
                Ok(Value::Object(map)) => map,
                Ok(_) => {
                    return Err(JtlError::BadRequest(
                        "REQUEST.INVALID_BODY",
                        "The request body must be a JSON object.",
                    ));
                }
                Err(_) => {
                    return Err(JtlError::BadRequest(
                        "REQUEST.MALFORMED_JSON",
                        "The request body is not valid JSON.",
                    ));
                }
            }
        };
        Ok(JtlInput {
            fields,
            request_id: raw.request_id,
            idempotency: raw.idempotency,
        })
    }
}

/// Path parameters; a segment that is not valid UTF-8 answers in the JTL envelope.
pub struct JtlPath<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for JtlPath<T> {
    type Rejection = JtlError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, JtlError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| JtlPath(value))
            .map_err(|_| {
                JtlError::BadRequest("REQUEST.INVALID_PATH", "The request path is not valid.")
            })
    }
}
