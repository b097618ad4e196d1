//! The tenant's webhook endpoints in the console: the list (with a warning for each endpoint the
//! delivery loop disabled), a form for a new endpoint (its secret shown once), and one page per
//! endpoint with its latest deliveries (status code, latency, error) and the operator's actions:
//! send a test event, redeliver from an event number, rotate the secret (the new one shown once),
//! delete. Each action is the admin API's ([`crate::admin::webhooks`]) through the same store
//! commands, audited with the operator as actor.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use voucherd_domain::webhook::url_problem;
use voucherd_store::webhooks::{
    WEBHOOK_DELIVERIES_SHOWN, WEBHOOK_DISABLE_AFTER_DAYS, WEBHOOK_SECRET_GRACE_HOURS,
    WebhookAttempt, WebhookEndpoint, parse_types,
};
use voucherd_store::{Command, Outcome};

use super::session::Fields;
use super::{Nav, Operator, admit, existing_tenant, flashes, render, run, see_other, unavailable};
use super::{message, when};
use crate::AppState;
use crate::admin::webhooks::{send_test_event, types_problem};

/// An endpoint as a row of the list, and the head of its own page.
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub types: String,
    pub status: String,
    pub disabled: bool,
    pub failing: bool,
    pub delivered_through: i64,
    pub next_attempt: String,
    pub last_error: String,
    pub created: String,
    pub allow_private: bool,
    pub previous_secret_until: String,
}

/// One delivery attempt as a row.
pub struct AttemptRow {
    pub at: String,
    pub seq: i64,
    pub kind: String,
    pub status: String,
    pub latency: String,
    pub outcome: String,
    pub delivered: bool,
}

/// A secret shown once, after it was made.
pub struct ShownSecret {
    pub endpoint: String,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "console/webhooks.html")]
struct Endpoints {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    csrf: String,
    tenant: String,
    endpoints: Vec<EndpointRow>,
    disabled: Vec<String>,
    disable_after_days: i64,
    secret: Option<ShownSecret>,
    url: String,
    types: String,
}

#[derive(Template)]
#[template(path = "console/webhook.html")]
struct EndpointPage {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    csrf: String,
    tenant: String,
    e: EndpointRow,
    attempts: Vec<AttemptRow>,
    shown: i64,
    secret: Option<ShownSecret>,
    grace_hours: i64,
}

fn endpoint_row(e: &WebhookEndpoint) -> EndpointRow {
    let status = if let Some(at) = e.disabled_at {
        format!("Disabled since {}", when(at))
    } else if let Some(since) = e.failing_since {
        format!("Failing since {}", when(since))
    } else {
        "Active".to_string()
    };
    EndpointRow {
        id: e.id.clone(),
        url: e.url.clone(),
        types: if e.types.is_empty() {
            "every type".to_string()
        } else {
            e.types.join(", ")
        },
        status,
        disabled: e.disabled_at.is_some(),
        failing: e.failing_since.is_some() && e.disabled_at.is_none(),
        delivered_through: e.cursor,
        next_attempt: when(e.next_attempt_at),
        last_error: e.last_error.clone().unwrap_or_default(),
        created: when(e.created_at),
        allow_private: e.allow_private,
        previous_secret_until: e.previous_secret_until.map(when).unwrap_or_default(),
    }
}

fn attempt_row(a: &WebhookAttempt) -> AttemptRow {
    AttemptRow {
        at: when(a.at),
        seq: a.seq,
        kind: a.kind.clone(),
        status: a.status.map(|s| s.to_string()).unwrap_or_default(),
        latency: format!("{} ms", a.latency_ms),
        outcome: a.error.clone().unwrap_or_else(|| "delivered".to_string()),
        delivered: a.error.is_none(),
    }
}

/// What the list page shows besides the endpoints.
#[derive(Default)]
struct ListExtras {
    notice: Option<String>,
    problem: Option<String>,
    secret: Option<ShownSecret>,
    /// The new-endpoint form as sent, when it is shown again.
    url: String,
    types: String,
}

