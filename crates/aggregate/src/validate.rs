//! Checks on a round's client updates. They run before anything is
//! computed, so a rejected round reads no delta and changes nothing.

use crate::config::Weighting;
use crate::error::AggregateError;
use crate::kind::StrategyKind;
use crate::mean::ClientContribution;

/// A round's updates after validation.
#[derive(Debug)]
pub(crate) struct CheckedRound {
    /// `p_i = w_i / sum_j w_j` for each update, after [`Weighting`].
    pub probabilities: Vec<f64>,
    /// `sum_j w_j`, after [`Weighting`].
    pub total_weight: f64,
}

/// Validates every update against a model of `len` values and returns the
/// normalised weights.
///
/// Rejects an empty round, a weight that is negative or not finite, and a
/// delta of the wrong length. Rejects a control-variate delta that is
/// missing, unexpected, of the wrong length or not finite. Rejects a
/// SCAFFOLD `population` below the number of updates, and a round whose
/// weights are all 0.
pub(crate) fn check_round(
    kind: StrategyKind,
    weighting: Weighting,
    updates: &[ClientContribution<'_>],
    len: usize,
    population: usize,
) -> Result<CheckedRound, AggregateError> {
    if updates.is_empty() {
        return Err(AggregateError::NoUpdates);
    }
    for update in updates {
        check_update(kind, update, len)?;
    }
    if kind.needs_control() && population < updates.len() {
        return Err(AggregateError::PopulationTooSmall {
            population,
            updates: updates.len(),
        });
    }

    let weights: Vec<f64> = updates
        .iter()
        .map(|update| weighting.apply(update.weight))
        .collect();
    let total_weight: f64 = weights.iter().sum();
    if total_weight == 0.0 {
        return Err(AggregateError::ZeroTotalWeight {
            count: updates.len(),
        });
    }
    Ok(CheckedRound {
        probabilities: weights.iter().map(|w| w / total_weight).collect(),
        total_weight,
    })
}

fn check_update(
    kind: StrategyKind,
    update: &ClientContribution<'_>,
    len: usize,
) -> Result<(), AggregateError> {
    let client = || update.client_id.to_owned();
    if !update.weight.is_finite() || update.weight < 0.0 {
        return Err(AggregateError::InvalidWeight {
            client: client(),
            weight: update.weight,
        });
    }
    if update.delta.len() != len {
        return Err(AggregateError::LengthMismatch {
            client: client(),
            expected: len,
            actual: update.delta.len(),
        });
    }
    match (kind.needs_control(), update.control_delta) {
        (true, None) => Err(AggregateError::MissingControlDelta { client: client() }),
        (false, Some(_)) => Err(AggregateError::UnexpectedControlDelta {
            client: client(),
            kind,
        }),
        (false, None) => Ok(()),
        (true, Some(control)) => {
            if control.len() != len {
                return Err(AggregateError::ControlLengthMismatch {
                    client: client(),
                    expected: len,
                    actual: control.len(),
                });
            }
            match control.iter().position(|v| !v.is_finite()) {
                Some(index) => Err(AggregateError::NonFiniteControlDelta {
                    client: client(),
                    index,
                    value: control[index],
                }),
                None => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update<'a>(
        weight: f64,
        delta: &'a [f32],
        control_delta: Option<&'a [f32]>,
    ) -> ClientContribution<'a> {
        ClientContribution {
            client_id: "c1",
            weight,
            local_steps: 1,
            delta,
            control_delta,
        }
    }

    #[test]
    fn probabilities_follow_weighting() {
        let delta = [0.0; 2];
        let updates = [
            update(3.0, &delta, None),
            update(1.0, &delta, None),
            update(0.0, &delta, None),
        ];
        let examples =
            check_round(StrategyKind::FedAvg, Weighting::Examples, &updates, 2, 0).unwrap();
        assert_eq!(examples.probabilities, [0.75, 0.25, 0.0]);
        assert_eq!(examples.total_weight, 4.0);
        let uniform =
            check_round(StrategyKind::FedAvg, Weighting::Uniform, &updates, 2, 0).unwrap();
        assert_eq!(uniform.probabilities, [0.5, 0.5, 0.0]);
        assert_eq!(uniform.total_weight, 2.0);
    }

    #[test]
    fn uniform_rejects_bad_weight_before_mapping() {
        let delta = [0.0];
        let updates = [update(-2.0, &delta, None)];
        let err = check_round(StrategyKind::FedAvg, Weighting::Uniform, &updates, 1, 0);
        assert!(matches!(err, Err(AggregateError::InvalidWeight { .. })));
    }

    #[test]
    fn scaffold_control_checks() {
        let delta = [0.0; 2];
        let short = [0.0];
        let nan = [0.0, f32::NAN];
        let good = [1.0, 2.0];
        let run = |control: Option<&[f32]>, population: usize| {
            check_round(
                StrategyKind::Scaffold,
                Weighting::Examples,
                &[update(1.0, &delta, control)],
                2,
                population,
            )
        };
        assert_eq!(
            run(None, 1).unwrap_err(),
            AggregateError::MissingControlDelta {
                client: "c1".to_owned()
            }
        );
        assert_eq!(
            run(Some(&short), 1).unwrap_err(),
            AggregateError::ControlLengthMismatch {
                client: "c1".to_owned(),
                expected: 2,
                actual: 1
            }
        );
        assert!(matches!(
            run(Some(&nan), 1).unwrap_err(),
            AggregateError::NonFiniteControlDelta { index: 1, .. }
        ));
        assert_eq!(
            run(Some(&good), 0).unwrap_err(),
            AggregateError::PopulationTooSmall {
                population: 0,
                updates: 1
            }
        );
        assert!(run(Some(&good), 1).is_ok());
    }

    #[test]
    fn control_delta_rejected_outside_scaffold() {
        let delta = [0.0];
        let updates = [update(1.0, &delta, Some(&delta))];
        for kind in StrategyKind::ALL.into_iter().filter(|k| !k.needs_control()) {
            let err = check_round(kind, Weighting::Examples, &updates, 1, 1).unwrap_err();
            assert_eq!(
                err,
                AggregateError::UnexpectedControlDelta {
                    client: "c1".to_owned(),
                    kind
                }
            );
        }
    }

    #[test]
    fn population_ignored_outside_scaffold() {
        let delta = [0.0];
        let updates = [update(1.0, &delta, None), update(1.0, &delta, None)];
        assert!(check_round(StrategyKind::FedAvg, Weighting::Examples, &updates, 1, 0).is_ok());
    }
}
