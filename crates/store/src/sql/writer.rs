//! Group commit: concurrent commands are queued to writer lanes. A lane takes as many
//! commands as are waiting (up to [`GroupCommit::batch_commands_max`]), runs them in one
//! transaction, commits once, and only then answers each of them. The money-moving commands go
//! through the ledger engine together ([`super::engine`]: a fixed number of statements for the
//! lot); the others run one by one, each behind its own savepoint. One fsync serves the whole
//! batch. SQLite has one lane (one writer); PostgreSQL a few per node, whose batches lock their
//! vouchers in primary-key order first ([`super::lock_order`]) so that batches of different
//! lanes and nodes wait for each other but never deadlock over vouchers.
//!
//! Lanes form a pipeline: a lane keeps the queue from the moment it waits for a batch's first
//! command until that batch holds what it works on (the commands outside the engine have run,
//! and the ledger engine's batch has read its state and, on PostgreSQL, locked its vouchers),
//! and lets it go for the rest: the engine's decisions and write, the append of the batch's
//! events and the commit. So one lane at a time loads, with a batch as full as the commands
//! that queued while the lane before it loaded its own, and the others write, append and wait
//! for their commits' flush meanwhile. Batches that name the same voucher still run one after
//! the other: the later one waits for the voucher's lock, and reads its state once it has it.
//! (Lanes that took the queue as soon as they were free ran batches of a few commands side by
//! side, each paying a transaction's fixed cost for less.) A batch that waits for a row
//! another node holds holds up this node's queue with it. Appending takes the tenant's event
//! counter row ([`events::append`]) until the commit, so lanes that appended for one tenant
//! commit in the order of their events' numbers.
//!
//! Where a transaction's start costs round trips ([`GroupCommit::begin_early`], PostgreSQL:
//! its BEGIN and the batch's plan settings), a lane starts its next transaction before it
//! takes the queue, while another lane loads its batch. One begun longer ago than that
//! setting allows when its batch's first command arrives (the service was idle) is rolled back
//! and a fresh one begun. A batch whose early transaction fails before its
//! commit (the server ended it while it waited, say) has written nothing, and runs once more on
//! a fresh transaction.
//!
//! A refused or failing command is undone alone and answered alone; its batch-mates are not
//! affected. (An engine batch that fails is undone as a whole, and each of its commands is
//! then run alone, so only the command that caused the failure sees it.) A command that lost
//! to a concurrent writer (a deadlock, a serialization failure, a unique value taken
//! meanwhile) is run again after the batch, alone, with bounded retries.
//! If the commit itself fails, nothing of the batch is durable and every command in it is
//! answered with that failure. A request whose caller goes away before the answer is still
//! executed completely or not at all: the writer, not the request, owns the command. The
//! queue is bounded; when it is full a command is refused at once with
//! [`StoreError::Overloaded`] instead of waiting.
//!
//! SQLite's lane runs on a thread of its own ([`GroupCommit::lane_threads`]): its statements
//! block the thread they run on, which must not be one the request tasks are waiting for.
//!
//! Each batch is measured ([`BATCH_COMMANDS_METRIC`], [`COMMIT_SECONDS_METRIC`],
//! [`QUEUE_WAIT_SECONDS_METRIC`]): how full the batches are, how long the durable commit takes
//! and how long commands wait for a lane tell an operator whether the writer is the limit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, MutexGuard, Notify, mpsc, oneshot};

use super::SqlExec;
use super::command_tx::{execute_alone, run_command, worth_retrying};
use super::engine::{self, KeyBlocks};
use super::events;
use super::lock_order::lock_vouchers_in_order;
use super::{Backend, Dialect};
use crate::StoreError;
use crate::command::{CommandRequest, Execution};

/// Commands waiting for the writer at most; beyond it, commands are refused.
pub const QUEUE_COMMANDS_MAX: usize = 8_192;

/// Histogram: commands per transaction a lane ran (committed or not).
pub const BATCH_COMMANDS_METRIC: &str = "voucherd_writer_batch_commands";
/// Histogram: seconds a batch's commit took, the wait for the disk included.
pub const COMMIT_SECONDS_METRIC: &str = "voucherd_writer_commit_seconds";
/// Histogram: seconds each command waited in the queue before a lane took it.
pub const QUEUE_WAIT_SECONDS_METRIC: &str = "voucherd_writer_queue_wait_seconds";

