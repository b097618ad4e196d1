//! Group commit: concurrent commands are queued to one writer task, which runs as many as are
//! waiting (up to [`BATCH_COMMANDS_MAX`]) in one transaction, each behind its own savepoint,
//! commits once, and only then answers each of them. One fsync serves the whole batch.
//!
//! A refused or failing command is undone alone and answered alone; its batch-mates are not
//! affected. If the commit itself fails, nothing of the batch is durable and every command in
//! it is answered with that failure. A request whose caller goes away before the answer is
//! still executed completely or not at all: the writer, not the request, owns the command.
//! The queue is bounded; when it is full a command is refused at once with
//! [`StoreError::Overloaded`] instead of waiting.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::Backend;
use super::command_tx::run_command;
use crate::StoreError;
use crate::command::{CommandRequest, Execution};

/// Commands waiting for the writer at most; beyond it, commands are refused.
pub const QUEUE_COMMANDS_MAX: usize = 8_192;
/// Commands committed together at most.
pub const BATCH_COMMANDS_MAX: usize = 512;

struct Job {
    request: CommandRequest,
    answer: oneshot::Sender<Result<Execution, StoreError>>,
}

/// The handle commands are submitted through. Dropping every handle stops the writer.
pub(super) struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer task on the current Tokio runtime.
    pub(super) fn spawn<B: Backend>(backend: Arc<B>) -> Writer {
        let (queue, jobs) = mpsc::channel(QUEUE_COMMANDS_MAX);
        tokio::spawn(run(backend, jobs));
        Writer { queue }
    }

    /// Queues a command and waits for its committed answer.
    pub(super) async fn submit(&self, request: CommandRequest) -> Result<Execution, StoreError> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .try_send(Job { request, answer })
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

async fn run<B: Backend>(backend: Arc<B>, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(BATCH_COMMANDS_MAX);
    while let Some(first) = jobs.recv().await {
        batch.push(first);
        while batch.len() < BATCH_COMMANDS_MAX {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(backend.as_ref(), &mut batch).await;
    }
}

async fn commit_batch<B: Backend>(backend: &B, batch: &mut Vec<Job>) {
    let mut tx = match backend.begin_write().await {
        Ok(tx) => tx,
        Err(error) => {
            for job in batch.drain(..) {
                let _ = job.answer.send(Err(error.clone()));
            }
            return;
        }
    };
    let mut answers = Vec::with_capacity(batch.len());
    for job in batch.iter() {
        answers.push(run_command(&mut tx, backend.dialect(), &job.request).await);
    }
    let committed = B::commit(tx).await;
    for (job, answer) in batch.drain(..).zip(answers) {
        let answer = match &committed {
            Ok(()) => answer,
            Err(error) => Err(error.clone()),
        };
        // The caller may have gone away; its command is committed (or not) all the same.
        let _ = job.answer.send(answer);
    }
}
