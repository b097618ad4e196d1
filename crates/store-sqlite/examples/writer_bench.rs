//! The SQLite writer alone, without HTTP: tills reserve and charge on a pool of vouchers
//! through the store for a while, and the run prints commands per second and the process's
//! CPU time per command. It isolates what the group-commit writer costs per command, which
//! bounds the `pos` scenario of `voucherd-loadgen`.
//!
//! `cargo run --release -p voucherd-store-sqlite --example writer_bench -- [TILLS] [SECONDS]
//! [POOL] [DIRECTORY]` (defaults 64, 8, 10000, the system's temporary directory). It exits
//! non-zero if the integrity check finds anything afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use voucherd_domain::{Currency, VoucherStatus};
use voucherd_store::command::NewVoucher;
use voucherd_store::model::DEFAULT_TENANT_ID;
use voucherd_store::{
    Actor, Command, CommandContext, CommandRequest, Execution, Outcome, Store, StoreError,
};

/// The server's allocator (`crates/server/src/main.rs`), so that the figures are the writer's
/// as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Vouchers issued per concurrent batch while the pool is set up.
const ISSUE_CONCURRENCY: usize = 64;

#[tokio::main]
async fn main() -> Result<(), StoreError> {
    let mut args = std::env::args().skip(1);
    let mut number = |default: u64| {
        args.next()
            .map(|a| a.parse::<u64>().expect("a whole number"))
            .unwrap_or(default)
    };
    let tills = number(64) as usize;
    let seconds = number(8);
    let pool = number(10_000) as usize;
    assert!(
        tills > 0 && seconds > 0 && pool > 0,
        "tills, seconds and pool must be positive"
    );
    let directory = std::env::args()
        .nth(4)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("voucherd-writer-bench-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("a directory for the database");
    let url = format!("sqlite://{}", directory.join("ledger.db").display());
    let store: Arc<dyn Store> = Arc::new(voucherd_store_sqlite::open(&url).await?);
    store.bootstrap(OffsetDateTime::now_utc()).await?;

    let started = Instant::now();
    issue_pool(&store, pool).await?;
    println!(
        "issued {pool} vouchers in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let commands = Arc::new(AtomicU64::new(0));
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let mut workers = Vec::new();
    for till in 0..tills {
        let (store, stop, commands) = (store.clone(), stop.clone(), commands.clone());
        workers.push(tokio::spawn(async move {
            let mut n = till;
            while !stop.load(Ordering::Relaxed) {
                let code = format!("BENCH-{}", n % pool);
                pay(&store, till, &code, n).await?;
                commands.fetch_add(2, Ordering::Relaxed);
                n += tills;
            }
            Ok::<(), StoreError>(())
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.expect("a till")?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu_before;
    let commands = commands.load(Ordering::Relaxed) as f64;
    println!(
        "{tills} tills, {seconds} s, pool {pool}: {:.0} commands/s ({:.0} payments/s), \
         CPU {:.1} µs per command ({:.2} cores)",
        commands / elapsed,
        commands / elapsed / 2.0,
        cpu / commands * 1e6,
        cpu / elapsed
    );
    let report = store
        .integrity(DEFAULT_TENANT_ID, OffsetDateTime::now_utc())
        .await?;
    println!("integrity: {} violations", report.violations.len());
    std::fs::remove_dir_all(&directory).expect("remove the benchmark database");
    if report.violations.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Other(format!("{:?}", report.violations)))
    }
}

async fn issue_pool(store: &Arc<dyn Store>, pool: usize) -> Result<(), StoreError> {
    for first in (0..pool).step_by(ISSUE_CONCURRENCY) {
        let mut issues = Vec::new();
        for n in first..(first + ISSUE_CONCURRENCY).min(pool) {
            let store = store.clone();
            issues.push(tokio::spawn(async move {
                run(&store, "issuer", Command::CreateVoucher(voucher(n))).await
            }));
        }
        for issue in issues {
            issue.await.expect("an issue")?;
        }
    }
    Ok(())
}

/// Reserves 0.01 on the voucher with `code` and charges it.
async fn pay(store: &Arc<dyn Store>, till: usize, code: &str, n: usize) -> Result<(), StoreError> {
    let caller = format!("till-{till}");
    let reserve = Command::Reserve {
        code: code.into(),
        pin: None,
        amount_minor: 1,
        currency: euro(),
    };
    let Outcome::Reservation(hold) = run(store, &caller, reserve).await? else {
        return Err(StoreError::Other("not a reservation".into()));
    };
    let charge = Command::ChargeReservation {
        reservation_id: hold.id,
        order_number: format!("ORDER-{n}"),
    };
    run(store, &caller, charge).await.map(|_| ())
}

async fn run(
    store: &Arc<dyn Store>,
    client: &str,
    command: Command,
) -> Result<Outcome, StoreError> {
    let request = CommandRequest {
        context: CommandContext {
            tenant_id: DEFAULT_TENANT_ID.into(),
            actor: Actor::Client(client.into()),
            request_id: "bench".into(),
            now: OffsetDateTime::now_utc(),
        },
        command,
        idempotency: None,
    };
    match store.execute(request).await? {
        Execution::Done(Ok(outcome)) => Ok(outcome),
        other => Err(StoreError::Other(format!("refused: {other:?}"))),
    }
}

fn voucher(n: usize) -> NewVoucher {
    NewVoucher {
        code: Some(format!("BENCH-{n}")),
        ..NewVoucher::digital(1_000_000, euro(), VoucherStatus::Active)
    }
}

fn euro() -> Currency {
    Currency::parse("EUR").expect("EUR is a currency")
}

/// User plus system CPU time of this process so far, from `/proc/self/stat`.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The fields after the command name (which may hold spaces) start after its ')'.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("a command name") + 2..]
        .split(' ')
        .collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    // Linux reports in clock ticks of 1/100 s on every platform voucherd runs on.
    ticks / 100.0
}
