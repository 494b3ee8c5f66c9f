//! Log setup: structured `tracing` output on stderr, filtered by `RUST_LOG`
//! or a per-command default.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; `default` applies when `RUST_LOG` is
/// unset (for example `"info"` or `"warn,starling_server=info"`).
pub fn init(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        // By default a failed write is reported with `eprintln!`, which
        // panics when standard error is a closed pipe (`2>&1 | head`).
        .log_internal_errors(false)
        .try_init();
}
