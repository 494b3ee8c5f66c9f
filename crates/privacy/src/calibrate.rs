//! Noise calibration: the smallest noise multiplier whose ε, after a given
//! number of steps at a given sampling rate, stays within a target.
//!
//! ε falls as the noise multiplier grows, so a doubling search brackets the
//! smallest noise multiplier that meets the target, and a bisection on
//! ln(z) narrows the bracket. The upper end of
//! the bracket always has ε <= target, and that end is returned, so the
//! result never spends more than the target.

use crate::accountant::RdpAccountant;
use crate::error::PrivacyError;
use crate::orders::standard_orders;

/// Search range, tolerance and orders of a noise calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationConfig {
    /// Smallest noise multiplier searched, returned as is when it already
    /// meets the target. Default 0.01.
    pub min_noise_multiplier: f64,
    /// Largest noise multiplier searched. A target that needs more is
    /// rejected as unreachable. Default 100.
    pub max_noise_multiplier: f64,
    /// Relative width at which the bisection stops: the result is within a
    /// factor (1 + tolerance) of the smallest noise multiplier that meets
    /// the target. Default 1e-6.
    pub tolerance: f64,
    /// RDP orders of the accountant. Default [`standard_orders`].
    pub orders: Vec<f64>,
}

impl Default for CalibrationConfig {
    fn default() -> Self {
        Self {
            min_noise_multiplier: 0.01,
            max_noise_multiplier: 100.0,
            tolerance: 1e-6,
            orders: standard_orders(),
        }
    }
}

/// The search problem: everything but the noise multiplier.
struct Target {
    epsilon: f64,
    delta: f64,
    sampling_rate: f64,
    steps: u64,
}

/// Finds the smallest noise multiplier, within the default
/// [`CalibrationConfig`], such that `steps` steps at `sampling_rate` spend
/// at most `target_epsilon` for `delta`, by the default (improved)
/// conversion.
///
/// # Errors
///
/// As [`CalibrationConfig::calibrate`].
pub fn calibrate_noise_multiplier(
    target_epsilon: f64,
    delta: f64,
    sampling_rate: f64,
    steps: u64,
) -> Result<f64, PrivacyError> {
    CalibrationConfig::default().calibrate(target_epsilon, delta, sampling_rate, steps)
}

impl CalibrationConfig {
    /// Finds the smallest noise multiplier between
    /// [`min_noise_multiplier`](Self::min_noise_multiplier) and
    /// [`max_noise_multiplier`](Self::max_noise_multiplier) such that
    /// `steps` steps at `sampling_rate` spend at most `target_epsilon` for
    /// `delta`, up to the relative [`tolerance`](Self::tolerance).
    ///
    /// The returned noise multiplier z always satisfies ε(z) <= target, with
    /// ε computed as [`RdpAccountant::epsilon`] does over
    /// [`orders`](Self::orders). With sampling rate 0 or no steps nothing is
    /// spent, and the minimum of the range is returned.
    ///
    /// # Errors
    ///
    /// [`PrivacyError::InvalidTargetEpsilon`] unless the target is finite
    /// and above 0. [`PrivacyError::TargetUnreachable`] when even the
    /// maximum noise multiplier spends more. The matching error for an
    /// invalid δ, sampling rate, order list, range or tolerance.
    pub fn calibrate(
        &self,
        target_epsilon: f64,
        delta: f64,
        sampling_rate: f64,
        steps: u64,
    ) -> Result<f64, PrivacyError> {
        self.validate()?;
        if !(target_epsilon > 0.0 && target_epsilon.is_finite()) {
            return Err(PrivacyError::InvalidTargetEpsilon(target_epsilon));
        }
        let target = Target {
            epsilon: target_epsilon,
            delta,
            sampling_rate,
            steps,
        };

        if self.epsilon(&target, self.min_noise_multiplier)? <= target.epsilon {
            return Ok(self.min_noise_multiplier);
        }
        let (low, high) = self.bracket(&target)?;
        self.bisect(&target, low, high)
    }

    /// Checks the range and the tolerance.
    fn validate(&self) -> Result<(), PrivacyError> {
        let (min, max) = (self.min_noise_multiplier, self.max_noise_multiplier);
        if !(min > 0.0 && min < max && max.is_finite()) {
            return Err(PrivacyError::InvalidSearchRange { min, max });
        }
        if !(self.tolerance > 0.0 && self.tolerance < 1.0) {
            return Err(PrivacyError::InvalidTolerance(self.tolerance));
        }
        Ok(())
    }

    /// Doubles the noise multiplier from the minimum (which overspends)
    /// until ε <= target, and returns the last overspending value and the
    /// first one that meets the target.
    fn bracket(&self, target: &Target) -> Result<(f64, f64), PrivacyError> {
        let mut low = self.min_noise_multiplier;
        loop {
            let high = (low * 2.0).min(self.max_noise_multiplier);
            let epsilon = self.epsilon(target, high)?;
            if epsilon <= target.epsilon {
                return Ok((low, high));
            }
            if high == self.max_noise_multiplier {
                return Err(PrivacyError::TargetUnreachable {
                    target: target.epsilon,
                    max_noise_multiplier: high,
                    epsilon,
                });
            }
            low = high;
        }
    }

    /// Narrows [low, high], where low overspends and high does not, until
    /// high / low <= 1 + tolerance, and returns high.
    fn bisect(&self, target: &Target, mut low: f64, mut high: f64) -> Result<f64, PrivacyError> {
        while high > low * (1.0 + self.tolerance) {
            let middle = (low * high).sqrt();
            if middle <= low || middle >= high {
                // The bracket is down to adjacent f64 values.
                break;
            }
            if self.epsilon(target, middle)? <= target.epsilon {
                high = middle;
            } else {
                low = middle;
            }
        }
        Ok(high)
    }

    /// Computes the ε spent by the target's steps at `noise_multiplier`. It
    /// is +∞ when the RDP overflows f64, which only a far too small noise
    /// multiplier causes.
    fn epsilon(&self, target: &Target, noise_multiplier: f64) -> Result<f64, PrivacyError> {
        let mut accountant = RdpAccountant::with_orders(self.orders.clone())?;
        match accountant.record_steps(target.sampling_rate, noise_multiplier, target.steps) {
            Ok(()) => Ok(accountant.epsilon(target.delta)?.epsilon),
            Err(PrivacyError::RdpNotFinite { .. }) => Ok(f64::INFINITY),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests;
