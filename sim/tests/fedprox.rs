//! FedProx with μ = 0 is FedAvg, bit for bit, on the same seed.
//!
//! NOTE: in a binary of its own, because two simulations running at the
//! same time in one process are not reproducible (see determinism.rs).

mod support;

use support::run_strategy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fedprox_with_zero_mu_repeats_fedavg_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let fedavg = run_strategy(dir.path(), "fedavg", None).await;
    let fedprox = run_strategy(dir.path(), "fedprox", Some(0.0)).await;
    let strong = run_strategy(dir.path(), "fedprox", Some(1.0)).await;
    assert_eq!(fedavg.len(), 3);
    for ((a, b), c) in fedavg.iter().zip(&fedprox).zip(&strong) {
        assert_eq!(a.test_accuracy, b.test_accuracy, "round {}", a.round);
        assert_eq!(a.test_loss, b.test_loss, "round {}", a.round);
        assert_eq!(a.train_loss, b.train_loss, "round {}", a.round);
        assert_ne!(a.test_loss, c.test_loss, "mu = 1 changed nothing");
    }
}
