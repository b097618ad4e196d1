//! Front Payment in the model test: the reservation rows the "database" keeps (what the store
//! loads for a batch and how it writes the write set back), a plain second implementation of
//! Front Payment's rules over the model's holds and entries, the random commands and
//! reservations, and the comparison of every reservation, line and posting after each batch.
//! Lines are named by their text in the model (the database gives them keys), so the model
//! needs no key of its own.

use std::collections::{BTreeMap, HashMap};

use rand::Rng;
use time::{Duration, OffsetDateTime};

use super::{Database, Expected, MEntry, MHold, Model, Sequence, TENANTS, stored};
use crate::engine::{
    Closing, Command, Draw, FrontLine, FrontPayer, FrontPosting, FrontReservation, FrontWrites,
    Ledger, Origin, PostingLine, RowKey,
};
use crate::front::{
    FrontLineInput, FrontRefusal, FrontStatus, LineAmount, PAYING_VOUCHERS_MAX, PayingVoucher,
    PostingSource,
};
use crate::{BALANCE_MINOR_MAX, DomainError, EntryKind, HoldState};

// ---------------------------------------------------------------- the database's rows

#[derive(Default)]
pub(super) struct Rows {
    reservations: BTreeMap<i64, FrontReservation>,
    lines: BTreeMap<i64, FrontLine>,
    /// By the key of the posting's entry.
    postings: BTreeMap<i64, FrontPosting>,
    events: usize,
    callbacks: usize,
}

impl Rows {
    /// The reservation a Front Payment command names, by key.
    pub(super) fn named(&self, tenant: &str, command: &Command) -> Option<i64> {
        let id = match command {
            Command::FrontPay { reservation_id, .. }
            | Command::FrontCapture { reservation_id, .. }
            | Command::FrontCharge { reservation_id, .. }
            | Command::FrontClose { reservation_id, .. }
            | Command::FrontRefund { reservation_id, .. } => reservation_id,
            _ => return None,
        };
        self.reservations
            .values()
            .find(|r| r.tenant_id == tenant && &r.id == id)
            .map(|r| r.pk)
    }

    /// Loads the reservations, their lines and (when the batch refunds) their postings, as the
    /// store does; answers the keys of their vouchers, which the store locks and loads too.
    pub(super) fn load(&self, ledger: &mut Ledger, pks: &[i64], refunds: bool) -> Vec<i64> {
        let mut vouchers = Vec::new();
        for pk in pks {
            let r = &self.reservations[pk];
            vouchers.extend(r.payers.iter().map(|p| p.voucher_pk));
            ledger.load_front_reservation(r.clone());
            for line in self.lines.values().filter(|l| l.reservation_pk == *pk) {
                ledger.load_front_line(line.clone());
            }
            if refunds {
                for p in self.postings.values().filter(|p| p.reservation_pk == *pk) {
                    ledger.load_front_posting(p.clone());
                }
            }
        }
        vouchers
    }

    /// Each line's key and name, for the model (which names lines by their text).
    pub(super) fn line_names(&self) -> HashMap<i64, String> {
        self.lines
            .iter()
            .map(|(pk, l)| (*pk, l.name.clone()))
            .collect()
    }
}

impl Database {
    /// Writes a batch's Front Payment rows: new lines get keys, changed rows are replaced.
    pub(super) fn persist_front(
        &mut self,
        writes: FrontWrites,
        hold_key: &dyn Fn(RowKey) -> RowKey,
        entry_key: &dyn Fn(RowKey) -> RowKey,
    ) {
        let line_pks: Vec<i64> = writes.new_lines.iter().map(|_| self.pk()).collect();
        let line_key = |key: RowKey| match key {
            RowKey::Stored(pk) => RowKey::Stored(pk),
            RowKey::New(i) => RowKey::Stored(line_pks[i]),
        };
        for r in writes.changed_reservations {
            let payers = r
                .payers
                .iter()
                .map(|p| FrontPayer {
                    hold: hold_key(p.hold),
                    ..*p
                })
                .collect();
            let r = FrontReservation { payers, ..r };
            self.front.reservations.insert(r.pk, r);
        }
        for line in writes.new_lines.into_iter().chain(writes.changed_lines) {
            let line = FrontLine {
                key: line_key(line.key),
                charge_entry: line.charge_entry.map(entry_key),
                ..line
            };
            self.front.lines.insert(stored(line.key), line);
        }
        for p in writes
            .new_postings
            .into_iter()
            .chain(writes.changed_postings)
        {
            let lines = p
                .lines
                .iter()
                .map(|l| PostingLine {
                    line: line_key(l.line),
                    ..l.clone()
                })
                .collect();
            let draws = p
                .draws
                .iter()
                .map(|d| Draw {
                    entry: entry_key(d.entry),
                    ..d.clone()
                })
                .collect();
            let p = FrontPosting {
                entry: entry_key(p.entry),
                lines,
                draws,
                ..p
            };
            self.front.postings.insert(stored(p.entry), p);
        }
        self.front.events += writes.events.len();
        self.front.callbacks += writes.callbacks.len();
    }
}

