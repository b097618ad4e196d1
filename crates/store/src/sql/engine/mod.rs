//! The money-moving commands (reserve, charge, release, refund, recharge, voucher status and
//! deletion, from the JTL face and the console; pay, capture, charge, cancel, complete and
//! refund from Front Payment; redeem, resolve and discard from bleepay) run as one batch through the domain's ledger
//! engine: [`load`] reads what the batch names in a fixed number of set-based statements
//! (locking its vouchers in key order on PostgreSQL), the engine decides each command in queue
//! order against that state, and [`persist`] writes the write set with one statement per table.
//! Neither grows with the number of commands. The store decides nothing here: the rules live
//! in `voucherd_domain::engine`.
//!
//! Idempotency keys ([`keys`]) are looked up for the whole batch at once and their first
//! answers written with the batch, so a retry sees the change and its answer or neither.

mod bleepay_load;
mod bleepay_persist;
mod front_load;
mod front_persist;
mod key_blocks;
mod keys;
mod load;
mod outcome;
mod persist;
mod sweep;

pub use key_blocks::BLOCK_KEYS;
pub(super) use key_blocks::KeyBlocks;
pub(super) use sweep::expire_holds;

use voucherd_domain::engine::{self, Closing, OrderedIds, Origin, VoucherName};
use voucherd_domain::events::LedgerEvent;

use super::{Dialect, SqlExec, from_micros, to_micros};
use crate::StoreError;
use crate::command::{Command, CommandRequest, Execution, VoucherRef};

/// A request of a batch with the engine's form of its command and the time it runs at, as the
/// database keeps times.
pub(super) type Planned<'a> = (&'a CommandRequest, engine::Command, time::OffsetDateTime);

/// The engine's form of a command, for the commands the engine decides.
pub(super) fn engine_command(command: &Command) -> Option<engine::Command> {
    Some(match command {
        Command::Reserve {
            code,
            pin,
            amount_minor,
            currency,
        } => engine::Command::Reserve {
            code: code.clone(),
            pin: pin.clone(),
            amount_minor: *amount_minor,
            currency: *currency,
        },
        Command::ChargeReservation {
            reservation_id,
            order_number,
        } => engine::Command::Charge {
            reservation_id: reservation_id.clone(),
            order_number: order_number.clone(),
        },
        Command::ReleaseReservation { reservation_id } => engine::Command::Release {
            reservation_id: reservation_id.clone(),
        },
        Command::Refund {
            charge_id,
            amount_minor,
            currency,
        } => engine::Command::Refund {
            charge_id: charge_id.clone(),
            amount_minor: *amount_minor,
            currency: *currency,
        },
        Command::Recharge {
            voucher,
            amount_minor,
            currency,
            order_number,
        } => engine::Command::Recharge {
            voucher: match voucher {
                VoucherRef::Id(id) => VoucherName::Id(id.clone()),
                VoucherRef::Code(code) => VoucherName::Code(code.clone()),
                VoucherRef::Both { id, code } => VoucherName::Both {
                    id: id.clone(),
                    code: code.clone(),
                },
            },
            amount_minor: *amount_minor,
            currency: *currency,
            order_number: order_number.clone(),
        },
        Command::SetVoucherStatus {
            id,
            status,
            comment,
        } => engine::Command::SetStatus {
            voucher_id: id.clone(),
            status: *status,
            comment: comment.clone(),
        },
        Command::DeleteVoucher { id, comment } => engine::Command::Delete {
            voucher_id: id.clone(),
            comment: comment.clone(),
        },
        Command::FrontPay {
            reservation_id,
            vouchers,
            currency,
        } => engine::Command::FrontPay {
            reservation_id: reservation_id.clone(),
            vouchers: vouchers.clone(),
            currency: *currency,
        },
        Command::FrontCapture {
            reservation_id,
            lines,
            note,
        } => engine::Command::FrontCapture {
            reservation_id: reservation_id.clone(),
            lines: lines.clone(),
            note: note.clone(),
        },
        Command::FrontCharge {
            reservation_id,
            lines,
            note,
        } => engine::Command::FrontCharge {
            reservation_id: reservation_id.clone(),
            lines: lines.clone(),
            note: note.clone(),
        },
        Command::FrontCancel {
            reservation_id,
            note,
        } => engine::Command::FrontClose {
            reservation_id: reservation_id.clone(),
            closing: Closing::Cancel,
            note: note.clone(),
        },
        Command::FrontComplete {
            reservation_id,
            note,
        } => engine::Command::FrontClose {
            reservation_id: reservation_id.clone(),
            closing: Closing::Complete,
            note: note.clone(),
        },
        Command::FrontRefund {
            reservation_id,
            source,
            reference,
            lines,
        } => engine::Command::FrontRefund {
            reservation_id: reservation_id.clone(),
            source: *source,
            reference: reference.clone(),
            lines: lines.clone(),
        },
        Command::RedeemCode {
            caller,
            code_id,
            amount_minor,
            currency,
        } => engine::Command::BleepayRedeem {
            caller: caller.clone(),
            code_id: code_id.clone(),
            amount_minor: *amount_minor,
            currency: *currency,
        },
        Command::ResolveCode { payer_id, code_id } => engine::Command::BleepayResolve {
            payer_id: payer_id.clone(),
            code_id: code_id.clone(),
        },
        Command::DiscardCode { caller, code_id } => engine::Command::BleepayDiscard {
            caller: caller.clone(),
            code_id: code_id.clone(),
        },
        _ => return None,
    })
}

