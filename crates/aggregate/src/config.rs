//! Server-side hyper-parameters of a strategy and how client updates are
//! weighted in the mean.

use serde::{Deserialize, Serialize};

use crate::error::AggregateError;
use crate::kind::StrategyKind;

/// Rule for weighting client updates in the mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weighting {
    /// Each update counts in proportion to its weight, normally the client's
    /// example count (McMahan et al. 2017).
    #[default]
    Examples,
    /// Every update with a positive weight counts equally. An update with
    /// weight 0 still counts 0, so a client that trained on no examples
    /// cannot pull the mean towards zero.
    Uniform,
}

impl Weighting {
    /// Returns the lowercase name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Weighting::Examples => "examples",
            Weighting::Uniform => "uniform",
        }
    }

    /// Maps a client's validated weight (finite, >= 0) to the weight it
    /// carries in the mean.
    pub fn apply(self, weight: f64) -> f64 {
        match self {
            Weighting::Examples => weight,
            Weighting::Uniform if weight > 0.0 => 1.0,
            Weighting::Uniform => 0.0,
        }
    }
}

impl std::str::FromStr for Weighting {
    type Err = AggregateError;

    /// Parses `examples` or `uniform`, ignoring ASCII case.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [Weighting::Examples, Weighting::Uniform]
            .into_iter()
            .find(|weighting| weighting.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| AggregateError::UnknownWeighting {
                name: name.to_owned(),
            })
    }
}

impl std::fmt::Display for Weighting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Server-side hyper-parameters. Each kind reads only the fields it uses,
/// but [`StrategyConfig::validate`] checks all of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StrategyConfig {
    /// Server learning rate η. `None` takes the kind's default (see
    /// [`StrategyKind::default_learning_rate`]).
    pub server_learning_rate: Option<f64>,
    /// FedAvgM's momentum β, in [0, 1).
    pub server_momentum: f64,
    /// FedOpt's first-moment decay β1, in [0, 1).
    pub beta1: f64,
    /// FedAdam's and FedYogi's second-moment decay β2, in [0, 1).
    pub beta2: f64,
    /// FedOpt's adaptivity τ: added to √v in the step's denominator, and
    /// τ² is the initial second moment. Finite and > 0.
    pub tau: f64,
    /// Weighting of client updates in the mean.
    pub weighting: Weighting,
}

impl Default for StrategyConfig {
    fn default() -> Self {
        Self {
            server_learning_rate: None,
            server_momentum: 0.9,
            beta1: 0.9,
            beta2: 0.99,
            tau: 1e-3,
            weighting: Weighting::Examples,
        }
    }
}

impl StrategyConfig {
    /// Returns the server learning rate for `kind`: the configured one, or
    /// the kind's default.
    pub fn learning_rate(&self, kind: StrategyKind) -> f64 {
        self.server_learning_rate
            .unwrap_or_else(|| kind.default_learning_rate())
    }

    /// Checks every setting against its valid range and names the first one
    /// outside it.
    pub fn validate(&self) -> Result<(), AggregateError> {
        if let Some(rate) = self.server_learning_rate {
            check_positive("server_learning_rate", rate)?;
        }
        check_unit_interval("server_momentum", self.server_momentum)?;
        check_unit_interval("beta1", self.beta1)?;
        check_unit_interval("beta2", self.beta2)?;
        check_positive("tau", self.tau)
    }
}

/// Accepts a finite value > 0.
pub(crate) fn check_positive(field: &'static str, value: f64) -> Result<(), AggregateError> {
    if value.is_finite() && value > 0.0 {
        return Ok(());
    }
    Err(AggregateError::InvalidConfig {
        field,
        value,
        expected: "a finite value > 0",
    })
}

/// Accepts a value in [0, 1), as decay rates and momenta need.
pub(crate) fn check_unit_interval(field: &'static str, value: f64) -> Result<(), AggregateError> {
    if (0.0..1.0).contains(&value) {
        return Ok(());
    }
    Err(AggregateError::InvalidConfig {
        field,
        value,
        expected: "a value in [0, 1)",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = StrategyConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.server_momentum, 0.9);
        assert_eq!(config.beta1, 0.9);
        assert_eq!(config.beta2, 0.99);
        assert_eq!(config.tau, 1e-3);
        assert_eq!(config.weighting, Weighting::Examples);
    }

    #[test]
    fn learning_rate_falls_back_to_kind_default() {
        let mut config = StrategyConfig::default();
        assert_eq!(config.learning_rate(StrategyKind::FedAvg), 1.0);
        assert_eq!(config.learning_rate(StrategyKind::FedAdam), 0.01);
        assert_eq!(config.learning_rate(StrategyKind::FedAdagrad), 0.1);
        config.server_learning_rate = Some(0.5);
        assert_eq!(config.learning_rate(StrategyKind::FedAdam), 0.5);
    }

    #[test]
    fn validate_names_field_value_and_range() {
        type Edit = fn(&mut StrategyConfig);
        let cases: [(Edit, &str, &str); 8] = [
            (
                |c| c.server_learning_rate = Some(0.0),
                "server_learning_rate",
                "0",
            ),
            (
                |c| c.server_learning_rate = Some(f64::NAN),
                "server_learning_rate",
                "NaN",
            ),
            (|c| c.server_momentum = 1.0, "server_momentum", "1"),
            (|c| c.beta1 = -0.1, "beta1", "-0.1"),
            (|c| c.beta2 = 1.5, "beta2", "1.5"),
            (|c| c.beta2 = f64::NAN, "beta2", "NaN"),
            (|c| c.tau = 0.0, "tau", "0"),
            (|c| c.tau = f64::INFINITY, "tau", "inf"),
        ];
        for (set, field, value) in cases {
            let mut config = StrategyConfig::default();
            set(&mut config);
            let message = config.validate().unwrap_err().to_string();
            assert!(message.contains(&format!("{field} = {value}")), "{message}");
            assert!(message.contains("expected a"), "{message}");
        }
    }

    #[test]
    fn range_boundaries() {
        let config = StrategyConfig {
            server_momentum: 0.0,
            beta1: 0.0,
            beta2: 0.0,
            ..StrategyConfig::default()
        };
        assert_eq!(config.validate(), Ok(()));
        let err = StrategyConfig {
            beta1: 1.0,
            ..StrategyConfig::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid strategy setting beta1 = 1: expected a value in [0, 1)"
        );
    }

    #[test]
    fn serde_fills_defaults_and_rejects_unknown_fields() {
        let config: StrategyConfig =
            serde_json::from_str(r#"{"beta1": 0.5, "weighting": "uniform"}"#).unwrap();
        assert_eq!(config.beta1, 0.5);
        assert_eq!(config.beta2, 0.99);
        assert_eq!(config.server_learning_rate, None);
        assert_eq!(config.weighting, Weighting::Uniform);
        let err = serde_json::from_str::<StrategyConfig>(r#"{"beta3": 0.5}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `beta3`"), "{err}");
    }

    #[test]
    fn weighting_names_parse_and_reject() {
        assert_eq!("examples".parse(), Ok(Weighting::Examples));
        assert_eq!("Uniform".parse(), Ok(Weighting::Uniform));
        let err = "median".parse::<Weighting>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown weighting `median`; valid weightings: examples, uniform"
        );
    }

    #[test]
    fn uniform_weighting_keeps_zero() {
        assert_eq!(Weighting::Uniform.apply(250.0), 1.0);
        assert_eq!(Weighting::Uniform.apply(0.0), 0.0);
        assert_eq!(Weighting::Examples.apply(250.0), 250.0);
    }
}
