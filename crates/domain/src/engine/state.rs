//! The in-memory ledger a batch works on: the vouchers, holds and entries the batch's commands
//! name, as the store loaded them (under lock), and every change the engine made since. Only
//! this module reads or changes the maps; the rules go through its methods, so that every
//! change is recorded for the write set.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

use time::OffsetDateTime;

use serde::Serialize;
use serde_json::json;

use super::Origin;
use super::bleepay_book::{BleepayBook, BleepayCode, BleepayWrites};
use super::front_book::{FrontBook, FrontLine, FrontPosting, FrontReservation, FrontWrites};
use crate::events::{self, Amount, LedgerEvent, VoucherAfter, money};
use crate::{Currency, EntryKind, HoldState, Validity, VoucherStatus};

/// Where a row lives: in the store already, under its primary key, or made by this batch
/// (numbered in the order the batch made rows of its kind). The store gives new rows their keys
/// when it writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RowKey {
    Stored(i64),
    New(usize),
}

/// What a batch needs to know of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantRules {
    /// How long a JTL reservation holds its money.
    pub reservation_ttl_seconds: i64,
}

/// A voucher as the engine sees it: the fields decisions read and the ones they change.
#[derive(Debug, Clone, PartialEq)]
pub struct Voucher {
    pub pk: i64,
    pub tenant_id: String,
    pub id: String,
    pub code: String,
    pub pin: Option<String>,
    pub status: VoucherStatus,
    pub currency: Currency,
    pub valid_until: Option<OffsetDateTime>,
    /// How long the voucher stays valid once activated.
    pub validity: Validity,
    /// initial + recharges + refunds - charges, over the voucher's entries.
    pub remaining_minor: i64,
    /// Whether any entry besides the issue entry exists.
    pub has_activity: bool,
    pub deleted_at: Option<OffsetDateTime>,
    pub delete_comment: Option<String>,
    pub updated_at: OffsetDateTime,
}

/// A hold: money set aside on a voucher until it is charged, released or expires.
#[derive(Debug, Clone, PartialEq)]
pub struct Hold {
    pub key: RowKey,
    pub tenant_id: String,
    pub id: String,
    pub voucher_pk: i64,
    pub client_id: Option<String>,
    /// What the hold is for: a JTL reservation is [`PURPOSE_RESERVATION`].
    pub purpose: String,
    pub amount_minor: i64,
    pub currency: Currency,
    /// The state as written; a live hold past `expires_at` holds no money all the same.
    pub state: HoldState,
    pub expires_at: OffsetDateTime,
    /// The charge entry that took the hold's money, with its id.
    pub charge: Option<(RowKey, String)>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// The hold purpose of JTL reservations: one live per voucher, superseded by the next.
pub const PURPOSE_RESERVATION: &str = "reservation";

impl Hold {
    /// A hold holds money while it is live and its expiry lies in the future. Expiry is
    /// evaluated at every decision, so a hold the sweeper has not reached yet never blocks
    /// money.
    pub fn is_live_at(&self, now: OffsetDateTime) -> bool {
        self.state == HoldState::Live && self.expires_at > now
    }

    /// The state a reader sees at `now`: a live hold past its expiry reads `Expired`.
    pub fn state_at(&self, now: OffsetDateTime) -> HoldState {
        if self.state == HoldState::Live && self.expires_at <= now {
            HoldState::Expired
        } else {
            self.state
        }
    }
}

/// An immutable ledger entry, with what the batch knows of the refunds against it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: RowKey,
    pub tenant_id: String,
    pub id: String,
    pub voucher_pk: i64,
    pub voucher_id: String,
    pub client_id: Option<String>,
    pub kind: EntryKind,
    pub amount_minor: i64,
    pub currency: Currency,
    pub order_number: Option<String>,
    /// For a refund: the charge it refunds, with its id.
    pub refund_of: Option<(RowKey, String)>,
    /// For a charge: the hold it charged.
    pub hold: Option<RowKey>,
    pub created_at: OffsetDateTime,
    /// For a charge: the sum of the refunds written against it so far.
    pub refunded_minor: i64,
}

