//! Reproducibility of a simulation from its seed.
//!
//! NOTE: this test has its own binary. Two simulations running at the same
//! time in one process were seen to differ in round 1, and the cause is not
//! found (burn state shared between threads is the suspect). One simulation
//! per process, as `starling sim` runs, repeated exactly in every try.

mod support;

use starling_server::read_metrics;
use support::{run_sim, small_run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_gives_same_run() {
    let dir = tempfile::tempdir().unwrap();
    let first = run_sim(small_run(dir.path(), 11)).await;
    let second = run_sim(small_run(dir.path(), 11)).await;
    let a = read_metrics(&first.run_dir).unwrap();
    let b = read_metrics(&second.run_dir).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.test_accuracy, y.test_accuracy, "round {}", x.round);
        assert_eq!(x.train_loss, y.train_loss, "round {}", x.round);
        assert_eq!(x.examples, y.examples, "round {}", x.round);
    }
    assert_ne!(first.run_dir, second.run_dir);
}
