//! The engine against a reference model, as simulators test a state machine: random
//! interleavings of every command the engine decides, over two tenants (and a missing one),
//! with time moving at random, run in batches of random size. Each batch loads from a
//! "database" of rows exactly what the store would load, runs the engine, and writes the write
//! set back; the model is a plain, slow second implementation of the rules in decisions.md.
//! Every answer is compared with the model's, and after every batch every voucher's balance,
//! holds and entries. JTL's and the console's commands interleave with Front Payment's on the
//! same vouchers ([`front`] holds that face's rows, model and commands).

use std::collections::{BTreeMap, HashMap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::{Duration, OffsetDateTime, macros::datetime};

use super::*;
use crate::{BALANCE_MINOR_MAX, EntryKind, HoldState, Validity, ValidityInterval};

mod bleepay;
mod front;

/// Sequences and commands per sequence: a million commands in the default test run.
const SEQUENCES: u64 = 4_000;
const COMMANDS_PER_SEQUENCE: usize = 250;
const BATCH_COMMANDS_MAX: usize = 16;
const T0: OffsetDateTime = datetime!(2026-03-01 09:00 UTC);
const TENANTS: [(&str, i64); 2] = [("t1", 1_800), ("t2", 300)];

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}
fn sek() -> Currency {
    Currency::parse("SEK").expect("SEK")
}

/// Counts ids, and keeps those drawn since the last [`CountingIds::clear`] in order.
#[derive(Default)]
struct CountingIds {
    count: u64,
    drawn: Vec<String>,
}

impl CountingIds {
    fn clear(&mut self) {
        self.drawn.clear();
    }

    fn draw(&mut self, prefix: &str) -> String {
        self.count += 1;
        let id = format!("{prefix}{}", self.count);
        self.drawn.push(id.clone());
        id
    }
}

impl IdSource for CountingIds {
    fn next_id(&mut self, _now: OffsetDateTime) -> String {
        self.draw("x")
    }

    fn posting_id(&mut self, prefix: &str) -> String {
        self.draw(prefix)
    }
}

// ---------------------------------------------------------------- the database

/// Stored rows, keyed like the store's tables.
#[derive(Default)]
struct Database {
    vouchers: BTreeMap<i64, Voucher>,
    holds: BTreeMap<i64, Hold>,
    entries: BTreeMap<i64, Entry>,
    front: front::Rows,
    bleepay: bleepay::Rows,
    next_pk: i64,
}

impl Database {
    fn pk(&mut self) -> i64 {
        self.next_pk += 1;
        self.next_pk
    }

