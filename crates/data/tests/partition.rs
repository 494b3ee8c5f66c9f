//! Partition schemes over random labels and the embedded digits: coverage,
//! determinism, the skew each scheme promises, and the error cases.

use proptest::prelude::*;
use starling_data::{
    DataError, Dataset, NUM_CLASSES, assigned_partition, embedded_split, partition, partition_stats,
};
use starling_proto::{DataAssignment, PartitionScheme};

const SCHEMES: [PartitionScheme; 6] = [
    PartitionScheme::Iid,
    PartitionScheme::Dirichlet { alpha: 0.1 },
    PartitionScheme::Dirichlet { alpha: 100.0 },
    PartitionScheme::Shards { per_client: 1 },
    PartitionScheme::Shards { per_client: 2 },
    PartitionScheme::Quantity { sigma: 1.0 },
];

/// Panics unless every index in `0..len` appears in exactly one part and
/// every part is non-empty and sorted.
fn assert_exact_cover(parts: &[Vec<usize>], len: usize) {
    let mut seen = vec![0u32; len];
    for (client, part) in parts.iter().enumerate() {
        assert!(!part.is_empty(), "client {client} is empty");
        assert!(
            part.windows(2).all(|pair| pair[0] < pair[1]),
            "client {client} is not sorted"
        );
        for &index in part {
            assert!(index < len, "index {index} out of range");
            seen[index] += 1;
        }
    }
    if let Some(index) = seen.iter().position(|&count| count != 1) {
        panic!("index {index} assigned {} times", seen[index]);
    }
}

fn embedded_train_labels() -> Vec<u8> {
    embedded_split(0)
        .expect("embedded digits decode")
        .train
        .labels()
        .to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_scheme_covers_each_index_once(
        labels in prop::collection::vec(0u8..10, 1..300),
        clients_fraction in 0.0f64..1.0,
        scheme_index in 0..SCHEMES.len(),
        seed: u64,
    ) {
        let scheme = SCHEMES[scheme_index];
        // Shards need clients * per_client <= examples.
        let per_client = match scheme {
            PartitionScheme::Shards { per_client } => per_client as usize,
            _ => 1,
        };
        let max_clients = labels.len() / per_client;
        prop_assume!(max_clients >= 1);
        let clients = 1 + (clients_fraction * (max_clients - 1) as f64) as usize;

        let parts = partition(&labels, clients, &scheme, seed).unwrap();
        prop_assert_eq!(parts.len(), clients);
        assert_exact_cover(&parts, labels.len());
        prop_assert_eq!(&parts, &partition(&labels, clients, &scheme, seed).unwrap());
    }

    #[test]
    fn iid_sizes_differ_by_at_most_one(
        len in 1usize..500,
        clients in 1usize..50,
        seed: u64,
    ) {
        prop_assume!(clients <= len);
        let labels = vec![0u8; len];
        let parts = partition(&labels, clients, &PartitionScheme::Iid, seed).unwrap();
        let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
        let min = sizes.iter().min().copied().unwrap_or(0);
        let max = sizes.iter().max().copied().unwrap_or(0);
        prop_assert!(max - min <= 1, "{:?}", sizes);
    }
}

#[test]
fn same_seed_same_partition_on_embedded() {
    let labels = embedded_train_labels();
    for scheme in SCHEMES {
        let first = partition(&labels, 100, &scheme, 7).unwrap();
        let second = partition(&labels, 100, &scheme, 7).unwrap();
        assert_eq!(first, second, "{scheme:?}");
        assert_exact_cover(&first, labels.len());
    }
}

#[test]
fn different_seeds_differ() {
    let labels = embedded_train_labels();
    for scheme in SCHEMES {
        let first = partition(&labels, 20, &scheme, 1).unwrap();
        let second = partition(&labels, 20, &scheme, 2).unwrap();
        assert_ne!(first, second, "{scheme:?}");
    }
}

