//! Run options shared by `serve`, `sim` and `demo`: a TOML file plus
//! command-line overrides, resolved into a [`RunConfig`].

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use starling_aggregate::Weighting;
use starling_proto::ModelKind;
use starling_server::{PrivacyConfig, RunConfig};

/// Model choice on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ModelArg {
    /// 784-200-200-10 MLP ("2NN").
    Mlp,
    /// Two-conv CNN of McMahan et al. 2017.
    Cnn,
}

/// Partitioning choice on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PartitionArg {
    /// Shuffled and dealt evenly.
    Iid,
    /// Label skew from Dirichlet(alpha).
    Dirichlet,
    /// Label-sorted shards, `--shards-per-client` each.
    Shards,
    /// Log-normal client sizes.
    Quantity,
}

/// Options that configure a federated run. Each overrides the same field
/// of `--config`.
#[derive(Args, Debug, Default)]
pub struct RunArgs {
    /// TOML file with the run configuration (see README for the fields).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Rounds to run.
    #[arg(long)]
    pub rounds: Option<u32>,
    /// Fraction C of connected clients sampled per round, in (0, 1].
    #[arg(long)]
    pub fraction: Option<f64>,
    /// Fixed number of clients per round (overrides --fraction).
    #[arg(long)]
    pub clients_per_round: Option<u32>,
    /// Smallest number of clients a round samples.
    #[arg(long)]
    pub min_clients: Option<u32>,
    /// Connected clients a round waits for before sampling.
    #[arg(long)]
    pub min_available_clients: Option<u32>,
    /// Model to train.
    #[arg(long, value_enum)]
    pub model: Option<ModelArg>,
    /// How the training split is divided among clients.
    #[arg(long, value_enum)]
    pub partition: Option<PartitionArg>,
    /// Partitions the training split is cut into for clients that ask the
    /// server for data [default: the expected number of clients, 8 for
    /// serve and demo, --clients for sim].
    #[arg(long)]
    pub partitions: Option<u32>,
    /// Dirichlet concentration for --partition dirichlet (> 0; small values
    /// give strong label skew).
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Shards per client for --partition shards.
    #[arg(long)]
    pub shards_per_client: Option<u32>,
    /// Log-normal sigma for --partition quantity.
    #[arg(long)]
    pub sigma: Option<f64>,
    /// Local epochs E per round.
    #[arg(long)]
    pub local_epochs: Option<u32>,
    /// Local mini-batch size B.
    #[arg(long)]
    pub batch_size: Option<u32>,
    /// Client SGD learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Client SGD momentum.
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Client L2 weight decay.
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Seed for the split, partitions, initial model, sampling and shuffling.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Evaluate on the test split every N rounds.
    #[arg(long)]
    pub eval_every: Option<u32>,
    /// Stop once test accuracy reaches this fraction (e.g. 0.95).
    #[arg(long)]
    pub target_accuracy: Option<f64>,
    /// Seconds sampled clients have to send their update.
    #[arg(long, value_name = "SECONDS")]
    pub round_timeout: Option<f64>,
    /// Seconds to wait for --min-available-clients before failing the run.
    #[arg(long, value_name = "SECONDS")]
    pub wait_for_clients: Option<f64>,
    /// Seconds the first round waits for the expected number of clients
    /// once --min-available-clients are connected (0: start at once).
    #[arg(long, value_name = "SECONDS")]
    pub lobby: Option<f64>,
    /// Folder with MNIST-format IDX files (train-images-idx3-ubyte[.gz], …);
    /// the embedded 10,000 digits when omitted.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Folder for run outputs.
    #[arg(long, value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,
    /// Federated algorithm: fedavg, fedprox, fedavgm, fedadam, fedyogi,
    /// fedadagrad, scaffold or fednova.
    #[arg(long)]
    pub strategy: Option<String>,
    /// FedProx μ, the weight of the proximal term (--strategy fedprox;
    /// default 0.01; 0 trains exactly as fedavg).
    #[arg(long)]
    pub mu: Option<f64>,
    /// Server learning rate η [default: 1 for fedavg, fedprox, fedavgm,
    /// scaffold and fednova; 0.01 for fedadam and fedyogi; 0.1 for
    /// fedadagrad].
    #[arg(long)]
    pub server_lr: Option<f64>,
    /// Server momentum β of fedavgm [default: 0.9].
    #[arg(long)]
    pub server_momentum: Option<f64>,
    /// First-moment decay β1 of fedadam, fedyogi and fedadagrad [default: 0.9].
    #[arg(long)]
    pub beta1: Option<f64>,
    /// Second-moment decay β2 of fedadam and fedyogi [default: 0.99].
    #[arg(long)]
    pub beta2: Option<f64>,
    /// Adaptivity τ of fedadam, fedyogi and fedadagrad [default: 0.001].
    #[arg(long)]
    pub tau: Option<f64>,
    /// Weights of client updates in the mean: examples or uniform.
    #[arg(long)]
    pub weighting: Option<Weighting>,
    /// Largest accepted message, in bytes.
    #[arg(long, value_name = "BYTES")]
    pub max_message_bytes: Option<usize>,
    /// Compression of client updates: none, 8bit, 4bit, 2bit (each with an
    /// optional :chunk), qsgd[:levels], sign, topk:F, randk:F, or a
    /// sparsifier and a value codec joined by +, e.g. topk:0.01+8bit.
    #[arg(long, value_name = "SPEC")]
    pub compression: Option<String>,
    /// Differential privacy: the noise multiplier z (turns on DP-FedAvg;
    /// the other settings come from the `[privacy]` table or the flags
    /// below).
    #[arg(long)]
    pub noise_multiplier: Option<f64>,
    /// Differential privacy: the L2 norm every update is clipped to
    /// [default: 1].
    #[arg(long)]
    pub clip_norm: Option<f64>,
    /// Differential privacy: the probability q with which each client is
    /// sampled per round [default: 0.1].
    #[arg(long)]
    pub sampling_rate: Option<f64>,
    /// Differential privacy: the ε at which the run stops.
    #[arg(long)]
    pub epsilon_budget: Option<f64>,
    /// Differential privacy: δ of the guarantee [default: 1e-5].
    #[arg(long)]
    pub delta: Option<f64>,
    /// Differential privacy: clients in the whole federation [sim: --clients].
    #[arg(long)]
    pub population: Option<u32>,
    /// Compression of the broadcast model, a spec as for --compression:
    /// clients get the compressed change since the model they hold.
    #[arg(long, value_name = "SPEC")]
    pub downlink_compression: Option<String>,
    /// Send compressed updates without error feedback (the residual of what
    /// compression dropped is otherwise added to the next update).
    #[arg(long)]
    pub no_error_feedback: bool,
    /// Sparsity warm-up for topk and randk compression: over this many
    /// rounds the fraction kept falls from --sparsity-warmup-start to the
    /// spec's [default: 0, off].
    #[arg(long, value_name = "ROUNDS")]
    pub sparsity_warmup: Option<u32>,
    /// Fraction of values kept in round 1 of the sparsity warm-up
    /// [default: 0.1].
    #[arg(long, value_name = "FRACTION", requires = "sparsity_warmup")]
    pub sparsity_warmup_start: Option<f64>,
    /// Secure aggregation: off, secagg, secagg+ or two-server (the server
    /// sees only the sum of the updates).
    #[arg(long, value_name = "PROTOCOL")]
    pub secure_aggregation: Option<String>,
    /// Secure aggregation: shares needed to unmask, as a fraction of each
    /// client's shares [default: 0.67, at least a strict majority].
    #[arg(long, value_name = "FRACTION")]
    pub secure_threshold: Option<f64>,
    /// Secure aggregation: neighbours per client with secagg+
    /// [default: 2 * ceil(log2 n)].
    #[arg(long, value_name = "K")]
    pub secure_neighbours: Option<u32>,
    /// Secure aggregation: update values are clipped to ±R before they are
    /// quantized [default: 0.5].
    #[arg(long, value_name = "R")]
    pub secure_clip_range: Option<f64>,
    /// Secure aggregation: the mask server of the two-server protocol, e.g.
    /// ws://127.0.0.1:9090/mask.
    #[arg(long, value_name = "URL")]
    pub mask_server: Option<String>,
}