// ---------------------------------------------------------------- the reference model

#[derive(Clone, Debug)]
pub(super) struct MReservation {
    tenant: String,
    id: String,
    status: FrontStatus,
    due_at: OffsetDateTime,
    reserved_at: Option<OffsetDateTime>,
    charge_validity_days: i64,
    capture_deadline_days: i64,
    charge_limit: i64,
    grand_total: i64,
    partially_refundable: bool,
    callback: bool,
    /// Each paying voucher and its hold, in the order given.
    payers: Vec<(usize, usize)>,
    captured: i64,
    charged: i64,
    refunded_captured: i64,
    refunded_charged: i64,
}

#[derive(Clone, Debug)]
struct MLine {
    reservation: usize,
    name: String,
    amount: i64,
    captured: i64,
    charged: bool,
}

#[derive(Clone, Debug)]
struct MPosting {
    reservation: usize,
    id: String,
    source: PostingSource,
    amount: i64,
    refunded: i64,
    /// Line name, amount drawn, amount refunded.
    lines: Vec<(String, i64, i64)>,
    /// Voucher, entry id, amount drawn, amount refunded, in the order drawn.
    draws: Vec<(usize, String, i64, i64)>,
}

#[derive(Default)]
pub(super) struct FrontModel {
    reservations: Vec<MReservation>,
    lines: Vec<MLine>,
    postings: Vec<MPosting>,
    events: usize,
    callbacks: usize,
    /// The names of the lines stored before the batch, by key: how commands name lines.
    pub(super) line_names: HashMap<i64, String>,
}

fn no(refusal: FrontRefusal) -> DomainError {
    DomainError::Front(refusal)
}

impl FrontModel {
    /// How many reservations were paid with several vouchers, how many postings drew from
    /// several, and how many of those refunded to several.
    pub(super) fn several_vouchers_reached(&self) -> [usize; 3] {
        let several = |draws: &[(usize, String, i64, i64)]| draws.len() > 1;
        [
            self.reservations
                .iter()
                .filter(|r| r.payers.len() > 1)
                .count(),
            self.postings.iter().filter(|p| several(&p.draws)).count(),
            self.postings
                .iter()
                .filter(|p| p.draws.iter().filter(|d| d.3 > 0).count() > 1)
                .count(),
        ]
    }

    fn reservation(&self, tenant: &str, id: &str) -> Result<usize, DomainError> {
        self.reservations
            .iter()
            .position(|r| r.tenant == tenant && r.id == id)
            .ok_or(no(FrontRefusal::ReservationNotFound))
    }

    fn line(&self, r: usize, pk: i64) -> Option<usize> {
        let name = self.line_names.get(&pk)?;
        self.lines
            .iter()
            .position(|l| l.reservation == r && &l.name == name)
    }

    /// A status change: an event, and a callback when the merchant asked for them.
    fn announce(&mut self, r: usize) {
        self.events += 1;
        if self.reservations[r].callback {
            self.callbacks += 1;
        }
    }
}

/// Amounts per line key, in key order.
fn sums(lines: &[LineAmount]) -> BTreeMap<i64, i64> {
    let mut sums = BTreeMap::new();
    for l in lines {
        *sums.entry(l.line_id).or_default() += l.amount_minor;
    }
    sums
}

impl Model {
    /// The reservation's paying vouchers that were not deleted, with their holds.
    fn payers_of(&self, r: usize) -> Vec<(usize, usize)> {
        self.front.reservations[r]
            .payers
            .iter()
            .copied()
            .filter(|&(v, _)| !self.vouchers[v].deleted)
            .collect()
    }

