//! One round's metrics: participation, bytes on the wire, training loss,
//! the global model's accuracy (overall, per class, per client) and, when
//! those features are on, privacy spent and secure-aggregation survivors.
//! Fields added after the first release default when absent, so older
//! `metrics.jsonl` files still read.

use serde::{Deserialize, Serialize};

use crate::cohort::{ClassAccuracy, ClientAccuracy};

/// Metrics of one round, as written to `metrics.jsonl` and streamed live.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundMetrics {
    /// Round number, from 1.
    pub round: u32,
    /// Seconds from the start of the run to the end of this round.
    pub wall_time_s: f64,
    /// Seconds this round took, from sampling to aggregation.
    pub duration_s: f64,
    /// Clients sampled.
    pub sampled: usize,
    /// Sampled clients whose update was accepted.
    pub completed: usize,
    /// Sampled clients with no accepted update when the round closed. The
    /// `late` ones among them were still connected.
    pub dropped: usize,
    /// Sampled clients that were still connected when the round closed
    /// without their update, i.e. stragglers that missed the deadline.
    /// Included in `dropped`.
    #[serde(default)]
    pub late: usize,
    /// Sampled clients that declined the round without an update (their
    /// local training diverged). Not included in `dropped`.
    #[serde(default)]
    pub declined: usize,
    /// Messages rejected during the round (wrong round, bad layout, NaN…).
    pub rejected: usize,
    /// Examples the accepted updates were trained on.
    pub examples: u64,
    /// Example-weighted mean of the clients' local training loss.
    pub train_loss: Option<f64>,
    /// Test accuracy of the new global model, when evaluated.
    pub test_accuracy: Option<f64>,
    /// Test loss of the new global model, when evaluated.
    pub test_loss: Option<f64>,
    /// Bytes of all frames received during the round.
    pub bytes_up: u64,
    /// Bytes of all frames sent during the round.
    pub bytes_down: u64,
    /// Bytes the received frames would have had with every update sent as
    /// plain f32 values. Equal to `bytes_up` when nothing is compressed.
    #[serde(default)]
    pub bytes_up_uncompressed: u64,
    /// Bytes the sent frames would have had with every model sent as plain
    /// f32 values. Equal to `bytes_down` when nothing is compressed.
    #[serde(default)]
    pub bytes_down_uncompressed: u64,
    /// Test accuracy per true label, when evaluated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_class: Vec<ClassAccuracy>,
    /// The global model evaluated on each client's data, when evaluated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<ClientAccuracy>,
    /// Privacy spent so far, or `None` when differential privacy is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacyRound>,
    /// Secure aggregation's outcome, or `None` when it is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_aggregation: Option<SecAggRound>,
    /// Aggregation error, if any. The model is left unchanged after an
    /// error.
    pub error: Option<String>,
}

impl RoundMetrics {
    /// Computes the ratio of uncompressed to actual bytes, both directions
    /// together. Returns `None` before any byte moved, and when the
    /// uncompressed sizes are 0 (missing in older files).
    pub fn compression_ratio(&self) -> Option<f64> {
        let actual = self.bytes_up + self.bytes_down;
        let uncompressed = self.bytes_up_uncompressed + self.bytes_down_uncompressed;
        (actual > 0 && uncompressed > 0).then(|| uncompressed as f64 / actual as f64)
    }

    /// Counts the sampled clients that disconnected before sending their
    /// update (`dropped` minus `late`).
    pub fn disconnected(&self) -> usize {
        self.dropped.saturating_sub(self.late)
    }
}

/// Differential-privacy state after a round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrivacyRound {
    /// ε spent from the start of the run up to and including this round.
    pub epsilon: f64,
    /// δ of the guarantee.
    pub delta: f64,
    /// The ε budget, if one is set; the run stops before a round that would
    /// exceed it.
    pub epsilon_budget: Option<f64>,
    /// Noise standard deviation over the clipping norm.
    pub noise_multiplier: f64,
    /// L2 clipping norm of client updates in this round.
    pub clip_norm: f64,
    /// Probability q with which each client of the population was sampled.
    #[serde(default)]
    pub sampling_rate: f64,
    /// Clients of this round whose update was scaled down to the clipping
    /// norm.
    #[serde(default)]
    pub clients_clipped: usize,
}

/// Secure aggregation's outcome for a round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecAggRound {
    /// The protocol: `secagg` or `secagg+`.
    #[serde(default)]
    pub protocol: String,
    /// Clients that started the protocol (the sampled cohort).
    #[serde(default)]
    pub clients: usize,
    /// Clients whose masked input went into the sum.
    pub survivors: usize,
    /// Dropped clients whose masks were recovered from shares.
    pub recovered: usize,
    /// True when too few clients survived and nothing was aggregated.
    pub aborted: bool,
    /// Update values clipped to the quantization range, over all survivors.
    #[serde(default)]
    pub clipped_values: u64,
    /// Bytes the protocol added: keys, share bundles, requests and revealed
    /// shares, both directions, and for two-server rounds the coordinator's
    /// exchange with the mask server.
    #[serde(default)]
    pub protocol_bytes: u64,
    /// Bytes of the masked inputs themselves.
    #[serde(default)]
    pub masked_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_without_newer_fields_parse() {
        let line = r#"{"round":3,"wall_time_s":1.5,"duration_s":0.5,"sampled":4,
            "completed":3,"dropped":1,"rejected":0,"examples":300,"train_loss":0.4,
            "test_accuracy":0.9,"test_loss":0.3,"bytes_up":1000,"bytes_down":2000,
            "error":null}"#;
        let metrics: RoundMetrics = serde_json::from_str(line).unwrap();
        assert_eq!(metrics.round, 3);
        assert_eq!(metrics.late, 0);
        assert_eq!(metrics.disconnected(), 1);
        assert!(metrics.per_class.is_empty());
        assert_eq!(metrics.privacy, None);
    }

    #[test]
    fn compression_ratio_uncompressed_over_actual() {
        let metrics = RoundMetrics {
            bytes_up: 100,
            bytes_down: 300,
            bytes_up_uncompressed: 400,
            bytes_down_uncompressed: 400,
            ..RoundMetrics::default()
        };
        assert_eq!(metrics.compression_ratio(), Some(2.0));
        assert_eq!(RoundMetrics::default().compression_ratio(), None);
    }

    #[test]
    fn disconnected_excludes_late_clients() {
        let metrics = RoundMetrics {
            dropped: 3,
            late: 2,
            ..RoundMetrics::default()
        };
        assert_eq!(metrics.disconnected(), 1);
    }
}
