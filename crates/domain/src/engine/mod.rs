//! The ledger engine: one pure state machine that every money-moving command of a batch goes
//! through. The store loads what a batch names into a [`Ledger`] (locking it where other
//! writers exist), calls [`apply`] for each command in queue order, and writes the
//! [`Ledger::write_set`] in one transaction. Nothing here does I/O: no clock (each command
//! carries its `now`), no database, and ids come from an injected [`IdSource`].
//!
//! A command sees the effects of the ones before it in the same batch. A refused command
//! changes nothing and answers its refusal, so commands need no savepoints.
//!
//! Layout: [`state`] holds the ledger and records every change, [`front_book`] and
//! [`bleepay_book`] those faces' rows beside it; [`lifecycle`] is the one hold lifecycle and
//! the one way a balance moves, with the checks every face shares (and the sweeper's expiry);
//! [`jtl`] holds the JTL face's (and the console's) rules over it, [`front`] Front Payment's,
//! [`bleepay`] bleepay's.

pub mod bleepay;
pub mod bleepay_book;
pub mod front;
pub mod front_book;
pub mod jtl;
pub mod lifecycle;
pub mod state;

#[cfg(test)]
mod model_tests;

use time::OffsetDateTime;

pub use bleepay::PURPOSE_BLEEPAY;
pub use bleepay_book::{BleepayBook, BleepayCode, BleepayWrites, FreedCode};
pub use front::{Closing, PURPOSE_FRONT};
pub use front_book::{
    Draw, FrontBook, FrontCallback, FrontEvent, FrontLine, FrontPayer, FrontPosting,
    FrontReservation, FrontWrites, PostingLine,
};
pub use state::{
    AuditRecord, Entry, Hold, Ledger, PURPOSE_RESERVATION, RowKey, TenantRules, Voucher, WriteSet,
};

use crate::bleepay::BleepayCaller;
use crate::front::{FrontLineInput, LineAmount, PostingSource};
use crate::{Currency, DomainError, VoucherStatus};

/// Digits after the prefix of Front Payment's capture and charge ids.
pub const POSTING_ID_DIGITS: usize = 10;

/// Makes the ids of new holds and entries. The service uses [`OrderedIds`]; tests count.
pub trait IdSource {
    fn next_id(&mut self, now: OffsetDateTime) -> String;

    /// A Front Payment capture or charge id: `prefix` and [`POSTING_ID_DIGITS`] digits.
    fn posting_id(&mut self, prefix: &str) -> String;
}

/// Ids that sort by time, with 40 random bits ([`crate::secret::ordered_id`]); posting ids
/// with random digits (the store refuses a duplicate, and the command is then run again).
#[derive(Debug, Default, Clone, Copy)]
pub struct OrderedIds;

impl IdSource for OrderedIds {
    fn next_id(&mut self, now: OffsetDateTime) -> String {
        crate::secret::ordered_id(now)
    }

    fn posting_id(&mut self, prefix: &str) -> String {
        format!(
            "{prefix}{}",
            crate::secret::random_string(b"0123456789", POSTING_ID_DIGITS)
        )
    }
}

/// Who sent a command, in which tenant, under which request, and when it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    pub tenant_id: String,
    /// The actor's kind as the audit log names it (`client`, `admin`, ...).
    pub actor_kind: &'static str,
    pub actor_id: String,
    /// The API client to record on new holds and entries.
    pub client_id: Option<String>,
    pub request_id: String,
    pub now: OffsetDateTime,
}

/// How a command names a voucher.
#[derive(Debug, Clone, PartialEq)]
pub enum VoucherName {
    Id(String),
    Code(String),
    /// Both given: they must name the same voucher.
    Both {
        id: String,
        code: String,
    },
}

