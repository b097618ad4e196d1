//! Tenants and their settings, with the preview of a code pattern.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use voucherd_domain::pattern::Pattern;
use voucherd_domain::{Validity, ValidityInterval};
use voucherd_store::Command;
use voucherd_store::model::{
    RESERVATION_TTL_SECONDS_RANGE, TOKEN_TTL_SECONDS_RANGE, TenantSettings,
};

use crate::AppState;

use super::error::AdminError;
use super::extract::{
    Admin, AdminBody, AdminPath, check_name, existing_tenant, json_response, renderer, run,
};
use super::{CODE_PATTERN_ENTROPY_BITS_MIN, PREVIEW_SAMPLES_MAX, present};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewTenant {
    id: Option<String>,
    name: String,
}

pub(super) fn valid_tenant_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

pub(super) async fn list_tenants(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Response, AdminError> {
    let tenants = state
        .store
        .tenants()
        .await
        .map_err(|e| AdminError::store(&e))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "data": tenants.iter().map(present::tenant).collect::<Vec<_>>() }),
    ))
}

pub(super) async fn create_tenant(
    _: Admin,
    State(state): State<AppState>,
    body: AdminBody<NewTenant>,
) -> Result<Response, AdminError> {
    let NewTenant { id, name } = body.value;
    if id.as_deref().is_some_and(|id| !valid_tenant_id(id)) {
        return Err(AdminError::invalid(
            "id must be 1 to 64 lower-case letters, digits, '-' or '_'",
        ));
    }
    check_name(&name)?;
    let render = renderer(StatusCode::CREATED, |o| match o {
        voucherd_store::Outcome::Tenant(t) => present::tenant(t),
        _ => Value::Null,
    });
    let tenant_id = id.clone().unwrap_or_default();
    Ok(run(
        &state,
        &tenant_id,
        (body.request_id, body.keyed),
        Command::CreateTenant { id, name },
        render,
    )
    .await)
}

pub(super) async fn get_settings(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
) -> Result<Response, AdminError> {
    let tenant = existing_tenant(&state, &tenant).await?;
    Ok(json_response(
        StatusCode::OK,
        &present::settings(&tenant.settings),
    ))
}

/// A tenant's settings as an operator sends them (admin API body, console form).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsBody {
    pub(crate) voucher_id_pattern: String,
    pub(crate) code_pattern: String,
    pub(crate) pin_pattern: Option<String>,
    pub(crate) default_validity_value: i64,
    pub(crate) default_validity_interval: String,
    pub(crate) reservation_ttl_seconds: i64,
    pub(crate) token_ttl_seconds: i64,
}

pub(super) fn checked_settings(b: SettingsBody) -> Result<TenantSettings, AdminError> {
    settings_from(b).map_err(AdminError::invalid)
}

/// Checks settings an operator sent; the problem in words otherwise.
pub(crate) fn settings_from(b: SettingsBody) -> Result<TenantSettings, String> {
    let pattern = |name: &str, text: &str| Pattern::parse(text).map_err(|e| format!("{name}: {e}"));
    pattern("voucher_id_pattern", &b.voucher_id_pattern)?;
    let code = pattern("code_pattern", &b.code_pattern)?;
    if code.entropy_bits() < CODE_PATTERN_ENTROPY_BITS_MIN {
        return Err(format!(
            "code_pattern: codes must carry at least {CODE_PATTERN_ENTROPY_BITS_MIN} bits of randomness (this one has {:.1})",
            code.entropy_bits()
        ));
    }
    if let Some(pin) = &b.pin_pattern {
        pattern("pin_pattern", pin)?;
    }
    let interval = ValidityInterval::parse(&b.default_validity_interval)
        .ok_or("default_validity_interval must be days, weeks, months or years")?;
    if !(1..=voucherd_domain::validity::VALIDITY_VALUE_MAX).contains(&b.default_validity_value) {
        return Err("default_validity_value must be 1 to 36500".into());
    }
    if !RESERVATION_TTL_SECONDS_RANGE.contains(&b.reservation_ttl_seconds) {
        return Err("reservation_ttl_seconds must be 60 to 86400".into());
    }
    if !TOKEN_TTL_SECONDS_RANGE.contains(&b.token_ttl_seconds) {
        return Err("token_ttl_seconds must be 60 to 86400".into());
    }
    Ok(TenantSettings {
        voucher_id_pattern: b.voucher_id_pattern,
        code_pattern: b.code_pattern,
        pin_pattern: b.pin_pattern,
        default_validity: Validity {
            value: b.default_validity_value,
            interval,
        },
        reservation_ttl_seconds: b.reservation_ttl_seconds,
        token_ttl_seconds: b.token_ttl_seconds,
    })
}

pub(super) async fn put_settings(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    body: AdminBody<SettingsBody>,
) -> Result<Response, AdminError> {
    let settings = checked_settings(body.value)?;
    let render = renderer(StatusCode::OK, |o| match o {
        voucherd_store::Outcome::Settings(s) => present::settings(s),
        _ => Value::Null,
    });
    Ok(run(
        &state,
        &tenant,
        (body.request_id, body.keyed),
        Command::UpdateSettings(settings),
        render,
    )
    .await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PreviewBody {
    pattern: String,
    count: Option<usize>,
}

pub(super) async fn preview_pattern(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    body: AdminBody<PreviewBody>,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let pattern =
        Pattern::parse(&body.value.pattern).map_err(|e| AdminError::invalid(e.to_string()))?;
    let count = body.value.count.unwrap_or(5).clamp(1, PREVIEW_SAMPLES_MAX);
    let samples: Vec<String> = (0..count).map(|_| pattern.generate()).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "samples": samples, "entropy_bits": (pattern.entropy_bits() * 10.0).round() / 10.0 }),
    ))
}