/// A record of the audit log, written with the change it describes.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub tenant_id: String,
    pub at: OffsetDateTime,
    pub actor_kind: &'static str,
    pub actor_id: String,
    pub action: &'static str,
    pub subject_kind: &'static str,
    pub subject_id: String,
    pub request_id: String,
    /// A JSON object.
    pub detail: String,
}

type TenantScoped = (String, String);

/// The ledger's maps. A batch's keys are few and short, and a map lives for one batch, so a
/// fast hash (seeded per map) serves better than the default one, which is built to resist
/// crafted keys at scale.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A map with room for `n` entries.
fn map_for<K: Eq + Hash, V>(n: usize) -> Map<K, V> {
    Map::with_capacity_and_hasher(n, foldhash::fast::RandomState::default())
}

/// An event recorded where a change was made, completed with the voucher's figures once the
/// command that made it is done ([`Ledger::seal_events`]).
#[derive(Debug, Clone, PartialEq)]
struct Draft {
    kind: &'static str,
    voucher_pk: Option<i64>,
    /// The event's own fields, as JSON text ([`events::members`]).
    fields: String,
}

/// A hold as its events show it.
#[derive(Serialize)]
struct HoldFields<'a> {
    id: &'a str,
    purpose: &'a str,
    amount: Amount,
    expires_at: String,
}

impl<'a> HoldFields<'a> {
    fn of(hold: &'a Hold) -> HoldFields<'a> {
        HoldFields {
            id: &hold.id,
            purpose: &hold.purpose,
            amount: Amount::of(hold.amount_minor, hold.currency),
            expires_at: events::timestamp(hold.expires_at),
        }
    }
}

/// The fields of `hold.placed`, and of `hold.released` and `hold.expired` with their reason.
#[derive(Serialize)]
struct HoldEvent<'a> {
    hold: HoldFields<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// The fields of `charge.created`, `refund.created` and `voucher.recharged`: the entry under
/// its kind's name.
#[derive(Serialize)]
enum EntryEvent<'a> {
    #[serde(rename = "charge")]
    Charge {
        id: &'a str,
        amount: Amount,
        order_number: Option<&'a str>,
        hold_id: Option<&'a str>,
    },
    #[serde(rename = "refund")]
    Refund {
        id: &'a str,
        amount: Amount,
        charge_id: Option<&'a str>,
    },
    #[serde(rename = "recharge")]
    Recharge {
        id: &'a str,
        amount: Amount,
        order_number: Option<&'a str>,
    },
}

/// The state of one batch: what was loaded plus what the batch changed.
#[derive(Debug, Default)]
pub struct Ledger {
    tenants: Map<String, TenantRules>,
    vouchers: Map<i64, Voucher>,
    voucher_by_id: Map<TenantScoped, i64>,
    voucher_by_code: Map<TenantScoped, i64>,
    holds: Vec<Hold>,
    hold_by_key: Map<RowKey, usize>,
    hold_by_id: Map<TenantScoped, usize>,
    holds_of_voucher: Map<i64, Vec<usize>>,
    entries: Vec<Entry>,
    entry_by_key: Map<RowKey, usize>,
    entry_by_id: Map<TenantScoped, usize>,
    changed_vouchers: BTreeSet<i64>,
    changed_holds: BTreeSet<usize>,
    new_holds: usize,
    new_entries: usize,
    audit: Vec<AuditRecord>,
    /// Each voucher's remaining balance as loaded, to check the batch's entries against.
    loaded_remaining: Map<i64, i64>,
    /// How many changes the batch made, so a refusal can be shown to have made none.
    changes: u64,
    /// The Front Payment reservations the batch names, with their lines and postings.
    front: FrontBook,
    /// The bleepay voucher codes the batch names, with their contexts' bound vouchers.
    bleepay: BleepayBook,
    /// Events of the command being decided, not yet sealed.
    drafts: Vec<Draft>,
    /// The batch's events, in the order their commands were decided.
    events: Vec<LedgerEvent>,
}

fn scoped(tenant_id: &str, name: &str) -> TenantScoped {
    (tenant_id.to_string(), name.to_string())
}

