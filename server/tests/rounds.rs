//! Round-level behaviour of the coordinator over real WebSockets: exact
//! FedAvg aggregation, deadlines, stale and invalid updates, frame limits
//! and reconnects. Clients send constant deltas instead of training, so
//! every expected model value is known in advance.

mod support;

use std::time::{Duration, Instant};

use starling_compress::Chain;
use starling_proto::{
    ClientMessage, ClientUpdate, ErrorCode, FinishReason, HEADER_LEN, MAGIC, ModelKind,
    PROTOCOL_VERSION, ParamSet, RoundTask, ServerMessage, Sparsification, TensorSpec,
    UpdatePayload, UplinkCompression, encode_client, encode_server,
};
use starling_server::read_metrics;
use support::{
    TestServer, assert_finite, assert_shifted, constant_delta, test_config, update_message,
};

/// Returns the raw bit patterns of a model, for bit-identical comparisons.
fn bits(params: &ParamSet) -> Vec<u32> {
    params.values().iter().map(|v| v.to_bits()).collect()
}

/// Builds a `len`-byte frame: a valid header followed by bytes that are not
/// a valid message body.
fn junk_frame(len: usize) -> Vec<u8> {
    let mut frame = Vec::with_capacity(len);
    frame.extend_from_slice(&MAGIC);
    frame.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    frame.resize(len, 0xff);
    frame
}

#[tokio::test]
async fn three_clients_complete_a_round() {
    let mut server = TestServer::start(test_config(3, 1)).await;
    let initial = server.model();
    assert_eq!(initial.round, 0, "the first snapshot is the initial model");

    let mut clients = Vec::new();
    for id in ["a", "b", "c"] {
        let mut client = server.connect().await;
        client.register(id).await;
        clients.push(client);
    }
    let (sampled, available) = server.round_started(1).await;
    assert_eq!(sampled, 3, "RoundStarted.sampled");
    assert_eq!(available, 3, "RoundStarted.available");

    // (delta value, examples): the FedAvg mean is (10 + 40 + 280) / 100.
    let updates = [(1.0, 10), (2.0, 20), (4.0, 70)];
    let mut bytes_up = 0;
    let mut bytes_down = 0;
    for (client, (value, examples)) in clients.iter_mut().zip(updates) {
        let task = client.next_task().await;
        assert_eq!(task.round, 1);
        assert_eq!(task.model, *initial.params, "task carries the global model");
        bytes_down += encode_server(&ServerMessage::Round(Box::new(task.clone())))
            .expect("failed to re-encode the task")
            .len();
        bytes_up += client
            .send_update(1, constant_delta(&task.model, value), examples)
            .await;
        client.expect_accepted(1).await;
        bytes_down += encode_server(&ServerMessage::Accepted { round: 1 })
            .expect("failed to encode Accepted")
            .len();
    }

    let metrics = server.round_completed(1).await;
    assert_eq!(metrics.sampled, 3);
    assert_eq!(metrics.completed, 3);
    assert_eq!(metrics.dropped, 0);
    assert_eq!(metrics.rejected, 0);
    assert_eq!(metrics.examples, 100);
    assert_eq!(
        metrics.bytes_up, bytes_up as u64,
        "bytes_up is the three updates"
    );
    assert_eq!(
        metrics.bytes_down, bytes_down as u64,
        "bytes_down is three tasks and three Accepted replies"
    );
    assert!(metrics.test_accuracy.is_some(), "round 1 is evaluated");
    assert!(metrics.error.is_none(), "{:?}", metrics.error);

    let after = server.model();
    assert_eq!(after.round, 1);
    assert_shifted(&initial.params, &after.params, 3.3);

    let written = read_metrics(server.handle.run_dir()).expect("failed to read metrics.jsonl");
    assert_eq!(written.len(), 1, "one line per round");
    assert_eq!(written[0].round, 1);
    assert_eq!(written[0].completed, 3);

    drop(clients);
    let summary = server.finish().await;
    assert_eq!(summary.reason, FinishReason::RoundsCompleted);
    assert_eq!(summary.rounds, 1);
}

