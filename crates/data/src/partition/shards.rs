//! Pathological label skew from McMahan et al. 2017 ("Communication-Efficient
//! Learning of Deep Networks from Decentralized Data"): the examples are
//! sorted by label, cut into equal shards, and each client receives a few
//! random shards, so it gets only a few labels.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::{cut_runs, shuffled_indices};
use crate::error::DataError;

/// Partitions `labels` into `clients * per_client` shards dealt
/// `per_client` to each client. The caller has checked
/// `1 <= clients <= labels.len()`.
///
/// The examples are shuffled, then stably sorted by label, so examples of one
/// label appear in random order. When the example count is not a multiple of
/// the shard count, the first `examples % shards` shards hold one extra
/// example. A shard spans at most two labels unless some label has fewer
/// examples than a shard, so a client usually sees at most `2 * per_client`
/// labels.
pub(super) fn partition(
    labels: &[u8],
    clients: usize,
    per_client: u32,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Vec<usize>>, DataError> {
    if per_client == 0 {
        return Err(DataError::NoShardsPerClient);
    }
    let per_client_len = per_client as usize;
    let too_many = |shards| DataError::TooManyShards {
        shards,
        clients,
        per_client,
        examples: labels.len(),
    };
    let shards = clients
        .checked_mul(per_client_len)
        .ok_or_else(|| too_many(usize::MAX))?;
    if shards > labels.len() {
        return Err(too_many(shards));
    }

    let mut order = shuffled_indices(labels.len(), rng);
    order.sort_by_key(|&index| labels[index]);

    let base = labels.len() / shards;
    let extra = labels.len() % shards;
    let sizes: Vec<usize> = (0..shards)
        .map(|shard| base + usize::from(shard < extra))
        .collect();
    let shard_runs = cut_runs(&order, &sizes);

    let mut dealt: Vec<usize> = (0..shards).collect();
    dealt.shuffle(rng);
    let parts = dealt
        .chunks(per_client_len)
        .map(|client_shards| {
            client_shards
                .iter()
                .flat_map(|&shard| shard_runs[shard].iter().copied())
                .collect()
        })
        .collect();
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, seeded};

    #[test]
    fn shards_hold_one_label_when_aligned() {
        // 4 labels x 5 examples, 4 clients x 1 shard of 5: one label each.
        let labels: Vec<u8> = (0..20).map(|i| (i / 5) as u8).collect();
        let parts = partition(&labels, 4, 1, &mut seeded(2, Stream::Partition)).unwrap();
        for part in &parts {
            assert_eq!(part.len(), 5);
            let first = labels[part[0]];
            assert!(part.iter().all(|&i| labels[i] == first), "{part:?}");
        }
    }

    #[test]
    fn zero_per_client_is_rejected() {
        let err = partition(&[0, 1], 1, 0, &mut seeded(0, Stream::Partition)).unwrap_err();
        assert!(matches!(err, DataError::NoShardsPerClient));
    }

    #[test]
    fn more_shards_than_examples_is_rejected() {
        let err = partition(&[0, 1, 2], 2, 2, &mut seeded(0, Stream::Partition)).unwrap_err();
        assert!(matches!(
            err,
            DataError::TooManyShards {
                shards: 4,
                examples: 3,
                ..
            }
        ));
    }

    #[test]
    fn shard_count_overflow_is_rejected() {
        let err = partition(
            &[0; 4],
            usize::MAX / 2,
            u32::MAX,
            &mut seeded(0, Stream::Partition),
        )
        .unwrap_err();
        assert!(matches!(err, DataError::TooManyShards { .. }));
    }
}