impl Ledger {
    /// An empty ledger, to be filled by the `load_*` methods.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// An empty ledger with room for what a batch of `commands` commands usually loads and
    /// makes (a voucher, its live holds and an entry or two each), so that filling it does not
    /// grow its maps step by step.
    pub fn for_batch(commands: usize) -> Ledger {
        Ledger {
            tenants: map_for(1),
            vouchers: map_for(commands),
            voucher_by_id: map_for(commands),
            voucher_by_code: map_for(commands),
            holds: Vec::with_capacity(commands * 2),
            hold_by_key: map_for(commands * 2),
            hold_by_id: map_for(commands * 2),
            holds_of_voucher: map_for(commands),
            entries: Vec::with_capacity(commands),
            entry_by_key: map_for(commands),
            entry_by_id: map_for(commands),
            loaded_remaining: map_for(commands),
            ..Ledger::default()
        }
    }

    // ------------------------------------------------------------ loading

    pub fn load_tenant(&mut self, tenant_id: &str, rules: TenantRules) {
        self.tenants.insert(tenant_id.to_string(), rules);
    }

    /// Adds a stored voucher. A voucher loaded twice keeps its first version.
    pub fn load_voucher(&mut self, voucher: Voucher) {
        if self.vouchers.contains_key(&voucher.pk) {
            return;
        }
        self.voucher_by_id
            .insert(scoped(&voucher.tenant_id, &voucher.id), voucher.pk);
        self.voucher_by_code
            .insert(scoped(&voucher.tenant_id, &voucher.code), voucher.pk);
        self.loaded_remaining
            .insert(voucher.pk, voucher.remaining_minor);
        self.vouchers.insert(voucher.pk, voucher);
    }

    /// Adds a stored hold. The store loads every live hold of every voucher it loads, and
    /// the holds the commands name. A hold loaded twice keeps its first version.
    pub fn load_hold(&mut self, hold: Hold) {
        if !self.hold_by_key.contains_key(&hold.key) {
            self.insert_hold(hold);
        }
    }

    /// Adds a stored entry (with its refunded sum, for a charge). An entry loaded twice keeps
    /// its first version.
    pub fn load_entry(&mut self, entry: Entry) {
        if !self.entry_by_key.contains_key(&entry.key) {
            self.insert_entry(entry);
        }
    }

    /// Adds a stored Front Payment reservation.
    pub fn load_front_reservation(&mut self, reservation: FrontReservation) {
        self.front.load_reservation(reservation);
    }

    /// Adds a stored line of a loaded reservation.
    pub fn load_front_line(&mut self, line: FrontLine) {
        self.front.load_line(line);
    }

    /// Adds a stored posting of a loaded reservation, with its lines.
    pub fn load_front_posting(&mut self, posting: FrontPosting) {
        self.front.load_posting(posting);
    }

    /// Adds a stored bleepay voucher code.
    pub fn load_bleepay_code(&mut self, code: BleepayCode) {
        self.bleepay.load_code(code);
    }

    /// Adds a voucher bound to a bleepay context, at its position in the payer's order.
    pub fn load_bleepay_binding(&mut self, context_pk: i64, position: i64, voucher_pk: i64) {
        self.bleepay.load_binding(context_pk, position, voucher_pk);
    }

    // ------------------------------------------------------------ reading

    pub fn tenant(&self, tenant_id: &str) -> Option<TenantRules> {
        self.tenants.get(tenant_id).copied()
    }

    pub fn voucher(&self, pk: i64) -> Option<&Voucher> {
        self.vouchers.get(&pk).filter(|v| v.deleted_at.is_none())
    }

    pub fn voucher_by_id(&self, tenant_id: &str, id: &str) -> Option<&Voucher> {
        let pk = self.voucher_by_id.get(&scoped(tenant_id, id))?;
        self.voucher(*pk)
    }

    pub fn voucher_by_code(&self, tenant_id: &str, code: &str) -> Option<&Voucher> {
        let pk = self.voucher_by_code.get(&scoped(tenant_id, code))?;
        self.voucher(*pk)
    }

