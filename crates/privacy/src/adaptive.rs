//! Adaptive clipping (Andrew et al. 2021, "Differentially Private Learning
//! with Adaptive Clipping"): the clipping norm follows a target quantile γ
//! of the clients' update norms. Each round the server counts the clients
//! whose update was not clipped, adds Gaussian noise to the count, divides
//! by the expected number of clients to get b̄, and sets
//! C ← C · exp(−η (b̄ − γ)). When more than a fraction γ fit under C, b̄ > γ
//! and C shrinks; when fewer fit, it grows.

use crate::error::PrivacyError;

/// The clipping norm and how it adapts.
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptiveClipping {
    clip_norm: f64,
    target_quantile: f64,
    learning_rate: f64,
}

impl AdaptiveClipping {
    /// Starts at `clip_norm`, aiming at the `target_quantile` (γ, in [0, 1])
    /// of update norms, with geometric step `learning_rate` (η > 0).
    pub fn new(
        clip_norm: f64,
        target_quantile: f64,
        learning_rate: f64,
    ) -> Result<Self, PrivacyError> {
        if !(clip_norm.is_finite() && clip_norm > 0.0) {
            return Err(PrivacyError::InvalidClipNorm(clip_norm));
        }
        if !(0.0..=1.0).contains(&target_quantile) {
            return Err(PrivacyError::InvalidAdaptiveParameter {
                name: "target quantile",
                value: target_quantile,
                expected: "expected a value in [0, 1]",
            });
        }
        if !(learning_rate.is_finite() && learning_rate > 0.0) {
            return Err(PrivacyError::InvalidAdaptiveParameter {
                name: "learning rate",
                value: learning_rate,
                expected: "expected a finite value greater than 0",
            });
        }
        Ok(Self {
            clip_norm,
            target_quantile,
            learning_rate,
        })
    }

    /// Returns the current clipping norm C.
    pub fn clip_norm(&self) -> f64 {
        self.clip_norm
    }

    /// Updates C after a round in which `unclipped` clients had an update
    /// norm at most C. `count_noise` is the Gaussian noise the server drew
    /// for the count (0 without privacy for the count), and
    /// `expected_clients` the expected cohort size (q times the population,
    /// never the realised one). Returns the new C.
    pub fn update(
        &mut self,
        unclipped: usize,
        count_noise: f64,
        expected_clients: f64,
    ) -> Result<f64, PrivacyError> {
        if !(expected_clients.is_finite() && expected_clients > 0.0) {
            return Err(PrivacyError::InvalidAdaptiveParameter {
                name: "expected clients",
                value: expected_clients,
                expected: "expected a finite value greater than 0",
            });
        }
        let fraction = (unclipped as f64 + count_noise) / expected_clients;
        self.clip_norm *= (-self.learning_rate * (fraction - self.target_quantile)).exp();
        Ok(self.clip_norm)
    }
}

/// The noise multiplier left for the updates when the unclipped count gets
/// Gaussian noise of standard deviation `count_stddev` (in counts) and the
/// round as a whole must match `noise_multiplier` z: the two queries
/// together are one Gaussian mechanism when
/// z_Δ = (z⁻² − (2 σ_b)⁻²)^(−1/2) (Andrew et al. 2021, Theorem 1).
pub fn update_noise_multiplier(
    noise_multiplier: f64,
    count_stddev: f64,
) -> Result<f64, PrivacyError> {
    if !(noise_multiplier.is_finite() && noise_multiplier > 0.0) {
        return Err(PrivacyError::InvalidNoiseMultiplier(noise_multiplier));
    }
    let budget = noise_multiplier.powi(-2) - (2.0 * count_stddev).powi(-2);
    if !(count_stddev.is_finite() && budget > 0.0) {
        return Err(PrivacyError::InvalidAdaptiveParameter {
            name: "count noise standard deviation",
            value: count_stddev,
            expected: "expected a finite value above 1 / (2 z), so that some noise is left for the updates",
        });
    }
    Ok(budget.powf(-0.5))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100 update norms spread evenly over [1, 3] (median 2) in a fixed,
    /// well-mixed order: 1 + 2 · frac(i · golden ratio).
    fn norms(round: usize) -> Vec<f64> {
        (0..100)
            .map(|i| {
                let x = ((round * 100 + i) as f64 * 0.618_033_988_749_895).fract();
                1.0 + 2.0 * x
            })
            .collect()
    }

    fn run(start: f64) -> f64 {
        let mut adaptive = AdaptiveClipping::new(start, 0.5, 0.2).unwrap();
        for round in 0..400 {
            let c = adaptive.clip_norm();
            let unclipped = norms(round).iter().filter(|&&n| n <= c).count();
            adaptive.update(unclipped, 0.0, 100.0).unwrap();
        }
        adaptive.clip_norm()
    }

    #[test]
    fn adaptive_converges_to_the_median_from_above() {
        let c = run(100.0);
        assert!((c - 2.0).abs() < 0.1, "C = {c}");
    }

    #[test]
    fn adaptive_converges_to_the_median_from_below() {
        let c = run(0.01);
        assert!((c - 2.0).abs() < 0.1, "C = {c}");
    }

    #[test]
    fn adaptive_step_direction() {
        // Everyone under C: b̄ = 1 > γ = 0.5, so C shrinks by exp(-0.2 · 0.5).
        let mut adaptive = AdaptiveClipping::new(1.0, 0.5, 0.2).unwrap();
        let c = adaptive.update(10, 0.0, 10.0).unwrap();
        assert!((c - (-0.1f64).exp()).abs() < 1e-12);
        // No client under C: it grows by exp(0.2 · 0.5).
        let c = adaptive.update(0, 0.0, 10.0).unwrap();
        assert!((c - 1.0).abs() < 1e-12);
    }

    #[test]
    fn adaptive_rejects_bad_parameters() {
        assert!(AdaptiveClipping::new(0.0, 0.5, 0.2).is_err());
        assert!(AdaptiveClipping::new(1.0, 1.5, 0.2).is_err());
        assert!(AdaptiveClipping::new(1.0, 0.5, 0.0).is_err());
        let mut adaptive = AdaptiveClipping::new(1.0, 0.5, 0.2).unwrap();
        assert!(adaptive.update(1, 0.0, 0.0).is_err());
    }

    #[test]
    fn update_noise_multiplier_leaves_the_rest_for_updates() {
        // z = 1, σ_b = 10: z_Δ = (1 - 1/400)^(-1/2).
        let z = update_noise_multiplier(1.0, 10.0).unwrap();
        assert!((z - (1.0f64 - 1.0 / 400.0).powf(-0.5)).abs() < 1e-12);
        assert!(z > 1.0);
        // Too little count noise leaves nothing for the updates.
        assert!(update_noise_multiplier(1.0, 0.5).is_err());
        assert!(update_noise_multiplier(0.0, 10.0).is_err());
    }
}
