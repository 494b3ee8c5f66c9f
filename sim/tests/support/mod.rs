//! Helpers shared by the simulation tests.

use std::time::Duration;

use starling_proto::ModelKind;
use starling_server::RunConfig;
use starling_sim::{SimConfig, SimReport, simulate};

/// Six clients, two rounds, half sampled, Dirichlet(0.3), MLP.
pub fn small_run(runs_dir: &std::path::Path, seed: u64) -> SimConfig {
    let mut run = RunConfig {
        rounds: 2,
        fraction: 0.5,
        seed,
        round_timeout_secs: 60.0,
        runs_dir: runs_dir.to_path_buf(),
        ..RunConfig::default()
    };
    run.train.model = ModelKind::Mlp;
    run.data.partition = "dirichlet".into();
    run.data.alpha = 0.3;
    SimConfig {
        run,
        clients: 6,
        parallel: 2,
        progress: false,
    }
}

/// Runs a simulation to the end, failing the test after 300 s.
pub async fn run_sim(config: SimConfig) -> SimReport {
    tokio::time::timeout(Duration::from_secs(300), simulate(config))
        .await
        .expect("simulation timed out")
        .expect("simulation failed")
}

/// Runs `small_run` with seed 5 for 3 rounds under `strategy` (and FedProx
/// μ when given) and returns its per-round metrics.
#[allow(dead_code)] // Only the strategy tests call it.
pub async fn run_strategy(
    dir: &std::path::Path,
    strategy: &str,
    mu: Option<f64>,
) -> Vec<starling_server::RoundMetrics> {
    let mut config = small_run(dir, 5);
    config.run.rounds = 3;
    config.run.strategy = strategy.to_owned();
    config.run.proximal_mu = mu;
    let report = run_sim(config).await;
    assert!(
        report.client_errors.is_empty(),
        "{:?}",
        report.client_errors
    );
    starling_server::read_metrics(&report.run_dir).expect("metrics of the run")
}
