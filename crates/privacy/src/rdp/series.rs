//! A_α for fractional orders, from the two series of Mironov, Talwar and
//! Zhang, "Rényi Differential Privacy of the Sampled Gaussian Mechanism"
//! (2019).
//!
//! With μ0 = N(0, σ²) and μ1 = N(1, σ²), A_α = ∫ μ0^{1-α} ((1 - q) μ0 +
//! q μ1)^α. The two mixture parts are equal at
//!
//! z0 = σ² ln((1 - q)/q) + 1/2.
//!
//! Below z0 the (1 - q) μ0 part is larger, above it the q μ1 part is, so
//! the binomial series of the power converges on each side. Integrating
//! term by term gives, with b_k = C(α, k) the generalised binomial
//! coefficient,
//!
//! A_α = Σ_k b_k (1 - q)^{α-k} q^k e^{k(k-1)/(2σ²)} erfc((k - z0)/(σ√2)) / 2
//!     + Σ_k b_k q^{α-k} (1 - q)^k e^{j(j-1)/(2σ²)} erfc((z0 - j)/(σ√2)) / 2,
//!
//! where j = α - k. b_k is positive up to k = ⌊α⌋ + 1 and alternates in
//! sign after that, so terms are summed by sign in log space, and the two
//! sums are subtracted once at the end (never as absolute values).
//!
//! Completing the square shows that each term, written through the scaled
//! erfcx(t) = e^{t²} erfc(t), is
//!
//! |b_k| (1 - q)^α e^{-z0²/(2σ²)} erfcx(t) / 2,  t = (k - z0)/(σ√2) or
//! (z0 - j)/(σ√2).
//!
//! For t >= 0 the terms are computed in that form, which stays finite far
//! past the point where erfc underflows. Both t grow with k, erfcx
//! decreases, and |b_k| decreases once k > (α - 1)/2, so from k = ⌊α⌋ + 2
//! on the terms alternate with decreasing magnitude and the truncation
//! error is at most the first omitted term.
//!
//! NOTE: the leading terms add up to about 1, so A_α carries a rounding
//! error of a few 1e-16 and the RDP an absolute error of about
//! 1e-16/(α - 1) nats. Below about 1e-10 nats per step (tiny q with large
//! σ) its relative error can pass 1e-6. Integer orders have no such floor.

use std::f64::consts::{LN_2, SQRT_2};

use super::SampledGaussian;
use crate::erfc::{erfc, ln_erfcx};
use crate::log_sum::{LogSum, ln_sub};

/// The series stops once a term is below this fraction of A_α - 1, which
/// bounds the relative error of the RDP by about the same fraction.
const TOLERANCE_OF_EXCESS: f64 = 1e-10;

/// The series also stops once a term is below this fraction of A_α, which
/// is under the rounding error of A_α. This rule decides when A_α - 1 is
/// tiny.
const TOLERANCE_OF_MOMENT: f64 = 1e-17;

/// Terms between two updates of the stopping threshold, which needs a
/// few logarithms and exponentials to compute.
const THRESHOLD_REFRESH: u64 = 32;

/// Cap on the number of terms. Near α = 1 the terms decay like k^{-α-2},
/// so q ≈ 0.5 takes about 10^5 terms at α = 1.1 and σ = 100, and more as
/// σ grows.
const MAX_TERMS: u64 = 1_000_000;

/// ln(A_α) for a fractional order α > 1 and a sampling rate in (0, 1).
pub(super) fn ln_moment(mechanism: &SampledGaussian, alpha: f64) -> f64 {
    ln_moment_capped(mechanism, alpha, MAX_TERMS)
}

/// ln(A_α), summing at most `max_terms` + 1 terms. `max_terms` must be at
/// least ⌊α⌋ + 2.
///
/// NOTE: when the cap is reached before the terms become negligible, the
/// result is an upper bound (up to rounding) rather than the value. The
/// remaining alternating tail lies between 0 and the next term, so that
/// term is kept when positive and dropped when negative. An upper bound on
/// A_α only overstates the privacy loss.
fn ln_moment_capped(mechanism: &SampledGaussian, alpha: f64, max_terms: u64) -> f64 {
    let terms = SeriesTerms::new(mechanism, alpha);
    let first_negative = alpha.floor() as u64 + 2;
    let mut positive = LogSum::new();
    let mut negative = LogSum::new();
    let mut ln_binomial = 0.0;
    let mut ln_threshold = f64::NEG_INFINITY;

    for k in 0..=max_terms {
        let k_float = k as f64;
        if k > 0 {
            // b_k = b_{k-1} (α - k + 1)/k.
            ln_binomial += (alpha - k_float + 1.0).abs().ln() - k_float.ln();
        }
        let (lower, upper) = terms.ln_magnitudes(k_float, ln_binomial);
        let is_negative = k >= first_negative && (k - first_negative).is_multiple_of(2);
        if k == max_terms {
            if !is_negative {
                positive.add(lower);
                positive.add(upper);
            }
            break;
        }

        let sum = if is_negative {
            &mut negative
        } else {
            &mut positive
        };
        sum.add(lower);
        sum.add(upper);
        if k < first_negative {
            continue;
        }

        // In the tail A_α barely moves, so the threshold is refreshed only
        // now and then. max + ln 2 bounds ln(e^lower + e^upper) from above.
        if (k - first_negative).is_multiple_of(THRESHOLD_REFRESH) {
            ln_threshold = ln_negligible(ln_sub(positive.ln(), negative.ln()));
        }
        if lower.max(upper) + LN_2 <= ln_threshold {
            break;
        }
    }
    ln_sub(positive.ln(), negative.ln())
}

