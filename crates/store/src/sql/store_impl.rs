//! [`SqlStore`]: the [`Store`] implementation for any [`Backend`]. It decides how commands
//! reach the database (group-committed by a writer task, or one transaction each with bounded
//! retries on conflicts) and serves the reads.

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};
use voucherd_domain::integrity::{self, VoucherTotals};

use std::sync::Arc;

use super::bleepay_reads::{self, ContextKey};
use super::command_tx::execute_alone;
use super::console_reads;
use super::engine::KeyBlocks;
use super::front_reads;
use super::reads::{self, VoucherKey};
use super::report_reads;
use super::series_reads;
use super::writer::{GroupCommit, Writer};
use super::{Backend, SqlExec, Value};
use tokio::sync::Notify;
use voucherd_domain::bleepay::CodeStatus;

use crate::bleepay::{
    BleepayCaller, BleepayGrant, CodeView, ContextView, ListWindow, PayerCredential, PayerKind,
    PayerVoucherView,
};
use crate::command::{CommandRequest, Execution};
use crate::console::{ConsoleSession, ConsoleUser, ConsoleUserView};
use crate::events::{EventFilter, StoredEvent};
use crate::front::{
    CallbackAttempt, FrontCallback, FrontEventView, FrontReservationView, MerchantGrant,
};
use crate::model::{
    AuditEvent, AuditFilter, Client, ClientGroup, DEFAULT_TENANT_ID, EntryFilter, EntryView,
    HoldView, IDEMPOTENCY_TTL_SECONDS, IntegrityReport, MerchantToken, Page, PageRequest,
    SweepReport, Tenant, TokenGrant, VoucherFilter, VoucherView,
};
use crate::report::Report;
use crate::series::SeriesView;
use crate::webhooks::{WebhookAttempt, WebhookEndpoint, WebhookProgress, WebhookTarget};
use crate::{Actor, Command, CommandContext, Store, StoreError};

/// The integrity check's holds and entries of a tenant (`$1`) that name a voucher, or a hold,
/// that is not the tenant's: kind, id, the voucher's id if found, 1 if the hold is found (or
/// none is named). PostgreSQL keeps no foreign keys on these rows (its migration 11).
const UNRESOLVED_REFERENCES: &str = "SELECT 'hold', h.id, v.id, CAST(1 AS BIGINT) FROM holds h \
     LEFT JOIN vouchers v ON v.pk = h.voucher_pk AND v.tenant_id = h.tenant_id \
     WHERE h.tenant_id = $1 AND v.pk IS NULL \
     UNION ALL \
     SELECT 'entry', e.id, v.id, \
     CAST(CASE WHEN e.hold_pk IS NULL OR h.pk IS NOT NULL THEN 1 ELSE 0 END AS BIGINT) \
     FROM entries e \
     LEFT JOIN vouchers v ON v.pk = e.voucher_pk AND v.tenant_id = e.tenant_id \
     LEFT JOIN holds h ON h.pk = e.hold_pk AND h.tenant_id = e.tenant_id \
     WHERE e.tenant_id = $1 AND (v.pk IS NULL OR (e.hold_pk IS NOT NULL AND h.pk IS NULL))";

/// Vouchers read per query by the integrity check.
const INTEGRITY_CHUNK_ROWS: i64 = 5_000;

/// The shared-SQL store on one backend.
pub struct SqlStore<B: Backend> {
    backend: Arc<B>,
    /// Present when commands are group-committed by one writer task.
    writer: Option<Writer>,
    /// Woken when a commit wrote events (the feed's long-polls wait on it).
    event_signal: Arc<Notify>,
    /// Keys for new holds and entries drawn ahead (PostgreSQL), shared by every writer.
    key_blocks: Arc<KeyBlocks>,
}

impl<B: Backend> SqlStore<B> {
    /// A store that runs each command in its own transaction, as many at once as the backend
    /// allows (PostgreSQL: row locks serialise commands on the same voucher).
    pub fn new(backend: B) -> Self {
        SqlStore {
            backend: Arc::new(backend),
            writer: None,
            event_signal: Arc::new(Notify::new()),
            key_blocks: Arc::default(),
        }
    }

