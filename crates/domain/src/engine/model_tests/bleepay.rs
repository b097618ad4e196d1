//! bleepay in the model test: the contexts, bindings and voucher codes the "database" keeps
//! (what the store loads for a batch, and how it writes the write set back), a plain second
//! implementation of redeem, resolve and discard over the model's holds and entries, the random
//! codes and commands, and the comparison of every code after each batch. When a code may move
//! from one status to the next is the domain's `bleepay::decide_*` (tested on its own); the
//! model checks what the engine makes of it with the money.

use std::collections::BTreeMap;

use rand::Rng;
use time::{Duration, OffsetDateTime};

use super::{Database, Expected, MEntry, MHold, Model, Sequence, TENANTS, stored};
use crate::bleepay::{self as rules, BleepayCaller, BleepayRefusal, CodeStatus};
use crate::engine::{BleepayCode, BleepayWrites, Command, Ledger, Origin, RowKey};
use crate::{Currency, DomainError, EntryKind, HoldState};

/// A context: a payer's vouchers, in the payer's order, for a payee to draw on.
struct Context {
    pk: i64,
    tenant: String,
    id: String,
    payer: String,
    /// Voucher keys (database) and indexes (model), in order.
    vouchers: Vec<(i64, usize)>,
}

#[derive(Default)]
pub(super) struct Rows {
    contexts: Vec<Context>,
    codes: BTreeMap<i64, BleepayCode>,
    freed: usize,
}

impl Rows {
    /// Loads the code a command names and its context's bindings, as the store does; answers
    /// the keys of the vouchers the store locks and loads with it.
    pub(super) fn load(&self, ledger: &mut Ledger, tenant: &str, command: &Command) -> Vec<i64> {
        let (Command::BleepayRedeem { code_id, .. }
        | Command::BleepayResolve { code_id, .. }
        | Command::BleepayDiscard { code_id, .. }) = command
        else {
            return Vec::new();
        };
        let Some(code) = self
            .codes
            .values()
            .find(|c| c.tenant_id == tenant && &c.id == code_id)
        else {
            return Vec::new();
        };
        ledger.load_bleepay_code(code.clone());
        let mut vouchers: Vec<i64> = code.voucher_pk.into_iter().collect();
        let context = self
            .contexts
            .iter()
            .find(|c| c.pk == code.context_pk)
            .expect("context");
        for (position, (pk, _)) in context.vouchers.iter().enumerate() {
            ledger.load_bleepay_binding(context.pk, position as i64, *pk);
            vouchers.push(*pk);
        }
        vouchers
    }
}

impl Database {
    /// Writes a batch's bleepay rows: changed codes are replaced, freed codes counted.
    pub(super) fn persist_bleepay(
        &mut self,
        writes: BleepayWrites,
        hold_key: &dyn Fn(RowKey) -> RowKey,
        entry_key: &dyn Fn(RowKey) -> RowKey,
    ) {
        for code in writes.changed_codes {
            let code = BleepayCode {
                hold: code.hold.map(hold_key),
                charge: code.charge.map(|(k, id)| (entry_key(k), id)),
                ..code
            };
            self.bleepay.codes.insert(code.pk, code);
        }
        self.bleepay.freed += writes.freed_codes.len();
    }
}

// ---------------------------------------------------------------- the reference model

struct MCode {
    tenant: String,
    id: String,
    /// Index into the database's contexts (fixed once made).
    context: usize,
    reserved_by: Option<String>,
    status: CodeStatus,
    expires_at: OffsetDateTime,
    amount: Option<i64>,
    voucher: Option<usize>,
    hold: Option<usize>,
    charge: Option<usize>,
}

#[derive(Default)]
pub(super) struct BleepayModel {
    codes: Vec<MCode>,
    /// Each context's tenant, id, payer and vouchers (model indexes), in order.
    contexts: Vec<(String, String, String, Vec<usize>)>,
    freed: usize,
}

fn no(refusal: BleepayRefusal) -> DomainError {
    DomainError::Bleepay(refusal)
}

impl Model {
    /// The code a caller may act on.
    fn bleepay_code(
        &self,
        tenant: &str,
        id: &str,
        caller: &BleepayCaller,
    ) -> Result<usize, DomainError> {
        let b = &self.bleepay;
        b.codes
            .iter()
            .position(|c| {
                let (_, context_id, payer, _) = &b.contexts[c.context];
                c.tenant == tenant
                    && c.id == id
                    && caller.sees(context_id, payer, c.reserved_by.as_deref())
            })
            .ok_or(no(BleepayRefusal::NotFound))
    }

    fn snapshot(&self, c: usize) -> rules::CodeSnapshot {
        let code = &self.bleepay.codes[c];
        rules::CodeSnapshot {
            status: code.status,
            expires_at: code.expires_at,
        }
    }