    /// The hold with this id in the tenant, by its index.
    pub fn hold_index(&self, tenant_id: &str, id: &str) -> Option<usize> {
        self.hold_by_id.get(&scoped(tenant_id, id)).copied()
    }

    /// The hold with this key, by its index.
    pub fn hold_index_by_key(&self, key: RowKey) -> Option<usize> {
        self.hold_by_key.get(&key).copied()
    }

    /// How many holds the batch knows; their indexes run from 0.
    pub fn hold_count(&self) -> usize {
        self.holds.len()
    }

    pub fn hold(&self, index: usize) -> &Hold {
        &self.holds[index]
    }

    /// The indexes of a voucher's holds that the batch knows (all its live ones among them).
    pub fn holds_of(&self, voucher_pk: i64) -> &[usize] {
        self.holds_of_voucher
            .get(&voucher_pk)
            .map_or(&[], Vec::as_slice)
    }

    /// The money held on a voucher at `now`.
    pub fn held_minor(&self, voucher_pk: i64, now: OffsetDateTime) -> i64 {
        self.holds_of(voucher_pk)
            .iter()
            .map(|&i| &self.holds[i])
            .filter(|h| h.is_live_at(now))
            .map(|h| h.amount_minor)
            .sum()
    }

    pub fn entry_index(&self, tenant_id: &str, id: &str) -> Option<usize> {
        self.entry_by_id.get(&scoped(tenant_id, id)).copied()
    }

    pub fn entry_by_key(&self, key: RowKey) -> Option<&Entry> {
        self.entry_by_key.get(&key).map(|&i| &self.entries[i])
    }

    pub fn entry(&self, index: usize) -> &Entry {
        &self.entries[index]
    }

    /// The Front Payment reservations, lines and postings the batch knows.
    pub fn front(&self) -> &FrontBook {
        &self.front
    }

    /// The bleepay voucher codes and bindings the batch knows.
    pub fn bleepay(&self) -> &BleepayBook {
        &self.bleepay
    }

    // ------------------------------------------------------------ changing

    /// Changes a voucher; the change is written with the batch.
    pub(super) fn change_voucher(&mut self, pk: i64, change: impl FnOnce(&mut Voucher)) {
        let Some(voucher) = self.vouchers.get_mut(&pk) else {
            return;
        };
        let (status, deleted) = (voucher.status, voucher.deleted_at.is_some());
        change(voucher);
        let draft = if !deleted && voucher.deleted_at.is_some() {
            Some((events::VOUCHER_DELETED, String::new()))
        } else if status != voucher.status {
            let to = voucher.status.as_str();
            let changed = json!({ "from": status.as_str(), "to": to });
            Some((events::VOUCHER_STATUS_CHANGED, events::members(&changed)))
        } else {
            None
        };
        self.changed_vouchers.insert(pk);
        self.changes += 1;
        if let Some((kind, data)) = draft {
            self.draft(kind, Some(pk), data);
        }
    }

    /// Changes a hold; the change is written with the batch. A live hold that ends other than
    /// by a charge (which its charge's event tells) is an event.
    pub(super) fn change_hold(&mut self, index: usize, change: impl FnOnce(&mut Hold)) {
        let before = self.holds[index].state;
        change(&mut self.holds[index]);
        self.changed_holds.insert(index);
        self.changes += 1;
        let hold = &self.holds[index];
        let draft = match (before, hold.state) {
            (HoldState::Live, HoldState::Released) => Some((events::HOLD_RELEASED, "released")),
            (HoldState::Live, HoldState::Superseded) => Some((events::HOLD_RELEASED, "superseded")),
            (HoldState::Live, HoldState::Expired) => Some((events::HOLD_EXPIRED, "expired")),
            _ => None,
        };
        if let Some((kind, reason)) = draft {
            let fields = events::members(&HoldEvent {
                hold: HoldFields::of(hold),
                reason: Some(reason),
            });
            let pk = hold.voucher_pk;
            self.draft(kind, Some(pk), fields);
        }
    }

    fn draft(&mut self, kind: &'static str, voucher_pk: Option<i64>, fields: String) {
        self.drafts.push(Draft {
            kind,
            voucher_pk,
            fields,
        });
    }

