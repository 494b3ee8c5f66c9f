//! A strategy: one aggregator plus one server optimiser, applied once per
//! round by the server's round loop.

use crate::error::AggregateError;
use crate::mean::{Aggregator, ClientContribution, WeightedMean};
use crate::optimizer::{PlainAverage, ServerOptimizer};

/// Summary of one aggregation, for the round's metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct RoundAggregate {
    /// Updates that entered the aggregate (weight 0 included).
    pub clients: usize,
    /// Sum of the weights.
    pub total_weight: f64,
    /// L2 norm of the combined update.
    pub update_norm: f64,
}

/// The server side of a federated algorithm.
pub struct Strategy {
    aggregator: Box<dyn Aggregator>,
    optimizer: Box<dyn ServerOptimizer>,
    scratch: Vec<f32>,
}

impl Strategy {
    /// Pairs an aggregator with a server optimiser.
    pub fn new(aggregator: Box<dyn Aggregator>, optimizer: Box<dyn ServerOptimizer>) -> Self {
        Self {
            aggregator,
            optimizer,
            scratch: Vec::new(),
        }
    }

    /// FedAvg: weighted mean by example count, server learning rate 1.
    pub fn fedavg() -> Self {
        Self::new(Box::new(WeightedMean), Box::new(PlainAverage::default()))
    }

    /// Name for logs and run metadata, e.g. `fedavg(weighted-mean)`.
    pub fn name(&self) -> String {
        format!("{}({})", self.optimizer.name(), self.aggregator.name())
    }

    /// Aggregates the round's updates and applies them to `global`. On
    /// error `global` is left exactly as it was.
    pub fn apply_round(
        &mut self,
        global: &mut [f32],
        updates: &[ClientContribution<'_>],
    ) -> Result<RoundAggregate, AggregateError> {
        self.scratch.resize(global.len(), 0.0);
        self.aggregator.aggregate(updates, &mut self.scratch)?;
        self.optimizer.apply(global, &self.scratch);
        let update_norm = self
            .scratch
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt();
        Ok(RoundAggregate {
            clients: updates.len(),
            total_weight: updates.iter().map(|u| u.weight).sum(),
            update_norm,
        })
    }
}

impl std::fmt::Debug for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Strategy")
            .field("name", &self.name())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fedavg_moves_model_by_weighted_mean() {
        let mut strategy = Strategy::fedavg();
        let mut global = vec![1.0, 1.0];
        let a = [2.0, 0.0];
        let b = [0.0, 2.0];
        let updates = [
            ClientContribution {
                client_id: "a",
                weight: 1.0,
                local_steps: 1,
                delta: &a,
            },
            ClientContribution {
                client_id: "b",
                weight: 3.0,
                local_steps: 1,
                delta: &b,
            },
        ];
        let report = strategy.apply_round(&mut global, &updates).unwrap();
        assert_eq!(global, vec![1.5, 2.5]);
        assert_eq!(report.clients, 2);
        assert_eq!(report.total_weight, 4.0);
        assert!((report.update_norm - (0.25f64 + 2.25).sqrt()).abs() < 1e-9);
    }

    #[test]
    fn failed_round_leaves_model_unchanged() {
        let mut strategy = Strategy::fedavg();
        let mut global = vec![1.0, 1.0];
        let a = [5.0, 5.0];
        let updates = [ClientContribution {
            client_id: "a",
            weight: 0.0,
            local_steps: 0,
            delta: &a,
        }];
        assert!(strategy.apply_round(&mut global, &updates).is_err());
        assert_eq!(global, vec![1.0, 1.0]);
    }
}
