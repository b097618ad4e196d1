//! Loads what an engine batch names, in a fixed number of statements whatever its size:
//!
//! 1. the vouchers, found by id, code, reservation or charge, with their tenant's reservation
//!    lifetime: on PostgreSQL locked in primary-key order (so batches of all lanes and nodes
//!    wait for each other but never deadlock);
//! 2. their live holds and the holds the batch names;
//! 3. only if the batch refunds or charges a charged reservation again: the charges named,
//!    with what was refunded of each;
//! 4. only if the batch sets a status or deletes: whether each voucher has entries besides its
//!    issue;
//! 5. only if a reservation names a voucher not found: the tenants, to tell a missing tenant
//!    from a missing voucher;
//! 6. only if the batch names Front Payment reservations, before statement 2: those
//!    reservations (locked), their lines and, when it refunds, their postings
//!    ([`front_load`]); and the vouchers of reservations paid while the batch waited;
//! 7. only if the batch names bleepay voucher codes, before statement 2: those codes (locked)
//!    and the vouchers bound to their contexts ([`bleepay_load`]); and the vouchers of codes
//!    redeemed while the batch waited.
//!
//! Statements 2 to 5 run after the locks are held, so on PostgreSQL they see every change of
//! the transactions the locks waited for (the subqueries of statement 1 do not).

use std::collections::{BTreeSet, HashMap};

use time::OffsetDateTime;
use voucherd_domain::engine::{self, Entry, Hold, Ledger, RowKey, TenantRules, Voucher};
use voucherd_domain::{EntryKind, HoldState};

use super::super::reads::{self, VOUCHER_ROW_COLUMNS};
use super::super::sets::{
    in_ints, in_text_tuples, key_in_locked, sqlite_join_ints, sqlite_join_text_tuples,
};
use super::super::texts::{self, TextKey};
use super::super::{Dialect, SqlExec, Value};
use super::{Planned, bleepay_load, front_load};
use crate::StoreError;
use crate::model::VoucherView;

/// A batch's ledger, and the views the answers are built from: each loaded voucher's, Front
/// Payment reservation's and bleepay code's, by key.
pub(super) struct Loaded {
    pub(super) ledger: Ledger,
    pub(super) views: HashMap<i64, VoucherView>,
    pub(super) front_views: front_load::Views,
    pub(super) code_views: bleepay_load::Views,
}

/// Tenant-scoped names, as two text columns.
#[derive(Default)]
struct Names {
    tenants: Vec<Option<String>>,
    names: Vec<Option<String>>,
}

impl Names {
    fn push(&mut self, tenant_id: &str, name: &str) {
        self.tenants.push(Some(tenant_id.to_string()));
        self.names.push(Some(name.to_string()));
    }

    fn params(&self) -> [Value; 2] {
        [
            Value::Texts(self.tenants.clone()),
            Value::Texts(self.names.clone()),
        ]
    }

    fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// What a batch names, by kind.
#[derive(Default)]
struct Named {
    voucher_ids: Names,
    voucher_codes: Names,
    holds: Names,
    entries: Names,
    /// Tenants that reserve by code (their reservation lifetime is needed).
    reserving_tenants: BTreeSet<String>,
    /// Whether a decision needs to know if a voucher has entries besides its issue.
    needs_activity: bool,
    /// Front Payment reservations, and whether the batch refunds any of their postings.
    reservations: Names,
    refunds_postings: bool,
    /// bleepay voucher codes.
    codes: Names,
}

fn named(batch: &[Planned<'_>]) -> Named {
    let mut n = Named::default();
    for (request, command, _) in batch {
        let t = request.context.tenant_id.as_str();
        match command {
            engine::Command::Reserve { code, .. } => {
                n.voucher_codes.push(t, code);
                n.reserving_tenants.insert(t.to_string());
            }
            engine::Command::Charge { reservation_id, .. }
            | engine::Command::Release { reservation_id } => n.holds.push(t, reservation_id),
            engine::Command::Refund { charge_id, .. } => n.entries.push(t, charge_id),
            engine::Command::Recharge { voucher, .. } => match voucher {
                engine::VoucherName::Id(id) => n.voucher_ids.push(t, id),
                engine::VoucherName::Code(code) => n.voucher_codes.push(t, code),
                engine::VoucherName::Both { id, .. } => n.voucher_ids.push(t, id),
            },
            engine::Command::SetStatus { voucher_id, .. }
            | engine::Command::Delete { voucher_id, .. } => {
                n.voucher_ids.push(t, voucher_id);
                n.needs_activity = true;
            }
            engine::Command::FrontPay {
                reservation_id,
                vouchers,
                ..
            } => {
                for given in vouchers {
                    n.voucher_codes.push(t, &given.code);
                }
                n.reservations.push(t, reservation_id);
            }
            engine::Command::FrontCapture { reservation_id, .. }
            | engine::Command::FrontCharge { reservation_id, .. }
            | engine::Command::FrontClose { reservation_id, .. } => {
                n.reservations.push(t, reservation_id)
            }
            engine::Command::FrontRefund { reservation_id, .. } => {
                n.reservations.push(t, reservation_id);
                n.refunds_postings = true;
            }
            engine::Command::BleepayRedeem { code_id, .. }
            | engine::Command::BleepayResolve { code_id, .. }
            | engine::Command::BleepayDiscard { code_id, .. } => n.codes.push(t, code_id),
        }
    }
    n
}

/// Loads the ledger a batch works on.
pub(super) async fn ledger<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    batch: &[Planned<'_>],
) -> Result<Loaded, StoreError> {
    let named = named(batch);
    let now = batch.first().map_or(OffsetDateTime::UNIX_EPOCH, |b| b.2);
    let mut loaded = Loaded {
        ledger: Ledger::for_batch(batch.len()),
        views: HashMap::new(),
        front_views: HashMap::new(),
        code_views: HashMap::new(),
    };
    let found = vouchers(tx, dialect, &named, &[]).await?;
    let mut pks = add_vouchers(tx, dialect, &named, found, &mut loaded).await?;
    if !named.reservations.is_empty() {
        pks.extend(front(tx, dialect, &named, now, &mut loaded).await?);
    }
    if !named.codes.is_empty() {
        pks.extend(bleepay(tx, dialect, &named, &mut loaded).await?);
    }
    let charged = holds(tx, dialect, &named, &pks, &mut loaded.ledger).await?;
    if !named.entries.is_empty() || !charged.is_empty() {
        entries(tx, dialect, &named, &charged, &mut loaded.ledger).await?;
    }
    let missing: Vec<Option<String>> = named
        .reserving_tenants
        .iter()
        .filter(|t| loaded.ledger.tenant(t).is_none())
        .map(|t| Some(t.clone()))
        .collect();
    if !missing.is_empty() {
        tenants(tx, dialect, missing, &mut loaded.ledger).await?;
    }
    Ok(loaded)
}

/// Loads the vouchers with these keys (locked on PostgreSQL) and all their live holds, for
/// work that starts from keys rather than from commands (the sweeper).
pub(super) async fn vouchers_by_key<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    pks: &[i64],
    ledger: &mut Ledger,
) -> Result<(), StoreError> {
    let named = Named::default();
    for (voucher, _, rules) in vouchers(tx, dialect, &named, pks).await? {
        ledger.load_tenant(&voucher.tenant_id, rules);
        ledger.load_voucher(voucher);
    }
    holds(tx, dialect, &named, pks, ledger).await?;
    Ok(())
}

/// Adds the vouchers found to the batch's ledger (with whether each has activity, where the
/// batch needs to know); answers their keys.
async fn add_vouchers<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    named: &Named,
    mut found: Vec<Found>,
    loaded: &mut Loaded,
) -> Result<Vec<i64>, StoreError> {
    if named.needs_activity && !found.is_empty() {
        activity(tx, dialect, &mut found).await?;
    }
    let mut pks = Vec::with_capacity(found.len());
    for (voucher, view, rules) in found {
        pks.push(voucher.pk);
        loaded.ledger.load_tenant(&voucher.tenant_id, rules);
        loaded.views.insert(voucher.pk, view);
        loaded.ledger.load_voucher(voucher);
    }
    Ok(pks)
}

/// The Front Payment reservations, after the vouchers are locked: a reservation paid by a batch
/// that committed while this one waited names a voucher statement 1 did not see, which is then
/// locked too. Answers the keys of those vouchers.
async fn front<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    named: &Named,
    now: OffsetDateTime,
    loaded: &mut Loaded,
) -> Result<Vec<i64>, StoreError> {
    let names = named.reservations.params();
    let (views, paid_with) =
        front_load::reservations(tx, dialect, names, now, &mut loaded.ledger).await?;
    loaded.front_views = views;
    let pks = lock_unseen(tx, dialect, named, paid_with, loaded).await?;
    if !loaded.front_views.is_empty() {
        front_load::lines(tx, dialect, &mut loaded.front_views, &mut loaded.ledger).await?;
        if named.refunds_postings {
            let reservation_pks = loaded.front_views.keys().map(|pk| Some(*pk)).collect();
            front_load::postings(tx, dialect, reservation_pks, &mut loaded.ledger).await?;
        }
    }
    Ok(pks)
}

