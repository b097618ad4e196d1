//! Webhook endpoints of a tenant: listed (without secrets), made (the secret shown once),
//! deleted, given a new secret (the old one signing for a grace period), sent events again
//! from a number (enabling a disabled one), sent a test event, and their latest delivery
//! attempts. Delivery itself is [`crate::webhooks`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use voucherd_domain::events::unknown_type;
use voucherd_domain::webhook::url_problem;
use voucherd_store::Command;
use voucherd_store::webhooks::{WEBHOOK_DELIVERIES_SHOWN, WebhookAttempt, WebhookEndpoint};

use crate::AppState;
use crate::wire::timestamp;

use super::error::AdminError;
use super::extract::{Admin, AdminBody, AdminPath, existing_tenant, json_response, renderer, run};

pub fn endpoint_json(e: &WebhookEndpoint) -> Value {
    json!({
        "id": e.id,
        "url": e.url,
        "types": e.types,
        "allow_private_addresses": e.allow_private,
        "status": if e.disabled_at.is_some() { "disabled" } else if e.failing_since.is_some() { "failing" } else { "active" },
        "delivered_through": e.cursor,
        "attempts": e.attempts,
        "next_attempt_at": timestamp(e.next_attempt_at),
        "failing_since": e.failing_since.map(timestamp),
        "last_error": e.last_error,
        "disabled_at": e.disabled_at.map(timestamp),
        "created_at": timestamp(e.created_at),
        "previous_secret_valid_until": e.previous_secret_until.map(timestamp),
    })
}

/// An endpoint with its secret, answered once: when it is made and when the secret rotates.
pub fn endpoint_with_secret(e: &WebhookEndpoint, secret: &str) -> Value {
    let mut shown = endpoint_json(e);
    shown["secret"] = json!(secret);
    shown
}

/// Why these event types cannot be an endpoint's, if they cannot.
pub fn types_problem(types: &[String]) -> Option<String> {
    unknown_type(types).map(|t| format!("unknown event type {t:?} (see docs/events.md)"))
}

pub fn attempt_json(a: &WebhookAttempt) -> Value {
    json!({
        "seq": a.seq,
        "type": a.kind,
        "at": timestamp(a.at),
        "status": a.status,
        "latency_ms": a.latency_ms,
        "error": a.error,
    })
}

