//! RDP orders: the standard list the accountant evaluates by default, and
//! the check every order passes before any RDP is computed.

use crate::error::PrivacyError;

/// Largest accepted RDP order. Evaluating order α takes at least α terms,
/// so this caps the work per order. The standard list stops at 1024.
pub const MAX_ORDER: f64 = 100_000.0;

/// Returns the standard order list: 1.1 to 10.9 in steps of 0.1, every
/// integer from 11 to 63, then 128, 256, 512 and 1024 (156 orders).
///
/// Fine steps near 1 matter for large ε (many steps, little noise), where
/// the best order approaches 1. The large orders serve small ε.
pub fn standard_orders() -> Vec<f64> {
    let fractional = (11..=109).map(|tenths| f64::from(tenths) / 10.0);
    let integer = (11..=63).map(f64::from);
    let large = [128.0, 256.0, 512.0, 1024.0];
    fractional.chain(integer).chain(large).collect()
}

/// Checks that `order` is finite, above 1 and at most [`MAX_ORDER`].
pub(crate) fn validate_order(order: f64) -> Result<(), PrivacyError> {
    if order > 1.0 && order <= MAX_ORDER {
        Ok(())
    } else {
        Err(PrivacyError::InvalidOrder(order))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_list_has_156_increasing_orders() {
        let orders = standard_orders();
        assert_eq!(orders.len(), 156);
        assert!(orders.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn standard_list_bounds_and_joins() {
        let orders = standard_orders();
        assert_eq!(orders[0], 1.1);
        assert_eq!(orders[98], 10.9);
        assert_eq!(orders[99], 11.0);
        assert_eq!(orders[151], 63.0);
        assert_eq!(orders[152..], [128.0, 256.0, 512.0, 1024.0]);
    }

    #[test]
    fn every_standard_order_is_valid() {
        for order in standard_orders() {
            assert_eq!(validate_order(order), Ok(()));
        }
    }

    #[test]
    fn orders_at_or_below_one_are_rejected() {
        for order in [1.0, 0.5, 0.0, -3.0, f64::NEG_INFINITY] {
            assert_eq!(
                validate_order(order),
                Err(PrivacyError::InvalidOrder(order))
            );
        }
    }

    #[test]
    fn nan_infinite_and_huge_orders_are_rejected() {
        assert!(validate_order(f64::NAN).is_err());
        assert!(validate_order(f64::INFINITY).is_err());
        assert!(validate_order(MAX_ORDER * 2.0).is_err());
    }
}
