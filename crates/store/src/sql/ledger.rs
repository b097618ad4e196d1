//! Command execution: for each [`Command`], load what it needs inside the open write
//! transaction (locking the voucher row on PostgreSQL), let the domain decide, then write.
//! Refusals are decided before anything is written, so a refused command leaves no trace.

use serde_json::json;
use time::{Duration, OffsetDateTime};
use voucherd_domain::ledger::{HoldSnapshot, VoucherSnapshot};
use voucherd_domain::pattern::Pattern;
use voucherd_domain::secret::{self, ALPHANUMERIC, UNAMBIGUOUS};
use voucherd_domain::{DomainError, EntryKind, HoldState, Scope, VoucherStatus};

use super::reads::{self, VoucherKey, VoucherRecord};
use super::{Dialect, Row, SqlExec, Value, from_micros, to_micros};
use crate::StoreError;
use crate::command::{Command, CommandContext, CommandResult, NewVoucher, Outcome};
use crate::model::{CONNECTION_PIN_TTL_SECONDS, Client, ClientGroup, EntryView, TenantSettings};

/// How often a generator may draw a value that is already taken before giving up.
const GENERATE_ATTEMPTS_MAX: usize = 16;
pub(super) use voucherd_domain::engine::PURPOSE_RESERVATION;
/// Length of a connection pin (32-character alphabet: 40 bits).
const CONNECTION_PIN_CHARS: usize = 8;
/// Length of a client secret (62-character alphabet: 238 bits), as JTL's secrets.
const CLIENT_SECRET_CHARS: usize = 40;
/// Length of an access token or merchant token.
const TOKEN_CHARS: usize = 48;

/// Either a business refusal, or a storage failure that aborts the transaction.
type Step<T> = Result<Result<T, DomainError>, StoreError>;

/// `at` as the database keeps it (microseconds), for answers built without reading back.
fn as_stored(at: OffsetDateTime) -> Result<OffsetDateTime, StoreError> {
    from_micros(to_micros(at))
}

/// Shorthand for a refusal inside a [`Step`].
fn refuse<T>(error: DomainError) -> Step<T> {
    Ok(Err(error))
}

/// Unwraps a [`Step`] inside a function returning a [`Step`].
macro_rules! decided {
    ($step:expr) => {
        match $step? {
            Ok(value) => value,
            Err(refusal) => return Ok(Err(refusal)),
        }
    };
}

mod bleepay;
mod console;
mod front;
mod series;
pub(super) mod writes;

use writes::Write;

/// The statement that places a live hold; its parameters are made by `Run::new_hold_write`.
macro_rules! hold_insert {
    () => {
        "INSERT INTO holds (tenant_id, id, voucher_pk, client_id, purpose, amount_minor, \
         currency, state, expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'live', $8, $9, $9)"
    };
}

/// A ledger entry about to be written.
struct NewEntry<'a> {
    /// The entry id; `None`: an opaque one is made.
    id: Option<String>,
    kind: EntryKind,
    amount_minor: i64,
    currency: voucherd_domain::Currency,
    order_number: Option<&'a str>,
    /// For a refund: the refunded charge's key and id.
    refund_of: Option<(i64, &'a str)>,
    /// For a charge: the hold it charges.
    hold_pk: Option<i64>,
}

/// The transaction and everything every command needs.
struct Run<'a, T: SqlExec> {
    tx: &'a mut T,
    dialect: Dialect,
    ctx: &'a CommandContext,
}

