//! The JSON API over the run folders under `runs_dir`: the list of runs,
//! one run's configuration and summary, and its per-round metrics. The
//! dashboard reads the history from here; scripts can too.
//!
//! - `GET /api/runs`: every run, newest first.
//! - `GET /api/runs/{id}`: configuration, status and summary of one run.
//! - `GET /api/runs/{id}/metrics`: its `metrics.jsonl` as a JSON array.
//! - `GET /api/live`: the events of the run this server executes, as
//!   server-sent events numbered from 1. A reconnect with `Last-Event-ID`
//!   (or `?after=N`, which the header overrides) resumes after that number
//!   with no gap and no repeat.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::Stream;
use serde::Serialize;
pub use starling_runlog::RunListing;
use starling_runlog::{LiveEvent, RunHeader, Sequenced};
use tokio::sync::broadcast;

use crate::config::RunConfig;
use crate::feed::Feed;
use crate::outputs::{RoundMetrics, read_metrics};

/// Maximum length of a run id in a URL.
const MAX_RUN_ID_LEN: usize = 128;

/// Milliseconds a browser waits before reconnecting a dropped live feed.
const RECONNECT_MS: u64 = 1000;

/// The runs folder and the run this process executes.
#[derive(Debug)]
struct Runs {
    dir: PathBuf,
    live: Option<LiveRun>,
}

/// The run this server executes: its id and its live feed.
#[derive(Clone, Debug)]
pub struct LiveRun {
    /// Run id.
    pub run_id: String,
    /// Its events.
    pub feed: Feed,
}

/// One run in detail.
#[derive(Debug, Serialize)]
pub struct RunDetail {
    /// The run as it appears in the list.
    #[serde(flatten)]
    pub listing: RunListing,
    /// The run's configuration, when `config.toml` parses.
    pub config: Option<RunConfig>,
    /// Run header shown at the top of the dashboard (`header.json`).
    pub header: Option<RunHeader>,
    /// `summary.json`, once the run has ended.
    pub summary: Option<serde_json::Value>,
}

/// Routes `/api/runs…` over the folders in `runs_dir`, and `/api/live`
/// over `live`, the run this server executes (reported as `running` until
/// it ends).
pub fn router(runs_dir: PathBuf, live: Option<LiveRun>) -> Router {
    let state = Arc::new(Runs {
        dir: runs_dir,
        live,
    });
    Router::new()
        .route("/api/runs", get(list_runs))
        .route("/api/runs/{id}", get(run_detail))
        .route("/api/runs/{id}/metrics", get(run_metrics))
        .route("/api/live", get(live_events))
        .route("/api", get(api_not_found))
        .route("/api/{*rest}", get(api_not_found))
        .with_state(state)
}

/// An API error, sent as `{"error": "..."}` with its status code.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.message }));
        (self.status, body).into_response()
    }
}

/// Builds an API error response: `{"error": "..."}` with `status`.
fn error(status: StatusCode, message: String) -> Response {
    ApiError { status, message }.into_response()
}

/// Checks an id from the URL and returns its folder.
fn run_folder(runs: &Runs, id: &str) -> Result<PathBuf, ApiError> {
    let problem = if id.is_empty() {
        Some("is empty".to_owned())
    } else if id.len() > MAX_RUN_ID_LEN {
        Some(format!("is longer than {MAX_RUN_ID_LEN} characters"))
    } else if id.starts_with('.') {
        Some("starts with '.'".to_owned())
    } else if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Some("has characters other than letters, digits, '-', '_' and '.'".to_owned())
    } else {
        None
    };
    if let Some(problem) = problem {
        let shown: String = id.chars().take(MAX_RUN_ID_LEN).collect();
        tracing::warn!(run_id = shown, problem, "rejected an invalid run id");
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            message: format!("invalid run id {shown:?}: it {problem}"),
        });
    }
    let dir = runs.dir.join(id);
    if !dir.join("config.toml").is_file() {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("run {id} not found"),
        });
    }
    Ok(dir)
}