    /// Splits `total` over what each source can give, in order (see the engine's rule).
    fn spread(total: i64, can_give: &[i64]) -> Vec<(usize, i64)> {
        if total == 0 {
            return if can_give.is_empty() {
                Vec::new()
            } else {
                vec![(0, 0)]
            };
        }
        let mut left = total;
        let mut parts = Vec::new();
        for (i, can) in can_give.iter().enumerate() {
            let part = (*can).min(left).max(0);
            if part > 0 {
                parts.push((i, part));
                left -= part;
            }
        }
        parts
    }

    fn closed(&self, r: usize) -> Result<(), DomainError> {
        match self.front.reservations[r].status {
            FrontStatus::Cancelled => Err(no(FrontRefusal::AlreadyCancelled)),
            FrontStatus::Completed => Err(no(FrontRefusal::AlreadyCompleted)),
            _ => Ok(()),
        }
    }

    pub(super) fn run_front(
        &mut self,
        origin: &Origin,
        command: &Command,
        drawn: &[String],
    ) -> Result<Expected, DomainError> {
        let (t, now) = (origin.tenant_id.as_str(), origin.now);
        let mut drawn = drawn.iter();
        let mut id = || drawn.next().expect("the engine drew an id").clone();
        match command {
            Command::FrontPay {
                reservation_id,
                vouchers,
                currency,
            } => {
                let r = self.front.reservation(t, reservation_id)?;
                let res = &self.front.reservations[r];
                match res.status {
                    FrontStatus::Sent if res.due_at > now => {}
                    FrontStatus::Sent => return Err(no(FrontRefusal::LinkExpired)),
                    _ => return Err(no(FrontRefusal::LinkAlreadyUsed)),
                }
                if vouchers.is_empty() || vouchers.len() > PAYING_VOUCHERS_MAX {
                    return Err(no(FrontRefusal::VoucherCountInvalid));
                }
                let (total, days) = (res.grand_total, res.capture_deadline_days);
                let mut shown = *currency;
                let mut chosen: Vec<usize> = Vec::new();
                let mut free = Vec::new();
                for (position, given) in vouchers.iter().enumerate() {
                    let at = |refusal| DomainError::PayingVoucher {
                        position,
                        refusal: Box::new(refusal),
                    };
                    let v = self
                        .find_voucher(t, |v| v.code == given.code)
                        .ok_or(at(DomainError::VoucherNotFound))?;
                    let voucher = &self.vouchers[v];
                    if voucher.pin.is_some() && voucher.pin != given.pin {
                        return Err(at(DomainError::VoucherNotFound));
                    }
                    if shown.is_some_and(|c| c != voucher.currency) {
                        return Err(at(DomainError::CurrencyMismatch));
                    }
                    shown = Some(voucher.currency);
                    self.usable(v, now).map_err(at)?;
                    if chosen.contains(&v) {
                        return Err(at(no(FrontRefusal::VoucherRepeated)));
                    }
                    chosen.push(v);
                    free.push(self.remaining(v) - self.held(v, now));
                }
                let parts = Self::spread(total, &free);
                if parts.iter().map(|(_, part)| part).sum::<i64>() < total {
                    let mut covers_minor = vec![0; vouchers.len()];
                    for (at, part) in parts {
                        covers_minor[at] = part;
                    }
                    return Err(DomainError::VouchersShort { covers_minor });
                }
                let mut payers = Vec::new();
                for (at, part) in parts {
                    self.holds.push(MHold {
                        jtl: false,
                        tenant: t.into(),
                        id: id(),
                        voucher: chosen[at],
                        amount: part,
                        state: HoldState::Live,
                        expires_at: now + Duration::days(days),
                        charge: None,
                    });
                    payers.push((chosen[at], self.holds.len() - 1));
                }
                let res = &mut self.front.reservations[r];
                res.status = FrontStatus::Reserved;
                res.payers = payers;
                res.reserved_at = Some(now);
                self.front.announce(r);
                Ok(Expected::FrontPaid { amount: total })
            }
            Command::FrontCapture {
                reservation_id,
                lines,
                ..
            } => {
                let r = self.front.reservation(t, reservation_id)?;
                self.closed(r)?;
                let res = self.front.reservations[r].clone();
                let reserved_at = res
                    .reserved_at
                    .ok_or(no(FrontRefusal::PaymentCardNotFound))?;
                if now >= reserved_at + Duration::days(res.capture_deadline_days) {
                    return Err(no(FrontRefusal::CaptureDeadlineExceeded));
                }
                let payers = self.payers_of(r);
                if payers.is_empty() {
                    return Err(no(FrontRefusal::PaymentCardNotFound));
                }
                let wanted = sums(lines);
                let mut drawn = Vec::new();
                for (pk, amount) in &wanted {
                    let l = self
                        .front
                        .line(r, *pk)
                        .filter(|&l| !self.front.lines[l].charged)
                        .ok_or(no(FrontRefusal::RefundLineNotAvailable))?;
                    let line = &self.front.lines[l];
                    if *amount > line.amount - line.captured {
                        return Err(no(FrontRefusal::CaptureRunwayExceeded));
                    }
                    drawn.push((l, *amount));
                }
                let total: i64 = wanted.values().sum();
                let live: Vec<usize> = payers
                    .iter()
                    .map(|&(_, h)| h)
                    .filter(|&h| {
                        let hold = &self.holds[h];
                        hold.state == HoldState::Live && hold.expires_at > now
                    })
                    .collect();
                let held: Vec<i64> = live.iter().map(|&h| self.holds[h].amount).collect();
                let parts = Self::spread(total, &held);
                if parts.is_empty() || parts.iter().map(|(_, part)| part).sum::<i64>() < total {
                    return Err(no(FrontRefusal::CaptureRunwayExceeded));
                }
                let mut draws = Vec::new();
                for (at, part) in parts {
                    let h = live[at];
                    let entry_id = id();
                    let v = self.holds[h].voucher;
                    self.entries.push(MEntry {
                        tenant: t.into(),
                        id: entry_id.clone(),
                        voucher: v,
                        kind: EntryKind::Charge,
                        amount: part,
                        order_number: Some(reservation_id.clone()),
                        refund_of: None,
                    });
                    if part == self.holds[h].amount {
                        self.holds[h].state = HoldState::Charged;
                        self.holds[h].charge = Some(self.entries.len() - 1);
                    } else {
                        self.holds[h].amount -= part;
                    }
                    draws.push((v, entry_id, part, 0));
                }
                let mut posting_lines = Vec::new();
                for (l, amount) in drawn {
                    self.front.lines[l].captured += amount;
                    posting_lines.push((self.front.lines[l].name.clone(), amount, 0));
                }
                self.front.postings.push(MPosting {
                    reservation: r,
                    id: draws[0].1.clone(),
                    source: PostingSource::Captured,
                    amount: total,
                    refunded: 0,
                    lines: posting_lines,
                    draws,
                });
                let res = &mut self.front.reservations[r];
                res.captured += total;
                res.status = FrontStatus::Captured;
                self.front.announce(r);
                Ok(Expected::FrontPosted)
            }
            Command::FrontCharge {
                reservation_id,
                lines,
                ..
            } => {
                let r = self.front.reservation(t, reservation_id)?;
                let total: i64 = lines.iter().map(|l| l.amount_minor).sum();
                let loaded: Vec<usize> = self.payers_of(r).iter().map(|&(v, _)| v).collect();
                let usable: Vec<usize> = loaded
                    .iter()
                    .copied()
                    .filter(|&v| self.usable(v, now).is_ok())
                    .collect();
                let free: Vec<i64> = usable
                    .iter()
                    .map(|&v| self.remaining(v) - self.held(v, now))
                    .collect();
                let available: i64 = free.iter().sum();
                self.closed(r)?;
                let res = self.front.reservations[r].clone();
                let reserved_at = res
                    .reserved_at
                    .ok_or(no(FrontRefusal::PaymentCardNotFound))?;
                if now > reserved_at + Duration::days(res.charge_validity_days) {
                    return Err(no(FrontRefusal::ChargeDeadlineExceeded));
                }
                if total > res.charge_limit - res.charged || total > available {
                    return Err(no(FrontRefusal::ChargeRunwayExceeded));
                }
                if usable.is_empty() {
                    return Err(no(FrontRefusal::PaymentCardNotFound));
                }
                let mut draws = Vec::new();
                for (at, part) in Self::spread(total, &free) {
                    let entry_id = id();
                    self.entries.push(MEntry {
                        tenant: t.into(),
                        id: entry_id.clone(),
                        voucher: usable[at],
                        kind: EntryKind::Charge,
                        amount: part,
                        order_number: Some(reservation_id.clone()),
                        refund_of: None,
                    });
                    draws.push((usable[at], entry_id, part, 0));
                }
                let mut posting_lines = Vec::new();
                for line in lines {
                    self.front.lines.push(MLine {
                        reservation: r,
                        name: line.name.clone(),
                        amount: line.amount_minor,
                        captured: line.amount_minor,
                        charged: true,
                    });
                    if line.amount_minor > 0 {
                        posting_lines.push((line.name.clone(), line.amount_minor, 0));
                    }
                }
                self.front.postings.push(MPosting {
                    reservation: r,
                    id: draws[0].1.clone(),
                    source: PostingSource::Charged,
                    amount: total,
                    refunded: 0,
                    lines: posting_lines,
                    draws,
                });
                let res = &mut self.front.reservations[r];
                res.charged += total;
                res.status = FrontStatus::Charged;
                self.front.announce(r);
                Ok(Expected::FrontPosted)
            }
            Command::FrontClose {
                reservation_id,
                closing,
                ..
            } => {
                let r = self.front.reservation(t, reservation_id)?;
                let res = &self.front.reservations[r];
                let status = if res.status == FrontStatus::Sent && res.due_at <= now {
                    FrontStatus::Expired
                } else {
                    res.status
                };
                let to = match closing {
                    Closing::Cancel => match status {
                        FrontStatus::Sent | FrontStatus::Reserved => FrontStatus::Cancelled,
                        FrontStatus::Completed | FrontStatus::Cancelled => {
                            return Err(no(FrontRefusal::AlreadyCompleted));
                        }
                        _ => return Err(no(FrontRefusal::CannotCancel)),
                    },
                    Closing::Complete => {
                        self.closed(r)?;
                        match status {
                            FrontStatus::Captured | FrontStatus::Charged => FrontStatus::Completed,
                            _ => return Err(no(FrontRefusal::CannotComplete)),
                        }
                    }
                };
                // The holds of a deleted voucher are not the batch's to end.
                for (_, h) in self.payers_of(r) {
                    self.end_hold(h, HoldState::Released, now);
                }
                self.front.reservations[r].status = to;
                self.front.announce(r);
                Ok(Expected::FrontDone)
            }
            Command::FrontRefund {
                reservation_id,
                source,
                reference,
                lines,
            } => {
                let r = self.front.reservation(t, reservation_id)?;
                let posting =
                    self.front.postings.iter().position(|p| {
                        p.reservation == r && &p.id == reference && p.source == *source
                    });
                let Some(p) = posting else {
                    return Err(no(FrontRefusal::RefundTransactionNotFound));
                };
                let wanted = sums(lines);
                let mut refunded = Vec::new();
                for (pk, amount) in &wanted {
                    let name = self.front.line_names.get(pk);
                    let at = self.front.postings[p]
                        .lines
                        .iter()
                        .position(|(n, _, _)| Some(n) == name)
                        .ok_or(no(FrontRefusal::RefundLineNotAvailable))?;
                    let (_, drawn, done) = &self.front.postings[p].lines[at];
                    if drawn - done <= 0 {
                        return Err(no(FrontRefusal::RefundAlreadyRefunded));
                    }
                    if *amount > drawn - done {
                        return Err(no(FrontRefusal::RefundExceedsRefundable));
                    }
                    refunded.push((at, *amount));
                }
                let total: i64 = wanted.values().sum();
                let posting = &self.front.postings[p];
                if *source == PostingSource::Charged
                    && !self.front.reservations[r].partially_refundable
                    && total != posting.amount - posting.refunded
                {
                    return Err(no(FrontRefusal::PartialChargeRefundNotAllowed));
                }
                // Last drawn, first refunded.
                let order: Vec<usize> = (0..posting.draws.len()).rev().collect();
                let room: Vec<i64> = order
                    .iter()
                    .map(|&d| posting.draws[d].2 - posting.draws[d].3)
                    .collect();
                let parts: Vec<(usize, i64)> = Self::spread(total, &room)
                    .into_iter()
                    .map(|(at, part)| (order[at], part))
                    .collect();
                for &(d, part) in &parts {
                    if self.remaining(posting.draws[d].0) + part > BALANCE_MINOR_MAX {
                        return Err(DomainError::BalanceLimitExceeded);
                    }
                }
                for &(d, part) in &parts {
                    let (v, entry_id) = {
                        let draw = &self.front.postings[p].draws[d];
                        (draw.0, draw.1.clone())
                    };
                    let charge = self
                        .entries
                        .iter()
                        .position(|e| e.tenant == t && e.id == entry_id)
                        .expect("the draw's entry");
                    self.entries.push(MEntry {
                        tenant: t.into(),
                        id: id(),
                        voucher: v,
                        kind: EntryKind::Refund,
                        amount: part,
                        order_number: Some(reservation_id.clone()),
                        refund_of: Some(charge),
                    });
                    self.front.postings[p].draws[d].3 += part;
                }
                for (at, amount) in refunded {
                    self.front.postings[p].lines[at].2 += amount;
                }
                self.front.postings[p].refunded += total;
                let res = &mut self.front.reservations[r];
                match source {
                    PostingSource::Captured => res.refunded_captured += total,
                    PostingSource::Charged => res.refunded_charged += total,
                }
                self.front.events += 1;
                Ok(Expected::FrontDone)
            }
            _ => unreachable!("not a Front Payment command"),
        }
    }
}

