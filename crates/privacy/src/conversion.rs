//! Conversion of a total RDP curve into an (ε, δ)-DP guarantee: each order
//! gives a valid ε for the given δ, and the smallest one is reported.
//!
//! Two per-order conversions are offered. For RDP ε_α at order α:
//!
//! - The improved conversion (the default) is from Balle et al.,
//!   "Hypothesis Testing Interpretations and Renyi Differential Privacy"
//!   (2020), in the form of Canonne, Kamath and Steinke, "The Discrete
//!   Gaussian for Differential Privacy" (2020):
//!   ε = ε_α + ln((α - 1)/α) - (ln δ + ln α)/(α - 1).
//! - The classic conversion is from Mironov, "Rényi Differential Privacy"
//!   (2017): ε = ε_α + ln(1/δ)/(α - 1).
//!
//! The improved ε is below the classic one at every order, because
//! ln((α - 1)/α) < 0 and ln α > 0 for α > 1.

use crate::error::PrivacyError;

/// An (ε, δ) guarantee from RDP: the smallest ε over the orders and the
/// order that gave it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrivacySpent {
    /// ε for the requested δ, never negative.
    pub epsilon: f64,
    /// The RDP order at which the conversion gave that ε.
    pub order: f64,
}

/// A per-order conversion from (order, total RDP, δ) to ε.
pub(crate) type Conversion = fn(f64, f64, f64) -> f64;

/// ε from RDP at one order by the conversion of Balle et al. (2020).
pub(crate) fn improved_epsilon(order: f64, rdp: f64, delta: f64) -> f64 {
    rdp + (-1.0 / order).ln_1p() - (delta.ln() + order.ln()) / (order - 1.0)
}

/// ε from RDP at one order by the conversion of Mironov (2017).
pub(crate) fn classic_epsilon(order: f64, rdp: f64, delta: f64) -> f64 {
    rdp - delta.ln() / (order - 1.0)
}

/// Converts every order and keeps the smallest ε (the first order on ties).
///
/// ε is clamped to 0 from below, which the improved conversion can reach
/// for a large δ. When the RDP is exactly 0 at every order (nothing spent),
/// ε is exactly 0: the conversion formulas still give a small positive
/// bound there, but a mechanism with zero RDP at every order releases
/// nothing about any record. The order is then still the one where the
/// formula was smallest.
pub(crate) fn best_epsilon(
    orders: &[f64],
    rdp: &[f64],
    delta: f64,
    conversion: Conversion,
) -> Result<PrivacySpent, PrivacyError> {
    if !(delta > 0.0 && delta < 1.0) {
        return Err(PrivacyError::InvalidDelta(delta));
    }

    let mut best = PrivacySpent {
        epsilon: f64::INFINITY,
        order: orders.first().copied().ok_or(PrivacyError::NoOrders)?,
    };
    for (&order, &order_rdp) in orders.iter().zip(rdp) {
        let epsilon = conversion(order, order_rdp, delta);
        if epsilon < best.epsilon {
            best = PrivacySpent { epsilon, order };
        }
    }

    let nothing_spent = rdp.iter().all(|&value| value == 0.0);
    best.epsilon = if nothing_spent {
        0.0
    } else {
        best.epsilon.max(0.0)
    };
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn improved_is_below_classic_at_every_order() {
        for order in [1.1, 2.0, 10.0, 1024.0] {
            assert!(improved_epsilon(order, 0.3, 1e-5) < classic_epsilon(order, 0.3, 1e-5));
        }
    }

    #[test]
    fn improved_conversion_matches_formula() {
        // α = 2: ε = ε_α + ln(1/2) - ln(δ) - ln(2).
        let expected = 0.5 - 2.0 * 2.0_f64.ln() - 1e-5_f64.ln();
        assert!((improved_epsilon(2.0, 0.5, 1e-5) - expected).abs() < 1e-14);
    }

    #[test]
    fn classic_conversion_matches_formula() {
        let expected = 0.5 + 1e-5_f64.recip().ln() / 3.0;
        assert!((classic_epsilon(4.0, 0.5, 1e-5) - expected).abs() < 1e-14);
    }

    #[test]
    fn best_picks_smallest_epsilon_and_its_order() {
        let orders = [2.0, 8.0, 32.0];
        let rdp = [0.1, 0.4, 5.0];
        let spent = best_epsilon(&orders, &rdp, 1e-5, improved_epsilon).expect("valid delta");
        assert_eq!(spent.order, 8.0);
        assert_eq!(spent.epsilon, improved_epsilon(8.0, 0.4, 1e-5));
    }

    #[test]
    fn zero_rdp_everywhere_gives_zero_epsilon() {
        let orders = [1.5, 2.0, 64.0];
        let spent = best_epsilon(&orders, &[0.0; 3], 1e-5, improved_epsilon).expect("valid delta");
        assert_eq!(spent.epsilon, 0.0);
        assert_eq!(spent.order, 64.0);
    }

    #[test]
    fn large_delta_is_clamped_to_zero() {
        let spent = best_epsilon(&[10.0], &[1e-6], 0.9, improved_epsilon).expect("valid delta");
        assert_eq!(spent.epsilon, 0.0);
    }

    #[test]
    fn delta_outside_open_unit_interval_is_rejected() {
        for delta in [0.0, 1.0, -1e-5, 2.0, f64::NAN] {
            let result = best_epsilon(&[2.0], &[0.1], delta, improved_epsilon);
            assert!(
                matches!(result, Err(PrivacyError::InvalidDelta(_))),
                "delta {delta}"
            );
        }
    }
}