/// The bleepay voucher codes, after the vouchers are locked (a code redeemed by a batch that
/// committed while this one waited holds on a voucher then locked too), and the vouchers bound
/// to their contexts. Answers the keys of the vouchers locked here.
async fn bleepay<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    named: &Named,
    loaded: &mut Loaded,
) -> Result<Vec<i64>, StoreError> {
    let names = named.codes.params();
    let found = bleepay_load::codes(tx, dialect, names, &mut loaded.ledger).await?;
    loaded.code_views = found.views;
    let pks = lock_unseen(tx, dialect, named, found.held_on, loaded).await?;
    if !found.contexts.is_empty() {
        let contexts = found.contexts.into_iter().map(Some).collect();
        bleepay_load::bindings(tx, dialect, contexts, &mut loaded.ledger).await?;
    }
    Ok(pks)
}

/// Locks and loads the vouchers of `named` rows that the first load did not see (changed by a
/// batch that committed while this one waited for their locks); answers their keys.
async fn lock_unseen<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    named: &Named,
    voucher_pks: Vec<i64>,
    loaded: &mut Loaded,
) -> Result<Vec<i64>, StoreError> {
    let unseen: Vec<i64> = voucher_pks
        .into_iter()
        .filter(|pk| !loaded.views.contains_key(pk))
        .collect();
    if unseen.is_empty() {
        return Ok(Vec::new());
    }
    let found = vouchers(tx, dialect, &Named::default(), &unseen).await?;
    add_vouchers(tx, dialect, named, found, loaded).await
}

/// A voucher as found, its view, and its tenant's rules.
type Found = (Voucher, VoucherView, TenantRules);

/// A way statement 1 finds vouchers (`name`): the rows of `table` named by tenant and name (the
/// two `columns`), through `via` (a further table and its join condition) to the voucher key
/// `voucher_pk`.
struct Finder {
    name: &'static str,
    table: &'static str,
    columns: [&'static str; 2],
    via: Option<(&'static str, &'static str)>,
    voucher_pk: &'static str,
}

const BY_ID: Finder = Finder {
    name: "by id",
    table: "vouchers x",
    columns: ["x.tenant_id", "x.id"],
    via: None,
    voucher_pk: "x.pk",
};
const BY_CODE: Finder = Finder {
    name: "by code",
    columns: ["x.tenant_id", "x.code"],
    ..BY_ID
};
const BY_HOLD: Finder = Finder {
    name: "by hold",
    table: "holds x",
    voucher_pk: "x.voucher_pk",
    ..BY_ID
};
const BY_ENTRY: Finder = Finder {
    name: "by entry",
    table: "entries x",
    ..BY_HOLD
};
const BY_FRONT_RESERVATION: Finder = Finder {
    name: "by Front Payment reservation",
    table: "front_reservations x",
    via: Some(("front_payers p", "p.reservation_pk = x.pk")),
    voucher_pk: "p.voucher_pk",
    ..BY_ID
};
const BY_BLEEPAY_CODE: Finder = Finder {
    name: "by bleepay code",
    table: "bleepay_vouchers x",
    ..BY_HOLD
};
/// The vouchers a redeem may choose from: those bound to the code's context.
const BY_BLEEPAY_CONTEXT: Finder = Finder {
    name: "by bleepay context",
    via: Some(("bleepay_bindings bb", "bb.context_pk = x.context_pk")),
    voucher_pk: "bb.voucher_pk",
    ..BY_BLEEPAY_CODE
};

/// The columns statement 1 reads of each voucher.
const FOUND_COLUMNS: &str = "v.tenant_id, t.reservation_ttl_seconds";

impl Finder {
    /// PostgreSQL: the voucher keys found, the names bound at `$at` and `$at + 1`.
    fn keys(&self, dialect: Dialect, at: usize) -> String {
        let via = self
            .via
            .map(|(table, on)| format!(" JOIN {table} ON {on}"))
            .unwrap_or_default();
        format!(
            "SELECT {} FROM {}{via} WHERE {}",
            self.voucher_pk,
            self.table,
            in_text_tuples(dialect, &self.columns, at)
        )
    }