#[tokio::test]
async fn disconnected_client_stale_update_is_rejected() {
    let timeout_secs = 2.0;
    let mut config = test_config(3, 2);
    config.round_timeout_secs = timeout_secs;
    let mut server = TestServer::start(config).await;

    let mut a = server.connect().await;
    a.register("a").await;
    let mut b = server.connect().await;
    b.register("b").await;
    let mut c = server.connect().await;
    c.register("c").await;
    let task_a = a.next_task().await;
    let task_b = b.next_task().await;
    let stale_task = c.next_task().await;

    // c disconnects without sending its update, so round 1 can only close
    // at the deadline.
    c.close().await;
    a.send_update(1, constant_delta(&task_a.model, 1.0), 10)
        .await;
    a.expect_accepted(1).await;
    b.send_update(1, constant_delta(&task_b.model, 2.0), 30)
        .await;
    b.expect_accepted(1).await;

    let first = server.round_completed(1).await;
    assert_eq!(first.sampled, 3);
    assert_eq!(first.completed, 2);
    assert_eq!(first.dropped, 1);
    assert!(
        first.duration_s >= timeout_secs,
        "round 1 closed after {} s, before its {timeout_secs} s deadline",
        first.duration_s
    );
    let after_first = server.model();
    assert_shifted(&task_a.model, &after_first.params, (10.0 + 60.0) / 40.0);

    // With min_clients 3, round 2 cannot start until c is back, so c's
    // next message is the round 2 task, and the stale update below arrives
    // while round 2 is open.
    let mut c = server.connect().await;
    c.register("c").await;
    let task_c = c.next_task().await;
    assert_eq!(task_c.round, 2);
    c.send_update(1, constant_delta(&stale_task.model, 100.0), 1000)
        .await;
    let message = c.expect_error(ErrorCode::WrongRound).await;
    assert!(message.contains("expected round 2"), "{message}");
    assert!(message.contains("got 1"), "{message}");

    let task_a = a.next_task().await;
    let task_b = b.next_task().await;
    assert_eq!(task_a.round, 2);
    assert_eq!(task_b.round, 2);
    a.send_update(2, constant_delta(&task_a.model, 1.0), 10)
        .await;
    a.expect_accepted(2).await;
    b.send_update(2, constant_delta(&task_b.model, 2.0), 10)
        .await;
    b.expect_accepted(2).await;
    c.send_update(2, constant_delta(&task_c.model, 3.0), 20)
        .await;
    c.expect_accepted(2).await;

    let second = server.round_completed(2).await;
    assert_eq!(second.sampled, 3);
    assert_eq!(second.completed, 3, "only round 2 updates count");
    assert_eq!(second.rejected, 1, "the stale update is rejected");
    assert_eq!(
        second.examples, 40,
        "the stale update's examples do not count"
    );
    assert_eq!(second.dropped, 0);
    assert_shifted(
        &after_first.params,
        &server.model().params,
        (10.0 + 20.0 + 60.0) / 40.0,
    );

    drop((a, b, c));
    server.finish().await;
}

#[tokio::test]
async fn previous_round_update_is_rejected() {
    let mut server = TestServer::start(test_config(2, 2)).await;
    let mut a = server.connect().await;
    a.register("a").await;
    let mut b = server.connect().await;
    b.register("b").await;

    let first_task = a.next_task().await;
    a.send_update(1, constant_delta(&first_task.model, 1.0), 10)
        .await;
    a.expect_accepted(1).await;
    let task_b = b.next_task().await;
    b.send_update(1, constant_delta(&task_b.model, 2.0), 10)
        .await;
    b.expect_accepted(1).await;

    let task_a = a.next_task().await;
    let task_b = b.next_task().await;
    assert_eq!(task_a.round, 2);
    a.send_update(1, constant_delta(&first_task.model, 100.0), 1000)
        .await;
    let message = a.expect_error(ErrorCode::WrongRound).await;
    assert!(
        message.contains("round 2"),
        "names the open round: {message}"
    );
    assert!(
        message.contains("got 1"),
        "names the update's round: {message}"
    );

    a.send_update(2, constant_delta(&task_a.model, 1.0), 30)
        .await;
    a.expect_accepted(2).await;
    b.send_update(2, constant_delta(&task_b.model, 3.0), 10)
        .await;
    b.expect_accepted(2).await;

    let metrics = server.round_completed(2).await;
    assert_eq!(metrics.completed, 2);
    assert_eq!(metrics.rejected, 1);
    assert_eq!(metrics.examples, 40);
    assert_shifted(&task_a.model, &server.model().params, (30.0 + 30.0) / 40.0);

    drop((a, b));
    server.finish().await;
}

