//! `starling edge`: native clients that join a server over WebSockets.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use starling_edge::{EdgeConfig, builtin_source, run_clients};

use crate::console::{complain, say};
use crate::logging;

/// Options of `starling edge`.
#[derive(Args, Debug)]
pub struct EdgeArgs {
    /// Server WebSocket URL.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    pub server: String,
    /// Clients to run in this process.
    #[arg(long, default_value_t = 1)]
    pub clients: usize,
    /// Prefix of the client ids (`<prefix>-0`, `<prefix>-1`, …).
    #[arg(long, default_value = "edge")]
    pub id_prefix: String,
    /// Folder with MNIST-format IDX files, the same the server uses; the
    /// embedded digits when omitted.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Clients of this process that train at the same time.
    #[arg(long)]
    pub parallel: Option<usize>,
    /// Reconnect attempts after a lost connection.
    #[arg(long, default_value_t = 20)]
    pub max_reconnects: u32,
}

/// Runs the clients until the server ends the run.
pub async fn run(args: EdgeArgs) -> anyhow::Result<()> {
    logging::init("info");
    let source = builtin_source(args.data.as_deref()).context("failed to load client data")?;
    let mut config = EdgeConfig::new(&args.server);
    config.max_reconnects = args.max_reconnects;
    let parallel = args.parallel.unwrap_or_else(default_parallelism);
    let results = run_clients(config, &args.id_prefix, args.clients, source, parallel).await;
    let mut failures = 0;
    // Failures still count once standard output is gone.
    let mut printed = Ok(());
    for result in &results {
        match result {
            Ok(outcome) if outcome.reason.is_none() => {
                failures += 1;
                complain!(
                    "client {} stopped: another connection registered with the same client id",
                    outcome.client_id
                );
            }
            Ok(outcome) => {
                if printed.is_ok() {
                    printed = say!(
                        "client {} trained in {} rounds; final test accuracy {}",
                        outcome.client_id,
                        outcome.rounds_trained,
                        outcome
                            .accuracy
                            .map(|a| format!("{:.2}%", a * 100.0))
                            .unwrap_or_else(|| "n/a".into())
                    );
                }
            }
            Err(err) => {
                failures += 1;
                complain!("client failed: {err}");
            }
        }
    }
    anyhow::ensure!(
        failures == 0,
        "{failures} of {} clients failed",
        results.len()
    );
    printed
}

/// Cores available to this process (at least 1).
pub fn default_parallelism() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
}
