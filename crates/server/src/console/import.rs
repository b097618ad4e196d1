//! Importing vouchers from JTL's semicolon CSV: the file is uploaded as a form, every row is
//! checked ([`import_rows`]), and only a file without problems is written, in one transaction.
//!
//! [`import_rows`]: super::import_rows

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use voucherd_domain::DomainError;
use voucherd_store::{Command, Outcome};

use super::import_rows::{self, IMPORT_ROWS_MAX, RowProblem};
use super::upload;
use super::{Nav, Operator, csrf_refused, existing_tenant, flash, render, run, see_other};
use crate::AppState;

/// The largest file accepted (100 000 rows of typical length fit).
pub(crate) const IMPORT_BYTES_MAX: usize = 32 * 1024 * 1024;

#[derive(Template)]
#[template(path = "console/import.html")]
struct Import {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    tenant: String,
    csrf: String,
    max: usize,
    problems: Vec<RowProblem>,
}

fn page(
    operator: &Operator,
    tenant: &str,
    status: StatusCode,
    notice: Option<String>,
    problem: Option<String>,
    problems: Vec<RowProblem>,
) -> Response {
    render(
        status,
        &Import {
            nav: Some(operator.nav(Some(tenant), "series")),
            notice,
            problem,
            tenant: tenant.to_string(),
            csrf: operator.csrf.clone(),
            max: IMPORT_ROWS_MAX,
            problems,
        },
    )
}

pub async fn form(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = existing_tenant(&state, &operator, &tenant).await {
        return response;
    }
    let notice = query
        .get("imported")
        .and_then(|n| n.parse::<i64>().ok())
        .map(|n| format!("{n} vouchers were imported."));
    let problem = flash(query.get("problem").map(String::as_str));
    page(
        &operator,
        &tenant,
        StatusCode::OK,
        notice,
        problem,
        Vec::new(),
    )
}

pub async fn upload(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
    request: Request,
) -> Response {
    if let Err(response) = existing_tenant(&state, &operator, &tenant).await {
        return response;
    }
    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(upload::boundary);
    let refuse = |text: &str| {
        page(
            &operator,
            &tenant,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(text.to_string()),
            Vec::new(),
        )
    };
    let Some(boundary) = boundary else {
        return refuse("Send the file with the form on this page.");
    };
    let body = match axum::body::to_bytes(request.into_body(), IMPORT_BYTES_MAX).await {
        Ok(body) => body,
        Err(e) if crate::wire::caused_by::<crate::connections::BodyTooSlow>(&e) => {
            return refuse("The upload was too slow; try again.");
        }
        Err(_) => return refuse("The file is larger than 32 MiB."),
    };
    let Some(parts) = upload::parts(&body, &boundary) else {
        return refuse("The upload could not be read; send the file with the form on this page.");
    };
    let field = |name: &str| {
        parts
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.data.as_slice())
    };
    let token = field("_csrf")
        .and_then(|t| std::str::from_utf8(t).ok())
        .unwrap_or_default();
    let form = super::session::Fields(vec![("_csrf".into(), token.into())]);
    if !operator.sent_by_console(&form) {
        return csrf_refused(&operator);
    }
    let Some(text) = field("file").and_then(|f| std::str::from_utf8(f).ok()) else {
        return refuse("The file must be UTF-8 text.");
    };
    let rows = match import_rows::parse(text) {
        Ok(rows) => rows,
        Err(problems) => {
            return page(
                &operator,
                &tenant,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                None,
                problems,
            );
        }
    };
    match run(&state, &tenant, &operator, Command::ImportVouchers { rows }).await {
        Ok(Ok(Outcome::Imported { count })) => {
            see_other(&format!("/admin/t/{tenant}/import?imported={count}"))
        }
        Ok(Err(DomainError::ImportRowTaken { row, column })) => {
            let taken = RowProblem {
                line: usize::try_from(row).unwrap_or_default() + 2,
                column,
                problem: "is already taken by another voucher of this tenant".into(),
            };
            page(
                &operator,
                &tenant,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                None,
                vec![taken],
            )
        }
        Ok(_) => see_other(&format!("/admin/t/{tenant}/import?problem=refused")),
        Err(response) => response,
    }
}
