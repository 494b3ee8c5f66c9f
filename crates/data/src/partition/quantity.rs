//! Quantity skew: labels are IID but client sizes vary, proportional to
//! log-normal draws.

use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::{apportion, cut_runs, shuffled_indices};
use crate::error::DataError;

/// Partitions `0..examples` among `clients` with sizes proportional to
/// LogNormal(0, sigma) draws. The caller has checked
/// `1 <= clients <= examples`.
///
/// Every client first gets one example. The remaining `examples - clients`
/// are apportioned by the largest-remainder method. The weights are computed
/// as `exp(z - max z)` from normal draws `z ~ N(0, sigma)`, which gives the
/// same proportions as `exp(z)` without overflowing for large sigma. The
/// examples are shuffled before they are cut, so labels stay IID.
pub(super) fn partition(
    examples: usize,
    clients: usize,
    sigma: f64,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Vec<usize>>, DataError> {
    // `sigma > 0.0` is false for NaN.
    if !(sigma > 0.0 && sigma.is_finite()) {
        return Err(DataError::InvalidSigma(sigma));
    }
    let normal = Normal::new(0.0, sigma).map_err(|_| DataError::InvalidSigma(sigma))?;
    let logs: Vec<f64> = (0..clients).map(|_| normal.sample(rng)).collect();
    let max = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = logs.iter().map(|z| (z - max).exp()).collect();

    let sizes: Vec<usize> = apportion(examples - clients, &weights)
        .into_iter()
        .map(|size| size + 1)
        .collect();
    let order = shuffled_indices(examples, rng);
    Ok(cut_runs(&order, &sizes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, seeded};

    #[test]
    fn sizes_vary_and_sum_to_total() {
        let parts = partition(1000, 10, 1.0, &mut seeded(5, Stream::Partition)).unwrap();
        let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 1000);
        let (min, max) = (sizes.iter().min(), sizes.iter().max());
        assert!(max > min, "{sizes:?}");
    }

    #[test]
    fn huge_sigma_still_gives_everyone_one() {
        let parts = partition(50, 10, 1e6, &mut seeded(6, Stream::Partition)).unwrap();
        assert!(parts.iter().all(|part| !part.is_empty()));
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), 50);
    }

    #[test]
    fn invalid_sigma_is_rejected() {
        for sigma in [0.0, -0.5, f64::NAN, f64::INFINITY] {
            let err = partition(10, 2, sigma, &mut seeded(0, Stream::Partition)).unwrap_err();
            assert!(matches!(err, DataError::InvalidSigma(_)), "sigma {sigma}");
        }
    }
}
