//! The select lists, row decoders and read queries shared by the read API and by commands that
//! answer with the changed object.

use time::OffsetDateTime;
use voucherd_domain::{
    Currency, EntryKind, HoldState, Scope, Validity, ValidityInterval, VoucherKind, VoucherStatus,
};

use super::{Row, RowReader, SqlExec, Value};
use crate::StoreError;
use crate::model::{
    AuditEvent, AuditFilter, Client, ClientGroup, EntryFilter, EntryView, HoldView, Page,
    PageRequest, Tenant, TenantSettings, VoucherFilter, VoucherView,
};

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Other(format!("stored {what} {value:?} is not valid"))
}

pub(super) fn currency(r: &mut RowReader<'_>) -> Result<Currency, StoreError> {
    let code = r.text()?;
    Currency::parse(&code).map_err(|_| corrupt("currency", &code))
}

pub(super) fn parsed<T>(
    r: &mut RowReader<'_>,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    let text = r.text()?;
    parse(&text).ok_or_else(|| corrupt(what, &text))
}

/// Builds a `WHERE` clause and its parameters, numbering placeholders as it goes.
pub(super) struct Where {
    clauses: Vec<String>,
    pub(super) params: Vec<Value>,
}

impl Where {
    pub(super) fn new(params: Vec<Value>) -> Self {
        Where {
            clauses: Vec::new(),
            params,
        }
    }

    /// Adds a parameter and returns its placeholder.
    pub(super) fn bind(&mut self, value: impl Into<Value>) -> String {
        self.params.push(value.into());
        format!("${}", self.params.len())
    }

    /// Adds a condition; `{}` in it is replaced by the placeholder of `value`.
    pub(super) fn and(&mut self, condition: &str, value: impl Into<Value>) {
        let placeholder = self.bind(value);
        self.clauses.push(condition.replace("{}", &placeholder));
    }

    pub(super) fn and_opt<V: Into<Value>>(&mut self, condition: &str, value: Option<V>) {
        if let Some(value) = value {
            self.and(condition, value);
        }
    }

    pub(super) fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" AND {}", self.clauses.join(" AND "))
        }
    }
}

fn limit_offset(w: &mut Where, page: PageRequest) -> String {
    let limit = w.bind(page.per_page);
    let offset = w.bind((page.page - 1).saturating_mul(page.per_page));
    format!(" LIMIT {limit} OFFSET {offset}")
}

async fn count<T: SqlExec>(tx: &mut T, sql: &str, params: Vec<Value>) -> Result<i64, StoreError> {
    match tx.fetch_optional(sql, params).await? {
        Some(row) => row.reader().int(),
        None => Ok(0),
    }
}

// ---------------------------------------------------------------- tenants and clients

pub(super) const TENANT_COLUMNS: &str = "id, name, voucher_id_pattern, code_pattern, pin_pattern, \
     default_validity_value, default_validity_interval, reservation_ttl_seconds, \
     token_ttl_seconds, created_at";

pub(super) fn tenant_row(row: &Row) -> Result<Tenant, StoreError> {
    let mut r = row.reader();
    Ok(Tenant {
        id: r.text()?,
        name: r.text()?,
        settings: TenantSettings {
            voucher_id_pattern: r.text()?,
            code_pattern: r.text()?,
            pin_pattern: r.opt_text()?,
            default_validity: Validity {
                value: r.int()?,
                interval: parsed(&mut r, "validity interval", ValidityInterval::parse)?,
            },
            reservation_ttl_seconds: r.int()?,
            token_ttl_seconds: r.int()?,
        },
        created_at: r.time()?,
    })
}

pub(super) async fn tenant<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
) -> Result<Option<Tenant>, StoreError> {
    let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
    tx.fetch_optional(&sql, vec![tenant_id.into()])
        .await?
        .as_ref()
        .map(tenant_row)
        .transpose()
}

fn scopes(text: &str) -> Result<Vec<Scope>, StoreError> {
    Scope::parse_list(text).ok_or_else(|| corrupt("scope list", text))
}

pub(super) async fn client_groups<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
) -> Result<Vec<ClientGroup>, StoreError> {
    let rows = tx
        .fetch(
            "SELECT id, name, scopes, created_at FROM client_groups WHERE tenant_id = $1 \
             ORDER BY created_at, id",
            vec![tenant_id.into()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let mut r = row.reader();
            Ok(ClientGroup {
                id: r.text()?,
                name: r.text()?,
                scopes: scopes(&r.text()?)?,
                created_at: r.time()?,
            })
        })
        .collect()
}

const CLIENT_SELECT: &str = "SELECT c.id, c.client_group_id, c.name, c.type, g.scopes, \
     c.secret_digest IS NOT NULL, c.created_at, c.updated_at, c.connected_at \
     FROM clients c JOIN client_groups g ON g.tenant_id = c.tenant_id AND g.id = c.client_group_id \
     WHERE c.tenant_id = $1";

