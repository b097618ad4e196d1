//! The bleepay part of a batch's ledger: the voucher codes the batch names, the vouchers bound
//! to their contexts (in the payer's order), every change the batch made to a code, and the
//! codes it gave back to the pool. The money stays in holds and entries ([`super::state`]).

use std::collections::{BTreeSet, HashMap};

use time::OffsetDateTime;

use super::state::RowKey;
use crate::Currency;
use crate::bleepay::{BleepayCaller, CodeSnapshot, CodeStatus};

/// A bleepay voucher code as the engine sees it. Codes are reserved outside the engine, so
/// every one has a stored key.
#[derive(Debug, Clone, PartialEq)]
pub struct BleepayCode {
    pub pk: i64,
    pub tenant_id: String,
    pub id: String,
    /// The six digits, claimed in the code pool until the code ends.
    pub code: String,
    pub context_pk: i64,
    pub context_id: String,
    /// The payer who opened the context (the one who resolves).
    pub payer_id: String,
    /// The payer account that reserved it as a payee.
    pub reserved_by: Option<String>,
    /// As stored; an open code past `expires_at` reads discarded.
    pub status: CodeStatus,
    pub expires_at: OffsetDateTime,
    pub currency: Option<Currency>,
    pub amount_minor: Option<i64>,
    /// The voucher holding or paying the amount, and the hold, once redeemed.
    pub voucher_pk: Option<i64>,
    pub hold: Option<RowKey>,
    /// The charge made when the payer resolved it.
    pub charge: Option<(RowKey, String)>,
    pub updated_at: OffsetDateTime,
}

impl BleepayCode {
    pub fn snapshot(&self) -> CodeSnapshot {
        CodeSnapshot {
            status: self.status,
            expires_at: self.expires_at,
        }
    }

    pub fn visible_to(&self, caller: &BleepayCaller) -> bool {
        caller.sees(
            &self.context_id,
            &self.payer_id,
            self.reserved_by.as_deref(),
        )
    }
}

/// A code given back to the pool at `at` by the voucher code that held it.
#[derive(Debug, Clone, PartialEq)]
pub struct FreedCode {
    pub tenant_id: String,
    pub code: String,
    pub holder_id: String,
    pub at: OffsetDateTime,
}

/// The bleepay rows a batch writes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BleepayWrites {
    pub changed_codes: Vec<BleepayCode>,
    pub freed_codes: Vec<FreedCode>,
}

type TenantScoped = (String, String);

/// The bleepay state of one batch.
#[derive(Debug, Default)]
pub struct BleepayBook {
    codes: Vec<BleepayCode>,
    code_by_id: HashMap<TenantScoped, usize>,
    /// Per context: (position, voucher key), the order the payer gave.
    bindings: HashMap<i64, Vec<(i64, i64)>>,
    changed_codes: BTreeSet<usize>,
    freed_codes: Vec<FreedCode>,
    /// Codes whose status the command being decided changed (for its events).
    status_changes: Vec<usize>,
    pub(super) changes: u64,
}

impl BleepayBook {
    /// A code loaded twice keeps its first version.
    pub(super) fn load_code(&mut self, code: BleepayCode) {
        let name = (code.tenant_id.clone(), code.id.clone());
        if !self.code_by_id.contains_key(&name) {
            self.code_by_id.insert(name, self.codes.len());
            self.codes.push(code);
        }
    }

    pub(super) fn load_binding(&mut self, context_pk: i64, position: i64, voucher_pk: i64) {
        let bound = self.bindings.entry(context_pk).or_default();
        if !bound.iter().any(|(_, pk)| *pk == voucher_pk) {
            bound.push((position, voucher_pk));
        }
    }

    pub fn code_index(&self, tenant_id: &str, id: &str) -> Option<usize> {
        self.code_by_id
            .get(&(tenant_id.to_string(), id.to_string()))
            .copied()
    }

    pub fn code(&self, index: usize) -> &BleepayCode {
        &self.codes[index]
    }

    /// The vouchers bound to a context, in the payer's order.
    pub fn bound(&self, context_pk: i64) -> Vec<i64> {
        let mut bound = self.bindings.get(&context_pk).cloned().unwrap_or_default();
        bound.sort_unstable();
        bound.into_iter().map(|(_, pk)| pk).collect()
    }

    pub(super) fn change_code(&mut self, index: usize, change: impl FnOnce(&mut BleepayCode)) {
        let before = self.codes[index].status;
        change(&mut self.codes[index]);
        self.changed_codes.insert(index);
        self.changes += 1;
        if self.codes[index].status != before {
            self.status_changes.push(index);
        }
    }

    /// The codes whose status changed since the last call, in order.
    pub(super) fn take_status_changes(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.status_changes)
    }

    /// Gives the code's six digits back to the pool.
    pub(super) fn free(&mut self, index: usize, at: OffsetDateTime) {
        let code = &self.codes[index];
        self.freed_codes.push(FreedCode {
            tenant_id: code.tenant_id.clone(),
            code: code.code.clone(),
            holder_id: code.id.clone(),
            at,
        });
        self.changes += 1;
    }

    pub(super) fn writes(&self) -> BleepayWrites {
        BleepayWrites {
            changed_codes: self
                .changed_codes
                .iter()
                .map(|&i| self.codes[i].clone())
                .collect(),
            freed_codes: self.freed_codes.clone(),
        }
    }
}
