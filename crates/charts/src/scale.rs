//! Linear scales and "nice" tick values (1, 2 or 5 times a power of ten).

/// Maps a data interval onto a pixel interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    domain: (f64, f64),
    range: (f64, f64),
}

impl Scale {
    /// A scale from `domain` to `range`; an empty domain is widened by one
    /// unit on each side so that every value still maps to a finite pixel.
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Self {
        let (lo, hi) = domain;
        let domain = if hi > lo {
            (lo, hi)
        } else {
            (lo - 1.0, lo + 1.0)
        };
        Self { domain, range }
    }

    /// The pixel of `value`.
    pub fn map(&self, value: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        r0 + (value - d0) / (d1 - d0) * (r1 - r0)
    }

    /// The data interval.
    pub fn domain(&self) -> (f64, f64) {
        self.domain
    }
}

/// A step of 1, 2 or 5 times a power of ten that cuts `span` into about
/// `count` parts.
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

/// The domain `(lo, hi)` widened outward to whole steps, and the ticks in
/// it, about `count` of them.
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
    fn maps_linearly_and_inverts_a_pixel_axis() {
        let scale = Scale::new((0.0, 10.0), (300.0, 100.0));
        assert_eq!(scale.map(0.0), 300.0);
        assert_eq!(scale.map(10.0), 100.0);
        assert_eq!(scale.map(2.5), 250.0);
    }

    #[test]
    fn an_empty_domain_still_maps_to_finite_pixels() {
        let scale = Scale::new((5.0, 5.0), (0.0, 100.0));
        assert_eq!(scale.map(5.0), 50.0);
        assert_eq!(scale.domain(), (4.0, 6.0));
    }

    #[test]
    fn steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(nice_step(10.0, 5), 2.0);
        assert_eq!(nice_step(1.0, 5), 0.2);
        assert_eq!(nice_step(7.0, 5), 2.0);
        assert_eq!(nice_step(30.0, 5), 10.0);
        assert_eq!(nice_step(6_000_000.0, 5), 2_000_000.0);
        assert_eq!(nice_step(0.0, 5), 1.0);
    }

    #[test]
    fn ticks_cover_the_data_on_whole_steps() {
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
    fn a_single_value_gets_a_domain_around_it() {
        let ((lo, hi), ticks) = nice_ticks(3.0, 3.0, 4);
        assert!(lo < 3.0 && hi > 3.0);
        assert!(ticks.len() >= 2);
    }
}
