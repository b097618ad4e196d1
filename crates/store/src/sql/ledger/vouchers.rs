//! Vouchers outside the ledger engine: creation (one, an import, a series chunk) with its
//! issue entry, the fields that move no money, and locking a voucher for the commands that
//! name one (a bleepay payer adding it to an account).

use std::sync::LazyLock;

use serde_json::json;
use voucherd_domain::events::{self, VoucherAfter};
use voucherd_domain::pattern::Pattern;
use voucherd_domain::secret::{self};
use voucherd_domain::{DomainError, EntryKind, VoucherStatus};

use super::writes::Write;
use super::{GENERATE_ATTEMPTS_MAX, Run, Step, refuse};
use crate::StoreError;
use crate::command::{NewVoucher, Outcome};
use crate::model::TenantSettings;
use crate::sql::reads::{self, VoucherKey, VoucherRecord};
use crate::sql::{Row, SqlExec, Value};

/// What a new voucher is written for: a command of its own, audited under `action`, or a
/// series, which audits its start and end instead of each voucher.
pub(super) enum Issue<'a> {
    Audited(&'a str),
    Series(i64),
}

/// A voucher's insert: nothing if its id or code is taken (the table's unique keys), else the
/// voucher as [`reads::voucher_row`] reads it: its own columns, unprefixed (SQLite's
/// `RETURNING` names no table), then nothing held and no activity. Made once, from the columns
/// the reads use.
static INSERT_VOUCHER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO vouchers (tenant_id, id, code, pin, client_id, sku, batch, amount_minor, \
         currency, valid_until, validity_value, validity_interval, status, type, taxable, \
         tax_rate, order_number, data, remaining_minor, created_at, updated_at, series_pk) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $8, $19, $19, $20) ON CONFLICT DO NOTHING \
         RETURNING {}, CAST(0 AS BIGINT), FALSE",
        reads::VOUCHER_ROW_COLUMNS.replace("v.", "")
    )
});