    /// SQLite: the vouchers found, whole, as a join driven by the names bound at `$at` and
    /// `$at + 1` (no temporary b-tree per execution).
    fn sqlite_rows(&self, at: usize) -> String {
        let via = self
            .via
            .map(|(table, on)| format!(" CROSS JOIN {table} ON {on}"))
            .unwrap_or_default();
        sqlite_voucher_rows(&format!(
            "{}{via} CROSS JOIN vouchers v ON v.pk = {}",
            sqlite_join_text_tuples(self.table, &self.columns, at),
            self.voucher_pk,
        ))
    }
}

/// SQLite: the columns of statement 1 for the vouchers `joined` binds as `v`.
fn sqlite_voucher_rows(joined: &str) -> String {
    format!(
        "SELECT {VOUCHER_ROW_COLUMNS}, {FOUND_COLUMNS} FROM {joined} \
         CROSS JOIN tenants t ON t.id = v.tenant_id WHERE v.deleted_at IS NULL"
    )
}

/// The text of statement 1 with these finders, and one by key if `by_key` (made once per
/// process for each combination).
fn vouchers_statement(dialect: Dialect, finders: &[&Finder], by_key: bool) -> &'static str {
    let mut parts: Vec<&'static str> = finders.iter().map(|finder| finder.name).collect();
    if by_key {
        parts.push("by key");
    }
    let key = TextKey {
        site: "load::vouchers",
        dialect,
        parts,
    };
    texts::once(key, || {
        let mut branches = Vec::new();
        for (index, finder) in finders.iter().enumerate() {
            let at = 2 * index + 1;
            branches.push(match dialect {
                Dialect::Postgres => finder.keys(dialect, at),
                Dialect::Sqlite => finder.sqlite_rows(at),
            });
        }
        if by_key {
            let at = 2 * finders.len() + 1;
            branches.push(match dialect {
                Dialect::Postgres => {
                    format!(
                        "SELECT pk FROM vouchers WHERE {}",
                        in_ints(dialect, "pk", at)
                    )
                }
                Dialect::Sqlite => sqlite_voucher_rows(&sqlite_join_ints("vouchers v", "v.pk", at)),
            });
        }
        match dialect {
            Dialect::Postgres => format!(
                "SELECT {VOUCHER_ROW_COLUMNS}, {FOUND_COLUMNS} \
                 FROM vouchers v JOIN tenants t ON t.id = v.tenant_id \
                 WHERE v.deleted_at IS NULL AND {} ORDER BY v.pk{}",
                key_in_locked(dialect, "v.pk", &branches.join(" UNION ALL ")),
                dialect.voucher_lock_clause(),
            ),
            // No locks to order: the branches' rows as they come, sorted and made unique by
            // the caller.
            Dialect::Sqlite => branches.join(" UNION ALL "),
        }
    })
}

/// Statement 1: the vouchers, locked in key order on PostgreSQL: named by id or code, through
/// the holds, entries and Front Payment reservations named, or by key (`pks`). Only their own
/// columns: statement 2 reads their live holds, and statement 4 whether they have activity.
/// Answered in key order, each voucher once.
async fn vouchers<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    named: &Named,
    pks: &[i64],
) -> Result<Vec<Found>, StoreError> {
    let mut finders = vec![
        (&BY_ID, &named.voucher_ids),
        (&BY_CODE, &named.voucher_codes),
        (&BY_HOLD, &named.holds),
        (&BY_ENTRY, &named.entries),
    ];
    // Only batches that need them carry the further finders, so the payment commands' text
    // (and its cached plan) stays as it is.
    if !named.reservations.is_empty() {
        finders.push((&BY_FRONT_RESERVATION, &named.reservations));
    }
    if !named.codes.is_empty() {
        finders.push((&BY_BLEEPAY_CODE, &named.codes));
        finders.push((&BY_BLEEPAY_CONTEXT, &named.codes));
    }
    let mut params: Vec<Value> = Vec::new();
    for (_, names) in &finders {
        params.extend(names.params());
    }
    if !pks.is_empty() {
        params.push(Value::Ints(pks.iter().map(|pk| Some(*pk)).collect()));
    }
    let finders: Vec<&Finder> = finders.into_iter().map(|(finder, _)| finder).collect();
    let sql = vouchers_statement(dialect, &finders, !pks.is_empty());
    let mut found = Vec::new();
    for row in tx.fetch(sql, params).await? {
        let mut r = row.reader();
        let (pk, view) = reads::read_voucher_row(&mut r)?;
        let tenant_id = r.text()?;
        let rules = TenantRules {
            reservation_ttl_seconds: r.int()?,
        };
        let voucher = Voucher {
            pk,
            tenant_id,
            id: view.id.clone(),
            code: view.code.clone(),
            pin: view.pin.clone(),
            status: view.status,
            currency: view.currency,
            valid_until: view.valid_until,
            validity: view.validity,
            remaining_minor: view.remaining_minor,
            // Statement 4 reads it for the batches that need it.
            has_activity: false,
            deleted_at: None,
            delete_comment: None,
            updated_at: view.updated_at,
        };
        found.push((voucher, view, rules));
    }
    found.sort_by_key(|(voucher, _, _)| voucher.pk);
    found.dedup_by_key(|(voucher, _, _)| voucher.pk);
    Ok(found)
}

