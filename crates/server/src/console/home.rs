//! The first page after login: the tenants, each with its vouchers and clients.

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
    let tenants = tenants
        .into_iter()
        .map(|t| TenantRow {
            id: t.id,
            name: t.name,
            created: super::when(t.created_at),
        })
        .collect();
    render(
        StatusCode::OK,
        &Home {
            nav: Some(operator.nav(None, "")),
            notice: None,
            problem: None,
            tenants,
        },
    )
}
