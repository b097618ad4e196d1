//! How a tenant's shop presents itself on the payment page: the fields read and replaced as one
//! JSON object, the logo put as the raw image (`Content-Type: image/png`, `image/jpeg` or
//! `image/webp`, at most [`LOGO_BYTES_MAX`] bytes) and deleted. The checks are the store's
//! ([`voucherd_store::branding`]), shared with the console.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use voucherd_domain::Currency;
use voucherd_store::Command;
use voucherd_store::branding::{Branding, LOGO_BYTES_MAX, Logo, branding_problem};

use crate::AppState;

use super::error::AdminError;
use super::extract::{Admin, AdminBody, AdminPath, existing_tenant, json_response, renderer, run};

pub fn branding_json(b: &Branding) -> Value {
    json!({
        "display_name": b.display_name,
        "colour": b.colour,
        "support": b.support,
        "terms_url": b.terms_url,
        "privacy_url": b.privacy_url,
        "currency": b.currency.map(|c| c.code()),
        "has_logo": b.has_logo,
    })
}

/// The branding fields as the operator sends them (admin API body; the console's form maps onto
/// it too). Empty text reads as unset.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct BrandingBody {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub colour: Option<String>,
    #[serde(default)]
    pub support: Option<String>,
    #[serde(default)]
    pub terms_url: Option<String>,
    #[serde(default)]
    pub privacy_url: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
}

/// The branding a body asks for, or what is wrong with it.
pub fn branding_from(body: BrandingBody) -> Result<Branding, String> {
    let filled = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let currency = match filled(body.currency) {
        None => None,
        Some(code) => match Currency::parse(&code.to_ascii_uppercase()) {
            Ok(c) if c.minor_unit_digits() == Some(2) => Some(c),
            _ => {
                return Err(format!(
                    "currency must be an ISO-4217 code with two decimals, like NOK or EUR, not {code:?}"
                ));
            }
        },
    };
    let branding = Branding {
        display_name: filled(body.display_name),
        colour: filled(body.colour),
        support: filled(body.support),
        terms_url: filled(body.terms_url),
        privacy_url: filled(body.privacy_url),
        currency,
        has_logo: false,
    };
    match branding_problem(&branding) {
        Some(problem) => Err(problem),
        None => Ok(branding),
    }
}

pub(super) async fn show(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let branding = state
        .store
        .branding(&tenant)
        .await
        .map_err(|e| AdminError::store(&e))?;
    Ok(json_response(StatusCode::OK, &branding_json(&branding)))
}

pub(super) async fn replace(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    body: AdminBody<BrandingBody>,
) -> Result<Response, AdminError> {
    let branding = branding_from(body.value).map_err(AdminError::invalid)?;
    Ok(run(
        &state,
        &tenant,
        (body.request_id, body.keyed),
        Command::SetBranding(branding),
        branded(),
    )
    .await)
}

fn branded() -> crate::submit::Render {
    renderer(StatusCode::OK, |o| match o {
        voucherd_store::Outcome::Branding(b) => branding_json(b),
        _ => Value::Null,
    })
}

/// Puts the logo: the body is the image itself.
pub(super) async fn put_logo(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    rid: Option<axum::Extension<crate::observe::RequestId>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AdminError> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let logo = Logo::from_bytes(body.to_vec()).map_err(AdminError::invalid)?;
    if declared.split(';').next().map(str::trim) != Some(logo.content_type) {
        return Err(AdminError::invalid(format!(
            "the body is {} but Content-Type says {declared:?}",
            logo.content_type
        )));
    }
    Ok(run(
        &state,
        &tenant,
        (crate::observe::RequestId::of(rid), None),
        Command::SetLogo(Some(logo)),
        branded(),
    )
    .await)
}

pub(super) async fn delete_logo(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    rid: Option<axum::Extension<crate::observe::RequestId>>,
) -> Result<Response, AdminError> {
    Ok(run(
        &state,
        &tenant,
        (crate::observe::RequestId::of(rid), None),
        Command::SetLogo(None),
        branded(),
    )
    .await)
}

/// The most a logo request's body may be; the edge refuses more before it is read.
pub const LOGO_REQUEST_BYTES_MAX: usize = LOGO_BYTES_MAX + 16 * 1024;
