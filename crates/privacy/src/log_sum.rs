//! Sums of positive terms kept in log space, so terms such as
//! e^{k²/(2σ²)} at order 1024 neither overflow nor lose the small ones.

/// Running log-sum-exp: the natural logarithm of a sum of positive terms,
/// each given by its natural logarithm.
///
/// The sum is stored as `exp(max) * (scaled + compensation)`, where `max`
/// is the largest logarithm added so far, so `scaled` stays in [1, terms
/// added]. `compensation` collects the rounding error of each addition
/// (Neumaier's variant of Kahan summation), because the RDP series adds up
/// to a million terms to a sum near 1 whose excess over 1 is the result.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogSum {
    max: f64,
    scaled: f64,
    compensation: f64,
}

impl LogSum {
    /// Creates an empty sum, whose logarithm is -∞.
    pub(crate) fn new() -> Self {
        Self {
            max: f64::NEG_INFINITY,
            scaled: 0.0,
            compensation: 0.0,
        }
    }

    /// Adds the term e^{ln_term}. A NaN term makes the sum NaN, and a term
    /// of -∞ (zero) leaves it unchanged.
    pub(crate) fn add(&mut self, ln_term: f64) {
        if ln_term == f64::NEG_INFINITY {
            return;
        }
        if ln_term > self.max {
            let rescale = (self.max - ln_term).exp();
            self.scaled *= rescale;
            self.compensation *= rescale;
            self.max = ln_term;
            self.add_scaled(1.0);
        } else {
            self.add_scaled((ln_term - self.max).exp());
        }
    }

    /// Returns the natural logarithm of the sum, or -∞ when nothing has been
    /// added.
    pub(crate) fn ln(&self) -> f64 {
        let scaled = self.scaled + self.compensation;
        if scaled == 0.0 {
            f64::NEG_INFINITY
        } else {
            self.max + scaled.ln()
        }
    }

    fn add_scaled(&mut self, value: f64) {
        let total = self.scaled + value;
        self.compensation += if self.scaled.abs() >= value.abs() {
            (self.scaled - total) + value
        } else {
            (value - total) + self.scaled
        };
        self.scaled = total;
    }
}

/// Returns ln(e^a - e^b) for a >= b, and NaN when b > a because the
/// difference would be negative.
pub(crate) fn ln_sub(a: f64, b: f64) -> f64 {
    if b == f64::NEG_INFINITY {
        return a;
    }
    a + (-(b - a).exp()).ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sum_is_zero() {
        assert_eq!(LogSum::new().ln(), f64::NEG_INFINITY);
    }

    #[test]
    fn sum_matches_direct_sum() {
        let terms = [0.5_f64, 3.0, 1e-3, 7.25];
        let mut sum = LogSum::new();
        for term in terms {
            sum.add(term.ln());
        }
        let direct: f64 = terms.iter().sum();
        assert!((sum.ln() - direct.ln()).abs() < 1e-15);
    }

    #[test]
    fn huge_terms_do_not_overflow() {
        let mut sum = LogSum::new();
        sum.add(2000.0);
        sum.add(2000.0);
        assert!((sum.ln() - (2000.0 + 2.0_f64.ln())).abs() < 1e-12);
    }

    #[test]
    fn zero_term_is_ignored() {
        let mut sum = LogSum::new();
        sum.add(1.0);
        sum.add(f64::NEG_INFINITY);
        assert_eq!(sum.ln(), 1.0);
    }

    #[test]
    fn nan_term_makes_sum_nan() {
        let mut sum = LogSum::new();
        sum.add(1.0);
        sum.add(f64::NAN);
        assert!(sum.ln().is_nan());
    }

    #[test]
    fn ln_sub_matches_direct_difference() {
        let (a, b) = (2.5_f64, -1.0_f64);
        let expected = (a.exp() - b.exp()).ln();
        assert!((ln_sub(a, b) - expected).abs() < 1e-15);
    }

    #[test]
    fn ln_sub_of_zero_term_is_unchanged() {
        assert_eq!(ln_sub(0.7, f64::NEG_INFINITY), 0.7);
    }

    #[test]
    fn ln_sub_of_larger_term_is_nan() {
        assert!(ln_sub(1.0, 2.0).is_nan());
    }
}
