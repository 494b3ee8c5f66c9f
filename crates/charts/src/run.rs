//! The standard figures of a run, built from its per-round metrics: test
//! accuracy and loss against round and wall clock (for one run or several
//! compared on the same axes), bytes per round and in total, privacy spent,
//! and participation.

use starling_runlog::{RoundMetrics, RunHeader, units};

use crate::figure::{Axis, Figure, Series, TickFormat};

/// One run's curves, labelled for the legend.
#[derive(Clone, Copy, Debug)]
pub struct Curves<'a> {
    /// Legend label (a run id, or a metric name for a single run).
    pub label: &'a str,
    /// The run's rounds.
    pub rounds: &'a [RoundMetrics],
}

/// Quantity on the x axis: round number or seconds since the run started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeline {
    /// Round number.
    Round,
    /// Wall clock at the end of each round.
    WallClock,
}

impl Timeline {
    fn axis(self) -> Axis {
        match self {
            Self::Round => Axis::new("round", TickFormat::Integer),
            Self::WallClock => Axis::new("wall clock since start (s)", TickFormat::Seconds),
        }
    }

    fn x(self, metrics: &RoundMetrics) -> f64 {
        match self {
            Self::Round => f64::from(metrics.round),
            Self::WallClock => metrics.wall_time_s,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Self::Round => "round",
            Self::WallClock => "time",
        }
    }
}