fn client_row(row: &Row) -> Result<Client, StoreError> {
    let mut r = row.reader();
    Ok(Client {
        id: r.text()?,
        client_group_id: r.text()?,
        name: r.text()?,
        client_type: r.text()?,
        scopes: scopes(&r.text()?)?,
        connected: r.bool()?,
        created_at: r.time()?,
        updated_at: r.time()?,
        connected_at: r.opt_time()?,
    })
}

pub(super) async fn clients<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
) -> Result<Vec<Client>, StoreError> {
    let sql = format!("{CLIENT_SELECT} ORDER BY c.created_at, c.id");
    let rows = tx.fetch(&sql, vec![tenant_id.into()]).await?;
    rows.iter().map(client_row).collect()
}

pub(super) async fn client<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    client_id: &str,
) -> Result<Option<Client>, StoreError> {
    let sql = format!("{CLIENT_SELECT} AND c.id = $2");
    tx.fetch_optional(&sql, vec![tenant_id.into(), client_id.into()])
        .await?
        .as_ref()
        .map(client_row)
        .transpose()
}

// ---------------------------------------------------------------- vouchers

/// A voucher's own columns, as a literal for [`VOUCHER_COLUMNS`] to extend.
macro_rules! voucher_row_columns {
    () => {
        "v.pk, v.id, v.code, v.pin, v.client_id, v.sku, v.batch, \
         v.amount_minor, v.currency, v.valid_until, v.validity_value, v.validity_interval, \
         v.status, v.type, v.taxable, v.tax_rate, v.order_number, v.data, v.remaining_minor, \
         v.deleted_at, v.created_at, v.updated_at"
    };
}

/// A voucher's own columns, without what is computed from its holds and entries: for the
/// ledger engine's load, which reads the live holds itself and asks whether a voucher has
/// activity only when a command needs to know.
pub(super) const VOUCHER_ROW_COLUMNS: &str = voucher_row_columns!();

/// Voucher columns with the held amount and whether the voucher has entries besides its issue;
/// `$1` must be the time the held amount is computed at.
pub(super) const VOUCHER_COLUMNS: &str = concat!(
    voucher_row_columns!(),
    ", CAST(COALESCE((SELECT SUM(h.amount_minor) FROM holds h \
        WHERE h.voucher_pk = v.pk AND h.state = 'live' AND h.expires_at > $1), 0) AS BIGINT), \
     EXISTS (SELECT 1 FROM entries e WHERE e.voucher_pk = v.pk AND e.kind <> 'issue')"
);

/// A voucher row with its internal key.
pub(super) struct VoucherRecord {
    pub(super) pk: i64,
    pub(super) view: VoucherView,
}

pub(super) fn voucher_row(row: &Row) -> Result<VoucherRecord, StoreError> {
    read_voucher(&mut row.reader())
}

/// Reads the [`VOUCHER_COLUMNS`] from where `r` stands, leaving it on the column after them.
pub(super) fn read_voucher(r: &mut RowReader<'_>) -> Result<VoucherRecord, StoreError> {
    let (pk, mut view) = read_voucher_row(r)?;
    view.held_minor = r.int()?;
    let has_activity = r.bool()?;
    view.deletable = voucherd_domain::engine::lifecycle::deletable(has_activity, view.held_minor);
    Ok(VoucherRecord { pk, view })
}

/// Reads the [`VOUCHER_ROW_COLUMNS`] from where `r` stands, leaving it on the column after
/// them: the voucher's key and its view, with nothing held and not deletable.
pub(super) fn read_voucher_row(r: &mut RowReader<'_>) -> Result<(i64, VoucherView), StoreError> {
    let pk = r.int()?;
    let view = VoucherView {
        id: r.text()?,
        code: r.text()?,
        pin: r.opt_text()?,
        client_id: r.opt_text()?,
        sku: r.opt_text()?,
        batch: r.opt_text()?,
        amount_minor: r.int()?,
        currency: currency(r)?,
        valid_until: r.opt_time()?,
        validity: Validity {
            value: r.int()?,
            interval: parsed(r, "validity interval", ValidityInterval::parse)?,
        },
        status: parsed(r, "voucher status", VoucherStatus::parse)?,
        kind: parsed(r, "voucher type", VoucherKind::parse)?,
        taxable: r.bool()?,
        tax_rate: r.opt_text()?,
        order_number: r.opt_text()?,
        data: r.opt_text()?,
        remaining_minor: r.int()?,
        deleted_at: r.opt_time()?,
        created_at: r.time()?,
        updated_at: r.time()?,
        held_minor: 0,
        deletable: false,
    };
    Ok((pk, view))
}

