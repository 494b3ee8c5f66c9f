//! Run configuration: everything that decides what a federated run does,
//! read from a TOML file and overridden from the command line.
//!
//! The resolved configuration is written next to the run's metrics, so a
//! run can be repeated from its own output folder.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use starling_aggregate::{StrategyConfig, StrategyKind};
use starling_compress::SparsityWarmup;
use starling_proto::{
    DEFAULT_MAX_MESSAGE_BYTES, PartitionScheme, SecureProtocol, Sparsification, TrainConfig,
    UplinkCompression,
};

/// Error from parsing or validating a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value is outside its valid range.
    #[error("invalid config: {field} = {value}: {reason}")]
    Invalid {
        /// Field name as written in the TOML file.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// What a valid value looks like.
        reason: String,
    },
    /// The TOML text could not be parsed.
    #[error("invalid config file: {0}")]
    Parse(#[from] toml::de::Error),
}

/// Source of the training and test digits, and how they are partitioned.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Folder with the four standard MNIST-format IDX files; the embedded
    /// 10,000 digits (8,000 train / 2,000 test) when unset.
    pub dir: Option<PathBuf>,
    /// Partitions the training split is cut into for clients that ask the
    /// server for data; 0 means "as many as `expected_clients`".
    pub partitions: u32,
    /// Partitioning scheme: `iid`, `dirichlet`, `shards` or `quantity`.
    pub partition: String,
    /// Dirichlet concentration (scheme `dirichlet`).
    pub alpha: f64,
    /// Shards per client (scheme `shards`).
    pub shards_per_client: u32,
    /// Log-normal sigma of client sizes (scheme `quantity`).
    pub sigma: f64,
}

impl DataConfig {
    /// Converts the configured scheme to the wire type.
    pub fn scheme(&self) -> Result<PartitionScheme, ConfigError> {
        match self.partition.as_str() {
            "iid" | "" => Ok(PartitionScheme::Iid),
            "dirichlet" => Ok(PartitionScheme::Dirichlet { alpha: self.alpha }),
            "shards" => Ok(PartitionScheme::Shards {
                per_client: self.shards_per_client,
            }),
            "quantity" => Ok(PartitionScheme::Quantity { sigma: self.sigma }),
            other => Err(ConfigError::Invalid {
                field: "data.partition",
                value: other.to_owned(),
                reason: "expected one of iid, dirichlet, shards, quantity".to_owned(),
            }),
        }
    }
}

/// Differential privacy for a run: DP-FedAvg with Poisson sampling of
/// clients, clipped updates, Gaussian noise on their sum, and an RDP
/// accountant. Present as the `[privacy]` table; absent means no DP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// Noise multiplier z: the noise standard deviation over the clipping
    /// norm. Set this or `target_epsilon`.
    pub noise_multiplier: Option<f64>,
    /// ε to reach after `rounds` rounds; the smallest noise multiplier that
    /// stays within it is used. Set this or `noise_multiplier`.
    pub target_epsilon: Option<f64>,
    /// L2 norm C every client update is clipped to (the starting value with
    /// adaptive clipping).
    pub clip_norm: f64,
    /// Clip each of the L tensors to C / sqrt(L) instead of the whole
    /// update to C.
    pub per_layer: bool,
    /// δ of the (ε, δ) guarantee.
    pub delta: f64,
    /// Stop before a round that would take ε above this value.
    pub epsilon_budget: Option<f64>,
    /// Probability q with which every client of the population is sampled
    /// in a round, independently of the others (Poisson sampling).
    pub sampling_rate: f64,
    /// Clients in the whole federation, N. Required: the mean divides by
    /// the expected cohort size q * N, never by the realised one.
    pub population: Option<u32>,
    /// Adaptive clipping: the quantile γ of update norms that C follows;
    /// unset keeps C fixed.
    pub target_quantile: Option<f64>,
    /// Adaptive clipping: the geometric step η of C.
    pub clip_learning_rate: f64,
    /// Adaptive clipping: standard deviation σ_b of the noise on the count
    /// of unclipped clients [default: q * N / 20].
    pub count_stddev: Option<f64>,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        Self {
            noise_multiplier: None,
            target_epsilon: None,
            clip_norm: 1.0,
            per_layer: false,
            delta: 1e-5,
            epsilon_budget: None,
            sampling_rate: 0.1,
            population: None,
            target_quantile: None,
            clip_learning_rate: 0.2,
            count_stddev: None,
        }
    }
}

