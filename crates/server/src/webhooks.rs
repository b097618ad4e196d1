//! Delivering the ledger's events to webhook endpoints. Every node runs this loop: it claims
//! endpoints that are due (a lease of [`LEASE_SECONDS`]), reads the events after each one's
//! cursor that it wants, and POSTs them one by one, in order, signed in the Standard Webhooks
//! style; the cursor moves past each event answered with 2xx. The first failure ends the round:
//! the same event is tried again after a backoff (5 s doubling up to an hour), so an endpoint
//! receives its events at least once and in order. An endpoint failing for days is disabled.
//!
//! A round sends for at most [`ROUND_SECONDS_MAX`], which with the request timeout stays well
//! inside the lease, so two nodes never send to one endpoint at once.
//!
//! Deliveries go only to public addresses unless the endpoint allows private ones: the host is
//! resolved first, every address checked, and the request pinned to the checked addresses.
//! Redirects are not followed and no answer body is read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use time::{Duration, OffsetDateTime};
use voucherd_domain::webhook::{is_public, sign};
use voucherd_store::Store;
use voucherd_store::events::{EventFilter, StoredEvent};
use voucherd_store::webhooks::{WebhookAttempt, WebhookProgress, WebhookTarget};

use crate::clock::Clock;

/// How long a node holds an endpoint it claimed.
pub const LEASE_SECONDS: i64 = 60;
/// Endpoints claimed at once.
const CLAIM_BATCH: i64 = 16;
/// Events one round delivers to an endpoint at most.
const EVENTS_PER_ROUND: i64 = 100;
/// A round starts no delivery after this long, so that with the request timeout it ends well
/// within the lease and no other node takes the endpoint while it still sends.
const ROUND_SECONDS_MAX: u64 = 30;
/// How long an endpoint has to answer.
const REQUEST_TIMEOUT: StdDuration = StdDuration::from_secs(10);
/// How long the loop waits for a commit when nothing was due.
const IDLE_PAUSE: StdDuration = StdDuration::from_millis(500);
const _: () = assert!(ROUND_SECONDS_MAX + REQUEST_TIMEOUT.as_secs() < LEASE_SECONDS as u64);

/// The first retry's wait; each further failure doubles it, up to [`BACKOFF_MAX_SECONDS`].
pub const BACKOFF_FIRST_SECONDS: i64 = 5;
pub const BACKOFF_MAX_SECONDS: i64 = 3_600;

/// When to try again after `attempts` failed attempts at the same event.
pub fn retry_at(attempts: i64, now: OffsetDateTime) -> OffsetDateTime {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let wait = BACKOFF_FIRST_SECONDS
        .saturating_mul(2_i64.saturating_pow(exponent))
        .min(BACKOFF_MAX_SECONDS);
    now + Duration::seconds(wait)
}

/// Delivers what is due, round after round, until the task is aborted.
pub async fn run(store: Arc<dyn Store>, clock: Arc<dyn Clock>) {
    let signal = store.event_signal();
    loop {
        let notified = signal.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = clock.now();
        let claimed = store
            .claim_webhooks(now, now + Duration::seconds(LEASE_SECONDS), CLAIM_BATCH)
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "could not claim webhook endpoints");
                Vec::new()
            });
        for target in &claimed {
            if let Err(error) = round(store.as_ref(), clock.as_ref(), target).await {
                tracing::warn!(endpoint = %target.id, %error, "webhook round failed");
            }
        }
        if claimed.is_empty() {
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(IDLE_PAUSE) => {}
            }
        }
    }
}

/// One round for a claimed endpoint: deliver what it wants after its cursor, in order.
async fn round(
    store: &dyn Store,
    clock: &dyn Clock,
    target: &WebhookTarget,
) -> Result<(), voucherd_store::StoreError> {
    // Read the last number first: every event up to it has committed, so if none of them is
    // wanted the cursor may move there.
    let last = store.last_event_seq(&target.tenant_id).await?;
    let filter = EventFilter {
        after: target.cursor,
        limit: EVENTS_PER_ROUND,
        types: target.types.clone(),
        voucher_id: None,
        from: None,
        to: None,
    };
    let events = store.events(&target.tenant_id, &filter).await?;
    let progress = if events.is_empty() {
        WebhookProgress::Idle {
            cursor: last.max(target.cursor),
        }
    } else {
        deliver(target, &events, clock).await
    };
    store.record_webhook(target, &progress, clock.now()).await
}

