//! `/v1/vouchers...`: list, create, read, update, delete, complete, status, recharge, and the
//! voucher's charges.

use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Map;
use voucherd_domain::validity::VALIDITY_VALUE_MAX;
use voucherd_domain::{EntryKind, Scope, Validity, ValidityInterval, VoucherKind, VoucherStatus};
use voucherd_store::command::{NewVoucher, VoucherRef};
use voucherd_store::model::{EntryFilter, VoucherFilter};
use voucherd_store::{Command, Outcome};

use super::auth::Caller;
use super::error::JtlError;
use super::input::{JtlInput, JtlPath};
use super::pages::{ListQuery, checked, list_url, paginate};
use super::present;
use super::respond::{Success, ok_json, renderer};
use super::validate::{AmountMin, Validator};
use super::{execute, execute_guarded};
use crate::AppState;

/// Longest free-text `data` accepted.
const DATA_CHARS_MAX: usize = 65_535;
/// Longest ids, codes, PINs, SKUs and order numbers.
const TEXT_CHARS_MAX: usize = 255;
/// Longest batch name.
const BATCH_CHARS_MAX: usize = 30;

fn voucher_renderer(
    action: &'static str,
    status: StatusCode,
    with_secrets: bool,
) -> crate::submit::Render {
    renderer(action, move |outcome| match outcome {
        Outcome::Voucher(v) => Success::json(status, &present::voucher(v, with_secrets)),
        _ => Success::no_content(),
    })
}

fn store_failure(e: &voucherd_store::StoreError) -> Response {
    JtlError::from_store(e).into_response()
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, JtlError> {
    caller.require(Scope::ReadLists)?;
    let query = ListQuery::parse(raw.as_deref());
    let filters = Map::new();
    let mut v = Validator::new("VOUCHER.LIST", &filters);
    let page = query.page(&mut v);
    let filter = VoucherFilter {
        created_from: query.date_filter(&mut v, "created_from"),
        created_to: query.date_filter(&mut v, "created_to"),
        status: query
            .enum_filter(&mut v, "status", &["active", "inactive"])
            .and_then(|s| VoucherStatus::parse(&s)),
        kind: query
            .enum_filter(&mut v, "type", &["digital", "print"])
            .and_then(|s| VoucherKind::parse(&s)),
        batch: query.filter("batch"),
        sku: query.filter("sku"),
        order_number: query.filter("order_number"),
        id: None,
        code: None,
        order: Default::default(),
    };
    let filter = checked(v, filter)?;
    let found = state
        .store
        .vouchers(&caller.tenant_id, &filter, page, state.clock.now())
        .await
        .map_err(|e| JtlError::from_store(&e))?;
    let url = list_url(
        state.public_url.as_deref().map(String::as_str),
        &headers,
        uri.path(),
    );
    Ok(ok_json(&paginate(found, page, &query, url, |v| {
        present::voucher(v, false)
    })))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    input: JtlInput,
) -> Result<Response, JtlError> {
    caller.require(Scope::Manage)?;
    let mut v = Validator::new("VOUCHER.CREATE", &input.fields);
    let id = v.string("id", "custom_id", false, TEXT_CHARS_MAX);
    let code = v.string("code", "code", false, TEXT_CHARS_MAX);
    let sku = v.string("sku", "sku", false, TEXT_CHARS_MAX);
    let pin = v.string("pin", "pin", false, TEXT_CHARS_MAX);
    let batch = v.string("batch", "batch", false, BATCH_CHARS_MAX);
    let amount = v.amount("amount", AmountMin::Zero);
    let currency = v.currency("currency");
    let validity_value = v.integer("validity_value", 1, VALIDITY_VALUE_MAX);
    let validity_interval = v
        .one_of(
            "validity_interval",
            false,
            &["days", "weeks", "months", "years"],
        )
        .and_then(|s| ValidityInterval::parse(&s));
    let status = v
        .one_of("status", false, &["active", "inactive"])
        .and_then(|s| VoucherStatus::parse(&s))
        .unwrap_or(VoucherStatus::Inactive);
    let kind = v
        .one_of("type", false, &["digital", "print"])
        .and_then(|s| VoucherKind::parse(&s))
        .unwrap_or(VoucherKind::Digital);
    let taxable = v.boolean("taxable").unwrap_or(false);
    let tax_rate = if taxable {
        let rate = v.string("tax_rate", "tax_rate", false, 16);
        match rate {
            None if !v.has("tax_rate")
                || input.fields.get("tax_rate").is_some_and(|r| r.is_null()) =>
            {
                v.reject(
                    "tax_rate",
                    "required_if",
                    "taxable,true",
                    "The tax_rate field is required when taxable is true.".into(),
                );
                None
            }
            Some(rate) if !is_tax_rate(&rate) => {
                v.reject(
                    "tax_rate",
                    "regex",
                    "",
                    "The tax_rate format is invalid.".into(),
                );
                None
            }
            other => other,
        }
    } else {
        None
    };
    let order_number = v.string("order_number", "order_number", false, TEXT_CHARS_MAX);
    let data = v.string("data", "data", false, DATA_CHARS_MAX);
    let valid_until = v.datetime("valid_until");
    if valid_until.is_some() && status != VoucherStatus::Active {
        v.reject(
            "valid_until",
            "prohibited_unless",
            "status,active",
            "The valid_until field is prohibited unless status is active.".into(),
        );
    }
    if validity_value.is_some() != validity_interval.is_some() {
        let missing = if validity_value.is_some() {
            "validity_interval"
        } else {
            "validity_value"
        };
        let other = if validity_value.is_some() {
            "validity_value"
        } else {
            "validity_interval"
        };
        v.reject(
            missing,
            "required_with",
            other,
            format!("The {missing} field is required when {other} is present."),
        );
    }
    v.finish()?;
    let (Some(amount_minor), Some(currency)) = (amount, currency) else {
        return Err(JtlError::Internal);
    };
    let validity = validity_value
        .zip(validity_interval)
        .map(|(value, interval)| Validity { value, interval });
    let command = Command::CreateVoucher(NewVoucher {
        id,
        code,
        pin,
        sku,
        batch,
        amount_minor,
        currency,
        validity,
        status,
        kind,
        taxable,
        tax_rate,
        order_number,
        data,
        valid_until,
    });
    let render = voucher_renderer(
        "VOUCHER.CREATE",
        StatusCode::CREATED,
        caller.may_read_secrets(),
    );
    Ok(execute(&state, &caller, &input, command, render).await)
}

/// A tax rate like `19` or `7.5`: up to three integer digits and two decimals.
fn is_tax_rate(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str, max: usize| s.len() <= max && s.bytes().all(|b| b.is_ascii_digit());
    !whole.is_empty()
        && digits(whole, 3)
        && digits(fraction, 2)
        && !(text.contains('.') && fraction.is_empty())
}

async fn read(
    state: &AppState,
    caller: &Caller,
    id: &str,
    with_secrets: bool,
) -> Result<Response, JtlError> {
    let found = state
        .store
        .voucher(&caller.tenant_id, id, state.clock.now())
        .await
        .map_err(|e| JtlError::from_store(&e))?
        .ok_or(JtlError::from_refusal(
            "VOUCHER.SHOW",
            &voucherd_domain::DomainError::VoucherNotFound,
        ))?;
    Ok(ok_json(&present::voucher(&found, with_secrets)))
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    JtlPath(id): JtlPath<String>,
) -> Result<Response, JtlError> {
    caller.require(Scope::Read)?;
    read(&state, &caller, &id, false).await
}

pub async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    JtlPath(id): JtlPath<String>,
) -> Result<Response, JtlError> {
    caller.require(Scope::ReadSecrets)?;
    read(&state, &caller, &id, true).await
}

