//! The background issuer of voucher series: takes the lease of a running series (one at a time
//! per node), issues it chunk by chunk until it is done, then looks for the next. A series a
//! stopped node was working on is taken over by any node once its lease runs out.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use time::Duration;
use voucherd_store::series::SeriesState;
use voucherd_store::{Actor, Command, CommandContext, CommandRequest, Execution, Outcome, Store};

use crate::clock::Clock;

/// Vouchers issued per transaction: small enough not to hold up other writers for long.
pub const CHUNK_VOUCHERS: i64 = 250;
/// How long a claimed series is this node's before another may take it.
const LEASE_SECONDS: i64 = 60;
/// The pause between looks for work when there is none.
const IDLE_PAUSE: StdDuration = StdDuration::from_millis(500);

/// Issues running series until the task is aborted.
pub async fn run(store: Arc<dyn Store>, clock: Arc<dyn Clock>) {
    loop {
        let now = clock.now();
        match store
            .claim_series(now, now + Duration::seconds(LEASE_SECONDS))
            .await
        {
            Ok(Some((tenant_id, series_id))) => {
                issue(store.as_ref(), clock.as_ref(), &tenant_id, &series_id).await
            }
            Ok(None) => tokio::time::sleep(IDLE_PAUSE).await,
            Err(error) => {
                tracing::warn!(%error, "could not look for series to issue");
                tokio::time::sleep(IDLE_PAUSE).await;
            }
        }
    }
}

/// Issues one series chunk by chunk until it is no longer running (or the store fails, when
/// its lease runs out and it is taken up again).
async fn issue(store: &dyn Store, clock: &dyn Clock, tenant_id: &str, series_id: &str) {
    loop {
        let request = CommandRequest {
            context: CommandContext {
                tenant_id: tenant_id.to_string(),
                actor: Actor::System,
                request_id: format!("series-{series_id}"),
                now: clock.now(),
            },
            command: Command::IssueSeriesChunk {
                series_id: series_id.to_string(),
                max: CHUNK_VOUCHERS,
            },
            idempotency: None,
        };
        match store.execute(request).await {
            Ok(Execution::Done(Ok(Outcome::Series(series)))) => {
                if series.state != SeriesState::Running {
                    tracing::info!(series = %series_id, issued = series.issued, state = series.state.as_str(), "series finished");
                    return;
                }
            }
            Ok(other) => {
                tracing::warn!(series = %series_id, answer = ?other, "series chunk refused");
                return;
            }
            Err(error) => {
                tracing::warn!(series = %series_id, %error, "series chunk failed; retried after its lease");
                return;
            }
        }
    }
}
