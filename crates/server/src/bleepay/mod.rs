//! The bleepay face: payer accounts (`/api/v1/auth/...`), contexts a payer opens over their
//! vouchers, and the short-lived 6-digit voucher codes a payee reserves, redeems for an amount,
//! and the payer resolves (`/api/v1/vouchers/...`). Plus voucherd's payer wallet
//! (`/api/v1/payers/me/vouchers`), where a payer adds vouchers by code and PIN.
//!
//! Every call but sign-up and sign-in carries `Authorization: Bearer <token>`; a payee token
//! (signed in with a context code) acts only inside its context. Answers are bare objects;
//! failures are `{"statusCode", "code", "message"}` ([`reply`]).

mod auth;
mod codes;
mod contexts;
mod input;
mod present;
pub mod reply;

use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;
use voucherd_domain::secret;
use voucherd_store::bleepay::BleepayCaller;
use voucherd_store::{Actor, Command};

use crate::AppState;
use crate::submit::{self as submission, Keyed, Render};
use crate::wire::bearer;
use crate::wire::{BodyError, WriteRequestError, read_write_request};

/// The header naming the tenant at sign-up and sign-in (tokens carry it afterwards).
pub const TENANT_HEADER: &str = "x-tenant-id";

/// The routes of the face.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/sign-up", post(auth::sign_up))
        .route("/api/v1/auth/sign-in", post(auth::sign_in))
        .route(
            "/api/v1/payers/me/vouchers",
            get(auth::payer_vouchers).post(auth::add_voucher),
        )
        .route(
            "/api/v1/vouchers/contexts/context-open",
            post(contexts::open),
        )
        .route("/api/v1/vouchers/contexts", get(contexts::list))
        .route("/api/v1/vouchers/contexts/{id}", get(contexts::one))
        .route(
            "/api/v1/vouchers/contexts/{id}/context-close",
            post(contexts::close),
        )
        .route("/api/v1/vouchers/reserve-voucher", post(codes::reserve))
        .route("/api/v1/vouchers", get(codes::list))
        .route("/api/v1/vouchers/", get(codes::list))
        .route("/api/v1/vouchers/{id}", get(codes::one))
        .route("/api/v1/vouchers/{id}/redeem-voucher", post(codes::redeem))
        .route(
            "/api/v1/vouchers/{id}/resolve-voucher",
            post(codes::resolve),
        )
        .route(
            "/api/v1/vouchers/{id}/discard-voucher",
            post(codes::discard),
        )
}

/// The tenant a sign-up or sign-in is for: `X-Tenant-Id`, else `default`.
fn tenant_of(headers: &HeaderMap) -> String {
    headers
        .get(TENANT_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty() && t.len() <= 64)
        .unwrap_or(voucherd_store::model::DEFAULT_TENANT_ID)
        .to_string()
}

/// Whoever calls with a bleepay bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant_id: String,
    pub who: BleepayCaller,
}

impl Caller {
    fn actor(&self) -> Actor {
        match &self.who {
            BleepayCaller::Payer(id) => Actor::Payer(id.clone()),
            BleepayCaller::Payee { context_id } => Actor::Payee(context_id.clone()),
        }
    }

    /// A stable name for throttles and idempotency keys.
    fn key(&self) -> String {
        match &self.who {
            BleepayCaller::Payer(id) => format!("payer:{id}"),
            BleepayCaller::Payee { context_id } => format!("payee:{context_id}"),
        }
    }

    /// The payer id; `None` for a payee token (answer [`payer_only`]).
    fn payer(&self) -> Option<&str> {
        match &self.who {
            BleepayCaller::Payer(id) => Some(id),
            BleepayCaller::Payee { .. } => None,
        }
    }
}

/// The answer to a payee token on a payer-only call.
fn payer_only() -> Response {
    reply::forbidden(
        "This call needs a payer token; a payee token acts only on voucher codes of its context.",
    )
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let token = bearer(parts).ok_or_else(reply::unauthorized)?;
        let grant = state
            .store
            .bleepay_grant(&secret::digest(token), state.clock.now())
            .await
            .map_err(|e| reply::store_failure(&e))?
            .ok_or_else(reply::unauthorized)?;
        let caller = Caller {
            tenant_id: grant.tenant_id,
            who: grant.caller,
        };
        state
            .admit_caller(|| format!("bleepay/{}/{}", caller.tenant_id, caller.key()))
            .map_err(|wait| reply::too_many(wait, "Too many requests."))?;
        Ok(caller)
    }
}

/// The body, request id and idempotency key of a write.
struct Write {
    body: Value,
    request_id: String,
    keyed: Option<Keyed>,
}

/// Reads a write request; `caller` names whose idempotency keys these are.
async fn read(caller: Option<String>, request: Request) -> Result<Write, Response> {
    let write = read_write_request(request).await.map_err(|e| {
        if e == WriteRequestError::Body(BodyError::TimedOut) {
            return reply::request_timeout();
        }
        let problem = match e {
            WriteRequestError::KeyInvalid => (
                "Idempotency-Key".to_string(),
                "must be 1 to 255 visible ASCII characters".to_string(),
            ),
            WriteRequestError::Body(_) => (
                "body".to_string(),
                "must be at most 64 KiB of JSON".to_string(),
            ),
        };
        reply::invalid(&[problem])
    })?;
    let body = input::object(&write.bytes).map_err(|p| reply::invalid(&p))?;
    let keyed = match (caller, write.idempotency) {
        (Some(caller), Some((key, request_digest))) => Some(Keyed {
            caller,
            key,
            request_digest,
        }),
        _ => None,
    };
    Ok(Write {
        body,
        request_id: write.request_id,
        keyed,
    })
}

/// Submits one command and answers it.
async fn execute(
    state: &AppState,
    tenant_id: &str,
    actor: Actor,
    write: Write,
    command: Command,
    render: Render,
) -> submission::Answer {
    submission::submit(
        state,
        tenant_id,
        actor,
        &write.request_id,
        command,
        write.keyed,
        render,
    )
    .await
}