fn listing(
    runs: &Runs,
    id: &str,
    dir: &Path,
) -> (RunListing, Option<RunConfig>, Option<serde_json::Value>) {
    let config = std::fs::read_to_string(dir.join("config.toml"))
        .ok()
        .and_then(|text| RunConfig::from_toml(&text).ok());
    let summary: Option<serde_json::Value> = std::fs::read_to_string(dir.join("summary.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let metrics = read_metrics(dir).unwrap_or_default();
    let (status, reason) = match &summary {
        Some(summary) => summary_status(summary),
        None if runs.live.as_ref().is_some_and(|live| live.run_id == id) => ("running", None),
        None => ("incomplete", None),
    };
    let listing = RunListing {
        run_id: id.to_owned(),
        status: status.to_owned(),
        reason,
        rounds: metrics.len(),
        last_accuracy: metrics.iter().rev().find_map(|m| m.test_accuracy),
        strategy: config.as_ref().map(|c| c.strategy.clone()),
        model: config
            .as_ref()
            .map(|c| format!("{:?}", c.train.model).to_lowercase()),
        seed: config.as_ref().map(|c| c.seed),
    };
    (listing, config, summary)
}

/// Reads the status out of `summary.json`'s `reason`, which is serialised
/// as `"RoundsCompleted"`, `"TargetAccuracy"`, `"Stopped"` or
/// `{"Failed": "cause"}`.
fn summary_status(summary: &serde_json::Value) -> (&'static str, Option<String>) {
    match summary.get("reason") {
        Some(serde_json::Value::String(reason)) if reason == "Stopped" => {
            ("stopped", Some(reason.clone()))
        }
        Some(serde_json::Value::String(reason)) => ("finished", Some(reason.clone())),
        Some(serde_json::Value::Object(object)) => (
            "failed",
            object
                .get("Failed")
                .and_then(|cause| cause.as_str())
                .map(str::to_owned),
        ),
        _ => ("finished", None),
    }
}

async fn list_runs(State(runs): State<Arc<Runs>>) -> Response {
    let entries = match std::fs::read_dir(&runs.dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Json(Vec::<RunListing>::new()).into_response();
        }
        Err(err) => {
            tracing::error!(dir = %runs.dir.display(), error = %err, "failed to list runs");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to list {}: {err}", runs.dir.display()),
            );
        }
    };
    let mut ids: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("config.toml").is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    // Ids start with a UTC timestamp, so this puts the newest first.
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let list: Vec<RunListing> = ids
        .iter()
        .map(|id| listing(&runs, id, &runs.dir.join(id)).0)
        .collect();
    Json(list).into_response()
}

async fn run_detail(State(runs): State<Arc<Runs>>, UrlPath(id): UrlPath<String>) -> Response {
    let dir = match run_folder(&runs, &id) {
        Ok(dir) => dir,
        Err(error) => return error.into_response(),
    };
    let (listing, config, summary) = listing(&runs, &id, &dir);
    let header = std::fs::read_to_string(dir.join("header.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    Json(RunDetail {
        listing,
        config,
        header,
        summary,
    })
    .into_response()
}

async fn run_metrics(State(runs): State<Arc<Runs>>, UrlPath(id): UrlPath<String>) -> Response {
    let dir = match run_folder(&runs, &id) {
        Ok(dir) => dir,
        Err(error) => return error.into_response(),
    };
    match read_metrics(&dir) {
        Ok(metrics) => Json::<Vec<RoundMetrics>>(metrics).into_response(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            Json(Vec::<RoundMetrics>::new()).into_response()
        }
        Err(err) => {
            tracing::error!(run_id = id, error = %err, "failed to read metrics");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to read the metrics of run {id}: {err}"),
            )
        }
    }
}