/// A field that may be set, cleared with `null`, or left out.
fn optional_text(
    v: &mut Validator<'_>,
    fields: &Map<String, serde_json::Value>,
    field: &str,
    max: usize,
) -> Option<Option<String>> {
    match fields.get(field) {
        None => None,
        Some(serde_json::Value::Null) => Some(None),
        Some(_) => v.string(field, field, false, max).map(Some),
    }
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    JtlPath(id): JtlPath<String>,
    input: JtlInput,
) -> Result<Response, JtlError> {
    caller.require(Scope::Update)?;
    let mut v = Validator::new("VOUCHER.UPDATE", &input.fields);
    let sku = optional_text(&mut v, &input.fields, "sku", TEXT_CHARS_MAX);
    let batch = optional_text(&mut v, &input.fields, "batch", BATCH_CHARS_MAX);
    v.finish()?;
    let render = voucher_renderer("VOUCHER.UPDATE", StatusCode::OK, false);
    Ok(execute(
        &state,
        &caller,
        &input,
        Command::UpdateVoucher { id, sku, batch },
        render,
    )
    .await)
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    JtlPath(id): JtlPath<String>,
    input: JtlInput,
) -> Result<Response, JtlError> {
    caller.require(Scope::Manage)?;
    let mut v = Validator::new("VOUCHER.DELETE", &input.fields);
    let comment = v.string("comment", "comment", true, TEXT_CHARS_MAX);
    v.finish()?;
    let comment = comment.ok_or(JtlError::Internal)?;
    let render = renderer("VOUCHER.DELETE", |_| Success::no_content());
    Ok(execute(
        &state,
        &caller,
        &input,
        Command::DeleteVoucher { id, comment },
        render,
    )
    .await)
}