    pub(super) fn run_bleepay(
        &mut self,
        origin: &Origin,
        command: &Command,
        new_id: Option<&str>,
    ) -> Result<Expected, DomainError> {
        let (t, now) = (origin.tenant_id.as_str(), origin.now);
        let id = || new_id.expect("the engine named what it made").to_string();
        match command {
            Command::BleepayRedeem {
                caller,
                code_id,
                amount_minor,
                currency,
            } => {
                let c = self.bleepay_code(t, code_id, caller)?;
                rules::decide_redeem(&self.snapshot(c), now).map_err(no)?;
                let bound = self.bleepay.contexts[self.bleepay.codes[c].context]
                    .3
                    .clone();
                let v = bound
                    .into_iter()
                    .find(|&v| {
                        !self.vouchers[v].deleted
                            && self.usable(v, now).is_ok()
                            && self.vouchers[v].currency == *currency
                            && *amount_minor <= self.remaining(v) - self.held(v, now)
                    })
                    .ok_or(no(BleepayRefusal::InsufficientFunds))?;
                let expires_at = self.bleepay.codes[c].expires_at;
                self.holds.push(MHold {
                    jtl: false,
                    tenant: t.into(),
                    id: id(),
                    voucher: v,
                    amount: *amount_minor,
                    state: HoldState::Live,
                    expires_at,
                    charge: None,
                });
                let code = &mut self.bleepay.codes[c];
                code.status = CodeStatus::Redeemed;
                code.amount = Some(*amount_minor);
                code.voucher = Some(v);
                code.hold = Some(self.holds.len() - 1);
                Ok(Expected::BleepayCode {
                    status: CodeStatus::Redeemed,
                })
            }
            Command::BleepayResolve { payer_id, code_id } => {
                let caller = BleepayCaller::Payer(payer_id.clone());
                let c = self.bleepay_code(t, code_id, &caller)?;
                if &self.bleepay.contexts[self.bleepay.codes[c].context].2 != payer_id {
                    return Err(no(BleepayRefusal::NotFound));
                }
                rules::decide_resolve(&self.snapshot(c), now).map_err(no)?;
                let code = &self.bleepay.codes[c];
                let v = code
                    .voucher
                    .filter(|&v| !self.vouchers[v].deleted)
                    .ok_or(DomainError::VoucherNotFound)?;
                self.usable(v, now)?;
                let h = code
                    .hold
                    .filter(|&h| {
                        let hold = &self.holds[h];
                        hold.state == HoldState::Live && hold.expires_at > now
                    })
                    .ok_or(DomainError::ReservationExpired)?;
                let amount = self.holds[h].amount;
                assert!(amount <= self.remaining(v));
                self.entries.push(MEntry {
                    tenant: t.into(),
                    id: id(),
                    voucher: v,
                    kind: EntryKind::Charge,
                    amount,
                    order_number: Some(code_id.clone()),
                    refund_of: None,
                });
                self.holds[h].state = HoldState::Charged;
                self.holds[h].charge = Some(self.entries.len() - 1);
                let code = &mut self.bleepay.codes[c];
                code.status = CodeStatus::Resolved;
                code.charge = Some(self.entries.len() - 1);
                self.bleepay.freed += 1;
                Ok(Expected::BleepayCode {
                    status: CodeStatus::Resolved,
                })
            }
            Command::BleepayDiscard { caller, code_id } => {
                let c = self.bleepay_code(t, code_id, caller)?;
                rules::decide_discard(&self.snapshot(c), now).map_err(no)?;
                let code = &self.bleepay.codes[c];
                let live_voucher = code.voucher.is_some_and(|v| !self.vouchers[v].deleted);
                if let Some(h) = code.hold.filter(|_| live_voucher) {
                    self.end_hold(h, HoldState::Released, now);
                }
                self.bleepay.codes[c].status = CodeStatus::Discarded;
                self.bleepay.freed += 1;
                Ok(Expected::BleepayCode {
                    status: CodeStatus::Discarded,
                })
            }
            _ => unreachable!("not a bleepay command"),
        }
    }
}

// ---------------------------------------------------------------- random codes and commands

impl Sequence {
    /// A payer opens a context over one to three vouchers of its tenant (any state).
    pub(super) fn open_context(&mut self) {
        let n = self.db.bleepay.contexts.len();
        let tenant = TENANTS[self.rng.random_range(0..2)].0.to_string();
        let own: Vec<usize> = (0..self.model.vouchers.len())
            .filter(|&v| self.model.vouchers[v].tenant == tenant)
            .collect();
        if own.is_empty() {
            return;
        }
        let mut vouchers: Vec<(i64, usize)> = Vec::new();
        for _ in 0..self.rng.random_range(1..4) {
            let v = own[self.rng.random_range(0..own.len())];
            let pk = self
                .db
                .vouchers
                .values()
                .find(|x| x.id == self.model.vouchers[v].id)
                .expect("voucher")
                .pk;
            if !vouchers.iter().any(|(p, _)| *p == pk) {
                vouchers.push((pk, v));
            }
        }
        let (id, payer) = (format!("ctx{n}"), format!("P{}", n % 3));
        self.model.bleepay.contexts.push((
            tenant.clone(),
            id.clone(),
            payer.clone(),
            vouchers.iter().map(|(_, v)| *v).collect(),
        ));
        let pk = self.db.pk();
        self.db.bleepay.contexts.push(Context {
            pk,
            tenant,
            id,
            payer,
            vouchers,
        });
    }

