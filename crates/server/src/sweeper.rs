//! The background sweep: marks expired holds, drops stale idempotency keys, tokens and pins.
//! Expiry never depends on it (every read and write evaluates expiry against the clock); it
//! only keeps the tables tidy and the hold states truthful for listings.

use std::sync::Arc;
use std::time::Duration;

use voucherd_store::Store;

use crate::clock::Clock;

/// Time between sweeps.
pub const SWEEP_INTERVAL_SECONDS: u64 = 30;

/// Sweeps forever; the caller aborts the task on shutdown.
pub async fn run(store: Arc<dyn Store>, clock: Arc<dyn Clock>) {
    let mut tick = tokio::time::interval(Duration::from_secs(SWEEP_INTERVAL_SECONDS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match store.sweep(clock.now()).await {
            Ok(report) if report.holds_expired > 0 => {
                tracing::info!(holds_expired = report.holds_expired, "sweep");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "sweep failed; will retry"),
        }
    }
}
