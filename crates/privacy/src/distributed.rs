//! Distributed noise for secure aggregation: the Skellam mechanism of
//! Agarwal, Kairouz and Liu (NeurIPS 2021, "The Skellam Mechanism for
//! Differentially Private Federated Learning").
//!
//! Each client clips its update to L2 norm C, scales it by γ, rounds it to
//! integers with conditional randomized rounding (drawn again until the
//! rounded vector's norm is within the bound Δ2), and adds symmetric
//! Skellam noise Sk(λ, λ) = Poisson(λ) − Poisson(λ) to every coordinate.
//! Skellam noise adds up: the sum of m clients' noise is Sk(mλ, mλ), so the
//! server, which sees only the securely aggregated sum, sees the sum of
//! the rounded updates plus noise of variance 2mλ and never a less noised
//! sum.

use rand::Rng;
use rand_distr::{Distribution, Poisson};

use crate::clip::clip_flat;
use crate::error::PrivacyError;

/// Integer scale γ·C of a clipped update: 2^16 levels across the clipping
/// norm keep rounding's share of the sensitivity far below 1%.
pub const SCALED_NORM: f64 = 65_536.0;

/// Probability β with which one randomized rounding exceeds the norm bound
/// and is drawn again: e^(−1/2), so that sqrt(2 ln(1/β)) = 1.
pub const ROUNDING_BETA: f64 = 0.606_530_659_712_633_4;

/// Rounding attempts before a client gives up; each fails with probability
/// at most β.
const MAX_ROUNDING_ATTEMPTS: usize = 200;

/// The parameters every client of a round applies.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SkellamNoise {
    /// L2 norm C the update is clipped to.
    pub clip_norm: f64,
    /// Scale γ from update units to integers.
    pub scale: f64,
    /// The bound Δ2 on the rounded vector's L2 norm: the mechanism's L2
    /// sensitivity.
    pub l2_bound: f64,
    /// λ of each client's Sk(λ, λ) noise per coordinate.
    pub lambda: f64,
}

impl SkellamNoise {
    /// The noise of one round for a model of `dim` values: the sum of
    /// `min_clients` clients' noise has the variance of Gaussian noise with
    /// standard deviation `noise_multiplier · Δ2`. More clients add more.
    pub fn for_round(
        clip_norm: f64,
        noise_multiplier: f64,
        min_clients: usize,
        dim: usize,
    ) -> Result<Self, PrivacyError> {
        if !(clip_norm.is_finite() && clip_norm > 0.0) {
            return Err(PrivacyError::InvalidClipNorm(clip_norm));
        }
        if !(noise_multiplier.is_finite() && noise_multiplier > 0.0) {
            return Err(PrivacyError::InvalidNoiseMultiplier(noise_multiplier));
        }
        if min_clients == 0 {
            return Err(PrivacyError::InvalidExpectedClients(0.0));
        }
        let l2_bound = rounding_bound(SCALED_NORM, dim, ROUNDING_BETA);
        let total_mu = noise_multiplier * noise_multiplier * l2_bound * l2_bound / 2.0;
        Ok(Self {
            clip_norm,
            scale: SCALED_NORM / clip_norm,
            l2_bound,
            lambda: total_mu / min_clients as f64,
        })
    }

    /// The L1 sensitivity of an integer vector within the L2 bound in
    /// `dim` dimensions: min(Δ2², sqrt(dim)·Δ2).
    pub fn l1_bound(&self, dim: usize) -> f64 {
        (self.l2_bound * self.l2_bound).min((dim as f64).sqrt() * self.l2_bound)
    }

    /// Clips, scales, rounds and noises `values`; returns the integers and
    /// whether the update was scaled down to C.
    pub fn encode<R: Rng + ?Sized>(
        &self,
        values: &[f32],
        rng: &mut R,
    ) -> Result<(Vec<i64>, bool), PrivacyError> {
        let mut clipped = values.to_vec();
        let outcome = clip_flat(&mut clipped, self.clip_norm)?;
        let scaled: Vec<f64> = clipped.iter().map(|&v| f64::from(v) * self.scale).collect();
        let mut rounded = vec![0i64; scaled.len()];
        let bound_sq = self.l2_bound * self.l2_bound;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut norm_sq = 0.0;
            for (out, &value) in rounded.iter_mut().zip(&scaled) {
                let floor = value.floor();
                let up = rng.random::<f64>() < value - floor;
                let integer = floor + if up { 1.0 } else { 0.0 };
                norm_sq += integer * integer;
                *out = integer as i64;
            }
            if norm_sq <= bound_sq {
                break;
            }
            if attempts >= MAX_ROUNDING_ATTEMPTS {
                return Err(PrivacyError::RoundingFailed {
                    attempts,
                    bound: self.l2_bound,
                });
            }
        }
        let poisson =
            Poisson::new(self.lambda).map_err(|_| PrivacyError::InvalidNoiseStddev(self.lambda))?;
        for value in &mut rounded {
            let noise = poisson.sample(rng) - poisson.sample(rng);
            *value += noise as i64;
        }
        Ok((rounded, outcome.clipped))
    }
}

