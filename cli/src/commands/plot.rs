//! The `starling plot` command. It writes a finished (or running) run's
//! figures as SVG files, the same charts that the dashboard draws: accuracy
//! and loss against round and wall clock, bytes per round and in total,
//! privacy spent, and participation.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use starling_charts::Figure;
use starling_charts::run::{self as figures, Curves, Timeline};
use starling_proto::FinishReason;
use starling_runlog::{RoundMetrics, RunHeader};
use starling_server::read_metrics;

use crate::console;

/// Options of `starling plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Run id (a folder under --runs-dir) or the path of a run folder.
    pub run: String,
    /// Folder that contains the runs.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// Another run (id or folder path) whose accuracy and loss are drawn on
    /// the same axes.
    #[arg(long, value_name = "RUN")]
    pub compare: Option<String>,
    /// Folder to write the figures to [default: <run folder>/plots].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// A run folder's contents that the figures need.
struct RunRecord {
    id: String,
    header: Option<RunHeader>,
    rounds: Vec<RoundMetrics>,
    /// True when the run ended because its privacy budget was spent.
    stopped_on_budget: bool,
}

/// Writes the figures and prints their paths.
pub fn run(args: PlotArgs) -> anyhow::Result<()> {
    let (dir, record) = load(&args.runs_dir, &args.run)?;
    let compared = match &args.compare {
        Some(other) => Some(load(&args.runs_dir, other)?.1),
        None => None,
    };
    let out = args.out.unwrap_or_else(|| dir.join("plots"));
    std::fs::create_dir_all(&out).with_context(|| format!("failed to create {}", out.display()))?;
    let written = write_figures(&record, compared.as_ref(), &out)?;
    let compared_note = compared
        .as_ref()
        .map(|other| {
            format!(
                ", compared with {} ({} rounds)",
                other.id,
                other.rounds.len()
            )
        })
        .unwrap_or_default();
    let mut report = format!(
        "wrote {} figures of run {} ({} rounds){compared_note} to {}\n",
        written.len(),
        record.id,
        record.rounds.len(),
        out.display()
    );
    for path in written {
        report.push_str(&format!("  {}\n", path.display()));
    }
    console::text(&report)
}

