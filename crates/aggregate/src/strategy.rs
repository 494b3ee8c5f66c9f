//! A strategy: the server side of one federated algorithm, applied once per
//! round by the server's round loop. It combines the round's client updates
//! (the weighted mean, or FedNova's normalised average), then moves the
//! global model with the kind's server step, and owns the state that step
//! keeps between rounds.

use crate::config::StrategyConfig;
use crate::error::AggregateError;
use crate::fedopt::{FedOpt, FedOptParams, SecondMoment};
use crate::kind::StrategyKind;
use crate::mean::{ClientContribution, weighted_mean_into};
use crate::momentum::Momentum;
use crate::plain::Plain;
use crate::scaffold::{self, Scaffold};
use crate::state::StrategyState;
use crate::validate::check_round;
use crate::{config, fednova};

/// Summary of one aggregation, for the round's metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct RoundAggregate {
    /// Updates that entered the aggregate (weight 0 included).
    pub clients: usize,
    /// Sum of the weights after [`crate::Weighting`]: the example count for
    /// `examples`, the number of clients with a positive weight for
    /// `uniform`.
    pub total_weight: f64,
    /// L2 norm of the combined client update (the weighted mean of the
    /// deltas, or FedNova's normalised average) before the server step.
    pub update_norm: f64,
    /// L2 norm of the change the server step made to the global model.
    pub step_norm: f64,
}

/// The server step of each kind, with the state it keeps between rounds.
#[derive(Clone, Debug)]
enum ServerStep {
    /// FedAvg, FedProx and FedNova.
    Plain(Plain),
    /// FedAvgM.
    Momentum(Momentum),
    /// FedAdam, FedYogi and FedAdagrad.
    FedOpt(FedOpt),
    /// SCAFFOLD.
    Scaffold(Scaffold),
}

/// The server side of a federated algorithm.
pub struct Strategy {
    kind: StrategyKind,
    config: StrategyConfig,
    client_momentum: f64,
    /// Length every round's model must have; `None` accepts any length.
    model_len: Option<usize>,
    step: ServerStep,
    rounds_applied: u64,
    /// Scratch buffer for the round's combined update.
    combined: Vec<f32>,
    /// Scratch buffer for SCAFFOLD's change to the control variate.
    control_change: Vec<f32>,
}

impl Strategy {
    /// Builds the server side of `kind` for a model of `model_len` values.
    /// `client_momentum` is the momentum ρ of the clients' local SGD, in
    /// [0, 1), and only FedNova reads it. Fails if `config` or
    /// `client_momentum` is out of range.
    pub fn new(
        kind: StrategyKind,
        config: &StrategyConfig,
        model_len: usize,
        client_momentum: f64,
    ) -> Result<Self, AggregateError> {
        config.validate()?;
        config::check_unit_interval("client_momentum", client_momentum)?;
        let learning_rate = config.learning_rate(kind);
        let fedopt = |rule| {
            let params = FedOptParams {
                learning_rate,
                beta1: config.beta1,
                beta2: config.beta2,
                tau: config.tau,
            };
            ServerStep::FedOpt(FedOpt::new(rule, params, model_len))
        };
        let step = match kind {
            StrategyKind::FedAvg | StrategyKind::FedProx | StrategyKind::FedNova => {
                ServerStep::Plain(Plain { learning_rate })
            }
            StrategyKind::FedAvgM => ServerStep::Momentum(Momentum::new(
                learning_rate,
                config.server_momentum,
                model_len,
            )),
            StrategyKind::FedAdam => fedopt(SecondMoment::Adam),
            StrategyKind::FedYogi => fedopt(SecondMoment::Yogi),
            StrategyKind::FedAdagrad => fedopt(SecondMoment::Adagrad),
            StrategyKind::Scaffold => ServerStep::Scaffold(Scaffold::new(learning_rate, model_len)),
        };
        Ok(Self {
            kind,
            config: config.clone(),
            client_momentum,
            model_len: Some(model_len),
            step,
            rounds_applied: 0,
            combined: Vec::new(),
            control_change: Vec::new(),
        })
    }

    /// FedAvg with the default configuration: weighted mean by example
    /// count, server learning rate 1. It keeps no state, so it accepts a
    /// model of any length.
    pub fn fedavg() -> Self {
        Self {
            kind: StrategyKind::FedAvg,
            config: StrategyConfig::default(),
            client_momentum: 0.0,
            model_len: None,
            step: ServerStep::Plain(Plain {
                learning_rate: StrategyKind::FedAvg.default_learning_rate(),
            }),
            rounds_applied: 0,
            combined: Vec::new(),
            control_change: Vec::new(),
        }
    }

    /// Returns the algorithm this strategy runs.
    pub fn kind(&self) -> StrategyKind {
        self.kind
    }

    /// Returns the configuration the strategy was built with.
    pub fn config(&self) -> &StrategyConfig {
        &self.config
    }

    /// Returns the server learning rate in use.
    pub fn learning_rate(&self) -> f64 {
        self.config.learning_rate(self.kind)
    }

    /// Returns how many rounds have been applied successfully.
    pub fn rounds_applied(&self) -> u64 {
        self.rounds_applied
    }