    /// A store whose commands are group-committed by writer lanes, each committing what is
    /// waiting as one transaction (SQLite: one lane, its single writer; PostgreSQL: several
    /// lanes per node, one loading its batch while the others write and commit). Must be called
    /// inside a Tokio runtime.
    /// `event_signal` is woken after every commit that wrote events. Fails only if a lane's
    /// thread cannot be started.
    pub fn with_group_commit(
        backend: B,
        config: GroupCommit,
        event_signal: Arc<Notify>,
    ) -> Result<Self, StoreError> {
        let backend = Arc::new(backend);
        let key_blocks = Arc::new(KeyBlocks::default());
        let writer = Some(Writer::spawn(
            backend.clone(),
            config,
            event_signal.clone(),
            key_blocks.clone(),
        )?);
        Ok(SqlStore {
            backend,
            writer,
            event_signal,
            key_blocks,
        })
    }
}

#[cfg(feature = "conformance")]
impl<B: Backend> SqlStore<B> {
    /// Runs `requests` as one engine batch in a transaction that is then rolled back, and
    /// answers the statements it ran, in order (its BEGIN and COMMIT not among them), with the
    /// batch's answers. For tests that hold a batch to its statement budget.
    pub async fn engine_batch_statements(
        &self,
        requests: &[CommandRequest],
    ) -> Result<(Vec<String>, Vec<Execution>), StoreError> {
        let mut tx = self.backend.begin_write().await?;
        let mut recording = super::engine::Recording {
            inner: &mut tx,
            statements: Vec::new(),
        };
        let refs: Vec<&CommandRequest> = requests.iter().collect();
        let dialect = self.backend.dialect();
        let mut events = Vec::new();
        // Keys of its own, drawn for this batch alone: the statements counted are those of a
        // batch whose node has no keys left, the most a batch makes.
        let blocks = KeyBlocks::default();
        let executions =
            super::engine::run(&mut recording, dialect, &refs, &mut events, &blocks).await?;
        super::events::append(&mut recording, dialect, &events).await?;
        Ok((recording.statements, executions))
    }

    /// Runs one command outside the engine as a batch runs it, in a transaction that is then
    /// rolled back, and answers the statements it ran, in order, with its answer.
    pub async fn command_statements(
        &self,
        request: &CommandRequest,
    ) -> Result<(Vec<String>, Execution), StoreError> {
        let mut tx = self.backend.begin_write().await?;
        let mut recording = super::engine::Recording {
            inner: &mut tx,
            statements: Vec::new(),
        };
        let mut events = Vec::new();
        let execution = super::command_tx::run_command(
            &mut recording,
            self.backend.dialect(),
            request,
            &mut events,
        )
        .await?;
        Ok((recording.statements, execution))
    }

    /// Runs `script` in a write transaction and commits it: for tests that put a database back
    /// the way an earlier version left it.
    pub async fn execute_script(&self, script: &str) -> Result<(), StoreError> {
        let mut tx = self.backend.begin_write().await?;
        tx.execute_script(script).await?;
        B::commit(tx).await
    }
}

/// Runs `$body` with `$tx` bound to a fresh read transaction, then commits it. An early
/// return through `?` drops the transaction, which rolls it back. `in_read!(self, begin_single,
/// |tx| ...)` opens it with [`Backend::begin_single`], for reads of one statement;
/// `in_read!(self, begin_scan, |tx| ...)` with [`Backend::begin_scan`], for reads that go
/// through much of a tenant's ledger.
macro_rules! in_read {
    ($self:ident, |$tx:ident| $body:expr) => {
        in_read!($self, begin_read, |$tx| $body)
    };
    ($self:ident, $begin:ident, |$tx:ident| $body:expr) => {{
        let mut owned = $self.backend.$begin().await?;
        let result = {
            let $tx = &mut owned;
            $body
        };
        B::commit(owned).await?;
        result
    }};
}

#[async_trait]
impl<B: Backend> Store for SqlStore<B> {
    async fn execute(&self, request: CommandRequest) -> Result<Execution, StoreError> {
        match &self.writer {
            Some(writer) => writer.submit(request).await,
            // Boxed: run in place, its state (a whole command's statements) would make every
            // submission's future that large, to be allocated and copied on each call.
            None => {
                Box::pin(execute_alone(
                    self.backend.as_ref(),
                    &request,
                    &self.event_signal,
                    &self.key_blocks,
                ))
                .await
            }
        }
    }

