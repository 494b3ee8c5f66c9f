//! Secure aggregation with real client sessions: every client trains,
//! quantizes and masks its update, and the server learns as well as it
//! does from plain updates.

mod support;

use support::{run_sim, small_run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secagg_rounds_learn_like_plain_fedavg() {
    let dir = tempfile::tempdir().unwrap();
    let mut plain = small_run(dir.path(), 5);
    plain.run.rounds = 3;
    let plain = starling_server::read_metrics(&run_sim(plain).await.run_dir).unwrap();

    for protocol in ["secagg", "secagg+"] {
        let mut config = small_run(dir.path(), 5);
        config.run.rounds = 3;
        config.run.secure_aggregation = protocol.to_owned();
        let report = run_sim(config).await;
        assert!(
            report.client_errors.is_empty(),
            "{:?}",
            report.client_errors
        );
        let rounds = starling_server::read_metrics(&report.run_dir).unwrap();
        assert_eq!(rounds.len(), 3);
        for (m, base) in rounds.iter().zip(&plain) {
            assert_eq!(m.error, None, "{protocol} round {}", m.round);
            let secure = m.secure_aggregation.as_ref().expect("secure metrics");
            assert_eq!(secure.protocol, protocol);
            assert_eq!(secure.survivors, m.sampled, "{protocol} round {}", m.round);
            assert!(!secure.aborted);
            // The weighted sum carries the example counts exactly.
            assert_eq!(m.examples, base.examples, "{protocol} round {}", m.round);
            assert!(secure.protocol_bytes > 0);
        }
        let accuracy = rounds.last().and_then(|m| m.test_accuracy).unwrap();
        let reference = plain.last().and_then(|m| m.test_accuracy).unwrap();
        assert!(
            (accuracy - reference).abs() < 0.02,
            "{protocol}: {accuracy} against {reference} without secure aggregation"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secagg_plus_pairs_each_client_with_its_neighbours_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_run(dir.path(), 9);
    config.clients = 10;
    config.run.fraction = 1.0;
    config.run.rounds = 1;
    config.run.expected_clients = 10;
    config.run.secure_aggregation = "secagg+".to_owned();
    config.run.secure.neighbours = Some(4);
    let sparse = run_sim(config.clone()).await;
    assert!(
        sparse.client_errors.is_empty(),
        "{:?}",
        sparse.client_errors
    );
    config.run.secure_aggregation = "secagg".to_owned();
    let full = run_sim(config).await;
    let sparse = &starling_server::read_metrics(&sparse.run_dir).unwrap()[0];
    let full = &starling_server::read_metrics(&full.run_dir).unwrap()[0];
    let (s, f) = (
        sparse.secure_aggregation.as_ref().unwrap(),
        full.secure_aggregation.as_ref().unwrap(),
    );
    assert_eq!((s.survivors, f.survivors), (10, 10));
    // Ten clients with four neighbours each exchange 40 bundles instead of
    // 90, and advertise the same keys.
    assert!(
        s.protocol_bytes * 10 < f.protocol_bytes * 7,
        "sparse {} against all-to-all {}",
        s.protocol_bytes,
        f.protocol_bytes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_rounds_split_updates_with_a_mask_server() {
    let service = starling_server::mask_server::MaskService::new(2).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(starling_server::serve(
        listener,
        starling_server::mask_server::router(service),
        async move {
            let _ = stopped.await;
        },
    ));
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_run(dir.path(), 5);
    config.run.rounds = 2;
    config.run.secure_aggregation = "two-server".to_owned();
    config.run.secure.mask_server = Some(format!("ws://{addr}/mask"));
    let report = run_sim(config).await;
    assert!(
        report.client_errors.is_empty(),
        "{:?}",
        report.client_errors
    );
    let rounds = starling_server::read_metrics(&report.run_dir).unwrap();
    assert_eq!(rounds.len(), 2);
    for m in &rounds {
        assert_eq!(m.error, None, "round {}", m.round);
        let secure = m.secure_aggregation.as_ref().expect("secure metrics");
        assert_eq!(secure.protocol, "two-server");
        assert_eq!(secure.survivors, m.sampled);
    }
    assert!(rounds[1].test_accuracy.unwrap() > 0.3);
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_noise_rounds_report_epsilon_and_learn() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_run(dir.path(), 6);
    config.clients = 8;
    config.run.rounds = 3;
    config.run.secure_aggregation = "secagg".to_owned();
    config.run.privacy = Some(starling_server::PrivacyConfig {
        // Noise of z·C / (q·N) = 0.0014 per value lets the model learn. At
        // q = 0.9 a round samples fewer than 2 of the 8 clients, and is
        // refused, with probability below 1e-6.
        noise_multiplier: Some(0.01),
        sampling_rate: 0.9,
        clip_norm: 1.0,
        ..starling_server::PrivacyConfig::default()
    });
    let report = run_sim(config).await;
    assert!(
        report.client_errors.is_empty(),
        "{:?}",
        report.client_errors
    );
    let rounds = starling_server::read_metrics(&report.run_dir).unwrap();
    assert_eq!(rounds.len(), 3);
    let mut last_epsilon = 0.0;
    for m in &rounds {
        let privacy = m.privacy.as_ref().expect("privacy metrics");
        assert!(privacy.epsilon > last_epsilon, "round {}", m.round);
        last_epsilon = privacy.epsilon;
        // Rounds with fewer than two sampled clients are refused and still
        // counted; the others are summed securely.
        if m.error.is_none() {
            let secure = m.secure_aggregation.as_ref().expect("secure metrics");
            assert!(!secure.aborted);
            assert_eq!(secure.survivors, m.sampled);
        }
    }
    let completed = rounds.iter().filter(|m| m.error.is_none()).count();
    assert!(completed >= 2, "{rounds:?}");
    let accuracy = rounds.iter().rev().find_map(|m| m.test_accuracy).unwrap();
    // Cohorts are drawn from OS randomness, so this only checks that
    // training moves; tests/secure.rs in the server checks the decoded
    // mean exactly.
    assert!(accuracy > 0.2, "accuracy {accuracy}");
}
