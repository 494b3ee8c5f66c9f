//! `starling demo`: a server and eight edge clients on the embedded digits,
//! over real WebSockets on the loopback interface.

use std::net::SocketAddr;

use clap::Args;
use starling_client::DataSource;
use starling_edge::{EdgeConfig, run_clients};
use starling_proto::ModelKind;
use starling_server::RunConfig;

use crate::args::RunArgs;
use crate::commands::edge::default_parallelism;
use crate::commands::serve::serve_run;
use crate::{logging, report};

/// Options of `starling demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Edge clients to start.
    #[arg(long, default_value_t = 8)]
    pub edge_clients: usize,
    #[command(flatten)]
    pub run: RunArgs,
}

/// The demo's defaults: MLP on IID partitions, every client in every
/// round, 5 local epochs of SGD with momentum (lr 0.05, momentum 0.9).
fn demo_config(clients: usize) -> RunConfig {
    let mut config = RunConfig {
        rounds: 10,
        fraction: 1.0,
        min_available_clients: Some(clients as u32),
        expected_clients: clients as u32,
        ..RunConfig::default()
    };
    config.train.model = ModelKind::Mlp;
    config.train.local_epochs = 5;
    config.train.learning_rate = 0.05;
    config.train.momentum = 0.9;
    config
}

/// Runs the demo to the end and prints the final accuracy.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    logging::init("warn");
    let clients = args.edge_clients.max(1);
    let config = args.run.resolve(demo_config(clients))?;
    let mut edge_task = None;
    let (summary, run_dir) = serve_run(config, args.bind, |ready| {
        let url = format!("ws://{}/ws", ready.address);
        println!("Starling demo: run {}", ready.run.run_id());
        println!("  server:    http://{}/", ready.address);
        println!("  clients:   {url} ({clients} edge clients in this process)");
        println!("  outputs:   {}", ready.run.run_dir().display());
        let edge = EdgeConfig::new(url);
        edge_task = Some(tokio::spawn(run_clients(
            edge,
            "edge",
            clients,
            DataSource::Embedded,
            default_parallelism(),
        )));
    })
    .await?;
    if let Some(task) = edge_task {
        for result in task.await? {
            if let Err(err) = result {
                eprintln!("edge client failed: {err}");
            }
        }
    }
    println!("{}", report::final_line(&summary, &run_dir));
    report::check_finished(&summary)
}
