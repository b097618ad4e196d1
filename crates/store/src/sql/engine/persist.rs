//! Writes an engine batch's write set. New holds and entries get their keys first (PostgreSQL
//! hands them out from blocks drawn from the tables' sequences, [`KeyBlocks`]; SQLite, which
//! has one writer, continues after the largest key, in one statement), so every row is
//! complete before it is written. Then one
//! statement per table: new holds, stored holds changed, new entries, vouchers changed, the
//! Front Payment and bleepay rows ([`front_persist`], [`bleepay_persist`]), audit records,
//! idempotency answers. On PostgreSQL those go as one statement (data-modifying
//! `WITH`s); on SQLite each table's rows run through one cached statement. Keys past their
//! lifetime that the batch used again are removed first, in a statement of their own.
//!
//! So a PostgreSQL batch of any size writes in at most three statements (the keys' only when
//! its node has none left); see
//! docs/benchmarks.md for the count of a whole batch.

use voucherd_domain::engine::{RowKey, WriteSet};

use super::super::ledger::writes::{self, Write};
use super::super::sets::{self, Column};
use super::super::{Dialect, SqlExec, Value};
use super::key_blocks::KeyBlocks;
use super::keys::{KEY_COLUMNS, Keys};
use super::{bleepay_persist, front_persist};
use crate::StoreError;

const HOLD_COLUMNS: [Column; 13] = [
    Column::Int("pk"),
    Column::Text("tenant_id"),
    Column::Text("id"),
    Column::Int("voucher_pk"),
    Column::Text("client_id"),
    Column::Text("purpose"),
    Column::Int("amount_minor"),
    Column::Text("currency"),
    Column::Text("state"),
    Column::Int("expires_at"),
    Column::Int("charge_entry_pk"),
    Column::Int("created_at"),
    Column::Int("updated_at"),
];
const HOLD_CHANGE_COLUMNS: [Column; 4] = [
    Column::Int("amount_minor"),
    Column::Text("state"),
    Column::Int("charge_entry_pk"),
    Column::Int("updated_at"),
];
const ENTRY_COLUMNS: [Column; 12] = [
    Column::Int("pk"),
    Column::Text("tenant_id"),
    Column::Text("id"),
    Column::Int("voucher_pk"),
    Column::Text("client_id"),
    Column::Text("kind"),
    Column::Int("amount_minor"),
    Column::Text("currency"),
    Column::Text("order_number"),
    Column::Int("refund_of_pk"),
    Column::Int("hold_pk"),
    Column::Int("created_at"),
];
const VOUCHER_CHANGE_COLUMNS: [Column; 6] = [
    Column::Text("status"),
    Column::Int("valid_until"),
    Column::Int("remaining_minor"),
    Column::Int("deleted_at"),
    Column::Text("delete_comment"),
    Column::Int("updated_at"),
];
const AUDIT_COLUMNS: [Column; 9] = [
    Column::Text("tenant_id"),
    Column::Int("at"),
    Column::Text("actor_kind"),
    Column::Text("actor_id"),
    Column::Text("action"),
    Column::Text("subject_kind"),
    Column::Text("subject_id"),
    Column::Text("request_id"),
    Column::Text("detail"),
];

/// The keys the batch's new holds, entries and Front Payment lines are written under, in
/// their order.
#[derive(Default)]
pub(super) struct NewKeys {
    pub(super) holds: Vec<i64>,
    pub(super) entries: Vec<i64>,
    pub(super) lines: Vec<i64>,
}

impl NewKeys {
    pub(super) fn hold(&self, key: RowKey) -> Result<i64, StoreError> {
        resolve(key, &self.holds)
    }

    pub(super) fn entry(&self, key: RowKey) -> Result<i64, StoreError> {
        resolve(key, &self.entries)
    }

    pub(super) fn line(&self, key: RowKey) -> Result<i64, StoreError> {
        resolve(key, &self.lines)
    }
}

fn resolve(key: RowKey, new: &[i64]) -> Result<i64, StoreError> {
    match key {
        RowKey::Stored(pk) => Ok(pk),
        RowKey::New(i) => new
            .get(i)
            .copied()
            .ok_or_else(|| StoreError::Other(format!("no key drawn for new row {i}"))),
    }
}

/// How many new rows of each keyed table a batch writes.
pub(super) struct Counts {
    pub(super) holds: usize,
    pub(super) entries: usize,
    pub(super) lines: usize,
}

/// The keys of the batch's new rows: on PostgreSQL from this node's blocks ([`KeyBlocks`]); on
/// SQLite, whose one writer holds the write lock, after the largest key of each table.
async fn new_keys<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    counts: Counts,
    blocks: &KeyBlocks,
) -> Result<NewKeys, StoreError> {
    if counts.holds + counts.entries + counts.lines == 0 {
        return Ok(NewKeys::default());
    }
    if dialect == Dialect::Postgres {
        return blocks.take(tx, &counts).await;
    }
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let mut sql = String::from(
        "SELECT (SELECT COALESCE(MAX(pk), 0) FROM holds), \
         (SELECT COALESCE(MAX(pk), 0) FROM entries)",
    );
    if counts.lines > 0 {
        sql.push_str(", (SELECT COALESCE(MAX(pk), 0) FROM front_lines)");
    }
    let row = tx
        .fetch_optional(&sql, vec![])
        .await?
        .ok_or_else(|| StoreError::Other("no largest keys".into()))?;
    let mut r = row.reader();
    let (hold_max, entry_max) = (r.int()?, r.int()?);
    let line_max = if counts.lines > 0 { r.int()? } else { 0 };
    Ok(NewKeys {
        holds: (1..=count(counts.holds)).map(|i| hold_max + i).collect(),
        entries: (1..=count(counts.entries)).map(|i| entry_max + i).collect(),
        lines: (1..=count(counts.lines)).map(|i| line_max + i).collect(),
    })
}

