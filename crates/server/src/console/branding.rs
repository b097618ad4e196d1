//! The tenant's payment page as its customers see it: display name, colour, support contact,
//! terms and privacy links and currency (one form), and the logo (uploaded as a file, shown
//! here as the page shows it, removable). The checks are the admin API's and the store's.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use voucherd_store::Command;
use voucherd_store::branding::{
    Branding, DISPLAY_NAME_CHARS_MAX, LINK_CHARS_MAX, LOGO_BYTES_MAX, Logo, SUPPORT_CHARS_MAX,
};

use super::session::Fields;
use super::{
    Nav, Operator, admit, csrf_refused, existing_tenant, flashes, render, run, see_other,
    unavailable, upload,
};
use crate::AppState;
use crate::admin::branding::{BrandingBody, LOGO_REQUEST_BYTES_MAX, branding_from};

#[derive(Template)]
#[template(path = "console/branding.html")]
struct BrandingPage {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    tenant: String,
    csrf: String,
    /// The fields as shown: what is stored, or what the operator sent.
    form: BrandingBody,
    logo: Option<String>,
    name_max: usize,
    support_max: usize,
    link_max: usize,
    logo_kib: usize,
}

fn body_of_branding(b: &Branding) -> BrandingBody {
    BrandingBody {
        display_name: b.display_name.clone(),
        colour: b.colour.clone(),
        support: b.support.clone(),
        terms_url: b.terms_url.clone(),
        privacy_url: b.privacy_url.clone(),
        currency: b.currency.map(|c| c.code()),
    }
}

async fn page(
    state: &AppState,
    operator: &Operator,
    tenant: &str,
    status: StatusCode,
    (form, notice, problem): (Option<BrandingBody>, Option<String>, Option<String>),
) -> Response {
    let stored = match state.store.branding(tenant).await {
        Ok(stored) => stored,
        Err(error) => return unavailable(&error),
    };
    let form = form.unwrap_or_else(|| body_of_branding(&stored));
    render(
        status,
        &BrandingPage {
            nav: Some(operator.nav(Some(tenant), "branding")),
            notice,
            problem,
            tenant: tenant.to_string(),
            csrf: operator.csrf.clone(),
            form,
            logo: stored
                .has_logo
                .then(|| format!("/admin/t/{tenant}/branding/logo")),
            name_max: DISPLAY_NAME_CHARS_MAX,
            support_max: SUPPORT_CHARS_MAX,
            link_max: LINK_CHARS_MAX,
            logo_kib: LOGO_BYTES_MAX / 1024,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = existing_tenant(&state, &operator, &tenant).await {
        return response;
    }
    let (notice, problem) = flashes(&query);
    page(
        &state,
        &operator,
        &tenant,
        StatusCode::OK,
        (None, notice, problem),
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
    let field = |name: &str| fields.get(name).map(str::to_string);
    let sent = BrandingBody {
        display_name: field("display_name"),
        colour: field("colour"),
        support: field("support"),
        terms_url: field("terms_url"),
        privacy_url: field("privacy_url"),
        currency: field("currency"),
    };
    let branding = match branding_from(sent.clone()) {
        Ok(branding) => branding,
        Err(problem) => {
            let problem = Some(format!("Not saved: {problem}."));
            return page(
                &state,
                &operator,
                &tenant,
                StatusCode::UNPROCESSABLE_ENTITY,
                (Some(sent), None, problem),
            )
            .await;
        }
    };
    apply(
        &state,
        &operator,
        &tenant,
        Command::SetBranding(branding),
        "branding-saved",
    )
    .await
}

/// Runs a branding command; back to the page with `notice`, or with the refusal.
async fn apply(
    state: &AppState,
    operator: &Operator,
    tenant: &str,
    command: Command,
    notice: &str,
) -> Response {
    match run(state, tenant, operator, command).await {
        Ok(Ok(_)) => see_other(&format!("/admin/t/{tenant}/branding?notice={notice}")),
        Ok(Err(_)) => see_other(&format!("/admin/t/{tenant}/branding?problem=refused")),
        Err(response) => response,
    }
}

/// The logo as stored, for the operator's preview.
pub async fn logo(
    State(state): State<AppState>,
    _: Operator,
    Path(tenant): Path<String>,
) -> Response {
    use axum::response::IntoResponse;
    match state.store.logo(&tenant).await {
        Ok(Some(logo)) => crate::front::page::logo_response(logo),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => unavailable(&error),
    }
}

/// The logo upload: a `multipart/form-data` form with `_csrf` and `file`.
pub async fn upload_logo(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
    request: Request,
) -> Response {
    if let Err(response) = existing_tenant(&state, &operator, &tenant).await {
        return response;
    }
    let refuse = |text: String| {
        page(
            &state,
            &operator,
            &tenant,
            StatusCode::UNPROCESSABLE_ENTITY,
            (None, None, Some(text)),
        )
    };
    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(upload::boundary);
    let Some(boundary) = boundary else {
        return refuse("Send the logo with the form on this page.".into()).await;
    };
    let Ok(body) = axum::body::to_bytes(request.into_body(), LOGO_REQUEST_BYTES_MAX).await else {
        return refuse(format!(
            "The logo is larger than {} KiB.",
            LOGO_BYTES_MAX / 1024
        ))
        .await;
    };
    let Some(parts) = upload::parts(&body, &boundary) else {
        return refuse("The upload could not be read; send the logo with this page's form.".into())
            .await;
    };
    let field = |name: &str| {
        parts
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.data.clone())
    };
    let token = field("_csrf")
        .and_then(|t| String::from_utf8(t).ok())
        .unwrap_or_default();
    if !operator.sent_by_console(&Fields(vec![("_csrf".into(), token)])) {
        return csrf_refused(&operator);
    }
    let logo = match Logo::from_bytes(field("file").unwrap_or_default()) {
        Ok(logo) => logo,
        Err(problem) => return refuse(format!("Not uploaded: {problem}.")).await,
    };
    apply(
        &state,
        &operator,
        &tenant,
        Command::SetLogo(Some(logo)),
        "logo-saved",
    )
    .await
}

pub async fn remove_logo(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    if let Err(response) = admit(&state, &operator, &tenant, &fields).await {
        return response;
    }
    apply(
        &state,
        &operator,
        &tenant,
        Command::SetLogo(None),
        "logo-removed",
    )
    .await
}