// ---------------------------------------------------------------- random commands

impl Sequence {
    /// Submits a reservation (outside the engine, as the store does) into the database and
    /// the model: one to three reserved lines, a due date within hours, short windows.
    pub(super) fn submit(&mut self) {
        let n = self.model.front.reservations.len();
        let tenant = TENANTS[self.rng.random_range(0..2)].0.to_string();
        let pk = self.db.pk();
        let mut total = 0;
        for l in 0..self.rng.random_range(1..4) {
            let amount = self.rng.random_range(1..8_000);
            total += amount;
            let line_pk = self.db.pk();
            let name = format!("R{n}.{l}");
            self.db.front.lines.insert(
                line_pk,
                FrontLine {
                    key: RowKey::Stored(line_pk),
                    reservation_pk: pk,
                    charge_entry: None,
                    name: name.clone(),
                    product_id: None,
                    rate_minor: amount,
                    tax: "0".into(),
                    amount_minor: amount,
                    captured_minor: 0,
                },
            );
            self.model.front.lines.push(MLine {
                reservation: n,
                name,
                amount,
                captured: 0,
                charged: false,
            });
        }
        let model = MReservation {
            tenant: tenant.clone(),
            id: format!("RES{n}"),
            status: FrontStatus::Sent,
            due_at: self.now + Duration::minutes(self.rng.random_range(1..600)),
            reserved_at: None,
            charge_validity_days: self.rng.random_range(0..3),
            capture_deadline_days: self.rng.random_range(0..3),
            charge_limit: total * self.rng.random_range(1..3),
            grand_total: total,
            partially_refundable: self.rng.random_bool(0.5),
            callback: self.rng.random_bool(0.5),
            payers: Vec::new(),
            captured: 0,
            charged: 0,
            refunded_captured: 0,
            refunded_charged: 0,
        };
        self.db.front.reservations.insert(
            pk,
            FrontReservation {
                pk,
                tenant_id: tenant,
                id: model.id.clone(),
                merchant_token_id: "m1".into(),
                callback_url: model.callback.then(|| "https://shop.example/cb".into()),
                customer_email: None,
                status: FrontStatus::Sent,
                due_at: model.due_at,
                reserved_at: None,
                charge_validity_days: model.charge_validity_days,
                capture_deadline_days: model.capture_deadline_days,
                charge_limit_minor: model.charge_limit,
                charge_partially_refundable: model.partially_refundable,
                grand_total_minor: total,
                payers: Vec::new(),
                captured_minor: 0,
                charged_minor: 0,
                refunded_captured_minor: 0,
                refunded_charged_minor: 0,
                updated_at: self.now,
            },
        );
        self.model.front.reservations.push(model);
    }

