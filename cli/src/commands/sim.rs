//! `starling sim`: the coordinator and N clients in one process, once or
//! as a sweep over strategies, a hyper-parameter grid and seeds.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use starling_charts::figure::Axis;
use starling_charts::{Figure, Series, TickFormat};
use starling_server::RunConfig;
use starling_sim::sweep::{self, SeedOutcome};
use starling_sim::{SimConfig, simulate};

use crate::args::RunArgs;
use crate::commands::edge::default_parallelism;
use crate::console::{self, complain, say};
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
    /// Keys: mu, server-lr, server-momentum, beta1, beta2, tau, weighting,
    /// lr, momentum, local-epochs, alpha, partition, model.
    #[arg(long, value_name = "LIST", conflicts_with = "strategy")]
    pub strategies: Option<String>,
    /// Sweep: a grid `KEY=V1,V2,...` over one of the keys above. It expands
    /// the strategies it applies to: mu fedprox, server-momentum fedavgm,
    /// beta1 and tau fedadam, fedyogi and fedadagrad, beta2 fedadam and
    /// fedyogi, the rest all. Repeatable with different keys.
    #[arg(long, value_name = "KEY=VALUES")]
    pub grid: Vec<String>,
    /// Sweep: seeds to run every variant with, comma-separated.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub seeds: Vec<u64>,
    /// Sweep: test accuracy whose first round the table reports (e.g.
    /// 0.95); the runs do not stop there.
    #[arg(long, value_name = "FRACTION")]
    pub reach: Option<f64>,
    /// Sweep: folder for table.md, accuracy.svg, accuracy-late.svg and
    /// runs.json (the run folder of every variant and seed)
    /// [default: <runs-dir>/sweep-<time>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Rewrites the table and figures of the finished sweep in DIR from its
    /// runs.json (with this --reach), without running anything.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["strategies", "grid", "seeds", "out"])]
    pub replot: Option<PathBuf>,
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
    if let Some(dir) = &args.replot {
        return replot(dir, args.reach).await;
    }
    let mut run = args.run.resolve_unchecked(base)?;
    let clients = args.clients.unwrap_or(run.expected_clients as usize);
    // The population is the number of simulated clients.
    if let Some(privacy) = &mut run.privacy
        && privacy.population.is_none()
    {
        privacy.population = Some(clients as u32);
    }
    if args.strategies.is_some() || !args.grid.is_empty() || !args.seeds.is_empty() {
        // Each variant is validated once the sweep has set its strategy.
        return run_sweep(&args, run).await;
    }
    anyhow::ensure!(
        args.reach.is_none() && args.out.is_none(),
        "--reach and --out belong to sweeps: add --strategies, --grid or --seeds"
    );
    run.validate()?;
    let report = simulate(sim_config(&args, run)).await?;
    for (client, error) in &report.client_errors {
        complain!("client {client} failed: {error}");
    }
    let rounds = starling_server::read_metrics(&report.run_dir)?;
    let printed = rounds
        .iter()
        .try_for_each(|metrics| say!("{}", report::round_line(metrics)))
        .and_then(|()| say!("{}", report::final_line(&report.summary, &report.run_dir)));
    report::check_finished(&report.summary)?;
    printed
}

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
    let variants = sweep::expand(sweep::parse_strategies(strategies)?, &grids)?;
    anyhow::ensure!(!variants.is_empty(), "the sweep has no strategy to run");
    let seeds = if args.seeds.is_empty() {
        vec![base.seed]
    } else {
        args.seeds.clone()
    };
    for (i, seed) in seeds.iter().enumerate() {
        anyhow::ensure!(!seeds[..i].contains(seed), "--seeds lists {seed} twice");
    }
    if let Some(reach) = args.reach {
        anyhow::ensure!(
            reach > 0.0 && reach <= 1.0,
            "--reach {reach} must be a fraction in (0, 1], e.g. 0.95"
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
    anyhow::ensure!(
        !out.join("table.md").exists(),
        "{} already holds a sweep; pass another --out",
        out.display()
    );
    std::fs::create_dir_all(&out).with_context(|| format!("failed to create {}", out.display()))?;
    // Progress lines are notices: the sweep goes on and writes its table
    // whether or not anyone reads them.
    console::notice(&format!(
        "sweep: {} x {} = {} runs, writing to {}\n",
        count(variants.len(), "variant"),
        count(seeds.len(), "seed"),
        planned.len(),
        out.display()
    ));

    let mut groups: Vec<SweepGroup> = variants
        .iter()
        .map(|variant| SweepGroup {
            variant: variant.label(),
            runs: Vec::new(),
        })
        .collect();
    for (variant, seed, run) in planned {
        let report = simulate(sim_config(args, run)).await?;
        report::check_finished(&report.summary)
            .with_context(|| format!("{} seed {seed} did not finish", variant.label()))?;
        let rounds = starling_server::read_metrics(&report.run_dir)?;
        let outcome = SeedOutcome::from_rounds(seed, &rounds, args.reach);
        console::notice(&format!(
            "{} seed {seed}: {} after {} rounds in {:.0} s ({})\n",
            variant.label(),
            outcome
                .final_accuracy
                .map_or("no accuracy".to_owned(), |a| format!("{:.2}%", a * 100.0)),
            outcome.rounds,
            outcome.wall_s,
            report.run_dir.display()
        ));
        if let Some(group) = groups.iter_mut().find(|g| g.variant == variant.label()) {
            group.runs.push(SweepRun {
                seed,
                dir: report.run_dir.clone(),
            });
        }
    }
    let text = serde_json::to_string_pretty(&groups)?;
    write(&out.join("runs.json"), &text)?;
    summarise(&out, &groups, args.reach)
}

/// Rewrites a finished sweep's table and figures from its `runs.json`,
/// for example with another `--reach`.
async fn replot(dir: &Path, reach: Option<f64>) -> anyhow::Result<()> {
    let path = dir.join("runs.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "failed to read {}; is {} a sweep folder?",
            path.display(),
            dir.display()
        )
    })?;
    let groups: Vec<SweepGroup> = serde_json::from_str(&text)
        .with_context(|| format!("failed to parse {}", path.display()))?;
    summarise(dir, &groups, reach)
}

