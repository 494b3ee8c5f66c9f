//! Tests of the per-step RDP: edge cases, input checks, agreement of the
//! integer and fractional paths, and monotonicity properties.

use proptest::prelude::*;

use super::*;
use crate::orders::MAX_ORDER;

fn rdp(q: f64, z: f64, order: f64) -> f64 {
    sampled_gaussian_rdp(q, z, order).expect("valid parameters")
}

#[test]
fn zero_sampling_rate_gives_zero() {
    for order in [1.1, 2.0, 2.5, 1024.0] {
        assert_eq!(rdp(0.0, 1.0, order), 0.0);
    }
}

#[test]
fn full_sampling_rate_gives_gaussian_rdp() {
    for (z, order) in [(1.0, 2.0), (0.5, 3.7), (3.0, 1024.0), (0.01, 1.1)] {
        let value = rdp(1.0, z, order);
        assert!(value.is_finite());
        assert_eq!(value, order / (2.0 * z * z));
    }
}

#[test]
fn rates_near_one_approach_gaussian_rdp() {
    for order in [2.0, 4.5] {
        let gaussian = rdp(1.0, 1.0, order);
        let nearly_full = rdp(1.0 - 1e-9, 1.0, order);
        assert!(
            (nearly_full - gaussian).abs() < 1e-6 * gaussian,
            "order {order}"
        );
    }
}

#[test]
fn orders_at_or_below_one_are_rejected() {
    for order in [1.0, 0.999, 0.0, -2.0] {
        let result = sampled_gaussian_rdp(0.1, 1.0, order);
        assert_eq!(result, Err(PrivacyError::InvalidOrder(order)));
    }
}

#[test]
fn nan_infinite_and_huge_orders_are_rejected() {
    for order in [f64::NAN, f64::INFINITY, MAX_ORDER + 1.0] {
        let result = sampled_gaussian_rdp(0.1, 1.0, order);
        assert!(
            matches!(result, Err(PrivacyError::InvalidOrder(_))),
            "order {order}"
        );
    }
}

#[test]
fn sampling_rates_outside_unit_interval_are_rejected() {
    for q in [-0.1, 1.0 + 1e-12, f64::NAN, f64::INFINITY] {
        let result = sampled_gaussian_rdp(q, 1.0, 2.0);
        assert!(
            matches!(result, Err(PrivacyError::InvalidSamplingRate(_))),
            "q {q}"
        );
    }
}

#[test]
fn non_positive_and_nan_noise_is_rejected() {
    for z in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let result = sampled_gaussian_rdp(0.1, z, 2.0);
        assert!(
            matches!(result, Err(PrivacyError::InvalidNoiseMultiplier(_))),
            "z {z}"
        );
    }
}

#[test]
fn invalid_noise_is_rejected_even_at_zero_rate() {
    let result = sampled_gaussian_rdp(0.0, -1.0, 2.0);
    assert_eq!(result, Err(PrivacyError::InvalidNoiseMultiplier(-1.0)));
}

#[test]
fn vanishing_noise_overflow_is_reported() {
    let result = sampled_gaussian_rdp(0.5, 1e-200, 2.0);
    assert!(
        matches!(result, Err(PrivacyError::RdpNotFinite { .. })),
        "{result:?}"
    );
}

#[test]
fn fractional_path_is_continuous_at_integer_orders() {
    for (q, z) in [(0.01, 1.0), (0.1, 0.8), (0.5, 3.0), (0.9, 1.5)] {
        for order in [2.0, 3.0, 8.0] {
            let integer = rdp(q, z, order);
            for nearby in [order - 1e-9, order + 1e-9] {
                let fractional = rdp(q, z, nearby);
                let error = ((fractional - integer) / integer).abs();
                assert!(
                    error < 1e-7,
                    "q {q}, z {z}, order {nearby}: relative error {error}"
                );
            }
        }
    }
}

#[test]
fn small_rate_matches_second_order_expansion() {
    // For small q, A_α - 1 ≈ C(α, 2) q² (e^{1/σ²} - 1), so the RDP is
    // about α q² (e^{1/σ²} - 1) / 2, for integer and fractional α alike.
    let (q, z) = (1e-4, 2.0_f64);
    for order in [1.5, 2.0, 3.0, 4.5] {
        let expected = order * q * q * (1.0 / (z * z)).exp_m1() / 2.0;
        let error = ((rdp(q, z, order) - expected) / expected).abs();
        assert!(error < 1e-3, "order {order}: relative error {error}");
    }
}

#[test]
fn tiny_rate_huge_noise_rdp_is_tiny() {
    for order in [1.1, 2.0, 10.5, 1024.0] {
        let value = rdp(1e-6, 1e4, order);
        assert!(value >= 0.0);
        assert!(value < 1e-15, "order {order}: {value}");
    }
}

#[test]
fn rdp_is_below_unsubsampled_gaussian() {
    for (q, z, order) in [(0.5, 0.5, 1.5), (0.9, 1.0, 10.9), (0.1, 0.3, 63.0)] {
        assert!(rdp(q, z, order) <= order / (2.0 * z * z));
    }
}

/// Relative slack for monotonicity checks: the fractional-order series has
/// rounding error of about 1e-16 in A_α, so values a few ulps apart may
/// come out in either order.
fn at_least(larger: f64, smaller: f64) -> bool {
    larger >= smaller * (1.0 - 1e-9) - 1e-15
}

/// Orders from the standard grid's range, integer or fractional.
fn order_strategy() -> impl Strategy<Value = f64> {
    prop_oneof![
        (11_u32..=109).prop_map(|tenths| f64::from(tenths) / 10.0),
        (2_u32..=64).prop_map(f64::from),
        1.01_f64..12.0,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn rdp_is_non_decreasing_in_sampling_rate(
        q in 1e-4_f64..0.99,
        ratio in 1.0_f64..3.0,
        z in 0.5_f64..10.0,
        order in order_strategy(),
    ) {
        let larger_q = (q * ratio).min(1.0);
        prop_assert!(at_least(rdp(larger_q, z, order), rdp(q, z, order)));
    }

    #[test]
    fn rdp_is_non_decreasing_in_order(
        q in 1e-4_f64..0.99,
        z in 0.5_f64..10.0,
        order in order_strategy(),
        step in 0.0_f64..5.0,
    ) {
        prop_assert!(at_least(rdp(q, z, order + step), rdp(q, z, order)));
    }

    #[test]
    fn rdp_is_non_increasing_in_noise(
        q in 1e-4_f64..0.99,
        z in 0.5_f64..10.0,
        ratio in 1.0_f64..3.0,
        order in order_strategy(),
    ) {
        prop_assert!(at_least(rdp(q, z, order), rdp(q, z * ratio, order)));
    }

    #[test]
    fn rdp_is_finite_and_non_negative(
        q in 0.0_f64..=1.0,
        z in 0.05_f64..1e3,
        order in order_strategy(),
    ) {
        let value = rdp(q, z, order);
        prop_assert!(value.is_finite());
        prop_assert!(value >= 0.0);
    }
}
