//! The operator's web console at `/admin/`: server-rendered pages (askama templates under
//! `templates/console/`), one small stylesheet and one small script served from the binary,
//! no other network. Operators log in with a password ([`login`]); every form carries the
//! session's CSRF token; every page answers with strict security headers.
//!
//! Pages: tenants ([`home`]), client groups and clients with connection pins ([`clients`]),
//! vouchers with search, timeline and actions ([`vouchers`]), series and the CSV export
//! ([`series`], [`csv`]), the CSV import ([`import`]), reports and the audit log
//! ([`reports`]), the ledger's events, followed live ([`events`]), webhook endpoints with their deliveries
//! ([`webhooks`]), the tenant's settings and merchant tokens ([`settings`]), the payment page's branding
//! ([`branding`]), and the console
//! users themselves ([`users`]).

mod branding;
mod clients;
mod csv;
mod events;
mod home;
mod import;
pub mod import_rows;
mod login;
mod reports;
mod search;
mod series;
mod session;
mod settings;
pub mod upload;
mod users;
mod vouchers;
mod webhooks;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
pub(crate) use import::IMPORT_BYTES_MAX;
use voucherd_store::{Actor, Command, Outcome};

use crate::AppState;
use crate::submit::{Answer, submit, unrendered};
pub use session::Operator;

const CONSOLE_CSS: &str = include_str!("../../assets/console.css");
const CONSOLE_JS: &str = include_str!("../../assets/console.js");

/// The routes of the console.
pub fn router() -> Router<AppState> {
    let t = "/admin/t/{tenant}";
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/") }))
        .route("/admin/", get(home::page))
        .route("/admin/login", get(login::page).post(login::log_in))
        .route("/admin/logout", post(login::logout))
        .route("/admin/static/console.css", get(css))
        .route("/admin/static/console.js", get(js))
        .route(
            &format!("{t}/clients"),
            get(clients::page).post(clients::create_client),
        )
        .route(&format!("{t}/groups"), post(clients::create_group))
        .route(&format!("{t}/clients/{{client}}/pin"), post(clients::pin))
        .route(
            &format!("{t}/clients/{{client}}/disconnect"),
            post(clients::disconnect),
        )
        .route(
            &format!("{t}/series"),
            get(series::list).post(series::start),
        )
        .route(&format!("{t}/series/{{series}}"), get(series::show))
        .route(
            &format!("{t}/series/{{series}}/vouchers.csv"),
            get(series::series_csv),
        )
        .route(&format!("{t}/export.csv"), get(series::export_csv))
        .route(
            &format!("{t}/import"),
            get(import::form).post(import::upload),
        )
        .route(
            &format!("{t}/settings"),
            get(settings::show).post(settings::save),
        )
        .route(&format!("{t}/settings/preview"), get(settings::preview))
        .route(
            &format!("{t}/branding"),
            get(branding::show).post(branding::save),
        )
        .route(
            &format!("{t}/branding/logo"),
            get(branding::logo).post(branding::upload_logo),
        )
        .route(
            &format!("{t}/branding/logo-remove"),
            post(branding::remove_logo),
        )
        .route(
            &format!("{t}/merchant-tokens"),
            post(settings::create_merchant_token),
        )
        .route(
            &format!("{t}/merchant-tokens/{{token}}/revoke"),
            post(settings::revoke_merchant_token),
        )
        .route("/admin/users", get(users::page).post(users::create))
        .route("/admin/users/change", post(users::change))
        .route(&format!("{t}/reports"), get(reports::page))
        .route(&format!("{t}/audit"), get(reports::audit))
        .route(&format!("{t}/events"), get(events::page))
        .route(&format!("{t}/events/live"), get(events::live))
        .route(
            &format!("{t}/webhooks"),
            get(webhooks::list).post(webhooks::create),
        )
        .route(&format!("{t}/webhooks/{{endpoint}}"), get(webhooks::show))
        .route(
            &format!("{t}/webhooks/{{endpoint}}/{{action}}"),
            post(webhooks::act),
        )
        .route(&format!("{t}/vouchers"), get(vouchers::list))
        .route(&format!("{t}/vouchers/{{voucher}}"), get(vouchers::show))
        .route(
            &format!("{t}/vouchers/{{voucher}}/{{action}}"),
            post(vouchers::act),
        )
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CONSOLE_CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", CONSOLE_JS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let headers = r.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// The security headers of every console page.
fn secured(mut r: Response) -> Response {
    let headers = r.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Renders a page with a status.
fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => secured((status, Html(html)).into_response()),
        Err(error) => {
            tracing::error!(%error, "console page failed to render");
            secured(
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The page could not be shown.",
                )
                    .into_response(),
            )
        }
    }
}

