//! Chart model: titled axes with a tick format, line series, and reference
//! lines (a budget, the round a run stopped on).

use starling_runlog::units;

/// Format of the tick labels on an axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TickFormat {
    /// Plain numbers with as many decimals as the step needs.
    Number,
    /// Whole numbers (rounds, clients).
    Integer,
    /// Fractions written as percentages.
    Percent,
    /// Bytes in one binary unit chosen from the largest tick.
    Bytes,
    /// Seconds.
    Seconds,
}

impl TickFormat {
    /// Formats the tick label of `value` on an axis whose ticks are `step`
    /// apart and whose largest magnitude is `max`.
    pub fn label(self, value: f64, step: f64, max: f64) -> String {
        match self {
            Self::Integer => format!("{value:.0}"),
            Self::Number => format!("{value:.*}", decimals_for(step)),
            Self::Percent => format!("{:.*}%", decimals_for(step * 100.0), value * 100.0),
            Self::Seconds => format!("{value:.*}", decimals_for(step)),
            Self::Bytes => {
                let (unit, size) = units::byte_unit(max);
                let scaled = value / size;
                format!("{scaled:.*} {unit}", decimals_for(step / size))
            }
        }
    }
}

/// Returns the number of decimals needed to tell ticks `step` apart.
fn decimals_for(step: f64) -> usize {
    if step <= 0.0 || !step.is_finite() || step >= 1.0 {
        return 0;
    }
    (-step.log10().floor()).clamp(0.0, 10.0) as usize
}

/// One axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Axis title with its unit, e.g. `round` or `wall clock (s)`.
    pub label: String,
    /// Tick label format.
    pub format: TickFormat,
    /// A fixed range instead of one fitted to the data.
    pub range: Option<(f64, f64)>,
}

impl Axis {
    /// Creates an axis fitted to the data.
    pub fn new(label: impl Into<String>, format: TickFormat) -> Self {
        Self {
            label: label.into(),
            format,
            range: None,
        }
    }

    /// Sets a fixed range from `lo` to `hi`.
    pub fn with_range(mut self, lo: f64, hi: f64) -> Self {
        self.range = Some((lo, hi));
        self
    }
}

/// A line through points, drawn in order of x.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Name in the legend.
    pub name: String,
    /// Data points. Points with a non-finite coordinate are skipped.
    pub points: Vec<(f64, f64)>,
    /// Dashed line (e.g. "uncompressed" next to "actual").
    pub dashed: bool,
    /// Colour index into the palette. When `None`, the series' position in
    /// the figure is used.
    pub colour: Option<usize>,
}

impl Series {
    /// Creates a solid series.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            dashed: false,
            colour: None,
        }
    }

    /// Makes the line dashed.
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }

    /// Sets the palette colour to `index`.
    pub fn colour(mut self, index: usize) -> Self {
        self.colour = Some(index);
        self
    }
}

/// A reference line across the plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// True for a horizontal line (at a y value), false for a vertical one
    /// (at an x value).
    pub horizontal: bool,
    /// Position of the line in data units.
    pub at: f64,
    /// Label of the line.
    pub label: String,
}

/// A chart: title, axes, series and reference lines.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// Title above the plot.
    pub title: String,
    /// Identifier for the page and tests (`accuracy-round`).
    pub id: String,
    /// Horizontal axis.
    pub x: Axis,
    /// Vertical axis.
    pub y: Axis,
    /// Lines.
    pub series: Vec<Series>,
    /// Reference lines.
    pub rules: Vec<Rule>,
    /// Text shown in place of the plot when there is nothing to draw, or
    /// under the title otherwise.
    pub note: Option<String>,
    /// Width in pixels (the SVG scales to its container).
    pub width: f64,
    /// Height in pixels.
    pub height: f64,
}

impl Figure {
    /// Creates an empty chart of 640x300 pixels.
    pub fn new(id: impl Into<String>, title: impl Into<String>, x: Axis, y: Axis) -> Self {
        Self {
            title: title.into(),
            id: id.into(),
            x,
            y,
            series: Vec::new(),
            rules: Vec::new(),
            note: None,
            width: 640.0,
            height: 300.0,
        }
    }

    /// Adds a series.
    pub fn series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Adds a horizontal reference line at `y`.
    pub fn horizontal_rule(mut self, y: f64, label: impl Into<String>) -> Self {
        self.rules.push(Rule {
            horizontal: true,
            at: y,
            label: label.into(),
        });
        self
    }

    /// Adds a vertical reference line at `x`.
    pub fn vertical_rule(mut self, x: f64, label: impl Into<String>) -> Self {
        self.rules.push(Rule {
            horizontal: false,
            at: x,
            label: label.into(),
        });
        self
    }

    /// Sets the note.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// True when no series has a finite point.
    pub fn is_empty(&self) -> bool {
        self.finite_points().next().is_none()
    }

    /// Iterates over every finite point of every series.
    pub(crate) fn finite_points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_per_format() {
        assert_eq!(TickFormat::Integer.label(10.0, 2.0, 10.0), "10");
        assert_eq!(TickFormat::Number.label(0.4, 0.2, 1.0), "0.4");
        assert_eq!(TickFormat::Number.label(0.05, 0.05, 1.0), "0.05");
        assert_eq!(TickFormat::Percent.label(0.9, 0.1, 1.0), "90%");
        assert_eq!(TickFormat::Percent.label(0.955, 0.005, 1.0), "95.5%");
        assert_eq!(
            TickFormat::Bytes.label(4.0 * 1048576.0, 2.0 * 1048576.0, 6.0 * 1048576.0),
            "4 MiB"
        );
        assert_eq!(
            TickFormat::Bytes.label(1572864.0, 524288.0, 2.0 * 1048576.0),
            "1.5 MiB"
        );
        assert_eq!(TickFormat::Bytes.label(512.0, 256.0, 1000.0), "512 B");
    }

    #[test]
    fn figure_of_non_finite_points_is_empty() {
        let figure = Figure::new(
            "f",
            "F",
            Axis::new("x", TickFormat::Number),
            Axis::new("y", TickFormat::Number),
        )
        .series(Series::new("s", vec![(1.0, f64::NAN)]));
        assert!(figure.is_empty());
    }
}