/// A federated run as the server executes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Rounds to run, unless the target accuracy is reached first.
    pub rounds: u32,
    /// Fraction C of connected clients sampled per round.
    pub fraction: f64,
    /// Fixed number K of clients per round; overrides `fraction` when set.
    pub clients_per_round: Option<u32>,
    /// Smallest number of clients a round samples.
    pub min_clients: u32,
    /// Connected clients a round waits for before sampling; `min_clients`
    /// when unset, and never below it.
    pub min_available_clients: Option<u32>,
    /// Clients the operator expects (sizes the built-in partitioning).
    pub expected_clients: u32,
    /// Seconds a round waits for `min_available_clients` before the run
    /// fails.
    pub wait_for_clients_secs: f64,
    /// Seconds the first round keeps waiting for `expected_clients` once
    /// `min_available_clients` are connected, so that clients that are
    /// slower to arrive (a browser tab being opened) still make round 1;
    /// 0 starts at once.
    pub lobby_secs: f64,
    /// Seconds sampled clients have to send their update; later updates are
    /// rejected.
    pub round_timeout_secs: f64,
    /// Evaluate the global model on the test split every this many rounds
    /// (the last round is always evaluated).
    pub eval_every: u32,
    /// At each evaluation, also evaluate the global model on every client's
    /// built-in partition, for per-client accuracy and disparity (clients
    /// training on their own data are not covered).
    pub evaluate_clients: bool,
    /// Stop as soon as the test accuracy reaches this value (0 to 1).
    pub target_accuracy: Option<f64>,
    /// Seed of the data split, partitioning, model initialisation,
    /// sampling and client shuffling.
    pub seed: u64,
    /// Largest frame the server decodes, in bytes.
    pub max_message_bytes: usize,
    /// Open connections the server accepts at once; further WebSocket
    /// upgrades are closed straight away.
    pub max_connections: usize,
    /// Federated algorithm: `fedavg`, `fedprox`, `fedavgm`, `fedadam`,
    /// `fedyogi`, `fedadagrad`, `scaffold` or `fednova`.
    pub strategy: String,
    /// FedProx μ, the weight of the proximal term in every client's local
    /// loss; only for `strategy = "fedprox"`, which uses
    /// [`DEFAULT_PROXIMAL_MU`] when it is unset. 0 trains exactly as FedAvg.
    pub proximal_mu: Option<f64>,
    /// The server side of the strategy: learning rate, momentum, FedOpt's
    /// β1, β2 and τ, and how client updates are weighted.
    pub strategy_options: StrategyConfig,
    /// Compression of client updates: `none`, or a spec such as `8bit`,
    /// `4bit:512`, `qsgd:256`, `sign`, `topk:0.01`, `topk:0.01+8bit`,
    /// `randk:0.05`.
    pub compression: String,
    /// Whether clients carry what compression dropped into their next
    /// update (error feedback).
    pub error_feedback: bool,
    /// Rounds of sparsity warm-up: with a `topk` or `randk` compression,
    /// round 1 keeps `sparsity_warmup_start` of the values and the fraction
    /// falls geometrically to the spec's in round `sparsity_warmup_rounds
    /// + 1`. 0 turns it off.
    pub sparsity_warmup_rounds: u32,
    /// Fraction of values kept in round 1 of the sparsity warm-up, in
    /// (0, 1] and above the spec's fraction. [`DEFAULT_WARMUP_START`] applies
    /// when unset. Setting it without `sparsity_warmup_rounds` is an error.
    pub sparsity_warmup_start: Option<f64>,
    /// Compression of the broadcast model: `none`, or a spec as for
    /// `compression`. Clients get the compressed change since the model
    /// version they hold.
    pub downlink_compression: String,
    /// Differential privacy (DP-FedAvg); `None` trains without it.
    pub privacy: Option<PrivacyConfig>,
    /// Secure aggregation: `off`, `secagg`, `secagg+` or `two-server`.
    pub secure_aggregation: String,
    /// Settings of secure aggregation (the `[secure]` table).
    pub secure: SecureConfig,
    /// Local training settings sent to clients.
    pub train: TrainConfig,
    /// Data source and partitioning.
    pub data: DataConfig,
    /// Folder under which `<run-id>/` is created.
    pub runs_dir: PathBuf,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            rounds: 10,
            fraction: 1.0,
            clients_per_round: None,
            min_clients: 1,
            min_available_clients: None,
            expected_clients: 8,
            wait_for_clients_secs: 60.0,
            lobby_secs: 0.0,
            round_timeout_secs: 120.0,
            eval_every: 1,
            evaluate_clients: true,
            target_accuracy: None,
            seed: 1,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_connections: 10_000,
            strategy: "fedavg".to_owned(),
            proximal_mu: None,
            strategy_options: StrategyConfig::default(),
            compression: "none".to_owned(),
            error_feedback: true,
            sparsity_warmup_rounds: 0,
            sparsity_warmup_start: None,
            downlink_compression: "none".to_owned(),
            privacy: None,
            secure_aggregation: "off".to_owned(),
            secure: SecureConfig::default(),
            train: TrainConfig::default(),
            data: DataConfig {
                partition: "iid".to_owned(),
                alpha: 0.5,
                shards_per_client: 2,
                sigma: 1.0,
                ..DataConfig::default()
            },
            runs_dir: PathBuf::from("runs"),
        }
    }
}

