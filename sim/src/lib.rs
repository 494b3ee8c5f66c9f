//! In-process simulation: the real coordinator and N real client sessions
//! joined by in-memory links instead of sockets. Frames are still encoded,
//! size-checked and decoded, so a simulation exercises the same code paths
//! as a deployment, only faster.

pub mod sweep;

use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use starling_client::{
    ClientError, DataSource, Session, SessionEnd, Transport, TransportError, drive,
};
use starling_edge::train_blocking;
use starling_server::{
    Link, LiveEvent, Outbound, RunConfig, RunSummary, Sequenced, StartError, start_run,
};
use tokio::sync::Semaphore;

/// A simulation: the run plus how many clients to create.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The federated run; `expected_clients` and `min_available_clients` are
    /// set from `clients` so that every client joins before round 1.
    pub run: RunConfig,
    /// Simulated clients, each with its own partition of the training split.
    pub clients: usize,
    /// Clients that train at the same time.
    pub parallel: usize,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// Error that ends a simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The run could not start.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The data for the clients could not be loaded.
    #[error("failed to load client data: {0}")]
    Data(#[from] starling_data::DataError),
    /// The coordinator task failed.
    #[error("coordinator task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// `clients` is 0.
    #[error("a simulation needs at least one client, got 0")]
    NoClients,
    /// Secure aggregation with fewer than 2 clients.
    #[error("secure aggregation needs at least 2 clients, got {0}; raise --clients")]
    TooFewForSecure(usize),
}

/// Result of a finished simulation.
#[derive(Debug)]
pub struct SimReport {
    /// The server's end-of-run record.
    pub summary: RunSummary,
    /// Folder holding the run's outputs.
    pub run_dir: std::path::PathBuf,
    /// Clients that failed, with the reason.
    pub client_errors: Vec<(String, String)>,
}

struct LinkTransport(Link);

impl Transport for LinkTransport {
    async fn send(&mut self, frame: Vec<u8>) -> Result<(), TransportError> {
        self.0
            .receive_frame(&frame)
            .await
            .map_err(|err| TransportError(err.to_string()))
    }

    async fn recv(&mut self) -> Option<Result<Vec<u8>, TransportError>> {
        match self.0.next_outbound().await? {
            Outbound::Frame(frame) => Some(Ok(frame.to_vec())),
            Outbound::Close => None,
        }
    }
}

/// Runs a whole simulation and waits for it to end.
pub async fn simulate(config: SimConfig) -> Result<SimReport, SimError> {
    if config.clients == 0 {
        return Err(SimError::NoClients);
    }
    if config.clients < 2 && matches!(config.run.secure_protocol(), Ok(Some(_))) {
        return Err(SimError::TooFewForSecure(config.clients));
    }
    let mut run = config.run.clone();
    run.expected_clients = config.clients as u32;
    run.min_available_clients = Some(config.clients as u32);
    run.min_clients = run.min_clients.min(config.clients as u32);
    // The population is the number of simulated clients.
    if let Some(privacy) = &mut run.privacy
        && privacy.population.is_none()
    {
        privacy.population = Some(config.clients as u32);
    }
    let split_config = run.clone();
    let split =
        tokio::task::spawn_blocking(move || starling_server::setup::load_split(&split_config))
            .await??;
    let source = DataSource::Split(Arc::new(split));

    let handle = start_run(run.clone()).await?;
    let progress = config.progress.then(|| progress_bar(run.rounds));
    let watcher = progress
        .clone()
        .map(|bar| watch_progress(bar, handle.subscribe()));
    let training = Arc::new(Semaphore::new(config.parallel.max(1)));
    let mut joined = handle.subscribe();
    let mut clients = Vec::with_capacity(config.clients);
    for i in 0..config.clients {
        let link = match handle.connector().open().await {
            Ok(link) => link,
            Err(err) => {
                tracing::error!(client = i, error = %err, "failed to open simulated link");
                break;
            }
        };
        let client_id = format!("sim-{i:04}");
        let session = Session::new(client_id.clone(), "sim", source.clone());
        clients.push(tokio::spawn(run_sim_client(
            session,
            link,
            Arc::clone(&training),
        )));
        // The server hands out data partitions in registration order, so
        // registering one client at a time keeps the id-to-partition mapping,
        // and with it the whole run, reproducible.
        wait_until_joined(&mut joined, &client_id).await;
    }
    let run_dir = handle.run_dir().to_path_buf();
    let summary = handle.wait().await?;
    let mut client_errors = Vec::new();
    for client in clients {
        if let Ok((id, Err(err))) = client.await {
            client_errors.push((id, err.to_string()));
        }
    }
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    Ok(SimReport {
        summary,
        run_dir,
        client_errors,
    })
}

/// Waits for the coordinator to announce `client_id`; gives up after 60 s
/// (the run then proceeds and the mapping may differ between runs).
async fn wait_until_joined(
    events: &mut tokio::sync::broadcast::Receiver<Arc<Sequenced>>,
    client_id: &str,
) {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(item) if matches!(&item.event, LiveEvent::ClientJoined(info) if info.client_id == client_id) =>
                {
                    return;
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    };
    if tokio::time::timeout(std::time::Duration::from_secs(60), wait)
        .await
        .is_err()
    {
        tracing::warn!(
            client = client_id,
            "simulated client did not register within 60 s"
        );
    }
}

async fn run_sim_client(
    mut session: Session,
    link: Link,
    training: Arc<Semaphore>,
) -> (String, Result<SessionEnd, ClientError>) {
    let mut transport = LinkTransport(link);
    let end = drive(&mut session, &mut transport, |job| {
        train_blocking(Arc::clone(&training), job)
    })
    .await;
    (session.client_id().to_owned(), end)
}

fn progress_bar(rounds: u32) -> ProgressBar {
    let bar = ProgressBar::new(u64::from(rounds));
    let style =
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] round {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar
}

fn watch_progress(
    bar: ProgressBar,
    mut events: tokio::sync::broadcast::Receiver<Arc<Sequenced>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok(item) = events.recv().await {
            if let LiveEvent::RoundCompleted(metrics) = &item.event {
                bar.set_position(u64::from(metrics.round));
                if let Some(accuracy) = metrics.test_accuracy {
                    bar.set_message(format!("test accuracy {:.2}%", accuracy * 100.0));
                }
            }
        }
    })
}