async fn list_page(
    state: &AppState,
    operator: &Operator,
    tenant: &str,
    status: StatusCode,
    extras: ListExtras,
) -> Response {
    let endpoints = match state.store.webhook_endpoints(tenant).await {
        Ok(endpoints) => endpoints,
        Err(error) => return unavailable(&error),
    };
    let disabled = endpoints
        .iter()
        .filter(|e| e.disabled_at.is_some())
        .map(|e| e.url.clone())
        .collect();
    render(
        status,
        &Endpoints {
            nav: Some(operator.nav(Some(tenant), "webhooks")),
            notice: extras.notice,
            problem: extras.problem,
            csrf: operator.csrf.clone(),
            tenant: tenant.to_string(),
            endpoints: endpoints.iter().map(endpoint_row).collect(),
            disabled,
            disable_after_days: WEBHOOK_DISABLE_AFTER_DAYS,
            secret: extras.secret,
            url: extras.url,
            types: extras.types,
        },
    )
}

pub async fn list(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = existing_tenant(&state, &operator, &tenant).await {
        return response;
    }
    let (notice, problem) = flashes(&query);
    let extras = ListExtras {
        notice,
        problem,
        ..ListExtras::default()
    };
    list_page(&state, &operator, &tenant, StatusCode::OK, extras).await
}

pub async fn create(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    if let Err(response) = admit(&state, &operator, &tenant, &fields).await {
        return response;
    }
    let url = fields.get("url").unwrap_or_default().trim().to_string();
    let types_text = fields.get("types").unwrap_or_default().trim().to_string();
    let types = parse_types(&types_text);
    let problem = url_problem(&url)
        .map(str::to_string)
        .or_else(|| types_problem(&types));
    if let Some(problem) = problem {
        let extras = ListExtras {
            problem: Some(format!("Not created: {problem}.")),
            url,
            types: types_text,
            ..ListExtras::default()
        };
        return list_page(
            &state,
            &operator,
            &tenant,
            StatusCode::UNPROCESSABLE_ENTITY,
            extras,
        )
        .await;
    }
    let command = Command::CreateWebhookEndpoint {
        url,
        types,
        allow_private: fields.get("allow_private") == Some("on"),
    };
    match run(&state, &tenant, &operator, command).await {
        Ok(Ok(Outcome::WebhookEndpointCreated { endpoint, secret })) => {
            let extras = ListExtras {
                notice: Some(
                    "The endpoint was created. Events committed from now on are sent to it.".into(),
                ),
                secret: Some(ShownSecret {
                    endpoint: endpoint.id.clone(),
                    secret,
                }),
                ..ListExtras::default()
            };
            list_page(&state, &operator, &tenant, StatusCode::OK, extras).await
        }
        Ok(_) => see_other(&format!("/admin/t/{tenant}/webhooks?problem=refused")),
        Err(response) => response,
    }
}