/// Settings of secure aggregation, used when `secure_aggregation` is not
/// `off`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecureConfig {
    /// Shares needed to reconstruct a secret, as a fraction of the shares
    /// each client makes (the cohort for secagg, the neighbourhood for
    /// secagg+); always rounded up to a strict majority.
    pub threshold: f64,
    /// secagg+: neighbours per client [default: 2 * ceil(log2 n)].
    pub neighbours: Option<u32>,
    /// Bits b of the ring Z_(2^b) that masked updates live in.
    pub ring_bits: u8,
    /// Bits of each quantized value.
    pub value_bits: u8,
    /// Update values are clipped to [-clip_range, clip_range].
    pub clip_range: f64,
    /// Clients weigh their update by their example count, capped here.
    pub max_weight: u64,
    /// Seconds the server waits for each phase after training, and for
    /// the mask server's reply.
    pub phase_timeout_secs: f64,
    /// two-server: the mask server's WebSocket address, e.g.
    /// `ws://127.0.0.1:9090/mask` (`starling serve --role mask-server`).
    pub mask_server: Option<String>,
}

impl Default for SecureConfig {
    fn default() -> Self {
        Self {
            threshold: 2.0 / 3.0,
            neighbours: None,
            ring_bits: 48,
            value_bits: 16,
            clip_range: 0.5,
            max_weight: 1 << 16,
            phase_timeout_secs: 30.0,
            mask_server: None,
        }
    }
}

/// FedProx μ when `proximal_mu` is unset.
pub const DEFAULT_PROXIMAL_MU: f64 = 0.01;

/// Fraction kept in round 1 of a sparsity warm-up when
/// `sparsity_warmup_start` is unset.
pub const DEFAULT_WARMUP_START: f64 = 0.1;

impl RunConfig {
    /// Returns the configured strategy. An unknown name is an error that
    /// lists the valid ones.
    pub fn strategy_kind(&self) -> Result<StrategyKind, ConfigError> {
        self.strategy
            .parse()
            .map_err(
                |err: starling_aggregate::AggregateError| ConfigError::Invalid {
                    field: "strategy",
                    value: self.strategy.clone(),
                    reason: err.to_string(),
                },
            )
    }

    /// Returns the FedProx μ that clients train with: the configured value
    /// for `fedprox`, 0 for every other strategy.
    pub fn effective_proximal_mu(&self) -> f64 {
        match self.strategy_kind() {
            Ok(StrategyKind::FedProx) => self.proximal_mu.unwrap_or(DEFAULT_PROXIMAL_MU),
            _ => 0.0,
        }
    }

    /// Returns the update compression clients are asked to apply; `None` for plain
    /// `f32` values.
    pub fn uplink_compression(&self) -> Result<Option<UplinkCompression>, ConfigError> {
        UplinkCompression::parse(&self.compression, self.error_feedback).map_err(|err| {
            ConfigError::Invalid {
                field: "compression",
                value: self.compression.clone(),
                reason: err.reason,
            }
        })
    }

    /// Returns the sparsity warm-up of update compression; `None` when
    /// `sparsity_warmup_rounds` is 0. A warm-up needs a `topk` or `randk`
    /// compression and a start above its fraction.
    pub fn sparsity_warmup(&self) -> Result<Option<SparsityWarmup>, ConfigError> {
        let start = self.sparsity_warmup_start.unwrap_or(DEFAULT_WARMUP_START);
        let invalid_start = |reason: String| ConfigError::Invalid {
            field: "sparsity_warmup_start",
            value: start.to_string(),
            reason,
        };
        if !(start > 0.0 && start <= 1.0) {
            return Err(invalid_start("must be in (0, 1]".to_owned()));
        }
        let rounds = self.sparsity_warmup_rounds;
        if rounds == 0 {
            if self.sparsity_warmup_start.is_some() {
                return Err(invalid_start(
                    "has no effect without sparsity_warmup_rounds; set both".to_owned(),
                ));
            }
            return Ok(None);
        }
        let invalid_rounds = |reason: String| ConfigError::Invalid {
            field: "sparsity_warmup_rounds",
            value: rounds.to_string(),
            reason,
        };
        if rounds >= self.rounds {
            return Err(invalid_rounds(format!(
                "must be below rounds ({}), so that the run reaches the compression's fraction",
                self.rounds
            )));
        }
        let fraction = match self.uplink_compression()?.map(|spec| spec.sparsification) {
            Some(Sparsification::TopK { fraction } | Sparsification::RandK { fraction }) => {
                fraction
            }
            _ => {
                return Err(invalid_rounds(format!(
                    "a sparsity warm-up needs a topk or randk compression, not {}",
                    self.compression
                )));
            }
        };
        if fraction >= 1.0 {
            return Err(invalid_rounds(format!(
                "{} keeps every value, so there is nothing to warm up",
                self.compression
            )));
        }
        if start <= fraction {
            return Err(invalid_start(format!(
                "must be above the fraction the compression keeps ({fraction}); the default \
                 start is {DEFAULT_WARMUP_START}"
            )));
        }
        SparsityWarmup::new(rounds, start)
            .map(Some)
            .map_err(|err| invalid_start(err.to_string()))
    }

