//! `POST /oauth/token`: the client credentials grant (RFC 6749 §4.4), with the credentials in
//! the form or in HTTP Basic, an optional `scope` subset, and RFC 6749 error bodies.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;
use voucherd_domain::{DomainError, Scope};
use voucherd_store::{Actor, Command, CommandContext, CommandRequest, Execution, Outcome};

use crate::AppState;
use crate::observe::RequestId;
use crate::wire::{BodyError, read_body};

/// Longest `client_type` accepted, as the JTL documents say.
const CLIENT_TYPE_CHARS_MAX: usize = 32;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        json!({ "error": error, "error_description": description }).to_string(),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"voucherd\""),
        );
    }
    response
}

fn invalid_request(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    request_id: Option<axum::Extension<RequestId>>,
    body: Body,
) -> Response {
    let bytes = match read_body(body).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => return invalid_request("The request body is too large."),
        Err(BodyError::TimedOut) => {
            return invalid_request("The request body was not received in time.");
        }
        Err(BodyError::Unreadable) => {
            return invalid_request("The request body could not be read.");
        }
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    match field("grant_type").as_deref() {
        None => return invalid_request("The grant_type parameter is missing."),
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Only the client_credentials grant is supported.",
            );
        }
    }
    let Some((client_id, secret)) =
        basic_credentials(&headers).or_else(|| field("client_id").zip(field("client_secret")))
    else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed.",
        );
    };
    let client_type = field("client_type");
    if client_type
        .as_ref()
        .is_some_and(|t| t.chars().count() > CLIENT_TYPE_CHARS_MAX)
    {
        return invalid_request("The client_type may not be greater than 32 characters.");
    }
    let scopes = match field("scope") {
        Some(text) if !text.trim().is_empty() => match Scope::parse_list(&text) {
            Some(scopes) => Some(scopes),
            None => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "The requested scope is invalid or unknown.",
                );
            }
        },
        _ => None,
    };
    let request = CommandRequest {
        context: CommandContext {
            tenant_id: String::new(),
            actor: Actor::Anonymous,
            request_id: crate::observe::RequestId::of(request_id),
            now: state.clock.now(),
        },
        command: Command::IssueToken {
            client_id,
            secret,
            scopes,
            client_type,
        },
        idempotency: None,
    };
    match state.store.execute(request).await {
        Ok(Execution::Done(Ok(Outcome::Token {
            token,
            scopes,
            expires_at,
        }))) => {
            let expires_in = (expires_at - state.clock.now()).whole_seconds().max(0);
            let mut response = (
                StatusCode::OK,
                json!({
                    "token_type": "Bearer",
                    "expires_in": expires_in,
                    "access_token": token,
                    "scope": Scope::join(&scopes),
                })
                .to_string(),
            )
                .into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Ok(Execution::Done(Err(DomainError::ScopeNotAllowed))) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The requested scope exceeds the scopes of the client's group.",
        ),
        Ok(Execution::Done(Err(_))) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed.",
        ),
        Ok(_) => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Unexpected answer.",
        ),
        Err(error) => {
            tracing::error!(%error, "token issue failed");
            oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "Please try again.",
            )
        }
    }
}
