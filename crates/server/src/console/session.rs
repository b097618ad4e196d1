//! Console sessions: the `voucherd_console` cookie (HttpOnly, SameSite=Strict, Secure behind
//! TLS, path `/admin`), the [`Operator`] every page needs, and the CSRF check of every form.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use voucherd_domain::secret;
use voucherd_store::console::CONSOLE_SESSION_IDLE_SECONDS;
use voucherd_store::model::DEFAULT_TENANT_ID;
use voucherd_store::{Actor, Command};

use super::Nav;
use crate::AppState;
use crate::submit::{submit, unrendered};

pub const SESSION_COOKIE: &str = "voucherd_console";
/// The cookie that carries the login form's CSRF token before there is a session.
pub const LOGIN_COOKIE: &str = "voucherd_login";
/// A session is pushed forward at most once a minute.
const TOUCH_AFTER_SECONDS: i64 = 60;

/// The value of one cookie of the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Whether the console is reached over TLS (directly or behind a proxy that says so).
fn over_tls(state: &AppState, headers: &HeaderMap) -> bool {
    state
        .public_url
        .as_deref()
        .is_some_and(|url| url.starts_with("https://"))
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value for the console; `None` clears the cookie.
pub fn set_cookie(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
    value: Option<&str>,
) -> HeaderValue {
    let secure = if over_tls(state, headers) {
        "; Secure"
    } else {
        ""
    };
    let text = match value {
        Some(value) => {
            format!("{name}={value}; Path=/admin; HttpOnly; SameSite=Strict{secure}")
        }
        None => format!("{name}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A logged-in operator.
#[derive(Debug, Clone)]
pub struct Operator {
    pub user_id: String,
    pub username: String,
    pub csrf: String,
    pub token_digest: String,
    pub request_id: String,
}

impl Operator {
    pub fn nav(&self, tenant: Option<&str>, section: &'static str) -> Nav {
        Nav {
            tenant: tenant.map(str::to_string),
            section,
            username: self.username.clone(),
            csrf: self.csrf.clone(),
        }
    }

    /// Whether a form carries this session's CSRF token.
    pub fn sent_by_console(&self, fields: &Fields) -> bool {
        fields
            .get("_csrf")
            .is_some_and(|sent| secret::constant_time_eq(sent, &self.csrf))
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || Redirect::to("/admin/login").into_response();
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(to_login)?;
        let digest = secret::digest(token);
        let now = state.clock.now();
        let session = state
            .store
            .console_session(&digest, now)
            .await
            .map_err(|e| super::unavailable(&e))?
            .ok_or_else(to_login)?;
        let request_id = parts
            .extensions
            .get::<crate::observe::RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let operator = Operator {
            user_id: session.user_id,
            username: session.username,
            csrf: session.csrf_token,
            token_digest: digest.clone(),
            request_id,
        };
        let idle_left = session.expires_at - now;
        if idle_left.whole_seconds() < CONSOLE_SESSION_IDLE_SECONDS - TOUCH_AFTER_SECONDS {
            // Failing to push the expiry forward must not fail the page.
            let _ = submit(
                state,
                DEFAULT_TENANT_ID,
                Actor::Admin(format!("console:{}", operator.username)),
                &operator.request_id,
                Command::TouchConsoleSession {
                    token_digest: digest,
                },
                None,
                unrendered(),
            )
            .await;
        }
        Ok(operator)
    }
}

/// The fields of a submitted form, in order (a name may repeat, as checkboxes do).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of a field, trimmed; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// Every value of a field.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; voucherd_console=tok; b=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, "missing"), None);
    }
}
