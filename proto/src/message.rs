//! The messages exchanged between the server and a client, one enum per
//! direction.

use serde::{Deserialize, Serialize};

use crate::compression::UplinkCompression;
use crate::params::ParamSet;
use crate::secure::{SecureReply, SecureRequest, SecureSetup};

/// Model architectures every client can train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// The 2NN of McMahan et al. 2017: 784-200-200-10 with ReLU.
    Mlp,
    /// The CNN of McMahan et al. 2017: two 5x5 conv + pool blocks (32, 64
    /// channels), a 512-unit dense layer and a 10-way output.
    Cnn,
}

impl ModelKind {
    /// Lowercase name as used in configs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mlp => "mlp",
            Self::Cnn => "cnn",
        }
    }
}

/// Hyper-parameters of one client's local training in a round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Architecture of the global model.
    pub model: ModelKind,
    /// Local epochs E over the client's data.
    pub local_epochs: u32,
    /// Mini-batch size B.
    pub batch_size: u32,
    /// SGD learning rate.
    pub learning_rate: f64,
    /// SGD momentum (0 disables it).
    pub momentum: f64,
    /// L2 weight decay (0 disables it).
    pub weight_decay: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            model: ModelKind::Mlp,
            local_epochs: 1,
            batch_size: 32,
            learning_rate: 0.05,
            momentum: 0.0,
            weight_decay: 0.0,
        }
    }
}

/// Scheme that splits a population's data into client partitions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum PartitionScheme {
    /// Shuffled and dealt evenly.
    Iid,
    /// Per-client label proportions drawn from Dirichlet(alpha).
    Dirichlet {
        /// Concentration; small values give strong label skew.
        alpha: f64,
    },
    /// Sorted by label, cut into shards, each client gets `per_client`
    /// shards (McMahan et al. 2017 pathological non-IID).
    Shards {
        /// Shards dealt to each client.
        per_client: u32,
    },
    /// IID labels, client sizes drawn from a log-normal with this sigma.
    Quantity {
        /// Standard deviation of the underlying normal.
        sigma: f64,
    },
}

/// The slice of the built-in data set that the server assigns to a client
/// that has no data of its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataAssignment {
    /// Partition index in `0..partitions`.
    pub index: u32,
    /// Number of partitions the training split is cut into.
    pub partitions: u32,
    /// Partitioning scheme.
    pub scheme: PartitionScheme,
    /// Seed of the split and the partitioning.
    pub seed: u64,
}

/// Client self-description sent with `Register`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Runtime, for example `edge`, `sim` or `browser`.
    pub platform: String,
    /// Compute backend used for training, for example `flex-cpu` or
    /// `wgpu-webgpu`.
    pub backend: String,
    /// The hardware behind the backend, for example `cpu` or a WebGPU
    /// adapter's vendor and architecture.
    pub device: String,
    /// True when the client has no data and asks for a built-in partition.
    pub wants_data: bool,
}

/// Messages a client sends to the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClientMessage {
    /// First message on a connection.
    Register {
        /// Stable id; a reconnect under the same id replaces the old link.
        client_id: String,
        /// Runtime and backend.
        capabilities: Capabilities,
        /// Local training examples, 0 when the client waits for an assignment.
        num_examples: u64,
    },
    /// A trained update for a round.
    Update(ClientUpdate),
    /// A reply in a phase of secure aggregation.
    Secure(SecureReply),
    /// The client is leaving on purpose.
    Leave,
    /// The client sits out a round it was sampled for and sends no update,
    /// so that the round need not wait for its deadline.
    Decline {
        /// Round the client was sampled for.
        round: u32,
        /// Why, for the server's log (for example, local training diverged).
        reason: String,
    },
}

/// Encoding of an update's values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum UpdatePayload {
    /// Uncompressed `f32` deltas with their layout.
    Dense(ParamSet),
    /// The deltas, flattened in the global model's layout and encoded by
    /// the round's compression chain; the bytes start with the chain's tags.
    Compressed(#[serde(with = "serde_bytes")] Vec<u8>),
}

impl UpdatePayload {
    /// Bytes this payload takes inside an encoded message.
    pub fn encoded_len(&self) -> usize {
        postcard::experimental::serialized_size(self).unwrap_or(0)
    }
}

/// Largest example count an update may report (2^40, far above any real
/// client), so that weights and their sums stay exact in `f64` and `u64`.
pub const MAX_NUM_EXAMPLES: u64 = 1 << 40;

/// A client's reply to a [`RoundTask`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientUpdate {
    /// Round this update belongs to.
    pub round: u32,
    /// Examples the client trained on; the FedAvg weight.
    pub num_examples: u64,
    /// Local optimisation steps taken.
    pub local_steps: u32,
    /// Mean training loss over the local epochs.
    pub train_loss: f64,
    /// Local model minus the global model it started from.
    pub payload: UpdatePayload,
    /// SCAFFOLD: the change of the client's control variate, `c_i+ - c_i`,
    /// as plain `f32` values in the model's layout; `None` for every other
    /// strategy.
    pub control_delta: Option<ParamSet>,
    /// With differential privacy: whether the client scaled its update down
    /// to the round's clipping norm. Adaptive clipping counts the clients
    /// that did not. `None` when the round requested no clipping.
    pub clipped: Option<bool>,
}

