//! Label skew: each class is divided among the clients by proportions drawn
//! from a symmetric Dirichlet(alpha) distribution over the clients. Small
//! alpha concentrates each class on a few clients, so each client sees few
//! labels. Large alpha tends to an IID split.

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma};

use super::{apportion, cut_runs, index_of_max};
use crate::error::DataError;

/// Complete draws tried before an empty client is filled by moving examples.
pub(super) const MAX_DRAWS: usize = 10;

/// Partitions `labels` among `clients` with Dirichlet(alpha) label
/// proportions. The caller has checked `1 <= clients <= labels.len()`.
///
/// No client may end up empty. Up to [`MAX_DRAWS`] complete draws are made
/// and the first one in which every client has an example is kept. If none
/// qualifies, the last draw is repaired: each empty client in turn receives
/// one example taken from the currently largest client (the lowest index on
/// ties). Because there are at least as many examples as clients, the
/// largest client then always has two or more.
pub(super) fn partition(
    labels: &[u8],
    clients: usize,
    alpha: f64,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Vec<usize>>, DataError> {
    // `alpha > 0.0` is false for NaN.
    if !(alpha > 0.0 && alpha.is_finite()) {
        return Err(DataError::InvalidAlpha(alpha));
    }
    let gamma = Gamma::new(alpha, 1.0).map_err(|_| DataError::InvalidAlpha(alpha))?;

    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); usize::from(u8::MAX) + 1];
    for (index, &label) in labels.iter().enumerate() {
        by_class[usize::from(label)].push(index);
    }
    by_class.retain(|indices| !indices.is_empty());
    for indices in &mut by_class {
        indices.shuffle(rng);
    }

    let mut parts = Vec::new();
    for draw in 1..=MAX_DRAWS {
        parts = draw_once(&by_class, clients, &gamma, rng);
        if parts.iter().all(|part| !part.is_empty()) {
            tracing::trace!(draw, alpha, clients, "Dirichlet draw accepted");
            return Ok(parts);
        }
    }
    let moved = fill_empty_clients(&mut parts);
    tracing::debug!(
        alpha,
        clients,
        moved,
        "no Dirichlet draw left every client an example, moved examples to empty clients"
    );
    Ok(parts)
}

/// Divides every class among the clients by one fresh Dirichlet draw.
fn draw_once(
    by_class: &[Vec<usize>],
    clients: usize,
    gamma: &Gamma<f64>,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<usize>> {
    let mut parts = vec![Vec::new(); clients];
    for indices in by_class {
        let proportions = dirichlet_weights(clients, gamma, rng);
        let counts = apportion(indices.len(), &proportions);
        for (part, run) in parts.iter_mut().zip(cut_runs(indices, &counts)) {
            part.extend(run);
        }
    }
    parts
}

/// Draws Dirichlet(alpha) weights as normalised Gamma(alpha, 1) samples.
///
/// The samples are divided by their maximum rather than their sum, which
/// leaves the proportions unchanged but cannot overflow for huge alpha. For
/// tiny alpha every sample can underflow to zero. All mass then goes to one
/// client chosen uniformly, which is the limit of Dirichlet(alpha) as alpha
/// tends to zero.
fn dirichlet_weights(clients: usize, gamma: &Gamma<f64>, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let samples: Vec<f64> = (0..clients).map(|_| gamma.sample(rng)).collect();
    let max = samples.iter().copied().fold(0.0, f64::max);
    if max > 0.0 && max.is_finite() {
        samples.iter().map(|sample| sample / max).collect()
    } else {
        let mut weights = vec![0.0; clients];
        weights[rng.random_range(0..clients)] = 1.0;
        weights
    }
}

/// Moves one example from the largest client to each empty client and
/// returns how many were moved.
fn fill_empty_clients(parts: &mut [Vec<usize>]) -> usize {
    let mut moved = 0;
    for client in 0..parts.len() {
        if !parts[client].is_empty() {
            continue;
        }
        let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
        let largest = index_of_max(&sizes);
        if let Some(example) = parts[largest].pop() {
            parts[client].push(example);
            moved += 1;
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, seeded};

    #[test]
    fn fill_takes_from_largest() {
        let mut parts = vec![vec![], vec![1, 2, 3], vec![4, 5], vec![]];
        assert_eq!(fill_empty_clients(&mut parts), 2);
        assert_eq!(parts, vec![vec![3], vec![1], vec![4, 5], vec![2]]);
    }

    #[test]
    fn weights_are_normalised_to_max_one() {
        let gamma = Gamma::new(0.5, 1.0).unwrap();
        let weights = dirichlet_weights(20, &gamma, &mut seeded(3, Stream::Partition));
        assert_eq!(weights.len(), 20);
        assert!(weights.iter().all(|w| (0.0..=1.0).contains(w)));
        assert!(weights.contains(&1.0));
    }

    #[test]
    fn tiny_alpha_puts_a_class_on_one_client() {
        // Gamma(1e-300) samples underflow to zero, so the one-hot fallback runs.
        let gamma = Gamma::new(1e-300, 1.0).unwrap();
        let weights = dirichlet_weights(5, &gamma, &mut seeded(4, Stream::Partition));
        assert_eq!(weights.iter().filter(|&&w| w > 0.0).count(), 1);
    }

    #[test]
    fn invalid_alpha_is_rejected() {
        let mut rng = seeded(0, Stream::Partition);
        for alpha in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = partition(&[0, 1, 2], 2, alpha, &mut rng).unwrap_err();
            assert!(matches!(err, DataError::InvalidAlpha(_)), "alpha {alpha}");
        }
    }

    #[test]
    fn many_clients_all_get_examples() {
        // 30 examples for 30 clients with strong skew: redraws almost surely
        // fail, so the repair step must leave every client exactly one.
        let labels: Vec<u8> = (0..30).map(|i| (i % 3) as u8).collect();
        let parts = partition(&labels, 30, 0.05, &mut seeded(9, Stream::Partition)).unwrap();
        assert!(parts.iter().all(|part| part.len() == 1));
    }
}
