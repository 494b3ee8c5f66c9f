//! Errors of RDP accounting: invalid mechanism parameters, orders and δ,
//! values that overflow f64, and calibration targets out of reach.

use crate::orders::MAX_ORDER;

/// Error from the accountant, the RDP computation or calibration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrivacyError {
    /// The sampling rate is outside [0, 1] or NaN.
    #[error("invalid sampling rate {0}: expected a value in [0, 1]")]
    InvalidSamplingRate(f64),
    /// The noise multiplier is not a finite value above 0.
    #[error("invalid noise multiplier {0}: expected a finite value greater than 0")]
    InvalidNoiseMultiplier(f64),
    /// The RDP order is not finite, not above 1, or above [`MAX_ORDER`].
    #[error(
        "invalid RDP order {0}: expected a finite value greater than 1 and at most {MAX_ORDER}"
    )]
    InvalidOrder(f64),
    /// An accountant was given no orders.
    #[error("empty order list: an accountant needs at least one RDP order")]
    NoOrders,
    /// δ is outside the open interval (0, 1) or NaN.
    #[error("invalid delta {0}: expected a value in (0, 1)")]
    InvalidDelta(f64),
    /// The RDP does not fit in an f64 (or its computation produced NaN),
    /// which happens only for noise multipliers far below any useful value.
    #[error(
        "RDP at order {order} is not finite for sampling rate {sampling_rate} and noise \
         multiplier {noise_multiplier}; use a larger noise multiplier"
    )]
    RdpNotFinite {
        /// The order whose RDP overflowed.
        order: f64,
        /// The sampling rate of the step.
        sampling_rate: f64,
        /// The noise multiplier of the step.
        noise_multiplier: f64,
    },
    /// The clipping norm is not a finite value above 0.
    #[error("invalid clipping norm {0}: expected a finite value greater than 0")]
    InvalidClipNorm(f64),
    /// A noise standard deviation that is negative, NaN or infinite.
    #[error("invalid noise standard deviation {0}: expected a finite value >= 0")]
    InvalidNoiseStddev(f64),
    /// An expected number of clients that is not a positive finite value.
    #[error(
        "invalid expected number of clients {0}: expected a finite value greater than 0 (sampling rate times population)"
    )]
    InvalidExpectedClients(f64),
    /// An update to clip contains NaN or an infinity.
    #[error("update value {index} is {value}: clipping needs finite values")]
    NonFiniteValue {
        /// Position of the first such value.
        index: usize,
        /// The value.
        value: f32,
    },
    /// Per-layer clipping was given layer sizes that do not add up to the
    /// update's length.
    #[error("layer sizes add up to {layers} values but the update has {values}")]
    LayerMismatch {
        /// Sum of the layer sizes.
        layers: usize,
        /// Length of the update.
        values: usize,
    },
    /// A parameter of adaptive clipping is out of range.
    #[error("invalid adaptive clipping {name} {value}: {expected}")]
    InvalidAdaptiveParameter {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: f64,
        /// The range it must be in.
        expected: &'static str,
    },
    /// The calibration target ε is not a finite value above 0.
    #[error("invalid target epsilon {0}: expected a finite value greater than 0")]
    InvalidTargetEpsilon(f64),
    /// The calibration's noise-multiplier range is empty or not positive.
    #[error(
        "invalid noise multiplier range [{min}, {max}]: expected finite bounds with \
         0 < min < max"
    )]
    InvalidSearchRange {
        /// The smallest noise multiplier searched.
        min: f64,
        /// The largest noise multiplier searched.
        max: f64,
    },
    /// The calibration tolerance is outside (0, 1).
    #[error("invalid calibration tolerance {0}: expected a relative width in (0, 1)")]
    InvalidTolerance(f64),
    /// Even the largest noise multiplier searched spends more than the target.
    #[error(
        "target epsilon {target} is unreachable: noise multiplier {max_noise_multiplier} \
         still gives epsilon {epsilon}; raise the maximum noise multiplier, or lower the \
         sampling rate or the number of steps"
    )]
    TargetUnreachable {
        /// The requested ε.
        target: f64,
        /// The largest noise multiplier searched.
        max_noise_multiplier: f64,
        /// The ε spent at that noise multiplier.
        epsilon: f64,
    },
    /// Conditional randomized rounding kept exceeding its norm bound.
    #[error("randomized rounding exceeded the norm bound {bound} in {attempts} attempts")]
    RoundingFailed {
        /// Attempts made.
        attempts: usize,
        /// The bound Δ2.
        bound: f64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_order_message_shows_value_and_range() {
        let message = PrivacyError::InvalidOrder(0.5).to_string();
        assert_eq!(
            message,
            "invalid RDP order 0.5: expected a finite value greater than 1 and at most 100000"
        );
    }

    #[test]
    fn unreachable_message_suggests_fix() {
        let error = PrivacyError::TargetUnreachable {
            target: 0.1,
            max_noise_multiplier: 100.0,
            epsilon: 0.25,
        };
        let message = error.to_string();
        assert!(
            message.starts_with("target epsilon 0.1 is unreachable"),
            "{message}"
        );
        assert!(
            message.contains("noise multiplier 100 still gives epsilon 0.25"),
            "{message}"
        );
        assert!(
            message.contains("raise the maximum noise multiplier"),
            "{message}"
        );
    }
}