/// Writes the write set and the batch's idempotency answers.
pub(super) async fn write<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    set: &WriteSet,
    keys: &Keys,
    blocks: &KeyBlocks,
) -> Result<(), StoreError> {
    if !keys.expired.is_empty() {
        let sql = format!(
            "DELETE FROM idempotency_keys WHERE {}",
            sets::in_text_tuples(dialect, &["tenant_id", "caller", "key"], 1)
        );
        let column = |f: fn(&(String, String, String)) -> &String| {
            Value::Texts(keys.expired.iter().map(|k| Some(f(k).clone())).collect())
        };
        let params = vec![column(|k| &k.0), column(|k| &k.1), column(|k| &k.2)];
        tx.execute(&sql, params).await?;
    }
    let counts = Counts {
        holds: set.new_holds.len(),
        entries: set.new_entries.len(),
        lines: set.front.new_lines.len(),
    };
    let new = new_keys(tx, dialect, counts, blocks).await?;
    let mut all: Vec<Write> = Vec::new();
    let hold_rows = set
        .new_holds
        .iter()
        .map(|h| {
            Ok(vec![
                new.hold(h.key)?.into(),
                h.tenant_id.as_str().into(),
                h.id.as_str().into(),
                h.voucher_pk.into(),
                h.client_id.clone().into(),
                h.purpose.as_str().into(),
                h.amount_minor.into(),
                h.currency.code().into(),
                h.state.as_str().into(),
                h.expires_at.into(),
                h.charge
                    .as_ref()
                    .map(|(k, _)| new.entry(*k))
                    .transpose()?
                    .into(),
                h.created_at.into(),
                h.updated_at.into(),
            ])
        })
        .collect::<Result<Vec<Vec<Value>>, StoreError>>()?;
    all.extend(sets::insert(dialect, "holds", &HOLD_COLUMNS, hold_rows));
    let entry_rows = set
        .new_entries
        .iter()
        .map(|e| {
            Ok(vec![
                new.entry(e.key)?.into(),
                e.tenant_id.as_str().into(),
                e.id.as_str().into(),
                e.voucher_pk.into(),
                e.client_id.clone().into(),
                e.kind.as_str().into(),
                e.amount_minor.into(),
                e.currency.code().into(),
                e.order_number.clone().into(),
                e.refund_of
                    .as_ref()
                    .map(|(k, _)| new.entry(*k))
                    .transpose()?
                    .into(),
                e.hold.map(|k| new.hold(k)).transpose()?.into(),
                e.created_at.into(),
            ])
        })
        .collect::<Result<Vec<Vec<Value>>, StoreError>>()?;
    all.extend(sets::insert(dialect, "entries", &ENTRY_COLUMNS, entry_rows));
    let hold_changes = set
        .changed_holds
        .iter()
        .map(|h| {
            Ok(vec![
                new.hold(h.key)?.into(),
                h.amount_minor.into(),
                h.state.as_str().into(),
                h.charge
                    .as_ref()
                    .map(|(k, _)| new.entry(*k))
                    .transpose()?
                    .into(),
                h.updated_at.into(),
            ])
        })
        .collect::<Result<Vec<Vec<Value>>, StoreError>>()?;
    all.extend(sets::update(
        dialect,
        "holds",
        &[Column::Int("pk")],
        &HOLD_CHANGE_COLUMNS,
        hold_changes,
    ));
    let voucher_changes = set
        .changed_vouchers
        .iter()
        .map(|v| {
            vec![
                v.pk.into(),
                v.status.as_str().into(),
                v.valid_until.into(),
                v.remaining_minor.into(),
                v.deleted_at.into(),
                v.delete_comment.clone().into(),
                v.updated_at.into(),
            ]
        })
        .collect();
    all.extend(sets::update(
        dialect,
        "vouchers",
        &[Column::Int("pk")],
        &VOUCHER_CHANGE_COLUMNS,
        voucher_changes,
    ));
    let audit_rows = set
        .audit
        .iter()
        .map(|a| {
            vec![
                a.tenant_id.as_str().into(),
                a.at.into(),
                a.actor_kind.into(),
                a.actor_id.as_str().into(),
                a.action.into(),
                a.subject_kind.into(),
                a.subject_id.as_str().into(),
                a.request_id.as_str().into(),
                a.detail.as_str().into(),
            ]
        })
        .collect();
    all.extend(front_persist::writes(dialect, &set.front, &new)?);
    all.extend(bleepay_persist::writes(dialect, &set.bleepay, &new)?);
    all.extend(sets::insert(
        dialect,
        "audit_events",
        &AUDIT_COLUMNS,
        audit_rows,
    ));
    all.extend(sets::insert(
        dialect,
        "idempotency_keys",
        &KEY_COLUMNS,
        keys.new_rows(),
    ));
    if all.is_empty() {
        return Ok(());
    }
    match dialect {
        Dialect::Postgres => {
            let one = writes::combined(all);
            tx.execute(&one.sql, one.params).await?;
        }
        Dialect::Sqlite => writes::one_by_one(tx, all).await?,
    }
    Ok(())
}