    /// A payee reserves a code in a context (outside the engine, as the store does); now and
    /// then a context is opened first.
    pub(super) fn reserve_code(&mut self) {
        if self.db.bleepay.contexts.is_empty() || self.rng.random_range(0..5) == 0 {
            self.open_context();
        }
        let count = self.db.bleepay.contexts.len();
        if count == 0 {
            return;
        }
        let context = self.rng.random_range(0..count);
        let n = self.model.bleepay.codes.len();
        let (tenant, context_id, payer) = {
            let c = &self.db.bleepay.contexts[context];
            (c.tenant.clone(), c.id.clone(), c.payer.clone())
        };
        let reserved_by = self
            .rng
            .random_bool(0.3)
            .then(|| format!("P{}", self.rng.random_range(0..3)));
        let expires_at = self.now + Duration::minutes(self.rng.random_range(5..240));
        let pk = self.db.pk();
        self.db.bleepay.codes.insert(
            pk,
            BleepayCode {
                pk,
                tenant_id: tenant.clone(),
                id: format!("vch{n}"),
                code: format!("{n:06}"),
                context_pk: self.db.bleepay.contexts[context].pk,
                context_id,
                payer_id: payer,
                reserved_by: reserved_by.clone(),
                status: CodeStatus::Reserved,
                expires_at,
                currency: None,
                amount_minor: None,
                voucher_pk: None,
                hold: None,
                charge: None,
                updated_at: self.now,
            },
        );
        self.model.bleepay.codes.push(MCode {
            tenant,
            id: format!("vch{n}"),
            context,
            reserved_by,
            status: CodeStatus::Reserved,
            expires_at,
            amount: None,
            voucher: None,
            hold: None,
            charge: None,
        });
    }

    /// A caller: mostly the code's own payee or payer, now and then another.
    fn caller_for(&mut self, code: Option<&BleepayCode>) -> BleepayCaller {
        match (code, self.rng.random_range(0..10)) {
            (Some(c), 0..5) => BleepayCaller::Payee {
                context_id: c.context_id.clone(),
            },
            (Some(c), 5..8) => BleepayCaller::Payer(c.payer_id.clone()),
            (Some(_), 8) => BleepayCaller::Payee {
                context_id: "ctx-other".into(),
            },
            _ => BleepayCaller::Payer(format!("P{}", self.rng.random_range(0..3))),
        }
    }

    pub(super) fn bleepay_command(&mut self, origin: &Origin) -> Command {
        let own: Vec<BleepayCode> = self
            .db
            .bleepay
            .codes
            .values()
            .rev()
            .filter(|c| c.tenant_id == origin.tenant_id || self.rng.random_range(0..10) == 0)
            .take(4)
            .cloned()
            .collect();
        let code = (!own.is_empty() && self.rng.random_range(0..20) != 0)
            .then(|| own[self.rng.random_range(0..own.len())].clone());
        let code_id = code
            .as_ref()
            .map_or_else(|| "vch-unknown".to_string(), |c| c.id.clone());
        match self.rng.random_range(0..10) {
            0..5 => Command::BleepayRedeem {
                caller: self.caller_for(code.as_ref()),
                code_id,
                amount_minor: self.amount(),
                currency: if self.rng.random_range(0..10) == 0 {
                    Currency::parse("SEK").expect("SEK")
                } else {
                    Currency::parse("EUR").expect("EUR")
                },
            },
            5..8 => Command::BleepayResolve {
                payer_id: match (&code, self.rng.random_range(0..6)) {
                    (Some(c), 1..6) => c.payer_id.clone(),
                    _ => format!("P{}", self.rng.random_range(0..3)),
                },
                code_id,
            },
            _ => Command::BleepayDiscard {
                caller: self.caller_for(code.as_ref()),
                code_id,
            },
        }
    }

    /// The database's codes agree with the model's.
    pub(super) fn compare_bleepay(&self) {
        let model = &self.model.bleepay;
        assert_eq!(self.db.bleepay.codes.len(), model.codes.len());
        for m in &model.codes {
            let c = self
                .db
                .bleepay
                .codes
                .values()
                .find(|c| c.tenant_id == m.tenant && c.id == m.id)
                .expect("code");
            assert_eq!(c.status, m.status, "{}", m.id);
            assert_eq!(c.amount_minor, m.amount, "{}", m.id);
            let voucher = c.voucher_pk.map(|pk| self.db.vouchers[&pk].id.clone());
            assert_eq!(
                voucher,
                m.voucher.map(|v| self.model.vouchers[v].id.clone())
            );
            let hold = c.hold.map(|k| self.db.holds[&stored(k)].id.clone());
            assert_eq!(hold, m.hold.map(|h| self.model.holds[h].id.clone()));
            let charge = c.charge.as_ref().map(|(_, id)| id.clone());
            assert_eq!(charge, m.charge.map(|e| self.model.entries[e].id.clone()));
            assert_eq!(c.context_id, model.contexts[m.context].1);
        }
        assert_eq!(self.db.bleepay.freed, model.freed);
    }
}
