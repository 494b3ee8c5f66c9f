//! The status the worker posts to the page after every change, as JSON.

use serde::Serialize;

/// State of the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Opening the WebSocket.
    Connecting,
    /// Connected and registered; waiting for a round.
    Waiting,
    /// Training on a round task.
    Training,
    /// Sending the update.
    Uploading,
    /// The server could not be reached or dropped the connection; a retry
    /// is scheduled.
    Reconnecting,
    /// The run ended.
    Finished,
    /// The server refused this client; no retry.
    Rejected,
    /// Another tab or device took over this client id; no retry.
    Replaced,
    /// The client stopped on an error of its own.
    Failed,
}

/// Everything the page shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Connection and round state.
    pub state: State,
    /// A sentence for the user about the current state, empty when the
    /// state name is enough.
    pub message: String,
    /// Client id.
    pub client_id: String,
    /// Run joined, once welcomed.
    pub run_id: Option<String>,
    /// Backend trained on, for example `flex-cpu`.
    pub backend: String,
    /// Hardware behind the backend.
    pub device: String,
    /// Local examples, once known.
    pub examples: u64,
    /// Round being or last trained.
    pub round: Option<u32>,
    /// Rounds whose update the server accepted.
    pub rounds_completed: u32,
    /// Mean training loss of the last round.
    pub loss: Option<f64>,
    /// Accuracy of the locally trained model on the local data.
    pub accuracy: Option<f64>,
    /// Milliseconds the last round's training took.
    pub train_ms: Option<f64>,
    /// Bytes of WebSocket frames sent.
    pub bytes_sent: u64,
    /// Bytes of WebSocket frames received.
    pub bytes_received: u64,
    /// Connection attempts since the last successful one.
    pub retry_attempt: u32,
    /// Test accuracy of the final global model, once finished.
    pub final_accuracy: Option<f64>,
}

impl Status {
    /// Status of a client that has not connected yet.
    pub fn new(client_id: &str, backend: &str, device: &str) -> Self {
        Self {
            state: State::Connecting,
            message: String::new(),
            client_id: client_id.to_owned(),
            run_id: None,
            backend: backend.to_owned(),
            device: device.to_owned(),
            examples: 0,
            round: None,
            rounds_completed: 0,
            loss: None,
            accuracy: None,
            train_ms: None,
            bytes_sent: 0,
            bytes_received: 0,
            retry_attempt: 0,
            final_accuracy: None,
        }
    }

    /// Encodes the status as the JSON the page parses.
    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and options always serialises.
        serde_json::to_string(self).unwrap_or_else(|error| {
            format!(r#"{{"state":"failed","message":"status encoding failed: {error}"}}"#)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_uses_the_page_field_names() {
        let mut status = Status::new("tab-7", "flex-cpu", "cpu");
        status.state = State::Training;
        status.round = Some(3);
        status.bytes_sent = 1024;
        let json: serde_json::Value = serde_json::from_str(&status.to_json()).unwrap();
        assert_eq!(json["state"], "training");
        assert_eq!(json["clientId"], "tab-7");
        assert_eq!(json["round"], 3);
        assert_eq!(json["bytesSent"], 1024);
        assert_eq!(json["roundsCompleted"], 0);
        assert!(json["runId"].is_null());
    }
}