    /// What the store loads for a batch: the vouchers the commands name (not deleted), all
    /// their live holds, the holds and entries the commands name, the charges of those holds,
    /// each charge with its refunded sum, and the tenants.
    fn load(&self, batch: &[(Origin, Command)]) -> Ledger {
        let mut ledger = Ledger::new();
        for (tenant, ttl) in TENANTS {
            ledger.load_tenant(
                tenant,
                TenantRules {
                    reservation_ttl_seconds: ttl,
                },
            );
        }
        let live = |v: &&Voucher| v.deleted_at.is_none();
        let mut voucher_pks = Vec::new();
        let mut hold_pks = Vec::new();
        let mut entry_pks = Vec::new();
        let mut reservation_pks = Vec::new();
        for (origin, command) in batch {
            let t = origin.tenant_id.as_str();
            let by = |f: &dyn Fn(&Voucher) -> bool| {
                self.vouchers
                    .values()
                    .filter(live)
                    .filter(|v| v.tenant_id == t && f(v))
                    .map(|v| v.pk)
                    .collect::<Vec<_>>()
            };
            let hold_named = |id: &str| {
                self.holds
                    .values()
                    .filter(|h| h.tenant_id == t && h.id == id)
                    .map(|h| match h.key {
                        RowKey::Stored(pk) => pk,
                        RowKey::New(_) => unreachable!(),
                    })
                    .collect::<Vec<_>>()
            };
            match command {
                Command::Reserve { code, .. } => voucher_pks.extend(by(&|v| &v.code == code)),
                Command::Recharge { voucher, .. } => match voucher {
                    VoucherName::Id(id) => voucher_pks.extend(by(&|v| &v.id == id)),
                    VoucherName::Code(code) => voucher_pks.extend(by(&|v| &v.code == code)),
                    VoucherName::Both { id, code } => {
                        voucher_pks.extend(by(&|v| &v.id == id));
                        voucher_pks.extend(by(&|v| &v.code == code));
                    }
                },
                Command::SetStatus { voucher_id, .. } | Command::Delete { voucher_id, .. } => {
                    voucher_pks.extend(by(&|v| &v.id == voucher_id))
                }
                Command::Charge { reservation_id, .. } | Command::Release { reservation_id } => {
                    for pk in hold_named(reservation_id) {
                        voucher_pks.push(self.holds[&pk].voucher_pk);
                        hold_pks.push(pk);
                    }
                }
                Command::FrontPay { vouchers, .. } => {
                    for given in vouchers {
                        voucher_pks.extend(by(&|v| v.code == given.code));
                    }
                    reservation_pks.extend(self.front.named(t, command));
                }
                Command::FrontCapture { .. }
                | Command::FrontCharge { .. }
                | Command::FrontClose { .. }
                | Command::FrontRefund { .. } => {
                    reservation_pks.extend(self.front.named(t, command));
                }
                Command::BleepayRedeem { .. }
                | Command::BleepayResolve { .. }
                | Command::BleepayDiscard { .. } => {
                    voucher_pks.extend(self.bleepay.load(&mut ledger, t, command));
                }
                Command::Refund { charge_id, .. } => {
                    for e in self.entries.values() {
                        if e.tenant_id == t && &e.id == charge_id {
                            voucher_pks.push(e.voucher_pk);
                            entry_pks.push(stored(e.key));
                        }
                    }
                }
            }
        }
        let refunds = batch
            .iter()
            .any(|(_, c)| matches!(c, Command::FrontRefund { .. }));
        voucher_pks.extend(self.front.load(&mut ledger, &reservation_pks, refunds));
        for pk in &voucher_pks {
            if let Some(v) = self.vouchers.get(pk).filter(|v| v.deleted_at.is_none()) {
                ledger.load_voucher(v.clone());
                for h in self.holds.values() {
                    if h.voucher_pk == *pk && h.state == HoldState::Live {
                        hold_pks.push(stored(h.key));
                    }
                }
            }
        }
        for pk in hold_pks {
            let hold = self.holds[&pk].clone();
            if let Some((key, _)) = &hold.charge {
                entry_pks.push(stored(*key));
            }
            ledger.load_hold(hold);
        }
        for pk in entry_pks {
            let mut entry = self.entries[&pk].clone();
            entry.refunded_minor = self
                .entries
                .values()
                .filter(|r| r.refund_of.as_ref().map(|(k, _)| *k) == Some(entry.key))
                .map(|r| r.amount_minor)
                .sum();
            ledger.load_entry(entry);
        }
        ledger
    }

    /// Writes a batch's write set as the store does: new rows get keys, changed rows are
    /// replaced by their final state.
    fn persist(&mut self, set: WriteSet) {
        let hold_pks: Vec<i64> = set.new_holds.iter().map(|_| self.pk()).collect();
        let entry_pks: Vec<i64> = set.new_entries.iter().map(|_| self.pk()).collect();
        let hold_key = |key: RowKey| match key {
            RowKey::Stored(pk) => RowKey::Stored(pk),
            RowKey::New(i) => RowKey::Stored(hold_pks[i]),
        };
        let entry_key = |key: RowKey| match key {
            RowKey::Stored(pk) => RowKey::Stored(pk),
            RowKey::New(i) => RowKey::Stored(entry_pks[i]),
        };
        for hold in set.new_holds.into_iter().chain(set.changed_holds) {
            let hold = Hold {
                key: hold_key(hold.key),
                charge: hold.charge.map(|(k, id)| (entry_key(k), id)),
                ..hold
            };
            self.holds.insert(stored(hold.key), hold);
        }
        for entry in set.new_entries {
            let entry = Entry {
                key: entry_key(entry.key),
                refund_of: entry.refund_of.map(|(k, id)| (entry_key(k), id)),
                hold: entry.hold.map(hold_key),
                refunded_minor: 0,
                ..entry
            };
            self.entries.insert(stored(entry.key), entry);
        }
        for voucher in set.changed_vouchers {
            self.vouchers.insert(voucher.pk, voucher);
        }
        self.persist_front(set.front, &hold_key, &entry_key);
        self.persist_bleepay(set.bleepay, &hold_key, &entry_key);
    }

    fn issue(&mut self, voucher: Voucher) {
        let entry = Entry {
            key: RowKey::Stored(self.pk()),
            tenant_id: voucher.tenant_id.clone(),
            id: format!("issue-{}", voucher.id),
            voucher_pk: voucher.pk,
            voucher_id: voucher.id.clone(),
            client_id: None,
            kind: EntryKind::Issue,
            amount_minor: voucher.remaining_minor,
            currency: voucher.currency,
            order_number: None,
            refund_of: None,
            hold: None,
            created_at: voucher.updated_at,
            refunded_minor: 0,
        };
        self.entries.insert(stored(entry.key), entry);
        self.vouchers.insert(voucher.pk, voucher);
    }
}

