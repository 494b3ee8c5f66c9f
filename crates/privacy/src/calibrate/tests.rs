//! Tests of noise calibration: the result never overspends, is close to
//! the smallest such noise multiplier, and bad requests are rejected.

use super::*;

fn epsilon_at(noise_multiplier: f64, q: f64, steps: u64, delta: f64) -> f64 {
    let mut accountant = RdpAccountant::new();
    accountant
        .record_steps(q, noise_multiplier, steps)
        .expect("valid steps");
    accountant.epsilon(delta).expect("valid delta").epsilon
}

#[test]
fn calibrated_noise_never_overspends() {
    let config = CalibrationConfig::default();
    for &q in &[0.001, 0.01, 0.1, 0.5, 1.0] {
        for &steps in &[1, 100, 10_000] {
            for &(target, delta) in &[(0.5, 1e-6), (2.0, 1e-5), (8.0, 1e-5)] {
                let case = format!("q {q}, steps {steps}, target {target}, delta {delta}");
                let noise = match config.calibrate(target, delta, q, steps) {
                    Ok(noise) => noise,
                    Err(PrivacyError::TargetUnreachable { .. }) => continue,
                    Err(error) => panic!("{case}: {error}"),
                };
                let spent = epsilon_at(noise, q, steps, delta);
                assert!(spent <= target, "{case}: noise {noise} spends {spent}");
            }
        }
    }
}

#[test]
fn calibrated_noise_is_nearly_smallest() {
    let config = CalibrationConfig::default();
    for &(target, delta, q, steps) in &[(1.0, 1e-5, 0.01, 1000), (8.0, 1e-6, 0.1, 500)] {
        let noise = config
            .calibrate(target, delta, q, steps)
            .expect("reachable target");
        let slightly_less = noise / (1.0 + 2.0 * config.tolerance);
        assert!(
            epsilon_at(slightly_less, q, steps, delta) > target,
            "q {q}, steps {steps}"
        );
    }
}

#[test]
fn reference_case_calibrates_back_to_its_noise() {
    // q = 0.05 and z = 1.5 spend ε ≈ 6.018907 in 1000 steps at δ = 1e-5.
    let noise = calibrate_noise_multiplier(6.018_907_1, 1e-5, 0.05, 1000).expect("reachable");
    assert!((noise - 1.5).abs() < 1e-4, "noise {noise}");
}

#[test]
fn nothing_spent_returns_minimum() {
    let config = CalibrationConfig::default();
    let zero_rate = config
        .calibrate(1.0, 1e-5, 0.0, 1000)
        .expect("valid request");
    assert_eq!(zero_rate, config.min_noise_multiplier);
    let no_steps = config.calibrate(1.0, 1e-5, 0.1, 0).expect("valid request");
    assert_eq!(no_steps, config.min_noise_multiplier);
}

#[test]
fn unreachable_target_is_rejected() {
    let config = CalibrationConfig {
        max_noise_multiplier: 2.0,
        ..CalibrationConfig::default()
    };
    let result = config.calibrate(0.1, 1e-5, 1.0, 1000);
    let Err(PrivacyError::TargetUnreachable {
        target,
        max_noise_multiplier,
        epsilon,
    }) = result
    else {
        panic!("expected TargetUnreachable, got {result:?}");
    };
    assert_eq!(target, 0.1);
    assert_eq!(max_noise_multiplier, 2.0);
    assert!(epsilon > 0.1);
}

#[test]
fn non_positive_target_is_rejected() {
    for target in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let result = calibrate_noise_multiplier(target, 1e-5, 0.01, 100);
        assert!(
            matches!(result, Err(PrivacyError::InvalidTargetEpsilon(_))),
            "target {target}"
        );
    }
}

#[test]
fn invalid_range_and_tolerance_are_rejected() {
    let empty_range = CalibrationConfig {
        min_noise_multiplier: 5.0,
        max_noise_multiplier: 5.0,
        ..CalibrationConfig::default()
    };
    let result = empty_range.calibrate(1.0, 1e-5, 0.01, 100);
    assert!(matches!(
        result,
        Err(PrivacyError::InvalidSearchRange { .. })
    ));

    let zero_tolerance = CalibrationConfig {
        tolerance: 0.0,
        ..CalibrationConfig::default()
    };
    let result = zero_tolerance.calibrate(1.0, 1e-5, 0.01, 100);
    assert_eq!(result, Err(PrivacyError::InvalidTolerance(0.0)));
}

#[test]
fn invalid_delta_and_rate_are_rejected() {
    let result = calibrate_noise_multiplier(1.0, 0.0, 0.01, 100);
    assert_eq!(result, Err(PrivacyError::InvalidDelta(0.0)));
    let result = calibrate_noise_multiplier(1.0, 1e-5, 1.5, 100);
    assert_eq!(result, Err(PrivacyError::InvalidSamplingRate(1.5)));
}