    async fn bootstrap(&self, now: OffsetDateTime) -> Result<(), StoreError> {
        if self.tenant(DEFAULT_TENANT_ID).await?.is_some() {
            return Ok(());
        }
        let request = CommandRequest {
            context: CommandContext {
                tenant_id: DEFAULT_TENANT_ID.into(),
                actor: Actor::System,
                request_id: "bootstrap".into(),
                now,
            },
            command: Command::CreateTenant {
                id: Some(DEFAULT_TENANT_ID.into()),
                name: "Default".into(),
            },
            idempotency: None,
        };
        // Two nodes starting at once may both try; the loser sees the tenant taken.
        self.execute(request).await.map(|_| ())
    }

    async fn admin_token_digest(&self) -> Result<Option<String>, StoreError> {
        in_read!(self, begin_single, |tx| {
            tx.fetch_optional(
                "SELECT value FROM meta WHERE key = 'admin_token_digest'",
                vec![],
            )
            .await?
            .map(|row| row.reader().text())
            .transpose()
        })
    }

    async fn store_admin_token_digest(&self, digest: &str) -> Result<bool, StoreError> {
        let mut tx = self.backend.begin_write().await?;
        let inserted = tx
            .execute(
                "INSERT INTO meta (key, value) VALUES ('admin_token_digest', $1) \
                 ON CONFLICT (key) DO NOTHING",
                vec![digest.into()],
            )
            .await?;
        B::commit(tx).await?;
        Ok(inserted == 1)
    }

    async fn tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, StoreError> {
        in_read!(self, begin_single, |tx| reads::tenant(tx, tenant_id).await)
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        in_read!(self, begin_single, |tx| {
            let sql = format!(
                "SELECT {} FROM tenants ORDER BY created_at, id",
                reads::TENANT_COLUMNS
            );
            tx.fetch(&sql, vec![])
                .await?
                .iter()
                .map(reads::tenant_row)
                .collect()
        })
    }

    async fn client_groups(&self, tenant_id: &str) -> Result<Vec<ClientGroup>, StoreError> {
        in_read!(self, |tx| reads::client_groups(tx, tenant_id).await)
    }

    async fn clients(&self, tenant_id: &str) -> Result<Vec<Client>, StoreError> {
        in_read!(self, |tx| reads::clients(tx, tenant_id).await)
    }

    async fn client(&self, tenant_id: &str, client_id: &str) -> Result<Option<Client>, StoreError> {
        in_read!(self, begin_single, |tx| reads::client(
            tx, tenant_id, client_id
        )
        .await)
    }

    async fn merchant_tokens(&self, tenant_id: &str) -> Result<Vec<MerchantToken>, StoreError> {
        in_read!(self, begin_single, |tx| {
            let rows = tx
                .fetch(
                    "SELECT id, name, created_at, revoked_at FROM merchant_tokens \
                     WHERE tenant_id = $1 ORDER BY created_at, id",
                    vec![tenant_id.into()],
                )
                .await?;
            rows.iter()
                .map(|row| {
                    let mut r = row.reader();
                    Ok(MerchantToken {
                        id: r.text()?,
                        name: r.text()?,
                        created_at: r.time()?,
                        revoked_at: r.opt_time()?,
                    })
                })
                .collect()
        })
    }

