//! The operator's API under `/admin/api/v1`: tenants and their settings, client groups,
//! clients and their connection pins, merchant tokens (made and revoked), console users
//! (listed, made, disabled, unlocked, given a new password), the event feed ([`events`]) and webhook endpoints ([`webhooks`]), and
//! read access to vouchers with their
//! ledger, the audit log and the integrity check. JSON in and out; errors are
//! `{"error": {"code", "message"}}`. Every call needs `Authorization: Bearer <admin token>`.
//!
//! Layout: [`error`] is the envelope and how each refusal is answered in it, [`extract`] what
//! every handler starts from (the token, a body, a path, submitting a command); [`tenants`],
//! [`clients`], [`console_users`] and [`vouchers`] hold the handlers of each resource group.

pub(crate) mod branding;
mod clients;
mod console_users;
mod error;
pub mod events;
mod extract;
pub(crate) mod present;
mod tenants;
mod vouchers;
pub(crate) mod webhooks;

use clients::*;
pub use error::AdminError;
pub use extract::{Admin, AdminPath};
use tenants::*;
pub(crate) use tenants::{SettingsBody, settings_from};
use vouchers::*;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

/// Codes generated from a pattern with less randomness than this are too easy to guess.
pub const CODE_PATTERN_ENTROPY_BITS_MIN: f64 = 40.0;
/// Samples a pattern preview returns at most.
const PREVIEW_SAMPLES_MAX: usize = 50;
/// Items per page at most in admin lists.
const ADMIN_PAGE_SIZE_MAX: i64 = 500;
/// Longest names.
const NAME_CHARS_MAX: usize = 255;
/// Longest client type (`pos`, `shop`, ...).
const CLIENT_TYPE_CHARS_MAX: usize = 32;

/// The routes.
pub fn router() -> Router<AppState> {
    let t = "/admin/api/v1/tenants/{tenant}";
    Router::new()
        .route(
            "/admin/api/v1/tenants",
            get(list_tenants).post(create_tenant),
        )
        .route(
            &format!("{t}/settings"),
            get(get_settings).put(put_settings),
        )
        .route(&format!("{t}/settings/preview"), post(preview_pattern))
        .route(
            &format!("{t}/branding"),
            get(branding::show).put(branding::replace),
        )
        .route(
            &format!("{t}/branding/logo"),
            axum::routing::put(branding::put_logo).delete(branding::delete_logo),
        )
        .route(
            &format!("{t}/client-groups"),
            get(list_groups).post(create_group),
        )
        .route(
            &format!("{t}/clients"),
            get(list_clients).post(create_client),
        )
        .route(&format!("{t}/clients/{{client}}/pin"), post(issue_pin))
        .route(
            &format!("{t}/clients/{{client}}/disconnect"),
            post(disconnect_client),
        )
        .route(
            &format!("{t}/merchant-tokens"),
            get(list_merchant_tokens).post(create_merchant_token),
        )
        .route(
            &format!("{t}/merchant-tokens/{{token}}/revoke"),
            post(revoke_merchant_token),
        )
        .route(
            "/admin/api/v1/console-users",
            get(console_users::list).post(console_users::create),
        )
        .route(
            "/admin/api/v1/console-users/{username}/disable",
            post(console_users::disable),
        )
        .route(
            "/admin/api/v1/console-users/{username}/enable",
            post(console_users::enable),
        )
        .route(
            "/admin/api/v1/console-users/{username}/unlock",
            post(console_users::unlock),
        )
        .route(
            "/admin/api/v1/console-users/{username}/password",
            post(console_users::reset_password),
        )
        .route(&format!("{t}/vouchers"), get(list_vouchers))
        .route(&format!("{t}/vouchers/{{voucher}}"), get(show_voucher))
        .route(&format!("{t}/audit"), get(audit))
        .route(&format!("{t}/events"), get(events::feed))
        .route(
            &format!("{t}/webhooks"),
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            &format!("{t}/webhooks/{{endpoint}}"),
            axum::routing::delete(webhooks::delete),
        )
        .route(
            &format!("{t}/webhooks/{{endpoint}}/deliveries"),
            get(webhooks::deliveries),
        )
        .route(
            &format!("{t}/webhooks/{{endpoint}}/redeliver"),
            post(webhooks::redeliver),
        )
        .route(
            &format!("{t}/webhooks/{{endpoint}}/rotate-secret"),
            post(webhooks::rotate_secret),
        )
        .route(
            &format!("{t}/webhooks/{{endpoint}}/test"),
            post(webhooks::test),
        )
        .route(&format!("{t}/integrity"), get(integrity))
}
