//! Tests of the live feed over real HTTP on 127.0.0.1: server-sent events
//! numbered from 1, resumed after `Last-Event-ID` or `?after=` without gaps
//! or repeats, and closed after the run's last event.

mod http;

use std::time::Duration;

use http::{get, serve};
use starling_proto::FinishReason;
use starling_server::{Feed, LiveEvent, RoundMetrics, RunSummary, Sequenced, api};

fn router(feed: &Feed) -> axum::Router {
    let dir = std::env::temp_dir().join("starling-live-test-runs");
    api::router(
        dir,
        Some(api::LiveRun {
            run_id: "live".to_owned(),
            feed: feed.clone(),
        }),
    )
}

fn round(round: u32) -> LiveEvent {
    LiveEvent::RoundCompleted(RoundMetrics {
        round,
        bytes_up: 100 * u64::from(round),
        ..RoundMetrics::default()
    })
}

fn finished() -> LiveEvent {
    LiveEvent::Finished(RunSummary {
        run_id: "live".to_owned(),
        reason: FinishReason::RoundsCompleted,
        rounds: 3,
        final_accuracy: None,
        wall_time_s: 1.0,
        bytes_up: 0,
        bytes_down: 0,
    })
}

/// Parses an event stream body into its `id` lines and decoded `data`.
fn events(body: &[u8]) -> Vec<(u64, Sequenced)> {
    let text = std::str::from_utf8(body).expect("UTF-8 event stream");
    text.split("\n\n")
        .filter(|block| block.contains("data:"))
        .map(|block| {
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map(str::trim)
                    .unwrap_or_else(|| panic!("no {name} in {block:?}"))
            };
            let (run, seq) = field("id:").rsplit_once('/').expect("id is run/number");
            assert_eq!(run, "live");
            let id: u64 = seq.parse().expect("numeric id");
            let data: Sequenced = serde_json::from_str(field("data:")).expect("event JSON");
            (id, data)
        })
        .collect()
}

#[tokio::test]
async fn live_sends_whole_feed_then_ends() {
    let feed = Feed::new();
    for r in 1..=3 {
        feed.publish(round(r));
    }
    feed.publish(finished());
    let addr = serve(router(&feed)).await;
    let reply = get(addr, "/api/live", &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    let received = events(&reply.body);
    let ids: Vec<u64> = received.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    for (id, item) in &received {
        assert_eq!(*id, item.seq);
    }
    assert!(matches!(received[3].1.event, LiveEvent::Finished(_)));
    assert!(
        std::str::from_utf8(&reply.body)
            .unwrap()
            .contains("retry: 1000")
    );
}

#[tokio::test]
async fn live_resumes_after_last_event_id() {
    let feed = Feed::new();
    for r in 1..=3 {
        feed.publish(round(r));
    }
    feed.publish(finished());
    let addr = serve(router(&feed)).await;
    let reply = get(addr, "/api/live", &[("Last-Event-ID", "live/2")]).await;
    let ids: Vec<u64> = events(&reply.body).iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [3, 4]);
    let reply = get(addr, "/api/live?after=3", &[]).await;
    let ids: Vec<u64> = events(&reply.body).iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [4]);
    // An ended run has nothing after its last event, so the server responds
    // with 204, which stops EventSource from reconnecting.
    let reply = get(addr, "/api/live", &[("Last-Event-ID", "live/4")]).await;
    assert_eq!(reply.status, 204);
    // A bare number works too.
    let reply = get(addr, "/api/live", &[("Last-Event-ID", "3")]).await;
    let ids: Vec<u64> = events(&reply.body).iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [4]);
    for bad in ["four", "live/four"] {
        let reply = get(addr, "/api/live", &[("Last-Event-ID", bad)]).await;
        assert_eq!(reply.status, 400, "{bad}");
    }
    for bad in [
        "/api/live?after=abc",
        "/api/live?after=1&after=2",
        "/api/live?from=3",
    ] {
        let reply = get(addr, bad, &[]).await;
        assert_eq!(reply.status, 400, "{bad}");
        let body: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON error");
        assert!(body["error"].is_string(), "{bad}: {body}");
    }
}

#[tokio::test]
async fn live_streams_events_published_while_connected() {
    let feed = Feed::new();
    feed.publish(round(1));
    let addr = serve(router(&feed)).await;
    let publisher = {
        let feed = feed.clone();
        tokio::spawn(async move {
            // Some events are published before the request subscribes and
            // some after, so the response mixes history and live events.
            for r in 2..=50 {
                feed.publish(round(r));
                if r % 10 == 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            feed.publish(finished());
        })
    };
    let reply = get(addr, "/api/live", &[]).await;
    publisher.await.expect("publisher");
    let ids: Vec<u64> = events(&reply.body).iter().map(|(id, _)| *id).collect();
    let expected: Vec<u64> = (1..=51).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn live_without_run_returns_404() {
    let addr = serve(api::router(std::env::temp_dir(), None)).await;
    let reply = get(addr, "/api/live", &[]).await;
    assert_eq!(reply.status, 404);
    let body: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON error");
    assert!(body["error"].as_str().unwrap().contains("no run"));
}

#[tokio::test]
async fn live_restarts_for_another_run_id() {
    // A dashboard that followed an earlier run on the same port sends that
    // run's last id; it gets this run from its first event.
    let feed = Feed::new();
    feed.publish(round(1));
    feed.publish(finished());
    let addr = serve(router(&feed)).await;
    let reply = get(addr, "/api/live", &[("Last-Event-ID", "older-run/99")]).await;
    assert_eq!(reply.status, 200);
    let ids: Vec<u64> = events(&reply.body).iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [1, 2]);
}

#[tokio::test]
async fn unknown_api_paths_are_json_404s() {
    let feed = Feed::new();
    let addr = serve(router(&feed)).await;
    for path in ["/api", "/api/nothing", "/api/runs/x/y"] {
        let reply = get(addr, path, &[]).await;
        assert_eq!(reply.status, 404, "{path}");
        let body: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON error");
        assert!(
            body["error"].as_str().unwrap().contains("no API endpoint"),
            "{path}: {body}"
        );
    }
}
