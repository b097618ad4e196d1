//! What the store keeps for the web console: operators (console users) with their password
//! hash and lockout, and their sessions.

use time::OffsetDateTime;

/// Failed logins in a row that lock a console user.
pub const CONSOLE_LOGIN_FAILURES_MAX: i64 = 5;
/// How long a locked console user stays locked.
pub const CONSOLE_LOCKOUT_SECONDS: i64 = 15 * 60;
/// A session ends after this long without a request.
pub const CONSOLE_SESSION_IDLE_SECONDS: i64 = 30 * 60;

/// A console user as a login needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub locked_until: Option<OffsetDateTime>,
}

/// A live console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub user_id: String,
    pub username: String,
    pub csrf_token: String,
    pub expires_at: OffsetDateTime,
}
