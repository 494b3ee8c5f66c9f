//! `starling`: the coordinator, native edge clients, the simulator and the
//! demo behind one command line.

mod args;
mod commands;
mod console;
mod logging;
mod report;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Federated learning on real devices: an axum coordinator, native and
/// browser clients, and an in-process simulator.
#[derive(Parser, Debug)]
#[command(name = "starling", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the coordinator: accept clients on /ws and run the rounds.
    Serve(commands::serve::ServeArgs),
    /// Run native edge clients that join a server and train.
    Edge(commands::edge::EdgeArgs),
    /// Simulate N clients in one process, without sockets.
    Sim(commands::sim::SimArgs),
    /// Start a server and 8 edge clients on the embedded digits.
    Demo(commands::demo::DemoArgs),
    /// Write a run's figures (accuracy, loss, bytes, ε) as SVG files.
    Plot(commands::plot::PlotArgs),
    /// Compute ε for DP-FedAvg, or the noise multiplier for a target ε.
    Privacy(commands::privacy::PrivacyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of the report went away (`starling sim | head`): what
        // it asked for was printed, as `head` and `grep -m` expect.
        Err(err) if console::is_closed(&err) => ExitCode::SUCCESS,
        Err(err) => {
            console::complain!("error: {}", error_chain(&err));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => commands::serve::run(args).await,
            Command::Edge(args) => commands::edge::run(args).await,
            Command::Sim(args) => commands::sim::run(args).await,
            Command::Demo(args) => commands::demo::run(args).await,
            Command::Plot(args) => commands::plot::run(args),
            Command::Privacy(args) => commands::privacy::run(args),
        }
    })
}

/// Joins an error and its causes with ": ", skipping a cause whose text the
/// message before it already contains (many errors embed their source).
fn error_chain(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
