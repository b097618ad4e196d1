//! Command execution, statement by statement, for the commands the ledger engine
//! ([`super::engine`]) does not decide yet: for each [`Command`], load what it needs inside
//! the open write transaction (locking the voucher row on PostgreSQL), let the domain decide,
//! then write. Refusals are decided before anything is written, so a refused command leaves no
//! trace. One submodule per subject: [`tenants`] (tenants and credentials), [`vouchers`]
//! (creation and the row helpers the faces below share), [`front`], [`bleepay`], [`console`],
//! [`series`]; [`writes`] sends a command's closing writes together.

use time::OffsetDateTime;
use voucherd_domain::DomainError;
use voucherd_domain::events::{self, LedgerEvent, VoucherAfter};

use super::reads;
use super::{Dialect, SqlExec, Value, from_micros, to_micros};
use crate::StoreError;
use crate::command::{Command, CommandContext, CommandResult};
use crate::model::TenantSettings;

/// How often a generator may draw a value that is already taken before giving up.
const GENERATE_ATTEMPTS_MAX: usize = 16;
pub(super) use voucherd_domain::engine::PURPOSE_RESERVATION;
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
mod branding;
mod console;
mod front;
mod series;
mod tenants;
mod vouchers;
mod webhooks;
pub(super) mod writes;

use writes::Write;

/// The transaction and everything every command needs.
struct Run<'a, T: SqlExec> {
    tx: &'a mut T,
    dialect: Dialect,
    ctx: &'a CommandContext,
    /// The events of the transaction so far; a command adds its own.
    events: &'a mut Vec<LedgerEvent>,
}

/// Runs one command inside `tx`, adding its events to `events`. The caller commits on
/// `Ok(Ok(_))` and rolls back otherwise (dropping the command's events).
pub(super) async fn apply<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    ctx: &CommandContext,
    command: &Command,
    events: &mut Vec<LedgerEvent>,
) -> Result<CommandResult, StoreError> {
    let mut run = Run {
        tx,
        dialect,
        ctx,
        events,
    };
    match command {
        Command::CreateTenant { id, name } => run.create_tenant(id.as_deref(), name).await,
        Command::UpdateSettings(settings) => run.update_settings(settings).await,
        Command::SetBranding(branding) => run.set_branding(branding).await,
        Command::SetLogo(logo) => run.set_logo(logo.as_ref()).await,
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
        Command::RevokeMerchantToken { token_id } => run.revoke_merchant_token(token_id).await,
        Command::CreateWebhookEndpoint {
            url,
            types,
            allow_private,
        } => run.create_webhook(url, types, *allow_private).await,
        Command::DeleteWebhookEndpoint { endpoint_id } => run.delete_webhook(endpoint_id).await,
        Command::RotateWebhookSecret { endpoint_id } => {
            run.rotate_webhook_secret(endpoint_id).await
        }
        Command::RedeliverWebhook { endpoint_id, after } => {
            run.redeliver_webhook(endpoint_id, *after).await
        }
        Command::CreateVoucher(new) => run.create_voucher(new).await,
        Command::UpdateVoucher { id, sku, batch } => run.update_voucher(id, sku, batch).await,
        // The ledger engine decides these ([`super::engine`]); they never come this way.
        Command::SetVoucherStatus { .. }
        | Command::DeleteVoucher { .. }
        | Command::Reserve { .. }
        | Command::ChargeReservation { .. }
        | Command::ReleaseReservation { .. }
        | Command::Refund { .. }
        | Command::Recharge { .. }
        | Command::FrontPay { .. }
        | Command::FrontCapture { .. }
        | Command::FrontCharge { .. }
        | Command::FrontCancel { .. }
        | Command::FrontComplete { .. }
        | Command::FrontRefund { .. }
        | Command::RedeemCode { .. }
        | Command::ResolveCode { .. }
        | Command::DiscardCode { .. } => Err(StoreError::Other(format!(
            "{} is decided by the ledger engine",
            command.action()
        ))),
        Command::FrontSubmit(new) => run.front_submit(new).await,
        Command::FrontOpenLink { reservation_id } => run.front_open_link(reservation_id).await,
        Command::FrontResend {
            reservation_id,
            sent_to,
        } => run.front_resend(reservation_id, sent_to.as_deref()).await,
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
        Command::CreateConsoleUser {
            username,
            password_hash,
        } => run.create_console_user(username, password_hash).await,
        Command::ChangeConsoleUser { username, change } => {
            run.change_console_user(username, change).await
        }
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

    /// Records an event of this command (`data` a JSON object; `voucher` its figures after the
    /// change, if the event is about a voucher).
    fn event(
        &mut self,
        kind: &'static str,
        voucher: Option<&VoucherAfter<'_>>,
        data: serde_json::Value,
    ) {
        let fields = events::members(&data);
        let actor_id = self.ctx.actor.id().to_string();
        self.events.push(LedgerEvent {
            tenant_id: self.ctx.tenant_id.clone(),
            kind,
            at: self.ctx.now,
            face: events::face_of(self.ctx.actor.kind(), &actor_id),
            actor_kind: self.ctx.actor.kind(),
            actor_id,
            request_id: self.ctx.request_id.clone(),
            voucher_id: voucher.map(|v| v.id.to_string()),
            data: events::data(&fields, voucher),
        });
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
            Dialect::Sqlite => writes::one_by_one(self.tx, writes).await?,
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
}
