//! SVG renderer that writes a [`Figure`] as a standalone document. Every
//! colour and font is an attribute, so the file looks the same in a
//! browser, an editor or a paper. Each data point is a `circle` with its
//! values in `data-x` and `data-y`, which is how tests read a chart back.

use std::fmt::Write;

use crate::figure::{Figure, TickFormat};
use crate::scale::{Scale, nice_ticks};

/// Colours of the series, in order (the Okabe–Ito palette, readable with
/// the common colour-vision deficiencies).
pub const PALETTE: [&str; 7] = [
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000",
];

const LEFT: f64 = 72.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 52.0;
const BOTTOM: f64 = 48.0;
const FONT: &str = "font-family=\"system-ui, sans-serif\"";

/// Renders `figure` as SVG text.
pub fn render(figure: &Figure) -> String {
    let (w, h) = (figure.width, figure.height);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"chart-{}\" \
         viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">",
        escape(&figure.id),
        escape(&figure.title),
    );
    let _ = write!(
        out,
        "<title>{}</title><rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\
         <text x=\"{LEFT}\" y=\"20\" {FONT} font-size=\"15\" font-weight=\"600\" fill=\"#222\">{}</text>",
        escape(&figure.title),
        escape(&figure.title)
    );
    let rows = legend_rows(figure, w - RIGHT - LEFT);
    // Each legend row past the first pushes the plot down.
    let top = TOP + LEGEND_ROW * rows.len().saturating_sub(1) as f64;
    let plot = (LEFT, top, w - RIGHT, h - BOTTOM);
    if figure.is_empty() {
        let note = figure.note.as_deref().unwrap_or("no data yet");
        frame(&mut out, plot);
        let _ = write!(
            out,
            "<text class=\"note\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" {FONT} font-size=\"14\" fill=\"#555\">{}</text></svg>",
            (plot.0 + plot.2) / 2.0,
            (plot.1 + plot.3) / 2.0,
            escape(note)
        );
        return out;
    }
    if let Some(note) = &figure.note {
        let _ = write!(
            out,
            "<text class=\"note\" x=\"{LEFT}\" y=\"38\" {FONT} font-size=\"12\" fill=\"#555\">{}</text>",
            escape(note)
        );
    }

    let (x_lo, x_hi) = data_range(figure, true);
    let (y_lo, y_hi) = data_range(figure, false);
    let (x_domain, x_ticks) = axis_ticks(figure.x.range, x_lo, x_hi, 6, figure.x.format);
    let (y_domain, y_ticks) = axis_ticks(figure.y.range, y_lo, y_hi, 5, figure.y.format);
    let x_scale = Scale::new(x_domain, (plot.0, plot.2));
    let y_scale = Scale::new(y_domain, (plot.3, plot.1));

    grid(
        &mut out,
        figure,
        plot,
        (&x_scale, &x_ticks),
        (&y_scale, &y_ticks),
    );
    frame(&mut out, plot);
    for rule in &figure.rules {
        let (x1, y1, x2, y2) = if rule.horizontal {
            let y = y_scale.map(rule.at);
            (plot.0, y, plot.2, y)
        } else {
            let x = x_scale.map(rule.at);
            (x, plot.1, x, plot.3)
        };
        let _ = write!(
            out,
            "<g class=\"rule\"><line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" \
             stroke=\"#b00020\" stroke-width=\"1.5\" stroke-dasharray=\"2 3\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" {FONT} font-size=\"11\" fill=\"#b00020\"{}>{}</text></g>",
            if rule.horizontal {
                plot.2 - 4.0
            } else {
                x2 + 4.0
            },
            if rule.horizontal {
                y1 - 4.0
            } else {
                plot.1 + 12.0
            },
            if rule.horizontal {
                " text-anchor=\"end\""
            } else {
                ""
            },
            escape(&rule.label)
        );
    }
    for (index, series) in figure.series.iter().enumerate() {
        let colour = PALETTE[series.colour.unwrap_or(index) % PALETTE.len()];
        let mut points: Vec<(f64, f64)> = series
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let _ = write!(
            out,
            "<g class=\"series\" data-series=\"{}\">",
            escape(&series.name)
        );
        let path: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", x_scale.map(x), y_scale.map(y)))
            .collect();
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{} points=\"{}\"/>",
            if series.dashed {
                " stroke-dasharray=\"6 4\""
            } else {
                ""
            },
            path.join(" ")
        );
        for &(x, y) in &points {
            let _ = write!(
                out,
                "<circle class=\"point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{colour}\" data-x=\"{x}\" data-y=\"{y}\"/>",
                x_scale.map(x),
                y_scale.map(y)
            );
        }
        out.push_str("</g>");
    }
    legend(&mut out, figure, &rows, plot);
    out.push_str("</svg>");
    out
}

