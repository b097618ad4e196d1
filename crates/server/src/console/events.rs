//! The tenant's ledger events in the console: the latest ones, or those matching a type (or
//! family), a voucher and a time span, a page at a time in number order; "Follow live" keeps
//! adding new events as they commit (the console's script long-polls [`live`], which answers
//! JSON rows). The feed behind it is the admin API's (docs/events.md).

use std::collections::HashMap;
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::{Date, OffsetDateTime, Time};
use voucherd_domain::events::unknown_type;
use voucherd_store::events::{EventFilter, StoredEvent};

use super::search;
use super::{Nav, Operator, existing_tenant, render, unavailable, when};
use crate::AppState;
use crate::admin::events::events_when_ready;

/// Events a page shows.
const EVENTS_PAGE_SIZE: i64 = 50;
/// How long a live request waits for a new event before answering none.
const LIVE_WAIT_SECONDS: u64 = 25;

/// One event as a row of the page (and of the live updates).
pub struct EventRow {
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub face: String,
    pub actor: String,
    pub voucher: String,
    pub amount: String,
    pub balance: String,
}

/// The search form as sent.
pub struct EventSearch {
    pub kind: String,
    pub voucher: String,
    pub from: String,
    pub to: String,
}

#[derive(Template)]
#[template(path = "console/events.html")]
struct Events {
    nav: Option<Nav>,
    notice: Option<String>,
    problem: Option<String>,
    tenant: String,
    q: EventSearch,
    rows: Vec<EventRow>,
    /// The number of the last event shown (where live updates and the next page start).
    last: i64,
    next: Option<String>,
    live: String,
}

/// `"12.50 EUR"` from an amount object of an event.
fn amount_text(amount: &Value) -> Option<String> {
    Some(format!(
        "{} {}",
        amount.get("amount")?.as_str()?,
        amount.get("currency")?.as_str()?
    ))
}

/// The amount an event moved or set aside, if it names one.
fn moved(data: &Value) -> Option<String> {
    ["charge", "refund", "recharge", "hold", "code"]
        .iter()
        .find_map(|subject| amount_text(data.get(subject)?.get("amount")?))
        .or_else(|| amount_text(data.get("amount")?))
}

fn row(event: &StoredEvent) -> EventRow {
    let data = &event.data;
    let balance = data
        .get("voucher")
        .and_then(|v| amount_text(v.get("balance")?))
        .unwrap_or_default();
    EventRow {
        seq: event.seq,
        at: when(event.at),
        kind: event.kind.clone(),
        face: event.face.clone(),
        actor: format!("{} {}", event.actor_kind, event.actor_id)
            .trim()
            .to_string(),
        voucher: event.voucher_id.clone().unwrap_or_default(),
        amount: moved(data).unwrap_or_default(),
        balance,
    }
}

/// Midnight (UTC) of a `YYYY-MM-DD` day.
fn day(text: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format)
        .ok()
        .map(|d| d.with_time(Time::MIDNIGHT).assume_utc())
}

/// The search a query string names, and the cursor it gives (`after`), if any.
fn search_of(query: &HashMap<String, String>) -> (EventSearch, Option<i64>) {
    let text = |name: &str| search::text(query, name);
    let search = EventSearch {
        kind: text("type"),
        voucher: text("voucher"),
        from: text("from"),
        to: text("to"),
    };
    let after = text("after").parse::<i64>().ok().filter(|a| *a >= 0);
    (search, after)
}

/// The filter a search asks for, or what is wrong with it.
fn filter_of(q: &EventSearch, after: i64) -> Result<EventFilter, String> {
    let types: Vec<String> = q
        .kind
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(unknown) = unknown_type(&types) {
        return Err(format!(
            "{unknown:?} is not an event type; see the list under the field."
        ));
    }
    let date = |text: &str, name: &str| match search::filled(text) {
        None => Ok(None),
        Some(text) => day(&text)
            .map(Some)
            .ok_or_else(|| format!("Give the {name} date as YYYY-MM-DD.")),
    };
    Ok(EventFilter {
        after,
        limit: EVENTS_PAGE_SIZE,
        types,
        voucher_id: search::filled(&q.voucher),
        from: date(&q.from, "from")?,
        // The whole of the `to` day.
        to: date(&q.to, "to")?.map(|d| d + time::Duration::days(1)),
    })
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
    let (q, after) = search_of(&query);
    let searching =
        !(q.kind.is_empty() && q.voucher.is_empty() && q.from.is_empty() && q.to.is_empty());
    let after = match after {
        Some(after) => after,
        // Unfiltered, the page opens on the latest events; a search starts from the first.
        None if searching => 0,
        None => match state.store.last_event_seq(&tenant).await {
            Ok(last) => (last - EVENTS_PAGE_SIZE).max(0),
            Err(error) => return unavailable(&error),
        },
    };
    let (status, problem, found) = match filter_of(&q, after) {
        Ok(filter) => match state.store.events(&tenant, &filter).await {
            Ok(found) => (StatusCode::OK, None, found),
            Err(error) => return unavailable(&error),
        },
        Err(problem) => (StatusCode::UNPROCESSABLE_ENTITY, Some(problem), Vec::new()),
    };
    let last = found.last().map_or(after, |e| e.seq);
    let link = |after: i64, path: &str| {
        let encoded: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("type", q.kind.as_str()),
                ("voucher", q.voucher.as_str()),
                ("from", q.from.as_str()),
                ("to", q.to.as_str()),
                ("after", &after.to_string()),
            ])
            .finish();
        format!("/admin/t/{tenant}/{path}?{encoded}")
    };
    let full = i64::try_from(found.len()).unwrap_or(0) >= EVENTS_PAGE_SIZE;
    render(
        status,
        &Events {
            nav: Some(operator.nav(Some(&tenant), "events")),
            notice: None,
            problem,
            next: full.then(|| link(last, "events")),
            live: link(last, "events/live"),
            rows: found.iter().map(row).collect(),
            last,
            tenant,
            q,
        },
    )
}

/// New events after `after` as JSON rows for the page's script, waiting up to
/// [`LIVE_WAIT_SECONDS`] for one to commit.
pub async fn live(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = existing_tenant(&state, &operator, &tenant).await {
        return response;
    }
    let (q, after) = search_of(&query);
    let after = after.unwrap_or(0);
    let Ok(filter) = filter_of(&q, after) else {
        return (StatusCode::UNPROCESSABLE_ENTITY, "invalid filter").into_response();
    };
    let wait = Duration::from_secs(LIVE_WAIT_SECONDS);
    let found = match events_when_ready(&state, &tenant, &filter, wait).await {
        Ok(found) => found,
        Err(error) => return unavailable(&error),
    };
    let next_after = found.last().map_or(after, |e| e.seq);
    let rows: Vec<Value> = found
        .iter()
        .map(row)
        .map(|r| {
            json!({ "seq": r.seq, "at": r.at, "type": r.kind, "face": r.face, "actor": r.actor,
                "voucher": r.voucher, "amount": r.amount, "balance": r.balance })
        })
        .collect();
    let mut response = json!({ "rows": rows, "next_after": next_after })
        .to_string()
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
