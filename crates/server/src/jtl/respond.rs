//! Turning a submitted command into a JTL response, the same way live and on replay.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use voucherd_store::{CommandResult, Outcome, StoredResponse};

use super::error::JtlError;
use crate::submit::{Answer, Render};

/// A success: status and JSON body (`None` for an empty 204).
pub struct Success {
    pub status: StatusCode,
    pub body: Option<String>,
}

impl Success {
    pub fn json(status: StatusCode, value: &impl Serialize) -> Self {
        Success {
            status,
            body: Some(serde_json::to_string(value).unwrap_or_default()),
        }
    }

    pub fn no_content() -> Self {
        Success {
            status: StatusCode::NO_CONTENT,
            body: None,
        }
    }
}

/// A renderer for a command of `action` whose successes `success` formats.
pub fn renderer(
    action: &'static str,
    success: impl Fn(&Outcome) -> Success + Send + Sync + 'static,
) -> Render {
    Arc::new(move |result: &CommandResult| match result {
        Ok(outcome) => {
            let s = success(outcome);
            StoredResponse {
                status: s.status.as_u16(),
                body: s.body.unwrap_or_default(),
            }
        }
        Err(refusal) => {
            let error = JtlError::from_refusal(action, refusal);
            StoredResponse {
                status: error.status().as_u16(),
                body: error.body(),
            }
        }
    })
}

fn stored(response: StoredResponse) -> Response {
    crate::submit::json_response(response)
}

/// The response to a submission.
pub fn respond(answer: Answer) -> Response {
    crate::submit::respond_with(
        answer,
        || {
            JtlError::Business(
                "IDEMPOTENCY_KEY_REUSED",
                "The Idempotency-Key was already used with a different request.",
            )
            .into_response()
        },
        |error| JtlError::from_store(error).into_response(),
    )
}

/// A JSON success response outside the command path (reads).
pub fn ok_json(value: &impl Serialize) -> Response {
    stored(StoredResponse {
        status: 200,
        body: serde_json::to_string(value).unwrap_or_default(),
    })
}
