//! FedAvgM (Hsu et al. 2019, "Measuring the Effects of Non-Identical Data
//! Distribution for Federated Visual Classification"): server momentum on
//! the round's combined update,
//!
//! ```text
//! v <- beta * v + combined
//! x <- x + lr * v
//! ```
//!
//! with `v` starting at 0.

use crate::error::AggregateError;
use crate::plain::{non_finite, squared_change};

/// FedAvgM's server step and its momentum buffer.
#[derive(Clone, Debug)]
pub(crate) struct Momentum {
    /// Server learning rate η.
    pub learning_rate: f64,
    /// Momentum β.
    pub beta: f64,
    /// The momentum buffer `v`, one value per parameter.
    pub velocity: Vec<f32>,
}

impl Momentum {
    /// Starts with a zero momentum buffer for `len` parameters.
    pub fn new(learning_rate: f64, beta: f64, len: usize) -> Self {
        Self {
            learning_rate,
            beta,
            velocity: vec![0.0; len],
        }
    }

    /// Updates the momentum buffer and `global` from the round's combined
    /// update and returns the squared L2 norm of the model step. Nothing is
    /// written unless every new value is finite.
    pub fn apply(&mut self, global: &mut [f32], combined: &[f32]) -> Result<f64, AggregateError> {
        let (lr, beta) = (self.learning_rate, self.beta);
        let next = |x: f32, v: f32, d: f32| {
            let v = beta * f64::from(v) + f64::from(d);
            ((f64::from(x) + lr * v) as f32, v as f32)
        };

        for (index, ((&x, &v), &d)) in global.iter().zip(&self.velocity).zip(combined).enumerate() {
            let (x, v) = next(x, v, d);
            if !v.is_finite() {
                return Err(non_finite("momentum", index));
            }
            if !x.is_finite() {
                return Err(non_finite("model", index));
            }
        }

        let mut step_squared = 0.0;
        for ((x, v), &d) in global.iter_mut().zip(&mut self.velocity).zip(combined) {
            let (new_x, new_v) = next(*x, *v, d);
            step_squared += squared_change(*x, new_x);
            *x = new_x;
            *v = new_v;
        }
        Ok(step_squared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_rounds_by_hand() {
        // beta = 0.9, lr = 1, x0 = 0.
        // Round 1, combined = 1: v1 = 0.9 * 0 + 1 = 1, x1 = 0 + 1 = 1.
        // Round 2, combined = 2: v2 = 0.9 * 1 + 2 = 2.9, x2 = 1 + 2.9 = 3.9.
        let mut momentum = Momentum::new(1.0, 0.9, 1);
        let mut global = [0.0];
        momentum.apply(&mut global, &[1.0]).unwrap();
        assert_eq!(momentum.velocity, [1.0]);
        assert_eq!(global, [1.0]);
        momentum.apply(&mut global, &[2.0]).unwrap();
        assert!((momentum.velocity[0] - 2.9).abs() < 1e-6);
        assert!((global[0] - 3.9).abs() < 1e-6);
    }

    #[test]
    fn learning_rate_scales_velocity() {
        // lr = 0.5: v1 = 2, x1 = 0.5 * 2 = 1.
        let mut momentum = Momentum::new(0.5, 0.9, 1);
        let mut global = [0.0];
        let step = momentum.apply(&mut global, &[2.0]).unwrap();
        assert_eq!(global, [1.0]);
        assert_eq!(momentum.velocity, [2.0]);
        assert_eq!(step, 1.0);
    }

    #[test]
    fn overflow_leaves_buffer_and_model() {
        let mut momentum = Momentum::new(1.0, 0.9, 2);
        momentum.velocity = vec![1.0, f32::MAX];
        let mut global = [5.0, 5.0];
        let err = momentum.apply(&mut global, &[1.0, f32::MAX]).unwrap_err();
        assert_eq!(err, non_finite("momentum", 1));
        assert_eq!(global, [5.0, 5.0]);
        assert_eq!(momentum.velocity, [1.0, f32::MAX]);
    }
}
