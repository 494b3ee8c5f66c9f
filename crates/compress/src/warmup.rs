//! Sparsity warm-up (Lin et al. 2018, Deep Gradient Compression): the
//! first rounds of a run keep a larger fraction of each update, shrinking
//! geometrically to the configured fraction.
//!
//! Early updates are the largest and least alike. With error feedback, what
//! a sparse round drops there waits in the residuals for many rounds, since
//! each client is sampled only now and then. Sending more of it while the
//! model changes fastest costs a few dense-ish rounds and leaves the rest
//! of the run at the configured fraction.

use starling_proto::{Sparsification, UplinkCompression};

use crate::CompressError;

/// How many rounds the warm-up lasts and the fraction it starts from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SparsityWarmup {
    rounds: u32,
    start: f64,
}

impl SparsityWarmup {
    /// Creates a warm-up over `rounds` rounds that keeps `start` of the
    /// values in round 1. `rounds` must be at least 1 and `start` in (0, 1].
    pub fn new(rounds: u32, start: f64) -> Result<Self, CompressError> {
        if rounds == 0 {
            return Err(CompressError::InvalidSpec(
                "a warm-up needs at least one round".to_owned(),
            ));
        }
        if !(start > 0.0 && start <= 1.0) {
            return Err(CompressError::InvalidSpec(format!(
                "invalid warm-up start fraction {start}: use a value in (0, 1]"
            )));
        }
        Ok(Self { rounds, start })
    }

    /// Returns how many rounds the warm-up lasts.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// Returns the fraction kept in round 1.
    pub fn start(&self) -> f64 {
        self.start
    }

    /// Returns the fraction to keep in `round` (counted from 1) for a run
    /// whose configured fraction is `target`: `start` in round 1, then a
    /// geometric path that reaches `target` in round `rounds + 1` and stays
    /// there. A start at or below `target`, or a `target` that is not a
    /// number, changes nothing.
    pub fn fraction(&self, target: f64, round: u32) -> f64 {
        if target.is_nan() || target >= self.start || round > self.rounds {
            return target;
        }
        let done = f64::from(round.saturating_sub(1)) / f64::from(self.rounds);
        (self.start * (target / self.start).powf(done)).clamp(target, self.start)
    }

    /// Returns `spec` as it applies in `round`: the sparsifier's fraction
    /// follows [`Self::fraction`]. A spec without a sparsifier is returned
    /// as is.
    pub fn apply(&self, spec: UplinkCompression, round: u32) -> UplinkCompression {
        let sparsification = match spec.sparsification {
            Sparsification::None => Sparsification::None,
            Sparsification::TopK { fraction } => Sparsification::TopK {
                fraction: self.fraction(fraction, round),
            },
            Sparsification::RandK { fraction } => Sparsification::RandK {
                fraction: self.fraction(fraction, round),
            },
        };
        UplinkCompression {
            sparsification,
            ..spec
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_reaches_target_after_warmup() {
        let warmup = SparsityWarmup::new(2, 0.16).unwrap();
        assert_eq!(warmup.fraction(0.01, 1), 0.16);
        // Halfway on a log scale: sqrt(0.16 * 0.01).
        assert!((warmup.fraction(0.01, 2) - 0.04).abs() < 1e-12);
        assert_eq!(warmup.fraction(0.01, 3), 0.01);
        assert_eq!(warmup.fraction(0.01, 1000), 0.01);
    }

    #[test]
    fn fraction_falls_every_warmup_round() {
        let warmup = SparsityWarmup::new(60, 0.05).unwrap();
        let path: Vec<f64> = (1..=61).map(|round| warmup.fraction(0.01, round)).collect();
        assert!(path.windows(2).all(|pair| pair[1] < pair[0]), "{path:?}");
        assert_eq!(path[60], 0.01);
    }

    #[test]
    fn low_start_or_nan_target_changes_nothing() {
        let low = SparsityWarmup::new(10, 0.05).unwrap();
        assert_eq!(low.fraction(0.1, 1), 0.1);
        assert!(low.fraction(f64::NAN, 1).is_nan());
    }

    #[test]
    fn zero_rounds_or_bad_start_is_rejected() {
        for start in [0.0, -0.1, 1.5, f64::NAN] {
            assert!(SparsityWarmup::new(10, start).is_err(), "{start}");
        }
        assert!(SparsityWarmup::new(0, 0.5).is_err());
        assert!(SparsityWarmup::new(10, 1.0).is_ok());
    }

    #[test]
    fn apply_changes_only_the_sparsifier() {
        let warmup = SparsityWarmup::new(4, 0.2).unwrap();
        let spec = UplinkCompression::parse("topk:0.01+8bit", true)
            .unwrap()
            .unwrap();
        let first = warmup.apply(spec, 1);
        assert_eq!(first.sparsification, Sparsification::TopK { fraction: 0.2 });
        assert_eq!(first.values, spec.values);
        assert!(first.error_feedback);
        assert_eq!(warmup.apply(spec, 5), spec);
        let rand = UplinkCompression::parse("randk:0.05", true)
            .unwrap()
            .unwrap();
        assert_eq!(
            warmup.apply(rand, 1).sparsification,
            Sparsification::RandK { fraction: 0.2 }
        );
        let dense = UplinkCompression::parse("8bit", true).unwrap().unwrap();
        assert_eq!(warmup.apply(dense, 1), dense);
    }
}
