//! Records of a run as a whole: the header shown at the top of a viewer
//! (model, data and training settings) and the summary written when the run
//! ends.

use serde::{Deserialize, Serialize};
use starling_proto::FinishReason;

/// Model, data and training settings of a run, as shown at the top of the
/// dashboard.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunHeader {
    /// Run id (the output folder's name).
    pub run_id: String,
    /// Aggregation strategy, e.g. `fedavg`.
    pub strategy: String,
    /// Model, e.g. `mlp` or `cnn`.
    pub model: String,
    /// Data set, e.g. `embedded MNIST digits (8,000 train / 2,000 test)`.
    pub dataset: String,
    /// Partitioning of the training split, e.g. `dirichlet(α=0.3) into 100`.
    pub partition: String,
    /// Seed of the run.
    pub seed: u64,
    /// Start time in milliseconds since the Unix epoch.
    pub started_at_ms: u64,
    /// Rounds planned.
    pub rounds: u32,
    /// Update compression, `off` when updates go as plain f32.
    pub compression: String,
    /// Compression of the broadcast model, `off` when every task carries
    /// the dense model. Headers written before this field read as `off`.
    #[serde(default = "off")]
    pub downlink_compression: String,
    /// Secure aggregation mode, `off` when the server reads each update
    /// unmasked.
    pub secure_aggregation: String,
    /// Differential privacy settings, or `None` when it is off.
    pub privacy: Option<PrivacySettings>,
}

fn off() -> String {
    "off".to_owned()
}

/// Differential privacy settings of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrivacySettings {
    /// δ of the guarantee.
    pub delta: f64,
    /// The ε budget, if one is set; the run stops before a round that would
    /// exceed it.
    pub epsilon_budget: Option<f64>,
    /// Noise standard deviation over the clipping norm.
    pub noise_multiplier: f64,
    /// L2 clipping norm at the start.
    pub clip_norm: f64,
}

/// A run as the runs API lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunListing {
    /// Run id (the folder name).
    pub run_id: String,
    /// `running`, `finished`, `stopped`, `failed`, or `incomplete` for a
    /// run that has no summary and is not the server's own run.
    pub status: String,
    /// Reason the run ended, once it has.
    pub reason: Option<String>,
    /// Rounds in `metrics.jsonl`.
    pub rounds: usize,
    /// Last test accuracy in the metrics.
    pub last_accuracy: Option<f64>,
    /// Aggregation strategy from `config.toml`.
    pub strategy: Option<String>,
    /// Model trained, from `config.toml`.
    pub model: Option<String>,
    /// Seed of the run, from `config.toml`.
    pub seed: Option<u64>,
}

/// End-of-run record, written to `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Run id (the output folder's name).
    pub run_id: String,
    /// Reason the run ended.
    pub reason: FinishReason,
    /// Rounds completed.
    pub rounds: u32,
    /// Last measured test accuracy.
    pub final_accuracy: Option<f64>,
    /// Seconds from start to end.
    pub wall_time_s: f64,
    /// Total bytes received over the run.
    pub bytes_up: u64,
    /// Total bytes sent over the run.
    pub bytes_down: u64,
}

/// Status of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum RunStatus {
    /// Rounds are in progress.
    Running,
    /// All rounds ran, the target accuracy was reached, or the privacy
    /// budget was spent.
    Finished(String),
    /// The operator stopped the run.
    Stopped,
    /// The run failed, with the cause as text.
    Failed(String),
    /// The run ended without a summary, e.g. because the process was
    /// killed.
    Incomplete,
}

impl RunStatus {
    /// Maps the finish reason of an ended run to its status.
    pub fn from_reason(reason: &FinishReason) -> Self {
        match reason {
            FinishReason::RoundsCompleted
            | FinishReason::TargetAccuracy
            | FinishReason::PrivacyBudget { .. } => Self::Finished(reason.to_string()),
            FinishReason::Stopped => Self::Stopped,
            FinishReason::Failed(cause) => Self::Failed(cause.clone()),
        }
    }

    /// Returns the status as one word: `running`, `finished`, `stopped`,
    /// `failed` or `incomplete`.
    pub fn word(&self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Finished(_) => "finished",
            Self::Stopped => "stopped",
            Self::Failed(_) => "failed",
            Self::Incomplete => "incomplete",
        }
    }

    /// Formats the status word with its reason, e.g.
    /// `failed: not enough clients`.
    pub fn describe(&self) -> String {
        match self {
            Self::Finished(reason) => format!("finished ({reason})"),
            Self::Failed(cause) => format!("failed: {cause}"),
            other => other.word().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_missing_downlink_reads_off() {
        let header = RunHeader {
            compression: "8bit".to_owned(),
            downlink_compression: "topk:0.1+8bit".to_owned(),
            ..RunHeader::default()
        };
        let mut json = serde_json::to_value(&header).unwrap();
        assert_eq!(
            serde_json::from_value::<RunHeader>(json.clone()).unwrap(),
            header
        );
        json.as_object_mut().unwrap().remove("downlink_compression");
        let old: RunHeader = serde_json::from_value(json).unwrap();
        assert_eq!(old.downlink_compression, "off");
        assert_eq!(old.compression, "8bit");
    }

    #[test]
    fn statuses_from_reasons() {
        assert_eq!(
            RunStatus::from_reason(&FinishReason::TargetAccuracy).describe(),
            "finished (target accuracy reached)"
        );
        let failed = RunStatus::from_reason(&FinishReason::Failed("no clients".into()));
        assert_eq!(failed.word(), "failed");
        assert_eq!(failed.describe(), "failed: no clients");
        assert_eq!(
            RunStatus::from_reason(&FinishReason::Stopped).word(),
            "stopped"
        );
    }

    #[test]
    fn status_serialises_with_reason() {
        let json = serde_json::to_string(&RunStatus::Failed("boom".into())).unwrap();
        assert_eq!(json, r#"{"status":"failed","reason":"boom"}"#);
        let json = serde_json::to_string(&RunStatus::Running).unwrap();
        assert_eq!(json, r#"{"status":"running"}"#);
    }
}