impl RunArgs {
    /// Reads `--config` (or starts from `base`), applies the overrides and
    /// validates the result.
    pub fn resolve(&self, base: RunConfig) -> anyhow::Result<RunConfig> {
        let config = self.resolve_unchecked(base)?;
        config.validate()?;
        Ok(config)
    }

    /// [`resolve`](Self::resolve) without the validation, for a caller that
    /// fills in more fields first.
    pub fn resolve_unchecked(&self, base: RunConfig) -> anyhow::Result<RunConfig> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("failed to read config file {}", path.display()))?;
                RunConfig::from_toml(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => base,
        };
        self.apply(&mut config);
        Ok(config)
    }

    fn apply(&self, config: &mut RunConfig) {
        set(&mut config.rounds, self.rounds);
        set(&mut config.fraction, self.fraction);
        if self.clients_per_round.is_some() {
            config.clients_per_round = self.clients_per_round;
        }
        set(&mut config.min_clients, self.min_clients);
        if self.min_available_clients.is_some() {
            config.min_available_clients = self.min_available_clients;
        }
        if let Some(model) = self.model {
            config.train.model = match model {
                ModelArg::Mlp => ModelKind::Mlp,
                ModelArg::Cnn => ModelKind::Cnn,
            };
        }
        if let Some(partition) = self.partition {
            config.data.partition = format!("{partition:?}").to_lowercase();
        }
        set(&mut config.data.partitions, self.partitions);
        set(&mut config.data.alpha, self.alpha);
        set(&mut config.data.shards_per_client, self.shards_per_client);
        set(&mut config.data.sigma, self.sigma);
        set(&mut config.train.local_epochs, self.local_epochs);
        set(&mut config.train.batch_size, self.batch_size);
        set(&mut config.train.learning_rate, self.lr);
        set(&mut config.train.momentum, self.momentum);
        set(&mut config.train.weight_decay, self.weight_decay);
        set(&mut config.seed, self.seed);
        set(&mut config.eval_every, self.eval_every);
        if self.target_accuracy.is_some() {
            config.target_accuracy = self.target_accuracy;
        }
        set(&mut config.round_timeout_secs, self.round_timeout);
        set(&mut config.wait_for_clients_secs, self.wait_for_clients);
        set(&mut config.lobby_secs, self.lobby);
        if self.data.is_some() {
            config.data.dir = self.data.clone();
        }
        set(&mut config.runs_dir, self.runs_dir.clone());
        if let Some(strategy) = &self.strategy {
            // The canonical name, so `FedAvg` is written as `fedavg`; an
            // unknown name stays as given and fails validation.
            config.strategy = strategy
                .parse::<starling_aggregate::StrategyKind>()
                .map_or_else(|_| strategy.clone(), |kind| kind.as_str().to_owned());
            // A μ from --config belongs to the strategy it was written for.
            if config.strategy != "fedprox" && self.mu.is_none() {
                config.proximal_mu = None;
            }
        }
        if self.mu.is_some() {
            config.proximal_mu = self.mu;
        }
        let options = &mut config.strategy_options;
        if self.server_lr.is_some() {
            options.server_learning_rate = self.server_lr;
        }
        set(&mut options.server_momentum, self.server_momentum);
        set(&mut options.beta1, self.beta1);
        set(&mut options.beta2, self.beta2);
        set(&mut options.tau, self.tau);
        set(&mut options.weighting, self.weighting);
        set(&mut config.compression, self.compression.clone());
        set(
            &mut config.downlink_compression,
            self.downlink_compression.clone(),
        );
        if self.no_error_feedback {
            config.error_feedback = false;
        }
        set(&mut config.sparsity_warmup_rounds, self.sparsity_warmup);
        if self.sparsity_warmup_start.is_some() {
            config.sparsity_warmup_start = self.sparsity_warmup_start;
        }
        set(&mut config.max_message_bytes, self.max_message_bytes);
        self.apply_privacy(config);
        set(
            &mut config.secure_aggregation,
            self.secure_aggregation.clone(),
        );
        set(&mut config.secure.threshold, self.secure_threshold);
        if self.secure_neighbours.is_some() {
            config.secure.neighbours = self.secure_neighbours;
        }
        set(&mut config.secure.clip_range, self.secure_clip_range);
        if self.mask_server.is_some() {
            config.secure.mask_server = self.mask_server.clone();
        }
    }

    fn apply_privacy(&self, config: &mut RunConfig) {
        let any = self.noise_multiplier.is_some()
            || self.clip_norm.is_some()
            || self.sampling_rate.is_some()
            || self.epsilon_budget.is_some()
            || self.delta.is_some()
            || self.population.is_some();
        if !any {
            return;
        }
        let privacy = config.privacy.get_or_insert_with(PrivacyConfig::default);
        if self.noise_multiplier.is_some() {
            privacy.noise_multiplier = self.noise_multiplier;
            privacy.target_epsilon = None;
        }
        set(&mut privacy.clip_norm, self.clip_norm);
        set(&mut privacy.sampling_rate, self.sampling_rate);
        if self.epsilon_budget.is_some() {
            privacy.epsilon_budget = self.epsilon_budget;
        }
        set(&mut privacy.delta, self.delta);
        if self.population.is_some() {
            privacy.population = self.population;
        }
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_config_values() {
        let args = RunArgs {
            rounds: Some(3),
            model: Some(ModelArg::Cnn),
            partition: Some(PartitionArg::Dirichlet),
            alpha: Some(0.3),
            ..RunArgs::default()
        };
        let config = args.resolve(RunConfig::default()).unwrap();
        assert_eq!(config.rounds, 3);
        assert_eq!(config.train.model, ModelKind::Cnn);
        assert_eq!(config.data.partition, "dirichlet");
        assert_eq!(config.data.alpha, 0.3);
    }

    #[test]
    fn invalid_override_is_rejected() {
        let args = RunArgs {
            strategy: Some("fedfoo".into()),
            ..RunArgs::default()
        };
        let err = args.resolve(RunConfig::default()).unwrap_err().to_string();
        assert!(err.contains("fedavg"), "{err}");
        assert!(err.contains("scaffold"), "{err}");
    }

    #[test]
    fn privacy_flags_create_the_privacy_table() {
        let args = RunArgs {
            noise_multiplier: Some(1.1),
            sampling_rate: Some(0.05),
            population: Some(200),
            epsilon_budget: Some(4.0),
            ..RunArgs::default()
        };
        let config = args.resolve(RunConfig::default()).unwrap();
        let privacy = config.privacy.unwrap();
        assert_eq!(privacy.noise_multiplier, Some(1.1));
        assert_eq!(privacy.sampling_rate, 0.05);
        assert_eq!(privacy.population, Some(200));
        assert_eq!(privacy.epsilon_budget, Some(4.0));
        assert_eq!(privacy.clip_norm, 1.0);
        let plain = RunArgs::default().resolve(RunConfig::default()).unwrap();
        assert!(plain.privacy.is_none());
    }

    #[test]
    fn privacy_without_population_is_rejected() {
        let args = RunArgs {
            noise_multiplier: Some(1.1),
            ..RunArgs::default()
        };
        let err = args.resolve(RunConfig::default()).unwrap_err().to_string();
        assert!(err.contains("privacy.population"), "{err}");
    }

    #[test]
    fn strategy_options_reach_the_config() {
        let args = RunArgs {
            strategy: Some("fedprox".into()),
            mu: Some(0.001),
            server_lr: Some(0.5),
            weighting: Some(Weighting::Uniform),
            ..RunArgs::default()
        };
        let config = args.resolve(RunConfig::default()).unwrap();
        assert_eq!(config.proximal_mu, Some(0.001));
        assert_eq!(config.strategy_options.server_learning_rate, Some(0.5));
        assert_eq!(config.strategy_options.weighting, Weighting::Uniform);
    }

    /// A command line with only the run flags.
    #[derive(clap::Parser)]
    struct RunCommand {
        #[command(flatten)]
        run: RunArgs,
    }

    #[test]
    fn warmup_start_needs_warmup_rounds() {
        use clap::Parser;

        let err = RunCommand::try_parse_from(["starling", "--sparsity-warmup-start", "0.05"])
            .err()
            .expect("a start without rounds is rejected");
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        let parsed = RunCommand::try_parse_from([
            "starling",
            "--sparsity-warmup",
            "10",
            "--sparsity-warmup-start",
            "0.05",
        ])
        .expect("both flags parse");
        assert_eq!(parsed.run.sparsity_warmup, Some(10));
        assert_eq!(parsed.run.sparsity_warmup_start, Some(0.05));
    }

    #[test]
    fn sparsity_warmup_needs_a_sparsifier() {
        let args = RunArgs {
            compression: Some("topk:0.01".into()),
            rounds: Some(100),
            sparsity_warmup: Some(60),
            sparsity_warmup_start: Some(0.05),
            ..RunArgs::default()
        };
        let config = args.resolve(RunConfig::default()).unwrap();
        assert_eq!(config.sparsity_warmup_rounds, 60);
        assert_eq!(config.sparsity_warmup_start, Some(0.05));

        let dense = RunArgs {
            compression: Some("8bit".into()),
            rounds: Some(100),
            sparsity_warmup: Some(60),
            ..RunArgs::default()
        };
        let err = dense.resolve(RunConfig::default()).unwrap_err().to_string();
        assert!(err.contains("needs a topk or randk compression"), "{err}");
        let low = RunArgs {
            compression: Some("topk:0.2".into()),
            rounds: Some(100),
            sparsity_warmup: Some(10),
            ..RunArgs::default()
        };
        let err = low.resolve(RunConfig::default()).unwrap_err().to_string();
        assert!(err.contains("must be above the fraction"), "{err}");
    }
}
