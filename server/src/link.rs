//! A client connection as the round coordinator sees it, independent of the
//! transport. The WebSocket handler and the in-process simulator both open a
//! [`Link`], push the frames they receive into it and forward the frames it
//! hands back, so both run exactly the same decoding and validation.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use starling_proto::{ClientMessage, CodecError, ErrorCode, ServerMessage, decode_client};
use tokio::sync::mpsc;

/// Identifies one connection for the lifetime of the server.
pub type ConnectionId = u64;

/// Frames queued for one connection; when full, the coordinator drops
/// further frames for it instead of waiting. Small, because a queued round
/// task is a whole model (0.8 MB for the MLP, 6.7 MB for the CNN).
const OUTBOUND_QUEUE: usize = 8;

/// Event the coordinator receives from a connection.
#[derive(Debug)]
pub enum Event {
    /// A connection opened; frames for it go to `outbound`.
    Opened {
        /// The new connection.
        connection: ConnectionId,
        /// Where the coordinator sends frames for this connection.
        outbound: mpsc::Sender<Outbound>,
    },
    /// A decoded message arrived.
    Message {
        /// Sending connection.
        connection: ConnectionId,
        /// Size of the frame on the wire, in bytes.
        frame_bytes: usize,
        /// The message.
        message: ClientMessage,
    },
    /// The connection closed (by the peer, an error, or the transport).
    Closed {
        /// The closed connection.
        connection: ConnectionId,
    },
}

/// Item the coordinator sends to a connection.
#[derive(Clone, Debug)]
pub enum Outbound {
    /// One encoded frame.
    Frame(Bytes),
    /// Close the connection after the frames already queued.
    Close,
}

/// Hands out links to the coordinator. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Connector {
    events: mpsc::Sender<Event>,
    next_id: Arc<AtomicU64>,
    open_links: Arc<AtomicUsize>,
    max_connections: usize,
    max_message_bytes: usize,
}

/// Error from opening a link or delivering a frame.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The coordinator has stopped.
    #[error("server is shutting down")]
    Closed,
    /// The server already holds its maximum number of connections.
    #[error("too many connections: the limit is {limit}")]
    TooManyConnections {
        /// The configured maximum.
        limit: usize,
    },
}

impl Connector {
    pub(crate) fn new(
        events: mpsc::Sender<Event>,
        max_message_bytes: usize,
        max_connections: usize,
    ) -> Self {
        Self {
            events,
            next_id: Arc::new(AtomicU64::new(1)),
            open_links: Arc::new(AtomicUsize::new(0)),
            max_connections,
            max_message_bytes,
        }
    }

    /// Largest frame the server decodes.
    pub fn max_message_bytes(&self) -> usize {
        self.max_message_bytes
    }

    /// Opens a connection to the coordinator.
    pub async fn open(&self) -> Result<Link, LinkError> {
        let slot = OpenSlot::take(&self.open_links, self.max_connections)?;
        let connection = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (outbound_tx, outbound_rx) = mpsc::channel(OUTBOUND_QUEUE);
        self.events
            .send(Event::Opened {
                connection,
                outbound: outbound_tx.clone(),
            })
            .await
            .map_err(|_| LinkError::Closed)?;
        Ok(Link {
            inbound: InboundHalf {
                connection,
                events: self.events.clone(),
                outbound_tx,
                max_message_bytes: self.max_message_bytes,
                _slot: slot,
            },
            outbound_rx,
        })
    }
}

/// One open connection. Dropping it (or its [`InboundHalf`] after a split)
/// tells the coordinator the client is gone.
#[derive(Debug)]
pub struct Link {
    inbound: InboundHalf,
    outbound_rx: mpsc::Receiver<Outbound>,
}

/// The part of a [`Link`] that passes received frames on to the
/// coordinator; closes the connection when dropped.
#[derive(Debug)]
pub struct InboundHalf {
    connection: ConnectionId,
    events: mpsc::Sender<Event>,
    outbound_tx: mpsc::Sender<Outbound>,
    max_message_bytes: usize,
    _slot: OpenSlot,
}

/// One counted open connection; releases its count when dropped.
#[derive(Debug)]
struct OpenSlot(Arc<AtomicUsize>);

