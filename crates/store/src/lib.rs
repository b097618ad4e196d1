//! The storage boundary of voucherd.
//!
//! - [`Store`] is the use-case-shaped interface the server talks to: one `execute` for every
//!   write (a [`Command`] in, one outcome out, one transaction) and named reads.
//! - [`sql`] holds the ledger's SQL and its command logic, written once against the small
//!   [`sql::Backend`] interface that the SQLite and PostgreSQL crates implement. A backend
//!   supplies transactions, migrations and error mapping; it never holds business rules.
//! - [`bleepay`] holds the bleepay face's payers, contexts, tokens and voucher codes.
//! - [`front`] holds the Front Payment face's reservations, postings, history and callbacks.
//! - [`conformance`] is the suite every backend runs to prove it behaves identically.
//!
//! Nothing here knows which face called, and nothing above here sees a database error type.

pub mod bleepay;
pub mod branding;
pub mod command;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod console;
pub mod error;
pub mod events;
pub mod front;
pub mod model;
pub mod report;
pub mod series;
pub mod sql;
mod store;
pub mod webhooks;

pub use command::{
    Actor, Command, CommandContext, CommandRequest, CommandResult, Execution, IdempotencyRequest,
    Outcome, Renderer, StoredResponse,
};
pub use error::StoreError;
pub use store::Store;
