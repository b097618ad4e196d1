//! Reports: outstanding liability per currency, ledger movements per day with a bar chart
//! (server-drawn SVG, no script), vouchers expiring soon, the integrity check on demand, and
//! the audit log with filters.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use voucherd_domain::EntryKind;
use voucherd_domain::money::format_two_decimals;
use voucherd_store::model::{AuditFilter, PageRequest};

use super::search;
use super::{Nav, Operator, existing_tenant, render, unavailable, when};
use crate::AppState;

/// Days of movements shown.
const REPORT_DAYS: i64 = 30;
/// "Expiring soon" means within this many days.
const EXPIRY_DAYS: i64 = 30;
/// Audit events per page.
const AUDIT_PAGE_SIZE: i64 = 50;
const CHART_WIDTH: i64 = 900;
const CHART_HEIGHT: i64 = 160;
/// The widest a day's group of bars gets (few days must not make giant bars).
const CHART_DAY_MAX: i64 = 60;

pub struct LiabilityRow {
    pub currency: String,
    pub vouchers: i64,
    pub remaining: String,
}

pub struct MovementRow {
    pub day: String,
    pub kind: &'static str,
    pub entries: i64,
    pub amount: String,
}

pub struct ExpiringRow {
    pub id: String,
    pub remaining: String,
    pub valid_until: String,
}

pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
    pub color: &'static str,
    pub label: String,
}

pub struct Tick {
    pub x: i64,
    pub text: String,
}

pub struct Chart {
    pub width: i64,
    pub height: i64,
    pub bars: Vec<Bar>,
    pub ticks: Vec<Tick>,
    pub legend: Vec<LegendKey>,
}

pub struct LegendKey {
    pub x: i64,
    pub text: &'static str,
    pub color: &'static str,
}

pub struct IntegrityResult {
    pub clean: bool,
    pub text: String,
}

#[derive(Template)]
#[template(path = "console/reports.html")]
struct Reports {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    tenant: String,
    days: i64,
    expiry_days: i64,
    liability: Vec<LiabilityRow>,
    movements: Vec<MovementRow>,
    chart: Chart,
    expiring: Vec<ExpiringRow>,
    expiring_total: i64,
    integrity: Option<IntegrityResult>,
}

const KINDS: [(EntryKind, &str, &str); 4] = [
    (EntryKind::Issue, "issued", "#2b59c3"),
    (EntryKind::Charge, "charged", "#d97706"),
    (EntryKind::Refund, "refunded", "#b42318"),
    (EntryKind::Recharge, "recharged", "#15803d"),
];

fn kind_name(kind: EntryKind) -> &'static str {
    KINDS
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map(|(_, name, _)| *name)
        .unwrap_or("other")
}

/// Bars of entries per day and kind, scaled to the busiest bar.
fn chart(counts: &BTreeMap<(String, usize), i64>, days: &[String]) -> Chart {
    let most = counts.values().copied().max().unwrap_or(0).max(1);
    let slot = (CHART_WIDTH / i64::try_from(days.len().max(1)).unwrap_or(1)).min(CHART_DAY_MAX);
    let bar = (slot / 5).max(1);
    let mut bars = Vec::new();
    let mut ticks = Vec::new();
    for (i, day) in days.iter().enumerate() {
        let x0 = i64::try_from(i).unwrap_or_default() * slot;
        ticks.push(Tick {
            x: x0,
            text: day.get(5..).unwrap_or(day).to_string(),
        });
        for (k, (_, name, color)) in KINDS.iter().enumerate() {
            let count = counts.get(&(day.clone(), k)).copied().unwrap_or(0);
            let h = count * CHART_HEIGHT / most;
            bars.push(Bar {
                x: x0 + i64::try_from(k).unwrap_or_default() * bar,
                y: CHART_HEIGHT - h,
                w: bar,
                h,
                color,
                label: format!("{day}: {count} {name}"),
            });
        }
    }
    let legend = KINDS
        .iter()
        .enumerate()
        .map(|(k, (_, name, color))| LegendKey {
            x: i64::try_from(k).unwrap_or_default() * 110,
            text: name,
            color,
        })
        .collect();
    Chart {
        width: CHART_WIDTH,
        height: CHART_HEIGHT,
        bars,
        ticks,
        legend,
    }
}

