//! End-to-end simulations through the real coordinator and client core.

mod support;

use starling_proto::FinishReason;
use starling_server::read_metrics;
use starling_sim::{SimError, simulate};
use support::{run_sim, small_run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dirichlet_simulation_writes_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let report = run_sim(small_run(dir.path(), 3)).await;
    assert_eq!(report.summary.reason, FinishReason::RoundsCompleted);
    assert!(
        report.client_errors.is_empty(),
        "{:?}",
        report.client_errors
    );
    let metrics = read_metrics(&report.run_dir).unwrap();
    assert_eq!(metrics.len(), 2);
    for round in &metrics {
        assert_eq!(round.sampled, 3, "ceil(0.5 * 6) clients per round");
        assert_eq!(round.completed, 3);
        assert!(round.bytes_up > 0);
    }
    let accuracy = metrics[1].test_accuracy.unwrap();
    assert!(accuracy > 0.3, "accuracy after 2 rounds: {accuracy}");
    assert!(report.run_dir.join("partition.json").exists());
    assert!(report.run_dir.join("summary.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diverged_training_sits_the_round_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_run(dir.path(), 3);
    config.run.train.learning_rate = 1e30;
    // Clients decline the round, so no round waits this long.
    config.run.round_timeout_secs = 600.0;
    let report = run_sim(config).await;
    assert_eq!(report.summary.reason, FinishReason::RoundsCompleted);
    assert!(
        report.client_errors.is_empty(),
        "{:?}",
        report.client_errors
    );
    let metrics = read_metrics(&report.run_dir).unwrap();
    assert_eq!(metrics.len(), 2);
    for round in &metrics {
        assert_eq!(round.sampled, 3);
        assert_eq!(round.completed, 0, "every update diverged");
        assert_eq!(round.declined, 3);
        assert_eq!(round.dropped, 0);
        assert_eq!(round.late, 0, "the round closed before its deadline");
    }
}

#[tokio::test]
async fn zero_clients_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_run(dir.path(), 1);
    config.clients = 0;
    assert!(matches!(simulate(config).await, Err(SimError::NoClients)));
}
