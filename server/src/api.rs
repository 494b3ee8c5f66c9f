//! The JSON API over the run folders under `runs_dir`: the list of runs,
//! one run's configuration and summary, and its per-round metrics. The
//! dashboard reads the history from here; scripts can too.
//!
//! - `GET /api/runs`: every run, newest first.
//! - `GET /api/runs/{id}`: configuration, status and summary of one run.
//! - `GET /api/runs/{id}/metrics`: its `metrics.jsonl` as a JSON array.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::config::RunConfig;
use crate::outputs::{RoundMetrics, read_metrics};

/// Maximum length of a run id in a URL.
const MAX_RUN_ID_LEN: usize = 128;

/// The runs folder and the id of the run this process executes.
#[derive(Debug)]
struct Runs {
    dir: PathBuf,
    live: Option<String>,
}

/// A run in the list.
#[derive(Debug, Serialize)]
pub struct RunListing {
    /// Run id (the folder name).
    pub run_id: String,
    /// `running`, `finished`, `stopped`, `failed`, or `incomplete` for a
    /// run that has no summary and is not this process's run.
    pub status: &'static str,
    /// Reason the run ended, once it has.
    pub reason: Option<String>,
    /// Rounds in `metrics.jsonl`.
    pub rounds: usize,
    /// Last test accuracy in the metrics.
    pub last_accuracy: Option<f64>,
    /// Strategy, model and seed from `config.toml`.
    pub strategy: Option<String>,
    /// Model trained.
    pub model: Option<String>,
    /// Seed of the run.
    pub seed: Option<u64>,
}

/// One run in detail.
#[derive(Debug, Serialize)]
pub struct RunDetail {
    /// The run as it appears in the list.
    #[serde(flatten)]
    pub listing: RunListing,
    /// The run's configuration, when `config.toml` parses.
    pub config: Option<RunConfig>,
    /// `summary.json`, once the run has ended.
    pub summary: Option<serde_json::Value>,
}

/// Routes `/api/runs…` over the folders in `runs_dir`; `live_run` is the id
/// of the run this server executes, reported as `running` until it ends.
pub fn router(runs_dir: PathBuf, live_run: Option<String>) -> Router {
    let state = Arc::new(Runs {
        dir: runs_dir,
        live: live_run,
    });
    Router::new()
        .route("/api/runs", get(list_runs))
        .route("/api/runs/{id}", get(run_detail))
        .route("/api/runs/{id}/metrics", get(run_metrics))
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
    let valid = !id.is_empty()
        && id.len() <= MAX_RUN_ID_LEN
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        let shown: String = id.chars().take(MAX_RUN_ID_LEN).collect();
        tracing::warn!(run_id = shown, "rejected an invalid run id");
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            message: format!("invalid run id {shown:?}: use letters, digits, '-', '_' and '.'"),
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
        None if runs.live.as_deref() == Some(id) => ("running", None),
        None => ("incomplete", None),
    };
    let listing = RunListing {
        run_id: id.to_owned(),
        status,
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
    Json(RunDetail {
        listing,
        config,
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
