//! Delivering the ledger's events to webhook endpoints, one kind of parcel of the shared outbox
//! ([`crate::outbox`]). Every node claims endpoints that are due (with the outbox's lease), reads
//! the events after each one's cursor that it wants, and POSTs them one by one, in order, signed
//! in the Standard Webhooks style; the cursor moves past each event answered with 2xx. The first
//! failure ends the round: the same event is tried again on the outbox's backoff, so an endpoint
//! receives its events at least once and in order. An endpoint failing for days is disabled.
//!
//! A round sends for at most [`ROUND_SECONDS_MAX`], which with the request timeout stays well
//! inside the lease, so two nodes never send to one endpoint at once.
//!
//! Deliveries go only to public addresses unless the endpoint allows private ones: the host is
//! resolved first, every address checked, and the request pinned to the checked addresses.
//! Redirects are not followed and no answer body is read. The operator's test event
//! ([`send_test`]) goes the same way, outside the feed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;
use voucherd_domain::webhook::{is_public, sign};
use voucherd_store::events::{EventFilter, StoredEvent};
use voucherd_store::webhooks::{WebhookAttempt, WebhookProgress, WebhookTarget};
use voucherd_store::{Store, StoreError};

use crate::clock::Clock;
use crate::outbox::{self, Courier, LEASE_SECONDS, REQUEST_TIMEOUT, backoff};

/// Endpoints claimed at once.
const CLAIM_BATCH: i64 = 16;
/// Events one round delivers to an endpoint at most.
const EVENTS_PER_ROUND: i64 = 100;
/// A round starts no delivery after this long, so that with the request timeout it ends well
/// within the lease and no other node takes the endpoint while it still sends.
const ROUND_SECONDS_MAX: u64 = 30;
const _: () = assert!(ROUND_SECONDS_MAX + REQUEST_TIMEOUT.as_secs() < LEASE_SECONDS as u64);
/// The type of the operator's test event.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// The webhooks' courier: claims endpoints that have events to send, runs a round for each.
struct Webhooks {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    clients: Clients,
}

/// The HTTP client of each endpoint this node delivered to, kept while its URL and the
/// addresses its host resolves to stay the same: its connections are kept alive between rounds,
/// and the machine's trusted authorities are not read again for every round.
#[derive(Default)]
struct Clients(std::sync::Mutex<HashMap<i64, KeptClient>>);

/// A client and what it was built for.
struct KeptClient {
    url: String,
    addresses: Vec<SocketAddr>,
    client: reqwest::Client,
}

impl Clients {
    /// A client pinned to the endpoint's checked addresses, reused when nothing changed.
    async fn for_target(&self, target: &WebhookTarget) -> Result<reqwest::Client, String> {
        let (host, addresses) = checked_addresses(target).await?;
        let mut kept = self.0.lock().map_err(|_| "no HTTP client".to_string())?;
        if let Some(k) = kept.get(&target.pk)
            && k.url == target.url
            && k.addresses == addresses
        {
            return Ok(k.client.clone());
        }
        let client = pinned_client(&host, &addresses)?;
        let fresh = KeptClient {
            url: target.url.clone(),
            addresses,
            client: client.clone(),
        };
        kept.insert(target.pk, fresh);
        Ok(client)
    }
}

impl Courier for Webhooks {
    type Parcel = WebhookTarget;
    const NAME: &'static str = "webhooks";

    async fn claim(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<WebhookTarget>, StoreError> {
        self.store
            .claim_webhooks(now, lease_until, CLAIM_BATCH)
            .await
    }

    async fn deliver(&self, target: &WebhookTarget) {
        if let Err(error) = round(self, target).await {
            tracing::warn!(endpoint = %target.id, %error, "webhook round failed");
        }
    }
}

/// Delivers what is due, round after round, until the task is aborted.
pub async fn run(store: Arc<dyn Store>, clock: Arc<dyn Clock>) {
    let signal = store.event_signal();
    let webhooks = Webhooks {
        store,
        clock: clock.clone(),
        clients: Clients::default(),
    };
    outbox::run(webhooks, signal, clock).await;
}

/// One round for a claimed endpoint: deliver what it wants after its cursor, in order.
async fn round(courier: &Webhooks, target: &WebhookTarget) -> Result<(), StoreError> {
    let (store, clock) = (courier.store.as_ref(), courier.clock.as_ref());
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
        let client = courier.clients.for_target(target).await;
        deliver(target, client, &events, clock).await
    };
    store.record_webhook(target, &progress, clock.now()).await
}

