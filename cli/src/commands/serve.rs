//! `starling serve`: the coordinator on a TCP port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use starling_server::web::WebAssets;
use starling_server::{
    RunConfig, RunHandle, RunSummary, StopHandle, api, http, mask_server, start_run,
};

use crate::args::RunArgs;
use crate::console::{self, say};
use crate::{logging, report};

/// What a `starling serve` process is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// The coordinator that runs rounds (the default).
    Coordinator,
    /// The second server of the two-server protocol: it sums the clients'
    /// mask shares for the coordinator at /mask.
    MaskServer,
}

/// Options of `starling serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Run the coordinator, or the mask server of the two-server protocol.
    #[arg(long, value_enum, default_value = "coordinator")]
    pub role: Role,
    /// Mask server: the fewest clients a mask sum may cover (at least 2).
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub min_sum_clients: usize,
    /// Folder with the built browser client (`cargo xtask build-web`)
    /// [default: target/web/client of the checkout the binary was built in].
    #[arg(long, value_name = "DIR")]
    pub web_dir: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Returns the folder where `cargo xtask build-web` puts the browser client
/// in the checkout this binary was built in.
pub fn default_web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("web")
        .join("client")
}

/// Resolves `--web-dir`: a folder given on the command line must exist,
/// while the default may be missing (the server then serves no client).
pub fn web_dir(arg: Option<&Path>) -> anyhow::Result<PathBuf> {
    match arg {
        Some(dir) if !dir.is_dir() => anyhow::bail!(
            "--web-dir {}: folder not found; build the browser client with `cargo xtask build-web`",
            dir.display()
        ),
        Some(dir) => Ok(dir.to_path_buf()),
        None => Ok(default_web_dir()),
    }
}

/// Runs the coordinator until the run ends or Ctrl-C, or the mask server
/// until Ctrl-C.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    logging::init("info");
    if args.role == Role::MaskServer {
        return serve_mask_server(args.bind, args.min_sum_clients).await;
    }
    let config = args.run.resolve(RunConfig::default())?;
    let web_dir = web_dir(args.web_dir.as_deref())?;
    let (summary, run_dir) = serve_run(config, args.bind, &web_dir, |ready| {
        let address = ready.address;
        let mut banner =
            format!("listening on http://{address}/ (clients connect to ws://{address}/ws)\n");
        if ready.browser_client {
            banner.push_str(&format!(
                "open http://{address}/ in a browser to join as a client\n"
            ));
        }
        if ready.dashboard {
            banner.push_str(&format!(
                "dashboard: http://{address}/dashboard/ shows the run live\n"
            ));
        }
        banner.push_str(&format!(
            "run {} writes to {}\n",
            ready.run.run_id(),
            ready.run.run_dir().display()
        ));
        console::notice(&banner);
    })
    .await?;
    let printed = say!("{}", report::final_line(&summary, &run_dir));
    report::check_finished(&summary)?;
    printed
}

/// Serves the two-server protocol's mask server until Ctrl-C or SIGTERM.
async fn serve_mask_server(bind: SocketAddr, min_clients: usize) -> anyhow::Result<()> {
    let service = mask_server::MaskService::new(min_clients)?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("failed to listen on {bind}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, min_clients = min_clients.max(2), "mask server listening");
    console::notice(&format!("mask server listening on ws://{address}/mask\n"));
    let shutdown = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            if let Ok(mut terminate) = signal(SignalKind::terminate()) {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
                return;
            }
        }
        let _ = tokio::signal::ctrl_c().await;
    };
    starling_server::serve(listener, mask_server::router(service), shutdown).await?;
    tracing::info!(%address, "mask server stopped");
    Ok(())
}

/// Starts a run, serves it on `bind`, calls `on_ready` with the bound
/// address and the run, and returns when the run ends (Ctrl-C stops it).
pub async fn serve_run(
    config: RunConfig,
    bind: SocketAddr,
    web_dir: &Path,
    on_ready: impl FnOnce(&Ready<'_>),
) -> anyhow::Result<(RunSummary, PathBuf)> {
    let web = WebAssets::load(web_dir)?;
    let browser_client = web.contains("index.html");
    let dashboard = web.contains("dashboard/index.html");
    let runs_dir = config.runs_dir.clone();
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("failed to listen on {bind}"))?;
    let address = listener.local_addr()?;
    let handle = start_run(config).await?;
    let printer = report::print_rounds(handle.subscribe());
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(starling_server::serve(
        listener,
        http::router(handle.connector(), web).merge(api::router(
            runs_dir,
            Some(api::LiveRun {
                run_id: handle.run_id().to_owned(),
                feed: handle.feed(),
            }),
        )),
        async move {
            let _ = http_stopped.await;
        },
    ));
    tracing::info!(%address, run_id = handle.run_id(), "listening");
    let signal = stop_on_signal(handle.stop_handle());
    on_ready(&Ready {
        address,
        run: &handle,
        browser_client,
        dashboard,
    });
    let run_dir = handle.run_dir().to_path_buf();
    let summary = handle.wait().await;
    signal.abort();
    let summary = summary?;
    let _ = printer.await;
    let _ = stop_http.send(());
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::error!(error = %err, "HTTP server failed"),
        Err(err) => tracing::error!(error = %err, "HTTP server task failed"),
    }
    tracing::info!(%address, "server stopped");
    Ok((summary, run_dir))
}

/// The listening address and the run, passed to `serve_run`'s callback.
pub struct Ready<'a> {
    /// The bound address (useful with port 0).
    pub address: SocketAddr,
    /// The run being served.
    pub run: &'a RunHandle,
    /// True when the browser client's files are served.
    pub browser_client: bool,
    /// True when the dashboard's files are served.
    pub dashboard: bool,
}

/// Stops the run on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed
/// before this returns, so a signal sent right after the server reports
/// that it is listening cannot kill the process before the run stops.
#[cfg(unix)]
fn stop_on_signal(stop: StopHandle) -> tokio::task::JoinHandle<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    tokio::spawn(async move {
        let (mut interrupt, mut terminate) = match (interrupt, terminate) {
            (Ok(interrupt), Ok(terminate)) => (interrupt, terminate),
            (Err(err), _) | (_, Err(err)) => {
                tracing::error!(error = %err, "failed to install signal handlers; Ctrl-C will end the process without a summary");
                return;
            }
        };
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("Ctrl-C received; stopping the run"),
            _ = terminate.recv() => tracing::info!("SIGTERM received; stopping the run"),
        }
        stop.stop();
    })
}

/// Stops the run on Ctrl-C.
#[cfg(not(unix))]
fn stop_on_signal(stop: StopHandle) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C received; stopping the run");
            stop.stop();
        }
    })
}