/// The bar at the top of every page of a logged-in operator.
pub struct Nav {
    pub tenant: Option<String>,
    pub section: &'static str,
    pub username: String,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct Message {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    title: String,
    back: String,
}

/// A page that only says what went wrong.
fn message(status: StatusCode, nav: Option<Nav>, title: &str, back: &str) -> Response {
    render(
        status,
        &Message {
            nav,
            notice: None,
            problem: None,
            title: title.to_string(),
            back: back.to_string(),
        },
    )
}

/// Whether the tenant exists; a 404 page otherwise.
async fn existing_tenant(
    state: &AppState,
    operator: &Operator,
    tenant: &str,
) -> Result<(), Response> {
    match state.store.tenant(tenant).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(message(
            StatusCode::NOT_FOUND,
            Some(operator.nav(None, "")),
            "No such tenant",
            "/admin/",
        )),
        Err(error) => Err(unavailable(&error)),
    }
}

fn unavailable(error: &voucherd_store::StoreError) -> Response {
    tracing::warn!(%error, "console: store unavailable");
    let mut r = message(
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "The database is unavailable; try again in a moment.",
        "/admin/",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// Runs one command as this operator; the refusal's text, or the failure page.
async fn run(
    state: &AppState,
    tenant: &str,
    operator: &Operator,
    command: Command,
) -> Result<Result<Outcome, voucherd_domain::DomainError>, Response> {
    match submit(
        state,
        tenant,
        Actor::Admin(format!("console:{}", operator.username)),
        &operator.request_id,
        command,
        None,
        unrendered(),
    )
    .await
    {
        Answer::Fresh { result, .. } => Ok(result),
        Answer::Failed(error) => Err(unavailable(&error)),
        Answer::Replayed(_) | Answer::KeyReused => Err(message(
            StatusCode::CONFLICT,
            Some(operator.nav(None, "")),
            "This request was already handled.",
            "/admin/",
        )),
    }
}

/// Admits a form: it carries this session's CSRF token and names an existing tenant; the
/// page to answer otherwise.
async fn admit(
    state: &AppState,
    operator: &Operator,
    tenant: &str,
    fields: &session::Fields,
) -> Result<(), Response> {
    if !operator.sent_by_console(fields) {
        return Err(csrf_refused(operator));
    }
    existing_tenant(state, operator, tenant).await
}

/// The answer to a form without this session's CSRF token.
fn csrf_refused(operator: &Operator) -> Response {
    message(
        StatusCode::FORBIDDEN,
        Some(operator.nav(None, "")),
        "This form expired or did not come from this console (CSRF check failed). Reload the page and try again.",
        "/admin/",
    )
}

/// A redirect after a form (303: the browser follows with GET).
fn see_other(location: &str) -> Response {
    secured(Redirect::to(location).into_response())
}

/// A time as the console shows it: `2026-03-01 09:00 UTC`.
fn when(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

/// The notice and the problem a query names (`?notice=` / `?problem=`), as [`flash`] words them.
fn flashes(query: &std::collections::HashMap<String, String>) -> (Option<String>, Option<String>) {
    (
        flash(query.get("notice").map(String::as_str)),
        flash(query.get("problem").map(String::as_str)),
    )
}

/// The fixed texts a page shows after a redirect (`?notice=` / `?problem=` name one, so no
/// text of the request is ever echoed).
fn flash(key: Option<&str>) -> Option<String> {
    let text = match key? {
        "group-created" => "The client group was created.",
        "client-created" => "The client was created.",
        "disconnected" => "The client was disconnected: its secret and tokens no longer work.",
        "settings-saved" => "The settings were saved.",
        "token-revoked" => {
            "The merchant token was revoked: Front Payment requests with it are refused."
        }
        "branding-saved" => "The payment page's settings were saved.",
        "logo-saved" => "The logo was uploaded; the payment page shows it now.",
        "logo-removed" => "The logo was removed; the payment page shows the shop's name.",
        "webhook-deleted" => "The endpoint was deleted; nothing more is sent to it.",
        "webhook-redelivering" => {
            "The events after that number are sent again, in order, starting now."
        }
        "user-created" => "The console user was created.",
        "user-disabled" => "The user was disabled: their sessions ended and they cannot log in.",
        "user-enabled" => "The user was enabled and can log in again.",
        "user-unlocked" => "The user was unlocked and can log in again.",
        "password-set" => "The new password was set; the user's sessions ended.",
        "not-yourself" => "You cannot disable yourself; ask another operator.",
        "status-changed" => "The voucher's status was changed.",
        "recharged" => "The voucher was recharged.",
        "refunded" => "The refund was booked.",
        "deleted" => "The voucher was deleted.",
        "invalid-group" => "Give the group a name (up to 255 characters) and at least one scope.",
        "invalid-client" => {
            "Give the client a name (up to 255 characters), a group and a type (up to 32 characters)."
        }
        "invalid-series" => {
            "Give a count from 1 to 1000000, an amount like 25.00, a currency, and a batch of up to 30 characters."
        }
        "invalid-amount" => "Enter an amount with two decimals, like 10.00, and an order number.",
        "refused" => "The ledger refused this: the voucher's state or balance does not allow it.",
        "not-deletable" => {
            "Only vouchers without ledger activity or a live reservation can be deleted."
        }
        "not-found" => "It does not exist (any more).",
        _ => return None,
    };
    Some(text.to_string())
}