/// Whether the engine decides this command.
pub(super) fn is_engine_command(command: &Command) -> bool {
    matches!(
        command,
        Command::Reserve { .. }
            | Command::ChargeReservation { .. }
            | Command::ReleaseReservation { .. }
            | Command::Refund { .. }
            | Command::Recharge { .. }
            | Command::SetVoucherStatus { .. }
            | Command::DeleteVoucher { .. }
            | Command::FrontPay { .. }
            | Command::FrontCapture { .. }
            | Command::FrontCharge { .. }
            | Command::FrontCancel { .. }
            | Command::FrontComplete { .. }
            | Command::FrontRefund { .. }
            | Command::RedeemCode { .. }
            | Command::ResolveCode { .. }
            | Command::DiscardCode { .. }
    )
}

/// The PostgreSQL settings of an engine batch's transaction (see [`ready`]), in one statement.
const KEYED_PLANS: &str = "SELECT set_config('plan_cache_mode', 'force_generic_plan', true), \
     set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true), \
     set_config('enable_mergejoin', 'off', true)";

/// Readies a transaction for engine batches: on PostgreSQL, the settings the batch's
/// statements are planned under (below); nothing on SQLite.
pub(super) async fn ready<T: SqlExec>(tx: &mut T, dialect: Dialect) -> Result<(), StoreError> {
    if dialect == Dialect::Postgres {
        // The batch's statements have one text whatever the batch holds (whole columns are
        // arrays), so one plan serves every batch. Left to choose, PostgreSQL plans each of them
        // anew every time (custom plans, measured at 1.5 ms for the voucher load alone against
        // 0.03 ms generic): this transaction uses the generic plans.
        //
        // A generic plan is made once per connection, from the statistics of that moment, and
        // knows nothing of the arrays' lengths. Made while `holds` was new and small (a fresh
        // database, the first minute of traffic), it scanned the whole table, in three
        // statements of every batch, while the table grew by a row per reservation, until an
        // analysis of the table (autovacuum's, a minute or more later) replaced it. Every statement
        // here finds its rows by key: the planner is told to use the keys' indexes, with
        // nested loops, whatever it believes of the tables' sizes.
        tx.execute(KEYED_PLANS, vec![]).await?;
    }
    Ok(())
}

