//! The scenarios: what one worker does in one operation, and what it counts. A worker runs
//! operations back to back on its own keep-alive connection until the run stops.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use clap::ValueEnum;
use rand::Rng;
use reqwest::Method;
use serde_json::json;

use crate::api::{Api, PoolVoucher, new_voucher_body};

/// Vouchers the `hot` scenario concentrates on.
pub const HOT_VOUCHERS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Reserve 0.01 on a voucher of the pool and charge it (one operation is the pair).
    Pos,
    /// 70 % pos, 10 % refund of an earlier charge, 10 % recharge, 10 % reads.
    Mixed,
    /// Pos concentrated on 10 vouchers shared by every worker.
    Hot,
    /// Voucher creation with codes generated from the tenant's pattern.
    Create,
    /// Only `GET /healthz`: the HTTP ceiling of this machine.
    Healthz,
    /// Only `GET /v1/vouchers/{id}` on vouchers of the pool: an authenticated request that
    /// reads the ledger and writes nothing, the ceiling a payment's two requests stand under.
    Read,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Pos => "pos",
            Scenario::Mixed => "mixed",
            Scenario::Hot => "hot",
            Scenario::Create => "create",
            Scenario::Healthz => "healthz",
            Scenario::Read => "read",
        }
    }
}

/// What every worker of a run shares.
pub struct RunSetup {
    pub api: Api,
    pub token: String,
    pub pool: Vec<PoolVoucher>,
    /// The batch `create` puts its vouchers in.
    pub created_batch: String,
    pub scenario: Scenario,
    pub concurrency: usize,
}

/// What a worker (and then the whole run) counted.
#[derive(Default)]
pub struct Tally {
    /// Latency of every operation that succeeded, in microseconds.
    pub latencies_us: Vec<u32>,
    /// Operations answered with an error status, by status.
    pub refused: BTreeMap<u16, u64>,
    /// Requests that got no HTTP answer at all.
    pub transport_errors: u64,
    /// Minor units whose charge, refund or recharge was acknowledged.
    pub charged_minor: i64,
    pub refunded_minor: i64,
    pub recharged_minor: i64,
    /// Vouchers acknowledged as created by `create`.
    pub created: u64,
    /// Pool vouchers whose balance an acknowledged or attempted operation may have changed.
    pub touched: HashSet<usize>,
}

impl Tally {
    pub fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        for (status, n) in other.refused {
            *self.refused.entry(status).or_default() += n;
        }
        self.transport_errors += other.transport_errors;
        self.charged_minor += other.charged_minor;
        self.refunded_minor += other.refunded_minor;
        self.recharged_minor += other.recharged_minor;
        self.created += other.created;
        self.touched.extend(other.touched);
    }

    /// What the acknowledged operations took off the pool, in minor units.
    pub fn net_spent_minor(&self) -> i64 {
        self.charged_minor - self.refunded_minor - self.recharged_minor
    }

    pub fn server_errors(&self) -> u64 {
        self.refused
            .iter()
            .filter(|(status, _)| **status >= 500)
            .map(|(_, n)| n)
            .sum()
    }
}

/// How one operation ended.
pub enum Ended {
    Succeeded,
    Refused(u16),
}

/// One worker's state across its operations.
pub struct Worker {
    setup: Arc<RunSetup>,
    index: usize,
    /// Charges this worker made and has not refunded yet.
    charges: Vec<String>,
    reads: u64,
    pub tally: Tally,
}

impl Worker {
    pub fn new(setup: Arc<RunSetup>, index: usize) -> Self {
        Worker {
            setup,
            index,
            charges: Vec::new(),
            reads: 0,
            tally: Tally::default(),
        }
    }

    /// Runs one operation of the run's scenario.
    pub async fn once(&mut self) -> anyhow::Result<Ended> {
        match self.setup.scenario {
            Scenario::Healthz => {
                let response = self
                    .setup
                    .api
                    .http
                    .get(format!("{}/healthz", self.setup.api.base))
                    .send()
                    .await?;
                Ok(ended(response.status().as_u16(), 200))
            }
            Scenario::Pos => {
                let voucher = self.own_voucher();
                self.pay(voucher).await
            }
            Scenario::Hot => {
                let voucher = rand::rng().random_range(0..self.setup.pool.len().min(HOT_VOUCHERS));
                self.pay(voucher).await
            }
            Scenario::Create => self.create().await,
            Scenario::Read => self.read_voucher().await,
            Scenario::Mixed => {
                let roll = rand::rng().random_range(0..100);
                match roll {
                    0..70 => {
                        let voucher = self.own_voucher();
                        self.pay(voucher).await
                    }
                    70..80 if !self.charges.is_empty() => self.refund().await,
                    70..80 => {
                        let voucher = self.own_voucher();
                        self.pay(voucher).await
                    }
                    80..90 => self.recharge().await,
                    _ => self.read().await,
                }
            }
        }
    }

