//! The averaging server step shared by FedAvg, FedProx and FedNova:
//! `x <- x + lr * combined`, where `combined` is the round's combined client
//! update. With `lr = 1` this is McMahan et al. 2017's FedAvg exactly.

use crate::error::AggregateError;

/// The stateless server step.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plain {
    /// Server learning rate η.
    pub learning_rate: f64,
}

impl Plain {
    /// Moves `global` by `learning_rate * combined` and returns the squared
    /// L2 norm of the applied step. A result that is not finite is rejected
    /// before any value is written.
    pub fn apply(&self, global: &mut [f32], combined: &[f32]) -> Result<f64, AggregateError> {
        let lr = self.learning_rate;
        let next = |x: f32, d: f32| (f64::from(x) + lr * f64::from(d)) as f32;

        let bad = global
            .iter()
            .zip(combined)
            .position(|(&x, &d)| !next(x, d).is_finite());
        if let Some(index) = bad {
            return Err(non_finite("model", index));
        }

        let mut step_squared = 0.0;
        for (x, &d) in global.iter_mut().zip(combined) {
            let new = next(*x, d);
            step_squared += squared_change(*x, new);
            *x = new;
        }
        Ok(step_squared)
    }
}

/// Returns the error for the first non-finite value of a round's result.
pub(crate) fn non_finite(buffer: &'static str, index: usize) -> AggregateError {
    AggregateError::NonFiniteResult { buffer, index }
}

/// Returns `(new - old)^2` in `f64`, for the step norm.
pub(crate) fn squared_change(old: f32, new: f32) -> f64 {
    let change = f64::from(new) - f64::from(old);
    change * change
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_scaled_update() {
        let mut global = [1.0, 2.0];
        let step = Plain { learning_rate: 0.5 }
            .apply(&mut global, &[2.0, -2.0])
            .unwrap();
        assert_eq!(global, [2.0, 1.0]);
        assert_eq!(step, 2.0);
    }

    #[test]
    fn overflow_leaves_model() {
        let mut global = [1.0, f32::MAX];
        let err = Plain { learning_rate: 1.0 }
            .apply(&mut global, &[1.0, f32::MAX])
            .unwrap_err();
        assert_eq!(err, non_finite("model", 1));
        assert_eq!(global, [1.0, f32::MAX]);
    }
}