#[tokio::test]
async fn decline_closes_round_without_deadline() {
    let mut config = test_config(2, 2);
    // Far beyond the test's own timeouts: only the decline can close round 1.
    config.round_timeout_secs = 3600.0;
    let mut server = TestServer::start(config).await;
    let mut a = server.connect().await;
    a.register("a").await;
    let mut b = server.connect().await;
    b.register("b").await;

    let task_a = a.next_task().await;
    b.next_task().await;
    a.send_update(1, constant_delta(&task_a.model, 1.0), 10)
        .await;
    a.expect_accepted(1).await;

    let decline = |round| ClientMessage::Decline {
        round,
        reason: "local training diverged".to_owned(),
    };
    b.send(&decline(2)).await;
    let message = b.expect_error(ErrorCode::WrongRound).await;
    assert!(message.starts_with("decline rejected"), "{message}");
    assert!(message.contains("got 2"), "{message}");
    a.send(&decline(1)).await;
    let message = a.expect_error(ErrorCode::DuplicateUpdate).await;
    assert!(message.contains("client a already sent"), "{message}");

    b.send(&decline(1)).await;
    let metrics = server.round_completed(1).await;
    assert_eq!(metrics.completed, 1);
    assert_eq!(metrics.declined, 1);
    assert_eq!(metrics.dropped, 0);
    assert_eq!(metrics.late, 0);
    assert_eq!(metrics.rejected, 2);
    assert_shifted(&task_a.model, &server.model().params, 1.0);

    // Round 2 goes on as usual for both clients.
    for (client, value) in [(&mut a, 1.0), (&mut b, 3.0)] {
        let task = client.next_task().await;
        assert_eq!(task.round, 2);
        client
            .send_update(2, constant_delta(&task.model, value), 10)
            .await;
        client.expect_accepted(2).await;
    }
    let metrics = server.round_completed(2).await;
    assert_eq!(metrics.completed, 2);
    assert_eq!(metrics.declined, 0);

    drop((a, b));
    server.finish().await;
}

#[tokio::test]
async fn zero_examples_leave_model_unchanged() {
    let mut server = TestServer::start(test_config(2, 2)).await;
    let initial = server.model();
    let mut a = server.connect().await;
    a.register("a").await;
    let mut b = server.connect().await;
    b.register("b").await;

    let task_a = a.next_task().await;
    let task_b = b.next_task().await;
    a.send_update(1, constant_delta(&task_a.model, 1.0), 0)
        .await;
    a.expect_accepted(1).await;
    b.send_update(1, constant_delta(&task_b.model, 2.0), 0)
        .await;
    b.expect_accepted(1).await;

    let first = server.round_completed(1).await;
    assert_eq!(first.completed, 2);
    let error = first
        .error
        .expect("expected an aggregation error for zero total examples");
    assert!(error.contains("zero examples"), "{error}");
    assert!(
        first.train_loss.is_none_or(f64::is_finite),
        "train loss {:?}",
        first.train_loss
    );
    assert_eq!(
        bits(&server.model().params),
        bits(&initial.params),
        "published model changed"
    );

    // The next task carries the server's global model itself.
    let task_a = a.next_task().await;
    let task_b = b.next_task().await;
    assert_eq!(task_a.round, 2);
    assert_eq!(
        bits(&task_a.model),
        bits(&initial.params),
        "global model changed"
    );
    assert_finite(&task_a.model);

    a.send_update(2, constant_delta(&task_a.model, 1.0), 10)
        .await;
    a.expect_accepted(2).await;
    b.send_update(2, constant_delta(&task_b.model, 3.0), 10)
        .await;
    b.expect_accepted(2).await;
    let second = server.round_completed(2).await;
    assert!(second.error.is_none(), "{:?}", second.error);
    assert_eq!(second.completed, 2);
    assert_shifted(&initial.params, &server.model().params, 2.0);

    drop((a, b));
    server.finish().await;
}

