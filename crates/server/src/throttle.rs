//! A fixed-window counter per key, for guessing limits (voucher codes, connection pins). It
//! lives in one node's memory: with several nodes each enforces its own limit, which bounds an
//! attacker's rate by the number of nodes.

use std::collections::HashMap;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// Keys tracked at most; beyond it, windows that ended are dropped first.
const KEYS_MAX: usize = 100_000;

/// Counts events per key in windows of fixed length.
pub struct Throttle {
    max: u32,
    window: Duration,
    counts: Mutex<HashMap<String, (OffsetDateTime, u32)>>,
}

impl Throttle {
    pub fn new(max: u32, window_seconds: i64) -> Self {
        Throttle {
            max,
            window: Duration::seconds(window_seconds),
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// If `key` has used up its window, the seconds until it may try again.
    pub fn blocked_for(&self, key: &str, now: OffsetDateTime) -> Option<u64> {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let (start, count) = counts.get(key)?;
        let ends = *start + self.window;
        (ends > now && *count >= self.max)
            .then(|| u64::try_from((ends - now).whole_seconds().max(1)).unwrap_or(1))
    }

    /// Counts one event for `key`.
    pub fn record(&self, key: &str, now: OffsetDateTime) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= KEYS_MAX {
            let window = self.window;
            counts.retain(|_, (start, _)| *start + window > now);
        }
        let entry = counts.entry(key.to_string()).or_insert((now, 0));
        if entry.0 + self.window <= now {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_key_is_blocked_after_its_maximum_until_the_window_ends() {
        let t = Throttle::new(3, 60);
        let now = datetime!(2026-01-01 0:00 UTC);
        for _ in 0..3 {
            assert_eq!(t.blocked_for("a", now), None);
            t.record("a", now);
        }
        assert_eq!(t.blocked_for("a", now + Duration::seconds(10)), Some(50));
        assert_eq!(t.blocked_for("b", now), None);
        assert_eq!(t.blocked_for("a", now + Duration::seconds(60)), None);
    }
}