    /// Name with the settings the kind uses, for logs and run metadata,
    /// e.g. `fedadam(lr=0.01, beta1=0.9, beta2=0.99, tau=0.001,
    /// weighting=examples)`.
    pub fn name(&self) -> String {
        let config = &self.config;
        let settings = match self.kind {
            StrategyKind::FedAvgM => format!(", momentum={}", config.server_momentum),
            StrategyKind::FedAdam | StrategyKind::FedYogi => format!(
                ", beta1={}, beta2={}, tau={}",
                config.beta1, config.beta2, config.tau
            ),
            StrategyKind::FedAdagrad => format!(", beta1={}, tau={}", config.beta1, config.tau),
            StrategyKind::FedNova => format!(", client_momentum={}", self.client_momentum),
            StrategyKind::FedAvg | StrategyKind::FedProx | StrategyKind::Scaffold => String::new(),
        };
        format!(
            "{}(lr={}{settings}, weighting={})",
            self.kind,
            self.learning_rate(),
            config.weighting
        )
    }

    /// Returns SCAFFOLD's server control variate `c` (zeros at the start),
    /// which the server sends to clients with the global model. Other kinds
    /// return `None`.
    pub fn server_control(&self) -> Option<&[f32]> {
        match &self.step {
            ServerStep::Scaffold(scaffold) => Some(&scaffold.control),
            _ => None,
        }
    }

    /// Combines the round's updates and applies them to `global` with the
    /// kind's server step.
    ///
    /// `population` is N, the number of clients in the whole federation.
    /// SCAFFOLD moves its control variate by `|S| / N` times the mean control
    /// delta and needs `population >= updates.len()`; other kinds ignore it.
    ///
    /// On error, `global` and all strategy state are left exactly as they
    /// were: the round is validated first, computed into scratch buffers and
    /// checked for non-finite values before anything is written.
    pub fn apply_round(
        &mut self,
        global: &mut [f32],
        updates: &[ClientContribution<'_>],
        population: usize,
    ) -> Result<RoundAggregate, AggregateError> {
        if let Some(expected) = self.model_len
            && global.len() != expected
        {
            return Err(AggregateError::ModelLengthMismatch {
                expected,
                actual: global.len(),
            });
        }
        let weighting = self.config.weighting;
        let round = check_round(self.kind, weighting, updates, global.len(), population)?;

        self.combined.resize(global.len(), 0.0);
        if self.kind == StrategyKind::FedNova {
            fednova::combine_into(
                updates,
                &round.probabilities,
                self.client_momentum,
                &mut self.combined,
            );
        } else {
            let weighted: Vec<ClientContribution<'_>> = updates
                .iter()
                .map(|update| ClientContribution {
                    weight: weighting.apply(update.weight),
                    ..*update
                })
                .collect();
            weighted_mean_into(&weighted, &mut self.combined)?;
        }

        let step_squared = match &mut self.step {
            ServerStep::Plain(plain) => plain.apply(global, &self.combined)?,
            ServerStep::Momentum(momentum) => momentum.apply(global, &self.combined)?,
            ServerStep::FedOpt(fedopt) => fedopt.apply(global, &self.combined)?,
            ServerStep::Scaffold(scaffold) => {
                self.control_change.resize(global.len(), 0.0);
                scaffold::control_change_into(updates, population, &mut self.control_change);
                scaffold.apply(global, &self.combined, &self.control_change)?
            }
        };
        self.rounds_applied += 1;

        let update_norm = self
            .combined
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt();
        Ok(RoundAggregate {
            clients: updates.len(),
            total_weight: round.total_weight,
            update_norm,
            step_norm: step_squared.sqrt(),
        })
    }

    /// Returns a snapshot of all server state, for a checkpoint.
    pub fn state(&self) -> StrategyState {
        let mut state = StrategyState {
            kind: self.kind,
            rounds_applied: self.rounds_applied,
            momentum: None,
            first_moment: None,
            second_moment: None,
            control_variate: None,
        };
        match &self.step {
            ServerStep::Plain(_) => {}
            ServerStep::Momentum(momentum) => state.momentum = Some(momentum.velocity.clone()),
            ServerStep::FedOpt(fedopt) => {
                state.first_moment = Some(fedopt.first_moment.clone());
                state.second_moment = Some(fedopt.second_moment.clone());
            }
            ServerStep::Scaffold(scaffold) => {
                state.control_variate = Some(scaffold.control.clone());
            }
        }
        state
    }

    /// Replaces all server state with a snapshot taken by [`Strategy::state`].
    ///
    /// Rejects a snapshot of another kind or model length, and one with a
    /// missing, extra or non-finite buffer. The strategy is unchanged on
    /// error. Hyper-parameters stay those given to [`Strategy::new`].
    pub fn restore(&mut self, state: StrategyState) -> Result<(), AggregateError> {
        state.check(self.kind, self.model_len)?;
        let StrategyState {
            rounds_applied,
            momentum,
            first_moment,
            second_moment,
            control_variate,
            ..
        } = state;
        // `check` guarantees that exactly the kind's buffers are present.
        match &mut self.step {
            ServerStep::Plain(_) => {}
            ServerStep::Momentum(step) => step.velocity = momentum.unwrap_or_default(),
            ServerStep::FedOpt(step) => {
                step.first_moment = first_moment.unwrap_or_default();
                step.second_moment = second_moment.unwrap_or_default();
            }
            ServerStep::Scaffold(step) => step.control = control_variate.unwrap_or_default(),
        }
        self.rounds_applied = rounds_applied;
        Ok(())
    }
}

impl std::fmt::Debug for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Strategy")
            .field("name", &self.name())
            .field("model_len", &self.model_len)
            .field("rounds_applied", &self.rounds_applied)
            .finish()
    }
}

#[cfg(test)]
mod tests;
