//! `voucherd-loadgen`: a bounded load driver for a voucherd on this machine.
//!
//! It bootstraps its own client and token through the admin API, issues a pool of active
//! vouchers, runs `healthz` (the HTTP ceiling) and then the chosen scenario for a fixed time at
//! a fixed concurrency over keep-alive connections, prints throughput and latency, and finally
//! checks the ledger: the integrity check must pass, no request may have failed with a 5xx,
//! and the money the ledger charged must equal what was acknowledged. Any failure exits
//! non-zero. Only loopback targets are accepted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::{Parser, ValueEnum};
use rand::Rng;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Reserve 0.01 and charge it on a random voucher of the pool.
    Pos,
    /// Only `GET /healthz`.
    Healthz,
}

#[derive(Debug, Parser)]
#[command(about = "Bounded loopback load driver and ledger checker for voucherd")]
struct Args {
    /// voucherd's base URL; must be a loopback address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    target: String,
    /// The admin token of that voucherd.
    #[arg(long, env = "VOUCHERD_ADMIN_TOKEN")]
    admin_token: String,
    #[arg(long, value_enum, default_value = "pos")]
    scenario: Scenario,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds each measured run lasts (at most 600).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Vouchers in the pool.
    #[arg(long, default_value_t = 10_000)]
    pool: usize,
    /// Skip the `healthz` baseline run.
    #[arg(long)]
    no_baseline: bool,
}

