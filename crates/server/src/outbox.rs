//! The one outbox mechanism behind every message voucherd sends out: Front Payment's status
//! callbacks and the webhook deliveries. Each kind is a [`Courier`]: it claims what is due from
//! the store with a lease (so that with several nodes exactly one sends a parcel at a time, and a
//! node that dies leaves its parcels to another after the lease), delivers, and records the
//! outcome, retrying failures on one backoff schedule. [`run`] is the loop every node runs per
//! kind: it wakes when a write commits (the store's event signal) or after a short pause. Under
//! steady writes it starts a round at most every [`ROUND_INTERVAL_MIN`]: one round serves the
//! commits of that interval together, instead of a read of the store for each of hundreds of
//! commits a second.
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
/// The least time from one round's start to the next one's, when a commit wakes the loop: what
/// a message may wait at most for the commits around it to be served with it.
pub const ROUND_INTERVAL_MIN: StdDuration = StdDuration::from_millis(25);

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
        let round_started = tokio::time::Instant::now();
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
                () = &mut notified => {
                    // What commits meanwhile is seen by the next round's claim.
                    tokio::time::sleep_until(round_started + ROUND_INTERVAL_MIN).await;
                }
                () = tokio::time::sleep(IDLE_PAUSE) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::clock::SystemClock;
    use time::macros::datetime;

    /// A courier with nothing to send, counting its claims.
    struct CountingCourier(Arc<AtomicUsize>);

    impl Courier for CountingCourier {
        type Parcel = ();
        const NAME: &'static str = "counting";

        async fn claim(
            &self,
            _now: OffsetDateTime,
            _lease_until: OffsetDateTime,
        ) -> Result<Vec<()>, StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        }

        async fn deliver(&self, _parcel: &()) {}
    }

    /// Lets the loop run until it waits again, without moving the clock.
    async fn settle() {
        for _ in 0..16 {
            tokio::task::yield_now().await;
        }
    }

    /// On the runtime's paused clock: a commit every millisecond for 100 ms starts a round at
    /// most every [`ROUND_INTERVAL_MIN`], while a commit after a quiet spell is served at once.
    #[tokio::test(start_paused = true)]
    async fn commits_in_quick_succession_share_a_round() {
        let claims = Arc::new(AtomicUsize::new(0));
        let signal = Arc::new(Notify::new());
        let courier = CountingCourier(claims.clone());
        let outbox = tokio::spawn(run(courier, signal.clone(), Arc::new(SystemClock)));
        settle().await;
        assert_eq!(claims.load(Ordering::SeqCst), 1, "the first round");

        for _ in 0..100 {
            signal.notify_waiters();
            tokio::time::advance(StdDuration::from_millis(1)).await;
            settle().await;
        }
        let busy = claims.load(Ordering::SeqCst) - 1;
        let interval = ROUND_INTERVAL_MIN.as_millis();
        let most = usize::try_from(100 / interval).unwrap_or(usize::MAX) + 1;
        assert!((1..=most).contains(&busy), "{busy} rounds for 100 commits");

        // Quiet for longer than the interval (but less than the idle pause), then one commit.
        tokio::time::advance(ROUND_INTERVAL_MIN * 2).await;
        settle().await;
        let before = claims.load(Ordering::SeqCst);
        signal.notify_waiters();
        settle().await;
        assert_eq!(claims.load(Ordering::SeqCst), before + 1, "served at once");
        outbox.abort();
    }

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
