//! Linear scales and "nice" tick values (1, 2 or 5 times a power of ten).

/// Linear map from a data interval onto a pixel interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    domain: (f64, f64),
    range: (f64, f64),
}

impl Scale {
    /// Creates a scale from `domain` to `range`. An empty or reversed domain
    /// becomes one unit on each side of its start, so that every value
    /// still maps to a finite pixel.
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Self {
        let (lo, hi) = domain;
        let domain = if hi > lo {
            (lo, hi)
        } else {
            (lo - 1.0, lo + 1.0)
        };
        Self { domain, range }
    }

    /// Returns the pixel position of `value`.
    pub fn map(&self, value: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        r0 + (value - d0) / (d1 - d0) * (r1 - r0)
    }

    /// Returns the data interval, after any widening by [`Scale::new`].
    pub fn domain(&self) -> (f64, f64) {
        self.domain
    }
}

/// Returns a step of 1, 2 or 5 times a power of ten that cuts `span` into
/// about `count` parts, or 1 when `span` is not positive and finite.
pub fn nice_step(span: f64, count: usize) -> f64 {
    if span <= 0.0 || !span.is_finite() {
        return 1.0;
    }
    let raw = span / count.max(1) as f64;
    let power = 10f64.powf(raw.log10().floor());
    let fraction = raw / power;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// Widens the domain `(lo, hi)` outward to whole steps and returns it with
/// its ticks, about `count` of them. An empty or reversed domain first
/// becomes one unit on each side of `lo`.
pub fn nice_ticks(lo: f64, hi: f64, count: usize) -> ((f64, f64), Vec<f64>) {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, lo + 1.0)
    };
    let step = nice_step(hi - lo, count);
    let start = (lo / step).floor() * step;
    let end = (hi / step).ceil() * step;
    let steps = ((end - start) / step).round() as usize;
    // Rounded to the step's decimals, so 3 x 0.2 is 0.6 and not
    // 0.6000000000000001.
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as i32
    };
    let unit = 10f64.powi(decimals);
    let ticks = (0..=steps)
        .map(|i| ((start + i as f64 * step) * unit).round() / unit)
        .collect();
    ((start, end), ticks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_maps_onto_inverted_axis() {
        let scale = Scale::new((0.0, 10.0), (300.0, 100.0));
        assert_eq!(scale.map(0.0), 300.0);
        assert_eq!(scale.map(10.0), 100.0);
        assert_eq!(scale.map(2.5), 250.0);
    }

    #[test]
    fn scale_of_empty_domain_is_finite() {
        let scale = Scale::new((5.0, 5.0), (0.0, 100.0));
        assert_eq!(scale.map(5.0), 50.0);
        assert_eq!(scale.domain(), (4.0, 6.0));
    }

    #[test]
    fn nice_step_is_one_two_or_five() {
        assert_eq!(nice_step(10.0, 5), 2.0);
        assert_eq!(nice_step(1.0, 5), 0.2);
        assert_eq!(nice_step(7.0, 5), 2.0);
        assert_eq!(nice_step(30.0, 5), 10.0);
        assert_eq!(nice_step(6_000_000.0, 5), 2_000_000.0);
        assert_eq!(nice_step(0.0, 5), 1.0);
    }

    #[test]
    fn nice_ticks_cover_data_on_steps() {
        let ((lo, hi), ticks) = nice_ticks(0.12, 0.97, 5);
        assert_eq!((lo, hi), (0.0, 1.0));
        assert_eq!(ticks, vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        let ((lo, hi), ticks) = nice_ticks(1.0, 10.0, 5);
        assert_eq!((lo, hi), (0.0, 10.0));
        assert_eq!(ticks.len(), 6);
        let (_, ticks) = nice_ticks(0.1, 0.3, 2);
        assert!(ticks.iter().all(|t| (t * 10.0).fract() == 0.0), "{ticks:?}");
    }

    #[test]
    fn nice_ticks_around_single_value() {
        let ((lo, hi), ticks) = nice_ticks(3.0, 3.0, 4);
        assert!(lo < 3.0, "{lo}");
        assert!(hi > 3.0, "{hi}");
        assert!(ticks.len() >= 2);
    }
}
