//! The per-address rate limit in front of every route: a remote address over its limit gets
//! 429 with `Retry-After`, in the error envelope of the face its path belongs to. Health,
//! readiness and metrics are never limited (load balancers and scrapers poll them).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;
use crate::faces::{EdgeRefusal, face_of, refuse};

/// Paths no address limit applies to.
const UNLIMITED_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// Middleware: refuses a request whose remote address is over its limit.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(limiter) = &state.addresses else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    if UNLIMITED_PATHS.contains(&path) {
        return next.run(request).await;
    }
    let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() else {
        return next.run(request).await;
    };
    match limiter.admit(&peer.ip().to_string(), state.clock.now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => refuse(face_of(path), EdgeRefusal::TooManyRequests(wait)),
    }
}