    /// A reservation id: mostly one of the newest of the origin's tenant, now and then one of
    /// any tenant or none.
    fn reservation_named(&mut self, origin: &Origin) -> (String, Option<i64>) {
        if self.rng.random_range(0..20) == 0 {
            return ("RES-unknown".into(), None);
        }
        let any_tenant = self.rng.random_range(0..10) == 0;
        let candidates: Vec<(String, i64)> = self
            .db
            .front
            .reservations
            .values()
            .rev()
            .filter(|r| any_tenant || r.tenant_id == origin.tenant_id)
            .take(4)
            .map(|r| (r.id.clone(), r.pk))
            .collect();
        if candidates.is_empty() {
            return ("RES-unknown".into(), None);
        }
        let (id, pk) = candidates[self.rng.random_range(0..candidates.len())].clone();
        (id, Some(pk))
    }

    /// A voucher: mostly one of the origin's tenant.
    fn voucher_of_tenant(&mut self, origin: &Origin) -> usize {
        let own: Vec<usize> = (0..self.model.vouchers.len())
            .filter(|&v| self.model.vouchers[v].tenant == origin.tenant_id)
            .collect();
        if own.is_empty() || self.rng.random_range(0..5) == 0 {
            self.voucher_index()
        } else {
            own[self.rng.random_range(0..own.len())]
        }
    }