/// How a read names one voucher.
pub(super) enum VoucherKey<'a> {
    Pk(i64),
    Id(&'a str),
}

pub(super) async fn voucher<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    key: VoucherKey<'_>,
    now: OffsetDateTime,
) -> Result<Option<VoucherRecord>, StoreError> {
    let (condition, value): (&str, Value) = match key {
        VoucherKey::Pk(pk) => ("v.pk = $3", pk.into()),
        VoucherKey::Id(id) => ("v.id = $3 AND v.deleted_at IS NULL", id.into()),
    };
    let sql =
        format!("SELECT {VOUCHER_COLUMNS} FROM vouchers v WHERE v.tenant_id = $2 AND {condition}");
    tx.fetch_optional(&sql, vec![now.into(), tenant_id.into(), value])
        .await?
        .as_ref()
        .map(voucher_row)
        .transpose()
}

pub(super) async fn vouchers<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    filter: &VoucherFilter,
    page: PageRequest,
    now: OffsetDateTime,
) -> Result<Page<VoucherView>, StoreError> {
    let mut w = Where::new(vec![now.into(), tenant_id.into()]);
    w.and_opt("v.created_at >= {}", filter.created_from);
    w.and_opt("v.created_at <= {}", filter.created_to);
    w.and_opt("v.status = {}", filter.status.map(|s| s.as_str()));
    w.and_opt("v.batch = {}", filter.batch.as_deref());
    w.and_opt("v.sku = {}", filter.sku.as_deref());
    w.and_opt("v.order_number = {}", filter.order_number.as_deref());
    w.and_opt("v.type = {}", filter.kind.map(|k| k.as_str()));
    w.and_opt("v.id = {}", filter.id.as_deref());
    w.and_opt("v.code = {}", filter.code.as_deref());
    let base = format!(
        "FROM vouchers v WHERE v.tenant_id = $2 AND v.deleted_at IS NULL{}",
        w.sql()
    );
    // The count shares the list's parameter numbering but has no use for $1 (the time); it
    // compares $1 with itself so that every bound parameter is referenced.
    let total = count(
        tx,
        &format!("SELECT COUNT(*) {base} AND $1 = $1"),
        w.params.clone(),
    )
    .await?;
    let tail = limit_offset(&mut w, page);
    let direction = if filter.order.descending { " DESC" } else { "" };
    let order = format!("{}{direction}, v.pk{direction}", filter.order.by.column());
    let sql = format!("SELECT {VOUCHER_COLUMNS} {base} ORDER BY {order}{tail}");
    let rows = tx.fetch(&sql, w.params).await?;
    let items = rows
        .iter()
        .map(|row| voucher_row(row).map(|rec| rec.view))
        .collect::<Result<_, _>>()?;
    Ok(Page { items, total })
}

// ---------------------------------------------------------------- holds

/// The columns of a hold (`h`) and its voucher (`v`) that [`read_hold`] reads.
macro_rules! hold_columns {
    () => {
        "h.id, v.id, v.taxable, v.tax_rate, h.client_id, \
         h.purpose, h.amount_minor, h.currency, h.state, h.expires_at, \
         (SELECT e.id FROM entries e WHERE e.pk = h.charge_entry_pk), h.created_at, h.updated_at"
    };
}
const HOLD_SELECT: &str = concat!(
    "SELECT ",
    hold_columns!(),
    " FROM holds h JOIN vouchers v ON v.pk = h.voucher_pk WHERE h.tenant_id = $1"
);

fn hold_row(row: &Row, now: OffsetDateTime) -> Result<HoldView, StoreError> {
    let r = &mut row.reader();
    let mut view = HoldView {
        id: r.text()?,
        voucher_id: r.text()?,
        voucher_taxable: r.bool()?,
        voucher_tax_rate: r.opt_text()?,
        client_id: r.opt_text()?,
        purpose: r.text()?,
        amount_minor: r.int()?,
        currency: currency(r)?,
        state: parsed(r, "hold state", HoldState::parse)?,
        expires_at: r.time()?,
        charge_id: r.opt_text()?,
        created_at: r.time()?,
        updated_at: r.time()?,
    };
    if view.state == HoldState::Live && view.expires_at <= now {
        view.state = HoldState::Expired;
    }
    Ok(view)
}

pub(super) async fn hold<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    hold_id: &str,
    purpose: &str,
    now: OffsetDateTime,
) -> Result<Option<HoldView>, StoreError> {
    let sql = format!("{HOLD_SELECT} AND h.id = $2 AND h.purpose = $3");
    tx.fetch_optional(&sql, vec![tenant_id.into(), hold_id.into(), purpose.into()])
        .await?
        .map(|row| hold_row(&row, now))
        .transpose()
}