    /// Returns the compression of the broadcast model; `None` for the
    /// dense model every round.
    pub fn downlink(&self) -> Result<Option<UplinkCompression>, ConfigError> {
        UplinkCompression::parse(&self.downlink_compression, true).map_err(|err| {
            ConfigError::Invalid {
                field: "downlink_compression",
                value: self.downlink_compression.clone(),
                reason: err.reason,
            }
        })
    }

    /// Parses a TOML document; missing fields take their defaults.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Ok(toml::from_str(text)?)
    }

    /// Serialises the configuration as TOML, for the run's output folder.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|err| format!("# not serialisable: {err}\n"))
    }

    /// Checks every field's range; call before starting a run.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check(
            self.rounds >= 1,
            "rounds",
            self.rounds,
            "must be at least 1",
        )?;
        check(
            self.fraction.is_finite() && self.fraction > 0.0 && self.fraction <= 1.0,
            "fraction",
            self.fraction,
            "must be in (0, 1]",
        )?;
        if let Some(k) = self.clients_per_round {
            check(k >= 1, "clients_per_round", k, "must be at least 1")?;
        }
        check(
            self.min_clients >= 1,
            "min_clients",
            self.min_clients,
            "must be at least 1",
        )?;
        check(
            positive_secs(self.wait_for_clients_secs),
            "wait_for_clients_secs",
            self.wait_for_clients_secs,
            "must be a positive number of seconds",
        )?;
        check(
            self.lobby_secs == 0.0 || positive_secs(self.lobby_secs),
            "lobby_secs",
            self.lobby_secs,
            "must be 0 or a positive number of seconds",
        )?;
        check(
            positive_secs(self.round_timeout_secs),
            "round_timeout_secs",
            self.round_timeout_secs,
            "must be a positive number of seconds",
        )?;
        check(
            self.eval_every >= 1,
            "eval_every",
            self.eval_every,
            "must be at least 1",
        )?;
        if let Some(target) = self.target_accuracy {
            check(
                (0.0..=1.0).contains(&target),
                "target_accuracy",
                target,
                "must be a fraction in [0, 1], e.g. 0.95",
            )?;
        }
        check(
            self.max_message_bytes >= 1024,
            "max_message_bytes",
            self.max_message_bytes,
            "must be at least 1024",
        )?;
        check(
            self.max_connections >= 1,
            "max_connections",
            self.max_connections,
            "must be at least 1",
        )?;
        let kind = self.strategy_kind()?;
        if let Some(mu) = self.proximal_mu {
            check(
                kind == StrategyKind::FedProx,
                "proximal_mu",
                mu,
                &format!("applies to strategy fedprox only, not {kind}"),
            )?;
            check(
                mu.is_finite() && mu >= 0.0,
                "proximal_mu",
                mu,
                "must be a finite number >= 0 (0 trains exactly as fedavg)",
            )?;
        }
        self.strategy_options.validate().map_err(|err| match err {
            starling_aggregate::AggregateError::InvalidConfig {
                field,
                value,
                expected,
            } => ConfigError::Invalid {
                field: strategy_option_field(field),
                value: value.to_string(),
                reason: format!("expected {expected}"),
            },
            other => ConfigError::Invalid {
                field: "strategy_options",
                value: self.strategy.clone(),
                reason: other.to_string(),
            },
        })?;
        if let Some(spec) = self.uplink_compression()? {
            // The codecs check their own limits (bits, chunk size, levels).
            starling_compress::Chain::from_spec(&spec, 1).map_err(|err| ConfigError::Invalid {
                field: "compression",
                value: self.compression.clone(),
                reason: err.to_string(),
            })?;
        }
        self.sparsity_warmup()?;
        if let Some(spec) = self.downlink()? {
            starling_compress::Chain::from_spec(&spec, 1).map_err(|err| ConfigError::Invalid {
                field: "downlink_compression",
                value: self.downlink_compression.clone(),
                reason: err.to_string(),
            })?;
        }
        self.validate_train()?;
        self.validate_privacy(kind)?;
        self.validate_secure(kind)?;
        self.validate_partition()
    }

    /// Returns the secure-aggregation protocol; `None` when it is off.
    pub fn secure_protocol(&self) -> Result<Option<SecureProtocol>, ConfigError> {
        match self.secure_aggregation.as_str() {
            "off" | "" => Ok(None),
            "secagg" => Ok(Some(SecureProtocol::SecAgg)),
            "secagg+" => Ok(Some(SecureProtocol::SecAggPlus)),
            "two-server" => Ok(Some(SecureProtocol::TwoServer)),
            other => Err(ConfigError::Invalid {
                field: "secure_aggregation",
                value: other.to_owned(),
                reason: "expected one of off, secagg, secagg+, two-server".to_owned(),
            }),
        }
    }

    /// The secure parameters of a round with `clients` clients and a model
    /// of `len` values.
    pub fn secure_params(
        &self,
        protocol: SecureProtocol,
        clients: u32,
        len: usize,
    ) -> starling_secagg::SecureParams {
        let neighbours = match protocol {
            SecureProtocol::SecAggPlus => self
                .secure
                .neighbours
                .unwrap_or_else(|| starling_secagg::default_neighbours(clients))
                .min(clients.saturating_sub(1)),
            _ => clients.saturating_sub(1),
        };
        let shares = (neighbours + 1).min(clients);
        let threshold = ((f64::from(shares) * self.secure.threshold).ceil() as u32)
            .max(shares / 2 + 1)
            .min(shares);
        // DP-FedAvg weighs every client equally.
        let weighted = self.privacy.is_none()
            && !matches!(
                self.strategy_options.weighting,
                starling_aggregate::Weighting::Uniform
            );
        starling_secagg::SecureParams {
            protocol,
            clients,
            threshold,
            neighbours,
            ring_bits: self.secure.ring_bits,
            value_bits: self.secure.value_bits,
            clip_range: self.secure.clip_range,
            max_weight: self.secure.max_weight,
            weighted,
            len,
            noise: None,
            // With distributed noise no round unmasks fewer inputs than the
            // threshold fraction of the cohort, which the noise is sized for.
            min_survivors: if self.privacy.is_some() {
                ((f64::from(clients) * self.secure.threshold).ceil() as u32).max(threshold)
            } else {
                0
            },
        }
    }

    fn validate_secure(&self, kind: StrategyKind) -> Result<(), ConfigError> {
        let Some(protocol) = self.secure_protocol()? else {
            return Ok(());
        };
        let value = self.secure_aggregation.clone();
        let invalid = |field: &'static str, value: String, reason: &str| ConfigError::Invalid {
            field,
            value,
            reason: reason.to_owned(),
        };
        if matches!(kind, StrategyKind::Scaffold | StrategyKind::FedNova) {
            return Err(invalid(
                "strategy",
                kind.to_string(),
                "cannot run with secure aggregation: the server sees only the weighted sum of \
                 updates, use fedavg, fedprox, fedavgm, fedadam, fedyogi or fedadagrad",
            ));
        }
        if self.compression != "none" {
            return Err(invalid(
                "compression",
                self.compression.clone(),
                "must be none with secure aggregation, which quantizes updates itself \
                 ([secure] value_bits)",
            ));
        }
        if let Some(privacy) = &self.privacy {
            if protocol == SecureProtocol::TwoServer {
                return Err(invalid(
                    "secure_aggregation",
                    value,
                    "two-server cannot be combined with [privacy] yet; use secagg or secagg+, \
                     whose clients add distributed noise",
                ));
            }
            if privacy.noise_multiplier.is_none() {
                return Err(invalid(
                    "privacy.target_epsilon",
                    privacy
                        .target_epsilon
                        .map_or_else(|| "unset".to_owned(), |target| target.to_string()),
                    "with secure aggregation set privacy.noise_multiplier: the calibration \
                     assumes server noise with amplification by sampling",
                ));
            }
            if privacy.per_layer || privacy.target_quantile.is_some() {
                return Err(invalid(
                    "privacy",
                    value,
                    "with secure aggregation clients clip the whole update to a fixed norm; \
                     per_layer and target_quantile need the server to see updates",
                ));
            }
        }
        if protocol == SecureProtocol::TwoServer {
            let url = self.secure.mask_server.clone().unwrap_or_default();
            check(
                url.starts_with("ws://"),
                "secure.mask_server",
                if url.is_empty() {
                    "(unset)".to_owned()
                } else {
                    url
                },
                "two-server needs the mask server's ws:// address (TLS is not built in), e.g. \
                 ws://127.0.0.1:9090/mask; start one with `starling serve --role mask-server`",
            )?;
        }
        check(
            positive_secs(self.secure.phase_timeout_secs),
            "secure.phase_timeout_secs",
            self.secure.phase_timeout_secs,
            "must be a positive number of seconds",
        )?;
        check(
            self.secure.threshold.is_finite()
                && self.secure.threshold > 0.5
                && self.secure.threshold <= 1.0,
            "secure.threshold",
            self.secure.threshold,
            "must be a fraction in (0.5, 1]: more than half of each client's shares",
        )?;
        check(
            self.secure.clip_range <= 1e4,
            "secure.clip_range",
            self.secure.clip_range,
            "must be at most 10000: the quantization step grows with the range and would swamp \
             model deltas",
        )?;
        // Check the parameters for the largest cohort this run can sample.
        let cohort = self
            .clients_per_round
            .unwrap_or(self.expected_clients)
            .max(self.expected_clients)
            .max(2);
        self.secure_params(protocol, cohort, 1).check().map_err(|err| {
            invalid(
                "secure",
                value,
                &format!(
                    "{err} (checked for the largest cohort this run can sample, {cohort} clients: \
                     the larger of clients_per_round and expected_clients)"
                ),
            )
        })
    }

    fn validate_privacy(&self, kind: StrategyKind) -> Result<(), ConfigError> {
        let Some(privacy) = &self.privacy else {
            return Ok(());
        };
        check(
            !matches!(kind, StrategyKind::Scaffold | StrategyKind::FedNova),
            "strategy",
            kind,
            "cannot run with [privacy]: DP-FedAvg weights every client equally and adds noise to the plain sum, use fedavg, fedprox, fedavgm, fedadam, fedyogi or fedadagrad",
        )?;
        match (privacy.noise_multiplier, privacy.target_epsilon) {
            (Some(z), None) => check(
                z.is_finite() && z > 0.0,
                "privacy.noise_multiplier",
                z,
                "must be a finite number > 0",
            )?,
            (None, Some(epsilon)) => check(
                epsilon.is_finite() && epsilon > 0.0,
                "privacy.target_epsilon",
                epsilon,
                "must be a finite number > 0",
            )?,
            (Some(z), Some(_)) => check(
                false,
                "privacy.noise_multiplier",
                z,
                "set either noise_multiplier or target_epsilon, not both",
            )?,
            (None, None) => check(
                false,
                "privacy.noise_multiplier",
                "unset",
                "set noise_multiplier, or target_epsilon to have it calibrated",
            )?,
        }
        check(
            privacy.clip_norm.is_finite() && privacy.clip_norm > 0.0,
            "privacy.clip_norm",
            privacy.clip_norm,
            "must be a finite number > 0",
        )?;
        check(
            privacy.delta > 0.0 && privacy.delta < 1.0,
            "privacy.delta",
            privacy.delta,
            "must be in (0, 1), e.g. 1e-5",
        )?;
        check(
            privacy.sampling_rate > 0.0 && privacy.sampling_rate <= 1.0,
            "privacy.sampling_rate",
            privacy.sampling_rate,
            "must be in (0, 1]",
        )?;
        match privacy.population {
            Some(population) => check(
                population >= 1,
                "privacy.population",
                population,
                "must be at least 1",
            )?,
            None => check(
                false,
                "privacy.population",
                "unset",
                "is required with [privacy]: the mean divides by the expected cohort, sampling_rate times the population, so the population must be known before the run starts",
            )?,
        }
        if let Some(budget) = privacy.epsilon_budget {
            check(
                budget.is_finite() && budget > 0.0,
                "privacy.epsilon_budget",
                budget,
                "must be a finite number > 0",
            )?;
        }
        if let Some(quantile) = privacy.target_quantile {
            check(
                (0.0..=1.0).contains(&quantile),
                "privacy.target_quantile",
                quantile,
                "must be in [0, 1]",
            )?;
            check(
                privacy.clip_learning_rate.is_finite() && privacy.clip_learning_rate > 0.0,
                "privacy.clip_learning_rate",
                privacy.clip_learning_rate,
                "must be a finite number > 0",
            )?;
        }
        if let Some(stddev) = privacy.count_stddev {
            check(
                stddev.is_finite() && stddev > 0.0,
                "privacy.count_stddev",
                stddev,
                "must be a finite number > 0",
            )?;
        }
        Ok(())
    }

    fn validate_partition(&self) -> Result<(), ConfigError> {
        match self.data.scheme()? {
            PartitionScheme::Iid => Ok(()),
            PartitionScheme::Dirichlet { alpha } => check(
                alpha.is_finite() && alpha > 0.0,
                "data.alpha",
                alpha,
                "must be a positive number (--alpha), e.g. 0.3",
            ),
            PartitionScheme::Shards { per_client } => check(
                per_client >= 1,
                "data.shards_per_client",
                per_client,
                "must be at least 1 (--shards-per-client)",
            ),
            PartitionScheme::Quantity { sigma } => check(
                sigma.is_finite() && sigma > 0.0,
                "data.sigma",
                sigma,
                "must be a positive number (--sigma), e.g. 1.0",
            ),
        }
    }

    fn validate_train(&self) -> Result<(), ConfigError> {
        let train = &self.train;
        check(
            train.local_epochs >= 1,
            "train.local_epochs",
            train.local_epochs,
            "must be at least 1",
        )?;
        check(
            train.batch_size >= 1,
            "train.batch_size",
            train.batch_size,
            "must be at least 1",
        )?;
        check(
            train.learning_rate.is_finite() && train.learning_rate > 0.0,
            "train.learning_rate",
            train.learning_rate,
            "must be a positive number",
        )?;
        check(
            (0.0..1.0).contains(&train.momentum),
            "train.momentum",
            train.momentum,
            "must be in [0, 1)",
        )?;
        check(
            train.weight_decay.is_finite() && train.weight_decay >= 0.0,
            "train.weight_decay",
            train.weight_decay,
            "must be >= 0",
        )
    }

    /// Number of built-in data partitions.
    pub fn partitions(&self) -> u32 {
        if self.data.partitions > 0 {
            self.data.partitions
        } else {
            self.expected_clients.max(1)
        }
    }

    /// Connected clients needed before a round samples.
    pub fn min_available(&self) -> u32 {
        self.min_available_clients
            .unwrap_or(self.min_clients)
            .max(self.cohort_floor())
    }

    /// The fewest clients a round samples: `min_clients`, and at least 2
    /// with secure aggregation, whose sum of one client would be that
    /// client's update.
    pub fn cohort_floor(&self) -> u32 {
        match self.secure_protocol() {
            Ok(Some(_)) => self.min_clients.max(2),
            _ => self.min_clients,
        }
    }

    /// Round deadline as a duration.
    pub fn round_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.round_timeout_secs)
    }

    /// Lobby wait before the first round as a duration.
    pub fn lobby(&self) -> Duration {
        Duration::from_secs_f64(self.lobby_secs)
    }

    /// Wait for clients as a duration.
    pub fn wait_for_clients(&self) -> Duration {
        Duration::from_secs_f64(self.wait_for_clients_secs)
    }
}

