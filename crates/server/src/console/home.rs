//! The first page after login: the tenants, each with its vouchers and clients, and a warning
//! for every tenant with a webhook endpoint that the delivery loop disabled.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{Nav, Operator, render, unavailable};
use crate::AppState;

pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub created: String,
    /// Webhook endpoints disabled after failing for days.
    pub disabled_webhooks: usize,
}

#[derive(Template)]
#[template(path = "console/home.html")]
struct Home {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    tenants: Vec<TenantRow>,
}

pub async fn page(State(state): State<AppState>, operator: Operator) -> Response {
    let tenants = match state.store.tenants().await {
        Ok(tenants) => tenants,
        Err(error) => return unavailable(&error),
    };
    let mut rows = Vec::with_capacity(tenants.len());
    for t in tenants {
        let disabled_webhooks = match state.store.webhook_endpoints(&t.id).await {
            Ok(endpoints) => endpoints.iter().filter(|e| e.disabled_at.is_some()).count(),
            Err(error) => return unavailable(&error),
        };
        rows.push(TenantRow {
            id: t.id,
            name: t.name,
            created: super::when(t.created_at),
            disabled_webhooks,
        });
    }
    render(
        StatusCode::OK,
        &Home {
            nav: Some(operator.nav(None, "")),
            notice: None,
            problem: None,
            tenants: rows,
        },
    )
}
