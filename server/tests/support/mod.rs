//! A test server on 127.0.0.1 and a scripted WebSocket client that replies
//! to round tasks with hand-built deltas instead of training, so that every
//! value the coordinator aggregates is known to the test.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use starling_proto::{
    Capabilities, ClientMessage, ClientUpdate, ErrorCode, ModelKind, ParamSet, RoundTask,
    ServerMessage, UpdatePayload, decode_server, encode_client,
};
use starling_server::{
    LiveEvent, ModelSnapshot, RoundMetrics, RunConfig, RunHandle, RunSummary, Sequenced,
};
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Maximum wait for any single step of a test (a reply, an event, the end
/// of the run). It only turns a hang into a failure, because round
/// deadlines are configured separately and are much shorter.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds a run configuration for tests: the MLP, `min_clients` clients
/// per round and generous deadlines, because a round closes early once
/// every sampled client has sent its update.
pub fn test_config(min_clients: u32, rounds: u32) -> RunConfig {
    let mut config = RunConfig {
        rounds,
        min_clients,
        expected_clients: min_clients,
        wait_for_clients_secs: 30.0,
        round_timeout_secs: 30.0,
        seed: 7,
        ..RunConfig::default()
    };
    config.train.model = ModelKind::Mlp;
    config
}

/// A run and the WebSocket server in front of it, listening on an ephemeral
/// port of 127.0.0.1. Its output folder is a temporary directory.
pub struct TestServer {
    /// The run under test.
    pub handle: RunHandle,
    events: broadcast::Receiver<std::sync::Arc<Sequenced>>,
    addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    serve_task: JoinHandle<std::io::Result<()>>,
    _runs_dir: TempDir,
}

impl TestServer {
    /// Starts a run from `config` (its `runs_dir` is replaced by a temporary
    /// directory) and serves it over WebSockets.
    pub async fn start(mut config: RunConfig) -> Self {
        let runs_dir = tempfile::tempdir().expect("failed to create a temporary runs folder");
        config.runs_dir = runs_dir.path().to_path_buf();
        let handle = timeout(STEP_TIMEOUT, starling_server::start_run(config))
            .await
            .expect("start_run timed out")
            .expect("start_run failed");
        let events = handle.subscribe();

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("failed to bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("listener has no local address");
        let router = starling_server::http::router(
            handle.connector(),
            starling_server::web::WebAssets::empty(),
        );
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let serve_task = tokio::spawn(starling_server::serve(listener, router, async move {
            // A dropped sender also means "shut down".
            let _ = shutdown_rx.await;
        }));
        Self {
            handle,
            events,
            addr,
            shutdown,
            serve_task,
            _runs_dir: runs_dir,
        }
    }

    /// Opens a new WebSocket connection to `/ws`.
    pub async fn connect(&self) -> TestClient {
        TestClient::connect(&format!("ws://{}/ws", self.addr)).await
    }

    /// Returns the latest global model.
    pub fn model(&self) -> ModelSnapshot {
        self.handle.model().borrow().clone()
    }

    /// Waits for the `RoundStarted` event of `round` and returns its
    /// sampled and available client counts.
    pub async fn round_started(&mut self, round: u32) -> (usize, usize) {
        loop {
            if let LiveEvent::RoundStarted {
                round: started,
                sampled,
                available,
            } = self.next_event().await
                && started == round
            {
                return (sampled.len(), available);
            }
        }
    }

    /// Waits for the metrics of `round`.
    pub async fn round_completed(&mut self, round: u32) -> RoundMetrics {
        loop {
            if let LiveEvent::RoundCompleted(metrics) = self.next_event().await
                && metrics.round == round
            {
                return metrics;
            }
        }
    }

    async fn next_event(&mut self) -> LiveEvent {
        let received = timeout(STEP_TIMEOUT, self.events.recv())
            .await
            .expect("timed out waiting for a run event");
        match received {
            Ok(item) => item.event.clone(),
            Err(err) => panic!("run event stream failed: {err}"),
        }
    }

    /// Stops the run (a no-op when it already ended), waits for its summary
    /// and shuts the WebSocket server down.
    pub async fn finish(self) -> RunSummary {
        self.handle.stop();
        let summary = timeout(STEP_TIMEOUT, self.handle.wait())
            .await
            .expect("timed out waiting for the run to end after stop")
            .expect("run task panicked");
        let _ = self.shutdown.send(());
        timeout(STEP_TIMEOUT, self.serve_task)
            .await
            .expect("timed out waiting for the WebSocket server to shut down")
            .expect("WebSocket server task panicked")
            .expect("WebSocket server failed");
        summary
    }
}

/// One scripted client connection.
pub struct TestClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl TestClient {
    /// Opens a WebSocket connection to `url`.
    pub async fn connect(url: &str) -> TestClient {
        let (socket, _response) = timeout(STEP_TIMEOUT, tokio_tungstenite::connect_async(url))
            .await
            .expect("WebSocket connect timed out")
            .expect("WebSocket connect failed");
        TestClient { socket }
    }

    /// Sends one encoded message and returns the frame's size in bytes.
    pub async fn send(&mut self, message: &ClientMessage) -> usize {
        let frame = encode_client(message).expect("failed to encode a client message");
        let size = frame.len();
        self.send_frame(frame).await;
        size
    }

    /// Sends raw bytes as one binary frame.
    pub async fn send_frame(&mut self, frame: Vec<u8>) {
        timeout(STEP_TIMEOUT, self.socket.send(Message::binary(frame)))
            .await
            .expect("WebSocket send timed out")
            .expect("WebSocket send failed");
    }

    /// Like [`TestClient::send`], but ignores a send failure, for a peer the
    /// server may already have closed.
    pub async fn try_send(&mut self, message: &ClientMessage) {
        let frame = encode_client(message).expect("failed to encode a client message");
        let sent = timeout(STEP_TIMEOUT, self.socket.send(Message::binary(frame))).await;
        assert!(sent.is_ok(), "WebSocket send timed out");
    }

    /// Waits for the next server message, skipping pings and pongs.
    pub async fn recv(&mut self) -> ServerMessage {
        loop {
            let next = timeout(STEP_TIMEOUT, self.socket.next())
                .await
                .expect("timed out waiting for a server message");
            match next {
                Some(Ok(Message::Binary(frame))) => {
                    return decode_server(&frame, usize::MAX)
                        .expect("server sent an undecodable frame");
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(other)) => panic!("expected a binary frame, got {other:?}"),
                Some(Err(err)) => panic!("WebSocket read failed: {err}"),
                None => panic!("server closed the connection"),
            }
        }
    }

    /// Waits until the server closes the connection, and fails on any
    /// message that arrives first.
    pub async fn expect_closed(&mut self) {
        loop {
            let next = timeout(STEP_TIMEOUT, self.socket.next())
                .await
                .expect("timed out waiting for the server to close the connection");
            match next {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Binary(frame))) => {
                    let message = decode_server(&frame, usize::MAX);
                    panic!("expected the connection to close, got {message:?}");
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(other)) => panic!("expected the connection to close, got {other:?}"),
            }
        }
    }

    /// Closes the connection from the client side.
    pub async fn close(mut self) {
        timeout(STEP_TIMEOUT, self.socket.close(None))
            .await
            .expect("WebSocket close timed out")
            .expect("WebSocket close failed");
    }

    /// Registers as `client_id` with data of its own and waits for `Welcome`.
    pub async fn register(&mut self, client_id: &str) {
        self.register_with(client_id, false).await;
    }

    /// Registers as `client_id`, asking for a built-in partition when
    /// `wants_data`, and waits for `Welcome`.
    pub async fn register_with(&mut self, client_id: &str, wants_data: bool) {
        self.send(&ClientMessage::Register {
            client_id: client_id.to_owned(),
            capabilities: Capabilities {
                platform: "test".to_owned(),
                backend: "none".to_owned(),
                device: "none".to_owned(),
                wants_data,
            },
            num_examples: if wants_data { 0 } else { 100 },
        })
        .await;
        match self.recv().await {
            ServerMessage::Welcome { .. } => {}
            other => panic!("expected Welcome for {client_id}, got {other:?}"),
        }
    }

    /// Waits for the next round task.
    pub async fn next_task(&mut self) -> RoundTask {
        match self.recv().await {
            ServerMessage::Round(task) => *task,
            other => panic!("expected a round task, got {other:?}"),
        }
    }

    /// Sends an update for `round` with the given delta and returns the
    /// frame's size in bytes.
    pub async fn send_update(&mut self, round: u32, delta: ParamSet, num_examples: u64) -> usize {
        self.send(&update_message(round, delta, num_examples)).await
    }

    /// Waits for `Accepted` for `round`.
    pub async fn expect_accepted(&mut self, round: u32) {
        match self.recv().await {
            ServerMessage::Accepted { round: accepted } => {
                assert_eq!(accepted, round, "Accepted names the wrong round");
            }
            other => panic!("expected Accepted for round {round}, got {other:?}"),
        }
    }

    /// Waits for an `Error` with `code` and returns its message.
    pub async fn expect_error(&mut self, code: ErrorCode) -> String {
        match self.recv().await {
            ServerMessage::Error {
                code: received,
                message,
            } => {
                assert_eq!(received, code, "unexpected error code; message: {message}");
                message
            }
            other => panic!("expected Error {code:?}, got {other:?}"),
        }
    }
}

