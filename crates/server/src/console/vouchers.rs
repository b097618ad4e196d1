//! Vouchers: search (id, code, batch, SKU, order number, status, creation dates) with pages,
//! sorted by any of amount, remaining, end of validity or creation, either way; a voucher's page with its ledger timeline (entries, holds and audit events, newest
//! first) and its actions (activate/deactivate, recharge, refund a charge, delete).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use time::{Date, OffsetDateTime, Time};
use voucherd_domain::money::format_two_decimals;
use voucherd_domain::{DomainError, EntryKind, VoucherStatus};
use voucherd_store::Command;
use voucherd_store::command::VoucherRef;
use voucherd_store::model::{
    AuditFilter, PageRequest, VoucherFilter, VoucherOrder, VoucherSort, VoucherView,
};

use super::search;
use super::session::Fields;
use super::{
    Nav, Operator, admit, existing_tenant, flash, message, render, run, see_other, unavailable,
    when,
};
use crate::AppState;
use crate::wire::parse_money;

/// Vouchers per page of the list.
const PAGE_SIZE: i64 = 25;
/// The most timeline rows of each kind a voucher page shows.
const TIMELINE_ROWS_MAX: i64 = 500;

/// The search as the form sent it (echoed back into the form).
#[derive(Default)]
pub struct Search {
    pub id: String,
    pub code: String,
    pub batch: String,
    pub sku: String,
    pub order_number: String,
    pub status: String,
    pub created_from: String,
    pub created_to: String,
}

/// A column heading that sorts the list by its column (again: the other way round).
pub struct SortLink {
    pub label: &'static str,
    pub href: String,
    pub marker: &'static str,
}

pub struct VoucherRow {
    pub id: String,
    pub status: String,
    pub amount: String,
    pub remaining: String,
    pub batch: String,
    pub sku: String,
    pub valid_until: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "console/vouchers.html")]
struct List {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    tenant: String,
    q: Search,
    rows: Vec<VoucherRow>,
    sort_links: Vec<SortLink>,
    total: i64,
    page: i64,
    last_page: i64,
    prev: Option<String>,
    next: Option<String>,
}

pub struct Facts {
    pub id: String,
    pub status: String,
    pub currency: String,
    pub amount: String,
    pub remaining: String,
    pub held: String,
    pub valid_until: String,
    pub batch: String,
    pub sku: String,
    pub order_number: String,
    pub created: String,
    pub deletable: bool,
}

pub struct ChargeOption {
    pub id: String,
    pub amount: String,
}

pub struct TimelineRow {
    pub at: String,
    pub kind: &'static str,
    pub what: String,
    pub amount: String,
    pub by: String,
    pub reference: String,
    sort_key: OffsetDateTime,
}

#[derive(Template)]
#[template(path = "console/voucher.html")]
struct Show {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    tenant: String,
    csrf: String,
    v: Facts,
    charges: Vec<ChargeOption>,
    timeline: Vec<TimelineRow>,
}

fn money(minor: i64, currency: &str) -> String {
    format!("{} {currency}", format_two_decimals(minor))
}

fn row(v: &VoucherView) -> VoucherRow {
    let currency = v.currency.code();
    VoucherRow {
        id: v.id.clone(),
        status: v.status.as_str().to_string(),
        amount: money(v.amount_minor, &currency),
        remaining: money(v.remaining_minor, &currency),
        batch: v.batch.clone().unwrap_or_default(),
        sku: v.sku.clone().unwrap_or_default(),
        valid_until: v.valid_until.map(when).unwrap_or_default(),
        created: when(v.created_at),
    }
}

