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

    /// Log format: `text` or `json`.
    #[arg(long, env = "VOUCHERD_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

impl Config {
    /// The defaults, as `voucherd serve` without flags or environment would use them.
    pub fn for_database(database_url: &str) -> Self {
        Config {
            listen: LISTEN_DEFAULT.into(),
            database_url: database_url.into(),
            admin_token: None,
            public_url: None,
            log_format: "text".into(),
        }
    }
}
