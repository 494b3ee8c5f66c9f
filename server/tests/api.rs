//! The runs API over real HTTP on 127.0.0.1, against run folders written
//! the way the coordinator writes them.

mod http;

use http::{get, serve};
use starling_proto::FinishReason;
use starling_server::outputs::RunOutputs;
use starling_server::{Feed, RoundMetrics, RunConfig, RunSummary, api};

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("JSON body")
}

fn round(round: u32, accuracy: f64) -> RoundMetrics {
    RoundMetrics {
        round,
        test_accuracy: Some(accuracy),
        ..RoundMetrics::default()
    }
}

/// Writes three runs: one finished, one failed, one without a summary.
fn runs_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = RunConfig {
        seed: 4,
        ..RunConfig::default()
    };
    let mut finished =
        RunOutputs::create(dir.path(), "20261204-100000-s4-aaaa", &config).expect("run folder");
    finished.append_round(&round(1, 0.8)).expect("metrics");
    finished.append_round(&round(2, 0.9)).expect("metrics");
    let summary = RunSummary {
        run_id: "20261204-100000-s4-aaaa".to_owned(),
        reason: FinishReason::RoundsCompleted,
        rounds: 2,
        final_accuracy: Some(0.9),
        wall_time_s: 3.0,
        bytes_up: 10,
        bytes_down: 20,
    };
    finished
        .write_json("summary.json", &summary)
        .expect("summary");

    let failed =
        RunOutputs::create(dir.path(), "20261204-110000-s4-bbbb", &config).expect("run folder");
    let summary = RunSummary {
        run_id: "20261204-110000-s4-bbbb".to_owned(),
        reason: FinishReason::Failed("not enough clients".to_owned()),
        rounds: 0,
        final_accuracy: None,
        wall_time_s: 60.0,
        bytes_up: 0,
        bytes_down: 0,
    };
    failed
        .write_json("summary.json", &summary)
        .expect("summary");

    RunOutputs::create(dir.path(), "20261204-120000-s4-cccc", &config).expect("run folder");
    std::fs::create_dir(dir.path().join("not-a-run")).expect("stray folder");
    dir
}

#[tokio::test]
async fn list_shows_every_run_newest_first() {
    let dir = runs_folder();
    let live = Some(api::LiveRun {
        run_id: "20261204-120000-s4-cccc".to_owned(),
        feed: Feed::new(),
    });
    let addr = serve(api::router(dir.path().to_path_buf(), live)).await;
    let reply = get(addr, "/api/runs", &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let list = json(&reply.body);
    let runs = list.as_array().expect("array");
    assert_eq!(runs.len(), 3, "{list}");
    assert_eq!(runs[0]["run_id"], "20261204-120000-s4-cccc");
    assert_eq!(runs[0]["status"], "running");
    assert_eq!(runs[1]["status"], "failed");
    assert_eq!(runs[1]["reason"], "not enough clients");
    assert_eq!(runs[2]["status"], "finished");
    assert_eq!(runs[2]["rounds"], 2);
    assert_eq!(runs[2]["last_accuracy"], 0.9);
    assert_eq!(runs[2]["seed"], 4);
    assert_eq!(runs[2]["strategy"], "fedavg");
}

#[tokio::test]
async fn run_without_summary_and_not_live_is_incomplete() {
    let dir = runs_folder();
    let addr = serve(api::router(dir.path().to_path_buf(), None)).await;
    let reply = get(addr, "/api/runs/20261204-120000-s4-cccc", &[]).await;
    assert_eq!(reply.status, 200);
    let detail = json(&reply.body);
    assert_eq!(detail["status"], "incomplete");
    assert!(detail["summary"].is_null());
    assert_eq!(detail["config"]["seed"], 4);
}

#[tokio::test]
async fn metrics_come_back_in_round_order() {
    let dir = runs_folder();
    let addr = serve(api::router(dir.path().to_path_buf(), None)).await;
    let reply = get(addr, "/api/runs/20261204-100000-s4-aaaa/metrics", &[]).await;
    assert_eq!(reply.status, 200);
    let metrics = json(&reply.body);
    let rounds: Vec<u64> = metrics
        .as_array()
        .expect("array")
        .iter()
        .map(|m| m["round"].as_u64().expect("round"))
        .collect();
    assert_eq!(rounds, [1, 2]);
    assert_eq!(metrics[1]["test_accuracy"], 0.9);
    let detail = json(
        &get(addr, "/api/runs/20261204-100000-s4-aaaa", &[])
            .await
            .body,
    );
    assert_eq!(detail["summary"]["final_accuracy"], 0.9);
}

#[tokio::test]
async fn bad_and_unknown_ids_are_rejected() {
    let dir = runs_folder();
    let addr = serve(api::router(dir.path().to_path_buf(), None)).await;
    for path in [
        "/api/runs/..%2Fsecret",
        "/api/runs/.hidden/metrics",
        "/api/runs/a%20b",
    ] {
        let reply = get(addr, path, &[]).await;
        assert_eq!(reply.status, 400, "{path}");
        let body = json(&reply.body);
        assert!(
            body["error"]
                .as_str()
                .expect("message")
                .starts_with("invalid run id"),
            "{body}"
        );
    }
    let reply = get(addr, "/api/runs/20990101-000000-s1-0000", &[]).await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        json(&reply.body)["error"],
        "run 20990101-000000-s1-0000 not found"
    );
    let reply = get(addr, "/api/runs/not-a-run/metrics", &[]).await;
    assert_eq!(reply.status, 404);
}

#[tokio::test]
async fn missing_runs_folder_is_an_empty_list() {
    let addr = serve(api::router("/nonexistent/starling-runs".into(), None)).await;
    let reply = get(addr, "/api/runs", &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(json(&reply.body), serde_json::json!([]));
}