fn data_range(figure: &Figure, x_axis: bool) -> (f64, f64) {
    let values = figure
        .finite_points()
        .map(|(x, y)| if x_axis { x } else { y });
    let rules = figure
        .rules
        .iter()
        .filter(|r| r.horizontal != x_axis && r.at.is_finite())
        .map(|r| r.at);
    values
        .chain(rules)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

fn axis_ticks(
    fixed: Option<(f64, f64)>,
    lo: f64,
    hi: f64,
    count: usize,
    format: TickFormat,
) -> ((f64, f64), Vec<f64>) {
    let (lo, hi) = fixed.unwrap_or((lo, hi));
    // A byte axis without a fixed range starts at zero, so that heights
    // compare like bars.
    let lo = if matches!(format, TickFormat::Bytes) && fixed.is_none() {
        lo.min(0.0)
    } else {
        lo
    };
    // Byte ticks fall on round numbers of the unit the axis shows.
    let unit = match format {
        TickFormat::Bytes => starling_runlog::units::byte_unit(hi.abs().max(lo.abs())).1,
        _ => 1.0,
    };
    let (domain, ticks) = nice_ticks(lo / unit, hi / unit, count);
    let domain = (domain.0 * unit, domain.1 * unit);
    let ticks: Vec<f64> = ticks.into_iter().map(|t| t * unit).collect();
    let ticks = if matches!(format, TickFormat::Integer) {
        let mut whole: Vec<f64> = ticks.into_iter().filter(|t| t.fract() == 0.0).collect();
        whole.dedup();
        whole
    } else {
        ticks
    };
    match fixed {
        // Nice ticks may fall outside a fixed range that is not a multiple
        // of the step; those would be drawn outside the plot.
        Some(range) => {
            let slack = (range.1 - range.0).abs() * 1e-9;
            let inside = ticks
                .into_iter()
                .filter(|&t| t >= range.0 - slack && t <= range.1 + slack)
                .collect();
            (range, inside)
        }
        None => (domain, ticks),
    }
}

fn grid(
    out: &mut String,
    figure: &Figure,
    plot: (f64, f64, f64, f64),
    (x_scale, x_ticks): (&Scale, &[f64]),
    (y_scale, y_ticks): (&Scale, &[f64]),
) {
    let step = |ticks: &[f64]| {
        if ticks.len() > 1 {
            ticks[1] - ticks[0]
        } else {
            1.0
        }
    };
    let max = |ticks: &[f64]| ticks.iter().fold(0.0f64, |m, t| m.max(t.abs()));
    out.push_str("<g class=\"grid\">");
    for &tick in y_ticks {
        let y = y_scale.map(tick);
        let _ = write!(
            out,
            "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/>\
             <text class=\"y-tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" {FONT} font-size=\"11\" fill=\"#444\">{}</text>",
            plot.0,
            plot.2,
            plot.0 - 6.0,
            y + 4.0,
            escape(&figure.y.format.label(tick, step(y_ticks), max(y_ticks)))
        );
    }
    for &tick in x_ticks {
        let x = x_scale.map(tick);
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#eeeeee\"/>\
             <text class=\"x-tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" {FONT} font-size=\"11\" fill=\"#444\">{}</text>",
            plot.1,
            plot.3,
            plot.3 + 16.0,
            escape(&figure.x.format.label(tick, step(x_ticks), max(x_ticks)))
        );
    }
    let _ = write!(
        out,
        "<text class=\"x-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" {FONT} font-size=\"12\" fill=\"#222\">{}</text>\
         <text class=\"y-label\" transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\" {FONT} font-size=\"12\" fill=\"#222\">{}</text></g>",
        (plot.0 + plot.2) / 2.0,
        plot.3 + 38.0,
        escape(&figure.x.label),
        (plot.1 + plot.3) / 2.0,
        escape(&figure.y.label)
    );
}

