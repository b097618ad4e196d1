//! What a run prints: throughput, latency percentiles and refusals, as a line for people and
//! a `result` JSON line for scripts that tabulate several runs.

use std::time::Duration;

use serde_json::json;

use crate::scenario::Tally;
use crate::writer::WriterFigures;

/// The figures of one measured run.
pub struct Figures {
    pub name: &'static str,
    /// Operations that succeeded, per second.
    pub ops_per_second: f64,
    /// Operations answered at all (succeeded or refused with a 4xx), per second: under
    /// contention (`hot`) most reservations are superseded, and refused, by another worker's.
    pub answered_per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[index]) / 1000.0
}

/// Works out and prints the figures of a run that lasted `elapsed`.
pub fn figures(name: &'static str, tally: &mut Tally, elapsed: Duration) -> Figures {
    tally.latencies_us.sort_unstable();
    let sorted = &tally.latencies_us;
    let figures = Figures {
        name,
        ops_per_second: sorted.len() as f64 / elapsed.as_secs_f64(),
        answered_per_second: (sorted.len() as u64
            + tally
                .refused
                .iter()
                .filter(|(status, _)| (400..500).contains(*status))
                .map(|(_, n)| n)
                .sum::<u64>()) as f64
            / elapsed.as_secs_f64(),
        p50_ms: percentile(sorted, 0.50),
        p90_ms: percentile(sorted, 0.90),
        p99_ms: percentile(sorted, 0.99),
        max_ms: percentile(sorted, 1.0),
    };
    println!(
        "{name:8} {:>9.0} ops/s ({:.0} answered)   p50 {:>7.2} ms   p90 {:>7.2} ms   p99 {:>7.2} ms   max {:>8.2} ms   refused {:?}   transport errors {}",
        figures.ops_per_second,
        figures.answered_per_second,
        figures.p50_ms,
        figures.p90_ms,
        figures.p99_ms,
        figures.max_ms,
        tally.refused,
        tally.transport_errors,
    );
    if tally.refused.contains_key(&429) {
        println!(
            "{name:8} 429 answers: the server's rate limits are on; to measure the ledger, serve with --caller-rate-limit 0 --address-rate-limit 0"
        );
    }
    figures
}

/// Prints the machine-readable summary of a run.
pub fn result_line(
    scenario: &Figures,
    baseline: Option<&Figures>,
    writer: Option<&WriterFigures>,
    concurrency: usize,
    pool: usize,
    tally: &Tally,
) {
    let ratio = baseline.map(|b| scenario.ops_per_second / b.ops_per_second);
    if let Some(ratio) = ratio {
        println!("{}/healthz ratio {ratio:.3}", scenario.name);
    }
    if let Some(w) = writer {
        println!(
            "writer   {:.0} batches, {:.1} commands per batch, commit {:.2} ms, queue wait {:.2} ms",
            w.batches, w.commands_per_batch, w.commit_ms, w.queue_wait_ms
        );
    }
    let refused: serde_json::Map<String, serde_json::Value> = tally
        .refused
        .iter()
        .map(|(status, n)| (status.to_string(), json!(n)))
        .collect();
    println!(
        "result {}",
        json!({
            "scenario": scenario.name,
            "concurrency": concurrency,
            "pool": pool,
            "ops_per_second": scenario.ops_per_second.round(),
            "answered_per_second": scenario.answered_per_second.round(),
            "p50_ms": scenario.p50_ms,
            "p90_ms": scenario.p90_ms,
            "p99_ms": scenario.p99_ms,
            "max_ms": scenario.max_ms,
            "healthz_per_second": baseline.map(|b| b.ops_per_second.round()),
            "ratio_to_healthz": ratio,
            "writer": writer.map(|w| json!({
                "batches": w.batches,
                "commands_per_batch": w.commands_per_batch,
                "commit_ms": w.commit_ms,
                "queue_wait_ms": w.queue_wait_ms,
            })),
            "refused": refused,
            "transport_errors": tally.transport_errors,
        })
    );
}
