//! Checks the accountant against reference values in `tests/data`.
//!
//! `rdp_reference.json` contains ε for 40 (q, z, steps, δ) cases from opacus
//! 1.6.0 with the improved conversion, and per-step RDP for 20 (q, z,
//! order) cases from a 50-digit numerical integration.
//! `rdp_quadrature.json` contains per-step RDP for 12 more fractional-order
//! cases (sampling rates above 0.5, noise multipliers up to 1000),
//! integrated with mpmath by `rdp_quadrature.py`. Each file's
//! `description` field states how its values were produced.

use serde::Deserialize;
use starling_privacy::{RdpAccountant, sampled_gaussian_rdp};

/// Largest accepted relative error against a reference value.
const TOLERANCE: f64 = 1e-6;

#[derive(Deserialize)]
struct Reference {
    epsilon_cases: Vec<EpsilonCase>,
    rdp_per_step_cases: Vec<RdpCase>,
}

#[derive(Deserialize)]
struct Quadrature {
    rdp_per_step_cases: Vec<RdpCase>,
}

#[derive(Deserialize)]
struct EpsilonCase {
    q: f64,
    noise_multiplier: f64,
    steps: u64,
    delta: f64,
    epsilon: f64,
    optimal_order: f64,
}

#[derive(Deserialize)]
struct RdpCase {
    q: f64,
    noise_multiplier: f64,
    order: f64,
    rdp_per_step: f64,
}

fn load_reference() -> Reference {
    let text = include_str!("data/rdp_reference.json");
    serde_json::from_str(text).expect("rdp_reference.json parses")
}

fn load_quadrature() -> Quadrature {
    let text = include_str!("data/rdp_quadrature.json");
    serde_json::from_str(text).expect("rdp_quadrature.json parses")
}

fn relative_error(actual: f64, expected: f64) -> f64 {
    ((actual - expected) / expected).abs()
}

#[test]
fn epsilon_matches_all_reference_cases() {
    let cases = load_reference().epsilon_cases;
    assert_eq!(cases.len(), 40);

    let mut worst = 0.0_f64;
    for case in &cases {
        let label = format!(
            "q {}, z {}, steps {}, delta {}",
            case.q, case.noise_multiplier, case.steps, case.delta
        );
        let mut accountant = RdpAccountant::new();
        accountant
            .record_steps(case.q, case.noise_multiplier, case.steps)
            .expect("valid steps");
        let spent = accountant.epsilon(case.delta).expect("valid delta");

        let error = relative_error(spent.epsilon, case.epsilon);
        worst = worst.max(error);
        assert!(
            error < TOLERANCE,
            "{label}: epsilon {} vs reference {} (relative error {error:e})",
            spent.epsilon,
            case.epsilon
        );
        assert!(
            (spent.order - case.optimal_order).abs() < 1e-9,
            "{label}: order {} vs reference {}",
            spent.order,
            case.optimal_order
        );
    }
    eprintln!(
        "epsilon: worst relative error {worst:e} over {} cases",
        cases.len()
    );
}

#[test]
fn per_step_rdp_matches_all_reference_cases() {
    let cases = load_reference().rdp_per_step_cases;
    assert_eq!(cases.len(), 20);
    let worst = check_rdp_cases(&cases);
    eprintln!(
        "per-step RDP: worst relative error {worst:e} over {} cases",
        cases.len()
    );
}

#[test]
fn per_step_rdp_matches_quadrature_cases() {
    let cases = load_quadrature().rdp_per_step_cases;
    assert_eq!(cases.len(), 12);
    let worst = check_rdp_cases(&cases);
    eprintln!(
        "quadrature RDP: worst relative error {worst:e} over {} cases",
        cases.len()
    );
}

/// Asserts every case within [`TOLERANCE`] and returns the worst relative
/// error.
fn check_rdp_cases(cases: &[RdpCase]) -> f64 {
    let mut worst = 0.0_f64;
    for case in cases {
        let rdp = sampled_gaussian_rdp(case.q, case.noise_multiplier, case.order)
            .expect("valid parameters");
        let error = relative_error(rdp, case.rdp_per_step);
        worst = worst.max(error);
        assert!(
            error < TOLERANCE,
            "q {}, z {}, order {}: RDP {rdp} vs reference {} (relative error {error:e})",
            case.q,
            case.noise_multiplier,
            case.order,
            case.rdp_per_step
        );
    }
    worst
}