fn stored(key: RowKey) -> i64 {
    match key {
        RowKey::Stored(pk) => pk,
        RowKey::New(_) => panic!("a new key in the database"),
    }
}

// ---------------------------------------------------------------- the reference model

#[derive(Clone, Debug)]
struct MVoucher {
    tenant: String,
    id: String,
    code: String,
    pin: Option<String>,
    active: bool,
    currency: Currency,
    valid_until: Option<OffsetDateTime>,
    validity_days: i64,
    deleted: bool,
}

#[derive(Clone, Debug)]
struct MHold {
    /// A JTL reservation (else a Front Payment reservation's or a bleepay code's hold).
    jtl: bool,
    tenant: String,
    id: String,
    voucher: usize,
    amount: i64,
    state: HoldState,
    expires_at: OffsetDateTime,
    charge: Option<usize>,
}

#[derive(Clone, Debug)]
struct MEntry {
    tenant: String,
    id: String,
    voucher: usize,
    kind: EntryKind,
    amount: i64,
    order_number: Option<String>,
    refund_of: Option<usize>,
}

/// The rules, written the slow and obvious way: balances are always recomputed from entries.
#[derive(Default)]
struct Model {
    vouchers: Vec<MVoucher>,
    holds: Vec<MHold>,
    entries: Vec<MEntry>,
    front: front::FrontModel,
    bleepay: bleepay::BleepayModel,
}

/// What the model expects a command to answer, compared with the engine's by shape.
#[derive(Debug, PartialEq)]
enum Expected {
    Reserved {
        amount: i64,
    },
    Charged {
        amount: i64,
        replay_of: Option<String>,
    },
    Released,
    Refunded {
        amount: i64,
    },
    Recharged {
        amount: i64,
    },
    Voucher {
        remaining: i64,
        held: i64,
        active: bool,
    },
    Deleted,
    FrontPaid {
        amount: i64,
    },
    FrontPosted,
    FrontDone,
    BleepayCode {
        status: crate::bleepay::CodeStatus,
    },
}

impl Model {
    fn remaining(&self, v: usize) -> i64 {
        self.entries
            .iter()
            .filter(|e| e.voucher == v)
            .map(|e| e.kind.balance_sign() * e.amount)
            .sum()
    }

    fn held(&self, v: usize, now: OffsetDateTime) -> i64 {
        self.held_by(v, now, false) + self.held_by(v, now, true)
    }

    /// What JTL's reservation (`jtl`) or the other faces' holds hold on the voucher.
    fn held_by(&self, v: usize, now: OffsetDateTime, jtl: bool) -> i64 {
        self.holds
            .iter()
            .filter(|h| h.voucher == v && h.jtl == jtl)
            .filter(|h| h.state == HoldState::Live && h.expires_at > now)
            .map(|h| h.amount)
            .sum()
    }

    fn find_voucher(&self, tenant: &str, f: impl Fn(&MVoucher) -> bool) -> Option<usize> {
        self.vouchers
            .iter()
            .position(|v| v.tenant == tenant && !v.deleted && f(v))
    }

    fn usable(&self, v: usize, now: OffsetDateTime) -> Result<(), DomainError> {
        let voucher = &self.vouchers[v];
        if !voucher.active {
            Err(DomainError::VoucherInactive)
        } else if voucher.valid_until.is_some_and(|u| u <= now) {
            Err(DomainError::VoucherExpired)
        } else {
            Ok(())
        }
    }

    fn end_hold(&mut self, h: usize, to: HoldState, now: OffsetDateTime) {
        let hold = &mut self.holds[h];
        if hold.state == HoldState::Live {
            hold.state = if hold.expires_at > now {
                to
            } else {
                HoldState::Expired
            };
        }
    }

    fn hold_named(&self, tenant: &str, id: &str) -> Result<usize, DomainError> {
        self.holds
            .iter()
            .position(|h| {
                h.jtl && h.tenant == tenant && h.id == id && !self.vouchers[h.voucher].deleted
            })
            .ok_or(DomainError::ReservationNotFound)
    }

