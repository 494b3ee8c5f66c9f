//! Sweeps: many simulations that differ in strategy, in a grid of
//! hyper-parameters and in the seed, summarised in one table.
//!
//! A sweep is described by a strategy list such as
//! `fedavg,fedprox:mu=0.001,fedavg:partition=iid` (each entry a strategy
//! with optional `key=value` settings joined by `:`) and grids such as
//! `mu=0,1e-4,1e-3`. A grid expands every entry it applies to (`mu` only
//! FedProx, `server-momentum` only FedAvgM, `beta1`, `beta2` and `tau` only
//! FedOpt) unless the entry sets that key itself. Every variant then runs
//! once per seed.

use std::fmt::Write as _;

use starling_aggregate::{StrategyKind, Weighting};
use starling_server::{RoundMetrics, RunConfig};

/// A sweep description that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SweepError {
    /// A strategy entry or grid is not `key=value` shaped.
    #[error("invalid sweep setting `{text}`: {reason}")]
    Syntax {
        /// The offending text.
        text: String,
        /// The expected form.
        reason: String,
    },
    /// A key no sweep can set.
    #[error("unknown sweep key `{key}`; valid keys: {}", KEYS.join(", "))]
    UnknownKey {
        /// The key.
        key: String,
    },
    /// A grid or entry that repeats or contradicts another one.
    #[error("invalid sweep: {0}")]
    Conflict(String),
    /// A value that does not parse for its key.
    #[error("invalid value `{value}` for sweep key `{key}`: {reason}")]
    Value {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// The parse error.
        reason: String,
    },
}

/// Keys a strategy entry or a grid may set.
pub const KEYS: [&str; 15] = [
    "mu",
    "server-lr",
    "server-momentum",
    "beta1",
    "beta2",
    "tau",
    "weighting",
    "lr",
    "momentum",
    "local-epochs",
    "alpha",
    "partition",
    "model",
    "noise-multiplier",
    "clip-norm",
];

/// One configuration of a sweep: a strategy and its settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// The strategy.
    pub strategy: StrategyKind,
    /// Settings in the order they were given, as `(key, value)`.
    pub settings: Vec<(String, String)>,
}

impl Variant {
    /// Label for tables and legends, e.g. `fedprox mu=0.001`.
    pub fn label(&self) -> String {
        let mut label = self.strategy.to_string();
        for (key, value) in &self.settings {
            let _ = write!(label, " {key}={value}");
        }
        label
    }

    /// Applies the strategy and every setting to `config`. A FedProx μ from
    /// the base configuration is kept for FedProx entries only.
    pub fn apply(&self, config: &mut RunConfig) -> Result<(), SweepError> {
        config.strategy = self.strategy.as_str().to_owned();
        if self.strategy != StrategyKind::FedProx {
            config.proximal_mu = None;
        }
        for (key, value) in &self.settings {
            apply_setting(config, key, value)?;
        }
        Ok(())
    }

    fn sets(&self, key: &str) -> bool {
        self.settings.iter().any(|(k, _)| k == key)
    }
}

/// Parses a comma-separated strategy list, each entry
/// `name[:key=value]...`.
pub fn parse_strategies(list: &str) -> Result<Vec<Variant>, SweepError> {
    list.split(',')
        .map(str::trim)
        .map(|entry| {
            if entry.is_empty() {
                return Err(SweepError::Syntax {
                    text: list.to_owned(),
                    reason: "empty entry in the strategy list".to_owned(),
                });
            }
            let mut parts = entry.split(':');
            let name = parts.next().unwrap_or_default();
            let strategy = name
                .parse()
                .map_err(
                    |err: starling_aggregate::AggregateError| SweepError::Syntax {
                        text: entry.to_owned(),
                        reason: err.to_string(),
                    },
                )?;
            let mut variant = Variant {
                strategy,
                settings: Vec::new(),
            };
            for setting in parts {
                let (key, value) = split_setting(setting)?;
                check_key(key)?;
                if variant.sets(key) {
                    return Err(SweepError::Conflict(format!("`{entry}` sets {key} twice")));
                }
                if !applies(key, strategy) {
                    return Err(SweepError::Conflict(format!(
                        "`{entry}`: {key} does not apply to {strategy}"
                    )));
                }
                variant.settings.push((key.to_owned(), value.to_owned()));
            }
            Ok(variant)
        })
        .collect()
}