impl<T: SqlExec> Run<'_, T> {
    pub(super) async fn taken(&mut self, column: &str, value: &str) -> Result<bool, StoreError> {
        let sql = format!("SELECT 1 FROM vouchers WHERE tenant_id = $1 AND {column} = $2");
        self.exists(&sql, vec![self.tenant_id().into(), value.into()])
            .await
    }

    pub(super) async fn create_voucher(&mut self, new: &NewVoucher) -> Step<Outcome> {
        let settings = decided!(self.settings().await);
        let record = decided!(
            self.insert_voucher(new, &settings, Issue::Audited("voucher.create"))
                .await
        );
        Ok(Ok(Outcome::Voucher(record.view)))
    }

    pub(super) async fn import_vouchers(&mut self, rows: &[NewVoucher]) -> Step<Outcome> {
        let settings = decided!(self.settings().await);
        for (row, new) in rows.iter().enumerate() {
            let inserted = self
                .insert_voucher(new, &settings, Issue::Audited("voucher.import"))
                .await?;
            // The row's own id or code is taken (by an earlier row, or a voucher before the
            // import): the import names the row and the column, the id first.
            let column = match inserted {
                Ok(_) => continue,
                Err(DomainError::VoucherIdTaken | DomainError::VoucherIdAndCodeTaken) => {
                    "custom_id"
                }
                Err(DomainError::VoucherCodeTaken) => "code",
                Err(refusal) => return refuse(refusal),
            };
            return refuse(DomainError::ImportRowTaken {
                row: i64::try_from(row).unwrap_or(i64::MAX),
                column: column.to_string(),
            });
        }
        let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        self.event(events::IMPORT_COMPLETED, None, json!({ "count": count }));
        Ok(Ok(Outcome::Imported { count }))
    }

    /// Writes a new voucher, its issue entry and its audit record, generating what `new`
    /// leaves out from the tenant's patterns; answers the voucher as written.
    ///
    /// The insert itself finds out whether an id or code is taken (the table's unique keys,
    /// `ON CONFLICT DO NOTHING`) and answers the voucher as a read would, so a voucher costs
    /// two statements on PostgreSQL (the insert; the issue entry and the audit record as one)
    /// where it cost a lookup per id and code, the insert, the entry, the audit record and a
    /// read back. Only an insert that conflicted asks which value was taken: one that was
    /// sent is a refusal, a drawn one is drawn again. A voucher of another node's
    /// transaction that holds the value is waited for, then found taken.
    pub(super) async fn insert_voucher(
        &mut self,
        new: &NewVoucher,
        settings: &TenantSettings,
        issue: Issue<'_>,
    ) -> Step<VoucherRecord> {
        let id_source = Source::of(new.id.as_deref(), &settings.voucher_id_pattern)?;
        let code_source = Source::of(new.code.as_deref(), &settings.code_pattern)?;
        let pin = match (&new.pin, &settings.pin_pattern) {
            (Some(pin), _) => Some(pin.clone()),
            (None, Some(pattern)) => Some(
                Pattern::parse(pattern)
                    .map_err(|e| StoreError::Other(format!("stored pin pattern invalid: {e}")))?
                    .generate(),
            ),
            (None, None) => None,
        };
        let validity = new.validity.unwrap_or(settings.default_validity);
        let valid_until = match new.status {
            VoucherStatus::Active => Some(
                new.valid_until
                    .unwrap_or_else(|| validity.end_from(self.now())),
            ),
            VoucherStatus::Inactive => None,
        };
        let series_pk = match issue {
            Issue::Series(pk) => Some(pk),
            Issue::Audited(_) => None,
        };
        let mut record = None;
        for _ in 0..GENERATE_ATTEMPTS_MAX {
            let id = id_source.value();
            let code = code_source.value();
            let params: Vec<Value> = vec![
                self.tenant_id().into(),
                id.as_str().into(),
                code.as_str().into(),
                pin.clone().into(),
                self.ctx.actor.client_id().into(),
                new.sku.clone().into(),
                new.batch.clone().into(),
                new.amount_minor.into(),
                new.currency.code().into(),
                valid_until.into(),
                validity.value.into(),
                validity.interval.as_str().into(),
                new.status.as_str().into(),
                new.kind.as_str().into(),
                new.taxable.into(),
                new.tax_rate.clone().into(),
                new.order_number.clone().into(),
                new.data.clone().into(),
                self.now().into(),
                series_pk.into(),
            ];
            if let Some(row) = self.tx.fetch_optional(&INSERT_VOUCHER, params).await? {
                record = Some(reads::voucher_row(&row)?);
                break;
            }
            // Which value the voucher before it holds: one sent is refused, a drawn one is
            // drawn again.
            let id_taken = id_source.is_sent() && self.taken("id", &id).await?;
            let code_taken = code_source.is_sent() && self.taken("code", &code).await?;
            match (id_taken, code_taken) {
                (true, true) => return refuse(DomainError::VoucherIdAndCodeTaken),
                (true, false) => return refuse(DomainError::VoucherIdTaken),
                (false, true) => return refuse(DomainError::VoucherCodeTaken),
                (false, false) => {}
            }
        }
        let Some(record) = record else {
            return refuse(DomainError::PatternExhausted);
        };
        let view = &record.view;
        let mut writes = vec![self.issue_entry_write(record.pk, new)];
        if let Issue::Audited(action) = issue {
            let detail = json!({ "amount_minor": new.amount_minor, "currency": new.currency.code(), "status": new.status.as_str() });
            let tenant_id = self.ctx.tenant_id.clone();
            writes.push(self.audit_write(&tenant_id, action, "voucher", &view.id, detail));
        }
        self.write_all(writes).await?;
        let after = VoucherAfter {
            id: &view.id,
            code: &view.code,
            status: new.status,
            currency: new.currency,
            balance_minor: new.amount_minor,
            held_minor: 0,
        };
        let created = json!({
            "amount": events::money(new.amount_minor, new.currency),
            "valid_until": valid_until.map(events::timestamp),
            "batch": new.batch,
        });
        self.event(events::VOUCHER_CREATED, Some(&after), created);
        Ok(Ok(record))
    }

    pub(super) async fn audit_voucher(
        &mut self,
        action: &str,
        voucher_id: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        let tenant_id = self.ctx.tenant_id.clone();
        self.audit(&tenant_id, action, "voucher", voucher_id, detail)
            .await
    }

    pub(super) async fn voucher_outcome(&mut self, voucher_pk: i64) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        let record = reads::voucher(self.tx, &tenant_id, VoucherKey::Pk(voucher_pk), self.now())
            .await?
            .ok_or_else(|| StoreError::Other("voucher vanished".into()))?;
        Ok(Ok(Outcome::Voucher(record.view)))
    }

    /// Loads a live (not deleted) voucher for change, locking its row on PostgreSQL.
    pub(super) async fn lock_voucher(
        &mut self,
        column: &str,
        value: Value,
    ) -> Result<Option<VoucherRecord>, StoreError> {
        self.lock_voucher_where(&format!("v.{column} = $3"), vec![value])
            .await
    }

    /// Loads, in one statement, the live voucher of this tenant that `condition` names (its
    /// parameters are `$3` onwards), locking its row on PostgreSQL.
    ///
    /// The voucher's own columns are its latest version. What the view computes from other
    /// tables (the amount held, whether it may be deleted) is not, on PostgreSQL, when the lock
    /// had to wait: those subqueries see the database as it was when the statement began, not
    /// what the transaction it waited for wrote. A decision on them must read them again.
    pub(super) async fn lock_voucher_where(
        &mut self,
        condition: &str,
        params: Vec<Value>,
    ) -> Result<Option<VoucherRecord>, StoreError> {
        let lock = self.dialect.voucher_lock_clause();
        self.lock_voucher_row("", "", condition, params, lock)
            .await?
            .as_ref()
            .map(reads::voucher_row)
            .transpose()
    }

    /// Locks like [`Self::lock_voucher_where`] (with `lock`, a clause of [`Dialect`]) and
    /// answers the row as it is: the voucher's columns, then `columns` (a column list, or
    /// empty), which may read the tables `join` adds to `vouchers v`.
    pub(super) async fn lock_voucher_row(
        &mut self,
        columns: &str,
        join: &str,
        condition: &str,
        params: Vec<Value>,
        lock: &str,
    ) -> Result<Option<Row>, StoreError> {
        let separator = if columns.is_empty() { "" } else { ", " };
        let sql = format!(
            "SELECT {}{separator}{columns} FROM vouchers v{join} WHERE v.tenant_id = $2 \
             AND {condition} AND v.deleted_at IS NULL{lock}",
            reads::VOUCHER_COLUMNS,
        );
        let mut all = vec![self.now().into(), self.tenant_id().into()];
        all.extend(params);
        self.tx.fetch_optional(&sql, all).await
    }

    /// A new voucher's issue entry, which records the balance it was created with, as a
    /// write to send with others. (Every other entry is the ledger engine's.)
    fn issue_entry_write(&self, voucher_pk: i64, new: &NewVoucher) -> Write {
        Write::new(
            "INSERT INTO entries (tenant_id, id, voucher_pk, client_id, kind, amount_minor, \
             currency, order_number, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            vec![
                self.tenant_id().into(),
                secret::ordered_id(self.now()).into(),
                voucher_pk.into(),
                self.ctx.actor.client_id().into(),
                EntryKind::Issue.as_str().into(),
                new.amount_minor.into(),
                new.currency.code().into(),
                new.order_number.clone().into(),
                self.now().into(),
            ],
        )
    }

    pub(super) async fn update_voucher(
        &mut self,
        id: &str,
        sku: &Option<Option<String>>,
        batch: &Option<Option<String>>,
    ) -> Step<Outcome> {
        let Some(voucher) = self.lock_voucher("id", id.into()).await? else {
            return refuse(DomainError::VoucherNotFound);
        };
        let sku = sku.clone().unwrap_or(voucher.view.sku.clone());
        let batch = batch.clone().unwrap_or(voucher.view.batch.clone());
        self.tx
            .execute(
                "UPDATE vouchers SET sku = $2, batch = $3, updated_at = $4 WHERE pk = $1",
                vec![
                    voucher.pk.into(),
                    sku.clone().into(),
                    batch.clone().into(),
                    self.now().into(),
                ],
            )
            .await?;
        self.audit_voucher("voucher.update", id, json!({ "sku": sku, "batch": batch }))
            .await?;
        self.voucher_outcome(voucher.pk).await
    }
}

/// A new voucher's id or code: the one sent, or a draw from the tenant's pattern.
enum Source<'a> {
    Sent(&'a str),
    Drawn(Pattern),
}

impl<'a> Source<'a> {
    fn of(sent: Option<&'a str>, pattern: &str) -> Result<Source<'a>, StoreError> {
        Ok(match sent {
            Some(value) => Source::Sent(value),
            None => Source::Drawn(
                Pattern::parse(pattern)
                    .map_err(|e| StoreError::Other(format!("stored pattern invalid: {e}")))?,
            ),
        })
    }

    /// The value to try: the one sent, or a fresh draw.
    fn value(&self) -> String {
        match self {
            Source::Sent(value) => value.to_string(),
            Source::Drawn(pattern) => pattern.generate(),
        }
    }

    fn is_sent(&self) -> bool {
        matches!(self, Source::Sent(_))
    }
}
