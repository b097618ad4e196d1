//! What every request handler shares.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use voucherd_domain::secret;
use voucherd_store::Store;

use crate::clock::Clock;
use crate::config::Limits;
use crate::rate_limit::RateLimiter;
use crate::throttle::Throttle;
use crate::token_cache::TokenCache;

/// Misses (unknown codes or wrong PINs) a client may make per window before it is throttled.
pub const CODE_MISSES_PER_WINDOW_MAX: u32 = 20;
/// Connection attempts one address may make per window on `/v1/clients/connect`.
pub const CONNECT_ATTEMPTS_PER_WINDOW_MAX: u32 = 10;
/// The window of both limits.
pub const THROTTLE_WINDOW_SECONDS: i64 = 60;

/// The shared state of the application: one pointer, so that handing it to each request's
/// layers and handler is one reference count, not one per field (perf showed the per-field
/// clones and drops at about 4 % of the server's CPU under load).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] points to.
#[derive(Clone)]
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// The SHA-256 digest of the admin token.
    pub admin_token_digest: Arc<String>,
    pub public_url: Option<Arc<String>>,
    pub metrics: PrometheusHandle,
    /// Unknown voucher codes and wrong PINs, per client.
    pub code_misses: Arc<Throttle>,
    /// Connection pin attempts, per remote address.
    pub connect_attempts: Arc<Throttle>,
    /// Recently checked access tokens.
    pub tokens: Arc<TokenCache>,
    /// Requests per authenticated caller; `None` when off.
    pub callers: Option<Arc<RateLimiter>>,
    /// Requests per remote address; `None` when off.
    pub addresses: Option<Arc<RateLimiter>>,
    /// How long a client may take to send a request's head or body.
    pub client_timeout: std::time::Duration,
    /// Reverse proxies whose `X-Forwarded-For` names the client ([`crate::forwarded`]).
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Builds the state; `admin_token` is the plain admin token.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        admin_token_digest: String,
        public_url: Option<String>,
        limits: Limits,
    ) -> Self {
        AppState(Arc::new(Shared {
            store,
            clock,
            admin_token_digest: Arc::new(admin_token_digest),
            public_url: public_url.map(|u| Arc::new(u.trim_end_matches('/').to_string())),
            metrics: crate::observe::metrics_handle(),
            code_misses: Arc::new(Throttle::new(
                CODE_MISSES_PER_WINDOW_MAX,
                THROTTLE_WINDOW_SECONDS,
            )),
            connect_attempts: Arc::new(Throttle::new(
                CONNECT_ATTEMPTS_PER_WINDOW_MAX,
                THROTTLE_WINDOW_SECONDS,
            )),
            tokens: Arc::new(TokenCache::default()),
            callers: RateLimiter::per_second(limits.caller_rate_limit).map(Arc::new),
            addresses: RateLimiter::per_second(limits.address_rate_limit).map(Arc::new),
            client_timeout: std::time::Duration::from_secs(limits.client_timeout_seconds.max(1)),
            trusted_proxies: Arc::new(Vec::new()),
        }))
    }

    /// The same state, taking the client's address from these proxies' `X-Forwarded-For`.
    pub fn with_trusted_proxies(self, proxies: Vec<std::net::IpAddr>) -> Self {
        let mut shared = Arc::unwrap_or_clone(self.0);
        shared.trusted_proxies = Arc::new(proxies);
        AppState(Arc::new(shared))
    }
}

impl Shared {
    /// Admits one request of an authenticated caller (`key` names it across faces; made
    /// only when the limit is on), or answers the seconds it must wait.
    pub fn admit_caller(&self, key: impl FnOnce() -> String) -> Result<(), u64> {
        match &self.callers {
            Some(limiter) => limiter.admit(&key(), self.clock.now()),
            None => Ok(()),
        }
    }

    /// Whether `token` is the admin token (compared in constant time over digests).
    pub fn is_admin_token(&self, token: &str) -> bool {
        secret::constant_time_eq(&secret::digest(token), &self.admin_token_digest)
    }
}
