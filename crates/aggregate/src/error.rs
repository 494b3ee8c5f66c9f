//! Errors raised while configuring a strategy, aggregating a round or
//! restoring server state from a checkpoint.

use crate::kind::StrategyKind;

/// Failure to build a strategy, aggregate a round or restore a state
/// snapshot. Whenever `Strategy::apply_round` or
/// `Strategy::restore` returns one of these, the global model and every piece
/// of server state are left exactly as they were.
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
    /// The global model passed to a round has a different length from the
    /// one the strategy was built for.
    #[error("global model has {actual} values, but the strategy was built for {expected}")]
    ModelLengthMismatch {
        /// Model length given to `Strategy::new`.
        expected: usize,
        /// Length of the model passed to the round.
        actual: usize,
    },
    /// A strategy name did not match any known strategy.
    #[error(
        "unknown strategy `{name}`; valid strategies: {}",
        StrategyKind::valid_names()
    )]
    UnknownStrategy {
        /// The name that was given.
        name: String,
    },
    /// A weighting name did not match any known weighting.
    #[error("unknown weighting `{name}`; valid weightings: examples, uniform")]
    UnknownWeighting {
        /// The name that was given.
        name: String,
    },
    /// A hyper-parameter is outside its valid range.
    #[error("invalid strategy setting {field} = {value}: expected {expected}")]
    InvalidConfig {
        /// Setting name, as spelled in the configuration.
        field: &'static str,
        /// The rejected value.
        value: f64,
        /// The valid range, in words.
        expected: &'static str,
    },
    /// SCAFFOLD needs a control-variate delta from every client, and this
    /// client sent none.
    #[error("client {client}: missing control-variate delta, which scaffold requires")]
    MissingControlDelta {
        /// Client whose update is bad.
        client: String,
    },
    /// A client sent a control-variate delta to a strategy that does not use
    /// one.
    #[error(
        "client {client}: unexpected control-variate delta, which only scaffold uses ({kind} is running)"
    )]
    UnexpectedControlDelta {
        /// Client whose update is bad.
        client: String,
        /// The strategy in use.
        kind: StrategyKind,
    },
    /// A control-variate delta's length differs from the model's.
    #[error("client {client}: control-variate delta has {actual} values, the model has {expected}")]
    ControlLengthMismatch {
        /// Client whose update is bad.
        client: String,
        /// Model length.
        expected: usize,
        /// Control-variate delta length.
        actual: usize,
    },
    /// A control-variate delta contains NaN or an infinity.
    #[error(
        "client {client}: control-variate delta value {index} is {value}, expected a finite number"
    )]
    NonFiniteControlDelta {
        /// Client whose update is bad.
        client: String,
        /// Position of the first non-finite value.
        index: usize,
        /// That value.
        value: f32,
    },
    /// SCAFFOLD's population N is smaller than the number of clients that
    /// sent updates this round, so `|S| / N` would exceed 1.
    #[error(
        "invalid population {population}: it must be at least the {updates} updates in this round, because SCAFFOLD needs the total number of clients in the federation"
    )]
    PopulationTooSmall {
        /// The population that was passed.
        population: usize,
        /// Updates in the round.
        updates: usize,
    },
    /// The round would have produced NaN or an infinity, from f32 overflow or
    /// from a non-finite client delta.
    #[error(
        "aggregation produced a non-finite {buffer} value at index {index} (f32 overflow or a NaN or infinite client delta), so the round was not applied"
    )]
    NonFiniteResult {
        /// Buffer with the non-finite value: `model`, `momentum`, `first
        /// moment`, `second moment` or `control variate`.
        buffer: &'static str,
        /// Position of the first non-finite value.
        index: usize,
    },
    /// A state snapshot belongs to a different strategy kind.
    #[error("cannot restore {actual} state into a {expected} strategy")]
    StateKindMismatch {
        /// Kind of the strategy being restored into.
        expected: StrategyKind,
        /// Kind recorded in the snapshot.
        actual: StrategyKind,
    },
    /// A buffer in a state snapshot has the wrong length for the model.
    #[error("state {buffer} has {actual} values, the model has {expected}")]
    StateLengthMismatch {
        /// Buffer name.
        buffer: &'static str,
        /// Model length.
        expected: usize,
        /// Length in the snapshot.
        actual: usize,
    },
    /// A state snapshot lacks a buffer its kind needs, carries one its kind
    /// does not use, or contains values the kind cannot have produced.
    #[error("invalid {kind} state: {buffer} {problem}")]
    InvalidState {
        /// Kind recorded in the snapshot.
        kind: StrategyKind,
        /// Buffer name.
        buffer: &'static str,
        /// Description of the problem.
        problem: &'static str,
    },
}
