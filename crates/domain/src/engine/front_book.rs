//! The Front Payment part of a batch's ledger: the reservations the batch names with the
//! vouchers paying them, their product lines and postings (captures and charges, with what each
//! drew per line and from which voucher), as the store loaded them, plus every change the batch made and the history events and status callbacks it wrote.
//! The money itself stays in holds and entries ([`super::state`]); this book only records what
//! Front Payment says about it.

use std::collections::{BTreeSet, HashMap};

use time::OffsetDateTime;

use super::state::RowKey;
use crate::front::{FrontSnapshot, FrontStatus, PostingSource};

/// A Front Payment reservation as the engine sees it. Reservations are made (submitted) outside
/// the engine, so every one has a stored key.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontReservation {
    pub pk: i64,
    pub tenant_id: String,
    pub id: String,
    pub merchant_token_id: String,
    /// Where status callbacks go, if the merchant asked for them.
    pub callback_url: Option<String>,
    /// The customer's e-mail from the submitted details: where charge receipts are said to go.
    pub customer_email: Option<String>,
    /// As stored (never `Expired`).
    pub status: FrontStatus,
    pub due_at: OffsetDateTime,
    pub reserved_at: Option<OffsetDateTime>,
    pub charge_validity_days: i64,
    pub capture_deadline_days: i64,
    pub charge_limit_minor: i64,
    pub charge_partially_refundable: bool,
    pub grand_total_minor: i64,
    /// The vouchers that pay, each with its hold, in the order the customer gave them; empty
    /// until paid.
    pub payers: Vec<FrontPayer>,
    pub captured_minor: i64,
    pub charged_minor: i64,
    pub refunded_captured_minor: i64,
    pub refunded_charged_minor: i64,
    pub updated_at: OffsetDateTime,
}

/// One voucher paying a reservation, and the hold placed on it when the customer paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrontPayer {
    pub voucher_pk: i64,
    pub hold: RowKey,
}

impl FrontReservation {
    /// The first paying voucher: the one Front Payment's `voucherId` names.
    pub fn first_voucher_pk(&self) -> Option<i64> {
        self.payers.first().map(|p| p.voucher_pk)
    }

    /// What Front Payment's decisions need.
    pub fn snapshot(&self) -> FrontSnapshot {
        FrontSnapshot {
            status: self.status,
            due_at: self.due_at,
            reserved_at: self.reserved_at,
            charge_validity_days: self.charge_validity_days,
            capture_deadline_days: self.capture_deadline_days,
            charge_limit_minor: self.charge_limit_minor,
            charged_minor: self.charged_minor,
        }
    }
}

/// A product line: reserved at submission, or added by a charge (then drawn in full).
#[derive(Debug, Clone, PartialEq)]
pub struct FrontLine {
    pub key: RowKey,
    pub reservation_pk: i64,
    /// The charge entry that added the line.
    pub charge_entry: Option<RowKey>,
    pub name: String,
    pub product_id: Option<String>,
    pub rate_minor: i64,
    pub tax: String,
    pub amount_minor: i64,
    pub captured_minor: i64,
}

/// What a posting drew from one line, and how much of that was refunded.
#[derive(Debug, Clone, PartialEq)]
pub struct PostingLine {
    pub line: RowKey,
    pub amount_minor: i64,
    pub refunded_minor: i64,
}

/// What one paying voucher gave to a posting: a charge entry of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Draw {
    pub entry: RowKey,
    pub entry_id: String,
    pub voucher_pk: i64,
    pub amount_minor: i64,
    /// What refunds of the posting gave back to this voucher.
    pub refunded_minor: i64,
}

/// A capture or charge of a reservation, named by its first draw's ledger entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontPosting {
    pub entry: RowKey,
    /// `CAP…` or `CHA…`, the first draw's entry id: the posting's id on the wire.
    pub entry_id: String,
    pub reservation_pk: i64,
    pub source: PostingSource,
    /// The sum of the draws.
    pub amount_minor: i64,
    pub refunded_minor: i64,
    pub refunded_at: Option<OffsetDateTime>,
    pub note: Option<String>,
    pub lines: Vec<PostingLine>,
    /// Which voucher paid what, in the order drawn; the first is the posting's own entry.
    pub draws: Vec<Draw>,
}

/// One event of a reservation's history.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontEvent {
    pub tenant_id: String,
    pub reservation_pk: i64,
    /// The reservation id, or the capture/charge id for events about one.
    pub uuid: String,
    pub title: &'static str,
    pub at: OffsetDateTime,
    pub amount_minor: Option<i64>,
    pub sent_to: Option<String>,
    pub action_by: &'static str,
    pub note: Option<String>,
}

/// A status callback for the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontCallback {
    pub tenant_id: String,
    pub merchant_token_id: String,
    pub url: String,
    pub order_uuid: String,
    pub status: FrontStatus,
    pub created_at: OffsetDateTime,
    pub amount_minor: i64,
}

/// The Front Payment rows a batch writes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FrontWrites {
    pub changed_reservations: Vec<FrontReservation>,
    /// In key order.
    pub new_lines: Vec<FrontLine>,
    pub changed_lines: Vec<FrontLine>,
    pub new_postings: Vec<FrontPosting>,
    /// Stored postings whose refunds changed, with every line (stored lines changed or not).
    pub changed_postings: Vec<FrontPosting>,
    pub events: Vec<FrontEvent>,
    pub callbacks: Vec<FrontCallback>,
}

type TenantScoped = (String, String);

