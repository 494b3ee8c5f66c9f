//! The live feed of a running server: numbered events, and the view of the
//! run that a dashboard rebuilds from them. Events carry consecutive
//! sequence numbers from 1. A viewer that reconnects requests the events
//! after the last number it applied, so it neither misses nor repeats one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::round::RoundMetrics;
use crate::summary::{RunHeader, RunStatus, RunSummary};

/// Something that happened in a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// The run started; always the first event.
    RunStarted(RunHeader),
    /// A client registered (or registered again after a reconnect).
    ClientJoined(ClientInfo),
    /// A client's connection closed.
    ClientLeft {
        /// Its id.
        client_id: String,
    },
    /// A round sent out its tasks.
    RoundStarted {
        /// Round number.
        round: u32,
        /// Ids of the sampled clients.
        sampled: Vec<String>,
        /// Clients connected when sampling.
        available: usize,
    },
    /// A sampled client's update was accepted.
    UpdateAccepted {
        /// Round number.
        round: u32,
        /// The client.
        client_id: String,
    },
    /// A round closed and was aggregated.
    RoundCompleted(RoundMetrics),
    /// The run ended; always the last event.
    Finished(RunSummary),
}

/// An event with its place in the feed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sequenced {
    /// Position in the feed, from 1, without gaps.
    pub seq: u64,
    /// The event.
    pub event: LiveEvent,
}

/// A client as it registered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// Client id.
    pub client_id: String,
    /// Runtime: `edge`, `browser` or `sim`.
    pub platform: String,
    /// Compute backend: `flex-cpu` or `wgpu-webgpu`.
    pub backend: String,
    /// The hardware behind the backend.
    pub device: String,
    /// Number of examples on the client (its partition's size when the
    /// server assigned one).
    pub num_examples: u64,
    /// Built-in partition the server assigned, if any.
    pub partition: Option<u32>,
}

/// Activity of a client, as last reported to the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientState {
    /// Connected but not in the open round.
    Idle,
    /// Sampled for the open round, with its update not yet received.
    Training,
    /// Its update for the open round was accepted.
    Submitted,
    /// Not connected.
    Disconnected,
}

impl ClientState {
    /// Lower-case label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Training => "training",
            Self::Submitted => "submitted",
            Self::Disconnected => "disconnected",
        }
    }
}

/// Outcome of applying one event to a [`RunView`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The next event in sequence.
    Next,
    /// Already applied, so ignored.
    Duplicate,
    /// Applied although some events before it never arrived. The gap is
    /// counted in [`RunView::gaps`].
    AfterGap {
        /// The sequence number expected.
        expected: u64,
    },
}

/// State of a run as shown to a viewer, rebuilt from its events or its
/// stored history.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunView {
    /// The header, once `RunStarted` has arrived.
    pub header: Option<RunHeader>,
    /// Rounds completed, in order.
    pub rounds: Vec<RoundMetrics>,
    /// Clients ever registered, by id, with their current state.
    pub clients: BTreeMap<String, (ClientInfo, ClientState)>,
    /// The round in progress, if any.
    pub open_round: Option<u32>,
    /// The summary, once the run has ended.
    pub summary: Option<RunSummary>,
    /// Sequence number of the last event applied (0 before any).
    pub last_seq: u64,
    /// Events that arrived after a gap in the sequence.
    pub gaps: u64,
}

impl RunView {
    /// Builds the view of a finished (or running) run from its stored
    /// history.
    pub fn from_history(
        header: Option<RunHeader>,
        rounds: Vec<RoundMetrics>,
        summary: Option<RunSummary>,
    ) -> Self {
        Self {
            header,
            rounds,
            summary,
            ..Self::default()
        }
    }

    /// Returns the run's status.
    pub fn status(&self) -> RunStatus {
        match &self.summary {
            Some(summary) => RunStatus::from_reason(&summary.reason),
            None => RunStatus::Running,
        }
    }

    /// Returns the number of the last round completed (0 before the first).
    pub fn rounds_completed(&self) -> u32 {
        self.rounds.last().map_or(0, |m| m.round)
    }

    /// Counts the clients connected now.
    pub fn connected(&self) -> usize {
        self.clients
            .values()
            .filter(|(_, state)| *state != ClientState::Disconnected)
            .count()
    }

    /// Applies one event from a server's live feed like [`RunView::apply`],
    /// except that the start of another run (a server restarted on the
    /// same port) clears the view first instead of mixing the two runs.
    pub fn follow(&mut self, item: Sequenced) -> Applied {
        if let LiveEvent::RunStarted(header) = &item.event
            && self
                .header
                .as_ref()
                .is_some_and(|current| current.run_id != header.run_id)
        {
            *self = Self::default();
        }
        self.apply(item)
    }

    /// Applies one event from the feed. Events at or below the last applied
    /// sequence number are ignored.
    pub fn apply(&mut self, item: Sequenced) -> Applied {
        if item.seq <= self.last_seq {
            return Applied::Duplicate;
        }
        let expected = self.last_seq + 1;
        self.last_seq = item.seq;
        self.apply_event(item.event);
        if item.seq == expected {
            Applied::Next
        } else {
            self.gaps += 1;
            Applied::AfterGap { expected }
        }
    }

