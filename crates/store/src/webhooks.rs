//! Webhook endpoints as the store keeps them: where a tenant's events go, the cursor of what was
//! delivered, and the attempts made. Signatures and address rules are the domain's
//! ([`voucherd_domain::webhook`]); delivering is the server's.

use time::OffsetDateTime;

/// An endpoint failing for this long (no delivery since its first failure) is disabled.
pub const WEBHOOK_DISABLE_AFTER_DAYS: i64 = 3;
/// How long a rotated-out secret still signs deliveries, beside the new one.
pub const WEBHOOK_SECRET_GRACE_HOURS: i64 = 24;
/// Attempts kept on record per endpoint; older ones are forgotten as new ones are recorded.
pub const WEBHOOK_DELIVERIES_KEPT: i64 = 1_000;
/// Attempts an endpoint's page of the console lists.
pub const WEBHOOK_DELIVERIES_SHOWN: i64 = 50;

/// An endpoint as the operator sees it (no secret).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    /// Event types or families (`hold.*`); empty: every type.
    pub types: Vec<String>,
    pub allow_private: bool,
    /// The last event number delivered or passed over.
    pub cursor: i64,
    pub attempts: i64,
    pub next_attempt_at: OffsetDateTime,
    pub failing_since: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub disabled_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    /// After a rotation: until when the previous secret still signs too.
    pub previous_secret_until: Option<OffsetDateTime>,
}

/// An endpoint a node claimed to deliver to, with what delivering needs.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookTarget {
    pub pk: i64,
    pub tenant_id: String,
    pub id: String,
    pub url: String,
    pub types: Vec<String>,
    pub allow_private: bool,
    pub secret: String,
    /// The rotated-out secret, while it still signs.
    pub previous_secret: Option<String>,
    pub cursor: i64,
    pub attempts: i64,
    pub failing_since: Option<OffsetDateTime>,
}

/// One attempt to deliver an event.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAttempt {
    pub seq: i64,
    pub kind: String,
    /// The answer's status; `None` when none came.
    pub status: Option<i64>,
    pub latency_ms: i64,
    pub at: OffsetDateTime,
    /// Why it failed; `None` when it was delivered.
    pub error: Option<String>,
}

impl WebhookAttempt {
    /// An attempt that sent nothing: the endpoint's address was refused or could not be found.
    pub fn not_sent(seq: i64, kind: &str, at: OffsetDateTime, error: String) -> WebhookAttempt {
        WebhookAttempt {
            seq,
            kind: kind.to_string(),
            status: None,
            latency_ms: 0,
            at,
            error: Some(error),
        }
    }
}

/// What became of a claimed endpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookProgress {
    /// These attempts were made, in order; the cursor moves past each delivered one.
    Attempted {
        attempts: Vec<WebhookAttempt>,
        /// After a failure: when to try again, or `None` to disable the endpoint.
        retry_at: Option<Option<OffsetDateTime>>,
    },
    /// Nothing it wants after its cursor up to `cursor`: the cursor moves there.
    Idle { cursor: i64 },
}

/// `hold.*,charge.created` → its parts; empty → every type.
pub fn parse_types(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}