    /// Runs a command; `new_id` is the id the engine gave the hold or entry it made, `drawn`
    /// every id it drew, in order.
    fn run(
        &mut self,
        origin: &Origin,
        command: &Command,
        (new_id, drawn): (Option<&str>, &[String]),
    ) -> Result<Expected, DomainError> {
        let (t, now) = (origin.tenant_id.as_str(), origin.now);
        let id = || new_id.expect("the engine named what it made").to_string();
        match command {
            Command::Reserve {
                code,
                pin,
                amount_minor,
                currency,
            } => {
                let Some(v) = self.find_voucher(t, |v| &v.code == code) else {
                    return Err(if TENANTS.iter().any(|(name, _)| *name == t) {
                        DomainError::VoucherNotFound
                    } else {
                        DomainError::TenantNotFound
                    });
                };
                if self.vouchers[v].pin.is_some() && self.vouchers[v].pin != *pin {
                    return Err(DomainError::VoucherNotFound);
                }
                self.usable(v, now)?;
                if self.vouchers[v].currency != *currency {
                    return Err(DomainError::CurrencyMismatch);
                }
                // The live JTL reservation is superseded; the other faces' holds stay.
                if *amount_minor > self.remaining(v) - self.held_by(v, now, false) {
                    return Err(DomainError::InsufficientBalance);
                }
                for h in 0..self.holds.len() {
                    if self.holds[h].voucher == v && self.holds[h].jtl {
                        self.end_hold(h, HoldState::Superseded, now);
                    }
                }
                let ttl = TENANTS.iter().find(|(name, _)| *name == t).map(|x| x.1);
                self.holds.push(MHold {
                    jtl: true,
                    tenant: t.into(),
                    id: id(),
                    voucher: v,
                    amount: *amount_minor,
                    state: HoldState::Live,
                    expires_at: now + Duration::seconds(ttl.expect("tenant")),
                    charge: None,
                });
                Ok(Expected::Reserved {
                    amount: *amount_minor,
                })
            }
            Command::Charge {
                reservation_id,
                order_number,
            } => {
                let h = self.hold_named(t, reservation_id)?;
                let hold = self.holds[h].clone();
                if hold.state == HoldState::Charged {
                    let e = &self.entries[hold.charge.expect("charge")];
                    return if e.order_number.as_deref() == Some(order_number) {
                        Ok(Expected::Charged {
                            amount: e.amount,
                            replay_of: Some(e.id.clone()),
                        })
                    } else {
                        Err(DomainError::ReservationAlreadyCharged)
                    };
                }
                if hold.state != HoldState::Live || hold.expires_at <= now {
                    return Err(DomainError::ReservationExpired);
                }
                self.usable(hold.voucher, now)?;
                assert!(hold.amount <= self.remaining(hold.voucher));
                self.entries.push(MEntry {
                    tenant: t.into(),
                    id: id(),
                    voucher: hold.voucher,
                    kind: EntryKind::Charge,
                    amount: hold.amount,
                    order_number: Some(order_number.clone()),
                    refund_of: None,
                });
                self.holds[h].state = HoldState::Charged;
                self.holds[h].charge = Some(self.entries.len() - 1);
                Ok(Expected::Charged {
                    amount: hold.amount,
                    replay_of: None,
                })
            }
            Command::Release { reservation_id } => {
                let h = self.hold_named(t, reservation_id)?;
                let hold = &self.holds[h];
                if hold.state == HoldState::Charged {
                    return Err(DomainError::ReservationAlreadyCharged);
                }
                if hold.state != HoldState::Live || hold.expires_at <= now {
                    return Err(DomainError::ReservationExpired);
                }
                self.holds[h].state = HoldState::Released;
                Ok(Expected::Released)
            }
            Command::Refund {
                charge_id,
                amount_minor,
                currency,
            } => {
                let c = self
                    .entries
                    .iter()
                    .position(|e| e.tenant == t && &e.id == charge_id)
                    .ok_or(DomainError::ChargeNotFound)?;
                let charge = self.entries[c].clone();
                if charge.kind != EntryKind::Charge {
                    return Err(DomainError::ChargeNotRefundable);
                }
                if self.vouchers[charge.voucher].currency != *currency {
                    return Err(DomainError::CurrencyMismatch);
                }
                let refunded: i64 = self
                    .entries
                    .iter()
                    .filter(|e| e.refund_of == Some(c))
                    .map(|e| e.amount)
                    .sum();
                if refunded + amount_minor > charge.amount {
                    return Err(DomainError::RefundExceedsCharge);
                }
                if self.remaining(charge.voucher) + amount_minor > BALANCE_MINOR_MAX {
                    return Err(DomainError::BalanceLimitExceeded);
                }
                self.entries.push(MEntry {
                    tenant: t.into(),
                    id: id(),
                    voucher: charge.voucher,
                    kind: EntryKind::Refund,
                    amount: *amount_minor,
                    order_number: charge.order_number.clone(),
                    refund_of: Some(c),
                });
                Ok(Expected::Refunded {
                    amount: *amount_minor,
                })
            }
            Command::Recharge {
                voucher,
                amount_minor,
                currency,
                order_number,
            } => {
                let v = match voucher {
                    VoucherName::Id(id) => self.find_voucher(t, |v| &v.id == id),
                    VoucherName::Code(code) => self.find_voucher(t, |v| &v.code == code),
                    VoucherName::Both { id, code } => {
                        self.find_voucher(t, |v| &v.id == id && &v.code == code)
                    }
                }
                .ok_or(DomainError::VoucherNotFound)?;
                self.usable(v, now)?;
                if self.vouchers[v].currency != *currency {
                    return Err(DomainError::CurrencyMismatch);
                }
                if self.remaining(v) + amount_minor > BALANCE_MINOR_MAX {
                    return Err(DomainError::BalanceLimitExceeded);
                }
                self.entries.push(MEntry {
                    tenant: t.into(),
                    id: id(),
                    voucher: v,
                    kind: EntryKind::Recharge,
                    amount: *amount_minor,
                    order_number: Some(order_number.clone()),
                    refund_of: None,
                });
                Ok(Expected::Recharged {
                    amount: *amount_minor,
                })
            }
            Command::SetStatus {
                voucher_id, status, ..
            } => {
                let v = self
                    .find_voucher(t, |v| &v.id == voucher_id)
                    .ok_or(DomainError::VoucherNotFound)?;
                let active = *status == VoucherStatus::Active;
                if self.vouchers[v].active != active {
                    self.vouchers[v].active = active;
                    if active {
                        self.vouchers[v].valid_until =
                            Some(now + Duration::days(self.vouchers[v].validity_days));
                    } else {
                        self.vouchers[v].valid_until = None;
                        for h in 0..self.holds.len() {
                            if self.holds[h].voucher == v {
                                self.end_hold(h, HoldState::Released, now);
                            }
                        }
                    }
                }
                Ok(Expected::Voucher {
                    remaining: self.remaining(v),
                    held: self.held(v, now),
                    active,
                })
            }
            Command::Delete { voucher_id, .. } => {
                let v = self
                    .find_voucher(t, |v| &v.id == voucher_id)
                    .ok_or(DomainError::VoucherNotFound)?;
                let activity = self
                    .entries
                    .iter()
                    .any(|e| e.voucher == v && e.kind != EntryKind::Issue);
                if activity || self.held(v, now) > 0 {
                    return Err(DomainError::VoucherNotDeletable);
                }
                self.vouchers[v].deleted = true;
                Ok(Expected::Deleted)
            }
            Command::FrontPay { .. }
            | Command::FrontCapture { .. }
            | Command::FrontCharge { .. }
            | Command::FrontClose { .. }
            | Command::FrontRefund { .. } => self.run_front(origin, command, drawn),
            Command::BleepayRedeem { .. }
            | Command::BleepayResolve { .. }
            | Command::BleepayDiscard { .. } => self.run_bleepay(origin, command, new_id),
        }
    }
}