impl OpenSlot {
    fn take(open: &Arc<AtomicUsize>, limit: usize) -> Result<Self, LinkError> {
        let previous = open.fetch_add(1, Ordering::AcqRel);
        if previous >= limit {
            open.fetch_sub(1, Ordering::AcqRel);
            return Err(LinkError::TooManyConnections { limit });
        }
        Ok(Self(Arc::clone(open)))
    }
}

impl Drop for OpenSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Link {
    /// This connection's id.
    pub fn id(&self) -> ConnectionId {
        self.inbound.connection
    }

    /// See [`InboundHalf::receive_frame`].
    pub async fn receive_frame(&self, frame: &[u8]) -> Result<(), LinkError> {
        self.inbound.receive_frame(frame).await
    }

    /// Waits for the next frame to send to the client; `None` once the
    /// coordinator has dropped this connection.
    pub async fn next_outbound(&mut self) -> Option<Outbound> {
        self.outbound_rx.recv().await
    }

    /// Splits into the inbound half and the queue of outbound frames, so
    /// that a transport can read and write from two tasks.
    pub fn split(self) -> (InboundHalf, mpsc::Receiver<Outbound>) {
        (self.inbound, self.outbound_rx)
    }
}

impl InboundHalf {
    /// This connection's id.
    pub fn id(&self) -> ConnectionId {
        self.connection
    }

    /// Decodes a received frame and passes it to the coordinator. A frame
    /// that fails to decode is answered with an error frame on this link and
    /// logged; the connection stays open.
    pub async fn receive_frame(&self, frame: &[u8]) -> Result<(), LinkError> {
        match decode_client(frame, self.max_message_bytes) {
            Ok(message) => self
                .events
                .send(Event::Message {
                    connection: self.connection,
                    frame_bytes: frame.len(),
                    message,
                })
                .await
                .map_err(|_| LinkError::Closed),
            Err(err) => {
                tracing::warn!(connection = self.connection, bytes = frame.len(), error = %err, "rejected undecodable frame");
                self.reject(&err);
                Ok(())
            }
        }
    }

    /// Answers a frame the transport refused before decoding (for example
    /// one over the size limit).
    pub fn reject_oversized(&self, size: usize) {
        let err = CodecError::TooLarge {
            size,
            limit: self.max_message_bytes,
        };
        tracing::warn!(
            connection = self.connection,
            bytes = size,
            limit = self.max_message_bytes,
            "rejected oversized frame"
        );
        self.reject(&err);
    }

    fn reject(&self, err: &CodecError) {
        let code = match err {
            CodecError::TooLarge { .. } => ErrorCode::TooLarge,
            CodecError::BadMagic { .. } | CodecError::UnsupportedVersion { .. } => {
                ErrorCode::UnsupportedVersion
            }
            CodecError::Truncated { .. } | CodecError::Body(_) => ErrorCode::Malformed,
        };
        let message = ServerMessage::Error {
            code,
            message: err.to_string(),
        };
        if let Ok(frame) = starling_proto::encode_server(&message) {
            // A full queue means the peer is not reading; dropping the error
            // frame then is harmless.
            let _ = self
                .outbound_tx
                .try_send(Outbound::Frame(Bytes::from(frame)));
        }
    }
}

impl Drop for InboundHalf {
    fn drop(&mut self) {
        let event = Event::Closed {
            connection: self.connection,
        };
        if let Err(mpsc::error::TrySendError::Full(event)) = self.events.try_send(event) {
            let events = self.events.clone();
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    let _ = events.send(event).await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connection_limit_is_enforced_and_released() {
        let (events, mut receiver) = mpsc::channel(16);
        let drain = tokio::spawn(async move { while receiver.recv().await.is_some() {} });
        let connector = Connector::new(events, 1024, 2);
        let first = connector.open().await.unwrap();
        let _second = connector.open().await.unwrap();
        let err = connector.open().await.unwrap_err();
        assert!(matches!(err, LinkError::TooManyConnections { limit: 2 }));
        drop(first);
        assert!(connector.open().await.is_ok());
        drop(connector);
        drain.abort();
    }
}
