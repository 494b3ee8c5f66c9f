//! The mask server of the two-server protocol, `starling serve --role
//! mask-server`, and the aggregator's link to it.
//!
//! Clients seal a 32-byte seed to the mask server's public key and send it
//! through the aggregator, which cannot open it. Once a round's inputs are
//! in, the aggregator sends the sealed seeds of the clients it heard from.
//! The mask server expands each seed into its mask and returns the sum.
//! It answers each (run, round) once and never for fewer than two clients,
//! so the aggregator cannot isolate one client by asking for sums of
//! different subsets. Both sides speak `MaskServerRequest` and
//! `MaskServerReply` in binary WebSocket frames on `/mask`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::IntoResponse;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use starling_proto::{
    DEFAULT_MAX_MESSAGE_BYTES, ErrorCode, MaskServerReply, MaskServerRequest, ServerMessage,
    decode_client, decode_mask, encode_mask, encode_server,
};
use starling_secagg::Ring;
use starling_secagg::two_server::MaskServer;

/// Error of the aggregator's link to the mask server.
#[derive(Debug, thiserror::Error)]
pub enum MaskLinkError {
    /// The WebSocket connection failed or closed.
    #[error("mask server at {url}: {reason}")]
    Connection {
        /// The mask server's address.
        url: String,
        /// The failure.
        reason: String,
    },
    /// The mask server rejected the request.
    #[error("mask server at {url} rejected the request: {reason}")]
    Rejected {
        /// The mask server's address.
        url: String,
        /// Its explanation.
        reason: String,
    },
    /// The reply did not fit the request.
    #[error("mask server at {url} sent an unexpected reply: {reason}")]
    BadReply {
        /// The mask server's address.
        url: String,
        /// The mismatch.
        reason: String,
    },
}

/// The mask server's state, shared by its connections.
#[derive(Clone, Debug)]
pub struct MaskService {
    server: Arc<Mutex<MaskServer>>,
}

impl MaskService {
    /// A mask server with a fresh key, refusing sums over fewer than
    /// `min_clients` clients (at least 2).
    pub fn new(min_clients: usize) -> Result<Self, starling_secagg::SecAggError> {
        Ok(Self {
            server: Arc::new(Mutex::new(MaskServer::new(min_clients)?)),
        })
    }

    /// The public key clients seal their seeds to.
    pub fn public_key(&self) -> Vec<u8> {
        self.server
            .lock()
            .map(|server| server.public_key().to_vec())
            .unwrap_or_default()
    }

    fn answer(&self, request: MaskServerRequest) -> MaskServerReply {
        match request {
            MaskServerRequest::PublicKey => MaskServerReply::PublicKey(self.public_key()),
            MaskServerRequest::Sum {
                run,
                round,
                ring_bits,
                len,
                seeds,
            } => {
                let result = Ring::new(ring_bits).and_then(|ring| {
                    let mut server = self.server.lock().map_err(|_| {
                        starling_secagg::SecAggError::Protocol("mask server state poisoned".into())
                    })?;
                    let sum = server.mask_sum(&run, round, ring, len as usize, &seeds)?;
                    Ok(ring.pack(&sum))
                });
                match result {
                    Ok(packed) => {
                        tracing::info!(run, round, clients = seeds.len(), "mask sum sent");
                        MaskServerReply::Sum(packed)
                    }
                    Err(err) => {
                        tracing::warn!(run, round, clients = seeds.len(), error = %err, "mask sum rejected");
                        MaskServerReply::Error(err.to_string())
                    }
                }
            }
        }
    }
}

/// Routes of the mask server: `GET /mask` (WebSocket) and `GET /healthz`.
pub fn router(service: MaskService) -> Router {
    Router::new()
        .route("/mask", get(upgrade))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(service)
}

async fn upgrade(State(service): State<MaskService>, ws: WebSocketUpgrade) -> impl IntoResponse {
    ws.max_message_size(DEFAULT_MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve_link(socket, service))
}