/// The engine's answer in the model's terms, with the id of what it made.
fn observed(answer: &Answer) -> (Expected, Option<String>) {
    match answer {
        Answer::Reserved(hold) => (
            Expected::Reserved {
                amount: hold.amount_minor,
            },
            Some(hold.id.clone()),
        ),
        Answer::Charged { entry, first_time } => (
            Expected::Charged {
                amount: entry.amount_minor,
                replay_of: (!first_time).then(|| entry.id.clone()),
            },
            Some(entry.id.clone()),
        ),
        Answer::Released => (Expected::Released, None),
        Answer::Refunded(e) => (
            Expected::Refunded {
                amount: e.amount_minor,
            },
            Some(e.id.clone()),
        ),
        Answer::Recharged(e) => (
            Expected::Recharged {
                amount: e.amount_minor,
            },
            Some(e.id.clone()),
        ),
        Answer::Voucher(f) => (
            Expected::Voucher {
                remaining: f.remaining_minor,
                held: f.held_minor,
                active: f.status == VoucherStatus::Active,
            },
            None,
        ),
        Answer::Deleted => (Expected::Deleted, None),
        Answer::FrontPaid(r) => (
            Expected::FrontPaid {
                amount: r.grand_total_minor,
            },
            None,
        ),
        Answer::FrontPosted { id } => (Expected::FrontPosted, Some(id.clone())),
        Answer::FrontDone => (Expected::FrontDone, None),
        Answer::BleepayCode(c) => (Expected::BleepayCode { status: c.status }, None),
    }
}

// ---------------------------------------------------------------- random commands

struct Sequence {
    rng: StdRng,
    db: Database,
    model: Model,
    now: OffsetDateTime,
    /// Every hold and entry id made so far, with its tenant, for commands to name.
    hold_ids: Vec<(String, String)>,
    entry_ids: Vec<(String, String)>,
    /// How many lines charges have named, so each has a name of its own.
    lines_named: u64,
    /// Each voucher's balance as a consumer of the events has folded it so far.
    event_balances: Vec<i64>,
}

