//! Secure aggregation over real WebSockets: scripted clients run the
//! protocol with the crate's client state machine, one of them vanishes
//! after sharing its keys, and the server still unmasks the survivors' sum
//! exactly, applies their mean and reports the round.

// The helpers are shared with the round tests; this file uses a part.
#[allow(dead_code)]
mod support;

use std::collections::BTreeMap;

use starling_proto::{ClientMessage, ServerMessage};
use starling_secagg::{FixedPoint, MaskingClient};
use support::{TestClient, TestServer, test_config};

/// Registers `n` clients and returns them with their first task.
async fn cohort(server: &TestServer, n: usize) -> Vec<(TestClient, starling_proto::RoundTask)> {
    let mut clients = Vec::new();
    for i in 0..n {
        let mut client = server.connect().await;
        client.register(&format!("client-{i}")).await;
        clients.push(client);
    }
    let mut out = Vec::new();
    for mut client in clients {
        let task = client.next_task().await;
        out.push((client, task));
    }
    out
}

/// Reads messages until a secure request arrives.
async fn next_request(client: &mut TestClient) -> starling_proto::SecureRequest {
    loop {
        match client.recv().await {
            ServerMessage::Secure(request) => return request,
            ServerMessage::Error { code, message } => panic!("server refused: {code:?} {message}"),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survivors_sum_is_applied_when_a_client_drops_after_sharing_keys() {
    let mut config = test_config(5, 1);
    config.secure_aggregation = "secagg".to_owned();
    config.secure.phase_timeout_secs = 2.0;
    let mut server = TestServer::start(config).await;
    let before = server.model().params;
    let clients = cohort(&server, 5).await;
    let len = before.len();

    // Client i sends a constant update of 0.01 * (i + 1), weight 100.
    let mut states = BTreeMap::new();
    let mut sockets = BTreeMap::new();
    for (i, (mut socket, task)) in clients.into_iter().enumerate() {
        let setup = task
            .secure
            .clone()
            .expect("the task carries the secure setup");
        let fixed = FixedPoint::with(setup.clip_range, setup.value_bits);
        let values = vec![0.01 * (i as f32 + 1.0); len];
        let encoded = fixed.encode(&values, 100, i as u64).unwrap();
        let (state, advert) = MaskingClient::new(&setup, task.round, encoded.values).unwrap();
        socket.send(&ClientMessage::Secure(advert)).await;
        states.insert(setup.slot, state);
        sockets.insert(setup.slot, socket);
    }
    // Three phases; slot 5 leaves after sharing its keys.
    for phase in 0..3 {
        if phase == 1 {
            let socket = sockets.remove(&5).unwrap();
            states.remove(&5);
            socket.close().await;
        }
        for (slot, socket) in sockets.iter_mut() {
            let request = next_request(socket).await;
            let mut reply = states.get_mut(slot).unwrap().on_request(request).unwrap();
            if let starling_proto::SecureReply::MaskedInput { report, .. } = &mut reply {
                report.train_loss = 0.5;
                report.local_steps = 3;
            }
            socket.send(&ClientMessage::Secure(reply)).await;
        }
    }
    let metrics = server.round_completed(1).await;
    assert_eq!(metrics.error, None);
    let secure = metrics.secure_aggregation.expect("secure metrics");
    assert_eq!(secure.protocol, "secagg");
    assert_eq!(
        (secure.clients, secure.survivors, secure.recovered),
        (5, 4, 1)
    );
    assert!(!secure.aborted);
    assert!(secure.protocol_bytes > 0);
    assert!(secure.masked_bytes > 0);
    assert_eq!(
        (metrics.completed, metrics.dropped, metrics.examples),
        (4, 1, 400)
    );
    assert_eq!(metrics.train_loss, Some(0.5));

    // The survivors' mean is (0.01 + 0.02 + 0.03 + 0.04) / 4 = 0.025 per
    // value, within a few quantization steps of a 16-bit ±0.5 grid.
    let after = server.model().params;
    let step = 1.0 / 65535.0;
    for (a, b) in after.values().iter().zip(before.values()) {
        let shift = f64::from(a - b);
        assert!((shift - 0.025).abs() < 4.0 * step, "shift {shift}");
    }
    for socket in sockets.values_mut() {
        loop {
            match socket.recv().await {
                ServerMessage::Accepted { round } => {
                    assert_eq!(round, 1);
                    break;
                }
                ServerMessage::Finished { .. } => panic!("finished before accepting"),
                _ => {}
            }
        }
    }
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_updates_and_stale_replies_are_refused_in_a_secure_round() {
    let mut config = test_config(3, 2);
    config.secure_aggregation = "secagg".to_owned();
    config.secure.phase_timeout_secs = 1.0;
    config.round_timeout_secs = 2.0;
    let mut server = TestServer::start(config).await;
    let mut clients = cohort(&server, 3).await;
    let (socket, task) = &mut clients[0];
    let delta = support::constant_delta(&task.model, 0.1);
    socket.send_update(task.round, delta, 10).await;
    let message = socket
        .expect_error(starling_proto::ErrorCode::SecureProtocol)
        .await;
    assert!(message.contains("uses secure aggregation"), "{message}");
    let stale = starling_proto::SecureReply::Unmask {
        round: 1,
        seed_shares: vec![],
        key_shares: vec![],
    };
    socket.send(&ClientMessage::Secure(stale)).await;
    let message = socket
        .expect_error(starling_proto::ErrorCode::SecureProtocol)
        .await;
    assert!(
        message.contains("while the server collects advertise-keys"),
        "{message}"
    );
    // Nobody advertises keys: the round aborts below the threshold and
    // the model stays as it was.
    let before = server.model().params;
    let metrics = server.round_completed(1).await;
    let secure = metrics.secure_aggregation.expect("secure metrics");
    assert!(secure.aborted);
    assert!(metrics.error.unwrap().contains("aborted"));
    assert_eq!(server.model().params.values(), before.values());
    // The run goes on with the next round.
    let (sampled, _) = server.round_started(2).await;
    assert_eq!(sampled, 3);
    server.finish().await;
}

/// Starts a mask server on an ephemeral port of 127.0.0.1 and returns its
/// address.
async fn start_mask_server() -> (String, tokio::sync::oneshot::Sender<()>) {
    let service =
        starling_server::mask_server::MaskService::new(2).expect("a fresh mask server key");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("a bound address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(starling_server::serve(
        listener,
        starling_server::mask_server::router(service),
        async move {
            let _ = stopped.await;
        },
    ));
    (format!("ws://{addr}/mask"), stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_round_sums_the_inputs_that_arrived() {
    let (url, stop_mask_server) = start_mask_server().await;
    let mut config = test_config(4, 1);
    config.secure_aggregation = "two-server".to_owned();
    config.secure.mask_server = Some(url);
    config.secure.phase_timeout_secs = 5.0;
    config.round_timeout_secs = 3.0;
    let mut server = TestServer::start(config).await;
    let before = server.model().params;
    let len = before.len();
    let clients = cohort(&server, 4).await;
    let mut kept = Vec::new();
    for (i, (mut socket, task)) in clients.into_iter().enumerate() {
        let setup = task
            .secure
            .clone()
            .expect("the task carries the secure setup");
        let key = setup
            .mask_server_key
            .clone()
            .expect("the mask server's key");
        // Client 4 vanishes after training: only three inputs arrive.
        if i == 3 {
            socket.close().await;
            continue;
        }
        let fixed = FixedPoint::with(setup.clip_range, setup.value_bits);
        let ring = starling_secagg::Ring::new(setup.ring_bits).unwrap();
        let values = vec![0.01 * (i as f32 + 1.0); len];
        let mut encoded = fixed
            .encode_packed(ring, &values, 50, i as u64)
            .unwrap()
            .bytes;
        let share =
            starling_secagg::two_server::split(ring, &mut encoded, &key, task.round, setup.slot)
                .unwrap();
        let reply = starling_proto::SecureReply::MaskedInput {
            round: task.round,
            masked: encoded,
            mask_share: Some(share),
            report: starling_proto::TrainingReport {
                local_steps: 2,
                train_loss: 0.25,
            },
        };
        socket.send(&ClientMessage::Secure(reply)).await;
        kept.push(socket);
    }
    let metrics = server.round_completed(1).await;
    assert_eq!(metrics.error, None);
    let secure = metrics.secure_aggregation.expect("secure metrics");
    assert_eq!(secure.protocol, "two-server");
    assert_eq!((secure.clients, secure.survivors), (4, 3));
    // The exchange with the mask server counts: at least its reply, the
    // packed sum of the masks (len + 2 elements of 6 bytes in a 48-bit
    // ring), and at most that plus the three sealed seeds and framing.
    let packed_sum = (len as u64 + 2) * 6;
    assert!(
        (packed_sum..packed_sum + 1_000).contains(&secure.protocol_bytes),
        "protocol bytes {} for a packed sum of {packed_sum}",
        secure.protocol_bytes
    );
    assert_eq!(
        (metrics.completed, metrics.dropped, metrics.examples),
        (3, 1, 150)
    );
    // The mean of 0.01, 0.02 and 0.03.
    let after = server.model().params;
    let step = 1.0 / 65535.0;
    for (a, b) in after.values().iter().zip(before.values()) {
        let shift = f64::from(a - b);
        assert!((shift - 0.02).abs() < 4.0 * step, "shift {shift}");
    }
    server.finish().await;
    let _ = stop_mask_server.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_without_a_reachable_mask_server_does_not_start() {
    let mut config = test_config(2, 1);
    config.secure_aggregation = "two-server".to_owned();
    config.secure.mask_server = Some("ws://127.0.0.1:9/mask".to_owned());
    config.secure.phase_timeout_secs = 2.0;
    let dir = tempfile::tempdir().unwrap();
    config.runs_dir = dir.path().to_path_buf();
    let err = starling_server::start_run(config).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("mask server at ws://127.0.0.1:9/mask"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mask_server_turns_away_training_clients() {
    let (url, stop) = start_mask_server().await;
    let mut client = TestClient::connect(&url).await;
    client
        .send(&ClientMessage::Register {
            client_id: "edge-1".into(),
            capabilities: starling_proto::Capabilities {
                platform: "edge".into(),
                backend: "flex-cpu".into(),
                device: "cpu".into(),
                wants_data: true,
            },
            num_examples: 0,
        })
        .await;
    match client.recv().await {
        ServerMessage::Error { code, message } => {
            assert_eq!(code, starling_proto::ErrorCode::InvalidRegistration);
            assert!(message.contains("mask server"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    client.expect_closed().await;
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mask_server_answers_each_round_once() {
    let (url, stop) = start_mask_server().await;
    let timeout = std::time::Duration::from_secs(5);
    let mut link = starling_server::mask_server::MaskServerLink::connect(&url, timeout)
        .await
        .unwrap();
    let ring = starling_secagg::Ring::new(16).unwrap();
    let key = link.public_key().to_vec();
    let seeds: Vec<(u32, Vec<u8>)> = (1..=3)
        .map(|slot| {
            let mut input = ring.pack(&[5, 6]);
            let share = starling_secagg::two_server::split(ring, &mut input, &key, 1, slot);
            (slot, share.unwrap())
        })
        .collect();
    let err = link
        .sum("run", 1, ring, 2, seeds[..1].to_vec())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("rejected"), "{err}");
    link.sum("run", 1, ring, 2, seeds.clone()).await.unwrap();
    let err = link
        .sum("run", 1, ring, 2, seeds[..2].to_vec())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already answered"), "{err}");
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_noise_sum_is_divided_by_the_expected_cohort() {
    let mut config = test_config(4, 1);
    config.secure_aggregation = "secagg".to_owned();
    config.secure.phase_timeout_secs = 5.0;
    config.privacy = Some(starling_server::PrivacyConfig {
        noise_multiplier: Some(1e-6),
        sampling_rate: 1.0,
        population: Some(4),
        clip_norm: 1.0,
        ..starling_server::PrivacyConfig::default()
    });
    let mut server = TestServer::start(config).await;
    let before = server.model().params;
    let len = before.len();
    let clients = cohort(&server, 4).await;
    let mut states = BTreeMap::new();
    let mut sockets = BTreeMap::new();
    for (i, (mut socket, task)) in clients.into_iter().enumerate() {
        let setup = task
            .secure
            .clone()
            .expect("the task carries the secure setup");
        let noise = setup.noise.expect("distributed noise with [privacy]");
        let skellam = starling_privacy::SkellamNoise {
            clip_norm: noise.clip_norm,
            scale: noise.scale,
            l2_bound: noise.l2_bound,
            lambda: noise.lambda,
        };
        let ring = starling_secagg::Ring::new(setup.ring_bits).unwrap();
        // Client i sends 0.0005 · (i + 1) everywhere: norm 0.22 to 0.89,
        // within C = 1.
        let values = vec![0.0005 * (i as f32 + 1.0); len];
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(i as u64);
        let (integers, clipped) = skellam.encode(&values, &mut rng).unwrap();
        assert!(!clipped);
        let mut vector: Vec<u64> = integers.iter().map(|&v| ring.from_signed(v)).collect();
        vector.extend([1, 0]);
        let (state, advert) = MaskingClient::new(&setup, task.round, vector).unwrap();
        socket.send(&ClientMessage::Secure(advert)).await;
        states.insert(setup.slot, state);
        sockets.insert(setup.slot, socket);
    }
    for _ in 0..3 {
        for (slot, socket) in sockets.iter_mut() {
            let request = next_request(socket).await;
            let reply = states.get_mut(slot).unwrap().on_request(request).unwrap();
            socket.send(&ClientMessage::Secure(reply)).await;
        }
    }
    let metrics = server.round_completed(1).await;
    assert_eq!(metrics.error, None);
    let privacy = metrics.privacy.expect("privacy metrics");
    assert!(privacy.epsilon > 0.0);
    // (0.0005 + 0.001 + 0.0015 + 0.002) / (q·N = 4) = 0.00125, within
    // four rounding steps 1/γ = C / 2^16 over 4 and noise of standard
    // deviation z·C/4 per value.
    let after = server.model().params;
    let tolerance = 3e-5;
    for (a, b) in after.values().iter().zip(before.values()) {
        let shift = f64::from(a - b);
        assert!((shift - 0.00125).abs() < tolerance, "shift {shift}");
    }
    server.finish().await;
}