pub async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    JtlPath(id): JtlPath<String>,
    input: JtlInput,
) -> Result<Response, JtlError> {
    caller.require(Scope::Use)?;
    let mut v = Validator::new("VOUCHER.STATUS", &input.fields);
    let status = v
        .one_of("status", true, &["active", "inactive"])
        .and_then(|s| VoucherStatus::parse(&s));
    let comment = v.string("comment", "comment", false, TEXT_CHARS_MAX);
    v.finish()?;
    let status = status.ok_or(JtlError::Internal)?;
    let render = voucher_renderer("VOUCHER.STATUS", StatusCode::OK, false);
    Ok(execute(
        &state,
        &caller,
        &input,
        Command::SetVoucherStatus {
            id,
            status,
            comment,
        },
        render,
    )
    .await)
}

pub async fn recharge(
    State(state): State<AppState>,
    caller: Caller,
    input: JtlInput,
) -> Result<Response, JtlError> {
    caller.require(Scope::Recharge)?;
    let mut v = Validator::new("VOUCHER.RECHARGE", &input.fields);
    let amount = v.amount("amount", AmountMin::OneCent);
    let currency = v.currency("currency");
    let order_number = v.string("order_number", "order_number", true, TEXT_CHARS_MAX);
    let code = v.string("code", "code", false, TEXT_CHARS_MAX);
    let id = v.string("id", "id", false, TEXT_CHARS_MAX);
    let voucher = match (id, code) {
        (Some(id), Some(code)) => Some(VoucherRef::Both { id, code }),
        (Some(id), None) => Some(VoucherRef::Id(id)),
        (None, Some(code)) => Some(VoucherRef::Code(code)),
        (None, None) => {
            if !v.has("code") && !v.has("id") {
                v.reject(
                    "code",
                    "required_without",
                    "id",
                    "The code field is required when id is not present.".into(),
                );
                v.reject(
                    "id",
                    "required_without",
                    "code",
                    "The id field is required when code is not present.".into(),
                );
            }
            None
        }
    };
    v.finish()?;
    let (Some(amount_minor), Some(currency), Some(order_number), Some(voucher)) =
        (amount, currency, order_number, voucher)
    else {
        return Err(JtlError::Internal);
    };
    let render = renderer("VOUCHER.RECHARGE", |outcome| match outcome {
        Outcome::Recharge(entry) => Success::json(StatusCode::CREATED, &present::charge(entry)),
        _ => Success::no_content(),
    });
    let by_code = !matches!(voucher, VoucherRef::Id(_));
    let command = Command::Recharge {
        voucher,
        amount_minor,
        currency,
        order_number,
    };
    Ok(if by_code {
        execute_guarded(&state, &caller, &input, command, render).await
    } else {
        execute(&state, &caller, &input, command, render).await
    })
}

pub async fn charges(
    State(state): State<AppState>,
    caller: Caller,
    JtlPath(id): JtlPath<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, JtlError> {
    caller.require(Scope::ReadLists)?;
    let query = ListQuery::parse(raw.as_deref());
    let none = Map::new();
    let mut v = Validator::new("CHARGE.LIST", &none);
    let page = query.page(&mut v);
    let filter = EntryFilter {
        created_from: query.date_filter(&mut v, "created_from"),
        created_to: query.date_filter(&mut v, "created_to"),
        order_number: query.filter("order_number"),
        kind: query
            .enum_filter(&mut v, "type", &["charge", "recharge", "refund"])
            .and_then(|k| EntryKind::parse(&k)),
    };
    let filter = checked(v, filter)?;
    let found = match state
        .store
        .entries(&caller.tenant_id, &id, &filter, page)
        .await
    {
        Ok(Some(found)) => found,
        Ok(None) => {
            return Err(JtlError::from_refusal(
                "CHARGE.LIST",
                &voucherd_domain::DomainError::VoucherNotFound,
            ));
        }
        Err(e) => return Ok(store_failure(&e)),
    };
    let url = list_url(
        state.public_url.as_deref().map(String::as_str),
        &headers,
        uri.path(),
    );
    Ok(ok_json(&paginate(
        found,
        page,
        &query,
        url,
        present::charge,
    )))
}

pub async fn charge(
    State(state): State<AppState>,
    caller: Caller,
    JtlPath((id, charge_id)): JtlPath<(String, String)>,
) -> Result<Response, JtlError> {
    caller.require(Scope::Read)?;
    let found = state
        .store
        .entry(&caller.tenant_id, &id, &charge_id)
        .await
        .map_err(|e| JtlError::from_store(&e))?;
    match found {
        Some(entry) => Ok(ok_json(&present::charge(&entry))),
        None => {
            let voucher_exists = state
                .store
                .voucher(&caller.tenant_id, &id, state.clock.now())
                .await
                .map_err(|e| JtlError::from_store(&e))?
                .is_some();
            let missing = if voucher_exists {
                voucherd_domain::DomainError::ChargeNotFound
            } else {
                voucherd_domain::DomainError::VoucherNotFound
            };
            Err(JtlError::from_refusal("CHARGE.SHOW", &missing))
        }
    }
}