impl Sequence {
    fn new(seed: u64) -> Sequence {
        let mut s = Sequence {
            rng: StdRng::seed_from_u64(seed),
            db: Database::default(),
            model: Model::default(),
            now: T0,
            hold_ids: Vec::new(),
            entry_ids: Vec::new(),
            lines_named: 0,
            event_balances: Vec::new(),
        };
        for _ in 0..4 {
            s.issue();
        }
        for _ in 0..3 {
            s.submit();
        }
        for _ in 0..2 {
            s.open_context();
        }
        s
    }

    fn amount(&mut self) -> i64 {
        match self.rng.random_range(0..10) {
            0 => BALANCE_MINOR_MAX - self.rng.random_range(0..2_000),
            1 => self.rng.random_range(1..5),
            _ => self.rng.random_range(1..20_000),
        }
    }

    /// Issues a new voucher into the database and the model.
    fn issue(&mut self) {
        let n = self.model.vouchers.len();
        let tenant = TENANTS[self.rng.random_range(0..2)].0.to_string();
        let active = self.rng.random_bool(0.85);
        let validity_days = self.rng.random_range(0..3);
        let valid_until = active.then(|| self.now + Duration::hours(self.rng.random_range(1..48)));
        let pin = self.rng.random_bool(0.3).then(|| format!("p{n}"));
        let currency = if self.rng.random_bool(0.9) {
            eur()
        } else {
            sek()
        };
        let amount = self.amount();
        let pk = self.db.pk();
        let voucher = Voucher {
            pk,
            tenant_id: tenant.clone(),
            id: format!("v{n}"),
            code: format!("C{n}"),
            pin: pin.clone(),
            status: if active {
                VoucherStatus::Active
            } else {
                VoucherStatus::Inactive
            },
            currency,
            valid_until,
            validity: Validity {
                value: validity_days,
                interval: ValidityInterval::Days,
            },
            remaining_minor: amount,
            has_activity: false,
            deleted_at: None,
            delete_comment: None,
            updated_at: self.now,
        };
        self.db.issue(voucher);
        self.model.vouchers.push(MVoucher {
            tenant: tenant.clone(),
            id: format!("v{n}"),
            code: format!("C{n}"),
            pin,
            active,
            currency,
            valid_until,
            validity_days,
            deleted: false,
        });
        self.event_balances.push(amount);
        self.model.entries.push(MEntry {
            tenant,
            id: format!("issue-v{n}"),
            voucher: n,
            kind: EntryKind::Issue,
            amount,
            order_number: None,
            refund_of: None,
        });
    }

    fn origin(&mut self) -> Origin {
        self.now += Duration::seconds(self.rng.random_range(0..240));
        let tenant = match self.rng.random_range(0..40) {
            0 => "t-missing".to_string(),
            n => TENANTS[n % 2].0.to_string(),
        };
        Origin {
            tenant_id: tenant,
            actor_kind: "client",
            actor_id: "c1".into(),
            client_id: Some("c1".into()),
            request_id: "r".into(),
            now: self.now,
        }
    }

    /// A name for a voucher of any tenant, now and then one that names none.
    fn voucher_index(&mut self) -> usize {
        self.rng.random_range(0..self.model.vouchers.len() + 1)
    }

    fn named(&mut self, ids: &[(String, String)], origin: &Origin) -> String {
        if ids.is_empty() || self.rng.random_range(0..20) == 0 {
            return "unknown".into();
        }
        // Mostly the newest, of the origin's tenant or not.
        let back = self.rng.random_range(0..ids.len().min(6));
        let (tenant, id) = &ids[ids.len() - 1 - back];
        if tenant != &origin.tenant_id && self.rng.random_bool(0.5) {
            return "unknown".into();
        }
        id.clone()
    }