/// Runs one command inside `tx`. The caller commits on `Ok(Ok(_))` and rolls back otherwise.
pub(super) async fn apply<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    ctx: &CommandContext,
    command: &Command,
) -> Result<CommandResult, StoreError> {
    let mut run = Run { tx, dialect, ctx };
    match command {
        Command::CreateTenant { id, name } => run.create_tenant(id.as_deref(), name).await,
        Command::UpdateSettings(settings) => run.update_settings(settings).await,
        Command::CreateClientGroup { name, scopes } => run.create_client_group(name, scopes).await,
        Command::CreateClient {
            name,
            client_group_id,
            client_type,
        } => run.create_client(name, client_group_id, client_type).await,
        Command::IssueConnectionPin { client_id } => run.issue_pin(client_id).await,
        Command::ConnectClient { pin } => run.connect(pin).await,
        Command::IssueToken {
            client_id,
            secret,
            scopes,
            client_type,
        } => {
            run.issue_token(client_id, secret, scopes.as_deref(), client_type.as_deref())
                .await
        }
        Command::DisconnectClient { client_id } => run.disconnect(client_id).await,
        Command::CreateMerchantToken { name } => run.create_merchant_token(name).await,
        Command::CreateVoucher(new) => run.create_voucher(new).await,
        Command::UpdateVoucher { id, sku, batch } => run.update_voucher(id, sku, batch).await,
        // The ledger engine decides these ([`super::engine`]); they never come this way.
        Command::SetVoucherStatus { .. }
        | Command::DeleteVoucher { .. }
        | Command::Reserve { .. }
        | Command::ChargeReservation { .. }
        | Command::ReleaseReservation { .. }
        | Command::Refund { .. }
        | Command::Recharge { .. } => Err(StoreError::Other(format!(
            "{} is decided by the ledger engine",
            command.action()
        ))),
        Command::FrontSubmit(new) => run.front_submit(new).await,
        Command::FrontOpenLink { reservation_id } => run.front_open_link(reservation_id).await,
        Command::FrontPay {
            reservation_id,
            code,
            pin,
        } => run.front_pay(reservation_id, code, pin.as_deref()).await,
        Command::FrontCapture {
            reservation_id,
            lines,
            note,
        } => {
            run.front_capture(reservation_id, lines, note.as_deref())
                .await
        }
        Command::FrontCharge {
            reservation_id,
            lines,
            note,
        } => {
            run.front_charge(reservation_id, lines, note.as_deref())
                .await
        }
        Command::FrontCancel {
            reservation_id,
            note,
        } => run.front_cancel(reservation_id, note).await,
        Command::FrontComplete {
            reservation_id,
            note,
        } => run.front_complete(reservation_id, note).await,
        Command::FrontResend {
            reservation_id,
            sent_to,
        } => run.front_resend(reservation_id, sent_to.as_deref()).await,
        Command::FrontRefund {
            reservation_id,
            source,
            reference,
            lines,
        } => {
            run.front_refund(reservation_id, *source, reference, lines)
                .await
        }
        Command::PayerSignUp {
            kind,
            identifier,
            password_hash,
        } => run.payer_sign_up(*kind, identifier, password_hash).await,
        Command::PayerSignIn { payer_id } => run.payer_sign_in(payer_id).await,
        Command::PayeeSignIn { context_code } => run.payee_sign_in(context_code).await,
        Command::AddPayerVoucher {
            payer_id,
            code,
            pin,
        } => run.add_payer_voucher(payer_id, code, pin.as_deref()).await,
        Command::OpenContext {
            payer_id,
            format,
            addresses,
        } => run.open_context(payer_id, *format, addresses).await,
        Command::CloseContext {
            payer_id,
            context_id,
            payee_id,
        } => {
            run.close_context(payer_id, context_id, payee_id.as_deref())
                .await
        }
        Command::ContextMiss { context_id } => run.context_miss(context_id).await,
        Command::ReserveCode {
            caller,
            context_code,
        } => run.reserve_code(caller, context_code).await,
        Command::RedeemCode {
            caller,
            code_id,
            amount_minor,
            currency,
        } => {
            run.redeem_code(caller, code_id, *amount_minor, *currency)
                .await
        }
        Command::ResolveCode { payer_id, code_id } => run.resolve_code(payer_id, code_id).await,
        Command::DiscardCode { caller, code_id } => run.discard_code(caller, code_id).await,
        Command::CreateConsoleUser {
            username,
            password_hash,
        } => run.create_console_user(username, password_hash).await,
        Command::ConsoleLoginFailed { username } => run.console_login_failed(username).await,
        Command::OpenConsoleSession { user_id } => run.open_console_session(user_id).await,
        Command::TouchConsoleSession { token_digest } => {
            run.touch_console_session(token_digest).await
        }
        Command::CloseConsoleSession { token_digest } => {
            run.close_console_session(token_digest).await
        }
        Command::StartSeries { template, count } => run.start_series(template, *count).await,
        Command::IssueSeriesChunk { series_id, max } => {
            run.issue_series_chunk(series_id, *max).await
        }
        Command::ImportVouchers { rows } => run.import_vouchers(rows).await,
    }
}