    /// A voucher of this worker's share of the pool, so that two workers, like two tills,
    /// never pay with the same voucher at once (unless the pool is smaller than the workers).
    fn own_voucher(&self) -> usize {
        let pool = self.setup.pool.len();
        let workers = self.setup.concurrency;
        if pool < workers {
            return rand::rng().random_range(0..pool);
        }
        let share = (pool - self.index).div_ceil(workers);
        self.index + workers * rand::rng().random_range(0..share)
    }

    /// Reserves one cent on the voucher and charges it.
    async fn pay(&mut self, voucher: usize) -> anyhow::Result<Ended> {
        self.tally.touched.insert(voucher);
        let api = &self.setup.api;
        let code = &self.setup.pool[voucher].code;
        let (status, reservation) = api
            .call(
                Method::POST,
                "/v1/reservations",
                &self.setup.token,
                Some(json!({ "amount": "0.01", "currency": "EUR", "code": code })),
            )
            .await?;
        if status != 201 {
            return Ok(Ended::Refused(status));
        }
        let id = reservation["id"].as_str().unwrap_or_default();
        let (status, charge) = api
            .call(
                Method::POST,
                &format!("/v1/reservations/{id}/charge"),
                &self.setup.token,
                Some(json!({ "order_number": format!("LG-{id}") })),
            )
            .await?;
        if status == 201 {
            self.tally.charged_minor += 1;
            if let Some(charge_id) = charge["id"].as_str() {
                self.charges.push(charge_id.to_string());
            }
        }
        Ok(ended(status, 201))
    }

    /// Refunds the whole of one of this worker's charges.
    async fn refund(&mut self) -> anyhow::Result<Ended> {
        let charge = self.charges.pop().unwrap_or_default();
        let (status, _) = self
            .setup
            .api
            .call(
                Method::POST,
                &format!("/v1/charges/{charge}/refund"),
                &self.setup.token,
                Some(json!({ "amount": "0.01", "currency": "EUR" })),
            )
            .await?;
        if status == 201 {
            self.tally.refunded_minor += 1;
        }
        Ok(ended(status, 201))
    }

    async fn recharge(&mut self) -> anyhow::Result<Ended> {
        let voucher = self.own_voucher();
        self.tally.touched.insert(voucher);
        let id = &self.setup.pool[voucher].id;
        let (status, _) = self
            .setup
            .api
            .call(
                Method::POST,
                "/v1/vouchers/recharge",
                &self.setup.token,
                Some(json!({ "id": id, "amount": "0.01", "currency": "EUR", "order_number": "LG-RECHARGE" })),
            )
            .await?;
        if status == 201 {
            self.tally.recharged_minor += 1;
        }
        Ok(ended(status, 201))
    }

    /// Reads a voucher or the first page of its charges, in turn.
    async fn read(&mut self) -> anyhow::Result<Ended> {
        let voucher = &self.setup.pool[self.own_voucher()].id;
        self.reads += 1;
        let path = if self.reads.is_multiple_of(2) {
            format!("/v1/vouchers/{voucher}")
        } else {
            format!("/v1/vouchers/{voucher}/charges")
        };
        let (status, _) = self
            .setup
            .api
            .call(Method::GET, &path, &self.setup.token, None)
            .await?;
        Ok(ended(status, 200))
    }

    /// Reads one voucher of this worker's share of the pool.
    async fn read_voucher(&mut self) -> anyhow::Result<Ended> {
        let voucher = &self.setup.pool[self.own_voucher()].id;
        let (status, _) = self
            .setup
            .api
            .call(
                Method::GET,
                &format!("/v1/vouchers/{voucher}"),
                &self.setup.token,
                None,
            )
            .await?;
        Ok(ended(status, 200))
    }

    async fn create(&mut self) -> anyhow::Result<Ended> {
        let (status, _) = self
            .setup
            .api
            .call(
                Method::POST,
                "/v1/vouchers",
                &self.setup.token,
                Some(new_voucher_body(&self.setup.created_batch)),
            )
            .await?;
        if status == 201 {
            self.tally.created += 1;
        }
        Ok(ended(status, 201))
    }
}

fn ended(status: u16, success: u16) -> Ended {
    if status == success {
        Ended::Succeeded
    } else {
        Ended::Refused(status)
    }
}
