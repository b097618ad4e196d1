//! Request rate limits per key (a caller, a remote address), by the generic cell rate
//! algorithm: each key has a theoretical arrival time that every admitted request pushes one
//! interval further; a request that would push it more than the burst ahead of now is refused
//! with the seconds until it would pass. The state lives in one node's memory, so with several
//! nodes a key gets the limit once per node; time comes from the injected clock.

use std::collections::HashMap;
use std::sync::Mutex;

use time::OffsetDateTime;

/// Keys tracked at most; beyond it, keys whose bucket has refilled are dropped first.
const KEYS_MAX: usize = 100_000;
/// A key may burst to this many seconds' worth of its rate.
const BURST_SECONDS: i128 = 2;
const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Admits at most `per_second` requests per second per key on average.
pub struct RateLimiter {
    interval_nanos: i128,
    burst_nanos: i128,
    arrivals: Mutex<HashMap<String, i128>>,
}

impl RateLimiter {
    /// A limiter of `per_second` requests per second, or `None` when `per_second` is 0 (off).
    pub fn per_second(per_second: u32) -> Option<Self> {
        (per_second > 0).then(|| RateLimiter {
            interval_nanos: NANOS_PER_SECOND / i128::from(per_second),
            burst_nanos: BURST_SECONDS * NANOS_PER_SECOND,
            arrivals: Mutex::new(HashMap::new()),
        })
    }

    /// Admits one request of `key` at `now`, or answers the whole seconds (at least 1) until
    /// it would be admitted.
    pub fn admit(&self, key: &str, now: OffsetDateTime) -> Result<(), u64> {
        let now = now.unix_timestamp_nanos();
        let mut arrivals = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        if arrivals.len() >= KEYS_MAX && !arrivals.contains_key(key) {
            arrivals.retain(|_, tat| *tat > now);
        }
        let tat = arrivals.get(key).copied().unwrap_or(now).max(now);
        let next = tat + self.interval_nanos;
        let ahead = next - now;
        if ahead > self.burst_nanos {
            let wait = ahead - self.burst_nanos;
            let seconds = (wait + NANOS_PER_SECOND - 1) / NANOS_PER_SECOND;
            return Err(u64::try_from(seconds.max(1)).unwrap_or(1));
        }
        arrivals.insert(key.to_string(), next);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    #[test]
    fn a_key_bursts_to_twice_its_rate_then_gets_one_request_per_interval() {
        let limiter = RateLimiter::per_second(5).expect("on");
        let now = datetime!(2026-01-01 0:00 UTC);
        for _ in 0..10 {
            assert_eq!(limiter.admit("a", now), Ok(()));
        }
        assert_eq!(limiter.admit("a", now), Err(1));
        assert_eq!(limiter.admit("b", now), Ok(()), "keys are independent");
        let later = now + Duration::milliseconds(200);
        assert_eq!(limiter.admit("a", later), Ok(()));
        assert_eq!(limiter.admit("a", later), Err(1));
    }

    #[test]
    fn the_admitted_count_over_a_long_run_is_the_rate_plus_the_burst() {
        let limiter = RateLimiter::per_second(50).expect("on");
        let start = datetime!(2026-01-01 0:00 UTC);
        let mut admitted = 0;
        // 1 000 attempts a second for 10 seconds.
        for ms in 0..10_000 {
            if limiter
                .admit("k", start + Duration::milliseconds(ms))
                .is_ok()
            {
                admitted += 1;
            }
        }
        assert!((599..=601).contains(&admitted), "admitted {admitted}");
    }

    #[test]
    fn zero_turns_the_limit_off() {
        assert!(RateLimiter::per_second(0).is_none());
    }
}
