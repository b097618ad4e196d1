//! Every request gets an id (the caller's `X-Request-Id` if it sent a sane one), one
//! structured log line, and two metrics: a counter per route and status, and a latency
//! histogram per route, whose samples [`run_metrics_upkeep`] folds into buckets every few
//! seconds. Ledger commands are counted by outcome in [`crate::submit`]; the store's writer
//! measures its batches, commits and queue waits itself (`voucherd_writer_*`).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use voucherd_store::sql::BATCH_COMMANDS_METRIC;

use crate::AppState;

/// The header that carries the request id both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Longest request id accepted from a caller.
const REQUEST_ID_CHARS_MAX: usize = 64;
/// How often recorded histogram samples are folded into their buckets.
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);
/// Latency buckets, in seconds.
const LATENCY_BUCKETS_SECONDS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Buckets for the commands per writer transaction (SQLite batches reach 512).
const BATCH_COMMANDS_BUCKETS: [f64; 10] =
    [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// The id of the request being handled, for logs and the audit trail.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id a handler was given, or empty when the layer that names requests did not run.
    pub fn of(extension: Option<axum::Extension<RequestId>>) -> String {
        extension.map(|r| r.0.0).unwrap_or_default()
    }
}

/// Folds the histogram samples recorded since the last time into their buckets, every
/// [`METRICS_UPKEEP_INTERVAL`], until the task is dropped. The exporter keeps each sample until
/// then or until a scrape: without this, a voucherd nobody scrapes grows by about 20 bytes for
/// every request it answers.
pub async fn run_metrics_upkeep() {
    let handle = metrics_handle();
    let mut every = tokio::time::interval(METRICS_UPKEEP_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        handle.run_upkeep();
    }
}

/// The process-wide Prometheus recorder (installed once, shared by every app in the process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // Fails only for an empty bucket list, which these constants are not.
            let builder = PrometheusBuilder::new()
                .set_buckets(&LATENCY_BUCKETS_SECONDS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(BATCH_COMMANDS_METRIC.to_string()),
                        &BATCH_COMMANDS_BUCKETS,
                    )
                })
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Fails only if a recorder is already installed, which then keeps counting.
            let _ = metrics::set_global_recorder(recorder);
            describe_metrics();
            handle
        })
        .clone()
}

/// The HELP line of every metric voucherd records.
fn describe_metrics() {
    metrics::describe_counter!(
        "voucherd_http_requests_total",
        "HTTP requests answered, by method, route (the matched pattern) and status."
    );
    metrics::describe_histogram!(
        "voucherd_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time from a request's head to its answer, by method and route."
    );
    metrics::describe_counter!(
        "voucherd_ledger_commands_total",
        "Commands submitted to the store, by action, outcome (ok, refused, replayed, \
         key_reused, store_error) and, when refused, the refusal."
    );
    metrics::describe_counter!(
        "voucherd_front_callbacks_total",
        "Front Payment status callback delivery attempts, by outcome."
    );
    metrics::describe_histogram!(
        voucherd_store::sql::BATCH_COMMANDS_METRIC,
        "Commands per write transaction of the group-commit writer."
    );
    metrics::describe_histogram!(
        voucherd_store::sql::COMMIT_SECONDS_METRIC,
        metrics::Unit::Seconds,
        "Time the writer spent on each durable commit."
    );
    metrics::describe_histogram!(
        voucherd_store::sql::QUEUE_WAIT_SECONDS_METRIC,
        metrics::Unit::Seconds,
        "Time each command waited for a writer lane."
    );
}

/// A metric label from a Rust name: `Front(PaymentCardNotFound)` becomes
/// `front_payment_card_not_found`; fields (`ImportRowTaken { row: 3, .. }`) are left out.
pub fn label_of(debug: &str) -> String {
    let name = debug.split([' ', '{']).next().unwrap_or_default();
    let mut label = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        // A word starts at a capital and after a bracket or colon.
        let starts_word = c.is_ascii_uppercase() || matches!(c, '(' | ')' | ':');
        if starts_word && !label.is_empty() && !label.ends_with('_') {
            label.push('_');
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            label.push(c.to_ascii_lowercase());
        }
    }
    label.trim_end_matches('_').to_string()
}

fn caller_request_id(request: &Request) -> Option<String> {
    let value = request.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let sane = !value.is_empty()
        && value.len() <= REQUEST_ID_CHARS_MAX
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    sane.then(|| value.to_string())
}

/// The middleware.
pub async fn layer(State(_state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = caller_request_id(&request).unwrap_or_else(voucherd_domain::secret::opaque_id);
    request.extensions_mut().insert(RequestId(id.clone()));
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let mut response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    metrics::counter!("voucherd_http_requests_total",
        "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
    .increment(1);
    metrics::histogram!("voucherd_http_request_duration_seconds",
        "method" => method.clone(), "route" => route.clone())
    .record(elapsed.as_secs_f64());
    tracing::info!(
        request_id = %id,
        method = %method,
        route = %route,
        status,
        latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::label_of;

    #[test]
    fn labels_are_snake_case_words_without_values() {
        assert_eq!(
            label_of("Front(PaymentCardNotFound)"),
            "front_payment_card_not_found"
        );
        assert_eq!(label_of("VoucherNotFound"), "voucher_not_found");
        assert_eq!(
            label_of("ImportRowTaken { row: 3, column: \"code\" }"),
            "import_row_taken"
        );
        assert_eq!(label_of("Bleepay(NotFound)"), "bleepay_not_found");
    }
}