/// The money-moving commands the engine decides.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Holds an amount on the voucher with this code, superseding its live reservation.
    Reserve {
        code: String,
        pin: Option<String>,
        amount_minor: i64,
        currency: Currency,
    },
    Charge {
        reservation_id: String,
        order_number: String,
    },
    Release {
        reservation_id: String,
    },
    Refund {
        charge_id: String,
        amount_minor: i64,
        currency: Currency,
    },
    Recharge {
        voucher: VoucherName,
        amount_minor: i64,
        currency: Currency,
        order_number: String,
    },
    SetStatus {
        voucher_id: String,
        status: VoucherStatus,
        comment: Option<String>,
    },
    Delete {
        voucher_id: String,
        comment: String,
    },
    /// Front Payment: the customer pays a reservation with the vouchers these codes name, in
    /// this order.
    FrontPay {
        reservation_id: String,
        vouchers: Vec<crate::front::PayingVoucher>,
        /// The currency the page showed the amounts in, if it showed one: a voucher in
        /// another is refused.
        currency: Option<crate::Currency>,
    },
    FrontCapture {
        reservation_id: String,
        lines: Vec<LineAmount>,
        note: Option<String>,
    },
    FrontCharge {
        reservation_id: String,
        lines: Vec<FrontLineInput>,
        note: Option<String>,
    },
    /// Cancel or complete.
    FrontClose {
        reservation_id: String,
        closing: Closing,
        note: String,
    },
    FrontRefund {
        reservation_id: String,
        source: PostingSource,
        reference: String,
        lines: Vec<LineAmount>,
    },
    /// bleepay: the payee (or a payer acting as one) redeems a voucher code for an amount.
    BleepayRedeem {
        caller: BleepayCaller,
        code_id: String,
        amount_minor: i64,
        currency: Currency,
    },
    /// bleepay: the payer confirms a redeemed code.
    BleepayResolve {
        payer_id: String,
        code_id: String,
    },
    BleepayDiscard {
        caller: BleepayCaller,
        code_id: String,
    },
}

/// A voucher's changing figures right after a command.
#[derive(Debug, Clone, PartialEq)]
pub struct VoucherFigures {
    pub pk: i64,
    pub status: VoucherStatus,
    pub valid_until: Option<OffsetDateTime>,
    pub remaining_minor: i64,
    pub held_minor: i64,
    pub deletable: bool,
    pub updated_at: OffsetDateTime,
}

/// What an accepted command produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Reserved(Hold),
    /// `first_time: false` when the reservation was already charged with the same order
    /// number and this is that charge again.
    Charged {
        entry: Entry,
        first_time: bool,
    },
    Released,
    Refunded(Entry),
    Recharged(Entry),
    Voucher(VoucherFigures),
    Deleted,
    /// The reservation as the payment left it.
    FrontPaid(Box<FrontReservation>),
    /// A capture or charge, by its id.
    FrontPosted {
        id: String,
    },
    FrontDone,
    /// The bleepay voucher code as the command left it.
    BleepayCode(Box<BleepayCode>),
}

/// Records what `origin` did to the subject (its kind and id) in the batch's audit log.
fn audit(
    ledger: &mut Ledger,
    origin: &Origin,
    action: &'static str,
    (subject_kind, subject_id): (&'static str, &str),
    detail: impl serde::Serialize,
) {
    ledger.add_audit(AuditRecord {
        tenant_id: origin.tenant_id.clone(),
        at: origin.now,
        actor_kind: origin.actor_kind,
        actor_id: origin.actor_id.clone(),
        action,
        subject_kind,
        subject_id: subject_id.to_string(),
        request_id: origin.request_id.clone(),
        // Text keys and plain values only: serde_json has nothing to refuse.
        detail: serde_json::to_string(&detail).unwrap_or_default(),
    });
}

/// The face a command came through: Front Payment's and bleepay's commands are theirs
/// whoever sends them (a customer on the payment page pays through Front Payment); the JTL
/// commands are the JTL face's when a client sends them and the console's when an operator does.
fn face(command: &Command, origin: &Origin) -> &'static str {
    match command {
        Command::FrontPay { .. }
        | Command::FrontCapture { .. }
        | Command::FrontCharge { .. }
        | Command::FrontClose { .. }
        | Command::FrontRefund { .. } => "front_payment",
        Command::BleepayRedeem { .. }
        | Command::BleepayResolve { .. }
        | Command::BleepayDiscard { .. } => "bleepay",
        Command::Reserve { .. }
        | Command::Charge { .. }
        | Command::Release { .. }
        | Command::Refund { .. }
        | Command::Recharge { .. }
        | Command::SetStatus { .. }
        | Command::Delete { .. } => crate::events::face_of(origin.actor_kind, &origin.actor_id),
    }
}

