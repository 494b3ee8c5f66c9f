//! The Gaussian mechanism of DP-FedAvg on the server: noise added to the
//! sum of clipped updates, and the division by the expected (not the
//! realised) number of clients, so that the sensitivity analysis holds.

use rand::Rng;
use rand_distr::{Distribution, Normal};

use crate::error::PrivacyError;

/// Adds independent Gaussian noise of standard deviation `stddev` to every
/// value of `sum`, then divides by `expected_clients` (q times the
/// population). The noise is drawn in f64 and added in f32.
///
/// `rng` must be a cryptographic generator seeded from the operating
/// system: noise that anyone can regenerate from a known seed protects
/// nothing.
pub fn noised_mean<R: Rng + ?Sized>(
    sum: &mut [f32],
    stddev: f64,
    expected_clients: f64,
    rng: &mut R,
) -> Result<(), PrivacyError> {
    if !(stddev.is_finite() && stddev >= 0.0) {
        return Err(PrivacyError::InvalidNoiseStddev(stddev));
    }
    if !(expected_clients.is_finite() && expected_clients > 0.0) {
        return Err(PrivacyError::InvalidExpectedClients(expected_clients));
    }
    let normal = Normal::new(0.0, stddev).map_err(|_| PrivacyError::InvalidNoiseStddev(stddev))?;
    let scale = 1.0 / expected_clients;
    for value in sum.iter_mut() {
        let noised = f64::from(*value) + normal.sample(rng);
        *value = (noised * scale) as f32;
    }
    Ok(())
}

/// Draws one Gaussian value of standard deviation `stddev` (the noise of
/// adaptive clipping's count of unclipped clients).
pub fn gaussian<R: Rng + ?Sized>(stddev: f64, rng: &mut R) -> Result<f64, PrivacyError> {
    if !(stddev.is_finite() && stddev >= 0.0) {
        return Err(PrivacyError::InvalidNoiseStddev(stddev));
    }
    let normal = Normal::new(0.0, stddev).map_err(|_| PrivacyError::InvalidNoiseStddev(stddev))?;
    Ok(normal.sample(rng))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    #[test]
    fn zero_noise_divides_by_expected_clients() {
        let mut sum = [4.0, -2.0, 0.0];
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        noised_mean(&mut sum, 0.0, 4.0, &mut rng).unwrap();
        assert_eq!(sum, [1.0, -0.5, 0.0]);
    }

    #[test]
    fn noise_has_the_requested_spread() {
        // 200,000 draws of N(0, 2^2) / 2: mean within 0.01 and standard
        // deviation within 1% of 1 (both more than 4 standard errors).
        let mut sum = vec![0.0f32; 200_000];
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        noised_mean(&mut sum, 2.0, 2.0, &mut rng).unwrap();
        let n = sum.len() as f64;
        let mean = sum.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let variance = sum
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!(
            (variance.sqrt() - 1.0).abs() < 0.01,
            "sd {}",
            variance.sqrt()
        );
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        let mut sum = [0.0f32];
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        assert!(noised_mean(&mut sum, -1.0, 1.0, &mut rng).is_err());
        assert!(noised_mean(&mut sum, f64::NAN, 1.0, &mut rng).is_err());
        assert!(noised_mean(&mut sum, 1.0, 0.0, &mut rng).is_err());
        assert!(gaussian(f64::INFINITY, &mut rng).is_err());
        assert_eq!(gaussian(0.0, &mut rng).unwrap(), 0.0);
    }
}