/// How a store group-commits.
#[derive(Debug, Clone, Copy)]
pub struct GroupCommit {
    /// Writer tasks, each with its own transaction at a time: one runs its batch's statements
    /// while the others commit theirs.
    pub lanes: usize,
    /// Commands one transaction takes at most.
    pub batch_commands_max: usize,
    /// Commands waiting at most; beyond it, commands are refused.
    pub queue_commands_max: usize,
    /// Whether each lane runs on a thread of its own instead of on the async runtime's workers.
    /// For a store whose statements run in place and block the thread (SQLite): on a worker,
    /// the lane held up every request task queued behind it while it ran a batch, and each
    /// commit handed the worker over to a new thread to wait for the disk.
    pub lane_threads: bool,
    /// Whether a lane begins its next transaction before it takes the queue, so that the
    /// round trips of a transaction's start run while another lane loads its batch: if so,
    /// how long such a transaction may wait for its batch before a fresh one replaces it. Not
    /// for a store whose write transaction takes its write lock at the start (SQLite): an idle
    /// lane would keep that lock.
    pub begin_early: Option<Duration>,
}

/// The queue, held by the lane that takes from it: from waiting for a batch's first command
/// until that batch holds what it works on.
type Intake<'a> = MutexGuard<'a, mpsc::Receiver<Job>>;

struct Job {
    request: CommandRequest,
    answer: oneshot::Sender<Result<Execution, StoreError>>,
    queued_at: Instant,
}

/// The handle commands are submitted through. Dropping every handle stops the writer.
pub(super) struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer lanes (at least one), on the current Tokio runtime or each on a thread
    /// of its own ([`GroupCommit::lane_threads`]); `signal` is woken after every commit that
    /// wrote events.
    pub(super) fn spawn<B: Backend>(
        backend: Arc<B>,
        config: GroupCommit,
        signal: Arc<Notify>,
        blocks: Arc<KeyBlocks>,
    ) -> Result<Writer, StoreError> {
        let (queue, jobs) = mpsc::channel(config.queue_commands_max.max(1));
        let jobs = Arc::new(Mutex::new(jobs));
        for lane_number in 0..config.lanes.max(1) {
            let lane = run(
                backend.clone(),
                jobs.clone(),
                config,
                signal.clone(),
                blocks.clone(),
            );
            if config.lane_threads {
                spawn_lane_thread(lane_number, lane)?;
            } else {
                tokio::spawn(lane);
            }
        }
        Ok(Writer { queue })
    }

    /// Queues a command and waits for its committed answer.
    pub(super) async fn submit(&self, request: CommandRequest) -> Result<Execution, StoreError> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .try_send(Job {
                request,
                answer,
                queued_at: Instant::now(),
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => StoreError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => {
                    StoreError::Unavailable("the writer has stopped".into())
                }
            })?;
        answered
            .await
            .map_err(|_| StoreError::Other("the writer dropped a command".into()))?
    }
}

/// Runs `lane` on a new thread with a single-threaded runtime of its own, until it returns.
fn spawn_lane_thread(
    lane_number: usize,
    lane: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StoreError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Other(format!("cannot start the writer's runtime: {e}")))?;
    std::thread::Builder::new()
        .name(format!("voucherd-writer-{lane_number}"))
        .spawn(move || runtime.block_on(lane))
        .map_err(|e| StoreError::Other(format!("cannot start the writer's thread: {e}")))?;
    Ok(())
}

