//! SCAFFOLD's server step (Karimireddy et al. 2020, "SCAFFOLD: Stochastic
//! Controlled Averaging for Federated Learning", Algorithm 1). Clients
//! correct each local step by `c - c_i` and, with option II, set
//! `c_i+ = c_i - c + (x - y_i) / (K * lr_local)`; they send the model delta
//! `dy_i` and the control delta `dc_i = c_i+ - c_i`. The server then applies
//!
//! ```text
//! x <- x + lr * sum_{i in S} p_i * dy_i
//! c <- c + (1 / N) * sum_{i in S} dc_i
//! ```
//!
//! where `S` is the round's sampled clients and `N` the whole population,
//! so `c` moves by `|S| / N` times the plain mean of the control deltas.
//! `c` starts at 0.

use crate::error::AggregateError;
use crate::mean::{ClientContribution, scaled_sum_into};
use crate::plain::{non_finite, squared_change};

/// SCAFFOLD's server step and its control variate.
#[derive(Clone, Debug)]
pub(crate) struct Scaffold {
    /// Server learning rate η.
    pub learning_rate: f64,
    /// Server control variate `c`, one value per parameter.
    pub control: Vec<f32>,
}

impl Scaffold {
    /// Starts with `c = 0` for `len` parameters.
    pub fn new(learning_rate: f64, len: usize) -> Self {
        Self {
            learning_rate,
            control: vec![0.0; len],
        }
    }

    /// Moves `global` by `lr * combined` and `c` by `control_change`, and
    /// returns the squared L2 norm of the model step. Nothing is written
    /// unless every new value is finite.
    pub fn apply(
        &mut self,
        global: &mut [f32],
        combined: &[f32],
        control_change: &[f32],
    ) -> Result<f64, AggregateError> {
        let lr = self.learning_rate;
        let next_x = |x: f32, d: f32| (f64::from(x) + lr * f64::from(d)) as f32;
        let next_c = |c: f32, dc: f32| (f64::from(c) + f64::from(dc)) as f32;

        let old = global
            .iter()
            .zip(combined)
            .zip(&self.control)
            .zip(control_change);
        for (index, (((&x, &d), &c), &dc)) in old.enumerate() {
            if !next_x(x, d).is_finite() {
                return Err(non_finite("model", index));
            }
            if !next_c(c, dc).is_finite() {
                return Err(non_finite("control variate", index));
            }
        }

        let mut step_squared = 0.0;
        for (x, &d) in global.iter_mut().zip(combined) {
            let new = next_x(*x, d);
            step_squared += squared_change(*x, new);
            *x = new;
        }
        for (c, &dc) in self.control.iter_mut().zip(control_change) {
            *c = next_c(*c, dc);
        }
        Ok(step_squared)
    }
}

/// Writes `(1 / population) * sum_i dc_i` over every update into `out`.
/// Every update counts, whatever its weight, because SCAFFOLD averages the
/// control deltas uniformly. The caller has checked that each update carries
/// a control delta of `out.len()` values and that `population >=
/// updates.len() >= 1`.
pub(crate) fn control_change_into(
    updates: &[ClientContribution<'_>],
    population: usize,
    out: &mut [f32],
) {
    let scale = (1.0 / population as f64) as f32;
    let terms: Vec<(f32, &[f32])> = updates
        .iter()
        .filter_map(|update| update.control_delta)
        .map(|control| (scale, control))
        .collect();
    scaled_sum_into(&terms, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_change_is_sum_over_population() {
        let a = [0.4, 0.0];
        let b = [0.0, -0.8];
        let delta = [0.0; 2];
        let updates = [
            ClientContribution {
                client_id: "a",
                weight: 1.0,
                local_steps: 1,
                delta: &delta,
                control_delta: Some(&a),
            },
            ClientContribution {
                client_id: "b",
                weight: 0.0,
                local_steps: 1,
                delta: &delta,
                control_delta: Some(&b),
            },
        ];
        // (1 / 4) * ([0.4, 0] + [0, -0.8]) = [0.1, -0.2], because the
        // weight-0 client still counts.
        let mut out = [9.0; 2];
        control_change_into(&updates, 4, &mut out);
        assert_eq!(out, [0.1, -0.2]);
    }

    #[test]
    fn overflow_leaves_control_and_model() {
        let mut scaffold = Scaffold::new(1.0, 2);
        scaffold.control = vec![0.0, f32::MAX];
        let mut global = [1.0, 1.0];
        let err = scaffold
            .apply(&mut global, &[1.0, 1.0], &[0.0, f32::MAX])
            .unwrap_err();
        assert_eq!(err, non_finite("control variate", 1));
        assert_eq!(global, [1.0, 1.0]);
        assert_eq!(scaffold.control, [0.0, f32::MAX]);
    }
}