/// The longest run accepted, so that a mistyped duration cannot load the machine for hours.
const DURATION_SECONDS_MAX: u64 = 600;
const CONCURRENCY_MAX: usize = 4_096;
const POOL_MAX: usize = 2_000_000;
/// Each pool voucher starts with this many minor units.
const VOUCHER_MINOR: i64 = 100_000;

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
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
        let text = response.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    async fn expect(
        &self,
        method: reqwest::Method,
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

fn is_loopback(url: &str) -> bool {
    let rest = url.trim_start_matches("http://");
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    host == "localhost" || host.starts_with("127.") || rest.starts_with("[::1]")
}

/// Connects a new client with every scope and returns its access token.
async fn bootstrap(api: &Api, admin: &str) -> anyhow::Result<String> {
    use reqwest::Method;
    let group = api
        .expect(Method::POST, "/admin/api/v1/tenants/default/client-groups", admin,
            Some(json!({ "name": "loadgen", "scopes": ["read", "read-lists", "read-secrets", "use", "manage", "update", "recharge"] })), 201)
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

/// Issues the pool; answers (id, code) pairs.
async fn issue_pool(
    api: Arc<Api>,
    token: &str,
    batch: &str,
    size: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<(String, String)>> {
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
            while next.fetch_add(1, Ordering::Relaxed) < size as u64 {
                let body = json!({ "amount": format!("{}.00", VOUCHER_MINOR / 100), "currency": "EUR", "status": "active", "batch": batch });
                let v = api.expect(reqwest::Method::POST, "/v1/vouchers", &token, Some(body), 201).await?;
                made.push((v["id"].as_str().context("id")?.to_string(), v["code"].as_str().context("code")?.to_string()));
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

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: std::collections::BTreeMap<u16, u64>,
    charged_minor: i64,
    transport_errors: u64,
}

async fn run(
    api: Arc<Api>,
    token: Arc<String>,
    pool: Arc<Vec<(String, String)>>,
    scenario: Scenario,
    concurrency: usize,
    duration: Duration,
) -> (Tally, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (api, token, pool, stop) = (api.clone(), token.clone(), pool.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while !stop.load(Ordering::Relaxed) {
                let began = Instant::now();
                let outcome = match scenario {
                    Scenario::Healthz => api
                        .http
                        .get(format!("{}/healthz", api.base))
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .map_err(anyhow::Error::from),
                    Scenario::Pos => pos_once(&api, &token, &pool, &mut tally).await,
                };
                match outcome {
                    Ok(200 | 201) => tally
                        .latencies_us
                        .push(u32::try_from(began.elapsed().as_micros()).unwrap_or(u32::MAX)),
                    Ok(status) => *tally.errors.entry(status).or_default() += 1,
                    Err(_) => tally.transport_errors += 1,
                }
            }
            tally
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = Tally::default();
    for worker in workers {
        if let Ok(t) = worker.await {
            total.latencies_us.extend(t.latencies_us);
            for (status, n) in t.errors {
                *total.errors.entry(status).or_default() += n;
            }
            total.charged_minor += t.charged_minor;
            total.transport_errors += t.transport_errors;
        }
    }
    (total, started.elapsed())
}

/// One point-of-sale payment: reserve one cent on a random voucher, then charge it.
async fn pos_once(
    api: &Api,
    token: &str,
    pool: &[(String, String)],
    tally: &mut Tally,
) -> anyhow::Result<u16> {
    let (_, code) = &pool[rand::rng().random_range(0..pool.len())];
    let (status, reservation) = api
        .call(
            reqwest::Method::POST,
            "/v1/reservations",
            token,
            Some(json!({ "amount": "0.01", "currency": "EUR", "code": code })),
        )
        .await?;
    if status != 201 {
        return Ok(status);
    }
    let id = reservation["id"].as_str().unwrap_or_default();
    let order = format!("LG-{id}");
    let (status, _) = api
        .call(
            reqwest::Method::POST,
            &format!("/v1/reservations/{id}/charge"),
            token,
            Some(json!({ "order_number": order })),
        )
        .await?;
    if status == 201 {
        tally.charged_minor += 1;
    }
    Ok(status)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[index]) / 1000.0
}

fn report(name: &str, tally: &mut Tally, elapsed: Duration) -> f64 {
    tally.latencies_us.sort_unstable();
    let ops = tally.latencies_us.len() as f64 / elapsed.as_secs_f64();
    println!(
        "{name:8} {ops:>10.0} ops/s   p50 {:>7.2} ms   p90 {:>7.2} ms   p99 {:>7.2} ms   max {:>8.2} ms   errors {:?} transport {}",
        percentile(&tally.latencies_us, 0.50),
        percentile(&tally.latencies_us, 0.90),
        percentile(&tally.latencies_us, 0.99),
        percentile(&tally.latencies_us, 1.0),
        tally.errors,
        tally.transport_errors,
    );
    ops
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        is_loopback(&args.target),
        "only loopback targets are allowed, not {}",
        args.target
    );
    ensure!(
        args.duration >= 1 && args.duration <= DURATION_SECONDS_MAX,
        "duration must be 1 to {DURATION_SECONDS_MAX} seconds"
    );
    ensure!(
        (1..=CONCURRENCY_MAX).contains(&args.concurrency),
        "concurrency must be 1 to {CONCURRENCY_MAX}"
    );
    ensure!(
        (1..=POOL_MAX).contains(&args.pool),
        "pool must be 1 to {POOL_MAX}"
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let api = Arc::new(Api {
        http,
        base: args.target.trim_end_matches('/').to_string(),
    });
    let duration = Duration::from_secs(args.duration);
    let baseline = if args.no_baseline {
        None
    } else {
        let (mut tally, elapsed) = run(
            api.clone(),
            Arc::new(String::new()),
            Arc::new(Vec::new()),
            Scenario::Healthz,
            args.concurrency,
            duration,
        )
        .await;
        Some(report("healthz", &mut tally, elapsed))
    };
    if args.scenario == Scenario::Healthz {
        return Ok(());
    }
    let token = bootstrap(&api, &args.admin_token).await?;
    let issued = Instant::now();
    // A batch of its own, so that earlier runs on the same database do not count.
    let batch = format!("loadgen-{:08x}", rand::rng().random::<u32>());
    let pool = issue_pool(api.clone(), &token, &batch, args.pool, args.concurrency).await?;
    eprintln!(
        "issued {} vouchers in {:.1} s",
        pool.len(),
        issued.elapsed().as_secs_f64()
    );
    let pool = Arc::new(pool);
    let (mut tally, elapsed) = run(
        api.clone(),
        Arc::new(token.clone()),
        pool.clone(),
        args.scenario,
        args.concurrency,
        duration,
    )
    .await;
    let ops = report("pos", &mut tally, elapsed);
    if let Some(ceiling) = baseline {
        println!("pos/healthz ratio {:.2}", ops / ceiling);
    }
    // The ledger must agree with what was acknowledged.
    let integrity = api
        .expect(
            reqwest::Method::GET,
            "/admin/api/v1/tenants/default/integrity",
            &args.admin_token,
            None,
            200,
        )
        .await?;
    let violations = integrity["violations"].as_array().map_or(0, Vec::len);
    let mut ledger_charged = 0_i64;
    let mut page = 1;
    loop {
        let listed = api
            .expect(
                reqwest::Method::GET,
                &format!(
                    "/admin/api/v1/tenants/default/vouchers?batch={batch}&per_page=500&page={page}"
                ),
                &args.admin_token,
                None,
                200,
            )
            .await?;
        let items = listed["data"].as_array().cloned().unwrap_or_default();
        ledger_charged += items
            .iter()
            .map(|v| VOUCHER_MINOR - v["remaining_minor"].as_i64().unwrap_or(VOUCHER_MINOR))
            .sum::<i64>();
        if items.len() < 500 {
            break;
        }
        page += 1;
    }
    let server_errors: u64 = tally
        .errors
        .iter()
        .filter(|(s, _)| **s >= 500)
        .map(|(_, n)| n)
        .sum();
    println!(
        "integrity: {violations} violations; acknowledged charges {} minor, ledger charges {ledger_charged} minor",
        tally.charged_minor
    );
    if violations > 0 || server_errors > 0 {
        bail!("{violations} integrity violations, {server_errors} server errors");
    }
    // A charge whose answer was lost in transport may be in the ledger unacknowledged, never
    // the other way round.
    if ledger_charged < tally.charged_minor
        || (tally.transport_errors == 0 && ledger_charged != tally.charged_minor)
    {
        bail!(
            "acknowledged charges ({}) and ledger ({ledger_charged}) disagree",
            tally.charged_minor
        );
    }
    Ok(())
}
