//! `starling sim`: the coordinator and N clients in one process, once or
//! as a sweep over strategies, a hyper-parameter grid and seeds.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use starling_charts::figure::Axis;
use starling_charts::{Figure, Series, TickFormat};
use starling_server::RunConfig;
use starling_sim::sweep::{self, SeedOutcome, Variant};
use starling_sim::{SimConfig, simulate};

use crate::args::RunArgs;
use crate::commands::edge::default_parallelism;
use crate::{logging, report};

/// Options of `starling sim`.
#[derive(Args, Debug)]
pub struct SimArgs {
    /// Simulated clients [default: `expected_clients` of --config, else 100].
    #[arg(long)]
    pub clients: Option<usize>,
    /// Clients that train at the same time.
    #[arg(long)]
    pub parallel: Option<usize>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Sweep: strategies to run, comma-separated, each optionally with
    /// settings, e.g. `fedavg,fedprox:mu=0.001,fedavg:partition=iid`.
    #[arg(long, value_name = "LIST")]
    pub strategies: Option<String>,
    /// Sweep: a grid `KEY=V1,V2,...` that expands every strategy it applies
    /// to (mu: fedprox; server-momentum: fedavgm; beta1, beta2, tau:
    /// fedadam, fedyogi, fedadagrad; the rest: all). Repeatable.
    #[arg(long, value_name = "KEY=VALUES")]
    pub grid: Vec<String>,
    /// Sweep: seeds to run every variant with, comma-separated.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub seeds: Vec<u64>,
    /// Sweep: test accuracy whose first round the table reports (e.g.
    /// 0.95); the runs do not stop there.
    #[arg(long, value_name = "FRACTION")]
    pub reach: Option<f64>,
    /// Sweep: folder for the table and the accuracy figure
    /// [default: <runs-dir>/sweep-<time>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs the simulation and prints the rounds and the final accuracy.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    logging::init("warn");
    let base = RunConfig {
        fraction: 0.1,
        expected_clients: 100,
        ..RunConfig::default()
    };
    let run = args.run.resolve(base)?;
    if args.strategies.is_some() || !args.grid.is_empty() || !args.seeds.is_empty() {
        return run_sweep(&args, run).await;
    }
    let config = SimConfig {
        clients: args.clients.unwrap_or(run.expected_clients as usize),
        parallel: args.parallel.unwrap_or_else(default_parallelism),
        progress: !args.quiet,
        run,
    };
    let report = simulate(config).await?;
    for (client, error) in &report.client_errors {
        eprintln!("client {client} failed: {error}");
    }
    for metrics in starling_server::read_metrics(&report.run_dir)? {
        println!("{}", report::round_line(&metrics));
    }
    println!("{}", report::final_line(&report.summary, &report.run_dir));
    report::check_finished(&report.summary)
}

/// A variant, what each of its seeds achieved, and each seed's rounds.
type VariantRuns<'a> = (
    &'a Variant,
    Vec<SeedOutcome>,
    Vec<Vec<starling_runlog::RoundMetrics>>,
);