/// The runs of one variant of a sweep, as `runs.json` lists them.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct SweepGroup {
    variant: String,
    runs: Vec<SweepRun>,
}

/// One seed's run folder.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct SweepRun {
    seed: u64,
    dir: PathBuf,
}

/// Reads every run of the sweep and writes `table.md`, `accuracy.svg` and
/// `accuracy-late.svg` into `out`.
fn summarise(out: &Path, groups: &[SweepGroup], reach: Option<f64>) -> anyhow::Result<()> {
    let mut rows = Vec::with_capacity(groups.len());
    let mut curves = Vec::with_capacity(groups.len());
    let mut seeds = 0;
    for group in groups {
        let mut outcomes = Vec::with_capacity(group.runs.len());
        let mut runs = Vec::with_capacity(group.runs.len());
        for run in &group.runs {
            let rounds = starling_server::read_metrics(&run.dir)
                .with_context(|| format!("failed to read the metrics of {}", run.dir.display()))?;
            outcomes.push(SeedOutcome::from_rounds(run.seed, &rounds, reach));
            runs.push(rounds);
        }
        seeds = seeds.max(runs.len());
        curves.push((group.variant.clone(), sweep::mean_curve(&runs)));
        rows.push((group.variant.clone(), outcomes));
    }
    let table = sweep::table(&rows, reach);
    write(&out.join("table.md"), &table)?;
    let title = format!("Test accuracy by round, mean over {}", count(seeds, "seed"));
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
    console::text(&table)?;
    for path in written {
        say!("wrote {}", path.display())?;
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

/// Builds the simulation of `run` with the client count, parallelism and
/// progress options of `args`.
fn sim_config(args: &SimArgs, run: RunConfig) -> SimConfig {
    SimConfig {
        clients: args.clients.unwrap_or(run.expected_clients as usize),
        parallel: args.parallel.unwrap_or_else(default_parallelism),
        progress: !args.quiet,
        run,
    }
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("failed to write {}", path.display()))
}

/// `YYYYMMDD-HHMMSS-<4 hex>` in UTC, like run ids, so that two sweeps
/// started in the same second still get their own folders.
fn timestamp() -> String {
    let now = std::time::SystemTime::now();
    let stamp: String = humantime::format_rfc3339_seconds(now)
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect::<String>()
        .replace('T', "-");
    let nanos = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{stamp}-{:04x}", nanos >> 16 & 0xffff)
}

/// `1 seed`, `3 seeds`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