pub(super) async fn list(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let endpoints = state
        .store
        .webhook_endpoints(&tenant)
        .await
        .map_err(|e| AdminError::store(&e))?;
    let data: Vec<Value> = endpoints.iter().map(endpoint_json).collect();
    Ok(json_response(StatusCode::OK, &json!({ "data": data })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewEndpoint {
    url: String,
    #[serde(default)]
    types: Vec<String>,
    #[serde(default)]
    allow_private_addresses: bool,
}

pub(super) async fn create(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    body: AdminBody<NewEndpoint>,
) -> Result<Response, AdminError> {
    let NewEndpoint {
        url,
        types,
        allow_private_addresses,
    } = body.value;
    if let Some(problem) = url_problem(&url) {
        return Err(AdminError::invalid(problem));
    }
    if let Some(problem) = types_problem(&types) {
        return Err(AdminError::invalid(problem));
    }
    let render = renderer(StatusCode::CREATED, |o| match o {
        voucherd_store::Outcome::WebhookEndpointCreated { endpoint, secret } => {
            endpoint_with_secret(endpoint, secret)
        }
        _ => Value::Null,
    });
    // The secret is shown once: a replay must not show it again, so no key is kept.
    Ok(run(
        &state,
        &tenant,
        (body.request_id, None),
        Command::CreateWebhookEndpoint {
            url,
            types,
            allow_private: allow_private_addresses,
        },
        render,
    )
    .await)
}

pub(super) async fn delete(
    _: Admin,
    State(state): State<AppState>,
    AdminPath((tenant, endpoint)): AdminPath<(String, String)>,
    body: AdminBody<Value>,
) -> Result<Response, AdminError> {
    let render = renderer(StatusCode::OK, |_| json!({ "deleted": true }));
    Ok(run(
        &state,
        &tenant,
        (body.request_id, body.keyed),
        Command::DeleteWebhookEndpoint {
            endpoint_id: endpoint,
        },
        render,
    )
    .await)
}

pub(super) async fn deliveries(
    _: Admin,
    State(state): State<AppState>,
    AdminPath((tenant, endpoint)): AdminPath<(String, String)>,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let attempts = state
        .store
        .webhook_deliveries(&tenant, &endpoint, WEBHOOK_DELIVERIES_SHOWN)
        .await
        .map_err(|e| AdminError::store(&e))?;
    let data: Vec<Value> = attempts.iter().map(attempt_json).collect();
    Ok(json_response(StatusCode::OK, &json!({ "data": data })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Redelivery {
    after: i64,
}

/// Sends the events after `after` again, and enables a disabled endpoint.
pub(super) async fn redeliver(
    _: Admin,
    State(state): State<AppState>,
    AdminPath((tenant, endpoint)): AdminPath<(String, String)>,
    body: AdminBody<Redelivery>,
) -> Result<Response, AdminError> {
    if body.value.after < 0 {
        return Err(AdminError::invalid("after must be an event number from 0"));
    }
    let render = renderer(StatusCode::OK, |o| match o {
        voucherd_store::Outcome::WebhookEndpoint(endpoint) => endpoint_json(endpoint),
        _ => Value::Null,
    });
    Ok(run(
        &state,
        &tenant,
        (body.request_id, body.keyed),
        Command::RedeliverWebhook {
            endpoint_id: endpoint,
            after: body.value.after,
        },
        render,
    )
    .await)
}

/// A new secret (shown once); the old one keeps signing for a grace period.
pub(super) async fn rotate_secret(
    _: Admin,
    State(state): State<AppState>,
    AdminPath((tenant, endpoint)): AdminPath<(String, String)>,
    body: AdminBody<Value>,
) -> Result<Response, AdminError> {
    let render = renderer(StatusCode::OK, |o| match o {
        voucherd_store::Outcome::WebhookSecretRotated { endpoint, secret } => {
            endpoint_with_secret(endpoint, secret)
        }
        _ => Value::Null,
    });
    // The secret is shown once: no key is kept for a replay.
    Ok(run(
        &state,
        &tenant,
        (body.request_id, None),
        Command::RotateWebhookSecret {
            endpoint_id: endpoint,
        },
        render,
    )
    .await)
}

/// Sends a test event to the endpoint now and answers how it went; the attempt is recorded among
/// the endpoint's deliveries (number 0). Nothing in the feed or the endpoint's cursor changes.
pub(super) async fn test(
    _: Admin,
    State(state): State<AppState>,
    AdminPath((tenant, endpoint)): AdminPath<(String, String)>,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let attempt = send_test_event(&state, &tenant, &endpoint)
        .await
        .map_err(|e| AdminError::store(&e))?
        .ok_or_else(|| AdminError::not_found("webhook endpoint"))?;
    Ok(json_response(StatusCode::OK, &attempt_json(&attempt)))
}

/// Sends the test event to the tenant's endpoint and records the attempt; `None` when the tenant
/// has no such endpoint.
pub async fn send_test_event(
    state: &AppState,
    tenant: &str,
    endpoint: &str,
) -> Result<Option<WebhookAttempt>, voucherd_store::StoreError> {
    let now = state.clock.now();
    let Some(target) = state.store.webhook_target(tenant, endpoint, now).await? else {
        return Ok(None);
    };
    let attempt = crate::webhooks::send_test(&target, now).await;
    state
        .store
        .record_webhook_attempt(&target, &attempt)
        .await?;
    Ok(Some(attempt))
}