/// Runs every variant of the sweep with every seed, one after another, then
/// writes `table.md`, `accuracy.svg` and `accuracy-late.svg` (the rounds
/// after the first tenth, on their own accuracy range).
async fn run_sweep(args: &SimArgs, base: RunConfig) -> anyhow::Result<()> {
    let strategies = args.strategies.as_deref().unwrap_or(base.strategy.as_str());
    let grids = args
        .grid
        .iter()
        .map(|grid| sweep::parse_grid(grid))
        .collect::<Result<Vec<_>, _>>()?;
    let variants = sweep::expand(sweep::parse_strategies(strategies)?, &grids);
    anyhow::ensure!(!variants.is_empty(), "the sweep has no strategy to run");
    let seeds = if args.seeds.is_empty() {
        vec![base.seed]
    } else {
        args.seeds.clone()
    };
    if let Some(reach) = args.reach {
        anyhow::ensure!(
            (0.0..=1.0).contains(&reach),
            "--reach {reach} must be a fraction in [0, 1], e.g. 0.95"
        );
    }
    // Every configuration is checked before the first run starts.
    let mut planned = Vec::new();
    for variant in &variants {
        for &seed in &seeds {
            let mut config = base.clone();
            config.seed = seed;
            variant.apply(&mut config)?;
            config
                .validate()
                .with_context(|| format!("variant {} is invalid", variant.label()))?;
            planned.push((variant, seed, config));
        }
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| base.runs_dir.join(format!("sweep-{}", timestamp())));
    std::fs::create_dir_all(&out).with_context(|| format!("failed to create {}", out.display()))?;
    println!(
        "sweep: {} variants x {} seeds = {} runs, writing to {}",
        variants.len(),
        seeds.len(),
        planned.len(),
        out.display()
    );

    let mut results: Vec<VariantRuns<'_>> = variants
        .iter()
        .map(|v| (v, Vec::new(), Vec::new()))
        .collect();
    for (variant, seed, run) in planned {
        let clients = args.clients.unwrap_or(run.expected_clients as usize);
        let config = SimConfig {
            clients,
            parallel: args.parallel.unwrap_or_else(default_parallelism),
            progress: !args.quiet,
            run,
        };
        let report = simulate(config).await?;
        report::check_finished(&report.summary)
            .with_context(|| format!("{} seed {seed} did not finish", variant.label()))?;
        let rounds = starling_server::read_metrics(&report.run_dir)?;
        let outcome = SeedOutcome::from_rounds(seed, &rounds, args.reach);
        println!(
            "{} seed {seed}: {} after {} rounds in {:.0} s ({})",
            variant.label(),
            outcome
                .final_accuracy
                .map_or("no accuracy".to_owned(), |a| format!("{:.2}%", a * 100.0)),
            outcome.rounds,
            outcome.wall_s,
            report.run_dir.display()
        );
        if let Some(entry) = results.iter_mut().find(|(v, _, _)| *v == variant) {
            entry.1.push(outcome);
            entry.2.push(rounds);
        }
    }

    let rows: Vec<(String, Vec<SeedOutcome>)> = results
        .iter()
        .map(|(variant, outcomes, _)| (variant.label(), outcomes.clone()))
        .collect();
    let table = sweep::table(&rows, args.reach);
    write(&out.join("table.md"), &table)?;
    let curves: Vec<(String, Vec<(f64, f64)>)> = results
        .iter()
        .map(|(variant, _, runs)| (variant.label(), sweep::mean_curve(runs)))
        .collect();
    let title = format!("Test accuracy by round, mean over {} seeds", seeds.len());
    let full = accuracy_figure("sweep-accuracy", title.clone(), &curves, None);
    write(&out.join("accuracy.svg"), &starling_charts::render(&full))?;
    let points: Vec<Vec<(f64, f64)>> = curves.iter().map(|(_, curve)| curve.clone()).collect();
    let mut written = vec![out.join("table.md"), out.join("accuracy.svg")];
    if let Some(window) = sweep::late_window(&points) {
        let late = accuracy_figure(
            "sweep-accuracy-late",
            format!("{title}, from round {}", window.0),
            &curves,
            Some(window),
        );
        write(
            &out.join("accuracy-late.svg"),
            &starling_charts::render(&late),
        )?;
        written.push(out.join("accuracy-late.svg"));
    }
    print!("{table}");
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Draws one mean accuracy curve per variant; with a window `(first
/// round, lowest, highest accuracy)` only the rounds from the first one on,
/// on that accuracy range.
fn accuracy_figure(
    id: &str,
    title: String,
    curves: &[(String, Vec<(f64, f64)>)],
    window: Option<(f64, f64, f64)>,
) -> Figure {
    let mut y = Axis::new("test accuracy (%)", TickFormat::Percent);
    if let Some((_, lo, hi)) = window {
        y = y.with_range(lo, hi);
    }
    let first = window.map_or(f64::NEG_INFINITY, |(start, _, _)| start);
    let mut figure = Figure::new(id, title, Axis::new("round", TickFormat::Integer), y);
    for (index, (label, curve)) in curves.iter().enumerate() {
        let points = curve
            .iter()
            .copied()
            .filter(|&(round, _)| round >= first)
            .collect();
        let mut series = Series::new(label.as_str(), points).colour(index);
        if index >= starling_charts::svg::PALETTE.len() {
            series = series.dashed();
        }
        figure = figure.series(series);
    }
    figure
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("failed to write {}", path.display()))
}

/// Seconds since the Unix epoch, enough to keep sweep folders apart.
fn timestamp() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
