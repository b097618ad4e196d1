//! Reading console users and sessions.

use time::OffsetDateTime;

use super::SqlExec;
use crate::StoreError;
use crate::console::{ConsoleSession, ConsoleUser, ConsoleUserView};

pub(super) async fn user<T: SqlExec>(
    tx: &mut T,
    username: &str,
) -> Result<Option<ConsoleUser>, StoreError> {
    let row = tx
        .fetch_optional(
            "SELECT id, username, password_hash, locked_until, disabled_at FROM console_users \
             WHERE username = $1",
            vec![username.into()],
        )
        .await?;
    row.map(|row| {
        let mut r = row.reader();
        Ok(ConsoleUser {
            id: r.text()?,
            username: r.text()?,
            password_hash: r.text()?,
            locked_until: r.opt_time()?,
            disabled_at: r.opt_time()?,
        })
    })
    .transpose()
}

const USER_VIEW_SELECT: &str =
    "SELECT id, username, locked_until, disabled_at, created_at FROM console_users";

fn user_view(row: &super::Row) -> Result<ConsoleUserView, StoreError> {
    let mut r = row.reader();
    Ok(ConsoleUserView {
        id: r.text()?,
        username: r.text()?,
        locked_until: r.opt_time()?,
        disabled_at: r.opt_time()?,
        created_at: r.time()?,
    })
}

/// Every console user, by name.
pub(super) async fn users<T: SqlExec>(tx: &mut T) -> Result<Vec<ConsoleUserView>, StoreError> {
    let rows = tx
        .fetch(&format!("{USER_VIEW_SELECT} ORDER BY username"), vec![])
        .await?;
    rows.iter().map(user_view).collect()
}

/// One console user by name, as a list shows it.
pub(super) async fn user_view_named<T: SqlExec>(
    tx: &mut T,
    username: &str,
) -> Result<Option<ConsoleUserView>, StoreError> {
    let row = tx
        .fetch_optional(
            &format!("{USER_VIEW_SELECT} WHERE username = $1"),
            vec![username.into()],
        )
        .await?;
    row.as_ref().map(user_view).transpose()
}

/// The session a cookie's token digest names, if it has not expired.
pub(super) async fn session<T: SqlExec>(
    tx: &mut T,
    digest: &str,
    now: OffsetDateTime,
) -> Result<Option<ConsoleSession>, StoreError> {
    let row = tx
        .fetch_optional(
            "SELECT u.id, u.username, s.csrf_token, s.expires_at FROM console_sessions s \
             JOIN console_users u ON u.pk = s.user_pk \
             WHERE s.digest = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
            vec![digest.into(), now.into()],
        )
        .await?;
    row.map(|row| {
        let mut r = row.reader();
        Ok(ConsoleSession {
            user_id: r.text()?,
            username: r.text()?,
            csrf_token: r.text()?,
            expires_at: r.time()?,
        })
    })
    .transpose()
}