#[test]
fn dirichlet_small_alpha_skews_labels() {
    let labels = embedded_train_labels();
    let iid = partition_stats(
        &labels,
        &partition(&labels, 50, &PartitionScheme::Iid, 3).unwrap(),
    );
    let skewed = partition_stats(
        &labels,
        &partition(&labels, 50, &PartitionScheme::Dirichlet { alpha: 0.1 }, 3).unwrap(),
    );
    // 160 IID examples over 10 nearly equal classes give close to log2(10),
    // about 3.3 bits. Dirichlet(0.1) leaves each client a few dominant labels.
    assert!(
        iid.mean_label_entropy_bits > 3.0,
        "IID entropy {}",
        iid.mean_label_entropy_bits
    );
    assert!(
        skewed.mean_label_entropy_bits < 2.0,
        "Dirichlet(0.1) entropy {}",
        skewed.mean_label_entropy_bits
    );
    let mean_distinct = |stats: &starling_data::PartitionStats| {
        stats
            .clients
            .iter()
            .map(|client| client.distinct_labels() as f64)
            .sum::<f64>()
            / stats.clients.len() as f64
    };
    assert!(mean_distinct(&iid) > 9.5);
    assert!(mean_distinct(&skewed) < 6.0);
}

#[test]
fn dirichlet_large_alpha_is_near_iid() {
    let labels = embedded_train_labels();
    let stats = partition_stats(
        &labels,
        &partition(
            &labels,
            20,
            &PartitionScheme::Dirichlet { alpha: 1000.0 },
            5,
        )
        .unwrap(),
    );
    assert!(
        stats.mean_label_entropy_bits > 3.2,
        "{}",
        stats.mean_label_entropy_bits
    );
}

#[test]
fn shards_limit_labels_per_client() {
    let labels = embedded_train_labels();
    for per_client in [1u32, 2, 3] {
        let parts = partition(&labels, 100, &PartitionScheme::Shards { per_client }, 11).unwrap();
        let stats = partition_stats(&labels, &parts);
        for client in &stats.clients {
            assert!(
                client.distinct_labels() <= 2 * per_client as usize,
                "per_client {per_client}, client {}: {:?}",
                client.client,
                client.label_histogram
            );
        }
        // 8000 examples in 100 * per_client shards: all sizes within one.
        assert!(stats.max_count - stats.min_count <= per_client as usize);
    }
}

#[test]
fn shards_of_one_label_each_for_pathological_split() {
    // Two shards per client over 200 clients: mostly two labels per client.
    let labels = embedded_train_labels();
    let parts = partition(&labels, 200, &PartitionScheme::Shards { per_client: 2 }, 4).unwrap();
    let stats = partition_stats(&labels, &parts);
    let few_labels = stats
        .clients
        .iter()
        .filter(|client| client.distinct_labels() <= 2)
        .count();
    assert!(
        few_labels > 150,
        "{few_labels} of 200 clients have <= 2 labels"
    );
}

#[test]
fn quantity_skews_sizes_not_labels() {
    let labels = embedded_train_labels();
    let parts = partition(&labels, 20, &PartitionScheme::Quantity { sigma: 1.5 }, 8).unwrap();
    let stats = partition_stats(&labels, &parts);
    assert!(stats.min_count >= 1);
    assert!(
        stats.max_count > 4 * stats.min_count,
        "sizes {}..{}",
        stats.min_count,
        stats.max_count
    );
    let iid = partition(&labels, 20, &PartitionScheme::Iid, 8).unwrap();
    let iid_stats = partition_stats(&labels, &iid);
    assert_eq!(iid_stats.max_count - iid_stats.min_count, 0);
}

#[test]
fn one_client_gets_everything() {
    let labels = [3u8, 1, 4, 1, 5];
    for scheme in SCHEMES {
        if let PartitionScheme::Shards { per_client } = scheme
            && per_client as usize > labels.len()
        {
            continue;
        }
        let parts = partition(&labels, 1, &scheme, 0).unwrap();
        assert_eq!(parts, vec![vec![0, 1, 2, 3, 4]], "{scheme:?}");
    }
}

#[test]
fn as_many_clients_as_examples() {
    let labels: Vec<u8> = (0..40).map(|i| (i % NUM_CLASSES) as u8).collect();
    for scheme in [
        PartitionScheme::Iid,
        PartitionScheme::Dirichlet { alpha: 0.1 },
        PartitionScheme::Shards { per_client: 1 },
        PartitionScheme::Quantity { sigma: 2.0 },
    ] {
        let parts = partition(&labels, 40, &scheme, 13).unwrap();
        assert!(parts.iter().all(|part| part.len() == 1), "{scheme:?}");
    }
}

