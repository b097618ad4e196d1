//! One command inside an open write transaction, fenced by a savepoint: whatever the command
//! does is undone alone if it is refused or fails, so it can share a transaction with other
//! commands (group commit) without ever touching their outcome. The commands the ledger engine
//! decides need no fence (a refusal writes nothing); they run as a batch of their own
//! ([`super::engine`]), and alone as a batch of one.

use tokio::sync::Notify;
use voucherd_domain::events::LedgerEvent;

use super::engine::{self, KeyBlocks};
use super::events;
use super::idempotency::{store_response, stored_response};
use super::ledger::apply;
use super::{Backend, Dialect, SqlExec};
use crate::StoreError;
use crate::command::{CommandRequest, Execution};

/// How many times a command is tried when a serialization failure, a deadlock or a
/// constraint that a concurrent writer won stops it. Each try re-reads everything, so the
/// next one sees the winner.
const COMMAND_ATTEMPTS_MAX: usize = 5;

/// Answers whether trying the command again, in a new transaction, may succeed.
pub(super) fn worth_retrying(error: &StoreError) -> bool {
    matches!(error, StoreError::Conflict(_) | StoreError::Retryable(_))
}

/// Runs `request` in a transaction of its own, trying again (a bounded number of times) while
/// it loses to a concurrent writer. Wakes `signal` when the commit wrote events.
pub(super) async fn execute_alone<B: Backend>(
    backend: &B,
    request: &CommandRequest,
    signal: &Notify,
    blocks: &KeyBlocks,
) -> Result<Execution, StoreError> {
    let mut attempt = 1;
    loop {
        let once = async {
            let mut tx = backend.begin_write().await?;
            let mut written = Vec::new();
            let execution = if engine::is_engine_command(&request.command) {
                let dialect = backend.dialect();
                let mut executions =
                    engine::run(&mut tx, dialect, &[request], &mut written, blocks).await?;
                executions
                    .pop()
                    .ok_or_else(|| StoreError::Other("the engine answered nothing".into()))?
            } else {
                run_command(&mut tx, backend.dialect(), request, &mut written).await?
            };
            events::append(&mut tx, backend.dialect(), &written).await?;
            B::commit(tx).await?;
            if !written.is_empty() {
                signal.notify_waiters();
            }
            Ok(execution)
        };
        match once.await {
            Err(error) if worth_retrying(&error) && attempt < COMMAND_ATTEMPTS_MAX => {
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Runs `request` in `tx`. On `Ok` its effects (or, for a refusal, only its stored answer) stay
/// in the transaction, and its events are added to `events`; on `Err` nothing of it does. The
/// caller appends the events and commits.
pub(super) async fn run_command<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    request: &CommandRequest,
    events: &mut Vec<LedgerEvent>,
) -> Result<Execution, StoreError> {
    tx.execute("SAVEPOINT command", vec![]).await?;
    let before = events.len();
    let ran = run_fenced(tx, dialect, request, events).await;
    if !matches!(ran, Ok(Execution::Done(Ok(_)))) {
        // A refusal, a replay or a failure leaves no events.
        events.truncate(before);
    }
    match ran {
        Ok(execution) => {
            // PostgreSQL keeps the savepoint: the next command's savepoint of the same name
            // nests inside it (a rollback to `command` goes to the newest), and the commit
            // ends them all, which saves a round trip per command. Its batches hold at most 48
            // commands, well under the 64 subtransactions a backend tracks before it
            // overflows. SQLite releases it, as its batches run to hundreds of commands and a
            // release costs no round trip there.
            if dialect != Dialect::Postgres {
                tx.execute("RELEASE SAVEPOINT command", vec![]).await?;
            }
            Ok(execution)
        }
        Err(error) => {
            // Undo this command alone. If even that fails, the transaction is unusable and the
            // commit will fail, which fails every command in it: nothing half-applied survives.
            let _ = tx.execute("ROLLBACK TO SAVEPOINT command", vec![]).await;
            let _ = tx.execute("RELEASE SAVEPOINT command", vec![]).await;
            Err(error)
        }
    }
}

async fn run_fenced<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    request: &CommandRequest,
    events: &mut Vec<LedgerEvent>,
) -> Result<Execution, StoreError> {
    let ctx = &request.context;
    if let Some(idem) = &request.idempotency
        && let Some(earlier) = stored_response(tx, &ctx.tenant_id, idem, ctx.now).await?
    {
        return Ok(earlier);
    }
    let result = apply(tx, dialect, ctx, &request.command, events).await?;
    if result.is_err() {
        // A refusal leaves no trace but its stored answer.
        tx.execute("ROLLBACK TO SAVEPOINT command", vec![]).await?;
    }
    if let Some(idem) = &request.idempotency {
        store_response(tx, &ctx.tenant_id, idem, &(idem.render)(&result), ctx.now).await?;
    }
    Ok(Execution::Done(result))
}
