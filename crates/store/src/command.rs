//! The write side of the store: every change is a [`Command`] submitted with its
//! [`CommandContext`], executed in one transaction, answered with one [`Outcome`] or one
//! [`DomainError`]. Because commands are plain data, a writer can later batch many of them
//! into one transaction without the faces noticing.

use time::OffsetDateTime;
use voucherd_domain::{Currency, DomainError, Scope, Validity, VoucherKind, VoucherStatus};

use voucherd_domain::bleepay::CodeFormat;

use crate::bleepay::{
    BleepayCaller, CodeView, ContextAddress, ContextView, PayerKind, PayerVoucherView,
};
use crate::console::{ConsoleUserChange, ConsoleUserView};
use crate::front::{
    FrontLineInput, FrontReservationView, LineAmount, NewFrontReservation, PostingSource,
};
use crate::model::{
    Client, ClientGroup, EntryView, HoldView, MerchantToken, Tenant, TenantSettings, VoucherView,
};
use crate::series::{SeriesTemplate, SeriesView};

/// Who asked for a change, recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An API client of the tenant.
    Client(String),
    /// A merchant calling the Front Payment face, by merchant token id.
    Merchant(String),
    /// The operator, through the admin API, CLI or console.
    Admin(String),
    /// voucherd itself (sweeps, bootstrap).
    System,
    /// Not yet known: a client connecting with a pin.
    Anonymous,
    /// A bleepay payer account, by payer id.
    Payer(String),
    /// A bleepay payee signed in with a context code, by context id.
    Payee(String),
}

impl Actor {
    /// The kind name used in the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Client(_) => "client",
            Actor::Merchant(_) => "merchant",
            Actor::Admin(_) => "admin",
            Actor::System => "system",
            Actor::Anonymous => "anonymous",
            Actor::Payer(_) => "payer",
            Actor::Payee(_) => "payee",
        }
    }

    /// The actor's id, empty for system and anonymous actors.
    pub fn id(&self) -> &str {
        match self {
            Actor::Client(id)
            | Actor::Admin(id)
            | Actor::Merchant(id)
            | Actor::Payer(id)
            | Actor::Payee(id) => id,
            Actor::System | Actor::Anonymous => "",
        }
    }

    /// The client id to record on vouchers, holds and entries.
    pub fn client_id(&self) -> Option<String> {
        match self {
            Actor::Client(id) => Some(id.clone()),
            _ => None,
        }
    }
}

/// Who, where, when and under which request a command runs.
#[derive(Debug, Clone)]
pub struct CommandContext {
    /// The tenant the command acts in. Commands that find their tenant themselves
    /// (connecting with a pin, creating a tenant) say so on their variant.
    pub tenant_id: String,
    pub actor: Actor,
    pub request_id: String,
    /// The time the command runs at; the store never reads a clock.
    pub now: OffsetDateTime,
}

/// The fields of a new voucher. Missing id, code and PIN are generated from the tenant's
/// patterns; missing validity from the tenant's default.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVoucher {
    pub id: Option<String>,
    pub code: Option<String>,
    pub pin: Option<String>,
    pub sku: Option<String>,
    pub batch: Option<String>,
    pub amount_minor: i64,
    pub currency: Currency,
    pub validity: Option<Validity>,
    pub status: VoucherStatus,
    pub kind: VoucherKind,
    pub taxable: bool,
    pub tax_rate: Option<String>,
    pub order_number: Option<String>,
    pub data: Option<String>,
    /// Only with `status: Active` (imports of sold cards); else computed at activation.
    pub valid_until: Option<OffsetDateTime>,
}

impl NewVoucher {
    /// A digital, untaxed voucher of `amount_minor` with nothing else given: id, code, PIN and
    /// validity come from the tenant's patterns and defaults. Set other fields with struct
    /// update syntax.
    pub fn digital(amount_minor: i64, currency: Currency, status: VoucherStatus) -> NewVoucher {
        NewVoucher {
            id: None,
            code: None,
            pin: None,
            sku: None,
            batch: None,
            amount_minor,
            currency,
            validity: None,
            status,
            kind: VoucherKind::Digital,
            taxable: false,
            tax_rate: None,
            order_number: None,
            data: None,
            valid_until: None,
        }
    }
}

/// How a command names a voucher.
#[derive(Debug, Clone, PartialEq)]
pub enum VoucherRef {
    Id(String),
    Code(String),
    /// Both given: they must name the same voucher.
    Both {
        id: String,
        code: String,
    },
}