#[tokio::test]
async fn nan_update_is_rejected() {
    let mut server = TestServer::start(test_config(3, 1)).await;
    let mut clients = Vec::new();
    for id in ["a", "b", "c"] {
        let mut client = server.connect().await;
        client.register(id).await;
        clients.push(client);
    }
    let mut tasks = Vec::new();
    for client in &mut clients {
        tasks.push(client.next_task().await);
    }

    let mut poisoned = constant_delta(&tasks[2].model, 1.0);
    poisoned.values_mut()[5] = f32::NAN;
    clients[2].send_update(1, poisoned, 1000).await;
    let message = clients[2].expect_error(ErrorCode::NonFinite).await;
    assert!(message.contains("not finite"), "{message}");

    clients[0]
        .send_update(1, constant_delta(&tasks[0].model, 1.0), 10)
        .await;
    clients[0].expect_accepted(1).await;
    clients[1]
        .send_update(1, constant_delta(&tasks[1].model, 2.0), 30)
        .await;
    clients[1].expect_accepted(1).await;

    let metrics = server.round_completed(1).await;
    assert_eq!(metrics.sampled, 3);
    assert_eq!(metrics.completed, 2);
    assert_eq!(metrics.rejected, 1);
    assert_eq!(metrics.examples, 40);
    let after = server.model();
    assert_finite(&after.params);
    assert_shifted(&tasks[0].model, &after.params, (10.0 + 60.0) / 40.0);

    drop(clients);
    server.finish().await;
}

#[tokio::test]
async fn oversized_frame_is_rejected() {
    // The limit is exactly the size of the update the client sends later,
    // so the test checks both sides of the boundary.
    let specs = starling_train::param_specs(ModelKind::Mlp);
    let len = specs.iter().map(TensorSpec::numel).sum();
    let delta = ParamSet::new(specs, vec![0.25; len]).expect("failed to build the delta");
    let limit = encode_client(&update_message(1, delta, 10))
        .expect("failed to encode the update")
        .len();
    let mut config = test_config(1, 1);
    config.max_message_bytes = limit;
    let mut server = TestServer::start(config).await;

    let mut sender = server.connect().await;
    sender.send_frame(junk_frame(limit + 1)).await;
    let message = sender.expect_error(ErrorCode::TooLarge).await;
    assert!(
        message.contains(&limit.to_string()),
        "names the limit: {message}"
    );
    assert!(
        message.contains(&(limit + 1).to_string()),
        "names the size: {message}"
    );
    // A frame of exactly the limit is decoded, and this one is junk.
    sender.send_frame(junk_frame(limit)).await;
    sender.expect_error(ErrorCode::Malformed).await;

    let mut fresh = server.connect().await;
    fresh.register("fresh").await;
    let task = fresh.next_task().await;
    let sent = fresh
        .send_update(1, constant_delta(&task.model, 0.25), 10)
        .await;
    assert_eq!(sent, limit, "the update is exactly at the limit");
    fresh.expect_accepted(1).await;
    let metrics = server.round_completed(1).await;
    assert_eq!(metrics.completed, 1);

    drop((sender, fresh));
    server.finish().await;
}

#[tokio::test]
async fn second_connection_replaces_first() {
    let mut server = TestServer::start(test_config(2, 1)).await;
    let mut old = server.connect().await;
    old.register("a").await;
    let mut b = server.connect().await;
    b.register("b").await;
    let old_task = old.next_task().await;
    let task_b = b.next_task().await;

    let mut new = server.connect().await;
    new.register("a").await;
    let message = old.expect_error(ErrorCode::Replaced).await;
    assert!(message.contains('a'), "names the client id: {message}");
    let new_task = new.next_task().await;
    assert_eq!(
        new_task, old_task,
        "the open task is re-sent to the new connection"
    );

    // The replaced connection may already be closed on the server side, so
    // this send may fail. It must not count either way.
    old.try_send(&update_message(
        1,
        constant_delta(&old_task.model, 100.0),
        1000,
    ))
    .await;
    old.expect_closed().await;

    new.send_update(1, constant_delta(&new_task.model, 1.0), 10)
        .await;
    new.expect_accepted(1).await;
    b.send_update(1, constant_delta(&task_b.model, 2.0), 30)
        .await;
    b.expect_accepted(1).await;

    let metrics = server.round_completed(1).await;
    assert_eq!(metrics.sampled, 2);
    assert_eq!(metrics.completed, 2, "one update for a, one for b");
    assert_eq!(metrics.examples, 40);
    assert_shifted(
        &new_task.model,
        &server.model().params,
        (10.0 + 60.0) / 40.0,
    );

    drop((old, new, b));
    server.finish().await;
}