/// Finds a run by id under `runs_dir`, or as a folder path, and reads it.
fn load(runs_dir: &Path, run: &str) -> anyhow::Result<(PathBuf, RunRecord)> {
    let by_id = runs_dir.join(run);
    let dir = if by_id.join("metrics.jsonl").is_file() {
        by_id
    } else if Path::new(run).join("metrics.jsonl").is_file() {
        PathBuf::from(run)
    } else {
        anyhow::bail!(
            "run {run:?} not found: no metrics.jsonl in {} or {run}. \
             Pass a run id under --runs-dir or the path of a run folder.",
            by_id.display()
        );
    };
    let rounds = read_metrics(&dir)
        .with_context(|| format!("failed to read {}", dir.join("metrics.jsonl").display()))?;
    let header: Option<RunHeader> =
        match std::fs::read_to_string(dir.join("header.json")) {
            Ok(text) => Some(serde_json::from_str(&text).with_context(|| {
                format!("failed to parse {}", dir.join("header.json").display())
            })?),
            Err(_) => None,
        };
    let id = dir.file_name().map_or_else(
        || run.to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    // The summary exists once the run has ended; only its reason is read.
    let stopped_on_budget = std::fs::read_to_string(dir.join("summary.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<starling_server::RunSummary>(&text).ok())
        .is_some_and(|summary| matches!(summary.reason, FinishReason::PrivacyBudget { .. }));
    Ok((
        dir,
        RunRecord {
            id,
            header,
            rounds,
            stopped_on_budget,
        },
    ))
}

/// Renders every figure into `out` and returns the paths written.
fn write_figures(
    record: &RunRecord,
    compared: Option<&RunRecord>,
    out: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let own_label = if compared.is_some() {
        record.id.as_str()
    } else {
        "global model"
    };
    let mut curves = vec![Curves {
        label: own_label,
        rounds: &record.rounds,
    }];
    if let Some(other) = compared {
        curves.push(Curves {
            label: &other.id,
            rounds: &other.rounds,
        });
    }
    let all: Vec<Figure> = vec![
        figures::accuracy(&curves, Timeline::Round),
        figures::accuracy(&curves, Timeline::WallClock),
        figures::loss(&curves, Timeline::Round),
        figures::loss(&curves, Timeline::WallClock),
        figures::bytes_per_round(&record.rounds),
        figures::cumulative_bytes(&record.rounds),
        figures::privacy(
            record.header.as_ref(),
            &record.rounds,
            record.stopped_on_budget,
        ),
        figures::participation(&record.rounds),
    ];
    let mut written = Vec::with_capacity(all.len());
    for figure in &all {
        let path = out.join(format!("{}.svg", figure.id));
        std::fs::write(&path, starling_charts::render(figure))
            .with_context(|| format!("failed to write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_run(dir: &Path, accuracies: &[f64]) {
        std::fs::create_dir_all(dir).unwrap();
        let lines: Vec<String> = accuracies
            .iter()
            .enumerate()
            .map(|(i, a)| {
                serde_json::to_string(&RoundMetrics {
                    round: i as u32 + 1,
                    test_accuracy: Some(*a),
                    bytes_up: 1000,
                    bytes_down: 2000,
                    ..RoundMetrics::default()
                })
                .unwrap()
            })
            .collect();
        std::fs::write(dir.join("metrics.jsonl"), lines.join("\n") + "\n").unwrap();
    }

    #[test]
    fn plot_writes_every_figure() {
        let tmp = tempfile::tempdir().unwrap();
        write_run(&tmp.path().join("r1"), &[0.5, 0.7, 0.9]);
        run(PlotArgs {
            run: "r1".to_owned(),
            runs_dir: tmp.path().to_path_buf(),
            compare: None,
            out: None,
        })
        .unwrap();
        let plots = tmp.path().join("r1").join("plots");
        let accuracy = std::fs::read_to_string(plots.join("accuracy-round.svg")).unwrap();
        assert_eq!(accuracy.matches("class=\"point\"").count(), 3);
        assert!(accuracy.contains("data-x=\"3\" data-y=\"0.9\""));
        let bytes = std::fs::read_to_string(plots.join("bytes-round.svg")).unwrap();
        assert!(bytes.contains("data-y=\"2000\""));
        let privacy = std::fs::read_to_string(plots.join("privacy.svg")).unwrap();
        assert!(privacy.contains("differential privacy is off for this run"));
        assert_eq!(std::fs::read_dir(&plots).unwrap().count(), 8);
    }

    #[test]
    fn plot_compares_runs_by_folder_path() {
        let tmp = tempfile::tempdir().unwrap();
        write_run(&tmp.path().join("a"), &[0.5, 0.6]);
        write_run(&tmp.path().join("b"), &[0.7]);
        let out = tmp.path().join("figures");
        run(PlotArgs {
            run: tmp.path().join("a").to_string_lossy().into_owned(),
            runs_dir: PathBuf::from("/nonexistent"),
            compare: Some(tmp.path().join("b").to_string_lossy().into_owned()),
            out: Some(out.clone()),
        })
        .unwrap();
        let accuracy = std::fs::read_to_string(out.join("accuracy-round.svg")).unwrap();
        assert!(accuracy.contains("data-series=\"a\""));
        assert!(accuracy.contains("data-series=\"b\""));
    }

    #[test]
    fn plot_unknown_run_names_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let err = run(PlotArgs {
            run: "missing".to_owned(),
            runs_dir: tmp.path().to_path_buf(),
            compare: None,
            out: None,
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("run \"missing\" not found"),
            "{err}"
        );
    }
}