/// Runs engine commands as one batch inside `tx`, in their order; answers each, and adds the
/// batch's events to `events` (for the caller to append before it commits). On `Err` the
/// transaction must not be committed: some of the batch may be written.
pub(super) async fn run<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    requests: &[&CommandRequest],
    events: &mut Vec<LedgerEvent>,
    blocks: &KeyBlocks,
) -> Result<Vec<Execution>, StoreError> {
    ready(tx, dialect).await?;
    run_ready(tx, dialect, requests, events, blocks, || {}).await
}

/// Like [`run`], in a transaction already [`ready`]; calls `loaded` once the batch's state is
/// read (on PostgreSQL, its vouchers locked), before it is decided and written.
pub(super) async fn run_ready<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    requests: &[&CommandRequest],
    events: &mut Vec<LedgerEvent>,
    blocks: &KeyBlocks,
    loaded: impl FnOnce(),
) -> Result<Vec<Execution>, StoreError> {
    let mut batch: Vec<Planned<'_>> = Vec::with_capacity(requests.len());
    for request in requests {
        let command = engine_command(&request.command).ok_or_else(|| {
            StoreError::Other(format!(
                "{} is not an engine command",
                request.command.action()
            ))
        })?;
        // Times as the database keeps them (microseconds), so answers equal what is read back.
        let now = from_micros(to_micros(request.context.now))?;
        batch.push((*request, command, now));
    }
    let mut keys = keys::Keys::load(tx, dialect, requests).await?;
    let mut state = load::ledger(tx, dialect, &batch).await?;
    loaded();
    let mut ids = OrderedIds;
    let mut executions = Vec::with_capacity(batch.len());
    for (request, command, now) in &batch {
        let ctx = &request.context;
        if let Some(idem) = &request.idempotency
            && let Some(earlier) = keys.earlier(&ctx.tenant_id, idem, *now)
        {
            executions.push(earlier);
            continue;
        }
        let origin = Origin {
            tenant_id: ctx.tenant_id.clone(),
            actor_kind: ctx.actor.kind(),
            actor_id: ctx.actor.id().to_string(),
            client_id: ctx.actor.client_id(),
            request_id: ctx.request_id.clone(),
            now: *now,
        };
        let answer = engine::apply(&mut state.ledger, &origin, command, &mut ids);
        let result = match answer {
            Ok(answer) => Ok(outcome::of(answer, &state, *now)?),
            Err(refusal) => Err(refusal),
        };
        if let Some(idem) = &request.idempotency {
            keys.keep(&ctx.tenant_id, idem, (idem.render)(&result), *now);
        }
        executions.push(Execution::Done(result));
    }
    persist::write(tx, dialect, &state.ledger.write_set(), &keys, blocks).await?;
    events.extend(state.ledger.take_events());
    Ok(executions)
}

/// A transaction that records every statement run on it, for tests that hold a batch to its
/// statement budget.
#[cfg(feature = "conformance")]
pub(super) struct Recording<'a, T: SqlExec> {
    pub(super) inner: &'a mut T,
    pub(super) statements: Vec<String>,
}

#[cfg(feature = "conformance")]
impl<T: SqlExec> SqlExec for Recording<'_, T> {
    async fn execute(&mut self, sql: &str, params: Vec<super::Value>) -> Result<u64, StoreError> {
        self.statements.push(sql.to_string());
        self.inner.execute(sql, params).await
    }

    /// Recorded once per row, as it is stepped; run as the backend runs it.
    async fn execute_each(
        &mut self,
        sql: &str,
        rows: Vec<Vec<super::Value>>,
    ) -> Result<u64, StoreError> {
        self.statements
            .extend(std::iter::repeat_n(sql.to_string(), rows.len()));
        self.inner.execute_each(sql, rows).await
    }

    async fn fetch(
        &mut self,
        sql: &str,
        params: Vec<super::Value>,
    ) -> Result<Vec<super::Row>, StoreError> {
        self.statements.push(sql.to_string());
        self.inner.fetch(sql, params).await
    }

    async fn execute_script(&mut self, sql: &str) -> Result<(), StoreError> {
        self.statements.push(sql.to_string());
        self.inner.execute_script(sql).await
    }
}