    fn command(&mut self, origin: &Origin) -> Command {
        match self.rng.random_range(0..8) {
            0 | 1 => return self.front_command(origin),
            2 => return self.bleepay_command(origin),
            _ => {}
        }
        let currency = if self.rng.random_range(0..25) == 0 {
            sek()
        } else {
            eur()
        };
        let v = self.voucher_index();
        let code = format!("C{v}");
        let vid = format!("v{v}");
        match self.rng.random_range(0..100) {
            0..30 => {
                let pin = match self.rng.random_range(0..10) {
                    0 => Some("wrong".into()),
                    1 => None,
                    _ => self.model.vouchers.get(v).and_then(|m| m.pin.clone()),
                };
                Command::Reserve {
                    code,
                    pin,
                    amount_minor: self.amount(),
                    currency,
                }
            }
            30..55 => Command::Charge {
                reservation_id: self.named(&self.hold_ids.clone(), origin),
                order_number: format!("o{}", self.rng.random_range(0..3)),
            },
            55..62 => Command::Release {
                reservation_id: self.named(&self.hold_ids.clone(), origin),
            },
            62..77 => Command::Refund {
                charge_id: self.named(&self.entry_ids.clone(), origin),
                amount_minor: self.amount(),
                currency,
            },
            77..89 => Command::Recharge {
                voucher: match self.rng.random_range(0..3) {
                    0 => VoucherName::Id(vid),
                    1 => VoucherName::Code(code),
                    _ => VoucherName::Both {
                        id: vid,
                        code: format!("C{}", self.voucher_index()),
                    },
                },
                amount_minor: self.amount(),
                currency,
                order_number: "o".into(),
            },
            89..96 => Command::SetStatus {
                voucher_id: vid,
                status: if self.rng.random_bool(0.5) {
                    VoucherStatus::Active
                } else {
                    VoucherStatus::Inactive
                },
                comment: None,
            },
            _ => Command::Delete {
                voucher_id: vid,
                comment: "c".into(),
            },
        }
    }

    fn run(&mut self, commands: usize) {
        let mut ids = CountingIds::default();
        let mut done = 0;
        while done < commands {
            if self.rng.random_range(0..30) == 0 {
                self.issue();
            }
            if self.rng.random_range(0..6) == 0 {
                self.submit();
            }
            if self.rng.random_bool(0.5) {
                self.reserve_code();
            }
            self.model.front.line_names = self.db.front.line_names();
            let size = self
                .rng
                .random_range(1..=BATCH_COMMANDS_MAX)
                .min(commands - done);
            let batch: Vec<(Origin, Command)> = (0..size)
                .map(|_| {
                    let origin = self.origin();
                    let command = self.command(&origin);
                    (origin, command)
                })
                .collect();
            let mut ledger = self.db.load(&batch);
            for (origin, command) in &batch {
                ids.clear();
                let answer = apply(&mut ledger, origin, command, &mut ids);
                let (got, made) = match &answer {
                    Ok(a) => {
                        let (e, id) = observed(a);
                        // A Front Payment or bleepay hold, refund or charge has the id drawn
                        // last.
                        let drawn = matches!(
                            a,
                            Answer::FrontPaid(_) | Answer::FrontDone | Answer::BleepayCode(_)
                        )
                        .then(|| format!("x{}", ids.count));
                        (Ok(e), id.or(drawn))
                    }
                    Err(refusal) => (Err(refusal.clone()), None),
                };
                let expected = self
                    .model
                    .run(origin, command, (made.as_deref(), &ids.drawn));
                assert_eq!(got, expected, "{command:?} at {}", origin.now);
                let events = ledger.take_events();
                self.check_events(&events, answer.is_ok(), origin.now, command);
                if let Ok(a) = &answer {
                    match a {
                        Answer::Reserved(h) => {
                            self.hold_ids.push((h.tenant_id.clone(), h.id.clone()))
                        }
                        Answer::Charged {
                            entry,
                            first_time: true,
                        } => self
                            .entry_ids
                            .push((entry.tenant_id.clone(), entry.id.clone())),
                        Answer::Refunded(e) | Answer::Recharged(e) => {
                            self.entry_ids.push((e.tenant_id.clone(), e.id.clone()))
                        }
                        _ => {}
                    }
                }
            }
            self.db.persist(ledger.write_set());
            self.compare();
            done += size;
        }
    }