/// The columns of a hold that [`read_hold`] reads.
pub(super) const HOLD_COLUMNS: &str = "h.pk, h.tenant_id, h.id, h.voucher_pk, h.client_id, h.purpose, \
     h.amount_minor, h.currency, h.state, h.expires_at, h.charge_entry_pk, \
     (SELECT e.id FROM entries e WHERE e.pk = h.charge_entry_pk), h.created_at, h.updated_at";

/// Statement 2: the live holds of the vouchers and the holds named; answers the keys of the
/// charges of charged holds among them.
async fn holds<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    named: &Named,
    pks: &[i64],
    ledger: &mut Ledger,
) -> Result<Vec<i64>, StoreError> {
    if pks.is_empty() {
        return Ok(Vec::new());
    }
    let key = TextKey {
        site: "load::holds",
        dialect,
        parts: Vec::new(),
    };
    let sql = texts::once(key, || match dialect {
        Dialect::Postgres => format!(
            "SELECT {HOLD_COLUMNS} FROM holds h WHERE {} AND h.state = 'live' \
             UNION ALL SELECT {HOLD_COLUMNS} FROM holds h WHERE {}",
            in_ints(dialect, "h.voucher_pk", 1),
            in_text_tuples(dialect, &["h.tenant_id", "h.id"], 2),
        ),
        Dialect::Sqlite => format!(
            "SELECT {HOLD_COLUMNS} FROM {} WHERE h.state = 'live' \
             UNION ALL SELECT {HOLD_COLUMNS} FROM {}",
            sqlite_join_ints("holds h", "h.voucher_pk", 1),
            sqlite_join_text_tuples("holds h", &["h.tenant_id", "h.id"], 2),
        ),
    });
    let mut params = vec![Value::Ints(pks.iter().map(|pk| Some(*pk)).collect())];
    params.extend(named.holds.params());
    let mut charged = Vec::new();
    for row in tx.fetch(sql, params).await? {
        let hold = read_hold(&row)?;
        if let Some((RowKey::Stored(entry_pk), _)) = &hold.charge {
            charged.push(*entry_pk);
        }
        ledger.load_hold(hold);
    }
    Ok(charged)
}

pub(super) fn read_hold(row: &super::super::Row) -> Result<Hold, StoreError> {
    let mut r = row.reader();
    let pk = r.int()?;
    let tenant_id = r.text()?;
    let id = r.text()?;
    let voucher_pk = r.int()?;
    let client_id = r.opt_text()?;
    let purpose = r.text()?;
    let amount_minor = r.int()?;
    let currency = reads::currency(&mut r)?;
    let state = reads::parsed(&mut r, "hold state", HoldState::parse)?;
    let expires_at = r.time()?;
    let charge_pk = r.opt_int()?;
    let charge_id = r.opt_text()?;
    Ok(Hold {
        key: RowKey::Stored(pk),
        tenant_id,
        id,
        voucher_pk,
        client_id,
        purpose,
        amount_minor,
        currency,
        state,
        expires_at,
        charge: charge_pk
            .zip(charge_id)
            .map(|(pk, id)| (RowKey::Stored(pk), id)),
        created_at: r.time()?,
        updated_at: r.time()?,
    })
}

