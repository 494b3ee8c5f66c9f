//! The transport-independent client loop: register, then answer every
//! round task until the run ends or the transport drops.

use std::future::Future;

use starling_proto::{
    ClientMessage, DEFAULT_MAX_MESSAGE_BYTES, ErrorCode, FinishReason, ServerMessage,
    decode_server, encode_client,
};

use crate::session::{ClientError, LocalJob, Session, Step};
use crate::uplink::Packing;

/// A failed send or receive.
#[derive(Debug, thiserror::Error)]
#[error("transport error: {0}")]
pub struct TransportError(pub String);

/// A bidirectional frame channel to the server (a WebSocket, an in-process
/// link).
pub trait Transport {
    /// Sends one encoded frame.
    fn send(&mut self, frame: Vec<u8>) -> impl Future<Output = Result<(), TransportError>>;
    /// Receives the next frame; `None` when the server closed the channel.
    fn recv(&mut self) -> impl Future<Output = Option<Result<Vec<u8>, TransportError>>>;
}

/// How a session over one transport ended.
#[derive(Debug)]
pub enum SessionEnd {
    /// The server announced the end of the run.
    Finished {
        /// Why.
        reason: FinishReason,
        /// Rounds completed.
        rounds: u32,
        /// Final test accuracy.
        accuracy: Option<f64>,
    },
    /// Another connection took over this client id.
    Replaced,
    /// The transport closed or failed; the caller may reconnect.
    Disconnected(String),
}

/// Summary of a server message, passed to the observer of
/// [`drive_observed`] after the session has handled the message.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// The server welcomed the client into a run.
    Welcomed,
    /// A round task arrived; training starts.
    RoundStarted(u32),
    /// The update for this round was accepted.
    Accepted(u32),
    /// A phase of secure aggregation in this round.
    SecurePhase(u32),
    /// The server refused a message.
    Refused {
        /// The server's error code.
        code: ErrorCode,
        /// The server's explanation.
        message: String,
    },
    /// The run ended.
    Finished,
}

/// Runs `session` over `transport`; `train` performs the local training
/// job (on a blocking thread or a worker) and returns the update message.
pub async fn drive<T, F, Fut>(
    session: &mut Session,
    transport: &mut T,
    train: F,
) -> Result<SessionEnd, ClientError>
where
    T: Transport,
    F: FnMut(Box<LocalJob>) -> Fut,
    Fut: Future<Output = Result<ClientMessage, ClientError>>,
{
    drive_observed(session, transport, train, |_, _| {}).await
}

/// [`drive`] that also calls `observe` after every server message the
/// session handled, for clients that show their progress.
pub async fn drive_observed<T, F, Fut, O>(
    session: &mut Session,
    transport: &mut T,
    mut train: F,
    mut observe: O,
) -> Result<SessionEnd, ClientError>
where
    T: Transport,
    F: FnMut(Box<LocalJob>) -> Fut,
    Fut: Future<Output = Result<ClientMessage, ClientError>>,
    O: FnMut(&Session, Notice),
{
    if let Err(err) = send(transport, &session.register_message()).await {
        return Ok(SessionEnd::Disconnected(err.to_string()));
    }
    loop {
        let frame = match transport.recv().await {
            Some(Ok(frame)) => frame,
            Some(Err(err)) => return Ok(SessionEnd::Disconnected(err.to_string())),
            None => {
                return Ok(SessionEnd::Disconnected(
                    "server closed the connection".into(),
                ));
            }
        };
        let message = match decode_server(&frame, DEFAULT_MAX_MESSAGE_BYTES) {
            Ok(message) => message,
            Err(err) => {
                tracing::warn!(client = session.client_id(), error = %err, "ignored undecodable server frame");
                continue;
            }
        };
        let notice = notice_of(&message);
        let step = session.on_message(message)?;
        observe(session, notice);
        match step {
            Step::Continue => {}
            Step::Train(job) => {
                let round = job.task.round;
                let packing = Packing::of(&job.task);
                let update = match train(job).await {
                    Ok(update) => update,
                    // The next round brings a new global model, which may train without diverging.
                    Err(ClientError::Train(err @ starling_train::TrainError::Diverged { .. })) => {
                        tracing::warn!(client = session.client_id(), round, error = %err, "local training diverged; sitting this round out");
                        let decline = ClientMessage::Decline {
                            round,
                            reason: err.to_string(),
                        };
                        if let Err(err) = send(transport, &decline).await {
                            return Ok(SessionEnd::Disconnected(err.to_string()));
                        }
                        continue;
                    }
                    Err(err) => return Err(err),
                };
                let update = match session.finish_update(update, &packing) {
                    Ok(update) => update,
                    Err(ClientError::Secure(err)) => {
                        tracing::warn!(client = session.client_id(), round, error = %err, "update cannot enter secure aggregation; sitting this round out");
                        continue;
                    }
                    Err(err) => return Err(err),
                };
                tracing::debug!(client = session.client_id(), round, "sending update");
                if let Err(err) = send(transport, &update).await {
                    return Ok(SessionEnd::Disconnected(err.to_string()));
                }
            }
            Step::Reply(reply) => {
                if let Err(err) = send(transport, &reply).await {
                    return Ok(SessionEnd::Disconnected(err.to_string()));
                }
            }
            Step::Finished {
                reason,
                rounds,
                accuracy,
            } => {
                return Ok(SessionEnd::Finished {
                    reason,
                    rounds,
                    accuracy,
                });
            }
            Step::Replaced => return Ok(SessionEnd::Replaced),
        }
    }
}

fn notice_of(message: &ServerMessage) -> Notice {
    match message {
        ServerMessage::Welcome { .. } => Notice::Welcomed,
        ServerMessage::Round(task) => Notice::RoundStarted(task.round),
        ServerMessage::Accepted { round } => Notice::Accepted(*round),
        ServerMessage::Secure(request) => Notice::SecurePhase(request.round()),
        ServerMessage::Error { code, message } => Notice::Refused {
            code: *code,
            message: message.clone(),
        },
        ServerMessage::Finished { .. } => Notice::Finished,
    }
}

async fn send<T: Transport>(
    transport: &mut T,
    message: &ClientMessage,
) -> Result<(), TransportError> {
    let frame = encode_client(message).map_err(|err| TransportError(err.to_string()))?;
    transport.send(frame).await
}
