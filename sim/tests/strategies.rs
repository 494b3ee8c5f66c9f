//! Every strategy end to end: the real coordinator and client sessions,
//! with FedProx's proximal term and SCAFFOLD's control variates crossing
//! the encoded links.

mod support;

use starling_aggregate::StrategyKind;
use support::run_strategy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_strategy_completes_its_rounds_and_learns() {
    let dir = tempfile::tempdir().unwrap();
    let fedavg = run_strategy(dir.path(), "fedavg", None).await;
    for kind in &StrategyKind::ALL[1..] {
        let strategy = kind.as_str();
        let rounds = run_strategy(dir.path(), strategy, None).await;
        assert_eq!(rounds.len(), 3, "{strategy}");
        for (m, base) in rounds.iter().zip(&fedavg) {
            assert_eq!(m.error, None, "{strategy} round {}", m.round);
            assert_eq!(m.completed, m.sampled, "{strategy} round {}", m.round);
            // SCAFFOLD's control variate travels with the model and with
            // the update, so it roughly doubles the bytes both ways. The
            // others send exactly what FedAvg sends.
            if strategy == "scaffold" {
                assert!(m.bytes_up > base.bytes_up * 19 / 10, "{strategy} up");
                assert!(m.bytes_down > base.bytes_down * 19 / 10, "{strategy} down");
            } else {
                assert_eq!(m.bytes_up, base.bytes_up, "{strategy} round {}", m.round);
            }
        }
        let accuracy = rounds.last().and_then(|m| m.test_accuracy).unwrap();
        assert!(accuracy > 0.3, "{strategy}: accuracy {accuracy}");
    }
}