async fn serve_link(socket: WebSocket, service: MaskService) {
    tracing::info!("aggregator connected");
    let (mut sink, mut stream) = socket.split();
    while let Some(message) = stream.next().await {
        let frame = match message {
            Ok(Message::Binary(frame)) => frame,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let reply = match decode_mask::<MaskServerRequest>(&frame, DEFAULT_MAX_MESSAGE_BYTES) {
            Ok(request) => {
                let service = service.clone();
                match tokio::task::spawn_blocking(move || service.answer(request)).await {
                    Ok(reply) => reply,
                    Err(err) => MaskServerReply::Error(format!("mask sum task failed: {err}")),
                }
            }
            Err(err) => {
                if decode_client(&frame, DEFAULT_MAX_MESSAGE_BYTES).is_ok() {
                    tracing::warn!(
                        "a training client connected to the mask server, closing the connection"
                    );
                    reject_client(&mut sink).await;
                    break;
                }
                tracing::warn!(error = %err, "undecodable request from the aggregator");
                MaskServerReply::Error(format!("undecodable request: {err}"))
            }
        };
        let Ok(encoded) = encode_mask(&reply) else {
            tracing::error!("failed to encode a mask server reply");
            break;
        };
        if sink.send(Message::Binary(encoded.into())).await.is_err() {
            break;
        }
    }
    tracing::info!("aggregator disconnected");
}

/// Sends a training client an error: the mask server serves only the
/// coordinator, and clients connect to the coordinator's `/ws`.
async fn reject_client(sink: &mut futures_util::stream::SplitSink<WebSocket, Message>) {
    let error = ServerMessage::Error {
        code: ErrorCode::InvalidRegistration,
        message: "this is a mask server, which serves only the coordinator; connect clients \
                  to the coordinator's /ws endpoint instead"
            .to_owned(),
    };
    match encode_server(&error) {
        Ok(frame) => {
            if let Err(err) = sink.send(Message::Binary(frame.into())).await {
                tracing::warn!(error = %err, "failed to send the error to a training client");
            }
        }
        Err(err) => tracing::error!(error = %err, "failed to encode the error for a client"),
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The aggregator's connection to the mask server.
#[derive(Debug)]
pub struct MaskServerLink {
    url: String,
    socket: Socket,
    public_key: Vec<u8>,
    timeout: Duration,
    /// Frame bytes sent and received so far, both directions.
    traffic: u64,
}

impl MaskServerLink {
    /// Connects to the mask server at `url` (`ws://host:port/mask`) and
    /// fetches its public key; each request may take up to `timeout`.
    pub async fn connect(url: &str, timeout: Duration) -> Result<Self, MaskLinkError> {
        let connect = tokio_tungstenite::connect_async(url);
        let (socket, _) = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| MaskLinkError::Connection {
                url: url.to_owned(),
                reason: format!("connection timed out after {:.0} s", timeout.as_secs_f64()),
            })?
            .map_err(|err| MaskLinkError::Connection {
                url: url.to_owned(),
                reason: err.to_string(),
            })?;
        let mut link = Self {
            url: url.to_owned(),
            socket,
            public_key: Vec::new(),
            timeout,
            traffic: 0,
        };
        match link.request(&MaskServerRequest::PublicKey).await? {
            MaskServerReply::PublicKey(key) => link.public_key = key,
            other => return Err(link.unexpected(&other)),
        }
        tracing::info!(url, "connected to the mask server");
        Ok(link)
    }

    /// The mask server's public key.
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// Frame bytes this link has sent and received, both directions.
    pub fn traffic(&self) -> u64 {
        self.traffic
    }

    /// Opens a new connection after the old one failed. A restarted mask
    /// server has a new key, so seeds sealed to the old one will not open.
    pub async fn reconnect(&mut self) -> Result<(), MaskLinkError> {
        let fresh = Self::connect(&self.url, self.timeout).await?;
        if fresh.public_key != self.public_key {
            tracing::warn!(
                url = self.url,
                "the mask server's key changed; this round's seeds cannot be opened"
            );
        }
        let traffic = self.traffic;
        *self = fresh;
        self.traffic += traffic;
        Ok(())
    }

    /// Asks for the sum of the masks of `seeds` in round `round` of `run`.
    pub async fn sum(
        &mut self,
        run: &str,
        round: u32,
        ring: Ring,
        len: usize,
        seeds: Vec<(u32, Vec<u8>)>,
    ) -> Result<Vec<u64>, MaskLinkError> {
        let request = MaskServerRequest::Sum {
            run: run.to_owned(),
            round,
            ring_bits: ring.bits(),
            len: len as u32,
            seeds,
        };
        match self.request(&request).await? {
            MaskServerReply::Sum(packed) => {
                ring.unpack(&packed, len)
                    .map_err(|err| MaskLinkError::BadReply {
                        url: self.url.clone(),
                        reason: err.to_string(),
                    })
            }
            other => Err(self.unexpected(&other)),
        }
    }

    async fn request(
        &mut self,
        request: &MaskServerRequest,
    ) -> Result<MaskServerReply, MaskLinkError> {
        let connection = |reason: String| MaskLinkError::Connection {
            url: self.url.clone(),
            reason,
        };
        let frame = encode_mask(request).map_err(|err| connection(err.to_string()))?;
        self.traffic += frame.len() as u64;
        let traffic = &mut self.traffic;
        let exchange = async {
            self.socket
                .send(tokio_tungstenite::tungstenite::Message::Binary(
                    frame.into(),
                ))
                .await
                .map_err(|err| err.to_string())?;
            loop {
                match self.socket.next().await {
                    Some(Ok(tokio_tungstenite::tungstenite::Message::Binary(frame))) => {
                        *traffic += frame.len() as u64;
                        return decode_mask::<MaskServerReply>(&frame, DEFAULT_MAX_MESSAGE_BYTES)
                            .map_err(|err| err.to_string());
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(err)) => return Err(err.to_string()),
                    None => return Err("connection closed".to_owned()),
                }
            }
        };
        let timeout = self.timeout;
        let reply = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| connection(format!("no reply within {:.0} s", timeout.as_secs_f64())))?
            .map_err(connection)?;
        Ok(reply)
    }

    fn unexpected(&self, reply: &MaskServerReply) -> MaskLinkError {
        match reply {
            MaskServerReply::Error(reason) => MaskLinkError::Rejected {
                url: self.url.clone(),
                reason: reason.clone(),
            },
            other => MaskLinkError::BadReply {
                url: self.url.clone(),
                reason: format!("{other:?}"),
            },
        }
    }
}
