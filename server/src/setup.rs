//! Everything a run needs before its first round: the data split, the
//! partition statistics and the initial model.

use std::path::PathBuf;

use starling_data::{Dataset, PartitionStats, Split};
use starling_proto::ParamSet;

use crate::config::{ConfigError, RunConfig};

/// Error that prevents a run from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data could not be loaded or partitioned.
    #[error("failed to prepare data: {0}")]
    Data(#[from] starling_data::DataError),
    /// The output folder could not be created.
    #[error("failed to create run folder {path}: {source}")]
    Outputs {
        /// Folder that failed.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A setup task panicked.
    #[error("setup task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The two-server protocol's mask server could not be reached.
    #[error(transparent)]
    MaskServer(#[from] crate::mask_server::MaskLinkError),
}

/// The data and model a run starts from.
#[derive(Debug)]
pub struct RunData {
    /// Held-out test split the server evaluates on.
    pub test_set: Dataset,
    /// Examples in the training split.
    pub train_examples: usize,
    /// The training split, from which each partition is cut.
    pub train_set: Dataset,
    /// Example indices of each built-in partition.
    pub partitions: Vec<Vec<usize>>,
    /// Per-partition statistics of the built-in partitioning.
    pub partition_stats: PartitionStats,
    /// Initial global model.
    pub initial_model: ParamSet,
}

impl RunData {
    /// Loads the split named by the config and initialises the model; runs
    /// on a blocking thread because decoding and partitioning take a while.
    pub async fn prepare(config: &RunConfig) -> Result<Self, StartError> {
        let config = config.clone();
        tokio::task::spawn_blocking(move || Self::prepare_blocking(&config)).await?
    }

    fn prepare_blocking(config: &RunConfig) -> Result<Self, StartError> {
        let split = load_split(config)?;
        let scheme = config.data.scheme()?;
        let partitions = config.partitions() as usize;
        let parts =
            starling_data::partition(split.train.labels(), partitions, &scheme, config.seed)?;
        let partition_stats = starling_data::partition_stats(split.train.labels(), &parts);
        for client in &partition_stats.clients {
            tracing::debug!(
                partition = client.client,
                examples = client.count,
                labels = ?client.label_histogram,
                "partition"
            );
        }
        tracing::info!(
            partitions,
            scheme = ?scheme,
            min = parts.iter().map(Vec::len).min().unwrap_or(0),
            max = parts.iter().map(Vec::len).max().unwrap_or(0),
            "partitioned training split"
        );
        Ok(Self {
            train_examples: split.train.len(),
            train_set: split.train,
            partitions: parts,
            test_set: split.test,
            partition_stats,
            initial_model: starling_train::init_params(config.train.model, config.seed),
        })
    }
}

/// Loads the train/test split a config names: an IDX folder or the
/// embedded digits.
pub fn load_split(config: &RunConfig) -> Result<Split, starling_data::DataError> {
    match &config.data.dir {
        Some(dir) => starling_data::load_idx_dir(dir),
        None => starling_data::embedded_split(config.seed),
    }
}
