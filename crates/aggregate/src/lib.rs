//! Server-side aggregation: how the accepted client updates of a round
//! become the next global model, for the standard federated algorithms
//! named by [`StrategyKind`].
//!
//! A [`Strategy`] runs one kind in two steps:
//!
//! 1. The round's client deltas are combined into one update: the weighted
//!    mean ([`weighted_mean_into`], with weights chosen by [`Weighting`]),
//!    or for FedNova the mean of step-normalised deltas.
//! 2. The kind's server step moves the global model: plain averaging
//!    (FedAvg, FedProx, FedNova), server momentum (FedAvgM), an adaptive
//!    optimiser (FedAdam, FedYogi, FedAdagrad) or SCAFFOLD's step, which
//!    also updates the server control variate.
//!
//! Server hyper-parameters live in [`StrategyConfig`], and everything the
//! server step keeps between rounds can be saved and restored through
//! [`StrategyState`]. A failed round changes neither the model nor that
//! state. The crate has no async code and no dependency on the wire format,
//! so it compiles for wasm32 as well.

mod config;
mod error;
mod fednova;
mod fedopt;
mod kind;
mod mean;
mod momentum;
mod plain;
mod scaffold;
mod state;
mod strategy;
mod validate;

pub use config::{StrategyConfig, Weighting};
pub use error::AggregateError;
pub use kind::StrategyKind;
pub use mean::{
    Aggregator, ClientContribution, WeightedMean, weighted_mean_into, weighted_mean_into_threads,
};
pub use state::StrategyState;
pub use strategy::{RoundAggregate, Strategy};
