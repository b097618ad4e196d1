//! The `voucherd` binary: parses the command line and hands over to the library.

use anyhow::Context;
use std::io::{IsTerminal, Write};
use std::sync::Arc;

use clap::Parser;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;
use voucherd_server::cli::{Cli, Top};
use voucherd_server::clock::SystemClock;

/// mimalloc instead of the C library's allocator: a request allocates and frees many small
/// buffers across the runtime's threads, where glibc's malloc spent about a quarter of the
/// server's CPU (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_env("VOUCHERD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr; stdout carries only what a person asked for (the admin token, the
    // OpenAPI document, admin task results).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not for a file or a log collector.
        .with_ansi(std::io::stderr().is_terminal())
        // A failed log write is otherwise reported with `eprintln!`, which panics when stderr
        // itself is gone (a log collector that died) and would take the request down with it.
        .log_internal_errors(false);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Listens for SIGTERM and Ctrl-C from this call on, and answers a future that completes on
/// the first of them. The handlers are in place before the service announces itself, so a
/// signal sent as soon as it serves stops it cleanly instead of killing it.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let signalled = {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
        }
    };
    #[cfg(not(unix))]
    let signalled = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    Ok(async move {
        signalled.await;
        tracing::info!("shutting down: finishing requests in flight");
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Top::Serve(config) => {
            init_logging(config.log_format == "json");
            // The address first: a port in use must fail before a database is created or an
            // admin token shown.
            let listener = TcpListener::bind(&config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?;
            let _serving = voucherd_server::serve_lock::claim(&config.database_url)?;
            let (state, generated) =
                voucherd_server::prepare(&config, Arc::new(SystemClock)).await?;
            if let Some(token) = generated {
                println!(
                    "voucherd: generated the admin token (shown only now, stored hashed):\n\n    {token}\n"
                );
            }
            let shutdown = shutdown_signal()?;
            tracing::info!(listen = %listener.local_addr()?, database = %described(&config.database_url), "voucherd serving");
            voucherd_server::run(state, listener, shutdown).await?;
        }
        Top::Migrate { database_url } => {
            init_logging(false);
            voucherd_server::open_store(&database_url).await?;
            println!(
                "voucherd: the database at {} is up to date",
                redacted(&database_url)
            );
        }
        Top::Backup { database_url, to } => {
            init_logging(false);
            voucherd_server::cli::backup(&database_url, &to).await?;
            println!(
                "voucherd: {} backed up to {}",
                redacted(&database_url),
                to.display()
            );
        }
        Top::Openapi => {
            let document = serde_json::to_string_pretty(&voucherd_server::openapi::document())?;
            // Written, not printed: a reader that stops early (`voucherd openapi | head`) closes
            // the pipe, which is an ending, not a reason to panic.
            let mut out = std::io::stdout().lock();
            match writeln!(out, "{document}").and_then(|()| out.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other?,
            }
        }
        Top::Admin {
            database_url,
            tenant,
            task,
        } => {
            voucherd_server::cli::admin(&database_url, &tenant, task).await?;
        }
    }
    Ok(())
}

/// A database URL without its password, for logs.
/// The database as the start-up log names it: a SQLite file by its absolute path, so an
/// operator knows which file holds the ledger; any other URL without its password.
fn described(url: &str) -> String {
    voucherd_store_sqlite::database_path(url)
        .ok()
        .filter(|_| url.starts_with("sqlite:"))
        .and_then(|path| std::fs::canonicalize(path).ok())
        .map_or_else(
            || redacted(url),
            |path| format!("sqlite://{}", path.display()),
        )
}

fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
