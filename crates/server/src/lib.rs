//! The voucherd service.
//!
//! Layout:
//! - [`run`] serves [`app`] on a listener until a shutdown signal; `main` and the tests call it.
//! - [`jtl`] speaks the JTL Voucher Cloud API v1.8 (`/v1`, `/oauth/token`).
//! - [`front`] speaks Front Payment's "Connect" reservations, with the payment page and
//!   the status callbacks.
//! - [`bleepay`] speaks bleepay's payer/payee contexts with 6-digit voucher codes.
//! - [`admin`] is the operator's API (`/admin/api/v1`); [`console`] its web console
//!   (`/admin/`), whose voucher series [`issuer`] issues in the background.
//! - [`ops`] answers `/healthz`, `/readyz`, `/metrics`, `/openapi.json` and `/docs`.
//! - [`submit`] runs a command through the store with idempotency, for every face.
//! - [`observe`] gives every request an id, a log line and metrics.
//! - [`connections`] accepts connections with head limits and timeouts; per-address and
//!   per-caller rate limits ([`rate_limit`]) guard every face; `edge` refuses, before any face
//!   reads a request, bodies over the limit and text holding NUL, in the face's envelope.
//! - [`serve_lock`] keeps a second `voucherd serve` off an SQLite file already served.
//! - [`clock`], [`config`], [`state`], [`throttle`], [`sweeper`], [`cli`] support them.
//!
//! A face parses its wire format into a store command, submits it, and formats the outcome in
//! its own envelope; no face talks SQL and no store knows which face called.

mod address_limit;
pub mod admin;
pub mod bleepay;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connections;
pub mod console;
mod edge;
mod faces;
pub mod forwarded;
pub mod front;
pub mod issuer;
pub mod jtl;
pub mod observe;
pub mod openapi;
pub mod ops;
pub mod outbox;
pub mod passwords;
pub mod rate_limit;
pub mod serve_lock;
pub mod state;
pub mod submit;
pub mod sweeper;
pub mod throttle;
pub mod token_cache;
pub mod webhooks;
pub mod wire;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

pub use config::Config;
pub use state::AppState;

/// The whole HTTP application over a prepared state.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(jtl::router())
        .merge(front::router())
        .merge(bleepay::router())
        .merge(admin::router())
        .merge(console::router())
        .merge(ops::router())
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(axum::middleware::from_fn(edge::layer))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            address_limit::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            forwarded::layer,
        ))
        .with_state(state)
}

/// Serves voucherd on `listener` until `shutdown` completes, then finishes the requests in
/// flight. The background tasks (sweeper, callbacks, series issuer) stop with it.
pub async fn run(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(sweeper::run(state.store.clone(), state.clock.clone()));
    let callbacks = tokio::spawn(front::callbacks::run(
        state.store.clone(),
        state.clock.clone(),
    ));
    let issuer = tokio::spawn(issuer::run(state.store.clone(), state.clock.clone()));
    let webhooks = tokio::spawn(webhooks::run(state.store.clone(), state.clock.clone()));
    let metrics_upkeep = tokio::spawn(observe::run_metrics_upkeep());
    let client_timeout = state.client_timeout;
    let served = connections::serve(listener, app(state), client_timeout, shutdown).await;
    sweeper.abort();
    callbacks.abort();
    issuer.abort();
    webhooks.abort();
    metrics_upkeep.abort();
    served
}

/// Opens the store named by a database URL: `sqlite://...` or `postgres://...`.
pub async fn open_store(database_url: &str) -> anyhow::Result<Arc<dyn voucherd_store::Store>> {
    if database_url.starts_with("sqlite:") {
        Ok(Arc::new(voucherd_store_sqlite::open(database_url).await?))
    } else if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(voucherd_store_postgres::open(database_url).await?))
    } else {
        anyhow::bail!("the database URL must start with sqlite:// or postgres://")
    }
}

/// The state for `config`: the store opened, migrated and bootstrapped, and the admin token
/// resolved. When no token is configured or stored, one is generated and returned (once) so
/// that the caller can show it.
pub async fn prepare(
    config: &Config,
    clock: Arc<dyn clock::Clock>,
) -> anyhow::Result<(AppState, Option<String>)> {
    let store = open_store(&config.database_url).await?;
    store.bootstrap(clock.now()).await?;
    let (digest, generated) =
        resolve_admin_token(store.as_ref(), config.admin_token.as_deref()).await?;
    let state = AppState::new(
        store,
        clock,
        digest,
        config.public_url.clone(),
        config.limits,
    )
    .with_trusted_proxies(config.trusted_proxies.clone());
    Ok((state, generated))
}

/// Length of a generated admin token.
const ADMIN_TOKEN_CHARS: usize = 40;
/// A configured admin token shorter than this is warned about: it may be guessed.
pub const ADMIN_TOKEN_CHARS_MIN: usize = 32;

async fn resolve_admin_token(
    store: &dyn voucherd_store::Store,
    configured: Option<&str>,
) -> anyhow::Result<(String, Option<String>)> {
    use voucherd_domain::secret;
    if let Some(token) = configured.filter(|t| !t.is_empty()) {
        if token.chars().count() < ADMIN_TOKEN_CHARS_MIN {
            tracing::warn!(
                characters = token.chars().count(),
                "the admin token is shorter than {ADMIN_TOKEN_CHARS_MIN} characters: \
                 choose a longer, random one"
            );
        }
        return Ok((secret::digest(token), None));
    }
    if let Some(digest) = store.admin_token_digest().await? {
        return Ok((digest, None));
    }
    let token = secret::random_string(secret::ALPHANUMERIC, ADMIN_TOKEN_CHARS);
    if store
        .store_admin_token_digest(&secret::digest(&token))
        .await?
    {
        return Ok((secret::digest(&token), Some(token)));
    }
    // Another node stored one first: use that one; its node printed it.
    let digest = store
        .admin_token_digest()
        .await?
        .ok_or_else(|| anyhow::anyhow!("admin token vanished"))?;
    Ok((digest, None))
}