/// The L2 bound that conditional randomized rounding enforces on a vector
/// of norm at most `scaled_norm` in `dim` dimensions, exceeded by one
/// unconditional rounding with probability at most `beta`, as in the
/// distributed discrete Gaussian mechanism of Kairouz, Liu and Steinke
/// (2021): min(γC + sqrt(d), sqrt(γ²C² + d/4 + sqrt(2 ln(1/β)) (γC + sqrt(d)/2))).
pub fn rounding_bound(scaled_norm: f64, dim: usize, beta: f64) -> f64 {
    let d = dim as f64;
    let probabilistic = (scaled_norm * scaled_norm
        + d / 4.0
        + (2.0 * (1.0 / beta).ln()).sqrt() * (scaled_norm + d.sqrt() / 2.0))
        .sqrt();
    probabilistic.min(scaled_norm + d.sqrt())
}

/// The RDP at `order` of the multidimensional Skellam mechanism with total
/// noise Sk(μ, μ) per coordinate and sensitivities `l2`, `l1`, after
/// Agarwal, Kairouz and Liu (2021):
/// α Δ2² / (4μ) + min((2α Δ2² + 6 Δ1) / (16 μ²), 3 Δ1 / (4μ)).
/// The middle term uses 2α where the paper has 2α − 1, which only makes
/// the bound larger. No amplification by sampling is applied.
pub fn skellam_rdp(order: f64, l2: f64, l1: f64, mu: f64) -> f64 {
    let leading = order * l2 * l2 / (4.0 * mu);
    let second = (2.0 * order * l2 * l2 + 6.0 * l1) / (16.0 * mu * mu);
    let third = 3.0 * l1 / (4.0 * mu);
    leading + second.min(third)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn rounding_bound_is_close_to_the_scaled_norm_for_large_scales() {
        let bound = rounding_bound(SCALED_NORM, 199_210, ROUNDING_BETA);
        assert!(bound > SCALED_NORM);
        assert!(bound < SCALED_NORM * 1.001, "{bound}");
        // Tiny scales fall back to the deterministic bound γC + sqrt(d).
        assert_eq!(rounding_bound(1.0, 4, 1e-9), 3.0);
    }

    #[test]
    fn leading_term_matches_the_gaussian_of_equal_variance() {
        // Sk(μ, μ) has variance 2μ; with 2μ = z²Δ2² the leading term is
        // α / (2z²), the Gaussian mechanism's RDP.
        let (l2, z) = (1000.0, 1.5);
        let mu = z * z * l2 * l2 / 2.0;
        let rdp = skellam_rdp(4.0, l2, l2 * l2, mu);
        let gaussian = 4.0 / (2.0 * z * z);
        assert!(rdp > gaussian);
        assert!(
            (rdp - gaussian) / gaussian < 1e-5,
            "{rdp} against {gaussian}"
        );
    }

    #[test]
    fn encoded_sum_is_the_scaled_update_plus_noise_of_the_planned_variance() {
        let noise = SkellamNoise::for_round(1.0, 0.5, 10, 2000).unwrap();
        let update: Vec<f32> = (0..2000)
            .map(|i| if i % 2 == 0 { 0.01 } else { -0.01 })
            .collect();
        let mut rng = StdRng::seed_from_u64(3);
        let mut sum = vec![0i64; update.len()];
        for _ in 0..10 {
            let (encoded, clipped) = noise.encode(&update, &mut rng).unwrap();
            assert!(!clipped);
            for (total, value) in sum.iter_mut().zip(encoded) {
                *total += value;
            }
        }
        // The noise of ten clients: variance 2 · 10λ = z²Δ2².
        let expected_sd = 0.5 * noise.l2_bound;
        let residuals: Vec<f64> = sum
            .iter()
            .zip(&update)
            .map(|(&s, &u)| s as f64 - 10.0 * f64::from(u) * noise.scale)
            .collect();
        let mean = residuals.iter().sum::<f64>() / residuals.len() as f64;
        let sd = (residuals.iter().map(|r| (r - mean).powi(2)).sum::<f64>()
            / residuals.len() as f64)
            .sqrt();
        assert!(
            (sd / expected_sd - 1.0).abs() < 0.05,
            "{sd} against {expected_sd}"
        );
        assert!(mean.abs() < 4.0 * expected_sd / (2000f64).sqrt(), "{mean}");
    }

    #[test]
    fn large_updates_are_clipped_before_rounding() {
        let noise = SkellamNoise::for_round(1.0, 1e-6, 1, 2).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let (encoded, clipped) = noise.encode(&[6.0, 8.0], &mut rng).unwrap();
        assert!(clipped);
        // [6, 8] clipped to norm 1 is [0.6, 0.8], scaled by 2^16.
        assert!(
            (encoded[0] as f64 - 0.6 * SCALED_NORM).abs() <= 2.0,
            "{encoded:?}"
        );
        assert!(
            (encoded[1] as f64 - 0.8 * SCALED_NORM).abs() <= 2.0,
            "{encoded:?}"
        );
    }

    #[test]
    fn invalid_settings_are_rejected() {
        assert!(SkellamNoise::for_round(0.0, 1.0, 1, 10).is_err());
        assert!(SkellamNoise::for_round(1.0, 0.0, 1, 10).is_err());
        assert!(SkellamNoise::for_round(1.0, 1.0, 0, 10).is_err());
        let noise = SkellamNoise::for_round(1.0, 1.0, 1, 2).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        assert!(noise.encode(&[f32::NAN, 0.0], &mut rng).is_err());
    }
}
