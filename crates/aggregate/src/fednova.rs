//! FedNova (Wang et al. 2020, "Tackling the Objective Inconsistency Problem
//! in Heterogeneous Federated Optimization"): each client's delta is divided
//! by its normalising factor `a_i` before averaging, so a client that took
//! more local steps does not pull the model further. The combined update is
//!
//! ```text
//! d_i       = delta_i / a_i                  (0 when a_i = 0)
//! tau_eff   = sum_i p_i * a_i
//! combined  = tau_eff * sum_i p_i * d_i
//! ```
//!
//! and the server applies `x <- x + lr * combined`. For plain local SGD
//! `a_i = tau_i`, the client's step count. With local momentum `rho`,
//! `a_i = [tau_i - rho * (1 - rho^tau_i) / (1 - rho)] / (1 - rho)`, the sum
//! of the weights momentum SGD puts on the `tau_i` gradients.

use crate::mean::{ClientContribution, scaled_sum_into};

/// Returns the normalising factor `a_i` for `steps` local steps of SGD with
/// momentum `rho` in [0, 1).
pub(crate) fn normalising_factor(steps: u32, rho: f64) -> f64 {
    let tau = f64::from(steps);
    if rho == 0.0 {
        return tau;
    }
    let geometric = rho * (1.0 - rho.powf(tau)) / (1.0 - rho);
    (tau - geometric) / (1.0 - rho)
}

/// Writes FedNova's combined update into `out`. `probabilities` are the
/// `p_i` of the updates, which have been checked against `out.len()`.
pub(crate) fn combine_into(
    updates: &[ClientContribution<'_>],
    probabilities: &[f64],
    rho: f64,
    out: &mut [f32],
) {
    let factors: Vec<f64> = updates
        .iter()
        .map(|update| normalising_factor(update.local_steps, rho))
        .collect();
    let tau_eff: f64 = probabilities.iter().zip(&factors).map(|(p, a)| p * a).sum();
    let terms: Vec<(f32, &[f32])> = updates
        .iter()
        .zip(probabilities)
        .zip(&factors)
        .map(|((update, &p), &a)| {
            let scale = if a > 0.0 { tau_eff * p / a } else { 0.0 };
            (scale as f32, update.delta)
        })
        .collect();
    scaled_sum_into(&terms, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(local_steps: u32, delta: &[f32]) -> ClientContribution<'_> {
        ClientContribution {
            client_id: "c",
            weight: 1.0,
            local_steps,
            delta,
            control_delta: None,
        }
    }

    #[test]
    fn plain_sgd_factor_is_step_count() {
        for steps in [0, 1, 7, 100] {
            assert_eq!(normalising_factor(steps, 0.0), f64::from(steps));
        }
    }

    #[test]
    fn momentum_factor_by_hand() {
        // rho = 0.5, tau = 2: gradient 0 is weighted 1 + rho = 1.5 over the
        // two steps and gradient 1 is weighted 1, so a = 2.5. The formula:
        // [2 - 0.5 * (1 - 0.25) / 0.5] / 0.5 = (2 - 0.75) / 0.5 = 2.5.
        assert!((normalising_factor(2, 0.5) - 2.5).abs() < 1e-12);
        // One step is one gradient, whatever the momentum.
        assert!((normalising_factor(1, 0.9) - 1.0).abs() < 1e-12);
        assert_eq!(normalising_factor(0, 0.9), 0.0);
    }

    #[test]
    fn four_times_the_steps_does_not_dominate() {
        // Equal weights, so p = 0.5 each. Client a: 1 step, delta [1, 1].
        // Client b: 4 steps, delta [-4, 8].
        // d_a = [1, 1], d_b = [-1, 2], tau_eff = 0.5 * 1 + 0.5 * 4 = 2.5,
        // combined = 2.5 * (0.5 * [1, 1] + 0.5 * [-1, 2]) = [0, 3.75].
        // The plain mean would be [-1.5, 4.5], dominated by client b.
        let a = [1.0, 1.0];
        let b = [-4.0, 8.0];
        let mut out = [0.0; 2];
        combine_into(&[update(1, &a), update(4, &b)], &[0.5, 0.5], 0.0, &mut out);
        assert_eq!(out, [0.0, 3.75]);
    }

    #[test]
    fn zero_steps_contributes_no_direction() {
        // a_b = 0, so d_b = 0; tau_eff = 0.5 * 2 + 0.5 * 0 = 1 and
        // combined = 1 * 0.5 * [4] / 2 = [1].
        let a = [4.0];
        let b = [100.0];
        let mut out = [0.0];
        combine_into(&[update(2, &a), update(0, &b)], &[0.5, 0.5], 0.0, &mut out);
        assert_eq!(out, [1.0]);
    }
}