#[tokio::test]
async fn fraction_below_one_samples_single_client() {
    let mut config = test_config(1, 1);
    config.fraction = 0.8;
    let mut server = TestServer::start(config).await;
    let mut client = server.connect().await;
    client.register("solo").await;

    let (sampled, available) = server.round_started(1).await;
    assert_eq!(sampled, 1, "RoundStarted.sampled");
    assert_eq!(available, 1, "RoundStarted.available");
    let task = client.next_task().await;
    client
        .send_update(1, constant_delta(&task.model, 1.0), 10)
        .await;
    client.expect_accepted(1).await;
    let metrics = server.round_completed(1).await;
    assert_eq!(metrics.sampled, 1);
    assert_eq!(metrics.completed, 1);

    drop(client);
    server.finish().await;
}

#[tokio::test]
async fn garbage_frames_keep_connection_open() {
    let server = TestServer::start(test_config(1, 1)).await;
    let mut client = server.connect().await;

    client.send_frame(b"not a starling frame".to_vec()).await;
    let message = client.expect_error(ErrorCode::UnsupportedVersion).await;
    assert!(message.contains("magic"), "{message}");
    client.send_frame(vec![MAGIC[0], MAGIC[1]]).await;
    client.expect_error(ErrorCode::Malformed).await;
    client.send_frame(junk_frame(HEADER_LEN + 16)).await;
    client.expect_error(ErrorCode::Malformed).await;

    client.register("after-garbage").await;

    drop(client);
    server.finish().await;
}

#[tokio::test]
async fn update_before_register_is_rejected() {
    let server = TestServer::start(test_config(1, 1)).await;
    let mut client = server.connect().await;
    let specs = vec![TensorSpec {
        name: "w".to_owned(),
        shape: vec![2],
    }];
    let delta = ParamSet::new(specs, vec![1.0, 2.0]).expect("failed to build the delta");
    client.send(&update_message(1, delta, 10)).await;
    let message = client.expect_error(ErrorCode::NotRegistered).await;
    assert!(message.contains("Register"), "says what to do: {message}");

    drop(client);
    server.finish().await;
}

#[tokio::test]
async fn wrong_shape_update_is_rejected() {
    let mut server = TestServer::start(test_config(1, 1)).await;
    let mut client = server.connect().await;
    client.register("a").await;
    let task = client.next_task().await;

    // Same number of values, but one matrix transposed.
    let mut specs = task.model.specs().to_vec();
    let matrix = specs
        .iter_mut()
        .find(|spec| spec.shape.len() == 2 && spec.shape[0] != spec.shape[1])
        .expect("the MLP has no non-square weight matrix");
    matrix.shape.reverse();
    let name = matrix.name.clone();
    let delta = ParamSet::new(specs, vec![1.0; task.model.len()])
        .expect("failed to build the transposed delta");
    client.send_update(1, delta, 10).await;
    let message = client.expect_error(ErrorCode::LayoutMismatch).await;
    assert!(
        message.contains(&name),
        "names the tensor {name}: {message}"
    );

    let metrics = server.round_completed(1).await;
    assert_eq!(metrics.completed, 0);
    assert_eq!(metrics.rejected, 1);
    assert_eq!(
        bits(&server.model().params),
        bits(&task.model),
        "a rejected update moved the model"
    );

    drop(client);
    server.finish().await;
}

#[tokio::test]
async fn too_few_clients_fail_the_run() {
    let mut config = test_config(2, 1);
    config.wait_for_clients_secs = 1.0;
    let server = TestServer::start(config).await;
    let mut client = server.connect().await;
    client.register("lonely").await;

    match client.recv().await {
        ServerMessage::Finished { reason, rounds, .. } => {
            assert!(matches!(reason, FinishReason::Failed(_)), "{reason:?}");
            assert_eq!(rounds, 0);
        }
        other => panic!("expected Finished, got {other:?}"),
    }

    drop(client);
    let summary = server.finish().await;
    let FinishReason::Failed(cause) = summary.reason else {
        panic!("expected a failed run, got {:?}", summary.reason);
    };
    assert!(cause.contains("1 connected"), "{cause}");
    assert!(cause.contains("2 required"), "{cause}");
    assert_eq!(summary.rounds, 0);
}