/// Work for one client in one round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundTask {
    /// Round number, starting at 1.
    pub round: u32,
    /// Global model to start from.
    pub model: ParamSet,
    /// Local training hyper-parameters.
    pub config: TrainConfig,
    /// Milliseconds the client has before the server stops waiting.
    pub deadline_ms: u64,
    /// Seed for this client's shuffling and stochastic rounding in this
    /// round.
    pub seed: u64,
    /// Seed shared by every client of the round (rand-k positions).
    pub round_seed: u64,
    /// Compression the update must use; `None` for plain `f32` values.
    pub compression: Option<UplinkCompression>,
    /// Terms the client adds to its local objective (FedProx, SCAFFOLD).
    pub objective: LocalObjective,
    /// With differential privacy: the L2 bound the client clips its update
    /// to before sending it; `None` without.
    pub clipping: Option<Clipping>,
    /// With downlink compression: the version of the model and, when
    /// `model` is empty, the compressed steps from the client's version.
    pub downlink: Option<DownlinkModel>,
    /// With secure aggregation: how the update is quantized and masked.
    /// The client then answers with [`SecureReply`] messages instead of a
    /// [`ClientUpdate`].
    pub secure: Option<SecureSetup>,
}

/// The model of a task under downlink compression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DownlinkModel {
    /// Version of the model: the round whose reference it is.
    pub version: u32,
    /// Compression of the steps.
    pub compression: UplinkCompression,
    /// The steps from the version the client holds; `None` when the
    /// task's `model` is the whole reference model.
    pub update: Option<ModelUpdate>,
}

/// Compressed steps that bring a client's model to a newer version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelUpdate {
    /// Layout of the model.
    pub specs: Vec<crate::params::TensorSpec>,
    /// Steps in order, the first applying to the client's version.
    pub steps: Vec<ModelStep>,
}

/// One compressed step of the broadcast model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelStep {
    /// Version the step applies to.
    pub base: u32,
    /// Version the step produces.
    pub round: u32,
    /// Seed of the step's stochastic rounding and rand-k positions.
    pub seed: u64,
    /// The encoded difference, in the compression's format.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

/// The bound a client applies to its update's L2 norm (DP-FedAvg).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clipping {
    /// The bound C on the whole update.
    pub norm: f64,
    /// Clip each of the L tensors to `C / sqrt(L)` instead of the whole
    /// update to C.
    pub per_layer: bool,
}

/// The changes a strategy requests in clients' local training, beyond
/// minimising the cross-entropy of their own data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalObjective {
    /// FedProx μ: the client adds `(μ / 2) * ||w - w_global||^2` to its
    /// loss. 0 leaves local training exactly as FedAvg's.
    pub proximal_mu: f64,
    /// SCAFFOLD: the server control variate `c` in the model's layout. The
    /// client corrects every local gradient by `c - c_i` and replies with
    /// the change of its own control variate `c_i`.
    pub server_control: Option<ParamSet>,
}

/// Machine-readable reason attached to [`ServerMessage::Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The frame could not be decoded.
    Malformed,
    /// The frame was larger than the server's limit.
    TooLarge,
    /// Protocol version or magic does not match.
    UnsupportedVersion,
    /// A message arrived before `Register`.
    NotRegistered,
    /// `Register` was sent twice on one connection or had an invalid id.
    InvalidRegistration,
    /// The update is for a round other than the open one.
    WrongRound,
    /// The client was not sampled for the open round.
    NotSampled,
    /// The client already sent an update for this round.
    DuplicateUpdate,
    /// Tensor names, shapes or lengths do not match the global model.
    LayoutMismatch,
    /// The update contains NaN or infinite values.
    NonFinite,
    /// Another connection registered with this client id.
    Replaced,
    /// The server is shutting down.
    ShuttingDown,
    /// A field of the update is out of range (for example the example
    /// count).
    InvalidUpdate,
    /// A secure-aggregation message for a phase that is not open, or one
    /// that breaks the protocol.
    SecureProtocol,
}

/// Reason a run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FinishReason {
    /// The configured number of rounds ran.
    RoundsCompleted,
    /// The global model reached the target accuracy.
    TargetAccuracy,
    /// The operator stopped the server.
    Stopped,
    /// The run failed; the text says why.
    Failed(String),
    /// The next round would have spent more than the run's privacy budget.
    PrivacyBudget {
        /// ε spent by the rounds that ran.
        epsilon: f64,
        /// The budget.
        budget: f64,
    },
}

impl std::fmt::Display for FinishReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RoundsCompleted => f.write_str("rounds completed"),
            Self::TargetAccuracy => f.write_str("target accuracy reached"),
            Self::Stopped => f.write_str("stopped"),
            Self::Failed(cause) => write!(f, "failed: {cause}"),
            Self::PrivacyBudget { epsilon, budget } => write!(
                f,
                "privacy budget reached: ε = {epsilon:.4} spent of {budget}, and one more round would exceed it"
            ),
        }
    }
}

/// Messages the server sends to a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// Reply to `Register`.
    Welcome {
        /// Id of the run the client joined.
        run_id: String,
        /// Built-in data partition, when the client asked for one.
        assignment: Option<DataAssignment>,
    },
    /// Train and answer with an update.
    Round(Box<RoundTask>),
    /// The next phase of a secure round.
    Secure(SecureRequest),
    /// The update for `round` was accepted.
    Accepted {
        /// Round of the accepted update.
        round: u32,
    },
    /// A message from the client was rejected; the connection stays open
    /// unless the code says otherwise.
    Error {
        /// Machine-readable reason.
        code: ErrorCode,
        /// Human-readable explanation with the offending values.
        message: String,
    },
    /// The run is over; the client may disconnect.
    Finished {
        /// Why it ended.
        reason: FinishReason,
        /// Rounds completed.
        rounds: u32,
        /// Last measured test accuracy, if any.
        accuracy: Option<f64>,
    },
}
