//! DP-FedAvg end to end: Poisson sampling, clipping, noise, the accountant
//! and the budget that stops the run.

mod support;

use starling_privacy::RdpAccountant;
use starling_proto::FinishReason;
use starling_server::{PrivacyConfig, read_metrics};
use support::{run_sim, small_run};

const RATE: f64 = 0.25;
const NOISE: f64 = 1.0;
const DELTA: f64 = 1e-5;

fn epsilon_after(rounds: u64) -> f64 {
    let mut accountant = RdpAccountant::new();
    accountant
        .record_steps(RATE, NOISE, rounds)
        .expect("valid steps");
    accountant.epsilon(DELTA).expect("valid delta").epsilon
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_for_three_rounds_stops_after_three() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_run(dir.path(), 3);
    config.clients = 8;
    config.run.rounds = 10;
    let budget = (epsilon_after(3) + epsilon_after(4)) / 2.0;
    config.run.privacy = Some(PrivacyConfig {
        noise_multiplier: Some(NOISE),
        sampling_rate: RATE,
        delta: DELTA,
        // Noise of z * C / (q * N) = 0.0005 per value keeps training finite
        // with this tiny population.
        clip_norm: 1e-3,
        epsilon_budget: Some(budget),
        ..PrivacyConfig::default()
    });
    let report = run_sim(config).await;

    let FinishReason::PrivacyBudget {
        epsilon,
        budget: reported,
    } = report.summary.reason
    else {
        panic!(
            "expected the budget to end the run, got {:?}",
            report.summary.reason
        );
    };
    assert_eq!(reported, budget);
    assert!((epsilon - epsilon_after(3)).abs() < 1e-9, "{epsilon}");
    assert_eq!(report.summary.rounds, 3);
    let rounds = read_metrics(&report.run_dir).unwrap();
    assert_eq!(rounds.len(), 3);
    for (i, m) in rounds.iter().enumerate() {
        let privacy = m.privacy.as_ref().expect("every round records privacy");
        let expected = epsilon_after(i as u64 + 1);
        assert!(
            (privacy.epsilon - expected).abs() < 1e-9,
            "round {}",
            m.round
        );
        assert!(privacy.epsilon <= budget);
        assert_eq!(privacy.clip_norm, 1e-3);
        assert_eq!(privacy.sampling_rate, RATE);
        assert_eq!(privacy.epsilon_budget, Some(budget));
        assert_eq!(m.error, None, "round {}", m.round);
    }
    let header = std::fs::read_to_string(report.run_dir.join("header.json")).unwrap();
    assert!(header.contains("\"noise_multiplier\": 1.0"), "{header}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_cohorts_still_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_run(dir.path(), 4);
    config.clients = 4;
    config.run.rounds = 6;
    config.run.privacy = Some(PrivacyConfig {
        noise_multiplier: Some(NOISE),
        sampling_rate: 0.01,
        // z * C / (q * N) = 0.025 per value.
        clip_norm: 1e-3,
        ..PrivacyConfig::default()
    });
    let report = run_sim(config).await;
    assert!(
        report.client_errors.is_empty(),
        "{:?}",
        report.client_errors
    );
    assert_eq!(report.summary.reason, FinishReason::RoundsCompleted);
    let rounds = read_metrics(&report.run_dir).unwrap();
    assert_eq!(rounds.len(), 6);
    // With 4 clients at q = 0.01, most cohorts are empty; every round is
    // still aggregated (noise only) and counted.
    assert!(rounds.iter().any(|m| m.sampled == 0));
    let mut accountant = RdpAccountant::new();
    for m in &rounds {
        accountant.record_step(0.01, NOISE).unwrap();
        let privacy = m.privacy.as_ref().unwrap();
        let expected = accountant.epsilon(1e-5).unwrap().epsilon;
        // metrics.jsonl goes through decimal text, so allow the last bit.
        assert!(
            (privacy.epsilon - expected).abs() <= 1e-12 * expected,
            "round {}",
            m.round
        );
        assert_eq!(m.error, None);
    }
}