#[tokio::test]
async fn overflowing_round_leaves_model_unchanged() {
    let mut server = TestServer::start(test_config(1, 2)).await;
    let mut client = server.connect().await;
    client.register("huge").await;

    // Each delta is finite, but f32::MAX added twice overflows to infinity.
    let first_task = client.next_task().await;
    client
        .send_update(1, constant_delta(&first_task.model, f32::MAX), 1)
        .await;
    client.expect_accepted(1).await;
    let first = server.round_completed(1).await;
    assert!(first.error.is_none(), "{:?}", first.error);
    let after_first = server.model();

    let second_task = client.next_task().await;
    client
        .send_update(2, constant_delta(&second_task.model, f32::MAX), 1)
        .await;
    client.expect_accepted(2).await;
    let second = server.round_completed(2).await;
    let error = second
        .error
        .expect("expected an aggregation error for an overflowing round");
    assert!(error.contains("non-finite"), "{error}");

    let after_second = server.model();
    assert_finite(&after_second.params);
    assert_eq!(
        bits(&after_second.params),
        bits(&after_first.params),
        "the overflowing round changed the model"
    );

    drop(client);
    server.finish().await;
}

#[tokio::test]
async fn lobby_waits_for_the_expected_clients() {
    let mut config = test_config(1, 1);
    config.expected_clients = 2;
    config.lobby_secs = 60.0;
    let mut server = TestServer::start(config).await;
    let mut first = server.connect().await;
    first.register("early").await;

    let early_start =
        tokio::time::timeout(Duration::from_millis(400), server.round_started(1)).await;
    assert!(
        early_start.is_err(),
        "round 1 started with 1 of 2 expected clients while the lobby was open"
    );

    let mut second = server.connect().await;
    second.register("late").await;
    let started = Instant::now();
    let (sampled, available) = server.round_started(1).await;
    assert_eq!((sampled, available), (2, 2));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "round 1 waited {:?} after the expected clients arrived",
        started.elapsed()
    );
    drop((first, second));
    server.handle.stop();
    server.finish().await;
}

#[tokio::test]
async fn lobby_time_out_starts_with_those_present() {
    let mut config = test_config(1, 1);
    config.expected_clients = 3;
    config.lobby_secs = 0.5;
    let mut server = TestServer::start(config).await;
    let mut client = server.connect().await;
    client.register("alone").await;
    let started = Instant::now();
    let (sampled, available) = server.round_started(1).await;
    assert_eq!((sampled, available), (1, 1));
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "round 1 started before the lobby time was over"
    );
    drop(client);
    server.handle.stop();
    server.finish().await;
}

#[tokio::test]
async fn evaluation_per_class_client_and_late() {
    let mut config = test_config(2, 1);
    config.round_timeout_secs = 1.0;
    let mut server = TestServer::start(config).await;
    let mut with_data = server.connect().await;
    with_data.register_with("with-data", true).await;
    let mut straggler = server.connect().await;
    straggler.register("straggler").await;
    server.round_started(1).await;

    let task = with_data.next_task().await;
    with_data
        .send_update(1, constant_delta(&task.model, 0.0), 400)
        .await;
    with_data.expect_accepted(1).await;
    // The straggler stays connected and never sends its update.
    let metrics = server.round_completed(1).await;
    assert_eq!(
        (metrics.completed, metrics.dropped, metrics.late),
        (1, 1, 1)
    );
    assert_eq!(metrics.disconnected(), 0);
    assert_eq!(metrics.bytes_up_uncompressed, metrics.bytes_up);
    assert_eq!(metrics.bytes_down_uncompressed, metrics.bytes_down);

    // Per class: the whole 2,000-digit test split, and the same accuracy.
    assert_eq!(metrics.per_class.len(), 10);
    let total: u64 = metrics.per_class.iter().map(|c| c.total).sum();
    let correct: u64 = metrics.per_class.iter().map(|c| c.correct).sum();
    assert_eq!(total, 2000);
    let accuracy = metrics.test_accuracy.expect("evaluated");
    assert!((correct as f64 / total as f64 - accuracy).abs() < 1e-12);

    // Per client: only the client on a built-in partition (half of 8,000).
    assert_eq!(metrics.clients.len(), 1, "{:?}", metrics.clients);
    let client = &metrics.clients[0];
    assert_eq!(client.client_id, "with-data");
    assert_eq!(client.platform, "test");
    assert_eq!(client.examples, 4000);
    assert!((0.0..=1.0).contains(&client.accuracy));

    // The feed contains every event, from the header on.
    let feed = server.handle.feed().subscribe(0).missed;
    let kinds: Vec<String> = feed
        .iter()
        .map(|item| {
            let json = serde_json::to_value(&item.event).expect("event JSON");
            json["type"].as_str().expect("type tag").to_owned()
        })
        .collect();
    // The run has one round, so `finished` may already follow.
    assert_eq!(
        kinds[..6],
        [
            "run_started",
            "client_joined",
            "client_joined",
            "round_started",
            "update_accepted",
            "round_completed"
        ]
    );
    match &feed[1].event {
        starling_server::LiveEvent::ClientJoined(info) => {
            assert_eq!(info.partition, Some(0));
            assert_eq!(info.num_examples, 4000);
        }
        other => panic!("expected ClientJoined, got {other:?}"),
    }
    let header =
        std::fs::read_to_string(server.handle.run_dir().join("header.json")).expect("header.json");
    assert!(header.contains("\"strategy\": \"fedavg\""), "{header}");

    drop((with_data, straggler));
    server.finish().await;
}