/// Plots the test accuracy of the global model, one series per run.
pub fn accuracy(runs: &[Curves<'_>], timeline: Timeline) -> Figure {
    let title = match timeline {
        Timeline::Round => "Test accuracy by round",
        Timeline::WallClock => "Test accuracy by wall clock",
    };
    let mut figure = Figure::new(
        format!("accuracy-{}", timeline.suffix()),
        title,
        timeline.axis(),
        Axis::new("test accuracy (%)", TickFormat::Percent),
    );
    for curves in runs {
        let points = curves
            .rounds
            .iter()
            .filter_map(|m| m.test_accuracy.map(|a| (timeline.x(m), a)))
            .collect();
        figure = figure.series(Series::new(curves.label, points));
    }
    if figure.is_empty() {
        figure = figure.note("no evaluated round yet");
    }
    figure
}

/// Plots the test loss of the global model (solid) and the clients' mean
/// training loss (dashed), one pair of series per run.
pub fn loss(runs: &[Curves<'_>], timeline: Timeline) -> Figure {
    let title = match timeline {
        Timeline::Round => "Loss by round",
        Timeline::WallClock => "Loss by wall clock",
    };
    let mut figure = Figure::new(
        format!("loss-{}", timeline.suffix()),
        title,
        timeline.axis(),
        Axis::new("cross-entropy (nats)", TickFormat::Number),
    );
    for (index, curves) in runs.iter().enumerate() {
        let test = curves
            .rounds
            .iter()
            .filter_map(|m| m.test_loss.map(|l| (timeline.x(m), l)))
            .collect();
        let train = curves
            .rounds
            .iter()
            .filter_map(|m| m.train_loss.map(|l| (timeline.x(m), l)))
            .collect();
        let (test_name, train_name) = if runs.len() == 1 {
            ("test loss".to_owned(), "train loss (clients)".to_owned())
        } else {
            (
                format!("{} test", curves.label),
                format!("{} train", curves.label),
            )
        };
        figure = figure
            .series(Series::new(test_name, test).colour(index))
            .series(Series::new(train_name, train).dashed().colour(index));
    }
    if figure.is_empty() {
        figure = figure.note("no round completed yet");
    }
    figure
}

/// Plots the uplink and downlink bytes per round as sent (solid) and as
/// they would have been uncompressed (dashed).
pub fn bytes_per_round(rounds: &[RoundMetrics]) -> Figure {
    let series = |name: &str, value: fn(&RoundMetrics) -> u64| {
        Series::new(
            name,
            rounds
                .iter()
                .map(|m| (f64::from(m.round), value(m) as f64))
                .collect(),
        )
    };
    let mut figure = Figure::new(
        "bytes-round",
        "Bytes per round",
        Timeline::Round.axis(),
        Axis::new("bytes per round", TickFormat::Bytes),
    )
    .series(series("uplink", |m| m.bytes_up).colour(0))
    .series(series("downlink", |m| m.bytes_down).colour(1))
    .series(
        series("uplink uncompressed", |m| m.bytes_up_uncompressed)
            .dashed()
            .colour(0),
    )
    .series(
        series("downlink uncompressed", |m| m.bytes_down_uncompressed)
            .dashed()
            .colour(1),
    );
    if let Some(ratio) = uplink_ratio(rounds) {
        figure = figure.note(format!(
            "uplink compression {ratio:.2}x (uncompressed / sent)"
        ));
    } else if figure.is_empty() {
        figure = figure.note("no round completed yet");
    }
    figure
}

/// Computes the ratio of uncompressed to sent uplink bytes over the whole
/// run (updates are what clients compress). Returns `None` when either
/// total is 0.
pub fn uplink_ratio(rounds: &[RoundMetrics]) -> Option<f64> {
    let sent: u64 = rounds.iter().map(|m| m.bytes_up).sum();
    let uncompressed: u64 = rounds.iter().map(|m| m.bytes_up_uncompressed).sum();
    (sent > 0 && uncompressed > 0).then(|| uncompressed as f64 / sent as f64)
}

/// Plots the cumulative bytes sent and received since the start, by round.
pub fn cumulative_bytes(rounds: &[RoundMetrics]) -> Figure {
    let mut up = 0u64;
    let mut down = 0u64;
    let mut up_points = Vec::new();
    let mut down_points = Vec::new();
    let mut total_points = Vec::new();
    for m in rounds {
        up += m.bytes_up;
        down += m.bytes_down;
        let x = f64::from(m.round);
        up_points.push((x, up as f64));
        down_points.push((x, down as f64));
        total_points.push((x, (up + down) as f64));
    }
    let mut figure = Figure::new(
        "bytes-total",
        "Cumulative bytes",
        Timeline::Round.axis(),
        Axis::new("bytes since start", TickFormat::Bytes),
    )
    .series(Series::new("uplink", up_points).colour(0))
    .series(Series::new("downlink", down_points).colour(1))
    .series(Series::new("total", total_points).colour(6));
    if !rounds.is_empty() {
        figure = figure.note(format!("total {}", units::bytes(up + down)));
    }
    figure
}

/// Plots the ε spent by round against the budget. When `stopped_on_budget`
/// is set, a vertical line marks the last round. A run without differential
/// privacy gets an empty figure with a note that privacy is off.
pub fn privacy(
    header: Option<&RunHeader>,
    rounds: &[RoundMetrics],
    stopped_on_budget: bool,
) -> Figure {
    let points: Vec<(f64, f64)> = rounds
        .iter()
        .filter_map(|m| m.privacy.as_ref().map(|p| (f64::from(m.round), p.epsilon)))
        .collect();
    let mut figure = Figure::new(
        "privacy",
        "Privacy spent (ε)",
        Timeline::Round.axis(),
        Axis::new("ε spent", TickFormat::Number),
    )
    .series(Series::new("ε", points));
    let settings = header.and_then(|h| h.privacy.as_ref());
    let last = rounds.iter().rev().find_map(|m| m.privacy.as_ref());
    match (settings, last) {
        (None, None) => figure.note("differential privacy is off for this run"),
        (settings, last) => {
            let budget = last
                .and_then(|p| p.epsilon_budget)
                .or(settings.and_then(|s| s.epsilon_budget));
            if let Some(budget) = budget {
                figure = figure
                    .horizontal_rule(budget, format!("budget ε = {}", units::epsilon(budget)));
            }
            if stopped_on_budget && let Some(round) = rounds.last() {
                figure = figure.vertical_rule(f64::from(round.round), "stopped on budget");
            }
            let delta = last.map(|p| p.delta).or(settings.map(|s| s.delta));
            let noise = last
                .map(|p| p.noise_multiplier)
                .or(settings.map(|s| s.noise_multiplier));
            let clip = last.map(|p| p.clip_norm).or(settings.map(|s| s.clip_norm));
            if let (Some(delta), Some(noise), Some(clip)) = (delta, noise, clip) {
                figure = figure.note(format!(
                    "δ = {}, noise multiplier z = {noise}, clipping norm C = {clip}",
                    units::delta(delta)
                ));
            }
            figure
        }
    }
}

/// Plots the clients sampled, completed, late and disconnected per round.
pub fn participation(rounds: &[RoundMetrics]) -> Figure {
    let series = |name: &str, value: fn(&RoundMetrics) -> usize| {
        Series::new(
            name,
            rounds
                .iter()
                .map(|m| (f64::from(m.round), value(m) as f64))
                .collect(),
        )
    };
    let mut figure = Figure::new(
        "participation",
        "Participation per round",
        Timeline::Round.axis(),
        Axis::new("clients", TickFormat::Integer),
    )
    .series(series("sampled", |m| m.sampled))
    .series(series("completed", |m| m.completed))
    .series(series("late", |m| m.late))
    .series(series("disconnected", RoundMetrics::disconnected));
    if figure.is_empty() {
        figure = figure.note("no round completed yet");
    }
    figure
}

#[cfg(test)]
mod tests {
    use starling_runlog::PrivacyRound;

    use super::*;
    use crate::render;

    fn rounds() -> Vec<RoundMetrics> {
        (1..=4)
            .map(|round| RoundMetrics {
                round,
                wall_time_s: f64::from(round) * 1.5,
                test_accuracy: (round % 2 == 0).then(|| f64::from(80 + round) / 100.0),
                bytes_up: 1000 * u64::from(round),
                bytes_down: 2000,
                bytes_up_uncompressed: 4000 * u64::from(round),
                bytes_down_uncompressed: 2000,
                sampled: 4,
                completed: 3,
                dropped: 1,
                late: 1,
                ..RoundMetrics::default()
            })
            .collect()
    }

    #[test]
    fn accuracy_point_per_evaluated_round() {
        let rounds = rounds();
        let figure = accuracy(
            &[Curves {
                label: "run",
                rounds: &rounds,
            }],
            Timeline::Round,
        );
        assert_eq!(figure.series[0].points, vec![(2.0, 0.82), (4.0, 0.84)]);
        let by_time = accuracy(
            &[Curves {
                label: "run",
                rounds: &rounds,
            }],
            Timeline::WallClock,
        );
        assert_eq!(by_time.series[0].points, vec![(3.0, 0.82), (6.0, 0.84)]);
        assert!(render(&by_time).contains(">wall clock since start (s)</text>"));
    }

    #[test]
    fn accuracy_series_per_compared_run() {
        let a = rounds();
        let b = rounds();
        let figure = accuracy(
            &[
                Curves {
                    label: "a",
                    rounds: &a,
                },
                Curves {
                    label: "b",
                    rounds: &b,
                },
            ],
            Timeline::Round,
        );
        assert_eq!(figure.series.len(), 2);
        assert_eq!(figure.series[1].name, "b");
    }

    #[test]
    fn bytes_figures_and_uplink_ratio() {
        let rounds = rounds();
        let figure = bytes_per_round(&rounds);
        assert_eq!(figure.series[0].points[2], (3.0, 3000.0));
        assert_eq!(figure.series[2].points[2], (3.0, 12000.0));
        // Sent 10,000 B up; uncompressed, that would be 40,000 B.
        assert_eq!(uplink_ratio(&rounds), Some(4.0));
        assert_eq!(
            figure.note.as_deref(),
            Some("uplink compression 4.00x (uncompressed / sent)")
        );
        let total = cumulative_bytes(&rounds);
        assert_eq!(total.series[2].points[3], (4.0, 18000.0));
        assert_eq!(total.note.as_deref(), Some("total 17.6 KiB"));
    }

    #[test]
    fn privacy_off_shows_note() {
        let figure = privacy(Some(&RunHeader::default()), &rounds(), false);
        assert!(figure.is_empty());
        assert_eq!(
            figure.note.as_deref(),
            Some("differential privacy is off for this run")
        );
    }

    #[test]
    fn privacy_epsilon_against_budget() {
        let mut rounds = rounds();
        for (i, m) in rounds.iter_mut().enumerate() {
            m.privacy = Some(PrivacyRound {
                epsilon: 0.5 * (i + 1) as f64,
                delta: 1e-5,
                epsilon_budget: Some(2.0),
                noise_multiplier: 1.1,
                clip_norm: 1.0,
                sampling_rate: 0.1,
                clients_clipped: 0,
            });
        }
        let figure = privacy(None, &rounds, true);
        assert_eq!(figure.series[0].points.last(), Some(&(4.0, 2.0)));
        assert_eq!(figure.rules.len(), 2);
        let svg = render(&figure);
        assert!(svg.contains("budget ε = 2.00"), "{svg}");
        assert!(svg.contains("stopped on budget"));
        assert!(svg.contains("δ = 1e-5, noise multiplier z = 1.1, clipping norm C = 1"));
    }

    #[test]
    fn participation_splits_late_from_disconnected() {
        let figure = participation(&rounds());
        assert_eq!(figure.series[2].points[0], (1.0, 1.0));
        assert_eq!(figure.series[3].points[0], (1.0, 0.0));
    }
}
