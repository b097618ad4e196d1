//! `voucherd-loadgen`: a bounded load driver for a voucherd on this machine.
//!
//! It measures `GET /healthz` (the HTTP ceiling), bootstraps its own client and token through
//! the admin API, issues a pool of active vouchers, runs the chosen scenario for a fixed time
//! at a fixed concurrency over keep-alive connections, prints throughput and latency, and
//! finally checks the ledger: the integrity check must pass, no request may have failed with a
//! 5xx or gone unanswered, and the ledger must hold exactly what was acknowledged. Any failure
//! exits non-zero. Alongside, it reports what the server's group-commit writer did during the
//! run (from `/metrics`). Only loopback targets are accepted.

mod api;
mod check;
mod report;
mod scenario;
mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::ensure;
use clap::Parser;
use rand::Rng;

use api::Api;
use scenario::{Ended, RunSetup, Scenario, Tally, Worker};

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
    /// Seconds each measured run lasts.
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
/// How long one request may take before it counts as unanswered.
const REQUEST_TIMEOUT_SECONDS: u64 = 30;

/// Runs `setup`'s scenario on `concurrency` workers for `duration`.
async fn run(setup: Arc<RunSetup>, duration: Duration) -> (Tally, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = Vec::new();
    for index in 0..setup.concurrency {
        let (setup, stop) = (setup.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut worker = Worker::new(setup, index);
            while !stop.load(Ordering::Relaxed) {
                let began = Instant::now();
                match worker.once().await {
                    Ok(Ended::Succeeded) => worker
                        .tally
                        .latencies_us
                        .push(u32::try_from(began.elapsed().as_micros()).unwrap_or(u32::MAX)),
                    Ok(Ended::Refused(status)) => {
                        *worker.tally.refused.entry(status).or_default() += 1
                    }
                    Err(_) => worker.tally.transport_errors += 1,
                }
            }
            worker.tally
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = Tally::default();
    for worker in workers {
        if let Ok(tally) = worker.await {
            total.merge(tally);
        }
    }
    (total, started.elapsed())
}

fn validate(args: &Args) -> anyhow::Result<()> {
    ensure!(
        api::is_loopback(&args.target),
        "only loopback http:// targets are allowed, not {}",
        args.target
    );
    ensure!(
        (1..=DURATION_SECONDS_MAX).contains(&args.duration),
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
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    validate(&args)?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(REQUEST_TIMEOUT_SECONDS))
        .build()?;
    let api = Api {
        http,
        base: args.target.trim_end_matches('/').to_string(),
    };
    let duration = Duration::from_secs(args.duration);
    // A batch of its own, so that earlier runs on the same database do not count.
    let batch = format!("loadgen-{:08x}", rand::rng().random::<u32>());
    let setup_for = |scenario, token: String, pool| RunSetup {
        api: api.clone(),
        token,
        pool,
        created_batch: format!("{batch}-created"),
        scenario,
        concurrency: args.concurrency,
    };
    let baseline = if args.no_baseline {
        None
    } else {
        let setup = Arc::new(setup_for(Scenario::Healthz, String::new(), Vec::new()));
        let (mut tally, elapsed) = run(setup, duration).await;
        let figures = report::figures("healthz", &mut tally, elapsed);
        ensure!(
            tally.server_errors() == 0 && tally.transport_errors == 0,
            "healthz failed"
        );
        Some(figures)
    };
    if args.scenario == Scenario::Healthz {
        return Ok(());
    }
    let token = api::bootstrap(&api, &args.admin_token).await?;
    let issued = Instant::now();
    let pool = api::issue_pool(&api, &token, &batch, args.pool, args.concurrency).await?;
    eprintln!(
        "issued {} vouchers in {:.1} s",
        pool.len(),
        issued.elapsed().as_secs_f64()
    );
    let setup = Arc::new(setup_for(args.scenario, token, pool));
    let writer_before = writer::sample(&api).await;
    let (mut tally, elapsed) = run(setup.clone(), duration).await;
    let figures = report::figures(args.scenario.name(), &mut tally, elapsed);
    let writer = match (writer_before, writer::sample(&api).await) {
        (Some(before), Some(after)) => writer::between(before, after),
        _ => None,
    };
    report::result_line(
        &figures,
        baseline.as_ref(),
        writer.as_ref(),
        args.concurrency,
        args.pool,
        &tally,
    );
    check::ledger_agrees(setup, &args.admin_token, &tally).await
}
