//! The per-address rate limit in front of every route: a remote address over its limit gets
//! 429 with `Retry-After`, in the error envelope of the face its path belongs to. Health,
//! readiness and metrics are never limited (load balancers and scrapers poll them).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::AppState;

/// Paths no address limit applies to.
const UNLIMITED_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// The face a path belongs to, for the shape of its refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Face {
    Jtl,
    Front,
    Bleepay,
    AdminApi,
    /// HTML pages: the console and the payment page.
    Page,
    Operations,
}

fn face_of(path: &str) -> Face {
    if path.starts_with("/v1/") || path.starts_with("/oauth/") {
        Face::Jtl
    } else if path.starts_with("/api/v1/connect/") {
        Face::Front
    } else if path.starts_with("/pay/") {
        Face::Page
    } else if path.starts_with("/api/") {
        Face::Bleepay
    } else if path.starts_with("/admin/api/") {
        Face::AdminApi
    } else if path == "/admin" || path.starts_with("/admin/") {
        Face::Page
    } else {
        Face::Operations
    }
}

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
        Err(wait) => refusal(face_of(path), wait),
    }
}

/// 429 in the face's envelope, with `Retry-After`.
fn refusal(face: Face, wait: u64) -> Response {
    let mut response = match face {
        Face::Jtl => crate::jtl::error::JtlError::TooManyRequests(wait).into_response(),
        Face::Front => crate::front::envelope::too_many_requests(wait),
        Face::Bleepay => crate::bleepay::reply::too_many(wait, "Too many requests."),
        Face::AdminApi => crate::admin::AdminError::too_many_requests(wait).into_response(),
        Face::Page => (
            StatusCode::TOO_MANY_REQUESTS,
            Html(format!(
                "<!doctype html><title>Too many requests</title><p>Too many requests from this address. Try again in {wait} seconds.</p>"
            )),
        )
            .into_response(),
        Face::Operations => crate::ops::too_many_requests(),
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_face_is_told_apart_by_its_path() {
        assert_eq!(face_of("/v1/reservations"), Face::Jtl);
        assert_eq!(face_of("/oauth/token"), Face::Jtl);
        assert_eq!(face_of("/api/v1/connect/reservations/create"), Face::Front);
        assert_eq!(face_of("/pay/abc"), Face::Page);
        assert_eq!(face_of("/api/v1/vouchers/contexts"), Face::Bleepay);
        assert_eq!(face_of("/admin/api/v1/tenants"), Face::AdminApi);
        assert_eq!(face_of("/admin/"), Face::Page);
        assert_eq!(face_of("/admin"), Face::Page);
        assert_eq!(face_of("/openapi.json"), Face::Operations);
    }
}
