//! Tests of the accountant: composition, the ε conversions and their edge
//! cases.

use proptest::prelude::*;

use super::*;
use crate::rdp::sampled_gaussian_rdp;

#[test]
fn new_accountant_has_standard_orders_and_no_rdp() {
    let accountant = RdpAccountant::new();
    assert_eq!(accountant.orders(), standard_orders().as_slice());
    assert!(accountant.rdp().iter().all(|&value| value == 0.0));
}

#[test]
fn two_steps_double_one_step() {
    let mut once = RdpAccountant::new();
    once.record_step(0.05, 1.2).expect("valid step");
    let mut twice = RdpAccountant::new();
    twice.record_step(0.05, 1.2).expect("valid step");
    twice.record_step(0.05, 1.2).expect("valid step");
    for (double, single) in twice.rdp().iter().zip(once.rdp()) {
        assert_eq!(*double, 2.0 * single);
    }
}

#[test]
fn counted_steps_scale_one_step() {
    let mut accountant = RdpAccountant::new();
    accountant
        .record_steps(0.01, 1.1, 500)
        .expect("valid steps");
    for (&order, &total) in accountant.orders().iter().zip(accountant.rdp()) {
        let one = sampled_gaussian_rdp(0.01, 1.1, order).expect("valid step");
        assert_eq!(total, 500.0 * one, "order {order}");
    }
}

#[test]
fn mixed_steps_add_per_order() {
    let mut accountant = RdpAccountant::with_orders(vec![1.5, 4.0, 32.0]).expect("valid orders");
    accountant.record_step(0.1, 1.0).expect("valid step");
    accountant.record_step(0.02, 2.5).expect("valid step");
    for (&order, &total) in accountant.orders().iter().zip(accountant.rdp()) {
        let first = sampled_gaussian_rdp(0.1, 1.0, order).expect("valid step");
        let second = sampled_gaussian_rdp(0.02, 2.5, order).expect("valid step");
        assert!(
            (total - (first + second)).abs() <= 1e-15 * total,
            "order {order}"
        );
    }
}

#[test]
fn failed_step_records_nothing() {
    let mut accountant = RdpAccountant::new();
    accountant.record_step(0.1, 1.0).expect("valid step");
    let before = accountant.clone();
    assert!(accountant.record_step(1.5, 1.0).is_err());
    assert!(accountant.record_step(0.1, 1e-200).is_err());
    assert_eq!(accountant, before);
}

#[test]
fn zero_steps_record_nothing() {
    let mut accountant = RdpAccountant::new();
    accountant.record_steps(0.3, 0.7, 0).expect("valid steps");
    assert_eq!(accountant, RdpAccountant::new());
}

#[test]
fn zero_sampling_rate_spends_exactly_zero() {
    let mut accountant = RdpAccountant::new();
    accountant
        .record_steps(0.0, 1.0, 10_000)
        .expect("valid steps");
    for delta in [1e-10, 1e-5, 0.5] {
        let improved = accountant.epsilon(delta).expect("valid delta");
        assert_eq!(improved.epsilon, 0.0, "delta {delta}");
        let classic = accountant.epsilon_classic(delta).expect("valid delta");
        assert_eq!(classic.epsilon, 0.0, "delta {delta}");
    }
}

#[test]
fn empty_accountant_spends_exactly_zero() {
    let spent = RdpAccountant::new().epsilon(1e-5).expect("valid delta");
    assert_eq!(spent.epsilon, 0.0);
}

#[test]
fn documented_case_spends_expected_epsilon() {
    let mut accountant = RdpAccountant::new();
    accountant
        .record_steps(0.05, 1.5, 1000)
        .expect("valid steps");
    let spent = accountant.epsilon(1e-5).expect("valid delta");
    assert!(
        (spent.epsilon - 6.018_907).abs() < 1e-6,
        "epsilon {}",
        spent.epsilon
    );
    assert!((spent.order - 4.4).abs() < 1e-12, "order {}", spent.order);
}

#[test]
fn classic_conversion_is_never_below_improved() {
    let mut accountant = RdpAccountant::new();
    accountant
        .record_steps(0.02, 1.0, 2000)
        .expect("valid steps");
    let improved = accountant.epsilon(1e-6).expect("valid delta");
    let classic = accountant.epsilon_classic(1e-6).expect("valid delta");
    assert!(classic.epsilon > improved.epsilon);
}

#[test]
fn epsilon_small_nonnegative_for_huge_noise() {
    let mut accountant = RdpAccountant::new();
    accountant
        .record_steps(1e-6, 1e4, 1_000_000)
        .expect("valid steps");
    let spent = accountant.epsilon(1e-5).expect("valid delta");
    assert!(spent.epsilon >= 0.0);
    assert!(spent.epsilon < 0.01, "epsilon {}", spent.epsilon);
}

#[test]
fn invalid_delta_is_rejected() {
    let accountant = RdpAccountant::new();
    assert_eq!(
        accountant.epsilon(0.0),
        Err(PrivacyError::InvalidDelta(0.0))
    );
    assert_eq!(
        accountant.epsilon_classic(1.0),
        Err(PrivacyError::InvalidDelta(1.0))
    );
}

#[test]
fn empty_order_list_is_rejected() {
    assert_eq!(
        RdpAccountant::with_orders(vec![]),
        Err(PrivacyError::NoOrders)
    );
}

#[test]
fn invalid_custom_order_is_rejected() {
    let result = RdpAccountant::with_orders(vec![2.0, 1.0, 3.0]);
    assert_eq!(result, Err(PrivacyError::InvalidOrder(1.0)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn epsilon_is_never_negative(
        q in 0.0_f64..=1.0,
        z in 0.3_f64..50.0,
        steps in 0_u64..100_000,
        delta in 1e-12_f64..0.99,
    ) {
        let mut accountant = RdpAccountant::new();
        accountant.record_steps(q, z, steps).expect("valid steps");
        let improved = accountant.epsilon(delta).expect("valid delta");
        prop_assert!(improved.epsilon >= 0.0);
        let classic = accountant.epsilon_classic(delta).expect("valid delta");
        prop_assert!(classic.epsilon >= 0.0);
    }
}

#[test]
fn state_survives_a_json_round_trip() {
    let mut accountant = RdpAccountant::new();
    accountant.record_steps(0.05, 1.5, 10).unwrap();
    let text = serde_json::to_string(&accountant).unwrap();
    let mut restored: RdpAccountant = serde_json::from_str(&text).unwrap();
    assert_eq!(restored, accountant);
    restored.record_step(0.05, 1.5).unwrap();
    accountant.record_step(0.05, 1.5).unwrap();
    assert_eq!(
        restored.epsilon(1e-5).unwrap(),
        accountant.epsilon(1e-5).unwrap()
    );
}
