//! Series: issue N vouchers at once from the tenant's patterns (the background [`issuer`]
//! works through them, so 100 000 take a while but never a request's time), watch the progress,
//! download what was made as CSV; and the export of every voucher of the tenant.
//!
//! [`issuer`]: crate::issuer

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use voucherd_domain::money::format_two_decimals;
use voucherd_domain::{Currency, ValidityInterval, VoucherStatus};
use voucherd_store::Outcome;
use voucherd_store::command::Command;
use voucherd_store::series::{SERIES_VOUCHERS_MAX, SeriesState, SeriesTemplate, SeriesView};

use super::session::Fields;
use super::{
    Nav, Operator, admit, csv, existing_tenant, flash, message, render, run, see_other,
    unavailable, when,
};
use crate::AppState;
use crate::wire::parse_money;

/// Series listed on the page.
const SERIES_LISTED: i64 = 50;

pub struct SeriesRow {
    pub id: String,
    pub created: String,
    pub amount: String,
    pub batch: String,
    pub issued: i64,
    pub requested: i64,
    pub state: &'static str,
    pub running: bool,
    pub failure: Option<String>,
    pub created_by: String,
    pub finished: String,
}

fn row(s: &SeriesView) -> SeriesRow {
    SeriesRow {
        id: s.id.clone(),
        created: when(s.created_at),
        amount: format!(
            "{} {}",
            format_two_decimals(s.template.amount_minor),
            s.template.currency
        ),
        batch: s.template.batch.clone().unwrap_or_default(),
        issued: s.issued,
        requested: s.requested,
        state: s.state.as_str(),
        running: s.state == SeriesState::Running,
        failure: s.failure.clone(),
        created_by: s.created_by.clone(),
        finished: s.finished_at.map(when).unwrap_or_else(|| "—".into()),
    }
}

#[derive(Template)]
#[template(path = "console/series.html")]
struct List {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    tenant: String,
    csrf: String,
    max: i64,
    rows: Vec<SeriesRow>,
}

#[derive(Template)]
#[template(path = "console/series_one.html")]
struct One {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    tenant: String,
    s: SeriesRow,
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
    let found = match state.store.series_list(&tenant, SERIES_LISTED).await {
        Ok(found) => found,
        Err(error) => return unavailable(&error),
    };
    render(
        StatusCode::OK,
        &List {
            nav: Some(operator.nav(Some(&tenant), "series")),
            notice: flash(query.get("notice").map(String::as_str)),
            problem: flash(query.get("problem").map(String::as_str)),
            csrf: operator.csrf.clone(),
            max: SERIES_VOUCHERS_MAX,
            rows: found.iter().map(row).collect(),
            tenant,
        },
    )
}

/// The template a series form asks for, or `None` when a field is wrong.
fn template(fields: &Fields) -> Option<(SeriesTemplate, i64)> {
    let count = fields.get("count")?.parse::<i64>().ok()?;
    let amount_minor = fields.get("amount").and_then(parse_money)?;
    let currency = Currency::parse(&fields.get("currency")?.to_uppercase()).ok()?;
    let status = VoucherStatus::parse(fields.get("status").unwrap_or("inactive"))?;
    let batch = fields.get("batch").map(str::to_string);
    let sku = fields.get("sku").map(str::to_string);
    if !(1..=SERIES_VOUCHERS_MAX).contains(&count)
        || batch.as_ref().is_some_and(|b| b.chars().count() > 30)
        || sku.as_ref().is_some_and(|s| s.chars().count() > 255)
    {
        return None;
    }
    let validity_value = match fields.get("validity_value") {
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .filter(|v| (1..=1000).contains(v))?,
        ),
        None => None,
    };
    let validity_interval = match validity_value {
        Some(_) => Some(
            ValidityInterval::parse(fields.get("validity_interval")?)?
                .as_str()
                .to_string(),
        ),
        None => None,
    };
    Some((
        SeriesTemplate {
            amount_minor,
            currency: currency.code(),
            status: status.as_str().to_string(),
            batch,
            sku,
            validity_value,
            validity_interval,
        },
        count,
    ))
}

pub async fn start(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    if let Err(response) = admit(&state, &operator, &tenant, &fields).await {
        return response;
    }
    let Some((template, count)) = template(&fields) else {
        return see_other(&format!("/admin/t/{tenant}/series?problem=invalid-series"));
    };
    match run(
        &state,
        &tenant,
        &operator,
        Command::StartSeries { template, count },
    )
    .await
    {
        Ok(Ok(Outcome::Series(series))) => {
            see_other(&format!("/admin/t/{tenant}/series/{}", series.id))
        }
        Ok(_) => see_other(&format!("/admin/t/{tenant}/series?problem=invalid-series")),
        Err(response) => response,
    }
}

pub async fn show(
    State(state): State<AppState>,
    operator: Operator,
    Path((tenant, id)): Path<(String, String)>,
) -> Response {
    match state.store.series(&tenant, &id).await {
        Ok(Some(series)) => render(
            StatusCode::OK,
            &One {
                nav: Some(operator.nav(Some(&tenant), "series")),
                notice: None,
                problem: None,
                tenant,
                s: row(&series),
            },
        ),
        Ok(None) => message(
            StatusCode::NOT_FOUND,
            Some(operator.nav(Some(&tenant), "series")),
            "No such series",
            &format!("/admin/t/{tenant}/series"),
        ),
        Err(error) => unavailable(&error),
    }
}

pub async fn series_csv(
    State(state): State<AppState>,
    operator: Operator,
    Path((tenant, id)): Path<(String, String)>,
) -> Response {
    match state.store.series(&tenant, &id).await {
        Ok(Some(_)) => csv::download(
            state.store.clone(),
            state.clock.clone(),
            tenant,
            Some(id.clone()),
            &format!("{id}.csv"),
        ),
        Ok(None) => message(
            StatusCode::NOT_FOUND,
            Some(operator.nav(Some(&tenant), "series")),
            "No such series",
            &format!("/admin/t/{tenant}/series"),
        ),
        Err(error) => unavailable(&error),
    }
}

pub async fn export_csv(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
) -> Response {
    if let Err(response) = existing_tenant(&state, &operator, &tenant).await {
        return response;
    }
    let filename = format!("vouchers-{tenant}.csv");
    csv::download(
        state.store.clone(),
        state.clock.clone(),
        tenant,
        None,
        &filename,
    )
}