/// Every change the store can make.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Creates a tenant with default settings; acts in the new tenant.
    CreateTenant {
        id: Option<String>,
        name: String,
    },
    UpdateSettings(TenantSettings),
    /// The payment page's branding fields (the logo is kept as it is).
    SetBranding(crate::branding::Branding),
    /// The payment page's logo; `None` removes it.
    SetLogo(Option<crate::branding::Logo>),
    CreateClientGroup {
        name: String,
        scopes: Vec<Scope>,
    },
    CreateClient {
        name: String,
        client_group_id: String,
        client_type: String,
    },
    /// A fresh 30-minute connection pin for a client; earlier unused pins stay valid until
    /// they expire.
    IssueConnectionPin {
        client_id: String,
    },
    /// Exchanges a pin for client credentials. The tenant is the pin's, not the context's.
    ConnectClient {
        pin: String,
    },
    /// Client credentials grant. `scopes: None` asks for all scopes of the client's group.
    IssueToken {
        client_id: String,
        secret: String,
        scopes: Option<Vec<Scope>>,
        client_type: Option<String>,
    },
    /// Revokes the client's secret and every token at once.
    DisconnectClient {
        client_id: String,
    },
    CreateMerchantToken {
        name: String,
    },
    /// Revokes a merchant token of the tenant (again: unchanged).
    RevokeMerchantToken {
        token_id: String,
    },
    /// A webhook endpoint of the tenant (its secret shown once), delivering events from now on.
    CreateWebhookEndpoint {
        url: String,
        types: Vec<String>,
        allow_private: bool,
    },
    DeleteWebhookEndpoint {
        endpoint_id: String,
    },
    /// A new secret for an endpoint (shown once); the old one still signs for a grace period.
    RotateWebhookSecret {
        endpoint_id: String,
    },
    /// Sends an endpoint the events after `after` again (and enables it if it was disabled).
    RedeliverWebhook {
        endpoint_id: String,
        after: i64,
    },
    CreateVoucher(NewVoucher),
    /// `None`: unchanged; `Some(None)`: cleared.
    UpdateVoucher {
        id: String,
        sku: Option<Option<String>>,
        batch: Option<Option<String>>,
    },
    SetVoucherStatus {
        id: String,
        status: VoucherStatus,
        comment: Option<String>,
    },
    DeleteVoucher {
        id: String,
        comment: String,
    },
    /// Holds an amount on the voucher with this code, superseding its live reservation.
    Reserve {
        code: String,
        pin: Option<String>,
        amount_minor: i64,
        currency: Currency,
    },
    ChargeReservation {
        reservation_id: String,
        order_number: String,
    },
    ReleaseReservation {
        reservation_id: String,
    },
    Refund {
        charge_id: String,
        amount_minor: i64,
        currency: Currency,
    },
    Recharge {
        voucher: VoucherRef,
        amount_minor: i64,
        currency: Currency,
        order_number: String,
    },
    /// A Front Payment reservation waiting for its payment link (`SENT`).
    FrontSubmit(NewFrontReservation),
    /// The customer opened the payment page (recorded once).
    FrontOpenLink {
        reservation_id: String,
    },
    /// The customer pays on the payment page: holds the grand total on the vouchers, in the
    /// order given (each what it can of what is still to cover).
    FrontPay {
        reservation_id: String,
        vouchers: Vec<voucherd_domain::front::PayingVoucher>,
        /// The currency the page showed the amounts in, if any: a voucher in another is refused.
        currency: Option<voucherd_domain::Currency>,
    },
    FrontCapture {
        reservation_id: String,
        lines: Vec<LineAmount>,
        note: Option<String>,
    },
    /// A merchant-initiated charge of new lines on the stored voucher.
    FrontCharge {
        reservation_id: String,
        lines: Vec<FrontLineInput>,
        note: Option<String>,
    },
    FrontCancel {
        reservation_id: String,
        note: String,
    },
    FrontComplete {
        reservation_id: String,
        note: String,
    },
    FrontResend {
        reservation_id: String,
        sent_to: Option<String>,
    },
    FrontRefund {
        reservation_id: String,
        source: PostingSource,
        reference: String,
        lines: Vec<LineAmount>,
    },
    /// A new payer account (the password already hashed) and its first token.
    PayerSignUp {
        kind: PayerKind,
        identifier: String,
        password_hash: String,
    },
    /// A token for a payer whose password the face has verified.
    PayerSignIn {
        payer_id: String,
    },
    /// A payee token for the open context with this code.
    PayeeSignIn {
        context_code: String,
    },
    /// Adds a voucher to a payer's account, proving possession with its code and PIN.
    AddPayerVoucher {
        payer_id: String,
        code: String,
        pin: Option<String>,
    },
    OpenContext {
        payer_id: String,
        format: CodeFormat,
        addresses: Vec<ContextAddress>,
    },
    CloseContext {
        payer_id: String,
        context_id: String,
        payee_id: Option<String>,
    },
    /// A context's payee sent a wrong context code; the fifth closes the context.
    ContextMiss {
        context_id: String,
    },
    /// A fresh 6-digit voucher code in the context with this code.
    ReserveCode {
        caller: BleepayCaller,
        context_code: String,
    },
    /// The payee states the amount: a hold on a bound voucher with enough available balance.
    RedeemCode {
        caller: BleepayCaller,
        code_id: String,
        amount_minor: i64,
        currency: Currency,
    },
    /// The payer confirms: the hold is charged.
    ResolveCode {
        payer_id: String,
        code_id: String,
    },
    DiscardCode {
        caller: BleepayCaller,
        code_id: String,
    },
    /// A console user (the password already hashed).
    CreateConsoleUser {
        username: String,
        password_hash: String,
    },
    /// Disables, enables or unlocks a console user, or resets their password.
    ChangeConsoleUser {
        username: String,
        change: ConsoleUserChange,
    },
    /// A wrong password for a console user; the fifth in a row locks the user for a while.
    ConsoleLoginFailed {
        username: String,
    },
    /// A verified login: a new session (and the failure count starts again).
    OpenConsoleSession {
        user_id: String,
    },
    /// Pushes a session's idle expiry forward.
    TouchConsoleSession {
        token_digest: String,
    },
    CloseConsoleSession {
        token_digest: String,
    },
    /// A series of `count` vouchers, issued later in chunks by [`Command::IssueSeriesChunk`].
    StartSeries {
        template: SeriesTemplate,
        count: i64,
    },
    /// Issues up to `max` more vouchers of a running series and holds its lease a while longer.
    IssueSeriesChunk {
        series_id: String,
        max: i64,
    },
    /// Creates all these vouchers in one transaction, or none of them.
    ImportVouchers {
        rows: Vec<NewVoucher>,
    },
}