/// Parses a grid `key=v1,v2,...`.
pub fn parse_grid(spec: &str) -> Result<(String, Vec<String>), SweepError> {
    let (key, values) = split_setting(spec)?;
    check_key(key)?;
    let values: Vec<String> = values.split(',').map(|v| v.trim().to_owned()).collect();
    if values.iter().any(String::is_empty) {
        return Err(SweepError::Syntax {
            text: spec.to_owned(),
            reason: "expected values separated by single commas, with no empty value".to_owned(),
        });
    }
    if let Some(repeated) = values
        .iter()
        .enumerate()
        .find_map(|(i, v)| values[..i].contains(v).then_some(v))
    {
        return Err(SweepError::Conflict(format!(
            "grid `{spec}` lists {repeated} twice"
        )));
    }
    Ok((key.to_owned(), values))
}

/// Expands `variants` by every grid that applies to them, in order. Fails
/// on a key gridded twice, on a grid that applies to no variant, and on
/// two variants that come out the same.
pub fn expand(
    variants: Vec<Variant>,
    grids: &[(String, Vec<String>)],
) -> Result<Vec<Variant>, SweepError> {
    for (i, (key, _)) in grids.iter().enumerate() {
        if grids[..i].iter().any(|(k, _)| k == key) {
            return Err(SweepError::Conflict(format!(
                "{key} is gridded twice; list all its values in one --grid"
            )));
        }
        if !variants
            .iter()
            .any(|v| !v.sets(key) && applies(key, v.strategy))
        {
            return Err(SweepError::Conflict(format!(
                "the grid over {key} applies to none of the strategies"
            )));
        }
    }
    let expanded = grids.iter().fold(variants, |variants, (key, values)| {
        variants
            .into_iter()
            .flat_map(|variant| {
                if variant.sets(key) || !applies(key, variant.strategy) {
                    return vec![variant];
                }
                values
                    .iter()
                    .map(|value| {
                        let mut expanded = variant.clone();
                        expanded.settings.push((key.clone(), value.clone()));
                        expanded
                    })
                    .collect()
            })
            .collect()
    });
    for (i, variant) in expanded.iter().enumerate() {
        if expanded[..i].contains(variant) {
            return Err(SweepError::Conflict(format!(
                "{} appears twice",
                variant.label()
            )));
        }
    }
    Ok(expanded)
}

/// Returns whether a grid over `key` expands `strategy`.
fn applies(key: &str, strategy: StrategyKind) -> bool {
    use StrategyKind::{FedAdagrad, FedAdam, FedAvgM, FedProx, FedYogi};
    match key {
        "mu" => strategy == FedProx,
        "server-momentum" => strategy == FedAvgM,
        "beta1" | "tau" => matches!(strategy, FedAdam | FedYogi | FedAdagrad),
        "beta2" => matches!(strategy, FedAdam | FedYogi),
        _ => true,
    }
}

fn split_setting(text: &str) -> Result<(&str, &str), SweepError> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() && !value.trim().is_empty() => {
            Ok((key.trim(), value.trim()))
        }
        _ => Err(SweepError::Syntax {
            text: text.to_owned(),
            reason: "expected key=value".to_owned(),
        }),
    }
}

fn check_key(key: &str) -> Result<(), SweepError> {
    if KEYS.contains(&key) {
        Ok(())
    } else {
        Err(SweepError::UnknownKey {
            key: key.to_owned(),
        })
    }
}

