//! What the server's group-commit writer did during a run: the difference of its `/metrics`
//! histograms taken before and after (batches, commands per batch, commit time, queue wait).
//! It tells whether the writer was the limit of a run: full batches and a long queue wait say
//! so, short commits with small batches say the limit was elsewhere.

use crate::api::Api;

/// The writer's cumulative histogram totals at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WriterTotals {
    batches: f64,
    commands: f64,
    commits: f64,
    commit_seconds: f64,
    waits: f64,
    wait_seconds: f64,
}

/// The writer's figures over a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriterFigures {
    pub batches: f64,
    pub commands_per_batch: f64,
    pub commit_ms: f64,
    pub queue_wait_ms: f64,
}

/// Reads the writer's totals from the exposition text; `None` if the server has none (an older
/// voucherd, or one that has not written yet).
pub fn totals(exposition: &str) -> Option<WriterTotals> {
    let value = |name: &str| {
        exposition
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    Some(WriterTotals {
        batches: value("voucherd_writer_batch_commands_count")?,
        commands: value("voucherd_writer_batch_commands_sum")?,
        commits: value("voucherd_writer_commit_seconds_count")?,
        commit_seconds: value("voucherd_writer_commit_seconds_sum")?,
        waits: value("voucherd_writer_queue_wait_seconds_count")?,
        wait_seconds: value("voucherd_writer_queue_wait_seconds_sum")?,
    })
}

/// Fetches the server's current writer totals.
pub async fn sample(api: &Api) -> Option<WriterTotals> {
    let response = api
        .http
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .ok()?;
    totals(&response.text().await.ok()?)
}

/// The figures of what happened between two samples; `None` if no batch ran in between.
pub fn between(before: WriterTotals, after: WriterTotals) -> Option<WriterFigures> {
    let batches = after.batches - before.batches;
    let commits = after.commits - before.commits;
    let waits = after.waits - before.waits;
    (batches > 0.0 && commits > 0.0 && waits > 0.0).then(|| WriterFigures {
        batches,
        commands_per_batch: (after.commands - before.commands) / batches,
        commit_ms: (after.commit_seconds - before.commit_seconds) / commits * 1000.0,
        queue_wait_ms: (after.wait_seconds - before.wait_seconds) / waits * 1000.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "# TYPE voucherd_writer_batch_commands histogram\n\
        voucherd_writer_batch_commands_bucket{le=\"1\"} 3\n\
        voucherd_writer_batch_commands_sum 10\n\
        voucherd_writer_batch_commands_count 4\n\
        voucherd_writer_commit_seconds_sum 0.004\n\
        voucherd_writer_commit_seconds_count 4\n\
        voucherd_writer_queue_wait_seconds_sum 0.01\n\
        voucherd_writer_queue_wait_seconds_count 10\n";
    const AFTER: &str = "voucherd_writer_batch_commands_sum 110\n\
        voucherd_writer_batch_commands_count 8\n\
        voucherd_writer_commit_seconds_sum 0.008\n\
        voucherd_writer_commit_seconds_count 8\n\
        voucherd_writer_queue_wait_seconds_sum 0.21\n\
        voucherd_writer_queue_wait_seconds_count 110\n";

    #[test]
    fn figures_are_the_difference_of_two_samples() {
        let before = totals(BEFORE).expect("totals before");
        let after = totals(AFTER).expect("totals after");
        let figures = between(before, after).expect("batches ran");
        assert_eq!(figures.batches, 4.0);
        assert_eq!(figures.commands_per_batch, 25.0);
        assert!((figures.commit_ms - 1.0).abs() < 1e-9, "{figures:?}");
        assert!((figures.queue_wait_ms - 2.0).abs() < 1e-9, "{figures:?}");
        assert_eq!(between(after, after), None);
    }

    #[test]
    fn a_server_without_writer_metrics_has_no_totals() {
        assert_eq!(totals("voucherd_http_requests_total 3\n"), None);
        assert_eq!(totals("voucherd_writer_batch_commands_count 1\n"), None);
    }
}
