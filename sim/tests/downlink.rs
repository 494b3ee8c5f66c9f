//! Downlink compression end to end: clients rebuild the broadcast model
//! from compressed steps, the bytes sent shrink, and training goes on as
//! with dense models.

mod support;

use support::{run_sim, small_run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_bit_downlink_cuts_model_bytes_and_still_learns() {
    let dir = tempfile::tempdir().unwrap();
    let mut plain = small_run(dir.path(), 8);
    plain.run.fraction = 1.0;
    plain.run.rounds = 3;
    let mut compressed = plain.clone();
    compressed.run.downlink_compression = "8bit".to_owned();
    let plain = starling_server::read_metrics(&run_sim(plain).await.run_dir).unwrap();
    let report = run_sim(compressed).await;
    assert!(
        report.client_errors.is_empty(),
        "{:?}",
        report.client_errors
    );
    let rounds = starling_server::read_metrics(&report.run_dir).unwrap();
    assert_eq!(rounds.len(), 3);
    let header = std::fs::read_to_string(report.run_dir.join("header.json")).unwrap();
    let header: starling_runlog::RunHeader = serde_json::from_str(&header).unwrap();
    assert_eq!(header.downlink_compression, "8bit:1024");
    assert_eq!(header.compression, "off");
    // Round 1 sends the dense reference; later rounds send one 8-bit step
    // to every client, about a quarter of the dense model.
    assert_eq!(rounds[0].bytes_down, rounds[0].bytes_down_uncompressed);
    for (m, base) in rounds.iter().zip(&plain).skip(1) {
        assert_eq!(m.error, None);
        assert_eq!(m.completed, m.sampled);
        assert!(
            m.bytes_down * 3 < base.bytes_down,
            "round {}: {} against {}",
            m.round,
            m.bytes_down,
            base.bytes_down
        );
        assert!(
            m.bytes_down_uncompressed > m.bytes_down * 3,
            "round {}",
            m.round
        );
    }
    let accuracy = rounds[2].test_accuracy.unwrap();
    let reference = plain[2].test_accuracy.unwrap();
    assert!(
        (accuracy - reference).abs() < 0.03,
        "{accuracy} against {reference}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_missed_rounds_get_steps_or_the_dense_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_run(dir.path(), 3);
    config.clients = 6;
    config.run.fraction = 0.5;
    config.run.rounds = 5;
    config.run.downlink_compression = "topk:0.1+8bit".to_owned();
    let report = run_sim(config).await;
    assert!(
        report.client_errors.is_empty(),
        "{:?}",
        report.client_errors
    );
    let rounds = starling_server::read_metrics(&report.run_dir).unwrap();
    assert_eq!(rounds.len(), 5);
    for m in &rounds {
        assert_eq!(m.error, None, "round {}", m.round);
        assert_eq!(m.completed, m.sampled, "round {}", m.round);
    }
    // Some tasks after round 1 carried steps: fewer bytes than dense.
    let later: u64 = rounds[1..].iter().map(|m| m.bytes_down).sum();
    let dense: u64 = rounds[1..].iter().map(|m| m.bytes_down_uncompressed).sum();
    assert!(later < dense, "{later} against {dense}");
}