fn apply_setting(config: &mut RunConfig, key: &str, value: &str) -> Result<(), SweepError> {
    let number = || -> Result<f64, SweepError> {
        value.parse::<f64>().map_err(|err| SweepError::Value {
            key: key.to_owned(),
            value: value.to_owned(),
            reason: err.to_string(),
        })
    };
    let options = &mut config.strategy_options;
    match key {
        "mu" => config.proximal_mu = Some(number()?),
        "server-lr" => options.server_learning_rate = Some(number()?),
        "server-momentum" => options.server_momentum = number()?,
        "beta1" => options.beta1 = number()?,
        "beta2" => options.beta2 = number()?,
        "tau" => options.tau = number()?,
        "weighting" => {
            options.weighting = value
                .parse::<Weighting>()
                .map_err(|err| SweepError::Value {
                    key: key.to_owned(),
                    value: value.to_owned(),
                    reason: err.to_string(),
                })?;
        }
        "lr" => config.train.learning_rate = number()?,
        "momentum" => config.train.momentum = number()?,
        "local-epochs" => {
            config.train.local_epochs = value.parse().map_err(|_| SweepError::Value {
                key: key.to_owned(),
                value: value.to_owned(),
                reason: "expected a whole number of epochs".to_owned(),
            })?;
        }
        "alpha" => config.data.alpha = number()?,
        // `off` runs without differential privacy; a number turns it on with
        // the base configuration's other privacy settings.
        "noise-multiplier" if value == "off" => config.privacy = None,
        "noise-multiplier" => {
            let z = number()?;
            let privacy = config.privacy.get_or_insert_with(Default::default);
            privacy.noise_multiplier = Some(z);
            privacy.target_epsilon = None;
        }
        "clip-norm" => {
            let norm = number()?;
            if let Some(privacy) = &mut config.privacy {
                privacy.clip_norm = norm;
            }
        }
        "partition" => config.data.partition = value.to_owned(),
        "model" => {
            config.train.model = match value {
                "mlp" => starling_proto::ModelKind::Mlp,
                "cnn" => starling_proto::ModelKind::Cnn,
                _ => {
                    return Err(SweepError::Value {
                        key: key.to_owned(),
                        value: value.to_owned(),
                        reason: "expected mlp or cnn".to_owned(),
                    });
                }
            }
        }
        _ => {
            return Err(SweepError::UnknownKey {
                key: key.to_owned(),
            });
        }
    }
    Ok(())
}

/// The outcome of one seed of one variant.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedOutcome {
    /// The run's seed.
    pub seed: u64,
    /// Rounds that ran.
    pub rounds: u32,
    /// Test accuracy at the last evaluated round.
    pub final_accuracy: Option<f64>,
    /// Best test accuracy of any round.
    pub best_accuracy: Option<f64>,
    /// First round whose test accuracy reached the target.
    pub rounds_to_target: Option<u32>,
    /// Mean bytes sent by clients per round.
    pub uplink_per_round: f64,
    /// Wall-clock seconds of the run.
    pub wall_s: f64,
    /// ε spent by the end of the run, with differential privacy.
    pub epsilon: Option<f64>,
}

impl SeedOutcome {
    /// Summarises a run's per-round metrics.
    pub fn from_rounds(seed: u64, rounds: &[RoundMetrics], target: Option<f64>) -> Self {
        let evaluated = || {
            rounds
                .iter()
                .filter_map(|m| Some((m.round, m.test_accuracy?)))
        };
        let uplink: u64 = rounds.iter().map(|m| m.bytes_up).sum();
        Self {
            seed,
            rounds: rounds.last().map_or(0, |m| m.round),
            final_accuracy: evaluated().next_back().map(|(_, a)| a),
            best_accuracy: evaluated().map(|(_, a)| a).reduce(f64::max),
            rounds_to_target: target
                .and_then(|target| evaluated().find(|&(_, a)| a >= target).map(|(r, _)| r)),
            uplink_per_round: uplink as f64 / rounds.len().max(1) as f64,
            wall_s: rounds.last().map_or(0.0, |m| m.wall_time_s),
            epsilon: rounds
                .iter()
                .rev()
                .find_map(|m| m.privacy.as_ref().map(|p| p.epsilon)),
        }
    }
}

/// Mean and sample standard deviation; `None` for no values.
pub fn mean_and_spread(values: &[f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let spread = if values.len() < 2 {
        0.0
    } else {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    };
    Some((mean, spread))
}

/// Mean test accuracy by round over several runs, at the rounds every run
/// evaluated.
pub fn mean_curve(runs: &[Vec<RoundMetrics>]) -> Vec<(f64, f64)> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter_map(|metrics| {
            let round = metrics.round;
            let values: Option<Vec<f64>> = runs
                .iter()
                .map(|run| {
                    run.iter()
                        .find(|m| m.round == round)
                        .and_then(|m| m.test_accuracy)
                })
                .collect();
            let (mean, _) = mean_and_spread(&values?)?;
            Some((f64::from(round), mean))
        })
        .collect()
}