impl<T: SqlExec> Run<'_, T> {
    fn tenant_id(&self) -> &str {
        &self.ctx.tenant_id
    }

    fn now(&self) -> OffsetDateTime {
        self.ctx.now
    }

    /// The time as the database keeps it (microseconds), for answers built without reading
    /// back what was written.
    fn stored_now(&self) -> Result<OffsetDateTime, StoreError> {
        as_stored(self.ctx.now)
    }

    async fn audit(
        &mut self,
        tenant_id: &str,
        action: &str,
        subject_kind: &str,
        subject_id: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        let write = self.audit_write(tenant_id, action, subject_kind, subject_id, detail);
        self.write_all(vec![write]).await
    }

    /// The audit record of a change, as a write to send with the change's others.
    fn audit_write(
        &self,
        tenant_id: &str,
        action: &str,
        subject_kind: &str,
        subject_id: &str,
        detail: serde_json::Value,
    ) -> Write {
        Write::new(
            "INSERT INTO audit_events (tenant_id, at, actor_kind, actor_id, action, \
             subject_kind, subject_id, request_id, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            vec![
                tenant_id.into(),
                self.now().into(),
                self.ctx.actor.kind().into(),
                self.ctx.actor.id().into(),
                action.into(),
                subject_kind.into(),
                subject_id.into(),
                self.ctx.request_id.as_str().into(),
                detail.to_string().into(),
            ],
        )
    }

    /// Runs writes whose answers the command does not need: on PostgreSQL as one statement
    /// (see [`writes`]), on SQLite one after the other.
    async fn write_all(&mut self, writes: Vec<Write>) -> Result<(), StoreError> {
        match self.dialect {
            Dialect::Postgres => {
                let one = writes::combined(writes);
                self.tx.execute(&one.sql, one.params).await?;
            }
            Dialect::Sqlite => {
                for write in writes {
                    self.tx.execute(&write.sql, write.params).await?;
                }
            }
        }
        Ok(())
    }

    async fn settings(&mut self) -> Step<TenantSettings> {
        let tenant_id = self.ctx.tenant_id.clone();
        Ok(reads::tenant(self.tx, &tenant_id)
            .await?
            .map(|t| t.settings)
            .ok_or(DomainError::TenantNotFound))
    }

    async fn exists(&mut self, sql: &str, params: Vec<Value>) -> Result<bool, StoreError> {
        Ok(self.tx.fetch_optional(sql, params).await?.is_some())
    }

    // ------------------------------------------------------------ tenants and clients

    async fn create_tenant(&mut self, id: Option<&str>, name: &str) -> Step<Outcome> {
        let id = id.map_or_else(
            || secret::random_string(b"abcdefghijklmnopqrstuvwxyz0123456789", 12),
            str::to_string,
        );
        if self
            .exists(
                "SELECT 1 FROM tenants WHERE id = $1",
                vec![id.as_str().into()],
            )
            .await?
        {
            return refuse(DomainError::TenantIdTaken);
        }
        let s = TenantSettings::default();
        self.tx
            .execute(
                "INSERT INTO tenants (id, name, voucher_id_pattern, code_pattern, pin_pattern, \
                 default_validity_value, default_validity_interval, reservation_ttl_seconds, \
                 token_ttl_seconds, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                vec![
                    id.as_str().into(),
                    name.into(),
                    s.voucher_id_pattern.as_str().into(),
                    s.code_pattern.as_str().into(),
                    s.pin_pattern.clone().into(),
                    s.default_validity.value.into(),
                    s.default_validity.interval.as_str().into(),
                    s.reservation_ttl_seconds.into(),
                    s.token_ttl_seconds.into(),
                    self.now().into(),
                ],
            )
            .await?;
        self.audit(&id, "tenant.create", "tenant", &id, json!({ "name": name }))
            .await?;
        let tenant = reads::tenant(self.tx, &id)
            .await?
            .ok_or_else(|| StoreError::Other("created tenant vanished".into()))?;
        Ok(Ok(Outcome::Tenant(tenant)))
    }

    async fn update_settings(&mut self, s: &TenantSettings) -> Step<Outcome> {
        let changed = self
            .tx
            .execute(
                "UPDATE tenants SET voucher_id_pattern = $2, code_pattern = $3, pin_pattern = $4, \
                 default_validity_value = $5, default_validity_interval = $6, \
                 reservation_ttl_seconds = $7, token_ttl_seconds = $8, updated_at = $9 \
                 WHERE id = $1",
                vec![
                    self.tenant_id().into(),
                    s.voucher_id_pattern.as_str().into(),
                    s.code_pattern.as_str().into(),
                    s.pin_pattern.clone().into(),
                    s.default_validity.value.into(),
                    s.default_validity.interval.as_str().into(),
                    s.reservation_ttl_seconds.into(),
                    s.token_ttl_seconds.into(),
                    self.now().into(),
                ],
            )
            .await?;
        if changed == 0 {
            return refuse(DomainError::TenantNotFound);
        }
        let tenant_id = self.ctx.tenant_id.clone();
        let detail = serde_json::to_value(s).unwrap_or_default();
        self.audit(&tenant_id, "settings.update", "tenant", &tenant_id, detail)
            .await?;
        Ok(Ok(Outcome::Settings(s.clone())))
    }

    async fn create_client_group(&mut self, name: &str, scopes: &[Scope]) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        decided!(self.settings().await);
        let id = secret::opaque_id();
        let scope_list = Scope::join(scopes);
        self.tx
            .execute(
                "INSERT INTO client_groups (tenant_id, id, name, scopes, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                vec![
                    tenant_id.as_str().into(),
                    id.as_str().into(),
                    name.into(),
                    scope_list.as_str().into(),
                    self.now().into(),
                ],
            )
            .await?;
        self.audit(
            &tenant_id,
            "client_group.create",
            "client_group",
            &id,
            json!({ "name": name, "scopes": scope_list }),
        )
        .await?;
        let mut sorted = scopes.to_vec();
        sorted.sort();
        sorted.dedup();
        Ok(Ok(Outcome::ClientGroup(ClientGroup {
            id,
            name: name.to_string(),
            scopes: sorted,
            created_at: self.now(),
        })))
    }

    async fn create_client(
        &mut self,
        name: &str,
        group_id: &str,
        client_type: &str,
    ) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        if !self
            .exists(
                "SELECT 1 FROM client_groups WHERE tenant_id = $1 AND id = $2",
                vec![tenant_id.as_str().into(), group_id.into()],
            )
            .await?
        {
            return refuse(DomainError::ClientGroupNotFound);
        }
        let id = secret::opaque_id();
        self.tx
            .execute(
                "INSERT INTO clients (tenant_id, id, client_group_id, name, type, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                vec![
                    tenant_id.as_str().into(),
                    id.as_str().into(),
                    group_id.into(),
                    name.into(),
                    client_type.into(),
                    self.now().into(),
                ],
            )
            .await?;
        self.audit(
            &tenant_id,
            "client.create",
            "client",
            &id,
            json!({ "name": name }),
        )
        .await?;
        self.client_outcome(&tenant_id, &id).await
    }

    async fn client_outcome(&mut self, tenant_id: &str, client_id: &str) -> Step<Outcome> {
        Ok(reads::client(self.tx, tenant_id, client_id)
            .await?
            .map(Outcome::Client)
            .ok_or(DomainError::ClientNotFound))
    }

    async fn issue_pin(&mut self, client_id: &str) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        if reads::client(self.tx, &tenant_id, client_id)
            .await?
            .is_none()
        {
            return refuse(DomainError::ClientNotFound);
        }
        let pin = secret::random_string(UNAMBIGUOUS, CONNECTION_PIN_CHARS);
        let expires_at = self.now() + Duration::seconds(CONNECTION_PIN_TTL_SECONDS);
        self.tx
            .execute(
                "INSERT INTO connection_pins (pin_digest, tenant_id, client_id, expires_at, \
                 created_at) VALUES ($1, $2, $3, $4, $5)",
                vec![
                    secret::digest(&pin).into(),
                    tenant_id.as_str().into(),
                    client_id.into(),
                    expires_at.into(),
                    self.now().into(),
                ],
            )
            .await?;
        self.audit(&tenant_id, "client.pin", "client", client_id, json!({}))
            .await?;
        Ok(Ok(Outcome::ConnectionPin { pin, expires_at }))
    }

    async fn connect(&mut self, pin: &str) -> Step<Outcome> {
        let sql = format!(
            "SELECT tenant_id, client_id, expires_at, used_at FROM connection_pins \
             WHERE pin_digest = $1{}",
            self.dialect.lock_clause()
        );
        let pin_digest = secret::digest(pin);
        let Some(row) = self
            .tx
            .fetch_optional(&sql, vec![pin_digest.as_str().into()])
            .await?
        else {
            return refuse(DomainError::PinInvalid);
        };
        let mut r = row.reader();
        let (tenant_id, client_id, expires_at, used_at) =
            (r.text()?, r.text()?, r.time()?, r.opt_time()?);
        if used_at.is_some() || expires_at <= self.now() {
            return refuse(DomainError::PinInvalid);
        }
        let secret = secret::random_string(ALPHANUMERIC, CLIENT_SECRET_CHARS);
        self.tx
            .execute(
                "UPDATE connection_pins SET used_at = $2 WHERE pin_digest = $1",
                vec![pin_digest.into(), self.now().into()],
            )
            .await?;
        // Connecting again rotates the credentials: earlier tokens stop working.
        self.tx
            .execute(
                "DELETE FROM access_tokens WHERE tenant_id = $1 AND client_id = $2",
                vec![tenant_id.as_str().into(), client_id.as_str().into()],
            )
            .await?;
        self.tx
            .execute(
                "UPDATE clients SET secret_digest = $3, connected_at = $4, updated_at = $4 \
                 WHERE tenant_id = $1 AND id = $2",
                vec![
                    tenant_id.as_str().into(),
                    client_id.as_str().into(),
                    secret::digest(&secret).into(),
                    self.now().into(),
                ],
            )
            .await?;
        self.audit(
            &tenant_id,
            "client.connect",
            "client",
            &client_id,
            json!({}),
        )
        .await?;
        let client = decided!(self.client_outcome(&tenant_id, &client_id).await);
        let Outcome::Client(client) = client else {
            return Err(StoreError::Other("client outcome expected".into()));
        };
        Ok(Ok(Outcome::Connected {
            tenant_id,
            client: Client { ..client },
            secret,
        }))
    }

    async fn issue_token(
        &mut self,
        client_id: &str,
        secret_text: &str,
        requested: Option<&[Scope]>,
        client_type: Option<&str>,
    ) -> Step<Outcome> {
        let Some(row) = self
            .tx
            .fetch_optional(
                "SELECT c.tenant_id, c.secret_digest, g.scopes, t.token_ttl_seconds \
                 FROM clients c \
                 JOIN client_groups g ON g.tenant_id = c.tenant_id AND g.id = c.client_group_id \
                 JOIN tenants t ON t.id = c.tenant_id WHERE c.id = $1",
                vec![client_id.into()],
            )
            .await?
        else {
            return refuse(DomainError::ClientCredentialsInvalid);
        };
        let mut r = row.reader();
        let (tenant_id, stored_digest, group_scopes, ttl) =
            (r.text()?, r.opt_text()?, r.text()?, r.int()?);
        let presented = secret::digest(secret_text);
        if !stored_digest.is_some_and(|d| secret::constant_time_eq(&d, &presented)) {
            return refuse(DomainError::ClientCredentialsInvalid);
        }
        let allowed = Scope::parse_list(&group_scopes)
            .ok_or_else(|| StoreError::Other("stored scope list invalid".into()))?;
        let scopes = match requested {
            None => allowed,
            Some(asked) if asked.iter().all(|s| allowed.contains(s)) => asked.to_vec(),
            Some(_) => return refuse(DomainError::ScopeNotAllowed),
        };
        let token = secret::random_string(ALPHANUMERIC, TOKEN_CHARS);
        let expires_at = self.now() + Duration::seconds(ttl);
        self.tx
            .execute(
                "INSERT INTO access_tokens (token_digest, tenant_id, client_id, scopes, \
                 client_type, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                vec![
                    secret::digest(&token).into(),
                    tenant_id.as_str().into(),
                    client_id.into(),
                    Scope::join(&scopes).into(),
                    client_type.into(),
                    expires_at.into(),
                    self.now().into(),
                ],
            )
            .await?;
        Ok(Ok(Outcome::Token {
            token,
            scopes,
            expires_at,
        }))
    }

    async fn disconnect(&mut self, client_id: &str) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        let changed = self
            .tx
            .execute(
                "UPDATE clients SET secret_digest = NULL, connected_at = NULL, updated_at = $3 \
                 WHERE tenant_id = $1 AND id = $2",
                vec![
                    tenant_id.as_str().into(),
                    client_id.into(),
                    self.now().into(),
                ],
            )
            .await?;
        if changed == 0 {
            return refuse(DomainError::ClientNotFound);
        }
        self.tx
            .execute(
                "DELETE FROM access_tokens WHERE tenant_id = $1 AND client_id = $2",
                vec![tenant_id.as_str().into(), client_id.into()],
            )
            .await?;
        self.audit(
            &tenant_id,
            "client.disconnect",
            "client",
            client_id,
            json!({}),
        )
        .await?;
        Ok(Ok(Outcome::Disconnected))
    }

    async fn create_merchant_token(&mut self, name: &str) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        decided!(self.settings().await);
        let id = secret::opaque_id();
        let token = secret::random_string(ALPHANUMERIC, TOKEN_CHARS);
        let callback_secret = secret::random_string(ALPHANUMERIC, TOKEN_CHARS);
        self.tx
            .execute(
                "INSERT INTO merchant_tokens (tenant_id, id, name, token_digest, callback_secret, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    tenant_id.as_str().into(),
                    id.as_str().into(),
                    name.into(),
                    secret::digest(&token).into(),
                    callback_secret.as_str().into(),
                    self.now().into(),
                ],
            )
            .await?;
        self.audit(
            &tenant_id,
            "merchant_token.create",
            "merchant_token",
            &id,
            json!({ "name": name }),
        )
        .await?;
        Ok(Ok(Outcome::MerchantToken {
            id,
            name: name.to_string(),
            token,
            callback_secret,
        }))
    }

    // ------------------------------------------------------------ vouchers

    /// A value from `pattern` that no voucher of the tenant has in `column` yet.
    async fn unique_value(&mut self, pattern: &str, column: &str) -> Step<String> {
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

    async fn taken(&mut self, column: &str, value: &str) -> Result<bool, StoreError> {
        let sql = format!("SELECT 1 FROM vouchers WHERE tenant_id = $1 AND {column} = $2");
        self.exists(&sql, vec![self.tenant_id().into(), value.into()])
            .await
    }

    async fn create_voucher(&mut self, new: &NewVoucher) -> Step<Outcome> {
        let settings = decided!(self.settings().await);
        let (voucher_pk, id) = decided!(self.insert_voucher(new, &settings, None).await);
        let detail = json!({ "amount_minor": new.amount_minor, "currency": new.currency.code(), "status": new.status.as_str() });
        self.audit_voucher("voucher.create", &id, detail).await?;
        self.voucher_outcome(voucher_pk).await
    }

    async fn import_vouchers(&mut self, rows: &[NewVoucher]) -> Step<Outcome> {
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
        Ok(Ok(Outcome::Imported {
            count: i64::try_from(rows.len()).unwrap_or(i64::MAX),
        }))
    }

    /// Writes a new voucher and its issue entry (generating what `new` leaves out from the
    /// tenant's patterns); answers its key and id.
    async fn insert_voucher(
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
        Ok(Ok((voucher_pk, id)))
    }

    async fn audit_voucher(
        &mut self,
        action: &str,
        voucher_id: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        let tenant_id = self.ctx.tenant_id.clone();
        self.audit(&tenant_id, action, "voucher", voucher_id, detail)
            .await
    }

    async fn voucher_outcome(&mut self, voucher_pk: i64) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        let record = reads::voucher(self.tx, &tenant_id, VoucherKey::Pk(voucher_pk), self.now())
            .await?
            .ok_or_else(|| StoreError::Other("voucher vanished".into()))?;
        Ok(Ok(Outcome::Voucher(record.view)))
    }

    /// Loads a live (not deleted) voucher for change, locking its row on PostgreSQL.
    async fn lock_voucher(
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
    async fn lock_voucher_where(
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
    async fn lock_voucher_row(
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

    async fn live_holds(
        &mut self,
        voucher_pk: i64,
    ) -> Result<Vec<(String, HoldSnapshot)>, StoreError> {
        let rows = self
            .tx
            .fetch(
                "SELECT purpose, amount_minor, expires_at FROM holds \
                 WHERE voucher_pk = $1 AND state = 'live'",
                vec![voucher_pk.into()],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let mut r = row.reader();
                let purpose = r.text()?;
                Ok((
                    purpose,
                    HoldSnapshot {
                        amount_minor: r.int()?,
                        state: HoldState::Live,
                        expires_at: r.time()?,
                    },
                ))
            })
            .collect()
    }

    /// Writes a ledger entry and moves the voucher's balance by it; answers the entry's key
    /// and the entry as it was written.
    async fn insert_entry(
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
    fn balance_write(&self, voucher_pk: i64, entry: &EntryView) -> Option<Write> {
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
    async fn insert_entry_row(
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

    async fn update_voucher(
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

    // ------------------------------------------------------------ holds and entries

    fn snapshot(voucher: &VoucherRecord) -> VoucherSnapshot {
        VoucherSnapshot {
            status: voucher.view.status,
            currency: voucher.view.currency,
            valid_until: voucher.view.valid_until,
            remaining_minor: voucher.view.remaining_minor,
        }
    }

    /// Places a live hold of `purpose` on a voucher (the caller has decided it may); answers
    /// its key and id.
    async fn insert_hold(
        &mut self,
        voucher_pk: i64,
        purpose: &str,
        amount_minor: i64,
        currency: voucherd_domain::Currency,
        expires_at: OffsetDateTime,
    ) -> Result<(i64, String), StoreError> {
        let (write, id) =
            self.new_hold_write(voucher_pk, purpose, amount_minor, currency, expires_at);
        let row = self
            .tx
            .fetch_optional(concat!(hold_insert!(), " RETURNING pk"), write.params)
            .await?
            .ok_or_else(|| StoreError::Other("insert returned no key".into()))?;
        Ok((row.reader().int()?, id))
    }

    /// Like [`Self::insert_hold`], as a write to send with others (the hold's key is not
    /// needed); answers the hold's id with it.
    fn new_hold_write(
        &self,
        voucher_pk: i64,
        purpose: &str,
        amount_minor: i64,
        currency: voucherd_domain::Currency,
        expires_at: OffsetDateTime,
    ) -> (Write, String) {
        let id = secret::ordered_id(self.now());
        let params = vec![
            self.tenant_id().into(),
            id.as_str().into(),
            voucher_pk.into(),
            self.ctx.actor.client_id().into(),
            purpose.into(),
            amount_minor.into(),
            currency.code().into(),
            expires_at.into(),
            self.now().into(),
        ];
        (Write::new(hold_insert!(), params), id)
    }

    /// Records that a hold was charged by the entry `entry_pk`.
    async fn mark_hold_charged(&mut self, hold_pk: i64, entry_pk: i64) -> Result<(), StoreError> {
        let write = self.hold_charged_write(hold_pk, entry_pk);
        self.write_all(vec![write]).await
    }

    fn hold_charged_write(&self, hold_pk: i64, entry_pk: i64) -> Write {
        Write::new(
            "UPDATE holds SET state = 'charged', charge_entry_pk = $2, updated_at = $3 \
             WHERE pk = $1",
            vec![hold_pk.into(), entry_pk.into(), self.now().into()],
        )
    }
}
