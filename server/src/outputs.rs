//! What a run leaves on disk under `<runs_dir>/<run-id>/`: the resolved
//! configuration, partition statistics, one JSON line of metrics per round
//! and a summary when the run ends.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
pub use starling_runlog::{RoundMetrics, RunSummary};

use crate::config::RunConfig;

/// Writer for one run's output folder.
#[derive(Debug)]
pub struct RunOutputs {
    dir: PathBuf,
    metrics: File,
}

impl RunOutputs {
    /// Creates `<runs_dir>/<run_id>/` and writes `config.toml` into it.
    pub fn create(runs_dir: &Path, run_id: &str, config: &RunConfig) -> io::Result<Self> {
        let dir = runs_dir.join(run_id);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join("config.toml"), config.to_toml())?;
        let metrics = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("metrics.jsonl"))?;
        Ok(Self { dir, metrics })
    }

    /// The run's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes any serialisable value as pretty JSON to `name`.
    pub fn write_json(&self, name: &str, value: &impl Serialize) -> io::Result<()> {
        let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
        fs::write(self.dir.join(name), text + "\n")
    }

    /// Appends one round's metrics as a JSON line and flushes it.
    pub fn append_round(&mut self, metrics: &RoundMetrics) -> io::Result<()> {
        let line = serde_json::to_string(metrics).map_err(io::Error::other)?;
        writeln!(self.metrics, "{line}")?;
        self.metrics.flush()
    }
}

/// Reads a run's `metrics.jsonl` back. A last line without its newline
/// that does not parse is a write cut short by a kill, so it is skipped
/// with a warning. Any other bad line is an error naming its number.
pub fn read_metrics(run_dir: &Path) -> io::Result<Vec<RoundMetrics>> {
    let text = fs::read_to_string(run_dir.join("metrics.jsonl"))?;
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut metrics = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(round) => metrics.push(round),
            Err(err) if index + 1 == lines.len() && !complete => {
                tracing::warn!(
                    dir = %run_dir.display(),
                    line = index + 1,
                    error = %err,
                    "skipped an unfinished last line of metrics.jsonl"
                );
            }
            Err(err) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("metrics.jsonl line {}: {err}", index + 1),
                ));
            }
        }
    }
    Ok(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_round_trip_through_the_run_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let mut outputs = RunOutputs::create(tmp.path(), "r1", &RunConfig::default()).unwrap();
        let first = RoundMetrics {
            round: 1,
            test_accuracy: Some(0.5),
            ..RoundMetrics::default()
        };
        let second = RoundMetrics {
            round: 2,
            error: Some("boom".into()),
            ..RoundMetrics::default()
        };
        outputs.append_round(&first).unwrap();
        outputs.append_round(&second).unwrap();
        let read = read_metrics(outputs.dir()).unwrap();
        assert_eq!(read, vec![first, second]);
        let config = fs::read_to_string(outputs.dir().join("config.toml")).unwrap();
        assert_eq!(RunConfig::from_toml(&config).unwrap(), RunConfig::default());
    }

    #[test]
    fn read_metrics_skips_unfinished_last_line() {
        let tmp = tempfile::tempdir().unwrap();
        let line = serde_json::to_string(&RoundMetrics::default()).unwrap();
        let path = tmp.path().join("metrics.jsonl");
        fs::write(&path, format!("{line}\n{line}\n{}", &line[..20])).unwrap();
        assert_eq!(read_metrics(tmp.path()).unwrap().len(), 2);
        fs::write(&path, format!("{line}\n{}\n{line}\n", &line[..20])).unwrap();
        let err = read_metrics(tmp.path()).unwrap_err();
        assert!(
            err.to_string().starts_with("metrics.jsonl line 2:"),
            "{err}"
        );
    }
}
