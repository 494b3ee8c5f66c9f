//! The error type of every fallible function in this crate.

use std::path::PathBuf;

/// Why a data set could not be read, built, split or partitioned.
///
/// File errors carry the file name passed by the caller, so a message such as
/// `train-labels-idx1-ubyte: truncated, expected 60008 bytes, found 512` names
/// the broken file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The first four bytes are not the expected IDX magic number.
    #[error("{name}: wrong magic number 0x{found:08x}, expected 0x{expected:08x} ({kind})")]
    WrongMagic {
        /// File name.
        name: String,
        /// Magic number of the file kind that was requested.
        expected: u32,
        /// First four bytes of the file, big-endian.
        found: u32,
        /// Description of the expected format, for example `IDX labels: unsigned
        /// bytes, 1 dimension`.
        kind: &'static str,
    },
    /// The file ends before the header or the data its header announces.
    #[error("{name}: truncated, expected {expected} bytes, found {found}")]
    Truncated {
        /// File name.
        name: String,
        /// Bytes that the header requires.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// The file is longer than its header announces.
    #[error("{name}: {found} bytes, expected exactly {expected} from the header")]
    TrailingBytes {
        /// File name.
        name: String,
        /// Bytes that the header requires.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// The header's dimensions multiply to more than `usize` can hold.
    #[error("{name}: header dimensions {dims:?} overflow the address space")]
    DimensionsOverflow {
        /// File name.
        name: String,
        /// Dimensions read from the header.
        dims: Vec<u32>,
    },
    /// The file starts with the gzip magic bytes but does not decompress.
    #[error("{name}: invalid gzip data: {source}")]
    Gzip {
        /// File name.
        name: String,
        /// Decompression error.
        source: std::io::Error,
    },
    /// A file could not be read from disk.
    #[error("{}: failed to read file: {source}", path.display())]
    Io {
        /// Path of the file.
        path: PathBuf,
        /// Operating-system error.
        source: std::io::Error,
    },
    /// None of the accepted names of an IDX file exists in the directory.
    #[error("{}: no {role} file found, looked for {}", dir.display(), looked_for.join(", "))]
    MissingFile {
        /// Directory searched.
        dir: PathBuf,
        /// Role of the missing file, for example `training images`.
        role: &'static str,
        /// File names that were tried, in order.
        looked_for: Vec<String>,
    },
    /// The image file and the label file hold different numbers of items.
    #[error("{images_name} has {images} images but {labels_name} has {labels} labels")]
    CountMismatch {
        /// Name of the image file.
        images_name: String,
        /// Images in it.
        images: usize,
        /// Name of the label file.
        labels_name: String,
        /// Labels in it.
        labels: usize,
    },
    /// A label file contains a value outside `0..NUM_CLASSES`.
    #[error("{name}: label {label} at index {index} is out of range, expected 0..=9")]
    LabelOutOfRange {
        /// File name.
        name: String,
        /// Position of the label in the file.
        index: usize,
        /// Value found.
        label: u8,
    },
    /// An in-memory label is outside `0..NUM_CLASSES`.
    #[error("label {label} at index {index} is out of range, expected 0..=9")]
    InvalidLabel {
        /// Position of the label.
        index: usize,
        /// Value found.
        label: u8,
    },
    /// Image height or width is zero.
    #[error("invalid image shape {rows}x{cols}, both sides must be at least 1")]
    InvalidShape {
        /// Rows per image.
        rows: usize,
        /// Columns per image.
        cols: usize,
    },
    /// The pixel buffer does not hold one image per label.
    #[error(
        "pixel buffer has {found} bytes, expected {expected} ({labels} labels x {rows}x{cols} pixels)"
    )]
    PixelCount {
        /// Bytes expected from the label count and the shape.
        expected: usize,
        /// Bytes present.
        found: usize,
        /// Number of labels.
        labels: usize,
        /// Rows per image.
        rows: usize,
        /// Columns per image.
        cols: usize,
    },
    /// A train/test split asked for more test examples than there are.
    #[error("cannot hold out {test} test examples from a data set of {examples}")]
    TestTooLarge {
        /// Requested test examples.
        test: usize,
        /// Examples in the data set.
        examples: usize,
    },
    /// A partition was requested for zero clients.
    #[error("cannot partition data among 0 clients, expected at least 1")]
    NoClients,
    /// There are fewer examples than clients, so some client would get none.
    #[error(
        "cannot give each of {clients} clients an example because there are only {examples} examples"
    )]
    TooFewExamples {
        /// Requested clients.
        clients: usize,
        /// Examples available.
        examples: usize,
    },
    /// There are fewer examples than shards, so some shard would be empty.
    #[error(
        "cannot cut {examples} examples into {shards} non-empty shards ({clients} clients x {per_client})"
    )]
    TooManyShards {
        /// Total shards, `clients * per_client`.
        shards: usize,
        /// Requested clients.
        clients: usize,
        /// Shards per client.
        per_client: u32,
        /// Examples available.
        examples: usize,
    },
    /// The shards scheme was given `per_client = 0`.
    #[error("shards per client must be at least 1, found 0")]
    NoShardsPerClient,
    /// The Dirichlet concentration is zero, negative, infinite or NaN.
    #[error("Dirichlet alpha must be positive and finite, found {0}")]
    InvalidAlpha(f64),
    /// The log-normal sigma is zero, negative, infinite or NaN.
    #[error("quantity-skew sigma must be positive and finite, found {0}")]
    InvalidSigma(f64),
    /// A data assignment names a partition that does not exist.
    #[error("partition index {index} is out of range for {partitions} partitions")]
    PartitionIndex {
        /// Requested index.
        index: u32,
        /// Number of partitions.
        partitions: u32,
    },
}