/// One lane: takes what is waiting, commits it, answers it, and again, until every
/// [`Writer`] handle is gone.
async fn run<B: Backend>(
    backend: Arc<B>,
    jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
    config: GroupCommit,
    signal: Arc<Notify>,
    blocks: Arc<KeyBlocks>,
) {
    let batch_max = config.batch_commands_max.max(1);
    let mut batch = Vec::with_capacity(batch_max);
    let mut early: Option<(B::Tx, Instant)> = None;
    loop {
        if config.begin_early.is_some() && early.is_none() {
            // A transaction that cannot begin now is begun, and its failure answered, once a
            // batch is waiting.
            early = begin_batch(backend.as_ref())
                .await
                .ok()
                .map(|tx| (tx, Instant::now()));
        }
        // Lanes take turns at the queue; the one holding it waits for the next command, and
        // keeps the queue until its batch holds what it works on ([`run_batch`]).
        let mut intake = jobs.lock().await;
        let Some(first) = intake.recv().await else {
            return;
        };
        let taken_at = Instant::now();
        batch.push(first);
        while batch.len() < batch_max {
            match intake.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let queue_wait = metrics::histogram!(QUEUE_WAIT_SECONDS_METRIC);
        for job in &batch {
            queue_wait.record(taken_at.duration_since(job.queued_at).as_secs_f64());
        }
        metrics::histogram!(BATCH_COMMANDS_METRIC).record(batch.len() as f64);
        // Dropped, a transaction rolls back.
        let begun = early
            .take()
            .filter(|(_, at)| {
                config
                    .begin_early
                    .is_some_and(|age_max| taken_at.duration_since(*at) <= age_max)
            })
            .map(|(tx, _)| tx);
        let lane = Lane {
            signal: &signal,
            blocks: &blocks,
        };
        commit_batch(backend.as_ref(), &mut batch, begun, intake, lane).await;
    }
}

/// Begins a batch's transaction, ready for the ledger engine's commands.
async fn begin_batch<B: Backend>(backend: &B) -> Result<B::Tx, StoreError> {
    let mut tx = backend.begin_write().await?;
    engine::ready(&mut tx, backend.dialect()).await?;
    Ok(tx)
}

/// What a lane shares with the others: the signal it wakes after a commit with events, and
/// the keys drawn ahead for new rows.
#[derive(Clone, Copy)]
struct Lane<'a> {
    signal: &'a Notify,
    blocks: &'a KeyBlocks,
}

async fn commit_batch<B: Backend>(
    backend: &B,
    batch: &mut Vec<Job>,
    begun: Option<B::Tx>,
    intake: Intake<'_>,
    lane: Lane<'_>,
) {
    let early = begun.is_some();
    let first = run_batch(backend, batch, begun, Some(intake), lane.blocks).await;
    // A transaction begun early may have been ended while it waited (the server restarted,
    // say). Nothing of the batch is committed: it runs once more, on a fresh transaction.
    let ended = early && first.as_ref().map_or(true, RanBatch::lost_its_connection);
    let ran = if ended {
        drop(first);
        run_batch(backend, batch, None, None, lane.blocks).await
    } else {
        first
    };
    let committed = match ran {
        Ok(ran) => commit::<B>(ran).await,
        Err(error) => Err(error),
    };
    let answers = match committed {
        Ok((answers, wrote_events)) => {
            if wrote_events {
                lane.signal.notify_waiters();
            }
            answers
        }
        // Nothing of the batch is durable: the commands that may succeed on another try get
        // it below, the others share the failure.
        Err(error) => batch.iter().map(|_| Err(error.clone())).collect(),
    };
    for (job, answer) in batch.drain(..).zip(answers) {
        let answer = match answer {
            Err(error) if worth_retrying(&error) => {
                execute_alone(backend, &job.request, lane.signal, lane.blocks).await
            }
            other => other,
        };
        // The caller may have gone away; its command is committed (or not) all the same.
        let _ = job.answer.send(answer);
    }
}

/// The answers of a batch's commands, and whether its commit wrote events.
type BatchAnswers = (Vec<Result<Execution, StoreError>>, bool);

/// A batch whose statements have run: its transaction, to commit, and its answers.
struct RanBatch<Tx> {
    tx: Tx,
    answers: Vec<Option<Result<Execution, StoreError>>>,
    wrote_events: bool,
}

impl<Tx> RanBatch<Tx> {
    /// Whether a command found the database unreachable (its connection ended, say).
    fn lost_its_connection(&self) -> bool {
        self.answers
            .iter()
            .any(|answer| matches!(answer, Some(Err(StoreError::Unavailable(_)))))
    }
}

