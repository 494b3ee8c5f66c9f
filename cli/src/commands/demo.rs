//! `starling demo`: a server and eight edge clients on the embedded digits,
//! over real WebSockets on the loopback interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use starling_client::DataSource;
use starling_edge::{EdgeConfig, run_clients};
use starling_proto::ModelKind;
use starling_server::RunConfig;

use crate::args::RunArgs;
use crate::commands::edge::default_parallelism;
use crate::commands::serve::{serve_run, web_dir};
use crate::console::{self, complain, say};
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
    /// Browser tabs to wait for (at most --lobby seconds, 30 by default)
    /// before round 1; tabs may also join later rounds.
    #[arg(long, default_value_t = 1)]
    pub browser_clients: usize,
    /// Folder with the built browser client (`cargo xtask build-web`)
    /// [default: target/web/client of the checkout the binary was built in].
    #[arg(long, value_name = "DIR")]
    pub web_dir: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Seconds a demo round waits for its updates unless --round-timeout sets
/// another value.
const DEMO_ROUND_TIMEOUT_SECS: f64 = 30.0;

/// Seconds round 1 waits for browser tabs unless --lobby sets another value.
const BROWSER_LOBBY_SECS: f64 = 30.0;

/// The demo's defaults: MLP on IID partitions, every client in every
/// round, 5 local epochs of SGD with momentum (lr 0.05, momentum 0.9).
/// Round 1 starts once the edge clients are in and either the browser tabs
/// have joined or the lobby time is over.
fn demo_config(edge_clients: usize, browser_clients: usize) -> RunConfig {
    let mut config = RunConfig {
        rounds: 10,
        fraction: 1.0,
        min_available_clients: Some(edge_clients as u32),
        expected_clients: (edge_clients + browser_clients) as u32,
        lobby_secs: if browser_clients > 0 {
            BROWSER_LOBBY_SECS
        } else {
            0.0
        },
        // A closed tab keeps its round open until the deadline, so the demo
        // keeps the deadline short. Edge clients need about a second a round.
        round_timeout_secs: DEMO_ROUND_TIMEOUT_SECS,
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
    let web_dir = web_dir(args.web_dir.as_deref())?;
    let web_built = web_dir.join("index.html").is_file();
    let browsers = if web_built { args.browser_clients } else { 0 };
    let config = args.run.resolve(demo_config(clients, browsers))?;
    let lobby = config.lobby_secs;
    let mut edge_task = None;
    let (summary, run_dir) = serve_run(config, args.bind, &web_dir, |ready| {
        let url = format!("ws://{}/ws", ready.address);
        let address = ready.address;
        let mut banner = format!("Starling demo: run {}\n", ready.run.run_id());
        banner.push_str(&if ready.browser_client {
            format!("  join:      http://{address}/  <- open in a browser: the tab trains as a client\n")
        } else {
            "  join:      browser client not built (run `cargo xtask build-web`)\n".to_owned()
        });
        banner.push_str(&if ready.dashboard {
            format!(
                "  dashboard: http://{address}/dashboard/  <- the run live: accuracy, bytes, clients\n"
            )
        } else {
            "  dashboard: not built (run `cargo xtask build-web`)\n".to_owned()
        });
        banner.push_str(&format!(
            "  clients:   {url} ({clients} edge clients in this process)\n"
        ));
        banner.push_str(&format!("  outputs:   {}\n", ready.run.run_dir().display()));
        if browsers > 0 && lobby > 0.0 {
            banner.push_str(&format!(
                "  round 1 waits up to {lobby:.0} s for {browsers} browser tab(s); \
                 --browser-clients 0 starts at once\n"
            ));
        }
        console::notice(&banner);
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
                complain!("edge client failed: {err}");
            }
        }
    }
    let printed = say!("{}", report::final_line(&summary, &run_dir));
    report::check_finished(&summary)?;
    printed
}