/// ln of the size below which a term no longer changes A_α, given ln(A_α).
fn ln_negligible(ln_moment: f64) -> f64 {
    let of_moment = ln_moment + TOLERANCE_OF_MOMENT.ln();
    if ln_moment > 0.0 {
        let of_excess = ln_moment.exp_m1().ln() + TOLERANCE_OF_EXCESS.ln();
        of_moment.max(of_excess)
    } else {
        of_moment
    }
}

/// The k-th terms of both series for one mechanism and order.
struct SeriesTerms<'a> {
    mechanism: &'a SampledGaussian,
    alpha: f64,
    /// z0, where (1 - q) μ0 = q μ1.
    crossover: f64,
    /// σ√2, the scale of every erfc argument.
    erfc_scale: f64,
    /// ln((1 - q)^α e^{-z0²/(2σ²)}), the factor shared by all terms in
    /// their erfcx form.
    ln_tail_factor: f64,
}

impl<'a> SeriesTerms<'a> {
    fn new(mechanism: &'a SampledGaussian, alpha: f64) -> Self {
        let variance = mechanism.two_variance / 2.0;
        let crossover = variance * (mechanism.ln_complement - mechanism.ln_rate) + 0.5;
        let ln_tail_factor =
            alpha * mechanism.ln_complement - crossover * crossover / mechanism.two_variance;
        Self {
            mechanism,
            alpha,
            crossover,
            erfc_scale: mechanism.noise_multiplier * SQRT_2,
            ln_tail_factor,
        }
    }

    /// ln of the magnitudes of the k-th terms of the lower series (the
    /// integral below z0) and the upper series (above z0), given ln|b_k|.
    fn ln_magnitudes(&self, k: f64, ln_binomial: f64) -> (f64, f64) {
        let mechanism = self.mechanism;
        let j = self.alpha - k;

        let lower_argument = (k - self.crossover) / self.erfc_scale;
        let lower_exponent = (self.alpha - k) * mechanism.ln_complement
            + k * mechanism.ln_rate
            + mechanism.quadratic_exponent(k);
        let lower = self.ln_term(lower_argument, lower_exponent);

        let upper_argument = (self.crossover - j) / self.erfc_scale;
        let upper_exponent = (self.alpha - k) * mechanism.ln_rate
            + k * mechanism.ln_complement
            + mechanism.quadratic_exponent(j);
        let upper = self.ln_term(upper_argument, upper_exponent);

        (ln_binomial + lower, ln_binomial + upper)
    }

    /// ln(e^{exponent} erfc(t) / 2), one term without its binomial
    /// coefficient. For t >= 0 it uses the equal erfcx form instead, which
    /// does not need `exponent`.
    fn ln_term(&self, t: f64, exponent: f64) -> f64 {
        if t >= 0.0 {
            self.ln_tail_factor + ln_erfcx(t) - LN_2
        } else {
            exponent + (-erfc(-t) / 2.0).ln_1p()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_series_overstates_moment() {
        // q = 0.5 with σ = 3 needs thousands of terms at α = 1.5.
        let mechanism = SampledGaussian::new(0.5, 3.0).expect("valid mechanism");
        let exact = ln_moment(&mechanism, 1.5);
        for max_terms in [3, 4, 50, 51] {
            let capped = ln_moment_capped(&mechanism, 1.5, max_terms);
            assert!(capped >= exact, "cap {max_terms}: {capped} < {exact}");
        }
    }

    #[test]
    fn capped_series_approaches_moment() {
        let mechanism = SampledGaussian::new(0.5, 3.0).expect("valid mechanism");
        let exact = ln_moment(&mechanism, 1.5);
        let capped = ln_moment_capped(&mechanism, 1.5, 2_000);
        assert!((capped - exact) / exact < 1e-6);
    }

    #[test]
    fn both_term_forms_agree_where_both_apply() {
        // Below t = 0 the direct form is used, and from t = 0 on the erfcx
        // form. At k = z0 (t = 0) both must give the same term.
        let mechanism = SampledGaussian::new(0.1, 1.0).expect("valid mechanism");
        let terms = SeriesTerms::new(&mechanism, 2.5);
        let k = terms.crossover;
        let exponent = (2.5 - k) * mechanism.ln_complement
            + k * mechanism.ln_rate
            + mechanism.quadratic_exponent(k);
        let direct = exponent + (-erfc(0.0) / 2.0).ln_1p();
        let scaled = terms.ln_term(0.0, exponent);
        assert!((direct - scaled).abs() < 1e-13, "{direct} vs {scaled}");
    }
}