/// Builds an `Update` message that carries `delta`.
pub fn update_message(round: u32, delta: ParamSet, num_examples: u64) -> ClientMessage {
    ClientMessage::Update(ClientUpdate {
        round,
        num_examples,
        local_steps: 1,
        train_loss: 0.5,
        payload: UpdatePayload::Dense(delta),
        control_delta: None,
        clipped: None,
    })
}

/// Builds a delta in `model`'s layout with every value equal to `value`.
pub fn constant_delta(model: &ParamSet, value: f32) -> ParamSet {
    ParamSet::new(model.specs().to_vec(), vec![value; model.len()])
        .expect("failed to build a constant delta")
}

/// Asserts that every value of `after` equals the same value of `before`
/// plus `shift`, within `1e-6`.
pub fn assert_shifted(before: &ParamSet, after: &ParamSet, shift: f64) {
    assert_eq!(before.specs(), after.specs(), "model layout changed");
    let mismatch = before
        .values()
        .iter()
        .zip(after.values())
        .enumerate()
        .find(|(_, (old, new))| (f64::from(**new) - f64::from(**old) - shift).abs() > 1e-6);
    assert!(
        mismatch.is_none(),
        "global model did not move by {shift}: (index, (before, after)) = {mismatch:?}"
    );
}

/// Asserts that no value of `params` is NaN or infinite.
pub fn assert_finite(params: &ParamSet) {
    let bad = params.values().iter().position(|v| !v.is_finite());
    assert!(bad.is_none(), "model value at index {bad:?} is not finite");
}