pub async fn page(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = existing_tenant(&state, &operator, &tenant).await {
        return response;
    }
    let now = state.clock.now();
    let report = match state
        .store
        .report(&tenant, now, REPORT_DAYS, EXPIRY_DAYS)
        .await
    {
        Ok(report) => report,
        Err(error) => return unavailable(&error),
    };
    let integrity = if query.get("integrity").is_some_and(|v| v == "run") {
        match state.store.integrity(&tenant, now).await {
            Ok(check) => Some(IntegrityResult {
                clean: check.violations.is_empty(),
                text: format!(
                    "{} vouchers checked: {}.",
                    check.vouchers_checked,
                    if check.violations.is_empty() {
                        "every balance equals the sum of its entries".to_string()
                    } else {
                        format!(
                            "{} violations (see the admin API's integrity report)",
                            check.violations.len()
                        )
                    }
                ),
            }),
            Err(error) => return unavailable(&error),
        }
    } else {
        None
    };
    let mut counts: BTreeMap<(String, usize), i64> = BTreeMap::new();
    let mut days: Vec<String> = Vec::new();
    for m in &report.movements {
        let day = m.day.to_string();
        if days.last() != Some(&day) {
            days.push(day.clone());
        }
        if let Some(k) = KINDS.iter().position(|(kind, _, _)| *kind == m.kind) {
            *counts.entry((day, k)).or_default() += m.entries;
        }
    }
    render(
        StatusCode::OK,
        &Reports {
            nav: Some(operator.nav(Some(&tenant), "reports")),
            notice: None,
            problem: None,
            days: REPORT_DAYS,
            expiry_days: EXPIRY_DAYS,
            liability: report
                .liability
                .iter()
                .map(|l| LiabilityRow {
                    currency: l.currency.code(),
                    vouchers: l.vouchers,
                    remaining: format_two_decimals(l.remaining_minor),
                })
                .collect(),
            movements: report
                .movements
                .iter()
                .map(|m| MovementRow {
                    day: m.day.to_string(),
                    kind: kind_name(m.kind),
                    entries: m.entries,
                    amount: format!(
                        "{} {}",
                        format_two_decimals(m.amount_minor),
                        m.currency.code()
                    ),
                })
                .collect(),
            chart: chart(&counts, &days),
            expiring: report
                .expiring
                .iter()
                .map(|e| ExpiringRow {
                    id: e.voucher_id.clone(),
                    remaining: format!(
                        "{} {}",
                        format_two_decimals(e.remaining_minor),
                        e.currency.code()
                    ),
                    valid_until: when(e.valid_until),
                })
                .collect(),
            expiring_total: report.expiring_total,
            integrity,
            tenant,
        },
    )
}

pub struct AuditSearch {
    pub action: String,
    pub actor_id: String,
    pub subject_id: String,
}

pub struct AuditRow {
    pub at: String,
    pub action: String,
    pub actor: String,
    pub subject: String,
    pub request: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct Audit {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    tenant: String,
    q: AuditSearch,
    rows: Vec<AuditRow>,
    total: i64,
    page: i64,
    last_page: i64,
    prev: Option<String>,
    next: Option<String>,
}

pub async fn audit(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = existing_tenant(&state, &operator, &tenant).await {
        return response;
    }
    let text = |name: &str| search::text(&query, name);
    let q = AuditSearch {
        action: text("action"),
        actor_id: text("actor_id"),
        subject_id: text("subject_id"),
    };
    let filter = AuditFilter {
        action: search::filled(&q.action),
        actor_id: search::filled(&q.actor_id),
        subject_id: search::filled(&q.subject_id),
    };
    let page = search::page(&query);
    let found = match state
        .store
        .audit(
            &tenant,
            &filter,
            PageRequest {
                page,
                per_page: AUDIT_PAGE_SIZE,
            },
        )
        .await
    {
        Ok(found) => found,
        Err(error) => return unavailable(&error),
    };
    let last_page = ((found.total + AUDIT_PAGE_SIZE - 1) / AUDIT_PAGE_SIZE).max(1);
    let link = |to: i64| {
        let encoded: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("action", q.action.as_str()),
                ("actor_id", q.actor_id.as_str()),
                ("subject_id", q.subject_id.as_str()),
                ("page", &to.to_string()),
            ])
            .finish();
        format!("/admin/t/{tenant}/audit?{encoded}")
    };
    let rows = found
        .items
        .iter()
        .map(|e| AuditRow {
            at: when(e.at),
            action: e.action.clone(),
            actor: format!("{} {}", e.actor_kind, e.actor_id)
                .trim()
                .to_string(),
            subject: format!("{} {}", e.subject_kind, e.subject_id),
            request: e.request_id.clone(),
        })
        .collect();
    render(
        StatusCode::OK,
        &Audit {
            nav: Some(operator.nav(Some(&tenant), "audit")),
            notice: None,
            problem: None,
            prev: (page > 1).then(|| link(page - 1)),
            next: (page < last_page).then(|| link(page + 1)),
            total: found.total,
            rows,
            page,
            last_page,
            q,
            tenant,
        },
    )
}