impl Command {
    /// The audit action name.
    pub fn action(&self) -> &'static str {
        match self {
            Command::CreateTenant { .. } => "tenant.create",
            Command::UpdateSettings(_) => "settings.update",
            Command::SetBranding(_) => "branding.update",
            Command::SetLogo(_) => "branding.logo",
            Command::CreateClientGroup { .. } => "client_group.create",
            Command::CreateClient { .. } => "client.create",
            Command::IssueConnectionPin { .. } => "client.pin",
            Command::ConnectClient { .. } => "client.connect",
            Command::IssueToken { .. } => "token.issue",
            Command::DisconnectClient { .. } => "client.disconnect",
            Command::CreateMerchantToken { .. } => "merchant_token.create",
            Command::RevokeMerchantToken { .. } => "merchant_token.revoke",
            Command::CreateWebhookEndpoint { .. } => "webhook.create",
            Command::DeleteWebhookEndpoint { .. } => "webhook.delete",
            Command::RedeliverWebhook { .. } => "webhook.redeliver",
            Command::RotateWebhookSecret { .. } => "webhook.rotate_secret",
            Command::CreateVoucher(_) => "voucher.create",
            Command::UpdateVoucher { .. } => "voucher.update",
            Command::SetVoucherStatus { .. } => "voucher.status",
            Command::DeleteVoucher { .. } => "voucher.delete",
            Command::Reserve { .. } => "hold.reserve",
            Command::ChargeReservation { .. } => "hold.charge",
            Command::ReleaseReservation { .. } => "hold.release",
            Command::Refund { .. } => "entry.refund",
            Command::Recharge { .. } => "entry.recharge",
            Command::FrontSubmit(_) => "front.submit",
            Command::FrontOpenLink { .. } => "front.link_opened",
            Command::FrontPay { .. } => "front.reserve",
            Command::FrontCapture { .. } => "front.capture",
            Command::FrontCharge { .. } => "front.charge",
            Command::FrontCancel { .. } => "front.cancel",
            Command::FrontComplete { .. } => "front.complete",
            Command::FrontResend { .. } => "front.resend",
            Command::FrontRefund { .. } => "front.refund",
            Command::PayerSignUp { .. } => "payer.sign_up",
            Command::PayerSignIn { .. } => "payer.sign_in",
            Command::PayeeSignIn { .. } => "payee.sign_in",
            Command::AddPayerVoucher { .. } => "payer.add_voucher",
            Command::OpenContext { .. } => "context.open",
            Command::CloseContext { .. } => "context.close",
            Command::ContextMiss { .. } => "context.miss",
            Command::ReserveCode { .. } => "code.reserve",
            Command::RedeemCode { .. } => "code.redeem",
            Command::ResolveCode { .. } => "code.resolve",
            Command::DiscardCode { .. } => "code.discard",
            Command::CreateConsoleUser { .. } => "console_user.create",
            Command::ChangeConsoleUser { change, .. } => change.action(),
            Command::ConsoleLoginFailed { .. } => "console.login_failed",
            Command::OpenConsoleSession { .. } => "console.login",
            Command::TouchConsoleSession { .. } => "console.touch",
            Command::CloseConsoleSession { .. } => "console.logout",
            Command::StartSeries { .. } => "series.start",
            Command::IssueSeriesChunk { .. } => "series.issue",
            Command::ImportVouchers { .. } => "voucher.import",
        }
    }
}