    fn apply_event(&mut self, event: LiveEvent) {
        match event {
            LiveEvent::RunStarted(header) => self.header = Some(header),
            LiveEvent::ClientJoined(info) => {
                // A client that reconnects mid-round keeps its round state.
                let state = match self.clients.get(&info.client_id) {
                    Some((_, state @ (ClientState::Training | ClientState::Submitted))) => *state,
                    _ => ClientState::Idle,
                };
                self.clients.insert(info.client_id.clone(), (info, state));
            }
            LiveEvent::ClientLeft { client_id } => {
                if let Some((_, state)) = self.clients.get_mut(&client_id) {
                    *state = ClientState::Disconnected;
                }
            }
            LiveEvent::RoundStarted { round, sampled, .. } => {
                self.open_round = Some(round);
                for id in sampled {
                    if let Some((_, state)) = self.clients.get_mut(&id)
                        && *state != ClientState::Disconnected
                    {
                        *state = ClientState::Training;
                    }
                }
            }
            LiveEvent::UpdateAccepted { client_id, .. } => {
                if let Some((_, state)) = self.clients.get_mut(&client_id) {
                    *state = ClientState::Submitted;
                }
            }
            LiveEvent::RoundCompleted(metrics) => {
                self.open_round = None;
                for (_, state) in self.clients.values_mut() {
                    if *state != ClientState::Disconnected {
                        *state = ClientState::Idle;
                    }
                }
                self.rounds.push(metrics);
            }
            LiveEvent::Finished(summary) => {
                self.open_round = None;
                for (_, state) in self.clients.values_mut() {
                    *state = ClientState::Disconnected;
                }
                self.summary = Some(summary);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use starling_proto::FinishReason;

    use super::*;

    fn client(id: &str) -> ClientInfo {
        ClientInfo {
            client_id: id.to_owned(),
            platform: "edge".to_owned(),
            backend: "flex-cpu".to_owned(),
            device: "cpu".to_owned(),
            num_examples: 100,
            partition: Some(0),
        }
    }

    fn feed() -> Vec<Sequenced> {
        let events = vec![
            LiveEvent::RunStarted(RunHeader {
                run_id: "r".into(),
                ..RunHeader::default()
            }),
            LiveEvent::ClientJoined(client("a")),
            LiveEvent::ClientJoined(client("b")),
            LiveEvent::RoundStarted {
                round: 1,
                sampled: vec!["a".into(), "b".into()],
                available: 2,
            },
            LiveEvent::UpdateAccepted {
                round: 1,
                client_id: "a".into(),
            },
            LiveEvent::ClientLeft {
                client_id: "b".into(),
            },
            LiveEvent::RoundCompleted(RoundMetrics {
                round: 1,
                ..RoundMetrics::default()
            }),
            LiveEvent::Finished(RunSummary {
                run_id: "r".into(),
                reason: FinishReason::RoundsCompleted,
                rounds: 1,
                final_accuracy: None,
                wall_time_s: 1.0,
                bytes_up: 0,
                bytes_down: 0,
            }),
        ];
        events
            .into_iter()
            .enumerate()
            .map(|(i, event)| Sequenced {
                seq: i as u64 + 1,
                event,
            })
            .collect()
    }

    #[test]
    fn client_states_follow_round() {
        let mut view = RunView::default();
        let items = feed();
        for item in &items[..5] {
            assert_eq!(view.apply(item.clone()), Applied::Next);
        }
        assert_eq!(view.open_round, Some(1));
        assert_eq!(view.clients["a"].1, ClientState::Submitted);
        assert_eq!(view.clients["b"].1, ClientState::Training);
        view.apply(items[5].clone());
        assert_eq!(view.clients["b"].1, ClientState::Disconnected);
        assert_eq!(view.connected(), 1);
        view.apply(items[6].clone());
        assert_eq!(view.clients["a"].1, ClientState::Idle);
        assert_eq!(view.rounds_completed(), 1);
        assert_eq!(view.status(), RunStatus::Running);
        view.apply(items[7].clone());
        assert_eq!(view.status().word(), "finished");
        assert_eq!(view.gaps, 0);
    }

    #[test]
    fn apply_ignores_replays_and_counts_gaps() {
        let items = feed();
        let mut view = RunView::default();
        for item in &items[..4] {
            view.apply(item.clone());
        }
        // A reconnect that replays from the start changes nothing.
        for item in &items[..4] {
            assert_eq!(view.apply(item.clone()), Applied::Duplicate);
        }
        assert_eq!(view.clients.len(), 2);
        assert_eq!(
            view.apply(items[6].clone()),
            Applied::AfterGap { expected: 5 }
        );
        assert_eq!(view.gaps, 1);
        assert_eq!(view.rounds.len(), 1);
    }

    #[test]
    fn events_serialise_with_type_tag() {
        let json = serde_json::to_string(&feed()[5]).unwrap();
        assert_eq!(
            json,
            r#"{"seq":6,"event":{"type":"client_left","client_id":"b"}}"#
        );
        for item in feed() {
            let text = serde_json::to_string(&item).unwrap();
            let back: Sequenced = serde_json::from_str(&text).unwrap();
            assert_eq!(back, item);
        }
    }

    #[test]
    fn follow_starts_over_when_another_run_starts() {
        let mut view = RunView::default();
        for item in feed().into_iter().take(7) {
            view.follow(item);
        }
        assert_eq!(view.rounds.len(), 1);
        let other = Sequenced {
            seq: 1,
            event: LiveEvent::RunStarted(RunHeader {
                run_id: "other".into(),
                ..RunHeader::default()
            }),
        };
        assert_eq!(view.follow(other.clone()), Applied::Next);
        assert_eq!(
            view.header.as_ref().map(|h| h.run_id.as_str()),
            Some("other")
        );
        assert!(view.rounds.is_empty());
        assert!(view.clients.is_empty());
        // The same run's start again is a repeat, not a new run.
        let again = view.follow(other);
        assert_eq!(again, Applied::Duplicate);
    }
}
