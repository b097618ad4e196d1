//! The tenant's settings: id, code and PIN patterns with samples (refreshed as the operator
//! types, or with "Preview samples" without the script), default validity, reservation and
//! token lifetimes; and the Front Payment merchant tokens, each shown once when made, and
//! revoked here.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use voucherd_domain::pattern::Pattern;
use voucherd_store::model::TenantSettings;
use voucherd_store::{Command, Outcome};

use super::session::Fields;
use super::{
    Nav, Operator, admit, csrf_refused, existing_tenant, flash, render, run, see_other,
    unavailable, when,
};
use crate::AppState;
use crate::admin::{SettingsBody, settings_from};

/// Samples shown under each pattern.
const SAMPLES: usize = 5;

pub struct PatternField {
    pub name: &'static str,
    pub label: &'static str,
    pub value: String,
    pub samples: String,
}

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub created: String,
    /// When it was revoked; `None` while it works.
    pub revoked: Option<String>,
}

pub struct MadeToken {
    pub name: String,
    pub token: String,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "console/settings.html")]
struct Settings {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    tenant: String,
    csrf: String,
    patterns: Vec<PatternField>,
    validity_value: i64,
    validity_interval: String,
    intervals: Vec<&'static str>,
    reservation_ttl: i64,
    token_ttl: i64,
    tokens: Vec<TokenRow>,
    made: Option<MadeToken>,
}

/// Samples of a pattern and its randomness, or what is wrong with it.
fn samples(pattern: &str) -> String {
    if pattern.is_empty() {
        return "No PIN is generated.".into();
    }
    match Pattern::parse(pattern) {
        Ok(parsed) => {
            let made: Vec<String> = (0..SAMPLES).map(|_| parsed.generate()).collect();
            format!(
                "{} · {:.1} bits of randomness",
                made.join("  "),
                parsed.entropy_bits()
            )
        }
        Err(error) => format!("Not a valid pattern: {error}"),
    }
}