    async fn token_grant(
        &self,
        token_digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<TokenGrant>, StoreError> {
        in_read!(self, begin_single, |tx| {
            let row = tx
                .fetch_optional(
                    "SELECT tenant_id, client_id, scopes, expires_at FROM access_tokens \
                     WHERE token_digest = $1 AND expires_at > $2",
                    vec![token_digest.into(), now.into()],
                )
                .await?;
            row.map(|row| {
                let mut r = row.reader();
                let (tenant_id, client_id, scopes, expires_at) =
                    (r.text()?, r.text()?, r.text()?, r.time()?);
                Ok(TokenGrant {
                    tenant_id,
                    client_id,
                    scopes: voucherd_domain::Scope::parse_list(&scopes)
                        .ok_or_else(|| StoreError::Other("stored token scopes invalid".into()))?,
                    expires_at,
                })
            })
            .transpose()
        })
    }

    async fn voucher(
        &self,
        tenant_id: &str,
        voucher_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<VoucherView>, StoreError> {
        in_read!(self, begin_single, |tx| {
            Ok(
                reads::voucher(tx, tenant_id, VoucherKey::Id(voucher_id), now)
                    .await?
                    .map(|r| r.view),
            )
        })
    }

    async fn vouchers(
        &self,
        tenant_id: &str,
        filter: &VoucherFilter,
        page: PageRequest,
        now: OffsetDateTime,
    ) -> Result<Page<VoucherView>, StoreError> {
        in_read!(self, |tx| reads::vouchers(tx, tenant_id, filter, page, now)
            .await)
    }

    async fn entries(
        &self,
        tenant_id: &str,
        voucher_id: &str,
        filter: &EntryFilter,
        page: PageRequest,
    ) -> Result<Option<Page<EntryView>>, StoreError> {
        in_read!(self, |tx| {
            // The time only matters for the held amount, which a list of entries does not show.
            let epoch = OffsetDateTime::UNIX_EPOCH;
            let Some(voucher) =
                reads::voucher(tx, tenant_id, VoucherKey::Id(voucher_id), epoch).await?
            else {
                return Ok(None);
            };
            Ok(Some(
                reads::entries(tx, tenant_id, voucher.pk, filter, page).await?,
            ))
        })
    }

    async fn entry(
        &self,
        tenant_id: &str,
        voucher_id: &str,
        entry_id: &str,
    ) -> Result<Option<EntryView>, StoreError> {
        in_read!(self, begin_single, |tx| {
            Ok(reads::entry(tx, tenant_id, entry_id, Some(voucher_id))
                .await?
                .filter(|e| e.kind != voucherd_domain::EntryKind::Issue))
        })
    }

    async fn reservation(
        &self,
        tenant_id: &str,
        reservation_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<HoldView>, StoreError> {
        in_read!(self, begin_single, |tx| {
            Ok(reads::hold(
                tx,
                tenant_id,
                reservation_id,
                super::ledger::PURPOSE_RESERVATION,
                now,
            )
            .await?)
        })
    }

    async fn voucher_holds(
        &self,
        tenant_id: &str,
        voucher_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<HoldView>, StoreError> {
        in_read!(self, |tx| {
            let Some(voucher) =
                reads::voucher(tx, tenant_id, VoucherKey::Id(voucher_id), now).await?
            else {
                return Ok(Vec::new());
            };
            reads::voucher_holds(tx, tenant_id, voucher.pk, now).await
        })
    }

    async fn audit(
        &self,
        tenant_id: &str,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, StoreError> {
        in_read!(self, |tx| reads::audit(tx, tenant_id, filter, page).await)
    }

    async fn integrity(
        &self,
        tenant_id: &str,
        now: OffsetDateTime,
    ) -> Result<IntegrityReport, StoreError> {
        in_read!(self, begin_scan, |tx| {
            let mut report = IntegrityReport {
                vouchers_checked: 0,
                violations: Vec::new(),
            };
            let mut after_pk = 0_i64;
            loop {
                let rows = tx
                    .fetch(
                        "SELECT v.pk, v.id, v.remaining_minor, \
                         CAST(COALESCE((SELECT SUM(CASE WHEN e.kind = 'charge' THEN -e.amount_minor \
                            ELSE e.amount_minor END) FROM entries e WHERE e.voucher_pk = v.pk), 0) AS BIGINT), \
                         CAST(COALESCE((SELECT SUM(h.amount_minor) FROM holds h WHERE h.voucher_pk = v.pk \
                            AND h.state = 'live' AND h.expires_at > $3), 0) AS BIGINT) \
                         FROM vouchers v WHERE v.tenant_id = $1 AND v.pk > $2 ORDER BY v.pk LIMIT $4",
                        vec![tenant_id.into(), after_pk.into(), now.into(), INTEGRITY_CHUNK_ROWS.into()],
                    )
                    .await?;
                if rows.is_empty() {
                    break;
                }
                for row in &rows {
                    let mut r = row.reader();
                    after_pk = r.int()?;
                    let totals = VoucherTotals {
                        voucher_id: r.text()?,
                        recorded_remaining_minor: r.int()?,
                        ledger_remaining_minor: r.int()?,
                        held_minor: r.int()?,
                    };
                    report.vouchers_checked += 1;
                    report.violations.extend(integrity::check_voucher(&totals));
                }
            }
            let over_refunded = tx
                .fetch(
                    "SELECT v.id, c.id, c.amount_minor, CAST(SUM(r.amount_minor) AS BIGINT) \
                     FROM entries r JOIN entries c ON c.pk = r.refund_of_pk \
                     JOIN vouchers v ON v.pk = c.voucher_pk \
                     WHERE r.tenant_id = $1 AND r.kind = 'refund' \
                     GROUP BY v.id, c.id, c.amount_minor HAVING SUM(r.amount_minor) > c.amount_minor",
                    vec![tenant_id.into()],
                )
                .await?;
            for row in &over_refunded {
                let mut r = row.reader();
                let (voucher_id, charge_id, charge, refunded) =
                    (r.text()?, r.text()?, r.int()?, r.int()?);
                report.violations.extend(integrity::check_refunds(
                    &voucher_id,
                    &charge_id,
                    charge,
                    refunded,
                ));
            }
            for row in &tx
                .fetch(UNRESOLVED_REFERENCES, vec![tenant_id.into()])
                .await?
            {
                let mut r = row.reader();
                let row = integrity::LedgerRow {
                    kind: if r.text()? == "hold" { "hold" } else { "entry" },
                    id: r.text()?,
                    voucher_id: r.opt_text()?,
                    hold_found: r.int()? == 1,
                };
                report.violations.extend(integrity::check_references(&row));
            }
            Ok(report)
        })
    }

    async fn sweep(&self, now: OffsetDateTime) -> Result<SweepReport, StoreError> {
        let mut tx = self.backend.begin_write().await?;
        let dialect = self.backend.dialect();
        let mut expiries = Vec::new();
        let holds_expired =
            super::engine::expire_holds(&mut tx, dialect, now, &mut expiries).await?;
        let idempotency_keys_dropped = tx
            .execute(
                "DELETE FROM idempotency_keys WHERE created_at <= $1",
                vec![(now - Duration::seconds(IDEMPOTENCY_TTL_SECONDS)).into()],
            )
            .await?;
        let tokens_dropped = tx
            .execute(
                "DELETE FROM access_tokens WHERE expires_at <= $1",
                vec![now.into()],
            )
            .await?
            + tx.execute(
                "DELETE FROM bleepay_tokens WHERE expires_at <= $1",
                vec![now.into()],
            )
            .await?;
        tx.execute(
            "DELETE FROM connection_pins WHERE expires_at <= $1",
            vec![Value::from(now)],
        )
        .await?;
        tx.execute(
            "DELETE FROM console_sessions WHERE expires_at <= $1",
            vec![Value::from(now)],
        )
        .await?;
        super::events::append(&mut tx, dialect, &expiries).await?;
        B::commit(tx).await?;
        if !expiries.is_empty() {
            self.event_signal.notify_waiters();
        }
        Ok(SweepReport {
            holds_expired,
            idempotency_keys_dropped,
            tokens_dropped,
        })
    }

    async fn merchant_grant(
        &self,
        token_digest: &str,
    ) -> Result<Option<MerchantGrant>, StoreError> {
        in_read!(self, |tx| {
            tx.fetch_optional(
                "SELECT tenant_id, id FROM merchant_tokens \
                 WHERE token_digest = $1 AND revoked_at IS NULL",
                vec![token_digest.into()],
            )
            .await?
            .map(|row| {
                let mut r = row.reader();
                Ok(MerchantGrant {
                    tenant_id: r.text()?,
                    token_id: r.text()?,
                })
            })
            .transpose()
        })
    }

    async fn front_reservation(
        &self,
        tenant_id: Option<&str>,
        reservation_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<FrontReservationView>, StoreError> {
        in_read!(self, |tx| {
            Ok::<_, StoreError>(
                front_reads::reservation(tx, tenant_id, reservation_id, now)
                    .await?
                    .map(|record| record.view),
            )
        })
    }

    async fn front_history(
        &self,
        tenant_id: &str,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<FrontEventView>, StoreError> {
        in_read!(self, |tx| front_reads::events(tx, tenant_id, since, until)
            .await)
    }

    async fn bleepay_grant(
        &self,
        token_digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<BleepayGrant>, StoreError> {
        in_read!(self, |tx| bleepay_reads::grant(tx, token_digest, now).await)
    }

    async fn payer_credential(
        &self,
        tenant_id: &str,
        kind: PayerKind,
        identifier: &str,
    ) -> Result<Option<PayerCredential>, StoreError> {
        in_read!(self, |tx| bleepay_reads::payer_credential(
            tx, tenant_id, kind, identifier
        )
        .await)
    }

    async fn payer_vouchers(
        &self,
        tenant_id: &str,
        payer_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<PayerVoucherView>, StoreError> {
        in_read!(self, |tx| bleepay_reads::payer_vouchers(
            tx, tenant_id, payer_id, now
        )
        .await)
    }

    async fn bleepay_context(
        &self,
        tenant_id: &str,
        context_id: &str,
    ) -> Result<Option<ContextView>, StoreError> {
        in_read!(self, |tx| {
            Ok::<_, StoreError>(
                bleepay_reads::context(tx, tenant_id, ContextKey::Id(context_id))
                    .await?
                    .map(|record| record.view),
            )
        })
    }

    async fn bleepay_contexts(
        &self,
        tenant_id: &str,
        payer_id: &str,
        window: &ListWindow,
    ) -> Result<Vec<ContextView>, StoreError> {
        in_read!(self, |tx| bleepay_reads::contexts(
            tx, tenant_id, payer_id, window
        )
        .await)
    }

    async fn bleepay_code(
        &self,
        tenant_id: &str,
        code_id: &str,
    ) -> Result<Option<CodeView>, StoreError> {
        in_read!(self, |tx| {
            Ok::<_, StoreError>(
                bleepay_reads::code(tx, tenant_id, code_id)
                    .await?
                    .map(|record| record.view),
            )
        })
    }

    async fn bleepay_codes(
        &self,
        tenant_id: &str,
        caller: &BleepayCaller,
        status: Option<CodeStatus>,
        window: &ListWindow,
        now: OffsetDateTime,
    ) -> Result<Vec<CodeView>, StoreError> {
        in_read!(self, |tx| bleepay_reads::codes(
            tx, tenant_id, caller, status, window, now
        )
        .await)
    }

    async fn console_user(&self, username: &str) -> Result<Option<ConsoleUser>, StoreError> {
        in_read!(self, |tx| console_reads::user(tx, username).await)
    }

    async fn events(
        &self,
        tenant_id: &str,
        filter: &EventFilter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        in_read!(self, begin_single, |tx| super::events::page(
            tx, tenant_id, filter
        )
        .await)
    }

    async fn last_event_seq(&self, tenant_id: &str) -> Result<i64, StoreError> {
        in_read!(self, begin_single, |tx| super::events::last_seq(
            tx, tenant_id
        )
        .await)
    }

    fn event_signal(&self) -> Arc<Notify> {
        self.event_signal.clone()
    }

    async fn console_users(&self) -> Result<Vec<ConsoleUserView>, StoreError> {
        in_read!(self, |tx| console_reads::users(tx).await)
    }

    async fn console_session(
        &self,
        token_digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        in_read!(self, |tx| console_reads::session(tx, token_digest, now)
            .await)
    }

    async fn series(
        &self,
        tenant_id: &str,
        series_id: &str,
    ) -> Result<Option<SeriesView>, StoreError> {
        in_read!(self, |tx| {
            Ok::<_, StoreError>(
                series_reads::series(tx, tenant_id, series_id)
                    .await?
                    .map(|(_, view)| view),
            )
        })
    }

    async fn series_list(
        &self,
        tenant_id: &str,
        limit: i64,
    ) -> Result<Vec<SeriesView>, StoreError> {
        in_read!(self, |tx| series_reads::all_series(tx, tenant_id, limit)
            .await)
    }

    async fn claim_series(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<(String, String)>, StoreError> {
        let mut tx = self.backend.begin_write().await?;
        let claimed = series_reads::claim(&mut tx, now, lease_until).await?;
        B::commit(tx).await?;
        Ok(claimed)
    }

    async fn vouchers_after(
        &self,
        tenant_id: &str,
        series_id: Option<&str>,
        after: i64,
        limit: i64,
        now: OffsetDateTime,
    ) -> Result<Vec<(i64, VoucherView)>, StoreError> {
        in_read!(self, |tx| series_reads::vouchers_after(
            tx, tenant_id, series_id, after, limit, now
        )
        .await)
    }

    async fn report(
        &self,
        tenant_id: &str,
        now: OffsetDateTime,
        days: i64,
        expiry_days: i64,
    ) -> Result<Report, StoreError> {
        in_read!(self, begin_scan, |tx| report_reads::report(
            tx,
            tenant_id,
            now,
            days,
            expiry_days
        )
        .await)
    }

    async fn claim_front_callbacks(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<FrontCallback>, StoreError> {
        if !in_read!(self, |tx| front_reads::any_callback_due(tx, now).await)? {
            return Ok(Vec::new());
        }
        let mut tx = self.backend.begin_write().await?;
        let claimed = front_reads::claim_callbacks(&mut tx, now, lease_until, limit).await?;
        B::commit(tx).await?;
        Ok(claimed)
    }

    async fn branding(&self, tenant_id: &str) -> Result<crate::branding::Branding, StoreError> {
        in_read!(self, |tx| super::branding_reads::branding(tx, tenant_id)
            .await)
    }

    async fn logo(&self, tenant_id: &str) -> Result<Option<crate::branding::Logo>, StoreError> {
        in_read!(self, |tx| super::branding_reads::logo(tx, tenant_id).await)
    }

    async fn webhook_endpoints(&self, tenant_id: &str) -> Result<Vec<WebhookEndpoint>, StoreError> {
        in_read!(self, |tx| super::webhook_reads::endpoints(tx, tenant_id)
            .await)
    }

    async fn webhook_deliveries(
        &self,
        tenant_id: &str,
        endpoint_id: &str,
        limit: i64,
    ) -> Result<Vec<WebhookAttempt>, StoreError> {
        in_read!(self, |tx| super::webhook_reads::deliveries(
            tx,
            tenant_id,
            endpoint_id,
            limit
        )
        .await)
    }

    async fn claim_webhooks(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<WebhookTarget>, StoreError> {
        if !in_read!(self, |tx| super::webhook_reads::any_due(tx, now).await)? {
            return Ok(Vec::new());
        }
        let mut tx = self.backend.begin_write().await?;
        let claimed = super::webhook_reads::claim(&mut tx, now, lease_until, limit).await?;
        B::commit(tx).await?;
        Ok(claimed)
    }

    async fn webhook_target(
        &self,
        tenant_id: &str,
        endpoint_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<WebhookTarget>, StoreError> {
        in_read!(self, |tx| super::webhook_reads::target(
            tx,
            tenant_id,
            endpoint_id,
            now
        )
        .await)
    }

    async fn record_webhook_attempt(
        &self,
        target: &WebhookTarget,
        attempt: &WebhookAttempt,
    ) -> Result<(), StoreError> {
        let mut tx = self.backend.begin_write().await?;
        super::webhook_reads::insert_attempts(&mut tx, target.pk, std::slice::from_ref(attempt))
            .await?;
        B::commit(tx).await
    }

    async fn record_webhook(
        &self,
        target: &WebhookTarget,
        progress: &WebhookProgress,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.backend.begin_write().await?;
        super::webhook_reads::record(&mut tx, target, progress, now).await?;
        B::commit(tx).await
    }

    async fn record_front_callback(
        &self,
        pk: i64,
        attempt: &CallbackAttempt,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.backend.begin_write().await?;
        match attempt {
            CallbackAttempt::Delivered => {
                tx.execute(
                    "UPDATE front_callbacks SET delivered_at = $2, attempts = attempts + 1, \
                     last_error = NULL WHERE pk = $1",
                    vec![pk.into(), now.into()],
                )
                .await?;
            }
            CallbackAttempt::Failed { error, retry_at } => {
                let (next, abandoned) = match retry_at {
                    Some(at) => (Value::from(*at), Value::NullInt),
                    None => (Value::from(now), Value::from(now)),
                };
                tx.execute(
                    "UPDATE front_callbacks SET attempts = attempts + 1, last_error = $2, \
                     next_attempt_at = $3, abandoned_at = $4 WHERE pk = $1",
                    vec![pk.into(), error.as_str().into(), next, abandoned],
                )
                .await?;
            }
        }
        B::commit(tx).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.backend.ping().await
    }
}