/// Builds a client update compressed with `spec` as the task requests.
fn compressed_update(task: &RoundTask, delta: &ParamSet, spec: &str) -> ClientMessage {
    compressed_update_as(task, delta, &spec.parse().expect("spec"))
}

/// Builds a client update compressed with `spec`.
fn compressed_update_as(
    task: &RoundTask,
    delta: &ParamSet,
    spec: &UplinkCompression,
) -> ClientMessage {
    let chain = Chain::from_spec(spec, delta.len()).expect("chain");
    let encoded = chain
        .encode_with(delta.values(), task.round_seed, task.seed)
        .expect("encode");
    ClientMessage::Update(ClientUpdate {
        round: task.round,
        num_examples: 10,
        local_steps: 1,
        train_loss: 0.5,
        payload: UpdatePayload::Compressed(encoded.bytes),
        control_delta: None,
        clipped: None,
    })
}

#[tokio::test]
async fn compressed_updates_are_decoded_and_accounted() {
    let mut config = test_config(1, 1);
    config.compression = "topk:0.5+8bit".to_owned();
    let mut server = TestServer::start(config).await;
    let initial = server.model();
    let mut client = server.connect().await;
    client.register("a").await;
    let task = client.next_task().await;
    let spec = task.compression.expect("the task names the compression");
    assert_eq!(spec.to_string(), "topk:0.5+8bit:1024 with error feedback");

    // Half the values at 1.0 (kept), half at 0.0 (dropped).
    let values: Vec<f32> = (0..initial.params.len())
        .map(|i| if i % 2 == 0 { 1.0 } else { 0.0 })
        .collect();
    let delta = ParamSet::new(initial.params.specs().to_vec(), values).expect("delta");
    let message = compressed_update(&task, &delta, "topk:0.5+8bit");
    let sent = client.send(&message).await;
    client.expect_accepted(1).await;

    let metrics = server.round_completed(1).await;
    assert_eq!(metrics.completed, 1);
    assert_eq!(metrics.bytes_up, sent as u64);
    // What the same update weighs as plain f32 values.
    let dense = encode_client(&update_message(1, delta.clone(), 10)).expect("encode");
    assert_eq!(metrics.bytes_up_uncompressed, dense.len() as u64);
    assert!(metrics.bytes_up * 3 < metrics.bytes_up_uncompressed);
    // Top-k keeps the ones exactly (8-bit with a per-chunk scale of 1).
    let after = server.model();
    for (i, (before, now)) in initial
        .params
        .values()
        .iter()
        .zip(after.params.values())
        .enumerate()
        .step_by(9973)
    {
        let expected = if i % 2 == 0 { before + 1.0 } else { *before };
        assert!(
            (now - expected).abs() < 1e-6,
            "value {i}: {now} vs {expected}"
        );
    }
    drop(client);
    server.finish().await;
}

