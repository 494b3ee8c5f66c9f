//! Per-step Rényi-DP of the Poisson-subsampled Gaussian mechanism: each
//! record joins the batch with probability q (the sampling rate), and the
//! sum of clipped updates gets Gaussian noise with standard deviation z
//! times the clipping norm (z is the noise multiplier).
//!
//! Following Mironov, Talwar and Zhang, "Rényi Differential Privacy of the
//! Sampled Gaussian Mechanism" (2019), the RDP at order α is
//! ln(A_α) / (α - 1), where, with σ = z,
//!
//! A_α = E_{x ~ N(0, σ²)} [((1 - q) + q e^{(2x - 1)/(2σ²)})^α].
//!
//! Integer orders expand the power binomially (`binomial`), and fractional
//! orders use the paper's two convergent series (`series`).

mod binomial;
mod series;

use crate::error::PrivacyError;
use crate::orders::validate_order;

/// Computes the RDP of one step of the Poisson-subsampled Gaussian
/// mechanism at `order`, in nats.
///
/// A sampling rate of 0 gives 0 and a rate of 1 gives α/(2z²), the RDP of
/// the Gaussian mechanism itself. The result is never negative: rounding
/// below 0 is clamped.
///
/// # Errors
///
/// Rejects a sampling rate outside [0, 1], a noise multiplier that is not
/// finite and positive, an order that is not finite or not in (1,
/// [`MAX_ORDER`](crate::MAX_ORDER)], and NaN in any of them. Returns
/// [`PrivacyError::RdpNotFinite`] when the RDP overflows f64.
pub fn sampled_gaussian_rdp(
    sampling_rate: f64,
    noise_multiplier: f64,
    order: f64,
) -> Result<f64, PrivacyError> {
    let mechanism = SampledGaussian::new(sampling_rate, noise_multiplier)?;
    validate_order(order)?;
    mechanism.rdp(order)
}

/// One step of the mechanism, with the constants every order reuses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SampledGaussian {
    sampling_rate: f64,
    noise_multiplier: f64,
    /// ln(q).
    ln_rate: f64,
    /// ln(1 - q).
    ln_complement: f64,
    /// 2σ², the denominator of every Gaussian exponent.
    two_variance: f64,
}

impl SampledGaussian {
    /// Validates the sampling rate and the noise multiplier.
    pub(crate) fn new(sampling_rate: f64, noise_multiplier: f64) -> Result<Self, PrivacyError> {
        if !(0.0..=1.0).contains(&sampling_rate) {
            return Err(PrivacyError::InvalidSamplingRate(sampling_rate));
        }
        if !(noise_multiplier > 0.0 && noise_multiplier.is_finite()) {
            return Err(PrivacyError::InvalidNoiseMultiplier(noise_multiplier));
        }
        Ok(Self {
            sampling_rate,
            noise_multiplier,
            ln_rate: sampling_rate.ln(),
            ln_complement: (-sampling_rate).ln_1p(),
            two_variance: 2.0 * noise_multiplier * noise_multiplier,
        })
    }

    /// RDP at an order that already passed `validate_order`.
    pub(crate) fn rdp(&self, order: f64) -> Result<f64, PrivacyError> {
        let rdp = if self.sampling_rate == 0.0 {
            0.0
        } else if self.sampling_rate == 1.0 {
            // A_α = e^{α(α-1)/(2σ²)}: no subsampling, so no ln(1 - q) = -∞.
            order / self.two_variance
        } else if order.fract() == 0.0 {
            // Orders are at most MAX_ORDER, so the cast is exact.
            binomial::ln_moment(self, order as u64) / (order - 1.0)
        } else {
            series::ln_moment(self, order) / (order - 1.0)
        };

        if rdp.is_finite() {
            Ok(rdp.max(0.0))
        } else {
            Err(PrivacyError::RdpNotFinite {
                order,
                sampling_rate: self.sampling_rate,
                noise_multiplier: self.noise_multiplier,
            })
        }
    }

    /// x(x - 1)/(2σ²), the Gaussian exponent of the k-th binomial term,
    /// taken as exactly 0 at x = 0 and x = 1 even when 2σ² underflows.
    fn quadratic_exponent(&self, x: f64) -> f64 {
        let numerator = x * (x - 1.0);
        if numerator == 0.0 {
            0.0
        } else {
            numerator / self.two_variance
        }
    }
}

#[cfg(test)]
mod tests;