/// Sends `events` in order until one fails.
async fn deliver(
    target: &WebhookTarget,
    events: &[StoredEvent],
    clock: &dyn Clock,
) -> WebhookProgress {
    let mut attempts = Vec::new();
    let client = match client_for(target).await {
        Ok(client) => client,
        Err(error) => {
            let first = &events[0];
            attempts.push(WebhookAttempt {
                seq: first.seq,
                kind: first.kind.clone(),
                status: None,
                latency_ms: 0,
                at: clock.now(),
                error: Some(error),
            });
            return WebhookProgress::Attempted {
                attempts,
                retry_at: Some(Some(retry_at(target.attempts + 1, clock.now()))),
            };
        }
    };
    let started = Instant::now();
    for event in events {
        if started.elapsed() > StdDuration::from_secs(ROUND_SECONDS_MAX) {
            break;
        }
        let attempt = send(&client, target, event, clock.now()).await;
        let failed = attempt.error.is_some();
        attempts.push(attempt);
        if failed {
            let tried = if attempts.len() > 1 {
                1
            } else {
                target.attempts + 1
            };
            return WebhookProgress::Attempted {
                attempts,
                retry_at: Some(Some(retry_at(tried, clock.now()))),
            };
        }
    }
    WebhookProgress::Attempted {
        attempts,
        retry_at: None,
    }
}

/// A client whose requests to the endpoint's host go only to the addresses checked here.
async fn client_for(target: &WebhookTarget) -> Result<reqwest::Client, String> {
    let url = reqwest::Url::parse(&target.url).map_err(|_| "the URL is not valid".to_string())?;
    let host = url.host_str().ok_or("the URL names no host")?.to_string();
    let port = url.port_or_known_default().ok_or("the URL names no port")?;
    let lookup = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((lookup.as_str(), port))
        .await
        .map_err(|_| format!("{host} could not be resolved"))?
        .collect();
    if addresses.is_empty() {
        return Err(format!("{host} could not be resolved"));
    }
    if !target.allow_private && addresses.iter().any(|a| !is_public(a.ip())) {
        return Err(format!(
            "{host} resolves to a private or loopback address, which this endpoint may not use"
        ));
    }
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(&host, &addresses)
        .build()
        .map_err(|e| format!("no HTTP client: {e}"))
}

/// POSTs one event; the attempt as recorded.
async fn send(
    client: &reqwest::Client,
    target: &WebhookTarget,
    event: &StoredEvent,
    now: OffsetDateTime,
) -> WebhookAttempt {
    let body = crate::admin::events::event_json(&target.tenant_id, event).to_string();
    let id = format!("evt_{}_{}", target.tenant_id, event.seq);
    let timestamp = now.unix_timestamp();
    // After a rotation both secrets sign, space-separated, until the old one's grace ends.
    let signature = [Some(&target.secret), target.previous_secret.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|secret| sign(secret, &id, timestamp, &body))
        .collect::<Vec<_>>()
        .join(" ");
    let started = Instant::now();
    let sent = client
        .post(&target.url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (status, error) = match sent {
        // The answer's body is never read: only its status counts.
        Ok(response) if response.status().is_success() => {
            (Some(i64::from(response.status().as_u16())), None)
        }
        Ok(response) => {
            let status = response.status().as_u16();
            (Some(i64::from(status)), Some(format!("answered {status}")))
        }
        Err(error) if error.is_timeout() => (None, Some("timed out".to_string())),
        Err(_) => (None, Some("connection failed".to_string())),
    };
    WebhookAttempt {
        seq: event.seq,
        kind: event.kind.clone(),
        status,
        latency_ms,
        at: now,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        let now = datetime!(2026-03-01 0:00 UTC);
        assert_eq!(retry_at(1, now) - now, Duration::seconds(5));
        assert_eq!(retry_at(2, now) - now, Duration::seconds(10));
        assert_eq!(retry_at(5, now) - now, Duration::seconds(80));
        assert_eq!(retry_at(40, now) - now, Duration::hours(1));
    }
}
