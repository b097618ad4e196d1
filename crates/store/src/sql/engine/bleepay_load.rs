//! Loads the bleepay rows an engine batch names, after its vouchers are locked: the voucher
//! codes (locked in key order on PostgreSQL, so each is changed by one batch at a time) and the
//! vouchers bound to their contexts. Two statements, whatever the batch's size.

use std::collections::HashMap;

use voucherd_domain::engine::{BleepayCode, Ledger, RowKey};

use super::super::bleepay_reads::{self, CODE_COLUMNS_FROM};
use super::super::sets::{in_ints, in_text_tuples, key_in_locked};
use super::super::{Dialect, SqlExec, Value};
use crate::StoreError;
use crate::bleepay::CodeView;

/// Each loaded code's view, by key.
pub(super) type Views = HashMap<i64, CodeView>;

/// What loading the codes found besides the ledger's rows.
pub(super) struct Found {
    pub(super) views: Views,
    /// The vouchers the codes hold on or paid with.
    pub(super) held_on: Vec<i64>,
    pub(super) contexts: Vec<i64>,
}

/// Reads and (on PostgreSQL) locks the named codes.
pub(super) async fn codes<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    names: [Value; 2],
    ledger: &mut Ledger,
) -> Result<Found, StoreError> {
    let lock = match dialect {
        Dialect::Postgres => " FOR UPDATE OF b",
        Dialect::Sqlite => "",
    };
    let sql = format!(
        "{CODE_COLUMNS_FROM} WHERE {} ORDER BY b.pk{lock}",
        key_in_locked(
            dialect,
            "b.pk",
            &format!(
                "SELECT pk FROM bleepay_vouchers WHERE {}",
                in_text_tuples(dialect, &["tenant_id", "id"], 1)
            )
        )
    );
    let mut found = Found {
        views: HashMap::new(),
        held_on: Vec::new(),
        contexts: Vec::new(),
    };
    for row in tx.fetch(&sql, names.to_vec()).await? {
        let record = bleepay_reads::code_row(&row)?;
        found.held_on.extend(record.voucher_pk);
        found.contexts.push(record.context_pk);
        let view = &record.view;
        ledger.load_bleepay_code(BleepayCode {
            pk: record.pk,
            tenant_id: record.tenant_id.clone(),
            id: view.id.clone(),
            code: view.code.clone(),
            context_pk: record.context_pk,
            context_id: view.context_id.clone(),
            payer_id: view.payer_id.clone(),
            reserved_by: view.reserved_by.clone(),
            status: view.status,
            expires_at: view.expires_at,
            currency: view.currency,
            amount_minor: view.amount_minor,
            voucher_pk: record.voucher_pk,
            hold: record.hold_pk.map(RowKey::Stored),
            charge: record
                .entry_pk
                .zip(view.charge_id.clone())
                .map(|(pk, id)| (RowKey::Stored(pk), id)),
            updated_at: view.updated_at,
        });
        found.views.insert(record.pk, record.view);
    }
    Ok(found)
}

/// The vouchers bound to the contexts of `context_pks`, with their positions.
pub(super) async fn bindings<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    context_pks: Vec<Option<i64>>,
    ledger: &mut Ledger,
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT context_pk, position, voucher_pk FROM bleepay_bindings WHERE {}",
        in_ints(dialect, "context_pk", 1)
    );
    for row in tx.fetch(&sql, vec![Value::Ints(context_pks)]).await? {
        let mut r = row.reader();
        ledger.load_bleepay_binding(r.int()?, r.int()?, r.int()?);
    }
    Ok(())
}
