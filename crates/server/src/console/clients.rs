//! Client groups and clients: create them, show a client's 30-minute connection pin with a
//! countdown, disconnect a client (its secret and tokens stop working at once).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use voucherd_domain::{DomainError, Scope};
use voucherd_store::{Command, Outcome};

use super::session::Fields;
use super::{
    Nav, Operator, admit, csrf_refused, existing_tenant, flash, render, run, see_other,
    unavailable, when,
};
use crate::AppState;

pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub scopes: String,
}

pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub client_type: String,
    pub group: String,
    pub connected: String,
}

#[derive(Template)]
#[template(path = "console/clients.html")]
struct Clients {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    tenant: String,
    csrf: String,
    groups: Vec<GroupRow>,
    clients: Vec<ClientRow>,
    all_scopes: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "console/pin.html")]
struct Pin {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    tenant: String,
    client: String,
    pin: String,
    expires: String,
    expires_iso: String,
}

pub async fn page(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = existing_tenant(&state, &operator, &tenant).await {
        return response;
    }
    let (groups, clients) = match (
        state.store.client_groups(&tenant).await,
        state.store.clients(&tenant).await,
    ) {
        (Ok(groups), Ok(clients)) => (groups, clients),
        (Err(error), _) | (_, Err(error)) => return unavailable(&error),
    };
    let group_name = |id: &str| {
        groups
            .iter()
            .find(|g| g.id == id)
            .map(|g| g.name.clone())
            .unwrap_or_default()
    };
    let clients = clients
        .iter()
        .map(|c| ClientRow {
            id: c.id.clone(),
            name: c.name.clone(),
            client_type: c.client_type.clone(),
            group: group_name(&c.client_group_id),
            connected: c
                .connected_at
                .filter(|_| c.connected)
                .map(when)
                .unwrap_or_else(|| "no".into()),
        })
        .collect();
    let groups = groups
        .iter()
        .map(|g| GroupRow {
            id: g.id.clone(),
            name: g.name.clone(),
            scopes: g
                .scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect();
    render(
        StatusCode::OK,
        &Clients {
            nav: Some(operator.nav(Some(&tenant), "clients")),
            notice: flash(query.get("notice").map(String::as_str)),
            problem: flash(query.get("problem").map(String::as_str)),
            csrf: operator.csrf.clone(),
            tenant,
            groups,
            clients,
            all_scopes: Scope::ALL.iter().map(|s| s.as_str()).collect(),
        },
    )
}

fn back(tenant: &str, key: &str, problem: bool) -> Response {
    let kind = if problem { "problem" } else { "notice" };
    see_other(&format!("/admin/t/{tenant}/clients?{kind}={key}"))
}

pub async fn create_group(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    if let Err(response) = admit(&state, &operator, &tenant, &fields).await {
        return response;
    }
    let name = fields.get("name").filter(|n| n.chars().count() <= 255);
    let scopes: Option<Vec<Scope>> = fields
        .all("scopes")
        .iter()
        .map(|s| Scope::parse(s))
        .collect();
    let (Some(name), Some(scopes)) = (name, scopes.filter(|s| !s.is_empty())) else {
        return back(&tenant, "invalid-group", true);
    };
    let command = Command::CreateClientGroup {
        name: name.to_string(),
        scopes,
    };
    match run(&state, &tenant, &operator, command).await {
        Ok(Ok(_)) => back(&tenant, "group-created", false),
        Ok(Err(_)) => back(&tenant, "invalid-group", true),
        Err(response) => response,
    }
}

pub async fn create_client(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    if let Err(response) = admit(&state, &operator, &tenant, &fields).await {
        return response;
    }
    let name = fields.get("name").filter(|n| n.chars().count() <= 255);
    let group = fields.get("client_group_id");
    let client_type = fields.get("type").unwrap_or("pos");
    let (Some(name), Some(group)) = (name, group) else {
        return back(&tenant, "invalid-client", true);
    };
    if client_type.chars().count() > 32 {
        return back(&tenant, "invalid-client", true);
    }
    let command = Command::CreateClient {
        name: name.to_string(),
        client_group_id: group.to_string(),
        client_type: client_type.to_string(),
    };
    match run(&state, &tenant, &operator, command).await {
        Ok(Ok(_)) => back(&tenant, "client-created", false),
        Ok(Err(_)) => back(&tenant, "invalid-client", true),
        Err(response) => response,
    }
}

pub async fn pin(
    State(state): State<AppState>,
    operator: Operator,
    Path((tenant, client)): Path<(String, String)>,
    Form(fields): Form<Fields>,
) -> Response {
    if !operator.sent_by_console(&fields) {
        return csrf_refused(&operator);
    }
    let found = match state.store.client(&tenant, &client).await {
        Ok(found) => found,
        Err(error) => return unavailable(&error),
    };
    let Some(found) = found else {
        return back(&tenant, "not-found", true);
    };
    let command = Command::IssueConnectionPin {
        client_id: client.clone(),
    };
    match run(&state, &tenant, &operator, command).await {
        Ok(Ok(Outcome::ConnectionPin { pin, expires_at })) => render(
            StatusCode::OK,
            &Pin {
                nav: Some(operator.nav(Some(&tenant), "clients")),
                notice: None,
                problem: None,
                tenant,
                client: found.name,
                pin,
                expires: when(expires_at),
                expires_iso: expires_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            },
        ),
        Ok(_) => back(&tenant, "not-found", true),
        Err(response) => response,
    }
}

pub async fn disconnect(
    State(state): State<AppState>,
    operator: Operator,
    Path((tenant, client)): Path<(String, String)>,
    Form(fields): Form<Fields>,
) -> Response {
    if !operator.sent_by_console(&fields) {
        return csrf_refused(&operator);
    }
    let command = Command::DisconnectClient { client_id: client };
    match run(&state, &tenant, &operator, command).await {
        Ok(Ok(_)) => back(&tenant, "disconnected", false),
        Ok(Err(DomainError::ClientNotFound)) | Ok(Err(_)) => back(&tenant, "not-found", true),
        Err(response) => response,
    }
}
