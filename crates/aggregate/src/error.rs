//! Errors raised while aggregating a round.

/// Why a round's updates could not be aggregated. The global model is left
/// unchanged whenever one of these is returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AggregateError {
    /// The round closed with no accepted update.
    #[error("no client updates to aggregate")]
    NoUpdates,
    /// Every accepted update carried weight 0 (for FedAvg: zero examples).
    #[error("total weight of {count} client updates is 0: every client reported zero examples")]
    ZeroTotalWeight {
        /// Updates that were accepted.
        count: usize,
    },
    /// A weight was negative, NaN or infinite.
    #[error("client {client}: invalid weight {weight}, expected a finite value >= 0")]
    InvalidWeight {
        /// Client whose weight is bad.
        client: String,
        /// The weight.
        weight: f64,
    },
    /// An update's length differs from the model's.
    #[error("client {client}: update has {actual} values, the model has {expected}")]
    LengthMismatch {
        /// Client whose update is bad.
        client: String,
        /// Model length.
        expected: usize,
        /// Update length.
        actual: usize,
    },
}