    /// The key the next new hold gets.
    pub(super) fn next_hold_key(&self) -> RowKey {
        RowKey::New(self.new_holds)
    }

    /// The key the next new entry gets.
    pub(super) fn next_entry_key(&self) -> RowKey {
        RowKey::New(self.new_entries)
    }

    /// Adds a hold made by the batch (its key from [`Self::next_hold_key`]).
    pub(super) fn add_hold(&mut self, hold: Hold) -> usize {
        debug_assert_eq!(hold.key, self.next_hold_key());
        self.new_holds += 1;
        self.changes += 1;
        let placed = events::members(&HoldEvent {
            hold: HoldFields::of(&hold),
            reason: None,
        });
        let pk = hold.voucher_pk;
        let index = self.insert_hold(hold);
        self.changed_holds.insert(index);
        self.draft(events::HOLD_PLACED, Some(pk), placed);
        index
    }

    /// Adds an entry made by the batch (its key from [`Self::next_entry_key`]); a refund
    /// adds to its charge's refunded sum.
    pub(super) fn add_entry(&mut self, entry: Entry) -> usize {
        debug_assert_eq!(entry.key, self.next_entry_key());
        self.new_entries += 1;
        self.changes += 1;
        if let Some((charge_key, _)) = &entry.refund_of
            && let Some(&charge) = self.entry_by_key.get(charge_key)
        {
            self.entries[charge].refunded_minor += entry.amount_minor;
        }
        let amount = Amount::of(entry.amount_minor, entry.currency);
        let (id, order_number) = (entry.id.as_str(), entry.order_number.as_deref());
        let draft = match entry.kind {
            EntryKind::Charge => {
                let hold_id = entry
                    .hold
                    .and_then(|key| self.hold_by_key.get(&key))
                    .map(|&i| self.holds[i].id.as_str());
                let charge = EntryEvent::Charge {
                    id,
                    amount,
                    order_number,
                    hold_id,
                };
                Some((events::CHARGE_CREATED, events::members(&charge)))
            }
            EntryKind::Refund => {
                let charge_id = entry.refund_of.as_ref().map(|(_, id)| id.as_str());
                let refund = EntryEvent::Refund {
                    id,
                    amount,
                    charge_id,
                };
                Some((events::REFUND_CREATED, events::members(&refund)))
            }
            EntryKind::Recharge => {
                let recharge = EntryEvent::Recharge {
                    id,
                    amount,
                    order_number,
                };
                Some((events::VOUCHER_RECHARGED, events::members(&recharge)))
            }
            EntryKind::Issue => None,
        };
        let pk = entry.voucher_pk;
        let index = self.insert_entry(entry);
        if let Some((kind, data)) = draft {
            self.draft(kind, Some(pk), data);
        }
        index
    }

    /// Changes the Front Payment book; the changes are written with the batch.
    pub(super) fn front_mut(&mut self) -> &mut FrontBook {
        &mut self.front
    }

    /// Changes the bleepay book; the changes are written with the batch.
    pub(super) fn bleepay_mut(&mut self) -> &mut BleepayBook {
        &mut self.bleepay
    }

