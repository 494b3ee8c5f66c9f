//! Reducing client updates to one mean update, and the FedAvg weighted mean
//! (McMahan et al. 2017, Algorithm 1: weights proportional to example
//! counts).

use crate::error::AggregateError;

/// One accepted client update as the aggregator sees it.
#[derive(Clone, Copy, Debug)]
pub struct ClientContribution<'a> {
    /// Client id, for error messages.
    pub client_id: &'a str,
    /// Aggregation weight; for FedAvg the client's example count. A weight
    /// of 0 is a real 0: the update is counted as received and ignored.
    pub weight: f64,
    /// Local optimisation steps the client took.
    pub local_steps: u32,
    /// Local model minus global model, flattened.
    pub delta: &'a [f32],
    /// SCAFFOLD only: the client's control-variate change `c_i+ - c_i`,
    /// flattened like `delta`. Must be `None` for every other strategy.
    pub control_delta: Option<&'a [f32]>,
}

/// Reduces a round's updates to one update of the model's length.
pub trait Aggregator: Send {
    /// Name used in logs and run metadata.
    fn name(&self) -> &'static str;

    /// Writes the combined update into `out` (already sized to the model).
    fn aggregate(
        &self,
        updates: &[ClientContribution<'_>],
        out: &mut [f32],
    ) -> Result<(), AggregateError>;
}

/// The FedAvg weighted mean: `sum_k (w_k / W) * delta_k`.
#[derive(Clone, Copy, Debug, Default)]
pub struct WeightedMean;

impl Aggregator for WeightedMean {
    fn name(&self) -> &'static str {
        "weighted-mean"
    }

