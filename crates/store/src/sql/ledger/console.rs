//! Console users and sessions. Not money, but kept beside everything else so that a login,
//! a lockout or a logout is as durable as any other change, and audited.

use serde_json::json;
use time::Duration;
use voucherd_domain::{DomainError, secret};

use super::{Run, Step, TOKEN_CHARS, as_stored, refuse};
use crate::StoreError;
use crate::command::Outcome;
use crate::console::{
    CONSOLE_LOCKOUT_SECONDS, CONSOLE_LOGIN_FAILURES_MAX, CONSOLE_SESSION_IDLE_SECONDS,
    ConsoleUserChange,
};
use crate::sql::{SqlExec, console_reads};

impl<T: SqlExec> Run<'_, T> {
    async fn console_audit(
        &mut self,
        action: &str,
        user_id: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        let tenant_id = self.ctx.tenant_id.clone();
        self.audit(&tenant_id, action, "console_user", user_id, detail)
            .await
    }

    pub(super) async fn create_console_user(
        &mut self,
        username: &str,
        password_hash: &str,
    ) -> Step<Outcome> {
        let taken = self
            .exists(
                "SELECT 1 FROM console_users WHERE username = $1",
                vec![username.into()],
            )
            .await?;
        if taken {
            return refuse(DomainError::ConsoleUsernameTaken);
        }
        let id = format!("op_{}", secret::opaque_id());
        self.tx
            .execute(
                "INSERT INTO console_users (id, username, password_hash, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4)",
                vec![
                    id.as_str().into(),
                    username.into(),
                    password_hash.into(),
                    self.now().into(),
                ],
            )
            .await?;
        self.console_audit("console_user.create", &id, json!({ "username": username }))
            .await?;
        Ok(Ok(Outcome::ConsoleUser {
            id,
            username: username.to_string(),
        }))
    }

    /// Disables, enables or unlocks a console user or resets their password, audited. Disabling
    /// and a new password end the user's sessions; a new password also lifts a lockout.
    pub(super) async fn change_console_user(
        &mut self,
        username: &str,
        change: &ConsoleUserChange,
    ) -> Step<Outcome> {
        let Some(user) = console_reads::user(self.tx, username).await? else {
            return refuse(DomainError::ConsoleUserNotFound);
        };
        let now = self.now();
        let (assignments, ends_sessions, mut params): (&str, bool, Vec<_>) = match change {
            ConsoleUserChange::Disable => (
                "disabled_at = COALESCE(disabled_at, $3)",
                true,
                vec![now.into()],
            ),
            ConsoleUserChange::Enable => ("disabled_at = NULL", false, vec![]),
            ConsoleUserChange::Unlock => ("locked_until = NULL, failed_logins = 0", false, vec![]),
            ConsoleUserChange::ResetPassword { password_hash } => (
                "password_hash = $3, locked_until = NULL, failed_logins = 0",
                true,
                vec![password_hash.as_str().into()],
            ),
        };
        params.splice(0..0, [user.id.as_str().into(), now.into()]);
        self.tx
            .execute(
                &format!("UPDATE console_users SET {assignments}, updated_at = $2 WHERE id = $1"),
                params,
            )
            .await?;
        if ends_sessions {
            self.tx
                .execute(
                    "DELETE FROM console_sessions WHERE user_pk = \
                     (SELECT pk FROM console_users WHERE id = $1)",
                    vec![user.id.as_str().into()],
                )
                .await?;
        }
        self.console_audit(change.action(), &user.id, json!({ "username": username }))
            .await?;
        let view = console_reads::user_view_named(self.tx, username)
            .await?
            .ok_or_else(|| StoreError::Other("a console user vanished while it changed".into()))?;
        Ok(Ok(Outcome::ConsoleUserChanged(view)))
    }

    pub(super) async fn console_login_failed(&mut self, username: &str) -> Step<Outcome> {
        let lock = format!(
            "SELECT pk, id, failed_logins FROM console_users WHERE username = $1{}",
            self.dialect.lock_clause()
        );
        let Some(row) = self.tx.fetch_optional(&lock, vec![username.into()]).await? else {
            return refuse(DomainError::ConsoleUserNotFound);
        };
        let mut r = row.reader();
        let (pk, id, failures) = (r.int()?, r.text()?, r.int()? + 1);
        let locked_until = (failures >= CONSOLE_LOGIN_FAILURES_MAX)
            .then(|| self.now() + Duration::seconds(CONSOLE_LOCKOUT_SECONDS));
        self.tx
            .execute(
                "UPDATE console_users SET failed_logins = $2, \
                 locked_until = COALESCE($3, locked_until), updated_at = $4 WHERE pk = $1",
                vec![
                    pk.into(),
                    (if locked_until.is_some() { 0 } else { failures }).into(),
                    locked_until.into(),
                    self.now().into(),
                ],
            )
            .await?;
        if locked_until.is_some() {
            self.console_audit("console.locked", &id, json!({ "failures": failures }))
                .await?;
        }
        Ok(Ok(Outcome::ConsoleLoginCounted {
            locked_until: locked_until.map(as_stored).transpose()?,
        }))
    }

    pub(super) async fn open_console_session(&mut self, user_id: &str) -> Step<Outcome> {
        let Some(row) = self
            .tx
            .fetch_optional(
                "SELECT pk FROM console_users WHERE id = $1",
                vec![user_id.into()],
            )
            .await?
        else {
            return refuse(DomainError::ConsoleUserNotFound);
        };
        let user_pk = row.reader().int()?;
        let token = secret::random_string(secret::ALPHANUMERIC, TOKEN_CHARS);
        let csrf_token = secret::random_string(secret::ALPHANUMERIC, TOKEN_CHARS);
        let expires_at = self.now() + Duration::seconds(CONSOLE_SESSION_IDLE_SECONDS);
        self.tx
            .execute(
                "INSERT INTO console_sessions (digest, user_pk, csrf_token, expires_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                vec![
                    secret::digest(&token).into(),
                    user_pk.into(),
                    csrf_token.as_str().into(),
                    expires_at.into(),
                    self.now().into(),
                ],
            )
            .await?;
        self.tx
            .execute(
                "UPDATE console_users SET failed_logins = 0, updated_at = $2 WHERE pk = $1",
                vec![user_pk.into(), self.now().into()],
            )
            .await?;
        self.console_audit("console.login", user_id, json!({}))
            .await?;
        Ok(Ok(Outcome::ConsoleSession {
            token,
            csrf_token,
            expires_at: as_stored(expires_at)?,
        }))
    }

    pub(super) async fn touch_console_session(&mut self, digest: &str) -> Step<Outcome> {
        self.tx
            .execute(
                "UPDATE console_sessions SET expires_at = $2 WHERE digest = $1 AND expires_at > $3",
                vec![
                    digest.into(),
                    (self.now() + Duration::seconds(CONSOLE_SESSION_IDLE_SECONDS)).into(),
                    self.now().into(),
                ],
            )
            .await?;
        Ok(Ok(Outcome::ConsoleSessionChanged))
    }

    pub(super) async fn close_console_session(&mut self, digest: &str) -> Step<Outcome> {
        self.tx
            .execute(
                "DELETE FROM console_sessions WHERE digest = $1",
                vec![digest.into()],
            )
            .await?;
        Ok(Ok(Outcome::ConsoleSessionChanged))
    }
}