/// What a command produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Tenant(Tenant),
    Settings(TenantSettings),
    /// The tenant's branding as it now stands.
    Branding(crate::branding::Branding),
    ClientGroup(ClientGroup),
    Client(Client),
    ConnectionPin {
        pin: String,
        expires_at: OffsetDateTime,
    },
    /// The client and its new secret, shown this once.
    Connected {
        tenant_id: String,
        client: Client,
        secret: String,
    },
    Token {
        token: String,
        scopes: Vec<Scope>,
        expires_at: OffsetDateTime,
    },
    Disconnected,
    MerchantToken {
        id: String,
        name: String,
        token: String,
        /// The secret that Front Payment callbacks are checksummed with.
        callback_secret: String,
    },
    /// A merchant token after its revocation.
    MerchantTokenRevoked(MerchantToken),
    /// A new webhook endpoint and its secret, shown this once.
    WebhookEndpointCreated {
        endpoint: Box<crate::webhooks::WebhookEndpoint>,
        secret: String,
    },
    WebhookEndpointDeleted,
    /// An endpoint's new secret, shown this once.
    WebhookSecretRotated {
        endpoint: Box<crate::webhooks::WebhookEndpoint>,
        secret: String,
    },
    /// An endpoint after a redelivery was set up.
    WebhookEndpoint(Box<crate::webhooks::WebhookEndpoint>),
    Voucher(VoucherView),
    VoucherDeleted,
    Reservation(HoldView),
    Released,
    /// `first_time: false` when the reservation was already charged with the same order
    /// number and this is that charge again.
    Charge {
        entry: EntryView,
        first_time: bool,
    },
    Refund(EntryView),
    Recharge(EntryView),
    FrontReservation(Box<FrontReservationView>),
    /// A capture or charge, by its `CAP…`/`CHA…` id.
    FrontPosting {
        id: String,
    },
    FrontDone,
    /// A bearer token of the bleepay face, shown this once.
    BleepayToken {
        token: String,
        expires_at: OffsetDateTime,
        /// The payer account it belongs to (`None` for a payee token).
        payer_id: Option<String>,
    },
    PayerVoucher(PayerVoucherView),
    Context(Box<ContextView>),
    Code(Box<CodeView>),
    ConsoleUser {
        id: String,
        username: String,
    },
    /// A console user after a change.
    ConsoleUserChanged(ConsoleUserView),
    /// A failed login was counted; `locked_until` when it locked the user.
    ConsoleLoginCounted {
        locked_until: Option<OffsetDateTime>,
    },
    /// A new session: the cookie's token and the CSRF token, shown this once.
    ConsoleSession {
        token: String,
        csrf_token: String,
        expires_at: OffsetDateTime,
    },
    ConsoleSessionChanged,
    Series(Box<SeriesView>),
    Imported {
        count: i64,
    },
}

/// The answer of one command: an outcome or a business refusal.
pub type CommandResult = Result<Outcome, DomainError>;

/// A response as a face rendered it, stored for idempotent replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// Renders a command's result the way the calling face answers it, so that the store can keep
/// the exact first response in the same transaction as the change.
pub type Renderer = Box<dyn Fn(&CommandResult) -> StoredResponse + Send + Sync>;

/// An `Idempotency-Key` and what it must be checked against.
pub struct IdempotencyRequest {
    /// Who used the key (a client id, `admin`, ...); keys are scoped per tenant and caller.
    pub caller: String,
    pub key: String,
    /// A digest of method, path and body: the same key with another request is refused.
    pub request_digest: String,
    pub render: Renderer,
}

/// A command with everything needed to run it.
pub struct CommandRequest {
    pub context: CommandContext,
    pub command: Command,
    pub idempotency: Option<IdempotencyRequest>,
}

/// How a submitted command ended.
// One value is built and moved once per command; boxing the large outcome would only add an
// allocation to the hot path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Execution {
    /// The command ran now.
    Done(CommandResult),
    /// The key was seen before with the same request: here is the first response.
    Replayed(StoredResponse),
    /// The key was seen before with a different request.
    KeyReused,
}
