//! What `voucherd serve` is configured with. Each setting is a flag and an environment
//! variable; the flag wins.

use clap::Args;

/// The default listen address.
pub const LISTEN_DEFAULT: &str = "127.0.0.1:8080";
/// The default database: one SQLite file beside the working directory.
pub const DATABASE_URL_DEFAULT: &str = "sqlite://./data/voucherd.db";

/// Settings of the running service.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "VOUCHERD_LISTEN", default_value = LISTEN_DEFAULT)]
    pub listen: String,

    /// `sqlite://path/to/file.db` (created and migrated on first start) or
    /// `postgres://user@host/db`.
    #[arg(long, env = "VOUCHERD_DATABASE_URL", default_value = DATABASE_URL_DEFAULT)]
    pub database_url: String,

    /// The admin API bearer token. When unset, one is generated at first start, stored
    /// hashed, and printed once.
    #[arg(long, env = "VOUCHERD_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// The URL clients reach this service at, used in absolute links (pagination). Defaults
    /// to `http://` plus the request's Host header.
    #[arg(long, env = "VOUCHERD_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Addresses of reverse proxies in front of voucherd (comma-separated IPs). A request from
    /// one of them is counted under the client address its `X-Forwarded-For` names, so the
    /// per-address limits apply per client rather than to the proxy as a whole.
    #[arg(
        long = "trusted-proxy",
        env = "VOUCHERD_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// Log format: `text` or `json`.
    #[arg(long, env = "VOUCHERD_LOG_FORMAT", default_value = "text")]
    pub log_format: String,

    #[command(flatten)]
    pub limits: Limits,
}

/// How much one caller, one address and one slow client may take of the service.
#[derive(Debug, Clone, Copy, Args)]
pub struct Limits {
    /// Requests per second one authenticated caller (a JTL client, a Front Payment merchant,
    /// a bleepay payer or payee) may make on average; bursts of twice as many pass. Beyond it
    /// the caller gets 429 with `Retry-After`. 0 turns the limit off.
    #[arg(long, env = "VOUCHERD_CALLER_RATE_LIMIT", default_value_t = CALLER_RATE_LIMIT_DEFAULT)]
    pub caller_rate_limit: u32,

    /// Requests per second one remote address may make on average, on every path but the
    /// health and metrics endpoints; bursts of twice as many pass. 0 turns the limit off.
    /// Behind a reverse proxy, name it with `--trusted-proxy` so that each client is counted
    /// under its own address rather than all under the proxy's.
    #[arg(long, env = "VOUCHERD_ADDRESS_RATE_LIMIT", default_value_t = ADDRESS_RATE_LIMIT_DEFAULT)]
    pub address_rate_limit: u32,

    /// Seconds a client has to send a request's head, and again its body; a slower client's
    /// connection is closed (head) or answered 408 (body). Also how long an idle keep-alive
    /// connection stays open.
    #[arg(long, env = "VOUCHERD_CLIENT_TIMEOUT_SECONDS", default_value_t = CLIENT_TIMEOUT_SECONDS_DEFAULT)]
    pub client_timeout_seconds: u64,
}

/// The default of [`Limits::caller_rate_limit`]. A shop's back end or an ERP syncing vouchers is
/// one caller doing everything: it must run a sequential bulk job at full speed (one
/// connection on loopback makes 1 000 – 5 000 requests a second here) and bursts of a hundred
/// parallel requests without a 429. So the rate limits stop a runaway or hostile caller from
/// taking the whole node, nothing less; guessing is limited separately and much tighter (codes,
/// PINs, connection pins, context codes, logins).
pub const CALLER_RATE_LIMIT_DEFAULT: u32 = 5_000;
/// The default of [`Limits::address_rate_limit`]: twice the caller's, so that an address with
/// two busy callers (a till and its back office) stays under it.
pub const ADDRESS_RATE_LIMIT_DEFAULT: u32 = 10_000;
/// The default of [`Limits::client_timeout_seconds`].
pub const CLIENT_TIMEOUT_SECONDS_DEFAULT: u64 = 10;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            caller_rate_limit: CALLER_RATE_LIMIT_DEFAULT,
            address_rate_limit: ADDRESS_RATE_LIMIT_DEFAULT,
            client_timeout_seconds: CLIENT_TIMEOUT_SECONDS_DEFAULT,
        }
    }
}

impl Limits {
    /// No rate limits (benchmarks, tests of other things); the client timeout stays.
    pub fn without_rate_limits() -> Self {
        Limits {
            caller_rate_limit: 0,
            address_rate_limit: 0,
            ..Limits::default()
        }
    }
}

impl Config {
    /// The defaults, as `voucherd serve` without flags or environment would use them.
    pub fn for_database(database_url: &str) -> Self {
        Config {
            listen: LISTEN_DEFAULT.into(),
            database_url: database_url.into(),
            admin_token: None,
            public_url: None,
            trusted_proxies: Vec::new(),
            log_format: "text".into(),
            limits: Limits::default(),
        }
    }
}