/// Returns the TOML path of a strategy option, e.g.
/// `strategy_options.beta1`.
fn strategy_option_field(field: &str) -> &'static str {
    match field {
        "server_learning_rate" => "strategy_options.server_learning_rate",
        "server_momentum" => "strategy_options.server_momentum",
        "beta1" => "strategy_options.beta1",
        "beta2" => "strategy_options.beta2",
        "tau" => "strategy_options.tau",
        _ => "strategy_options",
    }
}

fn positive_secs(value: f64) -> bool {
    value.is_finite() && value > 0.0 && value < 1e9
}

fn check(
    ok: bool,
    field: &'static str,
    value: impl std::fmt::Display,
    reason: &str,
) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            field,
            value: value.to_string(),
            reason: reason.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        RunConfig::default().validate().unwrap();
    }

    #[test]
    fn toml_overrides_defaults() {
        let config = RunConfig::from_toml(
            "rounds = 3\nfraction = 0.5\n[train]\nmodel = \"cnn\"\n[data]\npartition = \"dirichlet\"\nalpha = 0.3\n",
        )
        .unwrap();
        assert_eq!(config.rounds, 3);
        assert_eq!(config.train.model, starling_proto::ModelKind::Cnn);
        assert_eq!(
            config.data.scheme().unwrap(),
            PartitionScheme::Dirichlet { alpha: 0.3 }
        );
        assert_eq!(config.train.batch_size, TrainConfig::default().batch_size);
    }

    #[test]
    fn warmup_toml_is_parsed_and_checked() {
        let config = RunConfig::from_toml(
            "rounds = 50\ncompression = \"randk:0.05\"\nsparsity_warmup_rounds = 20\nsparsity_warmup_start = 0.5\n",
        )
        .unwrap();
        config.validate().unwrap();

        let warmup = config.sparsity_warmup().unwrap().expect("a warm-up");
        assert_eq!(warmup.rounds(), 20);
        assert_eq!(warmup.start(), 0.5);
        assert_eq!(RunConfig::default().sparsity_warmup().unwrap(), None);
        for (start, expected) in [
            (1.5, "must be in (0, 1]"),
            (0.05, "must be above the fraction"),
        ] {
            let config = RunConfig {
                sparsity_warmup_start: Some(start),
                ..config.clone()
            };
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains("sparsity_warmup_start"), "{err}");
            assert!(err.contains(expected), "{err}");
        }

        let unused_start = RunConfig {
            sparsity_warmup_rounds: 0,
            sparsity_warmup_start: Some(7.0),
            ..config.clone()
        };
        let err = unused_start.validate().unwrap_err().to_string();
        assert!(err.contains("sparsity_warmup_start = 7"), "{err}");
        let start_alone = RunConfig {
            sparsity_warmup_rounds: 0,
            ..config.clone()
        };
        let err = start_alone.validate().unwrap_err().to_string();
        assert!(
            err.contains("has no effect without sparsity_warmup_rounds"),
            "{err}"
        );
        let keeps_all = RunConfig {
            compression: "topk:1".to_owned(),
            sparsity_warmup_start: None,
            ..config.clone()
        };
        let err = keeps_all.validate().unwrap_err().to_string();
        assert!(err.contains("nothing to warm up"), "{err}");
        let too_long = RunConfig {
            sparsity_warmup_rounds: 50,
            ..config
        };
        let err = too_long.validate().unwrap_err().to_string();
        assert!(err.contains("must be below rounds (50)"), "{err}");
    }

    #[test]
    fn unknown_field_is_rejected() {
        let err = RunConfig::from_toml("roundz = 3\n").unwrap_err();
        assert!(err.to_string().contains("roundz"), "{err}");
    }

    #[test]
    fn unknown_strategy_lists_valid_ones() {
        let config = RunConfig {
            strategy: "fedsomething".into(),
            ..RunConfig::default()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("fedsomething"), "{err}");
        assert!(err.contains("fedavg"), "{err}");
    }

    #[test]
    fn every_strategy_name_is_accepted() {
        for kind in StrategyKind::ALL {
            let name = kind.as_str();
            let config = RunConfig {
                strategy: name.into(),
                ..RunConfig::default()
            };
            config.validate().unwrap();
            assert_eq!(config.strategy_kind().unwrap().as_str(), name);
        }
    }

    fn private(privacy: PrivacyConfig) -> RunConfig {
        RunConfig {
            privacy: Some(privacy),
            ..RunConfig::default()
        }
    }

    fn valid_privacy() -> PrivacyConfig {
        PrivacyConfig {
            noise_multiplier: Some(1.0),
            population: Some(100),
            ..PrivacyConfig::default()
        }
    }

    #[test]
    fn privacy_settings_are_checked() {
        private(valid_privacy()).validate().unwrap();
        let cases = [
            (
                "privacy.population",
                PrivacyConfig {
                    population: None,
                    ..valid_privacy()
                },
            ),
            (
                "privacy.noise_multiplier",
                PrivacyConfig {
                    noise_multiplier: None,
                    ..valid_privacy()
                },
            ),
            (
                "privacy.noise_multiplier",
                PrivacyConfig {
                    target_epsilon: Some(1.0),
                    ..valid_privacy()
                },
            ),
            (
                "privacy.noise_multiplier",
                PrivacyConfig {
                    noise_multiplier: Some(0.0),
                    ..valid_privacy()
                },
            ),
            (
                "privacy.clip_norm",
                PrivacyConfig {
                    clip_norm: -1.0,
                    ..valid_privacy()
                },
            ),
            (
                "privacy.delta",
                PrivacyConfig {
                    delta: 1.0,
                    ..valid_privacy()
                },
            ),
            (
                "privacy.sampling_rate",
                PrivacyConfig {
                    sampling_rate: 0.0,
                    ..valid_privacy()
                },
            ),
            (
                "privacy.epsilon_budget",
                PrivacyConfig {
                    epsilon_budget: Some(0.0),
                    ..valid_privacy()
                },
            ),
            (
                "privacy.target_quantile",
                PrivacyConfig {
                    target_quantile: Some(1.5),
                    ..valid_privacy()
                },
            ),
        ];
        for (field, privacy) in cases {
            let err = private(privacy).validate().unwrap_err().to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
    }

    #[test]
    fn privacy_rejects_scaffold_and_fednova() {
        for strategy in ["scaffold", "fednova"] {
            let config = RunConfig {
                strategy: strategy.into(),
                ..private(valid_privacy())
            };
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains("DP-FedAvg"), "{err}");
        }
    }

    #[test]
    fn privacy_table_round_trips_through_toml() {
        let config = private(PrivacyConfig {
            epsilon_budget: Some(3.0),
            target_quantile: Some(0.5),
            ..valid_privacy()
        });
        assert_eq!(RunConfig::from_toml(&config.to_toml()).unwrap(), config);
        let parsed = RunConfig::from_toml(
            "[privacy]\nnoise_multiplier = 1.1\npopulation = 500\nsampling_rate = 0.02\n",
        )
        .unwrap();
        parsed.validate().unwrap();
        assert_eq!(parsed.privacy.unwrap().sampling_rate, 0.02);
    }

    #[test]
    fn proximal_mu_belongs_to_fedprox() {
        let prox = RunConfig {
            strategy: "fedprox".into(),
            ..RunConfig::default()
        };
        assert_eq!(prox.effective_proximal_mu(), DEFAULT_PROXIMAL_MU);
        let zero = RunConfig {
            proximal_mu: Some(0.0),
            ..prox.clone()
        };
        zero.validate().unwrap();
        assert_eq!(zero.effective_proximal_mu(), 0.0);
        let negative = RunConfig {
            proximal_mu: Some(-0.1),
            ..prox
        };
        assert!(negative.validate().is_err());
        let wrong = RunConfig {
            proximal_mu: Some(0.1),
            ..RunConfig::default()
        };
        let err = wrong.validate().unwrap_err().to_string();
        assert!(err.contains("fedprox only"), "{err}");
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        let cases = [
            RunConfig {
                rounds: 0,
                ..RunConfig::default()
            },
            RunConfig {
                fraction: 0.0,
                ..RunConfig::default()
            },
            RunConfig {
                fraction: 1.5,
                ..RunConfig::default()
            },
            RunConfig {
                min_clients: 0,
                ..RunConfig::default()
            },
            RunConfig {
                round_timeout_secs: -1.0,
                ..RunConfig::default()
            },
            RunConfig {
                target_accuracy: Some(95.0),
                ..RunConfig::default()
            },
        ];
        for config in cases {
            assert!(config.validate().is_err(), "{config:?}");
        }
    }

    #[test]
    fn resolved_config_round_trips_through_toml() {
        let config = RunConfig {
            clients_per_round: Some(4),
            target_accuracy: Some(0.9),
            strategy: "fedprox".into(),
            proximal_mu: Some(0.001),
            ..RunConfig::default()
        };
        assert_eq!(RunConfig::from_toml(&config.to_toml()).unwrap(), config);
        let options =
            RunConfig::from_toml("strategy = \"fedadam\"\n[strategy_options]\nbeta1 = 0.5\n")
                .unwrap();
        assert_eq!(options.strategy_options.beta1, 0.5);
    }
}
