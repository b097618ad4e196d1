//! Client groups, clients and their connection pins, and merchant tokens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use voucherd_domain::Scope;
use voucherd_store::Command;

use crate::AppState;

use super::error::AdminError;
use super::extract::{
    Admin, AdminBody, AdminPath, check_name, existing_tenant, json_response, renderer, run,
};
use super::{CLIENT_TYPE_CHARS_MAX, present};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewGroup {
    name: String,
    scopes: Vec<String>,
}

pub(super) async fn list_groups(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let groups = state
        .store
        .client_groups(&tenant)
        .await
        .map_err(|e| AdminError::store(&e))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "data": groups.iter().map(present::group).collect::<Vec<_>>() }),
    ))
}

pub(super) async fn create_group(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    body: AdminBody<NewGroup>,
) -> Result<Response, AdminError> {
    let NewGroup { name, scopes } = body.value;
    check_name(&name)?;
    let scopes = scopes
        .iter()
        .map(|s| Scope::parse(s).ok_or_else(|| AdminError::invalid(format!("unknown scope {s:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let render = renderer(StatusCode::CREATED, |o| match o {
        voucherd_store::Outcome::ClientGroup(g) => present::group(g),
        _ => Value::Null,
    });
    Ok(run(
        &state,
        &tenant,
        (body.request_id, body.keyed),
        Command::CreateClientGroup { name, scopes },
        render,
    )
    .await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewClient {
    name: String,
    client_group_id: String,
    #[serde(rename = "type")]
    client_type: Option<String>,
}

pub(super) async fn list_clients(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let clients = state
        .store
        .clients(&tenant)
        .await
        .map_err(|e| AdminError::store(&e))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "data": clients.iter().map(present::client).collect::<Vec<_>>() }),
    ))
}

pub(super) async fn create_client(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    body: AdminBody<NewClient>,
) -> Result<Response, AdminError> {
    let NewClient {
        name,
        client_group_id,
        client_type,
    } = body.value;
    let client_type = client_type.unwrap_or_else(|| "pos".into());
    check_name(&name)?;
    if client_type.is_empty() || client_type.chars().count() > CLIENT_TYPE_CHARS_MAX {
        return Err(AdminError::invalid("type must be 1 to 32 characters"));
    }
    let render = renderer(StatusCode::CREATED, |o| match o {
        voucherd_store::Outcome::Client(c) => present::client(c),
        _ => Value::Null,
    });
    Ok(run(
        &state,
        &tenant,
        (body.request_id, body.keyed),
        Command::CreateClient {
            name,
            client_group_id,
            client_type,
        },
        render,
    )
    .await)
}

pub(super) async fn issue_pin(
    _: Admin,
    State(state): State<AppState>,
    AdminPath((tenant, client)): AdminPath<(String, String)>,
    body: AdminBody<Value>,
) -> Result<Response, AdminError> {
    let render = renderer(StatusCode::CREATED, |o| match o {
        voucherd_store::Outcome::ConnectionPin { pin, expires_at } => {
            json!({ "pin": pin, "expires_at": crate::wire::timestamp(*expires_at) })
        }
        _ => Value::Null,
    });
    // A pin is a secret shown once: a replay must not show it again, so no key is kept.
    Ok(run(
        &state,
        &tenant,
        (body.request_id, None),
        Command::IssueConnectionPin { client_id: client },
        render,
    )
    .await)
}

pub(super) async fn disconnect_client(
    _: Admin,
    State(state): State<AppState>,
    AdminPath((tenant, client)): AdminPath<(String, String)>,
    body: AdminBody<Value>,
) -> Result<Response, AdminError> {
    let render = renderer(StatusCode::OK, |_| json!({ "disconnected": true }));
    let response = run(
        &state,
        &tenant,
        (body.request_id, body.keyed),
        Command::DisconnectClient {
            client_id: client.clone(),
        },
        render,
    )
    .await;
    state.tokens.forget_client(&client);
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewMerchantToken {
    name: String,
}

pub(super) async fn list_merchant_tokens(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let tokens = state
        .store
        .merchant_tokens(&tenant)
        .await
        .map_err(|e| AdminError::store(&e))?;
    let data: Vec<Value> = tokens.iter().map(present::merchant_token).collect();
    Ok(json_response(StatusCode::OK, &json!({ "data": data })))
}

pub(super) async fn create_merchant_token(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    body: AdminBody<NewMerchantToken>,
) -> Result<Response, AdminError> {
    let name = body.value.name;
    check_name(&name)?;
    let render = renderer(StatusCode::CREATED, |o| match o {
        voucherd_store::Outcome::MerchantToken {
            id,
            name,
            token,
            callback_secret,
        } => {
            json!({ "id": id, "name": name, "token": token, "callback_secret": callback_secret })
        }
        _ => Value::Null,
    });
    // The token is shown once; a replay must not show it again, so no key is kept.
    Ok(run(
        &state,
        &tenant,
        (body.request_id, None),
        Command::CreateMerchantToken { name },
        render,
    )
    .await)
}

/// Revokes a merchant token: its next request is refused, on every node (each request reads
/// its token from the database). Revoking it again answers the same.
pub(super) async fn revoke_merchant_token(
    _: Admin,
    State(state): State<AppState>,
    AdminPath((tenant, token)): AdminPath<(String, String)>,
    body: AdminBody<Value>,
) -> Result<Response, AdminError> {
    let render = renderer(StatusCode::OK, |o| match o {
        voucherd_store::Outcome::MerchantTokenRevoked(t) => present::merchant_token(t),
        _ => Value::Null,
    });
    Ok(run(
        &state,
        &tenant,
        (body.request_id, body.keyed),
        Command::RevokeMerchantToken { token_id: token },
        render,
    )
    .await)
}
