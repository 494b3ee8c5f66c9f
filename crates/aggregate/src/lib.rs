//! Server-side aggregation: how the accepted client updates of a round
//! become the next global model.
//!
//! Aggregation is split in two steps so that later features slot in without
//! touching the round loop:
//!
//! 1. An [`Aggregator`] reduces the round's updates to one mean update. The
//!    FedAvg weighted mean is the default; robust aggregators (median,
//!    trimmed mean, Krum) replace it, and secure aggregation bypasses it by
//!    handing over a sum it computed without seeing any single update.
//! 2. A [`ServerOptimizer`] applies the mean update to the global model:
//!    plain FedAvg adds it, FedAvgM and FedAdam/FedYogi keep state.
//!
//! A [`Strategy`] pairs one of each. The crate has no async code and no
//! dependency on the wire format, so it compiles for wasm32 as well.

mod error;
mod mean;
mod optimizer;
mod strategy;

pub use error::AggregateError;
pub use mean::{
    Aggregator, ClientContribution, WeightedMean, weighted_mean_into, weighted_mean_into_threads,
};
pub use optimizer::{PlainAverage, ServerOptimizer};
pub use strategy::{RoundAggregate, Strategy};