/// Commits a batch; its answers hold only if the commit succeeded.
async fn commit<B: Backend>(ran: RanBatch<B::Tx>) -> Result<BatchAnswers, StoreError> {
    let committing = Instant::now();
    B::commit(ran.tx).await?;
    metrics::histogram!(COMMIT_SECONDS_METRIC).record(committing.elapsed().as_secs_f64());
    let answers = ran
        .answers
        .into_iter()
        .map(|answer| answer.unwrap_or_else(|| Err(StoreError::Other("unanswered".into()))))
        .collect();
    Ok((answers, ran.wrote_events))
}

/// Runs the batch's statements in one transaction (`begun`, or one begun now), lets the next
/// lane take the queue (`intake`, if this lane holds it) once the batch holds what it works on,
/// and appends the batch's events; the caller commits. Commands the ledger engine decides run
/// together, after the others; as every command of a batch was waiting at once, any order
/// among them is one they could have arrived in.
async fn run_batch<B: Backend>(
    backend: &B,
    batch: &[Job],
    begun: Option<B::Tx>,
    mut intake: Option<Intake<'_>>,
    blocks: &KeyBlocks,
) -> Result<RanBatch<B::Tx>, StoreError> {
    let dialect = backend.dialect();
    let mut tx = match begun {
        Some(tx) => tx,
        None => begin_batch(backend).await?,
    };
    let (decided, others): (Vec<usize>, Vec<usize>) =
        (0..batch.len()).partition(|&i| engine::is_engine_command(&batch[i].request.command));
    let mut answers: Vec<Option<Result<Execution, StoreError>>> =
        (0..batch.len()).map(|_| None).collect();
    let mut written = Vec::new();
    if !others.is_empty() {
        if dialect == Dialect::Postgres {
            // The engine's own load locks its vouchers in order; with other commands in the
            // batch, every voucher is locked in order before any of them runs.
            lock_vouchers_in_order(&mut tx, batch.iter().map(|job| &job.request)).await?;
        }
        for &i in &others {
            let request = &batch[i].request;
            answers[i] = Some(run_command(&mut tx, dialect, request, &mut written).await);
        }
    }
    if !decided.is_empty() {
        let requests: Vec<&CommandRequest> = decided.iter().map(|&i| &batch[i].request).collect();
        let fenced = !others.is_empty();
        if fenced {
            tx.execute("SAVEPOINT engine", vec![]).await?;
        }
        let mut decided_events = Vec::new();
        // Once the engine's batch holds its vouchers, the next lane may take what queued
        // meanwhile and load its own batch while this one decides and writes.
        let hand_on = || drop(intake.take());
        let ran = engine::run_ready(
            &mut tx,
            dialect,
            &requests,
            &mut decided_events,
            blocks,
            hand_on,
        )
        .await;
        match ran {
            Ok(executions) => {
                for (&i, execution) in decided.iter().zip(executions) {
                    answers[i] = Some(Ok(execution));
                }
                written.extend(decided_events);
            }
            Err(error) if fenced => {
                // Undo the engine's part alone; its commands find out alone what failed.
                tx.execute("ROLLBACK TO SAVEPOINT engine", vec![]).await?;
                for &i in &decided {
                    answers[i] = Some(Err(alone(error.clone(), decided.len())));
                }
            }
            Err(error) => return Err(alone(error, decided.len())),
        }
    }
    // A batch without engine commands lets the queue go here, once its commands have run; the
    // next lane takes what queued meanwhile while this one appends and waits for the disk.
    drop(intake);
    events::append(&mut tx, dialect, &written).await?;
    Ok(RanBatch {
        tx,
        answers,
        wrote_events: !written.is_empty(),
    })
}

/// A failure of a batch of engine commands, answered so that each command is tried again in a
/// transaction of its own: one command's failure (a corrupted row, say) must not fail the
/// others. A failure of a single command stands.
fn alone(error: StoreError, commands: usize) -> StoreError {
    if commands > 1 && !worth_retrying(&error) {
        StoreError::Retryable(format!("tried alone after its batch failed: {error}"))
    } else {
        error
    }
}
