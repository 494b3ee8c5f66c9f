//! `starling sim`: the coordinator and N clients in one process.

use clap::Args;
use starling_server::RunConfig;
use starling_sim::{SimConfig, simulate};

use crate::args::RunArgs;
use crate::commands::edge::default_parallelism;
use crate::{logging, report};

/// Options of `starling sim`.
#[derive(Args, Debug)]
pub struct SimArgs {
    /// Simulated clients [default: `expected_clients` of --config, else 100].
    #[arg(long)]
    pub clients: Option<usize>,
    /// Clients that train at the same time.
    #[arg(long)]
    pub parallel: Option<usize>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs the simulation and prints the rounds and the final accuracy.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    logging::init("warn");
    let base = RunConfig {
        fraction: 0.1,
        expected_clients: 100,
        ..RunConfig::default()
    };
    let run = args.run.resolve(base)?;
    let config = SimConfig {
        clients: args.clients.unwrap_or(run.expected_clients as usize),
        parallel: args.parallel.unwrap_or_else(default_parallelism),
        progress: !args.quiet,
        run,
    };
    let report = simulate(config).await?;
    for (client, error) in &report.client_errors {
        eprintln!("client {client} failed: {error}");
    }
    for metrics in starling_server::read_metrics(&report.run_dir)? {
        println!("{}", report::round_line(&metrics));
    }
    println!("{}", report::final_line(&report.summary, &report.run_dir));
    report::check_finished(&report.summary)
}