async fn endpoint_page(
    state: &AppState,
    operator: &Operator,
    (tenant, id): (&str, &str),
    status: StatusCode,
    (notice, problem, secret): (Option<String>, Option<String>, Option<ShownSecret>),
) -> Response {
    let endpoints = match state.store.webhook_endpoints(tenant).await {
        Ok(endpoints) => endpoints,
        Err(error) => return unavailable(&error),
    };
    let Some(endpoint) = endpoints.iter().find(|e| e.id == id) else {
        return message(
            StatusCode::NOT_FOUND,
            Some(operator.nav(Some(tenant), "webhooks")),
            "No such webhook endpoint",
            &format!("/admin/t/{tenant}/webhooks"),
        );
    };
    let attempts = match state
        .store
        .webhook_deliveries(tenant, id, WEBHOOK_DELIVERIES_SHOWN)
        .await
    {
        Ok(attempts) => attempts,
        Err(error) => return unavailable(&error),
    };
    render(
        status,
        &EndpointPage {
            nav: Some(operator.nav(Some(tenant), "webhooks")),
            notice,
            problem,
            csrf: operator.csrf.clone(),
            tenant: tenant.to_string(),
            e: endpoint_row(endpoint),
            attempts: attempts.iter().map(attempt_row).collect(),
            shown: WEBHOOK_DELIVERIES_SHOWN,
            secret,
            grace_hours: WEBHOOK_SECRET_GRACE_HOURS,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    operator: Operator,
    Path((tenant, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = existing_tenant(&state, &operator, &tenant).await {
        return response;
    }
    let (notice, problem) = flashes(&query);
    endpoint_page(
        &state,
        &operator,
        (&tenant, &id),
        StatusCode::OK,
        (notice, problem, None),
    )
    .await
}

/// The form on an endpoint's page: `test`, `redeliver` (with `after`), `rotate` or `delete`.
pub async fn act(
    State(state): State<AppState>,
    operator: Operator,
    Path((tenant, id, action)): Path<(String, String, String)>,
    Form(fields): Form<Fields>,
) -> Response {
    if let Err(response) = admit(&state, &operator, &tenant, &fields).await {
        return response;
    }
    let here = format!("/admin/t/{tenant}/webhooks/{id}");
    let page = |status, notice: Option<String>, problem: Option<String>, secret| {
        endpoint_page(
            &state,
            &operator,
            (&tenant, &id),
            status,
            (notice, problem, secret),
        )
    };
    let command = match action.as_str() {
        "test" => {
            return match send_test_event(&state, &tenant, &id).await {
                Ok(Some(attempt)) => {
                    let said = match (&attempt.error, attempt.status) {
                        (None, Some(status)) => format!(
                            "The test event was delivered: answered {status} in {} ms.",
                            attempt.latency_ms
                        ),
                        (Some(error), _) => format!("The test event was not delivered: {error}."),
                        (None, None) => "The test event was delivered.".to_string(),
                    };
                    let (notice, problem) = if attempt.error.is_none() {
                        (Some(said), None)
                    } else {
                        (None, Some(said))
                    };
                    page(StatusCode::OK, notice, problem, None).await
                }
                Ok(None) => see_other(&format!("{here}?problem=not-found")),
                Err(error) => unavailable(&error),
            };
        }
        "redeliver" => {
            let after = fields.get("after").unwrap_or_default().trim();
            let Some(after) = after.parse::<i64>().ok().filter(|a| *a >= 0) else {
                let problem = Some("Give the event number to send again after, from 0.".into());
                return page(StatusCode::UNPROCESSABLE_ENTITY, None, problem, None).await;
            };
            Command::RedeliverWebhook {
                endpoint_id: id.clone(),
                after,
            }
        }
        "rotate" => Command::RotateWebhookSecret {
            endpoint_id: id.clone(),
        },
        "delete" => Command::DeleteWebhookEndpoint {
            endpoint_id: id.clone(),
        },
        _ => return see_other(&here),
    };
    match run(&state, &tenant, &operator, command).await {
        Ok(Ok(Outcome::WebhookSecretRotated { endpoint, secret })) => {
            let notice = Some(format!(
                "The secret was rotated. The old one keeps signing beside the new one for {WEBHOOK_SECRET_GRACE_HOURS} hours."
            ));
            let shown = ShownSecret {
                endpoint: endpoint.id.clone(),
                secret,
            };
            page(StatusCode::OK, notice, None, Some(shown)).await
        }
        Ok(Ok(Outcome::WebhookEndpointDeleted)) => see_other(&format!(
            "/admin/t/{tenant}/webhooks?notice=webhook-deleted"
        )),
        Ok(Ok(_)) => see_other(&format!("{here}?notice=webhook-redelivering")),
        Ok(Err(refusal)) => {
            let problem = Some(format!("Not done: {refusal}."));
            page(StatusCode::UNPROCESSABLE_ENTITY, None, problem, None).await
        }
        Err(response) => response,
    }
}