    /// A command's events tell what the model did: none for a refusal; for every voucher they
    /// name, the amounts they carry move the balance a consumer has folded so far to the model's
    /// balance after the command, which each of them reports, with the model's held amount.
    fn check_events(
        &mut self,
        events: &[crate::events::LedgerEvent],
        accepted: bool,
        now: OffsetDateTime,
        command: &Command,
    ) {
        if !accepted {
            assert!(events.is_empty(), "a refused {command:?} wrote {events:?}");
            return;
        }
        let minor = |value: &serde_json::Value| value["minor"].as_i64().unwrap_or(0);
        let data: Vec<serde_json::Value> = events
            .iter()
            .map(|event| serde_json::from_str(&event.data).expect("an event's data is JSON"))
            .collect();
        let mut moved: HashMap<usize, i64> = HashMap::new();
        for (event, data) in events.iter().zip(&data) {
            let Some(id) = &event.voucher_id else {
                continue;
            };
            let v: usize = id[1..].parse().expect("model voucher ids are v<n>");
            let delta = match event.kind {
                crate::events::CHARGE_CREATED => -minor(&data["charge"]["amount"]),
                crate::events::REFUND_CREATED => minor(&data["refund"]["amount"]),
                crate::events::VOUCHER_RECHARGED => minor(&data["recharge"]["amount"]),
                _ => 0,
            };
            *moved.entry(v).or_default() += delta;
        }
        for (event, data) in events.iter().zip(&data) {
            let Some(id) = &event.voucher_id else {
                continue;
            };
            let v: usize = id[1..].parse().expect("model voucher ids are v<n>");
            let folded = self.event_balances[v] + moved[&v];
            let reported = minor(&data["voucher"]["balance"]);
            assert_eq!(reported, folded, "{event:?} after {command:?}");
            assert_eq!(
                reported,
                self.model.remaining(v),
                "{event:?} after {command:?}"
            );
            let held = minor(&data["voucher"]["held"]);
            assert_eq!(held, self.model.held(v, now), "{event:?} after {command:?}");
            assert!(
                !event.data.contains(&format!("\"C{v}\"")),
                "an event carries a code: {event:?}"
            );
        }
        for (v, delta) in moved {
            self.event_balances[v] += delta;
        }
    }

    /// The database after a batch agrees with the model: every voucher's status, deletion and
    /// balance (recomputed from the stored entries, and as stored), every hold's state and
    /// every entry.
    fn compare(&self) {
        for (i, m) in self.model.vouchers.iter().enumerate() {
            let v = self
                .db
                .vouchers
                .values()
                .find(|v| v.id == m.id)
                .expect("voucher");
            let from_entries: i64 = self
                .db
                .entries
                .values()
                .filter(|e| e.voucher_pk == v.pk)
                .map(|e| e.kind.balance_sign() * e.amount_minor)
                .sum();
            let remaining = self.model.remaining(i);
            assert_eq!(v.remaining_minor, remaining, "{}", m.id);
            assert_eq!(from_entries, remaining, "{}", m.id);
            assert_eq!(v.status == VoucherStatus::Active, m.active, "{}", m.id);
            assert_eq!(v.valid_until, m.valid_until, "{}", m.id);
            assert_eq!(v.deleted_at.is_some(), m.deleted, "{}", m.id);
            assert_eq!(
                v.has_activity,
                self.model
                    .entries
                    .iter()
                    .any(|e| e.voucher == i && e.kind != EntryKind::Issue)
            );
        }
        assert_eq!(self.db.holds.len(), self.model.holds.len());
        for m in &self.model.holds {
            let h = self
                .db
                .holds
                .values()
                .find(|h| h.tenant_id == m.tenant && h.id == m.id)
                .expect("hold");
            assert_eq!(h.state, m.state, "hold {}", m.id);
            assert_eq!(h.amount_minor, m.amount);
            assert_eq!(h.expires_at, m.expires_at);
            let charge = h
                .charge
                .as_ref()
                .map(|(key, _)| &self.db.entries[&stored(*key)].id);
            assert_eq!(charge, m.charge.map(|c| &self.model.entries[c].id));
        }
        assert_eq!(self.db.entries.len(), self.model.entries.len());
        for m in &self.model.entries {
            let e = self
                .db
                .entries
                .values()
                .find(|e| e.tenant_id == m.tenant && e.id == m.id)
                .expect("entry");
            assert_eq!((e.kind, e.amount_minor), (m.kind, m.amount));
            assert_eq!(e.order_number, m.order_number);
            let refunded = e
                .refund_of
                .as_ref()
                .map(|(key, _)| &self.db.entries[&stored(*key)].id);
            assert_eq!(refunded, m.refund_of.map(|c| &self.model.entries[c].id));
        }
        self.compare_front();
        self.compare_bleepay();
    }
}

#[test]
fn the_engine_agrees_with_the_reference_model_over_a_million_random_commands() {
    let mut reached = [0; 3];
    for seed in 0..SEQUENCES {
        let outcome = std::panic::catch_unwind(|| {
            let mut sequence = Sequence::new(seed);
            sequence.run(COMMANDS_PER_SEQUENCE);
            sequence.model.front.several_vouchers_reached()
        });
        match outcome {
            Ok(counts) => {
                for (total, count) in reached.iter_mut().zip(counts) {
                    *total += count;
                }
            }
            Err(panic) => {
                eprintln!("failing sequence: seed {seed}");
                std::panic::resume_unwind(panic);
            }
        }
    }
    // The random commands reach paying with several vouchers, drawing from several and
    // refunding to several.
    assert!(reached.iter().all(|&n| n > 0), "reached {reached:?}");
}