/// Zooms in on the late rounds of `curves` (round, accuracy) points: the
/// first round after the first tenth of the longest curve, and the
/// accuracy range of the points from there on, widened to whole percent.
/// Returns `None` when no point is that late.
pub fn late_window(curves: &[Vec<(f64, f64)>]) -> Option<(f64, f64, f64)> {
    let last = curves
        .iter()
        .flat_map(|curve| curve.iter().map(|&(round, _)| round))
        .reduce(f64::max)?;
    let start = (last / 10.0).ceil().max(1.0) + 1.0;
    let late = || {
        curves
            .iter()
            .flat_map(|curve| curve.iter().filter(|&&(round, _)| round >= start))
            .map(|&(_, accuracy)| accuracy)
    };
    let lo = late().reduce(f64::min)?;
    let hi = late().reduce(f64::max)?;
    Some((
        start,
        (lo * 100.0).floor() / 100.0,
        (hi * 100.0).ceil() / 100.0,
    ))
}

/// Renders the sweep as a Markdown table with one row per variant. Each
/// row has the accuracy after the last round (mean ± sample standard
/// deviation over seeds, then each seed), the best accuracy, the rounds to
/// `target`, the uplink per round and the mean wall time.
pub fn table(rows: &[(String, Vec<SeedOutcome>)], target: Option<f64>) -> String {
    let percent = |v: f64| format!("{:.2}", v * 100.0);
    let mut out = String::new();
    let target_header = match target {
        Some(target) => format!("rounds to {}%", percent(target)),
        None => "rounds to target".to_owned(),
    };
    let private = rows
        .iter()
        .flat_map(|(_, seeds)| seeds)
        .any(|s| s.epsilon.is_some());
    let epsilon_header = if private { " ε (mean) |" } else { "" };
    let _ = writeln!(
        out,
        "| variant | final accuracy % (mean ± sd) | per seed | best % (mean) | {target_header} (mean; per seed) | uplink per round | wall s (mean) |{epsilon_header}"
    );
    let _ = writeln!(
        out,
        "|---|---|---|---|---|---|---|{}",
        if private { "---|" } else { "" }
    );
    for (label, seeds) in rows {
        let finals: Vec<f64> = seeds.iter().filter_map(|s| s.final_accuracy).collect();
        let bests: Vec<f64> = seeds.iter().filter_map(|s| s.best_accuracy).collect();
        let final_cell = mean_and_spread(&finals).map_or("-".to_owned(), |(mean, sd)| {
            format!("{} ± {}", percent(mean), percent(sd))
        });
        let per_seed = seeds
            .iter()
            .map(|s| s.final_accuracy.map_or("-".to_owned(), percent))
            .collect::<Vec<_>>()
            .join(" / ");
        let best_cell = mean_and_spread(&bests).map_or("-".to_owned(), |(mean, _)| percent(mean));
        let reached: Vec<f64> = seeds
            .iter()
            .filter_map(|s| s.rounds_to_target.map(f64::from))
            .collect();
        let per_seed_rounds = seeds
            .iter()
            .map(|s| s.rounds_to_target.map_or("-".to_owned(), |r| r.to_string()))
            .collect::<Vec<_>>()
            .join(" / ");
        let target_cell = match (target, mean_and_spread(&reached)) {
            (None, _) => "-".to_owned(),
            (Some(_), None) => format!("not reached; {per_seed_rounds}"),
            (Some(_), Some((mean, _))) if reached.len() == seeds.len() => {
                format!("{mean:.1}; {per_seed_rounds}")
            }
            (Some(_), Some(_)) => format!(
                "{} of {} seeds; {per_seed_rounds}",
                reached.len(),
                seeds.len()
            ),
        };
        let uplink = mean_and_spread(&seeds.iter().map(|s| s.uplink_per_round).collect::<Vec<_>>())
            .map_or(0.0, |(mean, _)| mean);
        let wall = mean_and_spread(&seeds.iter().map(|s| s.wall_s).collect::<Vec<_>>())
            .map_or(0.0, |(mean, _)| mean);
        let epsilon_cell = if private {
            let epsilons: Vec<f64> = seeds.iter().filter_map(|s| s.epsilon).collect();
            let cell = mean_and_spread(&epsilons).map_or("off".to_owned(), |(mean, _)| {
                starling_runlog::units::epsilon(mean)
            });
            format!(" {cell} |")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {label} | {final_cell} | {per_seed} | {best_cell} | {target_cell} | {} | {wall:.0} |{epsilon_cell}",
            starling_runlog::units::bytes(uplink as u64)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_list_with_inline_settings() {
        let variants = parse_strategies("fedavg, fedprox:mu=0.001 ,fedavg:partition=iid").unwrap();
        assert_eq!(variants.len(), 3);
        assert_eq!(variants[1].label(), "fedprox mu=0.001");
        assert_eq!(variants[2].label(), "fedavg partition=iid");
    }

    #[test]
    fn unknown_names_list_valid_ones() {
        let err = parse_strategies("fedavg,fedfoo").unwrap_err().to_string();
        assert!(err.contains("fedfoo"), "{err}");
        assert!(err.contains("scaffold"), "{err}");
        let err = parse_strategies("fedprox:nu=1").unwrap_err().to_string();
        assert!(err.contains("nu"), "{err}");
        assert!(err.contains("server-lr"), "{err}");
        assert!(parse_grid("mu").is_err());
        assert!(parse_grid("mu=").is_err());
    }

    #[test]
    fn grid_expands_only_the_strategies_it_applies_to() {
        let variants = parse_strategies("fedavg,fedprox,fedprox:mu=0.5,fedadam").unwrap();
        let grids = [
            parse_grid("mu=0,1e-3").unwrap(),
            parse_grid("tau=1e-3,1e-2").unwrap(),
        ];
        let labels: Vec<String> = expand(variants, &grids)
            .unwrap()
            .iter()
            .map(Variant::label)
            .collect();
        assert_eq!(
            labels,
            [
                "fedavg",
                "fedprox mu=0",
                "fedprox mu=1e-3",
                "fedprox mu=0.5",
                "fedadam tau=1e-3",
                "fedadam tau=1e-2",
            ]
        );
    }

    #[test]
    fn conflicting_sweeps_are_rejected() {
        let conflicts = [
            ("fedavg,,fedprox", None),
            ("fedprox:mu=0.1:mu=0.2", None),
            ("fedavg:beta1=0.5", None),
            ("fedavg,fedavg", None),
            ("fedavg", Some("mu=0,1")),
            ("fedprox", Some("mu=0,,1")),
            ("fedprox", Some("mu=1,1")),
        ];
        for (list, grid) in conflicts {
            let result = parse_strategies(list).and_then(|variants| {
                let grids = grid
                    .map(parse_grid)
                    .transpose()?
                    .into_iter()
                    .collect::<Vec<_>>();
                expand(variants, &grids)
            });
            assert!(result.is_err(), "{list} {grid:?} was accepted");
        }
        let twice = [parse_grid("mu=0").unwrap(), parse_grid("mu=1").unwrap()];
        let variants = parse_strategies("fedprox").unwrap();
        assert!(expand(variants, &twice).is_err());
    }

    #[test]
    fn noise_multiplier_turns_privacy_on_and_off() {
        let mut config = RunConfig::default();
        parse_strategies("fedavg:noise-multiplier=1.5:clip-norm=0.2").unwrap()[0]
            .apply(&mut config)
            .unwrap();
        let privacy = config.privacy.clone().unwrap();
        assert_eq!(privacy.noise_multiplier, Some(1.5));
        assert_eq!(privacy.clip_norm, 0.2);
        parse_strategies("fedavg:noise-multiplier=off").unwrap()[0]
            .apply(&mut config)
            .unwrap();
        assert_eq!(config.privacy, None);
    }

    #[test]
    fn base_mu_stays_with_fedprox() {
        let mut config = RunConfig {
            proximal_mu: Some(0.1),
            ..RunConfig::default()
        };
        parse_strategies("fedavg").unwrap()[0]
            .apply(&mut config)
            .unwrap();
        assert_eq!(config.proximal_mu, None);
        let mut config = RunConfig {
            proximal_mu: Some(0.1),
            ..RunConfig::default()
        };
        parse_strategies("fedprox").unwrap()[0]
            .apply(&mut config)
            .unwrap();
        assert_eq!(config.proximal_mu, Some(0.1));
    }

    #[test]
    fn settings_reach_the_run_config() {
        let variant = &parse_strategies("fedadam:server-lr=0.05:beta1=0.5:partition=iid:model=cnn")
            .unwrap()[0];
        let mut config = RunConfig::default();
        variant.apply(&mut config).unwrap();
        assert_eq!(config.strategy, "fedadam");
        assert_eq!(config.strategy_options.server_learning_rate, Some(0.05));
        assert_eq!(config.strategy_options.beta1, 0.5);
        assert_eq!(config.data.partition, "iid");
        assert_eq!(config.train.model, starling_proto::ModelKind::Cnn);
        let bad = &parse_strategies("fedavg:lr=fast").unwrap()[0];
        assert!(
            bad.apply(&mut config)
                .unwrap_err()
                .to_string()
                .contains("fast")
        );
    }

    fn round(round: u32, accuracy: Option<f64>, bytes_up: u64) -> RoundMetrics {
        RoundMetrics {
            round,
            test_accuracy: accuracy,
            bytes_up,
            wall_time_s: f64::from(round),
            ..RoundMetrics::default()
        }
    }

    #[test]
    fn seed_outcome_final_best_target() {
        let rounds = [
            round(1, Some(0.5), 100),
            round(2, Some(0.91), 100),
            round(3, None, 100),
            round(4, Some(0.9), 300),
        ];
        let outcome = SeedOutcome::from_rounds(7, &rounds, Some(0.9));
        assert_eq!(outcome.final_accuracy, Some(0.9));
        assert_eq!(outcome.best_accuracy, Some(0.91));
        assert_eq!(outcome.rounds_to_target, Some(2));
        assert_eq!(outcome.uplink_per_round, 150.0);
        assert_eq!(outcome.rounds, 4);
        let never = SeedOutcome::from_rounds(7, &rounds, Some(0.95));
        assert_eq!(never.rounds_to_target, None);
    }

    #[test]
    fn mean_spread_and_curve() {
        let (mean, sd) = mean_and_spread(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(mean, 2.0);
        assert!((sd - 1.0).abs() < 1e-12);
        assert_eq!(mean_and_spread(&[4.0]), Some((4.0, 0.0)));
        assert_eq!(mean_and_spread(&[]), None);
        let a = vec![round(1, Some(0.2), 0), round(2, Some(0.4), 0)];
        let b = vec![round(1, Some(0.4), 0), round(2, None, 0)];
        let curve = mean_curve(&[a, b]);
        assert_eq!(curve.len(), 1);
        assert!((curve[0].1 - 0.3).abs() < 1e-12);
    }

    #[test]
    fn late_window_skips_the_first_tenth() {
        let a: Vec<(f64, f64)> = (1..=20)
            .map(|r| (f64::from(r), 0.5 + f64::from(r) / 100.0))
            .collect();
        let b = vec![(2.0, 0.2), (20.0, 0.655)];
        let (start, lo, hi) = late_window(&[a, b]).unwrap();
        assert_eq!(start, 3.0);
        assert!((lo - 0.53).abs() < 1e-9, "{lo}");
        assert!((hi - 0.70).abs() < 1e-9, "{hi}");
        assert_eq!(late_window(&[]), None);
    }

    #[test]
    fn table_row_per_variant() {
        let seeds = vec![
            SeedOutcome::from_rounds(1, &[round(1, Some(0.9), 1024)], Some(0.85)),
            SeedOutcome::from_rounds(2, &[round(1, Some(0.8), 1024)], Some(0.85)),
        ];
        let text = table(&[("fedavg".to_owned(), seeds)], Some(0.85));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].contains("rounds to 85.00%"), "{}", lines[0]);
        assert!(
            lines[2].starts_with("| fedavg | 85.00 ± 7.07 | 90.00 / 80.00 |"),
            "{}",
            lines[2]
        );
        assert!(lines[2].contains("1 of 2 seeds; 1 / -"), "{}", lines[2]);
    }
}
