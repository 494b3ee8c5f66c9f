//! The native edge client: the shared client core over a real WebSocket,
//! with reconnects, and a helper that runs several clients in one process.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use starling_client::{
    ClientError, DataSource, LocalJob, Session, SessionEnd, Transport, TransportError, drive,
    train_round,
};
use starling_proto::{ClientMessage, FinishReason};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Settings of one edge client process.
#[derive(Clone, Debug)]
pub struct EdgeConfig {
    /// Server WebSocket URL, e.g. `ws://127.0.0.1:8080/ws`.
    pub server: String,
    /// Reconnect attempts after a lost connection before giving up.
    pub max_reconnects: u32,
    /// First reconnect delay; doubled after each failure, capped at 10 s.
    pub initial_backoff: Duration,
}

impl EdgeConfig {
    /// Defaults for `server`: 20 reconnects starting at 250 ms.
    pub fn new(server: impl Into<String>) -> Self {
        Self {
            server: server.into(),
            max_reconnects: 20,
            initial_backoff: Duration::from_millis(250),
        }
    }
}

/// Error that stops an edge client.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// The client core failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The server could not be reached within the reconnect budget.
    #[error("gave up on {server} after {attempts} attempts: {last_error}")]
    Unreachable {
        /// Server URL.
        server: String,
        /// Connection attempts made.
        attempts: u32,
        /// The last failure.
        last_error: String,
    },
}

/// Result of one edge client's run.
#[derive(Debug, Clone)]
pub struct EdgeOutcome {
    /// Client id.
    pub client_id: String,
    /// Reason the run ended, as sent by the server; `None` when another
    /// connection took over the client id.
    pub reason: Option<FinishReason>,
    /// Rounds this client trained in.
    pub rounds_trained: u32,
    /// Final accuracy announced by the server.
    pub accuracy: Option<f64>,
}

struct WsTransport(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl Transport for WsTransport {
    async fn send(&mut self, frame: Vec<u8>) -> Result<(), TransportError> {
        self.0
            .send(Message::Binary(frame.into()))
            .await
            .map_err(|err| TransportError(err.to_string()))
    }

    async fn recv(&mut self) -> Option<Result<Vec<u8>, TransportError>> {
        loop {
            return match self.0.next().await? {
                Ok(Message::Binary(frame)) => Some(Ok(frame.to_vec())),
                Ok(Message::Close(_)) => None,
                Ok(_) => continue,
                Err(err) => Some(Err(TransportError(err.to_string()))),
            };
        }
    }
}

/// Trains a round's job on a blocking thread once `training` has a free
/// permit, so that at most that many clients of a process train at once.
pub async fn train_blocking(
    training: Arc<Semaphore>,
    job: Box<LocalJob>,
) -> Result<ClientMessage, ClientError> {
    let _permit = training.acquire_owned().await;
    tokio::task::spawn_blocking(move || train_round(&job))
        .await
        .map_err(|err| ClientError::Worker(err.to_string()))?
}

/// Runs one client until the run ends, reconnecting under the same id when
/// the connection drops. `training` bounds how many clients of this process
/// train at once.
pub async fn run_client(
    config: &EdgeConfig,
    mut session: Session,
    training: Arc<Semaphore>,
) -> Result<EdgeOutcome, EdgeError> {
    let mut attempts = 0u32;
    let mut backoff = config.initial_backoff;
    loop {
        attempts += 1;
        let last_error = match tokio_tungstenite::connect_async(config.server.as_str()).await {
            Ok((socket, _)) => {
                tracing::info!(
                    client = session.client_id(),
                    server = config.server,
                    "connected"
                );
                let mut transport = WsTransport(socket);
                let end = drive(&mut session, &mut transport, |job| {
                    train_blocking(Arc::clone(&training), job)
                })
                .await?;
                if !matches!(end, SessionEnd::Disconnected(_)) {
                    // Close politely so the server does not log a reset.
                    let _ = transport.0.close(None).await;
                }
                match end {
                    SessionEnd::Finished {
                        reason, accuracy, ..
                    } => {
                        return Ok(EdgeOutcome {
                            client_id: session.client_id().to_owned(),
                            reason: Some(reason),
                            rounds_trained: session.rounds_trained(),
                            accuracy,
                        });
                    }
                    SessionEnd::Replaced => {
                        tracing::warn!(
                            client = session.client_id(),
                            "another connection took over this client id; stopping"
                        );
                        return Ok(EdgeOutcome {
                            client_id: session.client_id().to_owned(),
                            reason: None,
                            rounds_trained: session.rounds_trained(),
                            accuracy: None,
                        });
                    }
                    SessionEnd::Disconnected(cause) => {
                        attempts = 0;
                        backoff = config.initial_backoff;
                        cause
                    }
                }
            }
            Err(err) => err.to_string(),
        };
        if attempts > config.max_reconnects {
            return Err(EdgeError::Unreachable {
                server: config.server.clone(),
                attempts,
                last_error,
            });
        }
        tracing::info!(
            client = session.client_id(),
            attempt = attempts,
            delay_ms = backoff.as_millis() as u64,
            error = last_error,
            "reconnecting"
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// Runs `count` clients named `<prefix>-<i>` on the given data source,
/// training at most `parallel` at once. Returns one result per client.
pub async fn run_clients(
    config: EdgeConfig,
    prefix: &str,
    count: usize,
    source: DataSource,
    parallel: usize,
) -> Vec<Result<EdgeOutcome, EdgeError>> {
    let training = Arc::new(Semaphore::new(parallel.max(1)));
    let config = Arc::new(config);
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let session = Session::new(format!("{prefix}-{i}"), "edge", source.clone());
            let config = Arc::clone(&config);
            let training = Arc::clone(&training);
            tokio::spawn(async move { run_client(&config, session, training).await })
        })
        .collect();
    let mut results = Vec::with_capacity(count);
    for task in tasks {
        results.push(match task.await {
            Ok(result) => result,
            Err(err) => Err(EdgeError::Client(ClientError::Worker(err.to_string()))),
        });
    }
    results
}

/// The data source for `--data DIR` (an IDX folder the server loads too)
/// or, without a folder, the embedded digits.
pub fn builtin_source(
    dir: Option<&std::path::Path>,
) -> Result<DataSource, starling_data::DataError> {
    match dir {
        Some(dir) => Ok(DataSource::Split(Arc::new(starling_data::load_idx_dir(
            dir,
        )?))),
        None => Ok(DataSource::Embedded),
    }
}