    /// Amounts for lines: mostly within what is left on them, now and then more, and now and
    /// then a line key of another reservation.
    fn line_amounts(&mut self, choices: &[(i64, i64)]) -> Vec<LineAmount> {
        let mut lines = Vec::new();
        for _ in 0..self.rng.random_range(1..3) {
            let (line_id, left) = match (choices.is_empty(), self.rng.random_range(0..12)) {
                (true, _) | (_, 0) => (self.rng.random_range(0..self.db.next_pk + 2), 50),
                _ => choices[self.rng.random_range(0..choices.len())],
            };
            let amount_minor = match self.rng.random_range(0..8) {
                0 => left + self.rng.random_range(1..100),
                _ => self.rng.random_range(1..=left.max(1)),
            };
            lines.push(LineAmount {
                line_id,
                amount_minor,
            });
        }
        lines
    }

    pub(super) fn front_command(&mut self, origin: &Origin) -> Command {
        let (reservation_id, pk) = self.reservation_named(origin);
        match self.rng.random_range(0..100) {
            0..30 => {
                // Mostly one voucher; now and then up to six (one too many), or one twice.
                let count = match self.rng.random_range(0..10) {
                    0..4 => 1,
                    4..9 => self.rng.random_range(2..4),
                    _ => self.rng.random_range(0..=PAYING_VOUCHERS_MAX + 1),
                };
                let mut vouchers: Vec<PayingVoucher> = (0..count)
                    .map(|_| {
                        let v = self.voucher_of_tenant(origin);
                        let pin = match self.rng.random_range(0..10) {
                            0 => Some("wrong".into()),
                            _ => self.model.vouchers.get(v).and_then(|m| m.pin.clone()),
                        };
                        PayingVoucher {
                            code: format!("C{v}"),
                            pin,
                        }
                    })
                    .collect();
                if count > 1 && self.rng.random_range(0..8) == 0 {
                    vouchers[count - 1] = vouchers[0].clone();
                }
                let currency = match self.rng.random_range(0..10) {
                    0 => Some(super::sek()),
                    1 => Some(super::eur()),
                    _ => None,
                };
                Command::FrontPay {
                    reservation_id,
                    vouchers,
                    currency,
                }
            }
            30..55 => {
                let choices: Vec<(i64, i64)> = self
                    .db
                    .front
                    .lines
                    .iter()
                    .filter(|(_, l)| Some(l.reservation_pk) == pk && l.charge_entry.is_none())
                    .map(|(k, l)| (*k, l.amount_minor - l.captured_minor))
                    .collect();
                Command::FrontCapture {
                    reservation_id,
                    lines: self.line_amounts(&choices),
                    note: None,
                }
            }
            55..72 => {
                let lines = (0..self.rng.random_range(1..3))
                    .map(|_| {
                        let amount = self.rng.random_range(1..5_000);
                        FrontLineInput {
                            name: {
                                self.lines_named += 1;
                                format!("L{}", self.lines_named)
                            },
                            product_id: None,
                            rate_minor: amount,
                            tax: "0".into(),
                            amount_minor: amount,
                        }
                    })
                    .collect();
                Command::FrontCharge {
                    reservation_id,
                    lines,
                    note: None,
                }
            }
            72..84 => Command::FrontClose {
                reservation_id,
                closing: if self.rng.random_bool(0.5) {
                    Closing::Cancel
                } else {
                    Closing::Complete
                },
                note: "n".into(),
            },
            _ => {
                let postings: Vec<&FrontPosting> = self
                    .db
                    .front
                    .postings
                    .values()
                    .filter(|p| Some(p.reservation_pk) == pk)
                    .collect();
                let (source, reference, choices) = match postings.len() {
                    0 => (
                        PostingSource::Captured,
                        "CAP-unknown".to_string(),
                        Vec::new(),
                    ),
                    n => {
                        let p = postings[self.rng.random_range(0..n)];
                        let choices = p
                            .lines
                            .iter()
                            .map(|l| (stored(l.line), l.amount_minor - l.refunded_minor))
                            .collect();
                        (p.source, p.entry_id.clone(), choices)
                    }
                };
                let source = if self.rng.random_range(0..10) == 0 {
                    match source {
                        PostingSource::Captured => PostingSource::Charged,
                        PostingSource::Charged => PostingSource::Captured,
                    }
                } else {
                    source
                };
                // Now and then everything left on every line: a refund large enough to reach
                // past the last-drawn voucher.
                let lines = if !choices.is_empty() && self.rng.random_range(0..3) == 0 {
                    choices
                        .iter()
                        .filter(|(_, left)| *left > 0)
                        .map(|&(line_id, left)| LineAmount {
                            line_id,
                            amount_minor: left,
                        })
                        .collect()
                } else {
                    self.line_amounts(&choices)
                };
                Command::FrontRefund {
                    reservation_id,
                    source,
                    reference,
                    lines,
                }
            }
        }
    }

