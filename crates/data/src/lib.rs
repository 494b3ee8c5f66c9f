//! Data for Starling: MNIST-style image data sets, the 10,000 digits built
//! into the binary, IDX file reading and writing, seeded train/test splits,
//! and the partitioning of a training set among federated clients.
//!
//! Everything here is deterministic: each random choice comes from a ChaCha8
//! generator seeded by the caller, never from the operating system, so the
//! server and a browser client compute the same partition from the same
//! [`DataAssignment`](starling_proto::DataAssignment). The crate builds for
//! `wasm32-unknown-unknown` and depends on no async runtime or training
//! framework.

mod dataset;
#[cfg(feature = "embedded")]
mod embedded;
mod error;
mod idx;
mod idx_dir;
mod partition;
mod rng;
mod split;
mod stats;

pub use dataset::{Dataset, NUM_CLASSES, Split};
#[cfg(feature = "embedded")]
pub use embedded::{EMBEDDED_LEN, EMBEDDED_TEST_LEN, embedded_mnist, embedded_split};
pub use error::DataError;
pub use idx::{
    GZIP_MAGIC, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, decompress_if_gzip, read_idx_images,
    read_idx_labels, write_idx_images, write_idx_labels,
};
pub use idx_dir::load_idx_dir;
pub use partition::{assigned_partition, partition};
pub use split::stratified_split;
pub use stats::{ClientStats, PartitionStats, partition_stats};
