//! Vouchers outside the ledger engine: creation (one, an import, a series chunk) with its
//! issue entry, the fields that move no money, and locking a voucher for the commands that
//! name one (a bleepay payer adding it to an account).

use serde_json::json;
use voucherd_domain::events::{self, VoucherAfter};
use voucherd_domain::pattern::Pattern;
use voucherd_domain::secret::{self};
use voucherd_domain::{DomainError, EntryKind, VoucherStatus};

use super::writes::Write;
use super::{GENERATE_ATTEMPTS_MAX, NewEntry, Run, Step, refuse};
use crate::StoreError;
use crate::command::{NewVoucher, Outcome};
use crate::model::{EntryView, TenantSettings};
use crate::sql::reads::{self, VoucherKey, VoucherRecord};
use crate::sql::{Row, SqlExec, Value};

impl<T: SqlExec> Run<'_, T> {
    /// A value from `pattern` that no voucher of the tenant has in `column` yet.
    pub(super) async fn unique_value(&mut self, pattern: &str, column: &str) -> Step<String> {
        let pattern = Pattern::parse(pattern)
            .map_err(|e| StoreError::Other(format!("stored pattern invalid: {e}")))?;
        let sql = format!("SELECT 1 FROM vouchers WHERE tenant_id = $1 AND {column} = $2");
        for _ in 0..GENERATE_ATTEMPTS_MAX {
            let candidate = pattern.generate();
            if !self
                .exists(
                    &sql,
                    vec![self.tenant_id().into(), candidate.as_str().into()],
                )
                .await?
            {
                return Ok(Ok(candidate));
            }
        }
        refuse(DomainError::PatternExhausted)
    }

    pub(super) async fn taken(&mut self, column: &str, value: &str) -> Result<bool, StoreError> {
        let sql = format!("SELECT 1 FROM vouchers WHERE tenant_id = $1 AND {column} = $2");
        self.exists(&sql, vec![self.tenant_id().into(), value.into()])
            .await
    }

    pub(super) async fn create_voucher(&mut self, new: &NewVoucher) -> Step<Outcome> {
        let settings = decided!(self.settings().await);
        let (voucher_pk, id) = decided!(self.insert_voucher(new, &settings, None).await);
        let detail = json!({ "amount_minor": new.amount_minor, "currency": new.currency.code(), "status": new.status.as_str() });
        self.audit_voucher("voucher.create", &id, detail).await?;
        self.voucher_outcome(voucher_pk).await
    }

    pub(super) async fn import_vouchers(&mut self, rows: &[NewVoucher]) -> Step<Outcome> {
        let settings = decided!(self.settings().await);
        for (row, new) in rows.iter().enumerate() {
            let taken = |column: &str| {
                refuse(DomainError::ImportRowTaken {
                    row: i64::try_from(row).unwrap_or(i64::MAX),
                    column: column.to_string(),
                })
            };
            if let Some(id) = &new.id
                && self.taken("id", id).await?
            {
                return taken("custom_id");
            }
            if let Some(code) = &new.code
                && self.taken("code", code).await?
            {
                return taken("code");
            }
            let (_, id) = decided!(self.insert_voucher(new, &settings, None).await);
            let detail = json!({ "amount_minor": new.amount_minor, "currency": new.currency.code(), "status": new.status.as_str() });
            self.audit_voucher("voucher.import", &id, detail).await?;
        }
        let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        self.event(events::IMPORT_COMPLETED, None, json!({ "count": count }));
        Ok(Ok(Outcome::Imported { count }))
    }

    /// Writes a new voucher and its issue entry (generating what `new` leaves out from the
    /// tenant's patterns); answers its key and id.
    pub(super) async fn insert_voucher(
        &mut self,
        new: &NewVoucher,
        settings: &TenantSettings,
        series_pk: Option<i64>,
    ) -> Step<(i64, String)> {
        let id_taken = match &new.id {
            Some(id) => self.taken("id", id).await?,
            None => false,
        };
        let code_taken = match &new.code {
            Some(code) => self.taken("code", code).await?,
            None => false,
        };
        match (id_taken, code_taken) {
            (true, true) => return refuse(DomainError::VoucherIdAndCodeTaken),
            (true, false) => return refuse(DomainError::VoucherIdTaken),
            (false, true) => return refuse(DomainError::VoucherCodeTaken),
            (false, false) => {}
        }
        let id = match &new.id {
            Some(id) => id.clone(),
            None => decided!(self.unique_value(&settings.voucher_id_pattern, "id").await),
        };
        let code = match &new.code {
            Some(code) => code.clone(),
            None => decided!(self.unique_value(&settings.code_pattern, "code").await),
        };
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
        let now = self.now();
        let row = self
            .tx
            .fetch_optional(
                "INSERT INTO vouchers (tenant_id, id, code, pin, client_id, sku, batch, \
                 amount_minor, currency, valid_until, validity_value, validity_interval, status, \
                 type, taxable, tax_rate, order_number, data, remaining_minor, created_at, \
                 updated_at, series_pk) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
                 $13, $14, $15, $16, $17, $18, $8, $19, $19, $20) RETURNING pk",
                vec![
                    self.tenant_id().into(),
                    id.as_str().into(),
                    code.as_str().into(),
                    pin.into(),
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
                    now.into(),
                    series_pk.into(),
                ],
            )
            .await?
            .ok_or_else(|| StoreError::Other("insert returned no key".into()))?;
        let voucher_pk = row.reader().int()?;
        self.insert_entry(
            voucher_pk,
            &id,
            NewEntry {
                id: None,
                kind: EntryKind::Issue,
                amount_minor: new.amount_minor,
                currency: new.currency,
                order_number: new.order_number.as_deref(),
                refund_of: None,
                hold_pk: None,
            },
        )
        .await?;
        let after = VoucherAfter {
            id: &id,
            code: &code,
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
        Ok(Ok((voucher_pk, id)))
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

    /// Writes a ledger entry and moves the voucher's balance by it; answers the entry's key
    /// and the entry as it was written.
    pub(super) async fn insert_entry(
        &mut self,
        voucher_pk: i64,
        voucher_id: &str,
        new: NewEntry<'_>,
    ) -> Result<(i64, EntryView), StoreError> {
        let (entry_pk, entry) = self.insert_entry_row(voucher_pk, voucher_id, new).await?;
        if let Some(write) = self.balance_write(voucher_pk, &entry) {
            self.write_all(vec![write]).await?;
        }
        Ok((entry_pk, entry))
    }

    /// Moves a voucher's balance by an entry written on it; an issue entry records the
    /// balance the voucher was created with, and moves nothing.
    pub(super) fn balance_write(&self, voucher_pk: i64, entry: &EntryView) -> Option<Write> {
        (entry.kind != EntryKind::Issue).then(|| {
            Write::new(
                "UPDATE vouchers SET remaining_minor = remaining_minor + $2, updated_at = $3 \
                 WHERE pk = $1",
                vec![
                    voucher_pk.into(),
                    (entry.kind.balance_sign() * entry.amount_minor).into(),
                    self.now().into(),
                ],
            )
        })
    }

    /// Writes a ledger entry's row, without moving the balance ([`Self::balance_write`]).
    pub(super) async fn insert_entry_row(
        &mut self,
        voucher_pk: i64,
        voucher_id: &str,
        new: NewEntry<'_>,
    ) -> Result<(i64, EntryView), StoreError> {
        let NewEntry {
            id,
            kind,
            amount_minor,
            currency,
            order_number,
            refund_of,
            hold_pk,
        } = new;
        let id = id.unwrap_or_else(|| secret::ordered_id(self.now()));
        let row = self
            .tx
            .fetch_optional(
                "INSERT INTO entries (tenant_id, id, voucher_pk, client_id, kind, amount_minor, \
                 currency, order_number, refund_of_pk, hold_pk, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING pk",
                vec![
                    self.tenant_id().into(),
                    id.as_str().into(),
                    voucher_pk.into(),
                    self.ctx.actor.client_id().into(),
                    kind.as_str().into(),
                    amount_minor.into(),
                    currency.code().into(),
                    order_number.into(),
                    refund_of.map(|(pk, _)| pk).into(),
                    hold_pk.into(),
                    self.now().into(),
                ],
            )
            .await?
            .ok_or_else(|| StoreError::Other("insert returned no key".into()))?;
        let entry = EntryView {
            id,
            voucher_id: voucher_id.to_string(),
            client_id: self.ctx.actor.client_id(),
            kind,
            amount_minor,
            currency,
            order_number: order_number.map(str::to_string),
            refund_of: refund_of.map(|(_, id)| id.to_string()),
            created_at: self.stored_now()?,
        };
        Ok((row.reader().int()?, entry))
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