    fn aggregate(
        &self,
        updates: &[ClientContribution<'_>],
        out: &mut [f32],
    ) -> Result<(), AggregateError> {
        weighted_mean_into(updates, out)
    }
}

/// Values processed per block. 8 Ki `f32` (32 KiB) keeps the output block
/// in L1/L2 cache while every update streams through it once.
const BLOCK: usize = 8 * 1024;

/// Outputs shorter than this are aggregated on the calling thread; longer
/// ones are split across threads on native targets.
#[cfg(not(target_arch = "wasm32"))]
const PARALLEL_MIN_LEN: usize = 256 * 1024;

/// Writes the weighted mean of `updates` into `out`.
///
/// Each update is read exactly once; the output is built block by block so
/// it stays in cache, and four updates are folded in per pass over a block.
/// Normalised weights are computed in `f64` and applied in `f32`. On native
/// targets a long output is split into one contiguous range per available
/// core.
pub fn weighted_mean_into(
    updates: &[ClientContribution<'_>],
    out: &mut [f32],
) -> Result<(), AggregateError> {
    weighted_mean_into_threads(updates, out, worker_threads(out.len()))
}

/// [`weighted_mean_into`] on at most `threads` threads (1 keeps all work on
/// the calling thread).
pub fn weighted_mean_into_threads(
    updates: &[ClientContribution<'_>],
    out: &mut [f32],
    threads: usize,
) -> Result<(), AggregateError> {
    let scales = normalised_weights(updates, out.len())?;
    let terms: Vec<(f32, &[f32])> = updates
        .iter()
        .zip(scales)
        .map(|(update, scale)| (scale, update.delta))
        .collect();
    scaled_sum_into_threads(&terms, out, threads);
    Ok(())
}

/// Writes `sum_k scale_k * x_k` into `out` with the blocked kernel behind
/// [`weighted_mean_into`]. Terms with scale 0 are skipped, so their values
/// are never read. Every `x_k` must be at least `out.len()` long.
pub(crate) fn scaled_sum_into(terms: &[(f32, &[f32])], out: &mut [f32]) {
    scaled_sum_into_threads(terms, out, worker_threads(out.len()));
}

fn scaled_sum_into_threads(terms: &[(f32, &[f32])], out: &mut [f32], threads: usize) {
    let active: Vec<(f32, &[f32])> = terms
        .iter()
        .copied()
        .filter(|(scale, _)| *scale != 0.0)
        .collect();
    if threads <= 1 {
        mean_range(&active, 0, out);
        return;
    }
    let per_thread = out.len().div_ceil(threads).next_multiple_of(BLOCK);
    std::thread::scope(|scope| {
        for (index, range) in out.chunks_mut(per_thread).enumerate() {
            let active = &active;
            scope.spawn(move || mean_range(active, index * per_thread, range));
        }
    });
}

#[cfg(not(target_arch = "wasm32"))]
fn worker_threads(len: usize) -> usize {
    if len < PARALLEL_MIN_LEN {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, usize::from)
}

#[cfg(target_arch = "wasm32")]
fn worker_threads(_len: usize) -> usize {
    1
}

/// Computes `out = sum_k scale_k * x_k[start..start + out.len()]`.
fn mean_range(active: &[(f32, &[f32])], start: usize, out: &mut [f32]) {
    for (block_index, out_block) in out.chunks_mut(BLOCK).enumerate() {
        let begin = start + block_index * BLOCK;
        let end = begin + out_block.len();
        out_block.fill(0.0);
        let mut groups = active.chunks_exact(4);
        for group in &mut groups {
            axpy4(
                [group[0].0, group[1].0, group[2].0, group[3].0],
                [
                    &group[0].1[begin..end],
                    &group[1].1[begin..end],
                    &group[2].1[begin..end],
                    &group[3].1[begin..end],
                ],
                out_block,
            );
        }
        for &(scale, delta) in groups.remainder() {
            axpy(scale, &delta[begin..end], out_block);
        }
    }
}

/// Checks lengths and weights and returns `w_k / W` for each update.
fn normalised_weights(
    updates: &[ClientContribution<'_>],
    len: usize,
) -> Result<Vec<f32>, AggregateError> {
    if updates.is_empty() {
        return Err(AggregateError::NoUpdates);
    }
    let mut total = 0.0f64;
    for update in updates {
        if !update.weight.is_finite() || update.weight < 0.0 {
            return Err(AggregateError::InvalidWeight {
                client: update.client_id.to_owned(),
                weight: update.weight,
            });
        }
        if update.delta.len() != len {
            return Err(AggregateError::LengthMismatch {
                client: update.client_id.to_owned(),
                expected: len,
                actual: update.delta.len(),
            });
        }
        total += update.weight;
    }
    if total == 0.0 {
        return Err(AggregateError::ZeroTotalWeight {
            count: updates.len(),
        });
    }
    Ok(updates
        .iter()
        .map(|update| (update.weight / total) as f32)
        .collect())
}

/// `out += scale * x`, written so the compiler vectorises it.
#[inline]
fn axpy(scale: f32, x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o += scale * v;
    }
}

/// `out += s0 * x0 + s1 * x1 + s2 * x2 + s3 * x3`: one load and store of
/// `out` for four updates.
#[inline]
fn axpy4(s: [f32; 4], x: [&[f32]; 4], out: &mut [f32]) {
    let len = out.len();
    let (x0, x1, x2, x3) = (&x[0][..len], &x[1][..len], &x[2][..len], &x[3][..len]);
    for i in 0..len {
        out[i] += s[0] * x0[i] + s[1] * x1[i] + s[2] * x2[i] + s[3] * x3[i];
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn contribution<'a>(id: &'a str, weight: f64, delta: &'a [f32]) -> ClientContribution<'a> {
        ClientContribution {
            client_id: id,
            weight,
            local_steps: 1,
            delta,
            control_delta: None,
        }
    }

    #[test]
    fn weights_follow_example_counts() {
        let a = [1.0, 0.0];
        let b = [0.0, 4.0];
        let updates = [contribution("a", 3.0, &a), contribution("b", 1.0, &b)];
        let mut out = [9.0; 2];
        weighted_mean_into(&updates, &mut out).unwrap();
        assert_eq!(out, [0.75, 1.0]);
    }

    #[test]
    fn zero_weight_is_ignored_not_missing() {
        let a = [2.0];
        let b = [100.0];
        let updates = [contribution("a", 5.0, &a), contribution("b", 0.0, &b)];
        let mut out = [0.0];
        weighted_mean_into(&updates, &mut out).unwrap();
        assert_eq!(out, [2.0]);
    }

    #[test]
    fn all_zero_weights_fail_and_leave_output() {
        let a = [2.0];
        let updates = [contribution("a", 0.0, &a), contribution("b", 0.0, &a)];
        let mut out = [7.0];
        let err = weighted_mean_into(&updates, &mut out).unwrap_err();
        assert_eq!(err, AggregateError::ZeroTotalWeight { count: 2 });
        assert_eq!(out, [7.0]);
    }

    #[test]
    fn no_updates_is_an_error() {
        let mut out = [0.0];
        assert_eq!(
            weighted_mean_into(&[], &mut out).unwrap_err(),
            AggregateError::NoUpdates
        );
    }

    #[test]
    fn bad_weights_and_lengths_are_rejected() {
        let a = [1.0, 2.0];
        let mut out = [0.0; 2];
        for weight in [-1.0, f64::NAN, f64::INFINITY] {
            let err = weighted_mean_into(&[contribution("a", weight, &a)], &mut out).unwrap_err();
            assert!(
                matches!(err, AggregateError::InvalidWeight { .. }),
                "{weight}"
            );
        }
        let short = [1.0];
        let err = weighted_mean_into(&[contribution("s", 1.0, &short)], &mut out).unwrap_err();
        assert!(matches!(
            err,
            AggregateError::LengthMismatch {
                expected: 2,
                actual: 1,
                ..
            }
        ));
    }

    #[test]
    fn parallel_path_matches_sequential_sum() {
        let len = PARALLEL_MIN_LEN + BLOCK * 3 + 5;
        let rows: Vec<Vec<f32>> = (0..7)
            .map(|k| {
                (0..len)
                    .map(|i| ((i * 31 + k * 17) % 97) as f32 - 48.0)
                    .collect()
            })
            .collect();
        let updates: Vec<_> = rows
            .iter()
            .enumerate()
            .map(|(k, r)| contribution("c", (k + 1) as f64, r))
            .collect();
        let mut out = vec![0.0; len];
        weighted_mean_into(&updates, &mut out).unwrap();
        let total: f64 = (1..=7).sum::<usize>() as f64;
        for i in [0, 1, BLOCK, PARALLEL_MIN_LEN / 2, len / 2 + 3, len - 1] {
            let expected: f64 = rows
                .iter()
                .enumerate()
                .map(|(k, r)| f64::from(r[i]) * (k + 1) as f64)
                .sum::<f64>()
                / total;
            assert!((f64::from(out[i]) - expected).abs() < 1e-3, "index {i}");
        }
    }

    #[test]
    fn spans_several_blocks() {
        let len = BLOCK * 2 + 17;
        let a: Vec<f32> = (0..len).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..len).map(|i| -(i as f32)).collect();
        let updates = [contribution("a", 1.0, &a), contribution("b", 1.0, &b)];
        let mut out = vec![1.0; len];
        weighted_mean_into(&updates, &mut out).unwrap();
        assert!(out.iter().all(|&v| v == 0.0));
    }

    proptest! {
        #[test]
        fn mean_of_equal_updates_is_that_update(
            delta in prop::collection::vec(-1e3f32..1e3, 1..300),
            weights in prop::collection::vec(0.5f64..100.0, 1..8),
        ) {
            let updates: Vec<_> = weights.iter().map(|&w| contribution("c", w, &delta)).collect();
            let mut out = vec![0.0; delta.len()];
            weighted_mean_into(&updates, &mut out).unwrap();
            for (o, d) in out.iter().zip(&delta) {
                prop_assert!((o - d).abs() <= 1e-4 * d.abs().max(1.0), "{o} vs {d}");
            }
        }

        #[test]
        fn mean_matches_f64_reference(
            rows in prop::collection::vec(prop::collection::vec(-10f32..10.0, 40), 1..6),
            weights in prop::collection::vec(0.0f64..50.0, 6),
        ) {
            let weights = &weights[..rows.len()];
            prop_assume!(weights.iter().sum::<f64>() > 1e-3);
            let updates: Vec<_> = rows.iter().zip(weights).map(|(r, &w)| contribution("c", w, r)).collect();
            let mut out = vec![0.0; 40];
            weighted_mean_into(&updates, &mut out).unwrap();
            let total: f64 = weights.iter().sum();
            for i in 0..40 {
                let expected: f64 = rows.iter().zip(weights).map(|(r, w)| r[i] as f64 * w).sum::<f64>() / total;
                prop_assert!((out[i] as f64 - expected).abs() < 1e-4, "{} vs {}", out[i], expected);
            }
        }
    }
}