/// The settings as a form would send them.
fn body_of(fields: &Fields) -> SettingsBody {
    let number = |name: &str| {
        fields
            .get(name)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    SettingsBody {
        voucher_id_pattern: fields
            .get("voucher_id_pattern")
            .unwrap_or_default()
            .to_string(),
        code_pattern: fields.get("code_pattern").unwrap_or_default().to_string(),
        pin_pattern: fields.get("pin_pattern").map(str::to_string),
        default_validity_value: number("default_validity_value"),
        default_validity_interval: fields
            .get("default_validity_interval")
            .unwrap_or_default()
            .to_string(),
        reservation_ttl_seconds: number("reservation_ttl_seconds"),
        token_ttl_seconds: number("token_ttl_seconds"),
    }
}

#[allow(clippy::too_many_arguments)]
async fn page(
    state: &AppState,
    operator: &Operator,
    tenant: &str,
    status: StatusCode,
    shown: &SettingsBody,
    notice: Option<String>,
    problem: Option<String>,
    made: Option<MadeToken>,
) -> Response {
    let tokens = match state.store.merchant_tokens(tenant).await {
        Ok(tokens) => tokens,
        Err(error) => return unavailable(&error),
    };
    let field = |name, label, value: &str| PatternField {
        name,
        label,
        value: value.to_string(),
        samples: samples(value),
    };
    render(
        status,
        &Settings {
            nav: Some(operator.nav(Some(tenant), "settings")),
            notice,
            problem,
            tenant: tenant.to_string(),
            csrf: operator.csrf.clone(),
            patterns: vec![
                field(
                    "voucher_id_pattern",
                    "Voucher id pattern",
                    &shown.voucher_id_pattern,
                ),
                field(
                    "code_pattern",
                    "Code pattern (at least 40 bits)",
                    &shown.code_pattern,
                ),
                field(
                    "pin_pattern",
                    "PIN pattern (empty: no PIN)",
                    shown.pin_pattern.as_deref().unwrap_or_default(),
                ),
            ],
            validity_value: shown.default_validity_value,
            validity_interval: shown.default_validity_interval.clone(),
            intervals: vec!["days", "weeks", "months", "years"],
            reservation_ttl: shown.reservation_ttl_seconds,
            token_ttl: shown.token_ttl_seconds,
            tokens: tokens
                .into_iter()
                .map(|t| TokenRow {
                    id: t.id,
                    name: t.name,
                    created: when(t.created_at),
                    revoked: t.revoked_at.map(when),
                })
                .collect(),
            made,
        },
    )
}

fn body_from(settings: &TenantSettings) -> SettingsBody {
    SettingsBody {
        voucher_id_pattern: settings.voucher_id_pattern.clone(),
        code_pattern: settings.code_pattern.clone(),
        pin_pattern: settings.pin_pattern.clone(),
        default_validity_value: settings.default_validity.value,
        default_validity_interval: settings.default_validity.interval.as_str().to_string(),
        reservation_ttl_seconds: settings.reservation_ttl_seconds,
        token_ttl_seconds: settings.token_ttl_seconds,
    }
}

pub async fn show(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let settings = match state.store.tenant(&tenant).await {
        Ok(Some(found)) => found.settings,
        Ok(None) => {
            return existing_tenant(&state, &operator, &tenant)
                .await
                .err()
                .unwrap_or_else(|| see_other("/admin/"));
        }
        Err(error) => return unavailable(&error),
    };
    let notice = flash(query.get("notice").map(String::as_str));
    page(
        &state,
        &operator,
        &tenant,
        StatusCode::OK,
        &body_from(&settings),
        notice,
        None,
        None,
    )
    .await
}

pub async fn save(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    if let Err(response) = admit(&state, &operator, &tenant, &fields).await {
        return response;
    }
    let sent = body_of(&fields);
    if fields.get("do") == Some("preview") {
        return page(
            &state,
            &operator,
            &tenant,
            StatusCode::OK,
            &sent,
            None,
            None,
            None,
        )
        .await;
    }
    let settings = match settings_from(body_of(&fields)) {
        Ok(settings) => settings,
        Err(problem) => {
            return page(
                &state,
                &operator,
                &tenant,
                StatusCode::UNPROCESSABLE_ENTITY,
                &sent,
                None,
                Some(problem),
                None,
            )
            .await;
        }
    };
    match run(
        &state,
        &tenant,
        &operator,
        Command::UpdateSettings(settings),
    )
    .await
    {
        Ok(Ok(_)) => see_other(&format!("/admin/t/{tenant}/settings?notice=settings-saved")),
        Ok(Err(refusal)) => {
            page(
                &state,
                &operator,
                &tenant,
                StatusCode::UNPROCESSABLE_ENTITY,
                &sent,
                None,
                Some(refusal.to_string()),
                None,
            )
            .await
        }
        Err(response) => response,
    }
}

/// Samples of one pattern for the live preview (JSON for the console's script).
pub async fn preview(_: Operator, Query(query): Query<HashMap<String, String>>) -> Response {
    let pattern = query.get("pattern").map(String::as_str).unwrap_or_default();
    let text = if pattern.chars().count() > 500 {
        "Not a valid pattern: longer than 500 characters".to_string()
    } else {
        samples(pattern)
    };
    let mut r = json!({ "text": text }).to_string().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub async fn create_merchant_token(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    if !operator.sent_by_console(&fields) {
        return csrf_refused(&operator);
    }
    let settings = match state.store.tenant(&tenant).await {
        Ok(Some(found)) => found.settings,
        Ok(None) => return see_other("/admin/"),
        Err(error) => return unavailable(&error),
    };
    let shown = body_from(&settings);
    let Some(name) = fields.get("name").filter(|n| n.chars().count() <= 255) else {
        let problem = Some("Give the merchant token a name of up to 255 characters.".to_string());
        return page(
            &state,
            &operator,
            &tenant,
            StatusCode::UNPROCESSABLE_ENTITY,
            &shown,
            None,
            problem,
            None,
        )
        .await;
    };
    let command = Command::CreateMerchantToken {
        name: name.to_string(),
    };
    match run(&state, &tenant, &operator, command).await {
        Ok(Ok(Outcome::MerchantToken {
            name,
            token,
            callback_secret,
            ..
        })) => {
            let made = MadeToken {
                name,
                token,
                secret: callback_secret,
            };
            page(
                &state,
                &operator,
                &tenant,
                StatusCode::OK,
                &shown,
                None,
                None,
                Some(made),
            )
            .await
        }
        Ok(_) => see_other(&format!("/admin/t/{tenant}/settings?problem=refused")),
        Err(response) => response,
    }
}

/// Revokes a merchant token: Front Payment refuses it from its next request, on every node.
pub async fn revoke_merchant_token(
    State(state): State<AppState>,
    operator: Operator,
    Path((tenant, token)): Path<(String, String)>,
    Form(fields): Form<Fields>,
) -> Response {
    if let Err(response) = admit(&state, &operator, &tenant, &fields).await {
        return response;
    }
    let command = Command::RevokeMerchantToken { token_id: token };
    match run(&state, &tenant, &operator, command).await {
        Ok(Ok(_)) => see_other(&format!("/admin/t/{tenant}/settings?notice=token-revoked")),
        Ok(Err(_)) => see_other(&format!("/admin/t/{tenant}/settings?notice=not-found")),
        Err(response) => response,
    }
}
