//! Starts a real voucherd on `127.0.0.1:0` over a fresh database (SQLite file or PostgreSQL
//! database) with a manual clock, and offers the calls the API tests make.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use time::macros::datetime;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use voucherd_server::clock::ManualClock;
use voucherd_server::config::Limits;
use voucherd_server::{AppState, Config};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
pub const ALL_SCOPES: &[&str] = &[
    "read",
    "read-lists",
    "read-secrets",
    "use",
    "manage",
    "update",
    "recharge",
];

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database URL for a fresh store, or `None` when PostgreSQL tests are not enabled.
pub async fn fresh_database(backend: Backend) -> Option<String> {
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(format!(
                "voucherd-api-{}-{}",
                std::process::id(),
                voucherd_domain::secret::opaque_id()
            ));
            Some(format!("sqlite://{}/voucherd.db", dir.display()))
        }
        Backend::Postgres => voucherd_store_postgres::testing::fresh_database_url().await,
    }
}

/// A running server.
pub struct TestApp {
    pub base: String,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    pub database_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    pub served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// Starts a server on a fresh database; `None` if the backend is not enabled here.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        let url = fresh_database(backend).await?;
        Some(Self::spawn_on(&url, ManualClock::new(datetime!(2026-03-01 09:00 UTC))).await)
    }

    /// Starts a server with `limits` on a fresh database; `None` if the backend is not
    /// enabled here.
    pub async fn spawn_limited(backend: Backend, limits: Limits) -> Option<TestApp> {
        Self::spawn_configured(backend, |config| config.limits = limits).await
    }

    /// Starts a server on a fresh database with its configuration changed by `configure`
    /// (rate limits on, as by default); `None` if the backend is not enabled here.
    pub async fn spawn_configured(
        backend: Backend,
        configure: impl FnOnce(&mut Config),
    ) -> Option<TestApp> {
        let url = fresh_database(backend).await?;
        let clock = ManualClock::new(datetime!(2026-03-01 09:00 UTC));
        Some(Self::spawn_with(&url, clock, configure).await)
    }

    /// Starts a server on an existing database with the given clock, without rate limits
    /// (tests send bursts from one caller; the limits have their own tests).
    pub async fn spawn_on(database_url: &str, clock: ManualClock) -> TestApp {
        let configure = |config: &mut Config| config.limits = Limits::without_rate_limits();
        Self::spawn_with(database_url, clock, configure).await
    }

    async fn spawn_with(
        database_url: &str,
        clock: ManualClock,
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        let mut config = Config::for_database(database_url);
        config.admin_token = Some(ADMIN_TOKEN.into());
        configure(&mut config);
        let (state, _): (AppState, _) = voucherd_server::prepare(&config, Arc::new(clock.clone()))
            .await
            .expect("state prepared");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (tx, rx) = oneshot::channel::<()>();
        let served = tokio::spawn(voucherd_server::run(state, listener, async {
            let _ = rx.await;
        }));
        TestApp {
            base,
            clock,
            http: reqwest::Client::new(),
            database_url: database_url.to_string(),
            shutdown: Some(tx),
            served: Some(served),
        }
    }

    /// Asks the server to stop and waits until it has.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.expect("server task").expect("served cleanly");
        }
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Sends a request; `body` is JSON unless it is a string, which is sent as is.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        match body {
            Some(Value::String(raw)) => {
                request = request.header("content-type", "application/json").body(raw)
            }
            Some(json) => request = request.json(&json),
            None => {}
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            json,
            text,
            headers,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(Method::GET, path, Some(token), None, &[]).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(token), Some(body), &[])
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(token), Some(body), &[])
            .await
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.send(
            method,
            &format!("/admin/api/v1{path}"),
            Some(ADMIN_TOKEN),
            body,
            &[],
        )
        .await
    }

    /// A connected client of `tenant` whose group has `scopes`, and a token with all of them.
    pub async fn client(&self, tenant: &str, scopes: &[&str]) -> Client {
        let group = self
            .admin(
                Method::POST,
                &format!("/tenants/{tenant}/client-groups"),
                Some(json!({ "name": "Group", "scopes": scopes })),
            )
            .await
            .expect(StatusCode::CREATED);
        let group_id = group.json["id"].as_str().expect("group id").to_string();
        let client = self
            .admin(
                Method::POST,
                &format!("/tenants/{tenant}/clients"),
                Some(json!({ "name": "Till", "client_group_id": group_id })),
            )
            .await
            .expect(StatusCode::CREATED);
        let id = client.json["id"].as_str().expect("client id").to_string();
        let pin = self
            .admin(
                Method::POST,
                &format!("/tenants/{tenant}/clients/{id}/pin"),
                None,
            )
            .await
            .expect(StatusCode::CREATED);
        let pin = pin.json["pin"].as_str().expect("pin").to_string();
        let connected = self
            .send(
                Method::POST,
                "/v1/clients/connect",
                None,
                Some(json!({ "pin": pin })),
                &[],
            )
            .await
            .expect(StatusCode::OK);
        let secret = connected.json["secret"]
            .as_str()
            .expect("secret")
            .to_string();
        let token = self.token(&id, &secret, None).await.expect(StatusCode::OK);
        Client {
            id,
            secret,
            token: token.json["access_token"]
                .as_str()
                .expect("token")
                .to_string(),
        }
    }

    pub async fn token(&self, client_id: &str, secret: &str, scope: Option<&str>) -> Reply {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let response = self
            .http
            .post(format!("{}/oauth/token", self.base))
            .form(&form)
            .send()
            .await
            .expect("token request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        Reply {
            status,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            headers,
        }
    }

    /// Creates an active voucher and answers its id and code.
    pub async fn active_voucher(&self, token: &str, amount: &str) -> (String, String) {
        let created = self
            .post(
                "/v1/vouchers",
                token,
                json!({ "amount": amount, "currency": "EUR", "status": "active" }),
            )
            .await
            .expect(StatusCode::CREATED);
        (
            created.json["id"].as_str().expect("id").to_string(),
            created.json["code"]
                .as_str()
                .expect("code (token has read-secrets)")
                .to_string(),
        )
    }

    pub async fn integrity_is_clean(&self, tenant: &str) {
        let report = self
            .admin(Method::GET, &format!("/tenants/{tenant}/integrity"), None)
            .await
            .expect(StatusCode::OK);
        assert_eq!(report.json["violations"], json!([]), "{}", report.text);
    }

    pub async fn voucher_count(&self, tenant: &str) -> i64 {
        let list = self
            .admin(Method::GET, &format!("/tenants/{tenant}/vouchers"), None)
            .await
            .expect(StatusCode::OK);
        list.json["total"].as_i64().expect("total")
    }
}

/// A connected API client.
pub struct Client {
    pub id: String,
    pub secret: String,
    pub token: String,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub json: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// Asserts the status and passes the reply on.
    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Reply {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts a JTL error envelope with this status and code.
    #[track_caller]
    pub fn jtl_error(self, status: u16, code: &str) -> Reply {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(self.json["status"], json!(status), "body: {}", self.text);
        assert_eq!(self.json["code"], json!(code), "body: {}", self.text);
        assert!(self.json["message"].is_string(), "body: {}", self.text);
        self
    }

    /// Asserts a 422 validation envelope containing this field code.
    #[track_caller]
    pub fn invalid(self, action: &str, field_code: &str) -> Reply {
        let reply = self.jtl_error(422, &format!("{action}.UNPROCESSABLE_ENTITY"));
        let codes: Vec<&str> = reply.json["errors"]
            .as_array()
            .map(|e| e.iter().filter_map(|i| i["code"].as_str()).collect())
            .unwrap_or_default();
        assert!(codes.contains(&field_code), "{field_code} not in {codes:?}");
        reply
    }
}

/// Generates each listed test once per backend.
macro_rules! on_both_stores {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::Postgres).await;
                }
            )+
        }
    };
}