fn frame(out: &mut String, (x0, y0, x1, y1): (f64, f64, f64, f64)) {
    let _ = write!(
        out,
        "<rect class=\"frame\" x=\"{x0}\" y=\"{y0}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"#999\"/>",
        x1 - x0,
        y1 - y0
    );
}

/// Height of one legend row.
const LEGEND_ROW: f64 = 14.0;

/// Estimates the width in pixels of a legend entry: a line sample, a gap
/// and the name.
fn legend_width(name: &str) -> f64 {
    26.0 + 6.5 * name.chars().count() as f64
}

/// Splits the legend entries (series indices) into rows that fit `width`,
/// first row on top. Returns no rows for fewer than two series.
fn legend_rows(figure: &Figure, width: f64) -> Vec<Vec<usize>> {
    if figure.series.len() < 2 {
        return Vec::new();
    }
    let mut rows: Vec<Vec<usize>> = vec![Vec::new()];
    let mut used = 0.0;
    for (index, series) in figure.series.iter().enumerate() {
        let entry = legend_width(&series.name);
        if used + entry > width && !rows[rows.len() - 1].is_empty() {
            rows.push(Vec::new());
            used = 0.0;
        }
        used += entry;
        let last = rows.len() - 1;
        rows[last].push(index);
    }
    rows
}

/// Writes the legend rows right-aligned above the plot, with the last row
/// just above the frame.
fn legend(out: &mut String, figure: &Figure, rows: &[Vec<usize>], plot: (f64, f64, f64, f64)) {
    if rows.is_empty() {
        return;
    }
    out.push_str("<g class=\"legend\">");
    for (row_index, row) in rows.iter().enumerate() {
        let y = plot.1 - 8.0 - LEGEND_ROW * (rows.len() - 1 - row_index) as f64;
        let mut x = plot.2;
        for &index in row.iter().rev() {
            let series = &figure.series[index];
            let colour = PALETTE[series.colour.unwrap_or(index) % PALETTE.len()];
            x -= legend_width(&series.name);
            let _ = write!(
                out,
                "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{colour}\" stroke-width=\"2\"{}/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" {FONT} font-size=\"11\" fill=\"#222\">{}</text>",
                x + 16.0,
                if series.dashed {
                    " stroke-dasharray=\"4 3\""
                } else {
                    ""
                },
                x + 20.0,
                y + 4.0,
                escape(&series.name)
            );
        }
    }
    out.push_str("</g>");
}

