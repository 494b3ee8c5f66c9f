//! FedAdagrad, FedYogi and FedAdam (Reddi et al. 2021, "Adaptive Federated
//! Optimization", Algorithm 2): an adaptive server optimiser on the round's
//! combined update `d`, without bias correction.
//!
//! ```text
//! m <- beta1 * m + (1 - beta1) * d
//! v <- v + d^2                                      (FedAdagrad)
//! v <- v - (1 - beta2) * d^2 * sign(v - d^2)        (FedYogi)
//! v <- beta2 * v + (1 - beta2) * d^2                (FedAdam)
//! x <- x + lr * m / (sqrt(v) + tau)
//! ```
//!
//! `m` starts at 0 and `v` at `tau^2`. The paper only requires an initial
//! `v >= tau^2`, and `tau^2` is the smallest such value. FedAdagrad ignores
//! `beta2`. Moments are stored in `f32` and each step is computed in `f64`.

use crate::error::AggregateError;
use crate::plain::{non_finite, squared_change};

/// The second-moment update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SecondMoment {
    /// `v <- v + d^2`.
    Adagrad,
    /// `v <- v - (1 - beta2) * d^2 * sign(v - d^2)`.
    Yogi,
    /// `v <- beta2 * v + (1 - beta2) * d^2`.
    Adam,
}

/// FedOpt's hyper-parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FedOptParams {
    /// Server learning rate η.
    pub learning_rate: f64,
    /// First-moment decay β1.
    pub beta1: f64,
    /// Second-moment decay β2 (FedAdam and FedYogi).
    pub beta2: f64,
    /// Adaptivity τ.
    pub tau: f64,
}

/// A FedOpt server optimiser and its moment estimates.
#[derive(Clone, Debug)]
pub(crate) struct FedOpt {
    /// The second-moment rule.
    pub rule: SecondMoment,
    /// Hyper-parameters.
    pub params: FedOptParams,
    /// First moment `m`, one value per parameter.
    pub first_moment: Vec<f32>,
    /// Second moment `v`, one value per parameter.
    pub second_moment: Vec<f32>,
}

impl FedOpt {
    /// Starts with `m = 0` and `v = tau^2` for `len` parameters.
    pub fn new(rule: SecondMoment, params: FedOptParams, len: usize) -> Self {
        Self {
            rule,
            params,
            first_moment: vec![0.0; len],
            second_moment: vec![(params.tau * params.tau) as f32; len],
        }
    }

    /// Returns the new `(x, m, v)` of one parameter.
    fn next(&self, x: f32, m: f32, v: f32, d: f32) -> (f32, f32, f32) {
        let FedOptParams {
            learning_rate,
            beta1,
            beta2,
            tau,
        } = self.params;
        let (x, m, v, d) = (f64::from(x), f64::from(m), f64::from(v), f64::from(d));
        let d2 = d * d;
        let m = beta1 * m + (1.0 - beta1) * d;
        let v = match self.rule {
            SecondMoment::Adagrad => v + d2,
            SecondMoment::Yogi => v - (1.0 - beta2) * d2 * sign(v - d2),
            SecondMoment::Adam => beta2 * v + (1.0 - beta2) * d2,
        };
        let x = x + learning_rate * m / (v.sqrt() + tau);
        (x as f32, m as f32, v as f32)
    }

    /// Updates both moments and `global` from the round's combined update
    /// and returns the squared L2 norm of the model step. Nothing is written
    /// unless every new value is finite.
    pub fn apply(&mut self, global: &mut [f32], combined: &[f32]) -> Result<f64, AggregateError> {
        let old = global
            .iter()
            .zip(&self.first_moment)
            .zip(&self.second_moment)
            .zip(combined);
        for (index, (((&x, &m), &v), &d)) in old.enumerate() {
            let (x, m, v) = self.next(x, m, v, d);
            if !m.is_finite() {
                return Err(non_finite("first moment", index));
            }
            if !v.is_finite() {
                return Err(non_finite("second moment", index));
            }
            if !x.is_finite() {
                return Err(non_finite("model", index));
            }
        }

        let mut step_squared = 0.0;
        for index in 0..global.len() {
            let (x, m, v) = self.next(
                global[index],
                self.first_moment[index],
                self.second_moment[index],
                combined[index],
            );
            step_squared += squared_change(global[index], x);
            global[index] = x;
            self.first_moment[index] = m;
            self.second_moment[index] = v;
        }
        Ok(step_squared)
    }
}

