//! Process-wide set-up shared by the commands: logging, the async runtime, actor name.

use std::future::Future;
use std::io::IsTerminal;

use anyhow::Context;

/// Logs go to stderr; `RUST_LOG` filters them (default `info` for tusk crates,
/// `warn` for the rest).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,tusk_server=info,tusk_cli=info")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Runs `fut` to completion on a multi-threaded tokio runtime.
pub fn block_on<F: Future>(fut: F) -> anyhow::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(rt.block_on(fut))
}

/// Who is moving a pointer: `$USER@host`, for history records.
pub fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".to_string());
    let host = tusk_store::host_name().unwrap_or_else(|| "localhost".to_string());
    format!("{user}@{host}")
}
