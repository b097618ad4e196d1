//! The ledger vocabulary of voucherd, free of I/O: money and currencies, vouchers, holds
//! (reservations), immutable entries (issue, charge, refund, recharge), the decisions that move
//! money between them, the balance invariant, and the generators for ids, codes and secrets.
//!
//! Nothing here reads a clock, a socket or a database: every function that depends on time takes
//! `now` as an argument, so callers (and tests) decide what time it is.

pub mod bleepay;
pub mod engine;
pub mod error;
pub mod events;
pub mod front;
pub mod integrity;
pub mod money;
pub mod password;
pub mod pattern;
pub mod scope;
pub mod secret;
pub mod validity;
pub mod voucher;
pub mod webhook;

pub use error::DomainError;
pub use money::{BALANCE_MINOR_MAX, Currency};
pub use scope::Scope;
pub use validity::{Validity, ValidityInterval};
pub use voucher::{EntryKind, HoldState, VoucherKind, VoucherStatus};