#[test]
fn client_count_is_checked() {
    let labels = [0u8, 1, 2, 3];
    let iid = PartitionScheme::Iid;
    assert!(matches!(
        partition(&labels, 0, &iid, 0),
        Err(DataError::NoClients)
    ));
    assert!(matches!(
        partition(&labels, 5, &iid, 0),
        Err(DataError::TooFewExamples {
            clients: 5,
            examples: 4
        })
    ));
    assert!(matches!(
        partition(&[], 1, &iid, 0),
        Err(DataError::TooFewExamples { .. })
    ));
}

#[test]
fn invalid_alpha_is_rejected() {
    for alpha in [0.0, -2.0, f64::NAN, f64::INFINITY] {
        let scheme = PartitionScheme::Dirichlet { alpha };
        let err = partition(&[0, 1, 2, 3], 2, &scheme, 0).unwrap_err();
        assert!(matches!(err, DataError::InvalidAlpha(_)), "alpha {alpha}");
    }
}

#[test]
fn invalid_sigma_is_rejected() {
    for sigma in [0.0, -1.0, f64::NAN, f64::NEG_INFINITY] {
        let scheme = PartitionScheme::Quantity { sigma };
        let err = partition(&[0, 1, 2, 3], 2, &scheme, 0).unwrap_err();
        assert!(matches!(err, DataError::InvalidSigma(_)), "sigma {sigma}");
    }
}

#[test]
fn invalid_shard_counts_are_rejected() {
    let labels = [0u8, 1, 2, 3];
    let err = partition(&labels, 2, &PartitionScheme::Shards { per_client: 0 }, 0).unwrap_err();
    assert!(matches!(err, DataError::NoShardsPerClient));

    let err = partition(&labels, 2, &PartitionScheme::Shards { per_client: 3 }, 0).unwrap_err();
    assert!(matches!(
        err,
        DataError::TooManyShards {
            shards: 6,
            examples: 4,
            ..
        }
    ));
}

fn tiny_train() -> Dataset {
    let labels: Vec<u8> = (0..30).map(|i| (i % NUM_CLASSES) as u8).collect();
    let images = (0..30u8).flat_map(|i| [i, i]).collect();
    Dataset::new(images, labels, 1, 2).expect("valid toy dataset")
}

#[test]
fn assigned_partitions_tile_the_training_set() {
    let train = tiny_train();
    let mut pixels_seen = Vec::new();
    for index in 0..4 {
        let assignment = DataAssignment {
            index,
            partitions: 4,
            scheme: PartitionScheme::Dirichlet { alpha: 0.5 },
            seed: 21,
        };
        let part = assigned_partition(&train, &assignment).unwrap();
        assert!(!part.is_empty());
        assert_eq!(part.cols(), 2);
        pixels_seen.extend((0..part.len()).map(|i| part.image(i)[0]));
    }
    pixels_seen.sort_unstable();
    assert_eq!(pixels_seen, (0..30u8).collect::<Vec<_>>());
}

#[test]
fn assigned_partition_matches_partition() {
    let train = tiny_train();
    let scheme = PartitionScheme::Shards { per_client: 2 };
    let parts = partition(train.labels(), 5, &scheme, 9).unwrap();
    let assignment = DataAssignment {
        index: 3,
        partitions: 5,
        scheme,
        seed: 9,
    };
    let part = assigned_partition(&train, &assignment).unwrap();
    assert_eq!(part, train.subset(&parts[3]));
}

#[test]
fn assigned_index_out_of_range_is_rejected() {
    let assignment = DataAssignment {
        index: 4,
        partitions: 4,
        scheme: PartitionScheme::Iid,
        seed: 0,
    };
    let err = assigned_partition(&tiny_train(), &assignment).unwrap_err();
    assert!(matches!(
        err,
        DataError::PartitionIndex {
            index: 4,
            partitions: 4
        }
    ));
}
