//! The ledger in SQL, written once for both backends. Both dialects accept `$1`-style
//! placeholders, `RETURNING`, and `ON CONFLICT`; the differences (row locks, the statement that
//! opens a write transaction, column types in the migrations) live in the backends.
//!
//! Times are stored as integer microseconds since the Unix epoch (UTC) so that both databases
//! compare and order them the same way; money as integer minor units.

mod backend;
mod bleepay_reads;
mod branding_reads;
mod command_tx;
mod console_reads;
mod engine;
pub mod events;
mod front_reads;
mod idempotency;
mod ledger;
mod lock_order;
mod migrate;
mod reads;
mod report_reads;
mod series_reads;
mod sets;
mod store_impl;
mod texts;
mod value;
mod webhook_reads;
mod writer;

pub use backend::{Backend, Dialect, SqlExec};
pub use engine::BLOCK_KEYS;
pub use migrate::{Migration, migrate};
pub use store_impl::SqlStore;
pub use value::{Row, RowReader, Value, from_micros, to_micros};
pub use writer::{
    BATCH_COMMANDS_METRIC, COMMIT_SECONDS_METRIC, GroupCommit, QUEUE_COMMANDS_MAX,
    QUEUE_WAIT_SECONDS_METRIC,
};