pub(super) async fn voucher_holds<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    voucher_pk: i64,
    now: OffsetDateTime,
) -> Result<Vec<HoldView>, StoreError> {
    let sql = format!("{HOLD_SELECT} AND h.voucher_pk = $2 ORDER BY h.created_at DESC, h.pk DESC");
    let rows = tx
        .fetch(&sql, vec![tenant_id.into(), voucher_pk.into()])
        .await?;
    rows.iter().map(|row| hold_row(row, now)).collect()
}

// ---------------------------------------------------------------- entries

const ENTRY_SELECT: &str = "SELECT e.id, v.id, e.client_id, e.kind, e.amount_minor, \
     e.currency, e.order_number, (SELECT r.id FROM entries r WHERE r.pk = e.refund_of_pk), \
     e.created_at FROM entries e JOIN vouchers v ON v.pk = e.voucher_pk WHERE e.tenant_id = $1";

fn entry_row(row: &Row) -> Result<EntryView, StoreError> {
    let mut r = row.reader();
    Ok(EntryView {
        id: r.text()?,
        voucher_id: r.text()?,
        client_id: r.opt_text()?,
        kind: parsed(&mut r, "entry kind", EntryKind::parse)?,
        amount_minor: r.int()?,
        currency: currency(&mut r)?,
        order_number: r.opt_text()?,
        refund_of: r.opt_text()?,
        created_at: r.time()?,
    })
}

/// An entry by id; `voucher_id` narrows it to one voucher.
pub(super) async fn entry<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    entry_id: &str,
    voucher_id: Option<&str>,
) -> Result<Option<EntryView>, StoreError> {
    let mut w = Where::new(vec![tenant_id.into()]);
    w.and("e.id = {}", entry_id);
    w.and_opt("v.id = {} AND v.deleted_at IS NULL", voucher_id);
    let sql = format!("{ENTRY_SELECT}{}", w.sql());
    tx.fetch_optional(&sql, w.params)
        .await?
        .as_ref()
        .map(entry_row)
        .transpose()
}

/// A page of a voucher's entries other than its issue entry, oldest first.
pub(super) async fn entries<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    voucher_pk: i64,
    filter: &EntryFilter,
    page: PageRequest,
) -> Result<Page<EntryView>, StoreError> {
    let mut w = Where::new(vec![tenant_id.into()]);
    w.and("e.voucher_pk = {}", voucher_pk);
    w.and_opt("e.created_at >= {}", filter.created_from);
    w.and_opt("e.created_at <= {}", filter.created_to);
    w.and_opt("e.order_number = {}", filter.order_number.as_deref());
    w.and_opt("e.kind = {}", filter.kind.map(|k| k.as_str()));
    let conditions = format!("{} AND e.kind <> 'issue'", w.sql());
    let total = count(
        tx,
        &format!("SELECT COUNT(*) FROM entries e WHERE e.tenant_id = $1{conditions}"),
        w.params.clone(),
    )
    .await?;
    let tail = limit_offset(&mut w, page);
    let sql = format!("{ENTRY_SELECT}{conditions} ORDER BY e.created_at, e.pk{tail}");
    let rows = tx.fetch(&sql, w.params).await?;
    let items = rows.iter().map(entry_row).collect::<Result<_, _>>()?;
    Ok(Page { items, total })
}

// ---------------------------------------------------------------- audit

pub(super) async fn audit<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
    filter: &AuditFilter,
    page: PageRequest,
) -> Result<Page<AuditEvent>, StoreError> {
    let mut w = Where::new(vec![tenant_id.into()]);
    w.and_opt("subject_id = {}", filter.subject_id.as_deref());
    w.and_opt("action = {}", filter.action.as_deref());
    w.and_opt("actor_id = {}", filter.actor_id.as_deref());
    let conditions = w.sql();
    let total = count(
        tx,
        &format!("SELECT COUNT(*) FROM audit_events WHERE tenant_id = $1{conditions}"),
        w.params.clone(),
    )
    .await?;
    let tail = limit_offset(&mut w, page);
    let sql = format!(
        "SELECT pk, at, actor_kind, actor_id, action, subject_kind, subject_id, request_id, detail \
         FROM audit_events WHERE tenant_id = $1{conditions} ORDER BY pk DESC{tail}"
    );
    let rows = tx.fetch(&sql, w.params).await?;
    let items = rows
        .iter()
        .map(|row| {
            let mut r = row.reader();
            Ok(AuditEvent {
                seq: r.int()?,
                at: r.time()?,
                actor_kind: r.text()?,
                actor_id: r.text()?,
                action: r.text()?,
                subject_kind: r.text()?,
                subject_id: r.text()?,
                request_id: r.text()?,
                detail: serde_json::from_str(&r.text()?)
                    .map_err(|e| StoreError::Other(format!("audit detail: {e}")))?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Page { items, total })
}
