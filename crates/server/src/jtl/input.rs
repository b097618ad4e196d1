//! The body of a JTL write request: at most 64 KiB, a JSON object (an empty body reads as
//! `{}` so that missing fields are reported field by field), plus the request's id and its
//! `Idempotency-Key` with the digest that key is bound to.

use axum::extract::{FromRequest, Request};
use serde_json::{Map, Value};

use super::error::JtlError;
use crate::AppState;
use crate::observe::RequestId;
use crate::submit::Keyed;
use crate::wire::{self, BodyError};

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
        let (parts, body) = request.into_parts();
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let key = wire::idempotency_key(&parts.headers).map_err(|()| {
            JtlError::BadRequest(
                "REQUEST.IDEMPOTENCY_KEY_INVALID",
                "The Idempotency-Key header must be 1 to 255 visible ASCII characters.",
            )
        })?;
        let bytes = wire::read_body(body).await.map_err(|e| match e {
            BodyError::TooLarge => JtlError::TooLarge,
            BodyError::Unreadable => {
                JtlError::BadRequest("REQUEST.UNREADABLE", "The request body could not be read.")
            }
        })?;
        let fields = if bytes.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            match serde_json::from_slice::<Value>(&bytes) {
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
        let idempotency = key.map(|key| {
            let digest = wire::request_digest(parts.method.as_str(), parts.uri.path(), &bytes);
            (key, digest)
        });
        Ok(JtlInput {
            fields,
            request_id,
            idempotency,
        })
    }
}
