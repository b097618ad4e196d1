//! The command line: `voucherd serve | migrate | backup | openapi | admin ...`. The admin subcommands
//! submit the same store commands as the admin API, acting as the operator `cli`.

use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use serde_json::json;
use voucherd_domain::pattern::Pattern;
use voucherd_domain::{Scope, ValidityInterval};
use voucherd_store::console::{ConsoleUserChange, password_problem, username_problem};
use voucherd_store::model::{DEFAULT_TENANT_ID, TenantSettings};
use voucherd_store::{Actor, Command, CommandContext, CommandRequest, Execution, Outcome, Store};

use crate::admin::{present, webhooks};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, DATABASE_URL_DEFAULT};

#[derive(Debug, Parser)]
#[command(
    name = "voucherd",
    version,
    about = "Stored-value vouchers with reservations over an exact ledger"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Top,
}

#[derive(Debug, Subcommand)]
pub enum Top {
    /// Runs the service.
    Serve(Config),
    /// Creates or upgrades the database schema, then exits.
    Migrate {
        #[arg(long, env = "VOUCHERD_DATABASE_URL", default_value = DATABASE_URL_DEFAULT)]
        database_url: String,
    },
    /// Prints the OpenAPI document.
    Openapi,
    /// Writes a consistent copy of an SQLite database to a new file while the service runs
    /// (for PostgreSQL use pg_dump; see README).
    Backup {
        #[arg(long, env = "VOUCHERD_DATABASE_URL", default_value = DATABASE_URL_DEFAULT)]
        database_url: String,
        /// The new file to write (never overwritten).
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Operator tasks on the database, as the admin API offers them.
    Admin {
        /// Also accepted after the task (`voucherd admin tenants --database-url ...`).
        #[arg(long, global = true, env = "VOUCHERD_DATABASE_URL", default_value = DATABASE_URL_DEFAULT)]
        database_url: String,
        /// The tenant to act in; also accepted after the task.
        #[arg(long, global = true, default_value = DEFAULT_TENANT_ID)]
        tenant: String,
        #[command(subcommand)]
        task: AdminTask,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminTask {
    /// Lists tenants.
    Tenants,
    /// Creates a tenant.
    CreateTenant {
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        name: String,
    },
    /// Shows the tenant's settings.
    Settings,
    /// Changes some of the tenant's settings.
    SetSettings {
        #[arg(long)]
        voucher_id_pattern: Option<String>,
        #[arg(long)]
        code_pattern: Option<String>,
        /// A pattern, or `none` for no generated PINs.
        #[arg(long)]
        pin_pattern: Option<String>,
        #[arg(long)]
        default_validity_value: Option<i64>,
        #[arg(long)]
        default_validity_interval: Option<String>,
        #[arg(long)]
        reservation_ttl_seconds: Option<i64>,
        #[arg(long)]
        token_ttl_seconds: Option<i64>,
    },
    /// Lists client groups.
    Groups,
    /// Creates a client group with space-separated scopes.
    CreateGroup {
        #[arg(long)]
        name: String,
        #[arg(
            long,
            default_value = "read read-lists read-secrets use manage update recharge"
        )]
        scopes: String,
    },
    /// Lists clients.
    Clients,
    /// Creates a client in a group.
    CreateClient {
        #[arg(long)]
        name: String,
        #[arg(long)]
        group: String,
        #[arg(long, default_value = "pos")]
        client_type: String,
    },
    /// Issues a 30-minute connection pin for a client.
    Pin {
        #[arg(long)]
        client: String,
    },
    /// Creates a merchant API token for the Front Payment face (shown once, with its
    /// callback secret).
    CreateMerchantToken {
        #[arg(long)]
        name: String,
    },
    /// Lists the tenant's merchant tokens (without the tokens), revoked ones included.
    MerchantTokens,
    /// Revokes a merchant token: its next request is refused, on every node.
    RevokeMerchantToken {
        #[arg(long)]
        id: String,
    },
    /// Lists the tenant's webhook endpoints (without secrets).
    Webhooks,
    /// Creates a webhook endpoint: events committed from now on are POSTed to it, signed; its
    /// secret is shown once.
    CreateWebhook {
        #[arg(long)]
        url: String,
        /// Comma-separated event types or families (`hold.*`); none: every type.
        #[arg(long, default_value = "")]
        types: String,
        /// Allow deliveries to loopback, private and link-local addresses.
        #[arg(long)]
        allow_private_addresses: bool,
    },
    /// Deletes a webhook endpoint.
    DeleteWebhook {
        #[arg(long)]
        id: String,
    },
    /// Gives a webhook endpoint a new secret (shown once); the old one signs beside it for a day.
    RotateWebhookSecret {
        #[arg(long)]
        id: String,
    },
    /// Sends a webhook endpoint the events after an event number again (and enables it).
    RedeliverWebhook {
        #[arg(long)]
        id: String,
        #[arg(long)]
        after: i64,
    },
    /// Recomputes every voucher of the tenant from its entries.
    Integrity,
    /// Console users (operators of the web console at /admin/).
    User {
        #[command(subcommand)]
        action: UserAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Creates a console user. The password is read from `VOUCHERD_CONSOLE_PASSWORD`; else,
    /// on a terminal, asked for twice without showing it; else from the first line of standard
    /// input (never from the command line, which others can read).
    Create {
        #[arg(long)]
        username: String,
    },
    /// Lists console users with their status (active, locked, disabled).
    List,
    /// Disables a console user: their sessions end and their logins are refused.
    Disable {
        #[arg(long)]
        username: String,
    },
    /// Enables a disabled console user.
    Enable {
        #[arg(long)]
        username: String,
    },
    /// Lifts a lockout after failed logins.
    Unlock {
        #[arg(long)]
        username: String,
    },
    /// Sets a new password, read like `create` does; also unlocks the user and ends their
    /// sessions.
    ResetPassword {
        #[arg(long)]
        username: String,
    },
}

/// Reads a line from the terminal on standard input without showing it: echo is off before the
/// prompt appears (so nothing typed after it is shown) and on again afterwards.
fn read_hidden(prompt: &str) -> std::io::Result<String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let shown = tcgetattr(&stdin)?;
    let mut hidden = shown.clone();
    hidden.local_modes.remove(LocalModes::ECHO);
    hidden.local_modes.insert(LocalModes::ECHONL);
    tcsetattr(&stdin, OptionalActions::Now, &hidden)?;
    eprint!("{prompt}");
    let mut line = String::new();
    let read = stdin.read_line(&mut line);
    tcsetattr(&stdin, OptionalActions::Now, &shown)?;
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn console_password(username: &str) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    let password = match std::env::var("VOUCHERD_CONSOLE_PASSWORD") {
        Ok(password) => password,
        Err(_) if std::io::stdin().is_terminal() => {
            let first = read_hidden(&format!("Password for {username}: "))
                .context("reading the password from the terminal")?;
            let again = read_hidden("The same password again: ")
                .context("reading the password from the terminal")?;
            if first != again {
                bail!("the two passwords differ; nothing was changed");
            }
            first
        }
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    if let Some(problem) = password_problem(&password) {
        bail!("{problem}");
    }
    Ok(password)
}

async fn execute(store: &dyn Store, tenant: &str, command: Command) -> anyhow::Result<Outcome> {
    let request = CommandRequest {
        context: CommandContext {
            tenant_id: tenant.to_string(),
            actor: Actor::Admin("cli".into()),
            request_id: format!("cli-{}", voucherd_domain::secret::opaque_id()),
            now: SystemClock.now(),
        },
        command,
        idempotency: None,
    };
    match store.execute(request).await? {
        Execution::Done(Ok(outcome)) => Ok(outcome),
        Execution::Done(Err(refusal)) => bail!("refused: {refusal}"),
        other => bail!("unexpected answer {other:?}"),
    }
}

fn print(value: serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    );
}

/// Runs an admin task.
pub async fn admin(database_url: &str, tenant: &str, task: AdminTask) -> anyhow::Result<()> {
    let store: Arc<dyn Store> = crate::open_store(database_url).await?;
    store.bootstrap(SystemClock.now()).await?;
    let settings = || async {
        store
            .tenant(tenant)
            .await?
            .map(|t| t.settings)
            .with_context(|| format!("tenant {tenant} does not exist"))
    };
    let done = |outcome: Outcome| print(json!(format!("{outcome:?}")));
    match task {
        AdminTask::Tenants => {
            for t in store.tenants().await? {
                print(json!({ "id": t.id, "name": t.name }));
            }
        }
        AdminTask::CreateTenant { id, name } => {
            done(execute(store.as_ref(), tenant, Command::CreateTenant { id, name }).await?)
        }
        AdminTask::Settings => print(json!(settings().await?)),
        AdminTask::SetSettings {
            voucher_id_pattern,
            code_pattern,
            pin_pattern,
            default_validity_value,
            default_validity_interval,
            reservation_ttl_seconds,
            token_ttl_seconds,
        } => {
            let current: TenantSettings = settings().await?;
            let mut next = current.clone();
            for pattern in [&voucher_id_pattern, &code_pattern].into_iter().flatten() {
                Pattern::parse(pattern).with_context(|| format!("pattern {pattern:?}"))?;
            }
            if let Some(p) = voucher_id_pattern {
                next.voucher_id_pattern = p;
            }
            if let Some(p) = code_pattern {
                next.code_pattern = p;
            }
            if let Some(p) = pin_pattern {
                next.pin_pattern = (p != "none").then_some(p);
            }
            if let Some(p) = &next.pin_pattern {
                Pattern::parse(p).with_context(|| format!("pattern {p:?}"))?;
            }
            if let Some(v) = default_validity_value {
                next.default_validity.value = v;
            }
            if let Some(i) = default_validity_interval {
                next.default_validity.interval = ValidityInterval::parse(&i)
                    .context("interval must be days, weeks, months or years")?;
            }
            if let Some(v) = reservation_ttl_seconds {
                next.reservation_ttl_seconds = v;
            }
            if let Some(v) = token_ttl_seconds {
                next.token_ttl_seconds = v;
            }
            done(execute(store.as_ref(), tenant, Command::UpdateSettings(next)).await?);
        }
        AdminTask::Groups => {
            for g in store.client_groups(tenant).await? {
                print(json!({ "id": g.id, "name": g.name, "scopes": Scope::join(&g.scopes) }));
            }
        }
        AdminTask::CreateGroup { name, scopes } => {
            let scopes = Scope::parse_list(&scopes).context("unknown scope")?;
            match execute(
                store.as_ref(),
                tenant,
                Command::CreateClientGroup { name, scopes },
            )
            .await?
            {
                Outcome::ClientGroup(g) => {
                    print(json!({ "id": g.id, "name": g.name, "scopes": Scope::join(&g.scopes) }))
                }
                other => done(other),
            }
        }
        AdminTask::Clients => {
            for c in store.clients(tenant).await? {
                print(
                    json!({ "id": c.id, "name": c.name, "group": c.client_group_id, "connected": c.connected }),
                );
            }
        }
        AdminTask::CreateClient {
            name,
            group,
            client_type,
        } => {
            match execute(
                store.as_ref(),
                tenant,
                Command::CreateClient {
                    name,
                    client_group_id: group,
                    client_type,
                },
            )
            .await?
            {
                Outcome::Client(c) => {
                    print(json!({ "id": c.id, "name": c.name, "group": c.client_group_id }))
                }
                other => done(other),
            }
        }
        AdminTask::Pin { client } => match execute(
            store.as_ref(),
            tenant,
            Command::IssueConnectionPin { client_id: client },
        )
        .await?
        {
            Outcome::ConnectionPin { pin, expires_at } => {
                print(json!({ "pin": pin, "expires_at": crate::wire::timestamp(expires_at) }))
            }
            other => done(other),
        },
        AdminTask::CreateMerchantToken { name } => match execute(
            store.as_ref(),
            tenant,
            Command::CreateMerchantToken { name },
        )
        .await?
        {
            Outcome::MerchantToken {
                id,
                name,
                token,
                callback_secret,
            } => print(json!({
                "id": id, "name": name, "token": token, "callback_secret": callback_secret
            })),
            other => done(other),
        },
        AdminTask::MerchantTokens => {
            for t in store.merchant_tokens(tenant).await? {
                print(present::merchant_token(&t));
            }
        }
        AdminTask::RevokeMerchantToken { id } => {
            let command = Command::RevokeMerchantToken { token_id: id };
            match execute(store.as_ref(), tenant, command).await? {
                Outcome::MerchantTokenRevoked(t) => print(present::merchant_token(&t)),
                other => done(other),
            }
        }
        AdminTask::User { action } => console_user(store.as_ref(), action).await?,
        AdminTask::Webhooks => {
            for endpoint in store.webhook_endpoints(tenant).await? {
                print(webhooks::endpoint_json(&endpoint));
            }
        }
        AdminTask::CreateWebhook {
            url,
            types,
            allow_private_addresses,
        } => {
            if let Some(problem) = voucherd_domain::webhook::url_problem(&url) {
                bail!("{problem}");
            }
            let types = voucherd_store::webhooks::parse_types(&types);
            if let Some(problem) = webhooks::types_problem(&types) {
                bail!("{problem}");
            }
            let command = Command::CreateWebhookEndpoint {
                url,
                types,
                allow_private: allow_private_addresses,
            };
            match execute(store.as_ref(), tenant, command).await? {
                Outcome::WebhookEndpointCreated { endpoint, secret } => {
                    print(webhooks::endpoint_with_secret(&endpoint, &secret))
                }
                other => done(other),
            }
        }
        AdminTask::RotateWebhookSecret { id } => {
            let command = Command::RotateWebhookSecret { endpoint_id: id };
            match execute(store.as_ref(), tenant, command).await? {
                Outcome::WebhookSecretRotated { endpoint, secret } => {
                    print(webhooks::endpoint_with_secret(&endpoint, &secret))
                }
                other => done(other),
            }
        }
        AdminTask::RedeliverWebhook { id, after } => {
            if after < 0 {
                bail!("--after must be an event number from 0");
            }
            let command = Command::RedeliverWebhook {
                endpoint_id: id,
                after,
            };
            match execute(store.as_ref(), tenant, command).await? {
                Outcome::WebhookEndpoint(endpoint) => print(webhooks::endpoint_json(&endpoint)),
                other => done(other),
            }
        }
        AdminTask::DeleteWebhook { id } => {
            let command = Command::DeleteWebhookEndpoint { endpoint_id: id };
            match execute(store.as_ref(), tenant, command).await? {
                Outcome::WebhookEndpointDeleted => print(json!({ "deleted": true })),
                other => done(other),
            }
        }
        AdminTask::Integrity => {
            let report = store.integrity(tenant, SystemClock.now()).await?;
            let clean = report.violations.is_empty();
            print(json!(report));
            if !clean {
                bail!("the ledger has violations");
            }
        }
    }
    Ok(())
}

/// Hashes a console password read from the environment, the terminal or standard input.
async fn console_password_hash(username: &str) -> anyhow::Result<String> {
    let password = console_password(username)?;
    crate::passwords::hashed(password)
        .await
        .context("the password could not be hashed")
}

/// Runs a console-user task (console users belong to no tenant; changes are audited in the
/// default tenant, as logins are).
async fn console_user(store: &dyn Store, action: UserAction) -> anyhow::Result<()> {
    let change = |username: String, change| Command::ChangeConsoleUser { username, change };
    let command = match action {
        UserAction::List => {
            let now = SystemClock.now();
            for user in store.console_users().await? {
                print(present::console_user(&user, now));
            }
            return Ok(());
        }
        UserAction::Create { username } => {
            let username = username.trim().to_string();
            if let Some(problem) = username_problem(&username) {
                bail!("{problem}");
            }
            let password_hash = console_password_hash(&username).await?;
            Command::CreateConsoleUser {
                username,
                password_hash,
            }
        }
        UserAction::Disable { username } => change(username, ConsoleUserChange::Disable),
        UserAction::Enable { username } => change(username, ConsoleUserChange::Enable),
        UserAction::Unlock { username } => change(username, ConsoleUserChange::Unlock),
        UserAction::ResetPassword { username } => {
            if store.console_user(&username).await?.is_none() {
                bail!(
                    "refused: {}",
                    voucherd_domain::DomainError::ConsoleUserNotFound
                );
            }
            let password_hash = console_password_hash(&username).await?;
            change(username, ConsoleUserChange::ResetPassword { password_hash })
        }
    };
    match execute(store, DEFAULT_TENANT_ID, command).await? {
        Outcome::ConsoleUser { id, username } => print(json!({ "id": id, "username": username })),
        Outcome::ConsoleUserChanged(user) => print(present::console_user(&user, SystemClock.now())),
        other => print(json!(format!("{other:?}"))),
    }
    Ok(())
}

/// Backs up the database at `database_url` to the new file `to`.
pub async fn backup(database_url: &str, to: &std::path::Path) -> anyhow::Result<()> {
    if !database_url.starts_with("sqlite:") {
        bail!(
            "voucherd backup copies SQLite databases; back up PostgreSQL with pg_dump \
             (for example: pg_dump --format=custom --file=voucherd.dump <database>)"
        );
    }
    if let Some(folder) = to.parent().filter(|f| !f.as_os_str().is_empty())
        && !folder.is_dir()
    {
        bail!(
            "the folder {} does not exist: create it first, or name another one with --to",
            folder.display()
        );
    }
    voucherd_store_sqlite::backup(database_url, to).await?;
    Ok(())
}