/// The sign function with `sign(0) = 0`, unlike [`f64::signum`].
fn sign(value: f64) -> f64 {
    if value > 0.0 {
        1.0
    } else if value < 0.0 {
        -1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: FedOptParams = FedOptParams {
        learning_rate: 0.1,
        beta1: 0.9,
        beta2: 0.99,
        tau: 1e-3,
    };

    fn close(actual: f32, expected: f64) {
        assert!(
            (f64::from(actual) - expected).abs() < 1e-6,
            "{actual} vs {expected}"
        );
    }

    /// Runs two rounds from `x0 = 0` with combined updates 1 and then -2,
    /// and checks `(m, v, x)` after each.
    fn two_rounds(rule: SecondMoment, after_1: [f64; 3], after_2: [f64; 3]) {
        let mut opt = FedOpt::new(rule, PARAMS, 1);
        let mut global = [0.0];
        for (d, [m, v, x]) in [(1.0, after_1), (-2.0, after_2)] {
            opt.apply(&mut global, &[d]).unwrap();
            close(opt.first_moment[0], m);
            close(opt.second_moment[0], v);
            close(global[0], x);
        }
    }

    #[test]
    fn starts_at_zero_and_tau_squared() {
        let opt = FedOpt::new(SecondMoment::Adam, PARAMS, 3);
        assert_eq!(opt.first_moment, [0.0; 3]);
        assert_eq!(opt.second_moment, [1e-6f32; 3]);
    }

    #[test]
    fn fedadam_by_hand() {
        // v0 = tau^2 = 1e-6.
        // Round 1, d = 1:
        //   m1 = 0.1 * 1 = 0.1
        //   v1 = 0.99 * 1e-6 + 0.01 * 1 = 0.01000099
        //   x1 = 0.1 * 0.1 / (sqrt(0.01000099) + 0.001)
        //      = 0.01 / (0.1000049499 + 0.001) = 0.0990050489
        // Round 2, d = -2:
        //   m2 = 0.9 * 0.1 + 0.1 * -2 = -0.11
        //   v2 = 0.99 * 0.01000099 + 0.01 * 4 = 0.0499009801
        //   x2 = 0.0990050489 + 0.1 * -0.11 / (sqrt(0.0499009801) + 0.001)
        //      = 0.0990050489 - 0.011 / 0.2243854 = 0.0499822237
        two_rounds(
            SecondMoment::Adam,
            [0.1, 0.01000099, 0.0990050489],
            [-0.11, 0.0499009801, 0.0499822237],
        );
    }

    #[test]
    fn fedyogi_by_hand() {
        // Round 1, d = 1: sign(1e-6 - 1) = -1, so
        //   v1 = 1e-6 + 0.01 * 1 = 0.010001
        //   x1 = 0.01 / (sqrt(0.010001) + 0.001) = 0.0990049999
        // Round 2, d = -2: sign(0.010001 - 4) = -1, so
        //   v2 = 0.010001 + 0.01 * 4 = 0.050001
        //   x2 = 0.0990049999 - 0.011 / (sqrt(0.050001) + 0.001)
        //      = 0.0990049999 - 0.011 / 0.2246091 = 0.0500310124
        two_rounds(
            SecondMoment::Yogi,
            [0.1, 0.010001, 0.0990049999],
            [-0.11, 0.050001, 0.0500310124],
        );
    }

    #[test]
    fn fedyogi_shrinks_v_when_above_d_squared() {
        // v = 4, d = 1: sign(4 - 1) = 1, so v' = 4 - 0.01 * 1 = 3.99.
        let mut opt = FedOpt::new(SecondMoment::Yogi, PARAMS, 1);
        opt.second_moment = vec![4.0];
        opt.apply(&mut [0.0], &[1.0]).unwrap();
        close(opt.second_moment[0], 3.99);
    }

    #[test]
    fn fedadagrad_by_hand() {
        // Round 1, d = 1:
        //   v1 = 1e-6 + 1 = 1.000001
        //   x1 = 0.01 / (sqrt(1.000001) + 0.001) = 0.0099900050
        // Round 2, d = -2:
        //   v2 = 1.000001 + 4 = 5.000001
        //   x2 = 0.0099900050 - 0.011 / (sqrt(5.000001) + 0.001)
        //      = 0.0099900050 - 0.011 / 2.2370682 = 0.0050728550
        two_rounds(
            SecondMoment::Adagrad,
            [0.1, 1.000001, 0.0099900050],
            [-0.11, 5.000001, 0.0050728550],
        );
    }

    #[test]
    fn sign_of_zero_is_zero() {
        assert_eq!(sign(0.0), 0.0);
        assert_eq!(sign(-0.0), 0.0);
        assert_eq!(sign(2.0), 1.0);
        assert_eq!(sign(-2.0), -1.0);
    }

    #[test]
    fn overflow_leaves_moments_and_model() {
        let mut opt = FedOpt::new(SecondMoment::Adam, PARAMS, 2);
        let mut global = [1.0, 1.0];
        // (1 - beta2) * d^2 = 0.01 * 1e42 exceeds f32::MAX, so the second
        // moment overflows.
        let err = opt.apply(&mut global, &[1.0, 1e21]).unwrap_err();
        assert_eq!(err, non_finite("second moment", 1));
        assert_eq!(global, [1.0, 1.0]);
        assert_eq!(opt.first_moment, [0.0, 0.0]);
        assert_eq!(opt.second_moment, [1e-6f32, 1e-6]);
    }
}