/// Escapes text for SVG content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figure::{Axis, Series};

    fn accuracy_figure(points: Vec<(f64, f64)>) -> Figure {
        Figure::new(
            "accuracy",
            "Test accuracy",
            Axis::new("round", TickFormat::Integer),
            Axis::new("accuracy", TickFormat::Percent).with_range(0.0, 1.0),
        )
        .series(Series::new("global model", points))
    }

    #[test]
    fn fixed_range_draws_no_tick_outside_it() {
        let figure = Figure::new(
            "late",
            "Late rounds",
            Axis::new("round", TickFormat::Integer),
            Axis::new("accuracy", TickFormat::Percent).with_range(0.33, 0.81),
        )
        .series(Series::new("a", vec![(1.0, 0.4), (2.0, 0.8)]));
        let svg = render(&figure);
        let labels: Vec<&str> = svg
            .split("class=\"y-tick\"")
            .skip(1)
            .filter_map(|rest| rest.split('>').nth(1)?.split('<').next())
            .collect();
        assert!(!labels.is_empty());
        assert!(!labels.contains(&"30%"), "{labels:?}");
        assert!(!labels.contains(&"90%"), "{labels:?}");
    }

    #[test]
    fn render_circle_per_finite_point() {
        let svg = render(&accuracy_figure(vec![
            (1.0, 0.9),
            (2.0, f64::NAN),
            (3.0, 0.95),
        ]));
        assert_eq!(svg.matches("<circle class=\"point\"").count(), 2);
        assert!(svg.contains("data-x=\"3\" data-y=\"0.95\""), "{svg}");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn render_points_inside_plot_area() {
        let svg = render(&accuracy_figure(vec![(1.0, 0.0), (10.0, 1.0)]));
        // y = 0 maps to the bottom edge (300 - 48) and y = 1 to the top
        // edge (52).
        assert!(svg.contains("cy=\"252.0\""), "{svg}");
        assert!(svg.contains("cy=\"52.0\""), "{svg}");
    }

    #[test]
    fn render_empty_figure_shows_note() {
        let figure = accuracy_figure(Vec::new()).note("differential privacy is off");
        let svg = render(&figure);
        assert!(svg.contains(">differential privacy is off</text>"));
        assert!(!svg.contains("<circle"));
    }

    #[test]
    fn render_escapes_text() {
        let figure = accuracy_figure(vec![(1.0, 0.5)]);
        let figure = Figure {
            title: "a<b & \"c\"".to_owned(),
            ..figure
        };
        let svg = render(&figure);
        assert!(svg.contains("a&lt;b &amp; &quot;c&quot;"));
        assert!(!svg.contains("a<b"));
    }

    #[test]
    fn render_percent_ticks_and_labels() {
        let svg = render(&accuracy_figure(vec![(1.0, 0.5), (5.0, 0.9)]));
        assert!(svg.contains(">100%</text>"), "{svg}");
        assert!(svg.contains(">round</text>"));
        assert!(svg.contains(">accuracy</text>"));
    }

    #[test]
    fn byte_ticks_round_in_shown_unit() {
        let figure = Figure::new(
            "bytes",
            "Bytes",
            Axis::new("round", TickFormat::Integer),
            Axis::new("bytes", TickFormat::Bytes),
        )
        .series(Series::new(
            "up",
            vec![(1.0, 2_390_901.0), (2.0, 2_390_901.0)],
        ));
        let svg = render(&figure);
        for label in [
            "0.0 MiB", "0.5 MiB", "1.0 MiB", "1.5 MiB", "2.0 MiB", "2.5 MiB",
        ] {
            assert!(
                svg.contains(&format!(">{label}</text>")),
                "{label} in {svg}"
            );
        }
    }

    #[test]
    fn long_legend_wraps_and_lowers_plot() {
        let mut figure = accuracy_figure(vec![(1.0, 0.5)]);
        for name in [
            "20261204-235430-s1-1e68 test",
            "20261204-235430-s1-1e68 train",
            "20261204-235436-s1-0493 test",
        ] {
            figure = figure.series(Series::new(name, vec![(1.0, 0.6)]));
        }
        let rows = legend_rows(&figure, 548.0);
        assert_eq!(rows, vec![vec![0, 1, 2], vec![3]]);
        let svg = render(&figure);
        // The plot frame starts one legend row lower.
        assert!(svg.contains("class=\"frame\" x=\"72\" y=\"66\""), "{svg}");
    }

    #[test]
    fn legend_for_two_series() {
        let figure = accuracy_figure(vec![(1.0, 0.5)])
            .series(Series::new("other run", vec![(1.0, 0.6)]).dashed());
        let svg = render(&figure);
        assert!(svg.contains("class=\"legend\""));
        assert!(svg.contains("stroke-dasharray=\"6 4\""));
    }
}