fn day(text: &str, end_of_day: bool) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = Date::parse(text, &format).ok()?;
    let at = if end_of_day {
        Time::from_hms_micro(23, 59, 59, 999_999).ok()?
    } else {
        Time::MIDNIGHT
    };
    Some(date.with_time(at).assume_utc())
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
    let text = |name: &str| search::text(&query, name);
    let q = Search {
        id: text("id"),
        code: text("code"),
        batch: text("batch"),
        sku: text("sku"),
        order_number: text("order_number"),
        status: text("status"),
        created_from: text("created_from"),
        created_to: text("created_to"),
    };
    let order = VoucherOrder {
        by: VoucherSort::parse(&text("sort")).unwrap_or_default(),
        descending: text("dir") != "asc",
    };
    let filter = VoucherFilter {
        created_from: day(&q.created_from, false),
        created_to: day(&q.created_to, true),
        status: VoucherStatus::parse(&q.status),
        batch: search::filled(&q.batch),
        sku: search::filled(&q.sku),
        order_number: search::filled(&q.order_number),
        kind: None,
        id: search::filled(&q.id),
        code: search::filled(&q.code),
        order,
    };
    let page = search::page(&query);
    let found = state
        .store
        .vouchers(
            &tenant,
            &filter,
            PageRequest {
                page,
                per_page: PAGE_SIZE,
            },
            state.clock.now(),
        )
        .await;
    let found = match found {
        Ok(found) => found,
        Err(error) => return unavailable(&error),
    };
    let last_page = ((found.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    // The list's own address with some parameters replaced.
    let link = |changes: &[(&str, String)]| {
        let mut pairs: Vec<(&str, &str)> = query
            .iter()
            .filter(|(k, v)| !v.is_empty() && !changes.iter().any(|(c, _)| c == k))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.extend(changes.iter().map(|(k, v)| (*k, v.as_str())));
        pairs.sort();
        let encoded: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("/admin/t/{tenant}/vouchers?{encoded}")
    };
    let sort_links = [
        ("Amount", VoucherSort::Amount),
        ("Remaining", VoucherSort::Remaining),
        ("Valid until", VoucherSort::ValidUntil),
        ("Created", VoucherSort::Created),
    ]
    .into_iter()
    .map(|(label, by)| {
        let current = order.by == by;
        let descending = !(current && order.descending);
        SortLink {
            label,
            href: link(&[
                ("sort", by.as_str().to_string()),
                ("dir", (if descending { "desc" } else { "asc" }).to_string()),
                ("page", "1".to_string()),
            ]),
            marker: match (current, order.descending) {
                (false, _) => "",
                (true, true) => " ↓",
                (true, false) => " ↑",
            },
        }
    })
    .collect();
    render(
        StatusCode::OK,
        &List {
            nav: Some(operator.nav(Some(&tenant), "vouchers")),
            notice: flash(query.get("notice").map(String::as_str)),
            problem: flash(query.get("problem").map(String::as_str)),
            rows: found.items.iter().map(row).collect(),
            total: found.total,
            prev: (page > 1).then(|| link(&[("page", (page - 1).to_string())])),
            next: (page < last_page).then(|| link(&[("page", (page + 1).to_string())])),
            sort_links,
            page,
            last_page,
            q,
            tenant,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    operator: Operator,
    Path((tenant, voucher)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let now = state.clock.now();
    let found = match state.store.voucher(&tenant, &voucher, now).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                Some(operator.nav(Some(&tenant), "vouchers")),
                "No such voucher",
                &format!("/admin/t/{tenant}/vouchers"),
            );
        }
        Err(error) => return unavailable(&error),
    };
    let all = PageRequest {
        page: 1,
        per_page: TIMELINE_ROWS_MAX,
    };
    let reads = (
        state
            .store
            .entries(&tenant, &voucher, &Default::default(), all)
            .await,
        state.store.voucher_holds(&tenant, &voucher, now).await,
        state
            .store
            .audit(
                &tenant,
                &AuditFilter {
                    subject_id: Some(voucher.clone()),
                    ..Default::default()
                },
                all,
            )
            .await,
    );
    let (entries, holds, audit) = match reads {
        (Ok(entries), Ok(holds), Ok(audit)) => (
            entries.map(|p| p.items).unwrap_or_default(),
            holds,
            audit.items,
        ),
        (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => return unavailable(&error),
    };
    let currency = found.currency.code();
    let mut timeline: Vec<TimelineRow> = Vec::new();
    for e in &entries {
        timeline.push(TimelineRow {
            at: when(e.created_at),
            kind: "entry",
            what: e.kind.as_str().to_string(),
            amount: money(e.amount_minor, &currency),
            by: e.client_id.clone().unwrap_or_default(),
            reference: [Some(e.id.clone()), e.order_number.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · "),
            sort_key: e.created_at,
        });
    }
    for h in &holds {
        timeline.push(TimelineRow {
            at: when(h.created_at),
            kind: "hold",
            what: format!("hold ({}) {}", h.purpose, h.state.as_str()),
            amount: money(h.amount_minor, &currency),
            by: h.client_id.clone().unwrap_or_default(),
            reference: h.id.clone(),
            sort_key: h.created_at,
        });
    }
    for a in &audit {
        timeline.push(TimelineRow {
            at: when(a.at),
            kind: "audit",
            what: a.action.clone(),
            amount: String::new(),
            by: format!("{} {}", a.actor_kind, a.actor_id)
                .trim()
                .to_string(),
            reference: a.request_id.clone(),
            sort_key: a.at,
        });
    }
    timeline.sort_by_key(|row| std::cmp::Reverse(row.sort_key));
    let charges = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Charge)
        .map(|e| ChargeOption {
            id: e.id.clone(),
            amount: money(e.amount_minor, &currency),
        })
        .collect();
    let facts = Facts {
        id: found.id.clone(),
        status: found.status.as_str().to_string(),
        amount: money(found.amount_minor, &currency),
        remaining: money(found.remaining_minor, &currency),
        held: money(found.held_minor, &currency),
        valid_until: found.valid_until.map(when).unwrap_or_else(|| "—".into()),
        batch: found.batch.clone().unwrap_or_default(),
        sku: found.sku.clone().unwrap_or_default(),
        order_number: found.order_number.clone().unwrap_or_default(),
        created: when(found.created_at),
        deletable: found.deletable,
        currency,
    };
    render(
        StatusCode::OK,
        &Show {
            nav: Some(operator.nav(Some(&tenant), "vouchers")),
            notice: flash(query.get("notice").map(String::as_str)),
            problem: flash(query.get("problem").map(String::as_str)),
            csrf: operator.csrf.clone(),
            tenant,
            v: facts,
            charges,
            timeline,
        },
    )
}

/// The command an action form asks for, or the problem to show.
fn action_command(
    action: &str,
    voucher: &str,
    fields: &Fields,
    currency: voucherd_domain::Currency,
) -> Result<Command, &'static str> {
    match action {
        "status" => {
            let status = fields
                .get("status")
                .and_then(VoucherStatus::parse)
                .ok_or("refused")?;
            Ok(Command::SetVoucherStatus {
                id: voucher.to_string(),
                status,
                comment: fields.get("comment").map(str::to_string),
            })
        }
        "recharge" => {
            let amount = fields
                .get("amount")
                .and_then(parse_money)
                .filter(|a| *a > 0);
            let order = fields.get("order_number").filter(|o| o.len() <= 255);
            let (Some(amount_minor), Some(order)) = (amount, order) else {
                return Err("invalid-amount");
            };
            Ok(Command::Recharge {
                voucher: VoucherRef::Id(voucher.to_string()),
                amount_minor,
                currency,
                order_number: order.to_string(),
            })
        }
        "refund" => {
            let amount = fields
                .get("amount")
                .and_then(parse_money)
                .filter(|a| *a > 0);
            let (Some(amount_minor), Some(charge)) = (amount, fields.get("charge_id")) else {
                return Err("invalid-amount");
            };
            Ok(Command::Refund {
                charge_id: charge.to_string(),
                amount_minor,
                currency,
            })
        }
        "delete" => {
            let comment = fields
                .get("comment")
                .filter(|c| c.chars().count() <= 255)
                .ok_or("refused")?;
            Ok(Command::DeleteVoucher {
                id: voucher.to_string(),
                comment: comment.to_string(),
            })
        }
        _ => Err("not-found"),
    }
}

pub async fn act(
    State(state): State<AppState>,
    operator: Operator,
    Path((tenant, voucher, action)): Path<(String, String, String)>,
    Form(fields): Form<Fields>,
) -> Response {
    if let Err(response) = admit(&state, &operator, &tenant, &fields).await {
        return response;
    }
    let page = format!("/admin/t/{tenant}/vouchers/{voucher}");
    let found = match state
        .store
        .voucher(&tenant, &voucher, state.clock.now())
        .await
    {
        Ok(Some(found)) => found,
        Ok(None) => return see_other(&format!("/admin/t/{tenant}/vouchers?problem=not-found")),
        Err(error) => return unavailable(&error),
    };
    let command = match action_command(&action, &voucher, &fields, found.currency) {
        Ok(command) => command,
        Err(problem) => return see_other(&format!("{page}?problem={problem}")),
    };
    let done = match action.as_str() {
        "status" => "status-changed",
        "recharge" => "recharged",
        "refund" => "refunded",
        _ => "deleted",
    };
    match run(&state, &tenant, &operator, command).await {
        Ok(Ok(_)) if done == "deleted" => {
            see_other(&format!("/admin/t/{tenant}/vouchers?notice=deleted"))
        }
        Ok(Ok(_)) => see_other(&format!("{page}?notice={done}")),
        Ok(Err(DomainError::VoucherNotDeletable)) => {
            see_other(&format!("{page}?problem=not-deletable"))
        }
        Ok(Err(_)) => see_other(&format!("{page}?problem=refused")),
        Err(response) => response,
    }
}