#[tokio::test]
async fn warmup_narrows_sparsifier_per_round() {
    for (sparsifier, rejection) in [
        ("topk", "kept value count 24902 but 99605 is expected"),
        ("randk", "does not decode as randk:0.5+f32"),
    ] {
        check_warmup_rounds(sparsifier, rejection).await;
    }
}

/// Runs three rounds of `sparsifier` at 0.125 with a two-round warm-up from
/// 0.5. In round 1 the client sends the final fraction instead, which the
/// server rejects with `rejection`.
async fn check_warmup_rounds(sparsifier: &str, rejection: &str) {
    let mut config = test_config(1, 3);
    config.compression = format!("{sparsifier}:0.125");
    config.sparsity_warmup_rounds = 2;
    config.sparsity_warmup_start = Some(0.5);
    let mut server = TestServer::start(config).await;
    let initial = server.model();
    let delta = ParamSet::new(
        initial.params.specs().to_vec(),
        (0..initial.params.len()).map(|i| (i % 7) as f32).collect(),
    )
    .expect("delta");

    let mut client = server.connect().await;
    client.register("a").await;
    for (round, expected) in [(1, 0.5), (2, 0.25), (3, 0.125)] {
        let task = client.next_task().await;
        assert_eq!(task.round, round);
        let spec = task.compression.expect("the task names the compression");
        let fraction = match spec.sparsification {
            Sparsification::TopK { fraction } | Sparsification::RandK { fraction } => fraction,
            Sparsification::None => panic!("round {round} has no sparsifier"),
        };
        assert!(
            (fraction - expected).abs() < 1e-12,
            "round {round}: {fraction}"
        );
        assert!(spec.to_string().starts_with(sparsifier), "{spec}");
        if round == 1 {
            // Round 1 keeps more values than the end of the warm-up. The
            // rejected update counts as the client's update for round 1.
            let last = format!("{sparsifier}:0.125");
            client.send(&compressed_update(&task, &delta, &last)).await;
            let message = client.expect_error(ErrorCode::InvalidUpdate).await;
            assert!(message.contains(rejection), "{message}");
            continue;
        }
        let sent = client
            .send(&compressed_update_as(&task, &delta, &spec))
            .await;
        client.expect_accepted(round).await;
        let metrics = server.round_completed(round).await;
        assert_eq!(metrics.bytes_up, sent as u64);
    }

    let header =
        std::fs::read_to_string(server.handle.run_dir().join("header.json")).expect("header.json");
    assert!(
        header.contains("warm-up over 2 rounds from 0.5"),
        "{header}"
    );
    drop(client);
    server.finish().await;
}

#[tokio::test]
async fn updates_in_another_encoding_are_rejected_by_name() {
    let mut config = test_config(1, 1);
    config.compression = "8bit".to_owned();
    config.round_timeout_secs = 2.0;
    let server = TestServer::start(config).await;
    let initial = server.model();
    let mut client = server.connect().await;
    client.register("a").await;
    client.next_task().await;

    let delta = constant_delta(&initial.params, 0.5);
    client.send(&update_message(1, delta.clone(), 10)).await;
    let message = client.expect_error(ErrorCode::InvalidUpdate).await;
    assert!(
        message.contains("expects updates compressed as 8bit:1024"),
        "{message}"
    );
    drop(client);

    // A second client with 4-bit instead of 8-bit is named too.
    let mut config = test_config(1, 1);
    config.compression = "8bit".to_owned();
    let server = TestServer::start(config).await;
    let mut client = server.connect().await;
    client.register("b").await;
    let task_b = client.next_task().await;
    client
        .send(&compressed_update(&task_b, &delta, "4bit"))
        .await;
    let message = client.expect_error(ErrorCode::InvalidUpdate).await;
    assert!(message.contains("bits 4 but 8 is expected"), "{message}");

    // And a compressed update where none is configured.
    let server = TestServer::start(test_config(1, 1)).await;
    let mut client = server.connect().await;
    client.register("c").await;
    let task_c = client.next_task().await;
    assert_eq!(task_c.compression, None);
    client
        .send(&compressed_update(&task_c, &delta, "8bit"))
        .await;
    let message = client.expect_error(ErrorCode::InvalidUpdate).await;
    assert!(message.contains("expects plain f32 updates"), "{message}");
}
