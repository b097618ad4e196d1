//! The HTTP side of the load generator: a keep-alive client for one voucherd, and the setup
//! every run needs (a connected client with every scope, and a pool of active vouchers).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, ensure};
use reqwest::Method;
use serde_json::{Value, json};

/// Each pool voucher starts with this many minor units.
pub const VOUCHER_MINOR: i64 = 100_000;

/// One voucherd, reached over keep-alive connections (cloning shares them).
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

/// One voucher of the pool.
pub struct PoolVoucher {
    pub id: String,
    pub code: String,
}

impl Api {
    /// Sends a request and answers its status and JSON body (`Null` when it has none).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// Like [`Api::call`], but any status other than `want` is an error.
    pub async fn expect(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        want: u16,
    ) -> anyhow::Result<Value> {
        let (status, json) = self.call(method, path, token, body).await?;
        ensure!(status == want, "{path} answered {status}: {json}");
        Ok(json)
    }
}

/// Answers whether `url` points at this machine.
pub fn is_loopback(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    if rest.starts_with("[::1]") {
        return true;
    }
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    host == "localhost" || host.starts_with("127.")
}

/// Connects a new client with every scope and answers its access token.
pub async fn bootstrap(api: &Api, admin: &str) -> anyhow::Result<String> {
    let scopes = [
        "read",
        "read-lists",
        "read-secrets",
        "use",
        "manage",
        "update",
        "recharge",
    ];
    let group = api
        .expect(
            Method::POST,
            "/admin/api/v1/tenants/default/client-groups",
            admin,
            Some(json!({ "name": "loadgen", "scopes": scopes })),
            201,
        )
        .await?;
    let client = api
        .expect(
            Method::POST,
            "/admin/api/v1/tenants/default/clients",
            admin,
            Some(json!({ "name": "loadgen", "client_group_id": group["id"], "type": "loadgen" })),
            201,
        )
        .await?;
    let id = client["id"].as_str().context("client id")?.to_string();
    let pin = api
        .expect(
            Method::POST,
            &format!("/admin/api/v1/tenants/default/clients/{id}/pin"),
            admin,
            None,
            201,
        )
        .await?;
    let connected = api
        .expect(
            Method::POST,
            "/v1/clients/connect",
            "",
            Some(json!({ "pin": pin["pin"] })),
            200,
        )
        .await?;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        (
            "client_secret",
            connected["secret"].as_str().context("secret")?,
        ),
    ];
    let token: Value = api
        .http
        .post(format!("{}/oauth/token", api.base))
        .form(&form)
        .send()
        .await?
        .json()
        .await?;
    Ok(token["access_token"]
        .as_str()
        .context("access token")?
        .to_string())
}

/// The body that creates one active pool voucher in `batch`.
pub fn new_voucher_body(batch: &str) -> Value {
    json!({
        "amount": format!("{}.00", VOUCHER_MINOR / 100),
        "currency": "EUR",
        "status": "active",
        "batch": batch,
    })
}

/// Issues `size` active vouchers in `batch`, `concurrency` at a time, printing progress.
pub async fn issue_pool(
    api: &Api,
    token: &str,
    batch: &str,
    size: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<PoolVoucher>> {
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency.min(size).max(1) {
        let (api, next, token, batch) = (
            api.clone(),
            next.clone(),
            token.to_string(),
            batch.to_string(),
        );
        workers.push(tokio::spawn(async move {
            let mut made = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= size as u64 {
                    break;
                }
                if n > 0 && n.is_multiple_of(100_000) {
                    eprintln!("issued {n} of {size} vouchers");
                }
                let body = new_voucher_body(&batch);
                let v = api
                    .expect(Method::POST, "/v1/vouchers", &token, Some(body), 201)
                    .await?;
                made.push(PoolVoucher {
                    id: v["id"].as_str().context("id")?.to_string(),
                    code: v["code"].as_str().context("code")?.to_string(),
                });
            }
            anyhow::Ok(made)
        }));
    }
    let mut pool = Vec::with_capacity(size);
    for worker in workers {
        pool.extend(worker.await??);
    }
    Ok(pool)
}

/// Reads a money string of the JTL face (`"1000.00"`) as minor units.
pub fn minor_units(amount: &str) -> Option<i64> {
    let (units, cents) = amount.split_once('.')?;
    if cents.len() != 2 {
        return None;
    }
    Some(units.parse::<i64>().ok()? * 100 + cents.parse::<i64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_pass() {
        assert!(is_loopback("http://127.0.0.1:8080"));
        assert!(is_loopback("http://localhost:1/x"));
        assert!(is_loopback("http://[::1]:8080"));
        assert!(!is_loopback("http://10.0.0.1:8080"));
        assert!(!is_loopback("http://example.com"));
        assert!(!is_loopback("https://127.0.0.1"));
    }

    #[test]
    fn money_strings_become_minor_units() {
        assert_eq!(minor_units("1000.00"), Some(100_000));
        assert_eq!(minor_units("0.07"), Some(7));
        assert_eq!(minor_units("1.5"), None);
        assert_eq!(minor_units("abc"), None);
    }
}
