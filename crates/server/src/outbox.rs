//! The one outbox mechanism behind every message voucherd sends out: Front Payment's status
//! callbacks and the webhook deliveries. Each kind is a [`Courier`]: it claims what is due from
//! the store with a lease (so that with several nodes exactly one sends a parcel at a time, and a
//! node that dies leaves its parcels to another after the lease), delivers, and records the
//! outcome, retrying failures on one backoff schedule. [`run`] is the loop every node runs per
//! kind: it wakes when a write commits (the store's event signal) or after a short pause.
//!
//! What a parcel is and how it goes on the wire stays the courier's: a callback is one GET in
//! Front Payment's format, a webhook endpoint is a cursor over the event feed, POSTed in order.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};
use tokio::sync::Notify;
use voucherd_store::StoreError;

use crate::clock::Clock;

/// How long a node holds what it claimed before another node may take it.
pub const LEASE_SECONDS: i64 = 60;
/// How long a receiver has to answer one request.
pub const REQUEST_TIMEOUT: StdDuration = StdDuration::from_secs(10);
/// The first retry's wait; each further failure doubles it, up to [`BACKOFF_MAX_SECONDS`].
pub const BACKOFF_FIRST_SECONDS: i64 = 5;
pub const BACKOFF_MAX_SECONDS: i64 = 3_600;
/// How long the loop waits for a commit when nothing was due.
const IDLE_PAUSE: StdDuration = StdDuration::from_millis(500);

/// When to try again after `attempts` failed attempts at the same parcel: 5 s, 10 s, 20 s, ...
/// up to an hour.
pub fn backoff(attempts: i64, now: OffsetDateTime) -> OffsetDateTime {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let wait = BACKOFF_FIRST_SECONDS
        .saturating_mul(2_i64.saturating_pow(exponent))
        .min(BACKOFF_MAX_SECONDS);
    now + Duration::seconds(wait)
}

/// One kind of outgoing message.
pub trait Courier: Send + Sync + 'static {
    /// What one claim hands out.
    type Parcel: Send + Sync;
    /// The kind's name in logs.
    const NAME: &'static str;

    /// Claims what is due at `now` until `lease_until`.
    fn claim(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Self::Parcel>, StoreError>> + Send;

    /// Delivers one claimed parcel and records the outcome (which ends its lease).
    fn deliver(&self, parcel: &Self::Parcel) -> impl Future<Output = ()> + Send;
}

/// Claims and delivers, round after round, until the task is aborted.
pub async fn run<C: Courier>(courier: C, signal: Arc<Notify>, clock: Arc<dyn Clock>) {
    loop {
        // Registered before the claim, so that a commit during the round wakes the next one.
        let notified = signal.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let at = clock.now();
        let claimed = match courier
            .claim(at, at + Duration::seconds(LEASE_SECONDS))
            .await
        {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(outbox = C::NAME, %error, "could not claim from the outbox");
                Vec::new()
            }
        };
        for parcel in &claimed {
            courier.deliver(parcel).await;
        }
        if claimed.is_empty() {
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(IDLE_PAUSE) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        let now = datetime!(2026-03-01 0:00 UTC);
        assert_eq!(backoff(1, now) - now, Duration::seconds(5));
        assert_eq!(backoff(2, now) - now, Duration::seconds(10));
        assert_eq!(backoff(5, now) - now, Duration::seconds(80));
        assert_eq!(backoff(9, now) - now, Duration::seconds(1_280));
        assert_eq!(backoff(40, now) - now, Duration::hours(1));
    }
}
