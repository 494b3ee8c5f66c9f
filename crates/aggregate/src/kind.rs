//! The federated algorithms the server can run, and their names in
//! configuration files, logs and checkpoints.

use serde::{Deserialize, Serialize};

use crate::error::AggregateError;

/// A federated algorithm, as far as the server is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StrategyKind {
    /// FedAvg (McMahan et al. 2017): the weighted mean of the client deltas.
    FedAvg,
    /// FedProx (Li et al. 2020): a proximal term in the client objective. The
    /// server step is FedAvg's.
    FedProx,
    /// FedAvgM (Hsu et al. 2019): server momentum on the mean delta.
    FedAvgM,
    /// FedAdam (Reddi et al. 2021): Adam on the mean delta, without bias
    /// correction.
    FedAdam,
    /// FedYogi (Reddi et al. 2021): Yogi on the mean delta.
    FedYogi,
    /// FedAdagrad (Reddi et al. 2021): Adagrad on the mean delta.
    FedAdagrad,
    /// SCAFFOLD (Karimireddy et al. 2020): control variates correct client
    /// drift.
    Scaffold,
    /// FedNova (Wang et al. 2020): each delta is normalised by the client's
    /// local step count before averaging.
    FedNova,
}

impl StrategyKind {
    /// Every kind, in the order error messages list them.
    pub const ALL: [StrategyKind; 8] = [
        StrategyKind::FedAvg,
        StrategyKind::FedProx,
        StrategyKind::FedAvgM,
        StrategyKind::FedAdam,
        StrategyKind::FedYogi,
        StrategyKind::FedAdagrad,
        StrategyKind::Scaffold,
        StrategyKind::FedNova,
    ];

    /// Returns the lowercase name used in configuration, logs and
    /// checkpoints, e.g. `fedavgm`.
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::FedAvg => "fedavg",
            StrategyKind::FedProx => "fedprox",
            StrategyKind::FedAvgM => "fedavgm",
            StrategyKind::FedAdam => "fedadam",
            StrategyKind::FedYogi => "fedyogi",
            StrategyKind::FedAdagrad => "fedadagrad",
            StrategyKind::Scaffold => "scaffold",
            StrategyKind::FedNova => "fednova",
        }
    }

    /// Whether clients must send a control-variate delta (SCAFFOLD only).
    pub fn needs_control(self) -> bool {
        self == StrategyKind::Scaffold
    }

    /// Returns the server learning rate used when the configuration sets
    /// none: 1 for the averaging kinds (so FedAvg moves the model by exactly
    /// the mean delta), 0.01 for FedAdam and FedYogi and 0.1 for FedAdagrad.
    pub fn default_learning_rate(self) -> f64 {
        match self {
            StrategyKind::FedAdam | StrategyKind::FedYogi => 0.01,
            StrategyKind::FedAdagrad => 0.1,
            StrategyKind::FedAvg
            | StrategyKind::FedProx
            | StrategyKind::FedAvgM
            | StrategyKind::Scaffold
            | StrategyKind::FedNova => 1.0,
        }
    }

    /// Returns every name, comma-separated, for error messages.
    pub(crate) fn valid_names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl std::str::FromStr for StrategyKind {
    type Err = AggregateError;

    /// Parses a name as printed by [`StrategyKind::as_str`], ignoring ASCII
    /// case.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| AggregateError::UnknownStrategy {
                name: name.to_owned(),
            })
    }
}

impl std::fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in StrategyKind::ALL {
            assert_eq!(kind.as_str().parse::<StrategyKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
    }

    #[test]
    fn parse_ignores_case() {
        assert_eq!("FedAvgM".parse(), Ok(StrategyKind::FedAvgM));
        assert_eq!("SCAFFOLD".parse(), Ok(StrategyKind::Scaffold));
    }

    #[test]
    fn unknown_name_lists_valid_names() {
        let err = "fedfoo".parse::<StrategyKind>().unwrap_err();
        assert_eq!(
            err,
            AggregateError::UnknownStrategy {
                name: "fedfoo".to_owned()
            }
        );
        assert_eq!(
            err.to_string(),
            "unknown strategy `fedfoo`; valid strategies: fedavg, fedprox, fedavgm, \
             fedadam, fedyogi, fedadagrad, scaffold, fednova"
        );
    }

    #[test]
    fn only_scaffold_needs_control() {
        for kind in StrategyKind::ALL {
            assert_eq!(
                kind.needs_control(),
                kind == StrategyKind::Scaffold,
                "{kind}"
            );
        }
    }

    #[test]
    fn default_learning_rates() {
        let expected = [1.0, 1.0, 1.0, 0.01, 0.01, 0.1, 1.0, 1.0];
        for (kind, rate) in StrategyKind::ALL.into_iter().zip(expected) {
            assert_eq!(kind.default_learning_rate(), rate, "{kind}");
        }
    }

    #[test]
    fn serde_uses_the_lowercase_name() {
        for kind in StrategyKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<StrategyKind>(&json).unwrap(), kind);
        }
    }
}