    /// Turns the events of the command just decided into the batch's events, each with the
    /// voucher's figures after the command: its money events first, then the status changes
    /// of Front Payment reservations and bleepay codes. `face` is the face the command came
    /// through. Refused commands have no events (they change nothing).
    pub fn seal_events(&mut self, origin: &Origin, face: &'static str) {
        for index in self.front.take_status_changes() {
            let r = self.front.reservation(index);
            let Some(kind) = events::front_reservation_type(r.status) else {
                continue;
            };
            let currency = r
                .first_voucher_pk()
                .and_then(|pk| self.vouchers.get(&pk))
                .map(|v| v.currency);
            let mut reservation = json!({ "id": r.id, "status": r.status.as_str() });
            if let Some(currency) = currency {
                reservation["captured"] = money(r.captured_minor, currency);
                reservation["charged"] = money(r.charged_minor, currency);
                let refunded = r.refunded_captured_minor + r.refunded_charged_minor;
                reservation["refunded"] = money(refunded, currency);
            }
            let pk = r.first_voucher_pk();
            self.draft(
                kind,
                pk,
                events::members(&json!({ "reservation": reservation })),
            );
        }
        for index in self.bleepay.take_status_changes() {
            let c = self.bleepay.code(index);
            let mut code = json!({ "id": c.id, "context_id": c.context_id,
                "status": c.status.as_str() });
            if let (Some(amount), Some(currency)) = (c.amount_minor, c.currency) {
                code["amount"] = money(amount, currency);
            }
            let (kind, pk) = (events::bleepay_code_type(c.status), c.voucher_pk);
            self.draft(kind, pk, events::members(&json!({ "code": code })));
        }
        for draft in std::mem::take(&mut self.drafts) {
            let voucher = draft.voucher_pk.and_then(|pk| self.vouchers.get(&pk));
            let figures = voucher.map(|v| VoucherAfter {
                id: &v.id,
                code: &v.code,
                status: v.status,
                currency: v.currency,
                balance_minor: v.remaining_minor,
                held_minor: self.held_minor(v.pk, origin.now),
            });
            let event = LedgerEvent {
                // The voucher's tenant: the sweeper's expiries span tenants.
                tenant_id: voucher
                    .map_or_else(|| origin.tenant_id.clone(), |v| v.tenant_id.clone()),
                kind: draft.kind,
                at: origin.now,
                face,
                actor_kind: origin.actor_kind,
                actor_id: origin.actor_id.clone(),
                request_id: origin.request_id.clone(),
                voucher_id: voucher.map(|v| v.id.clone()),
                data: events::data(&draft.fields, figures.as_ref()),
            };
            self.events.push(event);
        }
    }

    pub(super) fn add_audit(&mut self, record: AuditRecord) {
        self.audit.push(record);
        self.changes += 1;
    }

    /// How many changes the batch has made so far.
    pub fn changes(&self) -> u64 {
        self.changes + self.front.changes + self.bleepay.changes
    }

    /// Checks, after an accepted command, what must hold of every voucher the batch changed:
    /// 0 <= held <= remaining <= the balance limit, and the remaining balance moved from its
    /// loaded value by exactly the signed sum of the entries the batch wrote on it.
    pub fn assert_balances(&self, now: OffsetDateTime) {
        for pk in &self.changed_vouchers {
            let voucher = &self.vouchers[pk];
            let held = self.held_minor(*pk, now);
            assert!(
                0 <= held && held <= voucher.remaining_minor,
                "voucher {}: held {held}, remaining {}",
                voucher.id,
                voucher.remaining_minor
            );
            assert!(
                voucher.remaining_minor <= crate::BALANCE_MINOR_MAX,
                "voucher {}: remaining {} is over the balance limit",
                voucher.id,
                voucher.remaining_minor
            );
            let moved: i64 = self
                .entries
                .iter()
                .filter(|e| e.voucher_pk == *pk && matches!(e.key, RowKey::New(_)))
                .filter(|e| e.kind != EntryKind::Issue)
                .map(|e| e.kind.balance_sign() * e.amount_minor)
                .sum();
            assert_eq!(
                voucher.remaining_minor,
                self.loaded_remaining[pk] + moved,
                "voucher {}: the balance moved by other than its entries",
                voucher.id
            );
        }
    }

    fn insert_hold(&mut self, hold: Hold) -> usize {
        let index = self.holds.len();
        self.hold_by_key.insert(hold.key, index);
        self.hold_by_id
            .insert(scoped(&hold.tenant_id, &hold.id), index);
        self.holds_of_voucher
            .entry(hold.voucher_pk)
            .or_default()
            .push(index);
        self.holds.push(hold);
        index
    }

    fn insert_entry(&mut self, entry: Entry) -> usize {
        let index = self.entries.len();
        self.entry_by_key.insert(entry.key, index);
        self.entry_by_id
            .insert(scoped(&entry.tenant_id, &entry.id), index);
        self.entries.push(entry);
        index
    }

    // ------------------------------------------------------------ the write set

