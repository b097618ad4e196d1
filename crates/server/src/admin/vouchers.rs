//! Read access to vouchers with their ledger, the audit log and the integrity check.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use voucherd_domain::{VoucherKind, VoucherStatus};
use voucherd_store::StoreError;
use voucherd_store::model::{AuditFilter, PageRequest, VoucherFilter};

use crate::AppState;

use super::error::AdminError;
use super::extract::{Admin, AdminPath, existing_tenant, json_response};
use super::{ADMIN_PAGE_SIZE_MAX, present};

pub(super) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(super) fn page_of(pairs: &[(String, String)]) -> Result<PageRequest, AdminError> {
    let get =
        |name: &str, default: i64| -> Result<i64, AdminError> {
            match pairs.iter().find(|(k, _)| k == name) {
                None => Ok(default),
                Some((_, v)) => v.parse::<i64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    AdminError::invalid(format!("{name} must be a positive integer"))
                }),
            }
        };
    Ok(PageRequest {
        page: get("page", 1)?.min(10_000_000),
        per_page: get("per_page", 50)?.min(ADMIN_PAGE_SIZE_MAX),
    })
}

pub(super) async fn list_vouchers(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let pairs = query_pairs(raw.as_deref());
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let date = |name: &str| -> Result<Option<time::OffsetDateTime>, AdminError> {
        get(name)
            .map(|v| {
                crate::wire::parse_datetime(&v).ok_or_else(|| {
                    AdminError::invalid(format!("{name} must be an RFC 3339 date-time"))
                })
            })
            .transpose()
    };
    let filter = VoucherFilter {
        created_from: date("created_from")?,
        created_to: date("created_to")?,
        status: get("status")
            .map(|s| {
                VoucherStatus::parse(&s)
                    .ok_or_else(|| AdminError::invalid("status must be active or inactive"))
            })
            .transpose()?,
        kind: get("type")
            .map(|s| {
                VoucherKind::parse(&s)
                    .ok_or_else(|| AdminError::invalid("type must be digital or print"))
            })
            .transpose()?,
        batch: get("batch"),
        sku: get("sku"),
        order_number: get("order_number"),
        id: get("id"),
        code: get("code"),
        order: Default::default(),
    };
    let page = page_of(&pairs)?;
    let found = state
        .store
        .vouchers(&tenant, &filter, page, state.clock.now())
        .await
        .map_err(|e| AdminError::store(&e))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "data": found.items.iter().map(present::voucher).collect::<Vec<_>>(),
            "page": page.page, "per_page": page.per_page, "total": found.total,
        }),
    ))
}

pub(super) async fn show_voucher(
    _: Admin,
    State(state): State<AppState>,
    AdminPath((tenant, voucher)): AdminPath<(String, String)>,
) -> Result<Response, AdminError> {
    let now = state.clock.now();
    let store_err = |e: StoreError| AdminError::store(&e);
    let found = state
        .store
        .voucher(&tenant, &voucher, now)
        .await
        .map_err(store_err)?
        .ok_or_else(|| AdminError::not_found("voucher"))?;
    let all = PageRequest {
        page: 1,
        per_page: ADMIN_PAGE_SIZE_MAX,
    };
    let entries = state
        .store
        .entries(&tenant, &voucher, &Default::default(), all)
        .await
        .map_err(store_err)?
        .map(|p| p.items)
        .unwrap_or_default();
    let holds = state
        .store
        .voucher_holds(&tenant, &voucher, now)
        .await
        .map_err(store_err)?;
    let audit = state
        .store
        .audit(
            &tenant,
            &AuditFilter {
                subject_id: Some(voucher.clone()),
                ..Default::default()
            },
            all,
        )
        .await
        .map_err(store_err)?;
    let mut body = present::voucher(&found);
    body["entries"] = entries.iter().map(present::entry).collect();
    body["holds"] = holds.iter().map(present::hold).collect();
    body["audit"] = audit.items.iter().map(present::audit_event).collect();
    Ok(json_response(StatusCode::OK, &body))
}

pub(super) async fn audit(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let pairs = query_pairs(raw.as_deref());
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let filter = AuditFilter {
        subject_id: get("subject_id"),
        action: get("action"),
        actor_id: get("actor_id"),
    };
    let page = page_of(&pairs)?;
    let found = state
        .store
        .audit(&tenant, &filter, page)
        .await
        .map_err(|e| AdminError::store(&e))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "data": found.items.iter().map(present::audit_event).collect::<Vec<_>>(),
            "page": page.page, "per_page": page.per_page, "total": found.total,
        }),
    ))
}

pub(super) async fn integrity(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let report = state
        .store
        .integrity(&tenant, state.clock.now())
        .await
        .map_err(|e| AdminError::store(&e))?;
    Ok(json_response(StatusCode::OK, &json!(report)))
}
