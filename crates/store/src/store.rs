//! The interface the server holds: one write entry point and the reads the faces need.

use async_trait::async_trait;
use time::OffsetDateTime;

use voucherd_domain::bleepay::CodeStatus;

use crate::bleepay::{
    BleepayCaller, BleepayGrant, CodeView, ContextView, ListWindow, PayerCredential, PayerKind,
    PayerVoucherView,
};
use crate::console::{ConsoleSession, ConsoleUser, ConsoleUserView};
use crate::events::{EventFilter, StoredEvent};
use crate::front::{
    CallbackAttempt, FrontCallback, FrontEventView, FrontReservationView, MerchantGrant,
};
use crate::model::{
    AuditEvent, AuditFilter, Client, ClientGroup, EntryFilter, EntryView, HoldView,
    IntegrityReport, MerchantToken, Page, PageRequest, SweepReport, Tenant, TokenGrant,
    VoucherFilter, VoucherView,
};
use crate::report::Report;
use crate::series::SeriesView;
use crate::webhooks::{WebhookAttempt, WebhookEndpoint, WebhookProgress, WebhookTarget};
use crate::{CommandRequest, Execution, StoreError};

/// A voucherd database. Every method is one transaction; every read is scoped to a tenant.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Runs one command in one transaction, with idempotency if the request carries a key.
    async fn execute(&self, request: CommandRequest) -> Result<Execution, StoreError>;

    /// Creates the default tenant if it does not exist yet.
    async fn bootstrap(&self, now: OffsetDateTime) -> Result<(), StoreError>;

    /// The digest of the stored admin token, if one was generated earlier.
    async fn admin_token_digest(&self) -> Result<Option<String>, StoreError>;

    /// Stores an admin token digest unless one exists; answers whether it was stored.
    async fn store_admin_token_digest(&self, digest: &str) -> Result<bool, StoreError>;

    async fn tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, StoreError>;
    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    async fn client_groups(&self, tenant_id: &str) -> Result<Vec<ClientGroup>, StoreError>;
    async fn clients(&self, tenant_id: &str) -> Result<Vec<Client>, StoreError>;
    async fn client(&self, tenant_id: &str, client_id: &str) -> Result<Option<Client>, StoreError>;
    async fn merchant_tokens(&self, tenant_id: &str) -> Result<Vec<MerchantToken>, StoreError>;

    /// What an access token grants, if it is known, unexpired and not revoked.
    async fn token_grant(
        &self,
        token_digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<TokenGrant>, StoreError>;

    /// A voucher by its public id; deleted vouchers are not found.
    async fn voucher(
        &self,
        tenant_id: &str,
        voucher_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<VoucherView>, StoreError>;

    /// A page of vouchers ordered by creation time, then insertion order.
    async fn vouchers(
        &self,
        tenant_id: &str,
        filter: &VoucherFilter,
        page: PageRequest,
        now: OffsetDateTime,
    ) -> Result<Page<VoucherView>, StoreError>;

    /// A page of a voucher's entries, or `None` if the voucher does not exist.
    async fn entries(
        &self,
        tenant_id: &str,
        voucher_id: &str,
        filter: &EntryFilter,
        page: PageRequest,
    ) -> Result<Option<Page<EntryView>>, StoreError>;

    /// One entry of one voucher.
    async fn entry(
        &self,
        tenant_id: &str,
        voucher_id: &str,
        entry_id: &str,
    ) -> Result<Option<EntryView>, StoreError>;

    /// A reservation (a hold) by id, with its state as of `now`.
    async fn reservation(
        &self,
        tenant_id: &str,
        reservation_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<HoldView>, StoreError>;

    /// Every hold ever placed on a voucher, newest first.
    async fn voucher_holds(
        &self,
        tenant_id: &str,
        voucher_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<HoldView>, StoreError>;

    /// A page of audit events, newest first.
    async fn audit(
        &self,
        tenant_id: &str,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, StoreError>;

    /// Recomputes every voucher of the tenant from its entries.
    async fn integrity(
        &self,
        tenant_id: &str,
        now: OffsetDateTime,
    ) -> Result<IntegrityReport, StoreError>;

    /// Marks expired holds, drops stale idempotency keys, tokens and pins.
    async fn sweep(&self, now: OffsetDateTime) -> Result<SweepReport, StoreError>;

    /// The tenant and id of a merchant token, if it is known.
    async fn merchant_grant(&self, token_digest: &str)
    -> Result<Option<MerchantGrant>, StoreError>;

    /// A Front Payment reservation as of `now`, in `tenant_id`, or in any tenant when `None`
    /// (the payment page names only the reservation).
    async fn front_reservation(
        &self,
        tenant_id: Option<&str>,
        reservation_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<FrontReservationView>, StoreError>;

    /// The tenant's Front Payment history events from `since` until before `until`.
    async fn front_history(
        &self,
        tenant_id: &str,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<FrontEventView>, StoreError>;

    /// Claims up to `limit` status callbacks due at `now`; no other caller gets them before
    /// `lease_until`.
    async fn claim_front_callbacks(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<FrontCallback>, StoreError>;

    /// Records how a delivery attempt of a claimed callback ended.
    async fn record_front_callback(
        &self,
        pk: i64,
        attempt: &CallbackAttempt,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// How the tenant's shop presents itself on the payment page.
    async fn branding(&self, tenant_id: &str) -> Result<crate::branding::Branding, StoreError>;

    /// The tenant's logo for the payment page, if it set one.
    async fn logo(&self, tenant_id: &str) -> Result<Option<crate::branding::Logo>, StoreError>;

    /// The tenant's webhook endpoints (without secrets).
    async fn webhook_endpoints(&self, tenant_id: &str) -> Result<Vec<WebhookEndpoint>, StoreError>;

    /// An endpoint's latest delivery attempts, newest first.
    async fn webhook_deliveries(
        &self,
        tenant_id: &str,
        endpoint_id: &str,
        limit: i64,
    ) -> Result<Vec<WebhookAttempt>, StoreError>;

    /// Claims up to `limit` webhook endpoints due at `now`; no other caller gets them before
    /// `lease_until`.
    async fn claim_webhooks(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<WebhookTarget>, StoreError>;

    /// An endpoint with what delivering to it needs (its secrets included), for the operator's
    /// test event; `None` when the tenant has no such endpoint.
    async fn webhook_target(
        &self,
        tenant_id: &str,
        endpoint_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<WebhookTarget>, StoreError>;

    /// Records an attempt made outside the endpoint's cursor (the operator's test event) among
    /// its deliveries; the endpoint's state is left as it is.
    async fn record_webhook_attempt(
        &self,
        target: &WebhookTarget,
        attempt: &WebhookAttempt,
    ) -> Result<(), StoreError>;

    /// Records what a claimed endpoint's round delivered, and ends the claim.
    async fn record_webhook(
        &self,
        target: &WebhookTarget,
        progress: &WebhookProgress,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// What a bleepay bearer token grants now, if anything.
    async fn bleepay_grant(
        &self,
        token_digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<BleepayGrant>, StoreError>;

    /// The stored credential of a payer account, for verifying a sign-in.
    async fn payer_credential(
        &self,
        tenant_id: &str,
        kind: PayerKind,
        identifier: &str,
    ) -> Result<Option<PayerCredential>, StoreError>;

    /// The vouchers in a payer's account.
    async fn payer_vouchers(
        &self,
        tenant_id: &str,
        payer_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<PayerVoucherView>, StoreError>;

    /// One bleepay context of the tenant.
    async fn bleepay_context(
        &self,
        tenant_id: &str,
        context_id: &str,
    ) -> Result<Option<ContextView>, StoreError>;

    /// A payer's contexts, newest first.
    async fn bleepay_contexts(
        &self,
        tenant_id: &str,
        payer_id: &str,
        window: &ListWindow,
    ) -> Result<Vec<ContextView>, StoreError>;

    /// One bleepay voucher code of the tenant.
    async fn bleepay_code(
        &self,
        tenant_id: &str,
        code_id: &str,
    ) -> Result<Option<CodeView>, StoreError>;

    /// The voucher codes a caller may see, oldest first, optionally of one status (as of `now`).
    async fn bleepay_codes(
        &self,
        tenant_id: &str,
        caller: &BleepayCaller,
        status: Option<CodeStatus>,
        window: &ListWindow,
        now: OffsetDateTime,
    ) -> Result<Vec<CodeView>, StoreError>;

    /// The tenant's events in sequence order, as `filter` picks them.
    async fn events(
        &self,
        tenant_id: &str,
        filter: &EventFilter,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// The tenant's last event number (0 before its first event).
    async fn last_event_seq(&self, tenant_id: &str) -> Result<i64, StoreError>;

    /// Woken after a commit that wrote events (on PostgreSQL, any node's commit): long-polls
    /// wait on it, then read again.
    fn event_signal(&self) -> std::sync::Arc<tokio::sync::Notify>;

    /// A console user by name.
    async fn console_user(&self, username: &str) -> Result<Option<ConsoleUser>, StoreError>;

    /// Every console user, by name, without password hashes.
    async fn console_users(&self) -> Result<Vec<ConsoleUserView>, StoreError>;

    /// The unexpired console session a cookie token's digest names.
    async fn console_session(
        &self,
        token_digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<ConsoleSession>, StoreError>;

    /// A series of the tenant with its progress.
    async fn series(
        &self,
        tenant_id: &str,
        series_id: &str,
    ) -> Result<Option<SeriesView>, StoreError>;

    /// The tenant's most recent series, newest first.
    async fn series_list(&self, tenant_id: &str, limit: i64)
    -> Result<Vec<SeriesView>, StoreError>;

    /// Takes the lease of a running series nobody works on; answers its tenant and id.
    async fn claim_series(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<(String, String)>, StoreError>;

    /// Up to `limit` live vouchers after the key `after` (0 to start), in key order, of one
    /// series or of the whole tenant; each with its key, to continue from.
    async fn vouchers_after(
        &self,
        tenant_id: &str,
        series_id: Option<&str>,
        after: i64,
        limit: i64,
        now: OffsetDateTime,
    ) -> Result<Vec<(i64, VoucherView)>, StoreError>;

    /// Liability per currency, ledger movements per day for the last `days` days, and the
    /// active vouchers with value left that expire within `expiry_days`.
    async fn report(
        &self,
        tenant_id: &str,
        now: OffsetDateTime,
        days: i64,
        expiry_days: i64,
    ) -> Result<Report, StoreError>;

    /// Answers whether the database is reachable.
    async fn ping(&self) -> Result<(), StoreError>;
}