    /// Everything the batch changed, to be written in one transaction: each changed row once,
    /// in its final state.
    pub fn write_set(&self) -> WriteSet {
        let mut set = WriteSet::default();
        for &index in &self.changed_holds {
            let hold = &self.holds[index];
            match hold.key {
                RowKey::New(_) => set.new_holds.push(hold.clone()),
                RowKey::Stored(_) => set.changed_holds.push(hold.clone()),
            }
        }
        set.new_holds.sort_by_key(|h| h.key);
        set.new_entries = self
            .entries
            .iter()
            .filter(|e| matches!(e.key, RowKey::New(_)))
            .cloned()
            .collect();
        set.changed_vouchers = self
            .changed_vouchers
            .iter()
            .filter_map(|pk| self.vouchers.get(pk).cloned())
            .collect();
        set.audit = self.audit.clone();
        set.front = self.front.writes();
        set.bleepay = self.bleepay.writes();
        set
    }

    /// Hands over the batch's events (for the store to number and write after the write set);
    /// the ledger keeps none.
    pub fn take_events(&mut self) -> Vec<LedgerEvent> {
        std::mem::take(&mut self.events)
    }
}

/// The rows a batch writes: new holds and entries (in key order), the final state of every
/// stored hold and voucher it changed, its audit records, and its Front Payment and bleepay
/// rows. Its events come separately ([`Ledger::take_events`]).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct WriteSet {
    pub new_holds: Vec<Hold>,
    pub changed_holds: Vec<Hold>,
    pub new_entries: Vec<Entry>,
    pub changed_vouchers: Vec<Voucher>,
    pub audit: Vec<AuditRecord>,
    pub front: FrontWrites,
    pub bleepay: BleepayWrites,
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    /// The typed fields write exactly the text the events documented in docs/events.md have:
    /// the same keys in the same order, `null` for what is missing.
    #[test]
    fn typed_event_fields_write_the_documented_objects() {
        let eur = Currency::parse("EUR").expect("EUR");
        let hold = Hold {
            key: RowKey::New(0),
            tenant_id: "default".into(),
            id: "H-\"1\"".into(),
            voucher_pk: 7,
            client_id: None,
            purpose: PURPOSE_RESERVATION.into(),
            amount_minor: 1_250,
            currency: eur,
            state: HoldState::Live,
            expires_at: datetime!(2026-12-07 10:15:00.123456 UTC),
            charge: None,
            created_at: datetime!(2026-12-07 10:00 UTC),
            updated_at: datetime!(2026-12-07 10:00 UTC),
        };
        let hold_json = json!({
            "id": "H-\"1\"",
            "purpose": "reservation",
            "amount": money(1_250, eur),
            "expires_at": events::timestamp(hold.expires_at),
        });
        let placed = HoldEvent {
            hold: HoldFields::of(&hold),
            reason: None,
        };
        assert_eq!(
            events::members(&placed),
            events::members(&json!({ "hold": hold_json }))
        );
        let released = HoldEvent {
            hold: HoldFields::of(&hold),
            reason: Some("superseded"),
        };
        assert_eq!(
            events::members(&released),
            events::members(&json!({ "hold": hold_json, "reason": "superseded" }))
        );
        let amount = || Amount::of(500, eur);
        let cases = [
            (
                EntryEvent::Charge {
                    id: "C1",
                    amount: amount(),
                    order_number: Some("O-1"),
                    hold_id: Some("H1"),
                },
                json!({ "charge": { "id": "C1", "amount": money(500, eur),
                    "order_number": "O-1", "hold_id": "H1" } }),
            ),
            (
                EntryEvent::Refund {
                    id: "R1",
                    amount: amount(),
                    charge_id: None,
                },
                json!({ "refund": { "id": "R1", "amount": money(500, eur), "charge_id": null } }),
            ),
            (
                EntryEvent::Recharge {
                    id: "RC1",
                    amount: amount(),
                    order_number: None,
                },
                json!({ "recharge": { "id": "RC1", "amount": money(500, eur),
                    "order_number": null } }),
            ),
        ];
        for (typed, documented) in cases {
            assert_eq!(events::members(&typed), events::members(&documented));
        }
    }
}
