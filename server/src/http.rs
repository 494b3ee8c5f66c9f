//! The HTTP face of the server: the WebSocket endpoint clients connect to
//! and a health check. Each WebSocket is bridged to a [`Link`], so the
//! coordinator never sees the transport.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::IntoResponse;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};

use crate::link::{Connector, Outbound};
use crate::web::WebAssets;

/// How far past the protocol limit the WebSocket layer still reads a
/// message, so that a slightly oversized frame gets a clear error instead of
/// a dropped connection. Frames beyond this close the connection.
const TRANSPORT_SLACK: usize = 1024 * 1024;

/// Routes: `GET /ws` (WebSocket) and `GET /healthz`; every other path goes
/// to the browser client's files in `web`.
pub fn router(connector: Connector, web: WebAssets) -> Router {
    Router::new()
        .route("/ws", get(upgrade))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(connector)
        .merge(web.router())
}

async fn upgrade(
    State(connector): State<Connector>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> impl IntoResponse {
    let transport_limit = connector
        .max_message_bytes()
        .saturating_add(TRANSPORT_SLACK);
    ws.max_message_size(transport_limit)
        .max_frame_size(transport_limit)
        .on_upgrade(move |socket| bridge(socket, connector, peer))
}

/// Pumps frames between one WebSocket and its link until either side ends.
async fn bridge(socket: WebSocket, connector: Connector, peer: SocketAddr) {
    let link = match connector.open().await {
        Ok(link) => link,
        Err(err) => {
            tracing::warn!(%peer, error = %err, "rejected WebSocket connection");
            return;
        }
    };
    let connection = link.id();
    tracing::debug!(%peer, connection, "WebSocket connected");
    let limit = connector.max_message_bytes();
    let (mut sink, mut stream) = socket.split();
    let (inbound, mut outbound) = link.split();

    let writer = tokio::spawn(async move {
        while let Some(item) = outbound.recv().await {
            let result = match item {
                Outbound::Frame(frame) => sink.send(Message::Binary(frame)).await,
                Outbound::Close => {
                    let _ = sink.send(Message::Close(None)).await;
                    break;
                }
            };
            if let Err(err) = result {
                tracing::debug!(connection, error = %err, "WebSocket write failed");
                break;
            }
        }
    });

    while let Some(message) = stream.next().await {
        let message = match message {
            Ok(message) => message,
            Err(err) => {
                tracing::warn!(connection, %peer, error = %err, "WebSocket read failed; closing");
                break;
            }
        };
        let frame = match message {
            Message::Binary(frame) => frame,
            Message::Text(text) => text.as_str().as_bytes().to_vec().into(),
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if frame.len() > limit {
            inbound.reject_oversized(frame.len());
            continue;
        }
        if inbound.receive_frame(&frame).await.is_err() {
            break;
        }
    }
    drop(inbound);
    // Let queued frames (errors, the final message) drain before closing.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), writer).await;
    tracing::debug!(connection, %peer, "WebSocket closed");
}
