//! Seeded partitioning of a data set among federated clients, IID or with
//! label or quantity skew, as described by [`PartitionScheme`].
//!
//! Every scheme assigns each example to exactly one client, gives every
//! client at least one example, and returns each client's indices in
//! ascending order. The same labels, client count, scheme and seed always
//! give the same partition.

mod dirichlet;
mod quantity;
mod shards;

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use starling_proto::{DataAssignment, PartitionScheme};

use crate::dataset::Dataset;
use crate::error::DataError;
use crate::rng::{Stream, seeded};

/// Splits the indices `0..labels.len()` among `clients` clients.
///
/// - [`PartitionScheme::Iid`]: shuffled and dealt in contiguous runs whose
///   sizes differ by at most one.
/// - [`PartitionScheme::Dirichlet`]: each class is split by proportions drawn
///   from Dirichlet(alpha) over the clients.
/// - [`PartitionScheme::Shards`]: sorted by label, cut into
///   `clients * per_client` shards, `per_client` random shards per client.
/// - [`PartitionScheme::Quantity`]: IID labels, sizes drawn from a log-normal.
///
/// Returns one index list per client, sorted ascending.
///
/// # Errors
///
/// [`DataError::NoClients`] for 0 clients, [`DataError::TooFewExamples`] when
/// there are fewer examples than clients, and the scheme's own errors for an
/// invalid alpha, sigma or shard count.
pub fn partition(
    labels: &[u8],
    clients: usize,
    scheme: &PartitionScheme,
    seed: u64,
) -> Result<Vec<Vec<usize>>, DataError> {
    if clients == 0 {
        return Err(DataError::NoClients);
    }
    if clients > labels.len() {
        return Err(DataError::TooFewExamples {
            clients,
            examples: labels.len(),
        });
    }
    let mut rng = seeded(seed, Stream::Partition);
    let mut parts = match *scheme {
        PartitionScheme::Iid => iid(labels.len(), clients, &mut rng),
        PartitionScheme::Dirichlet { alpha } => {
            dirichlet::partition(labels, clients, alpha, &mut rng)?
        }
        PartitionScheme::Shards { per_client } => {
            shards::partition(labels, clients, per_client, &mut rng)?
        }
        PartitionScheme::Quantity { sigma } => {
            quantity::partition(labels.len(), clients, sigma, &mut rng)?
        }
    };
    for part in &mut parts {
        part.sort_unstable();
    }
    tracing::debug!(
        ?scheme,
        clients,
        examples = labels.len(),
        seed,
        smallest = parts.iter().map(Vec::len).min(),
        largest = parts.iter().map(Vec::len).max(),
        "partitioned data"
    );
    Ok(parts)
}

/// Returns the partition of `split_train` that `assignment` gives a client:
/// the training set is partitioned with the assignment's scheme, partition
/// count and seed, and the part at `assignment.index` is copied out.
///
/// The server and every client compute the same partition from the same
/// assignment, so no example list has to be sent.
pub fn assigned_partition(
    split_train: &Dataset,
    assignment: &DataAssignment,
) -> Result<Dataset, DataError> {
    let DataAssignment {
        index,
        partitions,
        ref scheme,
        seed,
    } = *assignment;
    if index >= partitions {
        return Err(DataError::PartitionIndex { index, partitions });
    }
    let parts = partition(split_train.labels(), partitions as usize, scheme, seed)?;
    Ok(split_train.subset(&parts[index as usize]))
}

/// Shuffles `0..examples` and deals it into `clients` contiguous runs whose
/// sizes differ by at most one, the larger runs first.
fn iid(examples: usize, clients: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
    let order = shuffled_indices(examples, rng);
    let base = examples / clients;
    let extra = examples % clients;
    let sizes: Vec<usize> = (0..clients)
        .map(|client| base + usize::from(client < extra))
        .collect();
    cut_runs(&order, &sizes)
}

/// Returns `0..len` in a random order.
fn shuffled_indices(len: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(rng);
    order
}

/// Cuts `items` into consecutive runs of the given sizes, which must add up
/// to `items.len()`.
fn cut_runs(items: &[usize], sizes: &[usize]) -> Vec<Vec<usize>> {
    debug_assert_eq!(sizes.iter().sum::<usize>(), items.len());
    let mut start = 0;
    sizes
        .iter()
        .map(|&size| {
            let run = items[start..start + size].to_vec();
            start += size;
            run
        })
        .collect()
}

/// Splits `total` into whole numbers proportional to `weights` by the
/// largest-remainder method, ties going to the lower index.
///
/// The weights must be non-negative and finite with a positive sum.
fn apportion(total: usize, weights: &[f64]) -> Vec<usize> {
    let sum: f64 = weights.iter().sum();
    let shares: Vec<f64> = weights
        .iter()
        .map(|&weight| weight / sum * total as f64)
        .collect();
    // `as` saturates, so a share rounded above `usize::MAX` cannot wrap.
    let mut counts: Vec<usize> = shares.iter().map(|share| share.floor() as usize).collect();
    let mut assigned: usize = counts.iter().sum();

    // Floating-point error can push the floors a little over the total: take
    // the excess back from the largest counts.
    while assigned > total {
        let largest = index_of_max(&counts);
        counts[largest] -= 1;
        assigned -= 1;
    }

    let mut order: Vec<usize> = (0..weights.len()).collect();
    let fraction = |k: usize| shares[k] - shares[k].floor();
    order.sort_by(|&a, &b| fraction(b).total_cmp(&fraction(a)).then(a.cmp(&b)));
    for &k in order.iter().cycle().take(total - assigned) {
        counts[k] += 1;
    }
    counts
}

/// Index of the largest value, the lowest index on ties.
fn index_of_max(values: &[usize]) -> usize {
    let mut best = 0;
    for (index, &value) in values.iter().enumerate() {
        if value > values[best] {
            best = index;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_matches_exact_shares() {
        assert_eq!(apportion(10, &[1.0, 1.0, 2.0]), vec![3, 2, 5]);
        assert_eq!(apportion(7, &[1.0]), vec![7]);
        assert_eq!(apportion(0, &[1.0, 3.0]), vec![0, 0]);
        assert_eq!(apportion(5, &[0.0, 1.0]), vec![0, 5]);
    }

    #[test]
    fn apportion_sums_to_total() {
        let weights = [0.1, 0.2, 0.3, 1e-9, 7.5, 1e6];
        for total in [0, 1, 5, 99, 10_000] {
            let counts = apportion(total, &weights);
            assert_eq!(counts.iter().sum::<usize>(), total, "total {total}");
        }
    }

    #[test]
    fn iid_sizes_differ_by_one() {
        let parts = iid(10, 3, &mut seeded(1, Stream::Partition));
        let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![4, 3, 3]);
    }

    #[test]
    fn cut_runs_keeps_order() {
        assert_eq!(
            cut_runs(&[5, 6, 7, 8], &[1, 0, 3]),
            vec![vec![5], vec![], vec![6, 7, 8]]
        );
    }

    #[test]
    fn index_of_max_prefers_first() {
        assert_eq!(index_of_max(&[1, 4, 4, 2]), 1);
    }
}