/// Decides one command against the ledger and, if it is accepted, applies it.
pub fn apply(
    ledger: &mut Ledger,
    origin: &Origin,
    command: &Command,
    ids: &mut dyn IdSource,
) -> Result<Answer, DomainError> {
    let changes_before = ledger.changes();
    let answer = match command {
        Command::Reserve {
            code,
            pin,
            amount_minor,
            currency,
        } => jtl::reserve(
            ledger,
            origin,
            (code, pin.as_deref(), *amount_minor, *currency),
            ids,
        ),
        Command::Charge {
            reservation_id,
            order_number,
        } => jtl::charge(ledger, origin, (reservation_id, order_number), ids),
        Command::Release { reservation_id } => jtl::release(ledger, origin, reservation_id),
        Command::Refund {
            charge_id,
            amount_minor,
            currency,
        } => jtl::refund(ledger, origin, (charge_id, *amount_minor, *currency), ids),
        Command::Recharge {
            voucher,
            amount_minor,
            currency,
            order_number,
        } => jtl::recharge(
            ledger,
            origin,
            (voucher, *amount_minor, *currency, order_number),
            ids,
        ),
        Command::SetStatus {
            voucher_id,
            status,
            comment,
        } => jtl::set_status(ledger, origin, (voucher_id, *status, comment.as_deref())),
        Command::Delete {
            voucher_id,
            comment,
        } => jtl::delete(ledger, origin, (voucher_id, comment)),
        Command::FrontPay {
            reservation_id,
            vouchers,
            currency,
        } => front::pay(ledger, origin, (reservation_id, vouchers, *currency), ids),
        Command::FrontCapture {
            reservation_id,
            lines,
            note,
        } => front::capture(
            ledger,
            origin,
            (reservation_id, lines, note.as_deref()),
            ids,
        ),
        Command::FrontCharge {
            reservation_id,
            lines,
            note,
        } => front::charge(
            ledger,
            origin,
            (reservation_id, lines, note.as_deref()),
            ids,
        ),
        Command::FrontClose {
            reservation_id,
            closing,
            note,
        } => front::close(ledger, origin, (reservation_id, *closing, note)),
        Command::FrontRefund {
            reservation_id,
            source,
            reference,
            lines,
        } => {
            let of = front::RefundOf {
                id: reservation_id,
                source: *source,
                reference,
                lines,
            };
            front::refund(ledger, origin, of, ids)
        }
        Command::BleepayRedeem {
            caller,
            code_id,
            amount_minor,
            currency,
        } => bleepay::redeem(
            ledger,
            origin,
            (caller, code_id, *amount_minor, *currency),
            ids,
        ),
        Command::BleepayResolve { payer_id, code_id } => {
            bleepay::resolve(ledger, origin, (payer_id, code_id), ids)
        }
        Command::BleepayDiscard { caller, code_id } => {
            bleepay::discard(ledger, origin, (caller, code_id))
        }
    };
    if answer.is_ok() {
        ledger.seal_events(origin, face(command, origin));
    }
    // Paired assertions where money moves, in debug builds (the tests); a release build keeps
    // the integrity check instead of stopping a writer lane.
    if cfg!(debug_assertions) {
        if answer.is_err() {
            assert_eq!(
                ledger.changes(),
                changes_before,
                "a refused command changed the ledger"
            );
        } else {
            ledger.assert_balances(origin.now);
        }
    }
    answer
}
