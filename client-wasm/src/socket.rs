//! A browser WebSocket as a client [`Transport`], counting the bytes of
//! every frame it sends and receives.

use std::cell::Cell;
use std::rc::Rc;

use futures_channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures_util::StreamExt;
use js_sys::{ArrayBuffer, Uint8Array};
use starling_client::{Transport, TransportError};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::convert::FromWasmAbi;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

/// Bytes that crossed the socket, shared with the status reporter.
#[derive(Debug, Default)]
pub struct ByteCounters {
    /// Bytes of frames sent.
    pub sent: Cell<u64>,
    /// Bytes of frames received.
    pub received: Cell<u64>,
}

/// Reason a connection could not be opened.
#[derive(Debug)]
pub enum ConnectError {
    /// The URL is not a WebSocket URL the browser accepts, so retrying
    /// cannot help.
    InvalidUrl(String),
    /// The server could not be reached or closed the connection at once.
    Unreachable(String),
}

/// Returns the message of a JavaScript error, or the value as text.
pub fn js_error_text(error: &wasm_bindgen::JsValue) -> String {
    if let Some(error) = error.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    error.as_string().unwrap_or_else(|| format!("{error:?}"))
}

/// Event forwarded by the socket's handlers.
enum Inbound {
    Open,
    Frame(Vec<u8>),
    Error,
    Closed { code: u16, reason: String },
}

/// An open WebSocket to the server.
pub struct BrowserSocket {
    socket: WebSocket,
    inbox: UnboundedReceiver<Inbound>,
    counters: Rc<ByteCounters>,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl BrowserSocket {
    /// Opens a WebSocket to `url` and waits until it is open.
    pub async fn connect(url: &str, counters: Rc<ByteCounters>) -> Result<Self, ConnectError> {
        let socket =
            WebSocket::new(url).map_err(|error| ConnectError::InvalidUrl(js_error_text(&error)))?;
        socket.set_binary_type(BinaryType::Arraybuffer);
        let (sender, inbox) = unbounded();

        let on_open = forward(&sender, |_: Event| Inbound::Open);
        let on_message = forward(&sender, |event: MessageEvent| {
            match event.data().dyn_into::<ArrayBuffer>() {
                Ok(buffer) => Inbound::Frame(Uint8Array::new(&buffer).to_vec()),
                // The server sends binary frames only; an empty frame fails
                // to decode and is reported by the client loop.
                Err(_) => Inbound::Frame(Vec::new()),
            }
        });
        let on_error = forward(&sender, |_: Event| Inbound::Error);
        let on_close = forward(&sender, |event: CloseEvent| Inbound::Closed {
            code: event.code(),
            reason: event.reason(),
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));

        let mut this = Self {
            socket,
            inbox,
            counters,
            _on_open: on_open,
            _on_message: on_message,
            _on_error: on_error,
            _on_close: on_close,
        };
        // The browser hides why a connection failed. It reports only an
        // error event, followed by a close event with code 1006.
        match this.inbox.next().await {
            Some(Inbound::Open) => Ok(this),
            Some(Inbound::Closed { code, .. }) => Err(ConnectError::Unreachable(format!(
                "connection closed with code {code}"
            ))),
            _ => Err(ConnectError::Unreachable("connection failed".to_owned())),
        }
    }
}

fn forward<E: FromWasmAbi + 'static>(
    sender: &UnboundedSender<Inbound>,
    map: impl Fn(E) -> Inbound + 'static,
) -> Closure<dyn FnMut(E)> {
    let sender = sender.clone();
    Closure::new(move |event: E| {
        // The receiver is gone once the socket is dropped; nothing to tell.
        let _ = sender.unbounded_send(map(event));
    })
}

impl Transport for BrowserSocket {
    async fn send(&mut self, frame: Vec<u8>) -> Result<(), TransportError> {
        if self.socket.ready_state() != WebSocket::OPEN {
            return Err(TransportError("the connection is not open".to_owned()));
        }
        self.socket
            .send_with_u8_array(&frame)
            .map_err(|error| TransportError(format!("send failed: {}", js_error_text(&error))))?;
        self.counters
            .sent
            .set(self.counters.sent.get() + frame.len() as u64);
        Ok(())
    }

    async fn recv(&mut self) -> Option<Result<Vec<u8>, TransportError>> {
        loop {
            match self.inbox.next().await? {
                Inbound::Frame(frame) => {
                    self.counters
                        .received
                        .set(self.counters.received.get() + frame.len() as u64);
                    return Some(Ok(frame));
                }
                Inbound::Closed { code, reason } => {
                    let reason = if reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {reason}")
                    };
                    return Some(Err(TransportError(format!(
                        "connection closed with code {code}{reason}"
                    ))));
                }
                // An error event is always followed by a close event.
                Inbound::Open | Inbound::Error => {}
            }
        }
    }
}

impl Drop for BrowserSocket {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onerror(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}