const ENTRY_COLUMNS: &str = "e.pk, e.tenant_id, e.id, e.voucher_pk, v.id, e.client_id, e.kind, \
     e.amount_minor, e.currency, e.order_number, e.refund_of_pk, \
     (SELECT r.id FROM entries r WHERE r.pk = e.refund_of_pk), e.hold_pk, e.created_at, \
     CAST(COALESCE((SELECT SUM(r.amount_minor) FROM entries r WHERE r.refund_of_pk = e.pk), 0) \
     AS BIGINT)";

/// Statement 3: the entries named and the charges of the charged holds loaded, each with the
/// sum refunded of it.
async fn entries<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    named: &Named,
    charged: &[i64],
    ledger: &mut Ledger,
) -> Result<(), StoreError> {
    let key = TextKey {
        site: "load::entries",
        dialect,
        parts: Vec::new(),
    };
    let sql = texts::once(key, || match dialect {
        Dialect::Postgres => format!(
            "SELECT {ENTRY_COLUMNS} FROM entries e JOIN vouchers v ON v.pk = e.voucher_pk \
             WHERE {} UNION ALL SELECT {ENTRY_COLUMNS} FROM entries e \
             JOIN vouchers v ON v.pk = e.voucher_pk WHERE {}",
            in_text_tuples(dialect, &["e.tenant_id", "e.id"], 1),
            in_ints(dialect, "e.pk", 3),
        ),
        Dialect::Sqlite => format!(
            "SELECT {ENTRY_COLUMNS} FROM {} CROSS JOIN vouchers v ON v.pk = e.voucher_pk \
             UNION ALL SELECT {ENTRY_COLUMNS} FROM {} CROSS JOIN vouchers v ON v.pk = e.voucher_pk",
            sqlite_join_text_tuples("entries e", &["e.tenant_id", "e.id"], 1),
            sqlite_join_ints("entries e", "e.pk", 3),
        ),
    });
    let mut params = named.entries.params().to_vec();
    params.push(Value::Ints(charged.iter().map(|pk| Some(*pk)).collect()));
    for row in tx.fetch(sql, params).await? {
        let mut r = row.reader();
        let key = RowKey::Stored(r.int()?);
        let tenant_id = r.text()?;
        let id = r.text()?;
        let voucher_pk = r.int()?;
        let voucher_id = r.text()?;
        let client_id = r.opt_text()?;
        let kind = reads::parsed(&mut r, "entry kind", EntryKind::parse)?;
        let amount_minor = r.int()?;
        let currency = reads::currency(&mut r)?;
        let order_number = r.opt_text()?;
        let refund_of = r.opt_int()?.zip(r.opt_text()?);
        let hold = r.opt_int()?;
        ledger.load_entry(Entry {
            key,
            tenant_id,
            id,
            voucher_pk,
            voucher_id,
            client_id,
            kind,
            amount_minor,
            currency,
            order_number,
            refund_of: refund_of.map(|(pk, id)| (RowKey::Stored(pk), id)),
            hold: hold.map(RowKey::Stored),
            created_at: r.time()?,
            refunded_minor: r.int()?,
        });
    }
    Ok(())
}

/// Statement 4: whether each voucher has entries besides its issue (on PostgreSQL read after
/// the locks are held).
async fn activity<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    found: &mut [Found],
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT v.pk, EXISTS (SELECT 1 FROM entries e WHERE e.voucher_pk = v.pk \
         AND e.kind <> 'issue') FROM vouchers v WHERE {}",
        in_ints(dialect, "v.pk", 1)
    );
    let params = vec![Value::Ints(found.iter().map(|f| Some(f.0.pk)).collect())];
    let mut activity = HashMap::new();
    for row in tx.fetch(&sql, params).await? {
        let mut r = row.reader();
        activity.insert(r.int()?, r.bool()?);
    }
    for (voucher, _, _) in found {
        if let Some(has) = activity.get(&voucher.pk) {
            voucher.has_activity = *has;
        }
    }
    Ok(())
}

/// Statement 5: tenants that reserve but whose vouchers were not found.
async fn tenants<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    missing: Vec<Option<String>>,
    ledger: &mut Ledger,
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT id, reservation_ttl_seconds FROM tenants WHERE {}",
        in_text_tuples(dialect, &["id"], 1)
    );
    for row in tx.fetch(&sql, vec![Value::Texts(missing)]).await? {
        let mut r = row.reader();
        let id = r.text()?;
        ledger.load_tenant(
            &id,
            TenantRules {
                reservation_ttl_seconds: r.int()?,
            },
        );
    }
    Ok(())
}