async fn live_events(
    State(runs): State<Arc<Runs>>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let Some(live) = &runs.live else {
        return error(
            StatusCode::NOT_FOUND,
            "this server executes no run; past runs are under /api/runs".to_owned(),
        );
    };
    let after = match resume_point(&live.run_id, &query, &headers) {
        Ok(after) => after,
        Err(message) => {
            tracing::warn!(
                run_id = live.run_id,
                reason = message,
                "rejected a live feed request"
            );
            return error(StatusCode::BAD_REQUEST, message);
        }
    };
    let subscription = live.feed.subscribe(after);
    if subscription.ended && subscription.missed.is_empty() {
        // A 204 response makes a browser's EventSource stop reconnecting.
        return StatusCode::NO_CONTENT.into_response();
    }
    tracing::debug!(
        run_id = live.run_id,
        after,
        missed = subscription.missed.len(),
        "live feed subscriber"
    );
    let stream = live_stream(
        live.run_id.clone(),
        subscription.missed.into(),
        subscription.live,
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// Returns the event number to resume after: from `Last-Event-ID` (`<run-id>/<n>`,
/// as this server sends it, or a bare number), else `?after=n`, else 0. An
/// id from another run (a server restarted on the same port) starts over.
fn resume_point(
    run_id: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Result<u64, String> {
    let number = |text: &str, what: &str| {
        text.trim()
            .parse::<u64>()
            .map_err(|_| format!("{what} must be an event number, got {text:?}"))
    };
    if let Some(value) = headers.get("last-event-id") {
        let text = value
            .to_str()
            .map_err(|_| "Last-Event-ID is not text".to_owned())?;
        return match text.rsplit_once('/') {
            Some((run, seq)) if run == run_id => number(seq, "Last-Event-ID"),
            Some(_) => Ok(0),
            None => number(text, "Last-Event-ID"),
        };
    }
    let mut after = None;
    for (key, value) in query {
        match key.as_str() {
            "after" if after.is_some() => return Err("?after= is given twice".to_owned()),
            "after" => after = Some(number(value, "?after=")?),
            other => return Err(format!("unknown query parameter {other:?}; use ?after=N")),
        }
    }
    Ok(after.unwrap_or(0))
}

/// Streams the missed events, then the live ones, and ends after
/// `Finished`. A subscriber that falls behind the broadcast is cut off, and
/// its browser reconnects with the last number it received.
fn live_stream(
    run_id: String,
    missed: VecDeque<Arc<Sequenced>>,
    live: broadcast::Receiver<Arc<Sequenced>>,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    struct State {
        run_id: String,
        missed: VecDeque<Arc<Sequenced>>,
        live: broadcast::Receiver<Arc<Sequenced>>,
        last: u64,
        first: bool,
        done: bool,
    }
    let state = State {
        run_id,
        missed,
        live,
        last: 0,
        first: true,
        done: false,
    };
    futures_util::stream::unfold(state, |mut state| async move {
        if state.done {
            return None;
        }
        let item = loop {
            if let Some(item) = state.missed.pop_front() {
                break item;
            }
            match state.live.recv().await {
                // Already sent from the history. `Feed::subscribe` takes the
                // history and the receiver under one lock, so this is only a
                // guard.
                Ok(item) if item.seq <= state.last => continue,
                Ok(item) => break item,
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::warn!(
                        skipped,
                        last = state.last,
                        "live feed subscriber fell behind; closing so it resumes"
                    );
                    return None;
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        };
        state.last = item.seq;
        state.done = matches!(item.event, LiveEvent::Finished(_));
        let data = match serde_json::to_string(item.as_ref()) {
            Ok(data) => data,
            Err(err) => {
                tracing::error!(seq = item.seq, error = %err, "failed to encode a live event");
                return None;
            }
        };
        let mut event = SseEvent::default()
            .id(format!("{}/{}", state.run_id, item.seq))
            .data(data);
        if state.first {
            event = event.retry(Duration::from_millis(RECONNECT_MS));
            state.first = false;
        }
        Some((Ok(event), state))
    })
}

/// Any other path under `/api`: a JSON 404 naming the endpoints.
async fn api_not_found(uri: axum::http::Uri) -> Response {
    let shown: String = uri.path().chars().take(MAX_RUN_ID_LEN).collect();
    error(
        StatusCode::NOT_FOUND,
        format!(
            "no API endpoint at {shown}; use /api/runs, /api/runs/{{id}}, /api/runs/{{id}}/metrics or /api/live"
        ),
    )
}