/// Sends `events` in order until one fails.
async fn deliver(
    target: &WebhookTarget,
    client: Result<reqwest::Client, String>,
    events: &[StoredEvent],
    clock: &dyn Clock,
) -> WebhookProgress {
    let mut attempts = Vec::new();
    let client = match client {
        Ok(client) => client,
        Err(error) => {
            let first = &events[0];
            attempts.push(WebhookAttempt::not_sent(
                first.seq,
                &first.kind,
                clock.now(),
                error,
            ));
            return WebhookProgress::Attempted {
                attempts,
                retry_at: Some(Some(backoff(target.attempts + 1, clock.now()))),
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
                retry_at: Some(Some(backoff(tried, clock.now()))),
            };
        }
    }
    WebhookProgress::Attempted {
        attempts,
        retry_at: None,
    }
}

/// The endpoint's host and the addresses it resolves to now, each checked: only public ones
/// unless the endpoint allows private ones.
async fn checked_addresses(target: &WebhookTarget) -> Result<(String, Vec<SocketAddr>), String> {
    let url = reqwest::Url::parse(&target.url).map_err(|_| "the URL is not valid".to_string())?;
    let host = url.host_str().ok_or("the URL names no host")?.to_string();
    let port = url.port_or_known_default().ok_or("the URL names no port")?;
    let lookup = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let mut addresses: Vec<SocketAddr> = tokio::net::lookup_host((lookup.as_str(), port))
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
    addresses.sort_unstable();
    Ok((host, addresses))
}

/// A client whose requests to `host` go only to `addresses`.
fn pinned_client(host: &str, addresses: &[SocketAddr]) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(host, addresses)
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
    let body = crate::admin::events::event_json(&target.tenant_id, event);
    let id = format!("evt_{}_{}", target.tenant_id, event.seq);
    post(client, target, (&id, event.seq, &event.kind), &body, now).await
}

/// POSTs one message signed as `id`; the attempt as recorded under `seq` and `kind`.
async fn post(
    client: &reqwest::Client,
    target: &WebhookTarget,
    (id, seq, kind): (&str, i64, &str),
    body: &Value,
    now: OffsetDateTime,
) -> WebhookAttempt {
    let body = body.to_string();
    let timestamp = now.unix_timestamp();
    // After a rotation both secrets sign, space-separated, until the old one's grace ends.
    let signature = [Some(&target.secret), target.previous_secret.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|secret| sign(secret, id, timestamp, &body))
        .collect::<Vec<_>>()
        .join(" ");
    let started = Instant::now();
    let sent = client
        .post(&target.url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
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
        seq,
        kind: kind.to_string(),
        status,
        latency_ms,
        at: now,
        error,
    }
}

/// Sends the operator's test event to an endpoint now, from this node, outside the feed: no
/// cursor moves and no retry follows. The attempt is returned for the operator to see; the
/// caller records it among the endpoint's deliveries (number 0).
pub async fn send_test(target: &WebhookTarget, now: OffsetDateTime) -> WebhookAttempt {
    let id = format!(
        "evt_{}_test_{}",
        target.tenant_id,
        voucherd_domain::secret::random_string(voucherd_domain::secret::HEX, 12)
    );
    let body = json!({
        "id": id,
        "seq": 0,
        "type": TEST_EVENT_TYPE,
        "at": voucherd_domain::events::timestamp(now),
        "tenant_id": target.tenant_id,
        "face": "admin",
        "actor": { "kind": "admin", "id": "" },
        "request_id": Value::Null,
        "voucher_id": Value::Null,
        "data": { "message": "A test event: it moves no money and has no number in the feed." },
    });
    let client = match checked_addresses(target).await {
        Ok((host, addresses)) => pinned_client(&host, &addresses),
        Err(error) => Err(error),
    };
    match client {
        Ok(client) => post(&client, target, (&id, 0, TEST_EVENT_TYPE), &body, now).await,
        Err(error) => WebhookAttempt::not_sent(0, TEST_EVENT_TYPE, now, error),
    }
}
