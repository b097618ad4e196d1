//! The event feed: `GET /admin/api/v1/tenants/{t}/events`, the tenant's events in sequence
//! order after a number the consumer stores (`after`), a page at a time, with the cursor of the
//! next page. With `wait=N` (up to 60 seconds) an empty page is not answered at once: the
//! request waits until an event commits (on this node or, on PostgreSQL, any other) or the time
//! is up.

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use voucherd_domain::events::unknown_type;
use voucherd_store::events::{EVENT_PAGE_MAX, EventFilter, StoredEvent};

use crate::AppState;

use super::error::AdminError;
use super::extract::{Admin, AdminPath, existing_tenant, json_response};
use super::vouchers::query_pairs;

/// Events a page holds when the consumer does not say.
const EVENT_PAGE_DEFAULT: i64 = 100;
/// The longest long-poll.
pub const EVENT_WAIT_SECONDS_MAX: u64 = 60;

/// An event as the feed (and webhooks) show it.
pub fn event_json(tenant_id: &str, event: &StoredEvent) -> Value {
    json!({
        "id": format!("evt_{tenant_id}_{}", event.seq),
        "seq": event.seq,
        "type": event.kind,
        "at": voucherd_domain::events::timestamp(event.at),
        "tenant_id": tenant_id,
        "face": event.face,
        "actor": { "kind": event.actor_kind, "id": event.actor_id },
        "request_id": event.request_id,
        "voucher_id": event.voucher_id,
        "data": event.data,
    })
}

/// The events `filter` picks; when there are none yet, waits up to `wait` for a commit (on
/// this node or, on PostgreSQL, any other) that brings some, and answers what is there then.
pub async fn events_when_ready(
    state: &AppState,
    tenant: &str,
    filter: &EventFilter,
    wait: Duration,
) -> Result<Vec<StoredEvent>, voucherd_store::StoreError> {
    let deadline = tokio::time::Instant::now() + wait;
    let signal = state.store.event_signal();
    loop {
        // Listen before reading, so that a commit between the read and the wait is not missed.
        let notified = signal.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let events = state.store.events(tenant, filter).await?;
        if !events.is_empty() || tokio::time::Instant::now() >= deadline {
            return Ok(events);
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// The filter and wait a query asks for.
fn filter_of(pairs: &[(String, String)]) -> Result<(EventFilter, u64), AdminError> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let number = |name: &str, default: i64, max: i64| -> Result<i64, AdminError> {
        match get(name) {
            None | Some("") => Ok(default),
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|n| (0..=max).contains(n))
                .ok_or_else(|| {
                    AdminError::invalid(format!("{name} must be an integer from 0 to {max}"))
                }),
        }
    };
    let after = number("after", 0, i64::MAX)?;
    let limit = number("limit", EVENT_PAGE_DEFAULT, EVENT_PAGE_MAX)?.max(1);
    let wait = number(
        "wait",
        0,
        i64::try_from(EVENT_WAIT_SECONDS_MAX).unwrap_or(60),
    )?;
    let mut types = Vec::new();
    for value in pairs.iter().filter(|(k, _)| k == "type").map(|(_, v)| v) {
        for pattern in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            types.push(pattern.to_string());
        }
    }
    if let Some(unknown) = unknown_type(&types) {
        return Err(AdminError::invalid(format!(
            "unknown event type {unknown:?} (see docs/events.md)"
        )));
    }
    let time = |name: &str| -> Result<Option<time::OffsetDateTime>, AdminError> {
        match get(name) {
            None | Some("") => Ok(None),
            Some(text) => crate::wire::parse_datetime(text)
                .map(Some)
                .ok_or_else(|| AdminError::invalid(format!("{name} must be an RFC 3339 time"))),
        }
    };
    let filter = EventFilter {
        after,
        limit,
        types,
        voucher_id: get("voucher").filter(|v| !v.is_empty()).map(str::to_string),
        from: time("from")?,
        to: time("to")?,
    };
    Ok((filter, u64::try_from(wait).unwrap_or(0)))
}

pub(super) async fn feed(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let (filter, wait) = filter_of(&query_pairs(raw.as_deref()))?;
    let events = events_when_ready(&state, &tenant, &filter, Duration::from_secs(wait))
        .await
        .map_err(|e| AdminError::store(&e))?;
    let next_after = events.last().map_or(filter.after, |e| e.seq);
    let data: Vec<Value> = events.iter().map(|e| event_json(&tenant, e)).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "data": data, "next_after": next_after }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        query_pairs(Some(query))
    }

    #[test]
    fn a_query_names_its_cursor_page_types_and_wait() {
        let (filter, wait) =
            filter_of(&pairs("after=7&limit=2&type=charge.created,hold.*&wait=30")).expect("ok");
        assert_eq!((filter.after, filter.limit, wait), (7, 2, 30));
        assert_eq!(filter.types, ["charge.created", "hold.*"]);
        let (filter, wait) = filter_of(&pairs("")).expect("defaults");
        assert_eq!(
            (filter.after, filter.limit, wait),
            (0, EVENT_PAGE_DEFAULT, 0)
        );
    }

    #[test]
    fn bad_values_are_refused() {
        for query in [
            "after=-1",
            "limit=1001",
            "wait=61",
            "type=charge.made",
            "after=x",
            "from=yesterday",
        ] {
            assert!(filter_of(&pairs(query)).is_err(), "{query}");
        }
    }
}
