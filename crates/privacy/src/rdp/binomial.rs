//! A_α for integer orders, exactly, from the binomial expansion.
//!
//! For integer α, expanding ((1 - q) + q e^{(2x-1)/(2σ²)})^α and taking the
//! Gaussian expectation of each power gives
//!
//! A_α = Σ_{k=0}^{α} C(α, k) (1 - q)^{α-k} q^k e^{k(k-1)/(2σ²)}.
//!
//! The weights C(α, k) (1 - q)^{α-k} q^k sum to 1, so subtracting 1 from
//! both sides leaves
//!
//! A_α - 1 = Σ_{k=2}^{α} C(α, k) (1 - q)^{α-k} q^k (e^{k(k-1)/(2σ²)} - 1),
//!
//! a sum of non-negative terms. Summing that in log space and adding 1 at
//! the end keeps full relative precision even when A_α - 1 is far below
//! the spacing of f64 values near 1 (small q or large σ).

use super::SampledGaussian;
use crate::log_sum::LogSum;

/// ln(A_α) for an integer order α >= 2 and a sampling rate in (0, 1).
pub(super) fn ln_moment(mechanism: &SampledGaussian, order: u64) -> f64 {
    let alpha = order as f64;
    let mut excess = LogSum::new();
    // ln C(α, k), updated by C(α, k) = C(α, k-1) (α - k + 1) / k.
    let mut ln_binomial = alpha.ln();
    for k in 2..=order {
        let k = k as f64;
        ln_binomial += (alpha - k + 1.0).ln() - k.ln();
        let ln_weight = ln_binomial + (alpha - k) * mechanism.ln_complement + k * mechanism.ln_rate;
        excess.add(ln_weight + ln_expm1(mechanism.quadratic_exponent(k)));
    }
    ln_one_plus_exp(excess.ln())
}

/// ln(e^x - 1) for x > 0, without overflow for large x.
fn ln_expm1(x: f64) -> f64 {
    if x > 40.0 {
        x + (-(-x).exp()).ln_1p()
    } else {
        x.exp_m1().ln()
    }
}

/// ln(1 + e^x), without overflow for large x.
fn ln_one_plus_exp(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sums the expansion before subtracting 1, term by term in f64. Usable
    /// only where no term overflows.
    fn ln_moment_direct(q: f64, sigma: f64, order: u32) -> f64 {
        let mut binomial = 1.0;
        let mut sum = 0.0;
        for k in 0..=order {
            if k > 0 {
                binomial *= f64::from(order - k + 1) / f64::from(k);
            }
            let k = f64::from(k);
            let gaussian = (k * (k - 1.0) / (2.0 * sigma * sigma)).exp();
            sum += binomial * (1.0 - q).powf(f64::from(order) - k) * q.powf(k) * gaussian;
        }
        sum.ln()
    }

    #[test]
    fn matches_direct_expansion() {
        for (q, sigma, order) in [(0.1, 1.0, 2), (0.5, 2.0, 7), (0.01, 0.7, 20), (0.9, 3.0, 5)] {
            let mechanism = SampledGaussian::new(q, sigma).expect("valid mechanism");
            let expected = ln_moment_direct(q, sigma, order);
            let actual = ln_moment(&mechanism, u64::from(order));
            assert!(
                ((actual - expected) / expected).abs() < 1e-12,
                "q {q}, sigma {sigma}, order {order}: {actual} vs {expected}"
            );
        }
    }

    /// At α = 2 the expansion has the closed form A_2 = 1 + q²(e^{1/σ²} - 1).
    #[test]
    fn order_two_has_closed_form() {
        for (q, sigma) in [(1e-6, 1.0), (0.3, 0.5), (0.7, 10.0)] {
            let mechanism = SampledGaussian::new(q, sigma).expect("valid mechanism");
            let expected = (q * q * (1.0 / (sigma * sigma)).exp_m1()).ln_1p();
            let actual = ln_moment(&mechanism, 2);
            assert!(
                ((actual - expected) / expected).abs() < 1e-14,
                "q {q}, sigma {sigma}"
            );
        }
    }

    #[test]
    fn large_order_and_small_noise_do_not_overflow() {
        let mechanism = SampledGaussian::new(0.5, 0.3).expect("valid mechanism");
        let ln_a = ln_moment(&mechanism, 1024);
        assert!(ln_a.is_finite());
        // Bounded by the unsubsampled Gaussian, α(α-1)/(2σ²).
        assert!(ln_a <= 1024.0 * 1023.0 / (2.0 * 0.09));
    }
}
