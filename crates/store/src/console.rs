//! What the store keeps for the web console: operators (console users) with their password
//! hash, lockout and whether they are disabled, and their sessions.

use time::OffsetDateTime;

/// Failed logins in a row that lock a console user.
pub const CONSOLE_LOGIN_FAILURES_MAX: i64 = 5;
/// How long a locked console user stays locked.
pub const CONSOLE_LOCKOUT_SECONDS: i64 = 15 * 60;
/// A session ends after this long without a request.
pub const CONSOLE_SESSION_IDLE_SECONDS: i64 = 30 * 60;

/// The shortest console password accepted.
pub const CONSOLE_PASSWORD_CHARS_MIN: usize = 12;
/// The longest console password accepted.
pub const CONSOLE_PASSWORD_CHARS_MAX: usize = 256;
/// The longest console user name.
pub const CONSOLE_USERNAME_CHARS_MAX: usize = 64;

/// Why a console user name cannot be used, if it cannot (it is taken as given, not trimmed).
pub fn username_problem(username: &str) -> Option<String> {
    let chars = username.chars().count();
    (username.trim() != username || chars == 0 || chars > CONSOLE_USERNAME_CHARS_MAX).then(|| {
        format!(
            "the user name must have 1 to {CONSOLE_USERNAME_CHARS_MAX} characters, \
             without spaces at either end"
        )
    })
}

/// Why a console password cannot be used, if it cannot.
pub fn password_problem(password: &str) -> Option<String> {
    let chars = password.chars().count();
    (!(CONSOLE_PASSWORD_CHARS_MIN..=CONSOLE_PASSWORD_CHARS_MAX).contains(&chars)).then(|| {
        format!(
            "the password must have {CONSOLE_PASSWORD_CHARS_MIN} to \
             {CONSOLE_PASSWORD_CHARS_MAX} characters"
        )
    })
}

/// A console user as a login needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub locked_until: Option<OffsetDateTime>,
    /// A disabled user cannot log in and has no sessions.
    pub disabled_at: Option<OffsetDateTime>,
}

/// A console user as operators see it in a list (no password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUserView {
    pub id: String,
    pub username: String,
    pub locked_until: Option<OffsetDateTime>,
    pub disabled_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

impl ConsoleUserView {
    /// `disabled`, `locked` (until `locked_until`, after failed logins) or `active`, at `now`.
    pub fn status(&self, now: OffsetDateTime) -> &'static str {
        if self.disabled_at.is_some() {
            "disabled"
        } else if self.locked_until.is_some_and(|until| until > now) {
            "locked"
        } else {
            "active"
        }
    }
}

/// What an operator changes about a console user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleUserChange {
    /// Ends the user's sessions and refuses their logins.
    Disable,
    Enable,
    /// Lifts a lockout after failed logins.
    Unlock,
    /// A new password (already hashed); also unlocks and ends the user's sessions.
    ResetPassword {
        password_hash: String,
    },
}

impl ConsoleUserChange {
    /// The audit action name.
    pub fn action(&self) -> &'static str {
        match self {
            ConsoleUserChange::Disable => "console_user.disable",
            ConsoleUserChange::Enable => "console_user.enable",
            ConsoleUserChange::Unlock => "console_user.unlock",
            ConsoleUserChange::ResetPassword { .. } => "console_user.reset_password",
        }
    }
}

/// A live console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub user_id: String,
    pub username: String,
    pub csrf_token: String,
    pub expires_at: OffsetDateTime,
}
