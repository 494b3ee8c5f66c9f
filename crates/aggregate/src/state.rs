//! Snapshots of a strategy's server state, for checkpoints: everything
//! besides the global model that a resumed run needs to continue bit for
//! bit.

use serde::{Deserialize, Serialize};

use crate::error::AggregateError;
use crate::kind::StrategyKind;

/// Buffer name of FedAvgM's momentum, in errors.
pub(crate) const MOMENTUM: &str = "momentum";
/// Buffer name of FedOpt's first moment, in errors.
pub(crate) const FIRST_MOMENT: &str = "first moment";
/// Buffer name of FedOpt's second moment, in errors.
pub(crate) const SECOND_MOMENT: &str = "second moment";
/// Buffer name of SCAFFOLD's server control variate, in errors.
pub(crate) const CONTROL_VARIATE: &str = "control variate";

/// All server optimiser state of a strategy. Each buffer is present exactly
/// when the kind uses it: `momentum` for FedAvgM, `first_moment` and
/// `second_moment` for FedAdam, FedYogi and FedAdagrad, `control_variate`
/// for SCAFFOLD. FedAvg, FedProx and FedNova keep only the round count.
/// Hyper-parameters are not included, because they come from the run's
/// configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyState {
    /// Strategy the state belongs to.
    pub kind: StrategyKind,
    /// Rounds applied successfully so far.
    pub rounds_applied: u64,
    /// FedAvgM's momentum buffer `v`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub momentum: Option<Vec<f32>>,
    /// FedOpt's first moment `m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_moment: Option<Vec<f32>>,
    /// FedOpt's second moment `v`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_moment: Option<Vec<f32>>,
    /// SCAFFOLD's server control variate `c`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_variate: Option<Vec<f32>>,
}

impl StrategyState {
    /// Checks that the snapshot fits a strategy of kind `expected` for a
    /// model of `model_len` values, where `None` accepts any length.
    ///
    /// The kind must match, and every buffer the kind uses must be present
    /// with `model_len` finite values. No other buffer may be present, and
    /// the second moment may not be negative.
    pub(crate) fn check(
        &self,
        expected: StrategyKind,
        model_len: Option<usize>,
    ) -> Result<(), AggregateError> {
        if self.kind != expected {
            return Err(AggregateError::StateKindMismatch {
                expected,
                actual: self.kind,
            });
        }
        let fedopt = matches!(
            self.kind,
            StrategyKind::FedAdam | StrategyKind::FedYogi | StrategyKind::FedAdagrad
        );
        let buffers = [
            (MOMENTUM, &self.momentum, self.kind == StrategyKind::FedAvgM),
            (FIRST_MOMENT, &self.first_moment, fedopt),
            (SECOND_MOMENT, &self.second_moment, fedopt),
            (
                CONTROL_VARIATE,
                &self.control_variate,
                self.kind == StrategyKind::Scaffold,
            ),
        ];
        for (name, buffer, used) in buffers {
            self.check_buffer(name, buffer.as_deref(), used, model_len)?;
        }
        Ok(())
    }

    fn check_buffer(
        &self,
        name: &'static str,
        buffer: Option<&[f32]>,
        used: bool,
        model_len: Option<usize>,
    ) -> Result<(), AggregateError> {
        let invalid = |problem| AggregateError::InvalidState {
            kind: self.kind,
            buffer: name,
            problem,
        };
        let values = match (buffer, used) {
            (None, false) => return Ok(()),
            (None, true) => return Err(invalid("is missing")),
            (Some(_), false) => return Err(invalid("is present but this strategy has none")),
            (Some(values), true) => values,
        };
        if let Some(expected) = model_len
            && values.len() != expected
        {
            return Err(AggregateError::StateLengthMismatch {
                buffer: name,
                expected,
                actual: values.len(),
            });
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(invalid("contains a non-finite value"));
        }
        if name == SECOND_MOMENT && values.iter().any(|&v| v < 0.0) {
            return Err(invalid("contains a negative value"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fedadam_state() -> StrategyState {
        StrategyState {
            kind: StrategyKind::FedAdam,
            rounds_applied: 3,
            momentum: None,
            first_moment: Some(vec![0.5, -0.5]),
            second_moment: Some(vec![1.0, 2.0]),
            control_variate: None,
        }
    }

    #[test]
    fn accepts_matching_state() {
        assert_eq!(
            fedadam_state().check(StrategyKind::FedAdam, Some(2)),
            Ok(())
        );
    }

    #[test]
    fn rejects_other_kind() {
        let err = fedadam_state()
            .check(StrategyKind::FedYogi, Some(2))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot restore fedadam state into a fedyogi strategy"
        );
    }

    #[test]
    fn rejects_wrong_length() {
        let err = fedadam_state()
            .check(StrategyKind::FedAdam, Some(3))
            .unwrap_err();
        assert_eq!(
            err,
            AggregateError::StateLengthMismatch {
                buffer: FIRST_MOMENT,
                expected: 3,
                actual: 2
            }
        );
    }

    #[test]
    fn rejects_missing_extra_and_bad_buffers() {
        type Corrupt = fn(&mut StrategyState);
        let cases: [(Corrupt, &str); 4] = [
            (|s| s.second_moment = None, "second moment is missing"),
            (
                |s| s.control_variate = Some(vec![0.0; 2]),
                "control variate is present",
            ),
            (
                |s| s.first_moment = Some(vec![f32::NAN, 0.0]),
                "first moment contains a non-finite value",
            ),
            (
                |s| s.second_moment = Some(vec![-1.0, 0.0]),
                "second moment contains a negative value",
            ),
        ];
        for (corrupt, message) in cases {
            let mut state = fedadam_state();
            corrupt(&mut state);
            let err = state.check(StrategyKind::FedAdam, Some(2)).unwrap_err();
            assert!(err.to_string().contains(message), "{err}");
        }
    }

    #[test]
    fn json_omits_unused_buffers() {
        let state = StrategyState {
            kind: StrategyKind::FedNova,
            rounds_applied: 4,
            momentum: None,
            first_moment: None,
            second_moment: None,
            control_variate: None,
        };
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(json, r#"{"kind":"fednova","rounds_applied":4}"#);
        assert_eq!(serde_json::from_str::<StrategyState>(&json).unwrap(), state);
    }
}
