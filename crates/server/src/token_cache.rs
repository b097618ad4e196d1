//! Access-token checks without a database round trip on every request. A grant read from the
//! store is remembered for at most [`TOKEN_CACHE_SECONDS`]; after that it is read again, so a
//! revocation made on any node (disconnect, reconnect) takes effect everywhere within that
//! time, and on the node that made it at once ([`TokenCache::forget_client`]). Expiry is
//! checked against the clock on every use, cached or not.

use std::collections::HashMap;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};
use voucherd_store::model::TokenGrant;

/// How long a grant may be used without asking the store again.
pub const TOKEN_CACHE_SECONDS: i64 = 1;
/// Grants remembered at most; when full, the cache starts over (it is only a cache).
const TOKEN_CACHE_ENTRIES_MAX: usize = 100_000;

/// Recently read grants by token digest.
#[derive(Default)]
pub struct TokenCache {
    grants: Mutex<HashMap<String, (OffsetDateTime, TokenGrant)>>,
}

impl TokenCache {
    /// A grant read less than [`TOKEN_CACHE_SECONDS`] ago and not expired at `now`.
    pub fn get(&self, digest: &str, now: OffsetDateTime) -> Option<TokenGrant> {
        let grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        let (read_at, grant) = grants.get(digest)?;
        let fresh = now >= *read_at && now - *read_at < Duration::seconds(TOKEN_CACHE_SECONDS);
        (fresh && grant.expires_at > now).then(|| grant.clone())
    }

    /// Remembers a grant read from the store at `now`.
    pub fn put(&self, digest: &str, grant: TokenGrant, now: OffsetDateTime) {
        let mut grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        if grants.len() >= TOKEN_CACHE_ENTRIES_MAX {
            grants.clear();
        }
        grants.insert(digest.to_string(), (now, grant));
    }

    /// Drops every grant of a client whose credentials this node just revoked (client ids
    /// are unique across tenants).
    pub fn forget_client(&self, client_id: &str) {
        let mut grants = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        grants.retain(|_, (_, g)| g.client_id != client_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn grant(expires_at: OffsetDateTime) -> TokenGrant {
        TokenGrant {
            tenant_id: "t".into(),
            client_id: "c".into(),
            scopes: vec![],
            expires_at,
        }
    }

    #[test]
    fn a_grant_is_reused_for_at_most_one_second() {
        let cache = TokenCache::default();
        let now = datetime!(2026-01-01 0:00 UTC);
        cache.put("d", grant(now + Duration::hours(1)), now);
        assert!(cache.get("d", now + Duration::milliseconds(999)).is_some());
        assert!(cache.get("d", now + Duration::seconds(1)).is_none());
    }

    #[test]
    fn an_expired_or_forgotten_grant_is_not_used() {
        let cache = TokenCache::default();
        let now = datetime!(2026-01-01 0:00 UTC);
        cache.put("d", grant(now + Duration::milliseconds(500)), now);
        assert!(cache.get("d", now + Duration::milliseconds(500)).is_none());
        cache.put("e", grant(now + Duration::hours(1)), now);
        cache.forget_client("c");
        assert!(cache.get("e", now).is_none());
    }
}
