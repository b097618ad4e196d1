//! The Front Payment "Connect" reservations face: `/api/v1/connect/reservations/...`, the
//! hosted payment page `/pay/{reservationUuid}`, and the status callbacks.
//!
//! A merchant authenticates with a static merchant token (`Authorization: Bearer`). Each
//! handler validates its body Laravel style ([`validate`], [`input`]), submits one store
//! command, and answers in Front Payment's envelope ([`envelope`]).

pub mod callbacks;
pub mod envelope;
mod input;
pub(crate) mod page;
mod present;
mod reservations;
pub mod validate;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use voucherd_domain::secret;

use crate::AppState;
use crate::wire::bearer;

/// The routes of the face.
pub fn router() -> Router<AppState> {
    let base = "/api/v1/connect/reservations";
    Router::new()
        .route(&format!("{base}/submit"), post(reservations::submit))
        .route(&format!("{base}/create"), post(reservations::create))
        .route(
            &format!("{base}/details/{{id}}"),
            get(reservations::details),
        )
        .route(
            &format!("{base}/capture/{{id}}"),
            post(reservations::capture),
        )
        .route(&format!("{base}/charge/{{id}}"), post(reservations::charge))
        .route(
            &format!("{base}/cancel/{{id}}"),
            get(reservations::cancel).post(reservations::cancel),
        )
        .route(
            &format!("{base}/complete/{{id}}"),
            post(reservations::complete),
        )
        .route(&format!("{base}/resend/{{id}}"), post(reservations::resend))
        .route(&format!("{base}/refund/{{id}}"), post(reservations::refund))
        .route(
            &format!("{base}/history"),
            get(reservations::history_last_day),
        )
        .route(
            &format!("{base}/history/{{start}}/{{end}}"),
            get(reservations::history),
        )
        .route("/pay/{id}", get(page::page).post(page::pay))
        .route("/pay/{id}/logo", get(page::logo))
}

/// A merchant calling with its token.
#[derive(Debug, Clone)]
pub struct Merchant {
    pub tenant_id: String,
    pub token_id: String,
}

impl FromRequestParts<AppState> for Merchant {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let unauthenticated =
            || envelope::stored(envelope::error(401, "unauthenticated", Vec::new()));
        let token = bearer(parts).ok_or_else(unauthenticated)?;
        let grant = state
            .store
            .merchant_grant(&secret::digest(token))
            .await
            .map_err(|e| envelope::store_failure(&e))?
            .ok_or_else(unauthenticated)?;
        state
            .admit_caller(|| format!("front/{}/{}", grant.tenant_id, grant.token_id))
            .map_err(envelope::too_many_requests)?;
        Ok(Merchant {
            tenant_id: grant.tenant_id,
            token_id: grant.token_id,
        })
    }
}

/// The payment page URL of a reservation.
fn payment_url(state: &AppState, headers: &axum::http::HeaderMap, id: &str) -> String {
    crate::jtl::pages::list_url(
        state.public_url.as_deref().map(String::as_str),
        headers,
        &format!("/pay/{id}"),
    )
}

/// A 417 answer outside the command path.
fn invalid(errors: Vec<String>) -> Response {
    envelope::stored(envelope::invalid(errors)).into_response()
}