/// The Front Payment state of one batch.
#[derive(Debug, Default)]
pub struct FrontBook {
    reservations: Vec<FrontReservation>,
    reservation_by_id: HashMap<TenantScoped, usize>,
    lines: Vec<FrontLine>,
    line_by_key: HashMap<RowKey, usize>,
    postings: Vec<FrontPosting>,
    posting_by_entry_id: HashMap<(i64, String), usize>,
    changed_reservations: BTreeSet<usize>,
    changed_lines: BTreeSet<usize>,
    changed_postings: BTreeSet<usize>,
    new_lines: usize,
    events: Vec<FrontEvent>,
    callbacks: Vec<FrontCallback>,
    /// Reservations whose status the command being decided changed (for its events).
    status_changes: Vec<usize>,
    pub(super) changes: u64,
}

impl FrontBook {
    // ------------------------------------------------------------ loading

    /// A reservation loaded twice keeps its first version.
    pub(super) fn load_reservation(&mut self, reservation: FrontReservation) {
        let name = (reservation.tenant_id.clone(), reservation.id.clone());
        if !self.reservation_by_id.contains_key(&name) {
            self.reservation_by_id.insert(name, self.reservations.len());
            self.reservations.push(reservation);
        }
    }

    pub(super) fn load_line(&mut self, line: FrontLine) {
        if !self.line_by_key.contains_key(&line.key) {
            self.insert_line(line);
        }
    }

    pub(super) fn load_posting(&mut self, posting: FrontPosting) {
        let name = (posting.reservation_pk, posting.entry_id.clone());
        if !self.posting_by_entry_id.contains_key(&name) {
            self.posting_by_entry_id.insert(name, self.postings.len());
            self.postings.push(posting);
        }
    }

    // ------------------------------------------------------------ reading

    pub fn reservation_index(&self, tenant_id: &str, id: &str) -> Option<usize> {
        self.reservation_by_id
            .get(&(tenant_id.to_string(), id.to_string()))
            .copied()
    }

    pub fn reservation(&self, index: usize) -> &FrontReservation {
        &self.reservations[index]
    }

    pub fn line_index(&self, key: RowKey) -> Option<usize> {
        self.line_by_key.get(&key).copied()
    }

    pub fn line(&self, index: usize) -> &FrontLine {
        &self.lines[index]
    }

    /// The posting with this entry id on the reservation.
    pub fn posting_index(&self, reservation_pk: i64, entry_id: &str) -> Option<usize> {
        self.posting_by_entry_id
            .get(&(reservation_pk, entry_id.to_string()))
            .copied()
    }

    pub fn posting(&self, index: usize) -> &FrontPosting {
        &self.postings[index]
    }

    // ------------------------------------------------------------ changing

    pub(super) fn change_reservation(
        &mut self,
        index: usize,
        change: impl FnOnce(&mut FrontReservation),
    ) {
        let before = self.reservations[index].status;
        change(&mut self.reservations[index]);
        self.changed_reservations.insert(index);
        self.changes += 1;
        if self.reservations[index].status != before {
            self.status_changes.push(index);
        }
    }

    /// The reservations whose status changed since the last call, in order.
    pub(super) fn take_status_changes(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.status_changes)
    }

    pub(super) fn change_line(&mut self, index: usize, change: impl FnOnce(&mut FrontLine)) {
        change(&mut self.lines[index]);
        self.changed_lines.insert(index);
        self.changes += 1;
    }

    pub(super) fn change_posting(&mut self, index: usize, change: impl FnOnce(&mut FrontPosting)) {
        change(&mut self.postings[index]);
        self.changed_postings.insert(index);
        self.changes += 1;
    }

    /// Adds a line made by the batch; answers its key.
    pub(super) fn add_line(&mut self, mut line: FrontLine) -> RowKey {
        line.key = RowKey::New(self.new_lines);
        self.new_lines += 1;
        self.changes += 1;
        let key = line.key;
        let index = self.insert_line(line);
        self.changed_lines.insert(index);
        key
    }

    /// Adds a posting made by the batch (its entry is new).
    pub(super) fn add_posting(&mut self, posting: FrontPosting) {
        self.changes += 1;
        let index = self.postings.len();
        self.posting_by_entry_id
            .insert((posting.reservation_pk, posting.entry_id.clone()), index);
        self.postings.push(posting);
        self.changed_postings.insert(index);
    }

    pub(super) fn add_event(&mut self, event: FrontEvent) {
        self.events.push(event);
        self.changes += 1;
    }

    pub(super) fn add_callback(&mut self, callback: FrontCallback) {
        self.callbacks.push(callback);
        self.changes += 1;
    }

    fn insert_line(&mut self, line: FrontLine) -> usize {
        let index = self.lines.len();
        self.line_by_key.insert(line.key, index);
        self.lines.push(line);
        index
    }

    // ------------------------------------------------------------ the write set

    pub(super) fn writes(&self) -> FrontWrites {
        let mut writes = FrontWrites {
            changed_reservations: self
                .changed_reservations
                .iter()
                .map(|&i| self.reservations[i].clone())
                .collect(),
            events: self.events.clone(),
            callbacks: self.callbacks.clone(),
            ..FrontWrites::default()
        };
        for &i in &self.changed_lines {
            let line = self.lines[i].clone();
            match line.key {
                RowKey::New(_) => writes.new_lines.push(line),
                RowKey::Stored(_) => writes.changed_lines.push(line),
            }
        }
        writes.new_lines.sort_by_key(|l| l.key);
        for &i in &self.changed_postings {
            let posting = self.postings[i].clone();
            match posting.entry {
                RowKey::New(_) => writes.new_postings.push(posting),
                RowKey::Stored(_) => writes.changed_postings.push(posting),
            }
        }
        writes
    }
}