    /// The database's reservations, lines and postings agree with the model's.
    pub(super) fn compare_front(&self) {
        let db = &self.db.front;
        let model = &self.model.front;
        for m in &model.reservations {
            let r = db
                .reservations
                .values()
                .find(|r| r.tenant_id == m.tenant && r.id == m.id)
                .expect("reservation");
            assert_eq!(r.status, m.status, "{}", m.id);
            assert_eq!(r.reserved_at, m.reserved_at, "{}", m.id);
            assert_eq!(
                (r.captured_minor, r.charged_minor),
                (m.captured, m.charged),
                "{}",
                m.id
            );
            assert_eq!(
                (r.refunded_captured_minor, r.refunded_charged_minor),
                (m.refunded_captured, m.refunded_charged),
                "{}",
                m.id
            );
            let payers: Vec<(String, String)> = r
                .payers
                .iter()
                .map(|p| {
                    let voucher = self.db.vouchers[&p.voucher_pk].id.clone();
                    (voucher, self.db.holds[&stored(p.hold)].id.clone())
                })
                .collect();
            let expected: Vec<(String, String)> = m
                .payers
                .iter()
                .map(|&(v, h)| {
                    let voucher = self.model.vouchers[v].id.clone();
                    (voucher, self.model.holds[h].id.clone())
                })
                .collect();
            assert_eq!(payers, expected, "{}", m.id);
        }
        assert_eq!(db.lines.len(), model.lines.len());
        for m in &model.lines {
            let l = db.lines.values().find(|l| l.name == m.name).expect("line");
            assert_eq!(
                db.reservations[&l.reservation_pk].id,
                model.reservations[m.reservation].id
            );
            assert_eq!(
                (l.amount_minor, l.captured_minor),
                (m.amount, m.captured),
                "{}",
                m.name
            );
            assert_eq!(l.charge_entry.is_some(), m.charged, "{}", m.name);
        }
        assert_eq!(db.postings.len(), model.postings.len());
        for m in &model.postings {
            let p = db
                .postings
                .values()
                .find(|p| p.entry_id == m.id)
                .expect("posting");
            assert_eq!(
                db.reservations[&p.reservation_pk].id,
                model.reservations[m.reservation].id
            );
            assert_eq!(
                (p.source, p.amount_minor, p.refunded_minor),
                (m.source, m.amount, m.refunded),
                "{}",
                m.id
            );
            let lines: Vec<(String, i64, i64)> = p
                .lines
                .iter()
                .map(|l| {
                    let name = db.lines[&stored(l.line)].name.clone();
                    (name, l.amount_minor, l.refunded_minor)
                })
                .collect();
            assert_eq!(lines, m.lines, "{}", m.id);
            assert_eq!(self.db.entries[&stored(p.entry)].id, m.id);
            let draws: Vec<(String, String, i64, i64)> = p
                .draws
                .iter()
                .map(|d| {
                    let entry = &self.db.entries[&stored(d.entry)];
                    assert_eq!(entry.voucher_pk, d.voucher_pk, "{}", m.id);
                    assert_eq!(entry.amount_minor, d.amount_minor, "{}", m.id);
                    let voucher = self.db.vouchers[&d.voucher_pk].id.clone();
                    (
                        voucher,
                        d.entry_id.clone(),
                        d.amount_minor,
                        d.refunded_minor,
                    )
                })
                .collect();
            let expected: Vec<(String, String, i64, i64)> = m
                .draws
                .iter()
                .map(|(v, id, amount, refunded)| {
                    (
                        self.model.vouchers[*v].id.clone(),
                        id.clone(),
                        *amount,
                        *refunded,
                    )
                })
                .collect();
            assert_eq!(draws, expected, "{}", m.id);
        }
        assert_eq!((db.events, db.callbacks), (model.events, model.callbacks));
    }
}
