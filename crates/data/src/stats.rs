//! Per-client summaries of a partition (sizes and label histograms), for
//! logs, reports and the web UI.

use serde::{Deserialize, Serialize};

use crate::dataset::{NUM_CLASSES, label_histogram};

/// Size and label mix of one client's partition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientStats {
    /// Client position in the partition, `0..clients`.
    pub client: usize,
    /// Examples assigned to the client.
    pub count: usize,
    /// Examples of each label.
    pub label_histogram: [u32; NUM_CLASSES],
    /// Shannon entropy of the label distribution in bits: 0 for a single
    /// label, `log2(10)` (about 3.32) for all ten labels in equal numbers.
    pub label_entropy_bits: f64,
}

/// Summary of a whole partition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartitionStats {
    /// One entry per client, in client order.
    pub clients: Vec<ClientStats>,
    /// Examples over all clients.
    pub total: usize,
    /// Smallest client size; 0 when there are no clients.
    pub min_count: usize,
    /// Largest client size; 0 when there are no clients.
    pub max_count: usize,
    /// Mean client size; 0 when there are no clients.
    pub mean_count: f64,
    /// Mean over clients of [`ClientStats::label_entropy_bits`]; lower means
    /// stronger label skew.
    pub mean_label_entropy_bits: f64,
}

impl ClientStats {
    /// Number of labels with at least one example.
    pub fn distinct_labels(&self) -> usize {
        self.label_histogram
            .iter()
            .filter(|&&count| count > 0)
            .count()
    }
}

/// Computes the size and label histogram of every part of a partition.
///
/// Labels `>= NUM_CLASSES` count towards `count` but not towards the
/// histogram.
///
/// # Panics
///
/// Panics if an index in `parts` is `>= labels.len()`.
pub fn partition_stats(labels: &[u8], parts: &[Vec<usize>]) -> PartitionStats {
    let clients: Vec<ClientStats> = parts
        .iter()
        .enumerate()
        .map(|(client, part)| {
            let part_labels: Vec<u8> = part.iter().map(|&index| labels[index]).collect();
            let histogram = label_histogram(&part_labels);
            ClientStats {
                client,
                count: part.len(),
                label_histogram: histogram,
                label_entropy_bits: entropy_bits(&histogram),
            }
        })
        .collect();

    let counts = || clients.iter().map(|stats| stats.count);
    let total: usize = counts().sum();
    let mean = |sum: f64| {
        if clients.is_empty() {
            0.0
        } else {
            sum / clients.len() as f64
        }
    };
    let mean_count = mean(total as f64);
    let mean_label_entropy_bits = mean(clients.iter().map(|stats| stats.label_entropy_bits).sum());
    PartitionStats {
        total,
        min_count: counts().min().unwrap_or(0),
        max_count: counts().max().unwrap_or(0),
        mean_count,
        mean_label_entropy_bits,
        clients,
    }
}

/// Shannon entropy in bits of the distribution given by `histogram`; 0 for
/// an empty histogram.
fn entropy_bits(histogram: &[u32]) -> f64 {
    let total: f64 = histogram.iter().map(|&count| f64::from(count)).sum();
    if total == 0.0 {
        return 0.0;
    }
    histogram
        .iter()
        .filter(|&&count| count > 0)
        .map(|&count| {
            let p = f64::from(count) / total;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_count_sizes_and_labels() {
        let labels = [0, 1, 1, 2, 9];
        let parts = vec![vec![0, 1], vec![2, 3, 4]];
        let stats = partition_stats(&labels, &parts);
        assert_eq!(stats.total, 5);
        assert_eq!(stats.min_count, 2);
        assert_eq!(stats.max_count, 3);
        assert_eq!(stats.mean_count, 2.5);
        assert_eq!(stats.clients[1].client, 1);
        assert_eq!(stats.clients[1].label_histogram[1], 1);
        assert_eq!(stats.clients[1].label_histogram[9], 1);
        assert_eq!(stats.clients[1].distinct_labels(), 3);
        assert_eq!(stats.clients[0].label_entropy_bits, 1.0);
    }

    #[test]
    fn entropy_of_single_label_is_zero() {
        assert_eq!(entropy_bits(&[0, 5, 0]), 0.0);
        assert_eq!(entropy_bits(&[0, 0]), 0.0);
        let uniform = entropy_bits(&[3; NUM_CLASSES]);
        assert!((uniform - 10f64.log2()).abs() < 1e-12);
    }

    #[test]
    fn empty_partition_has_zero_summary() {
        let stats = partition_stats(&[], &[]);
        assert_eq!(stats.total, 0);
        assert_eq!(stats.mean_count, 0.0);
        assert!(stats.clients.is_empty());
    }

    #[test]
    fn stats_serialize_to_json() {
        let stats = partition_stats(&[3, 3], &[vec![0], vec![1]]);
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["clients"][1]["count"], 1);
        assert_eq!(json["clients"][0]["label_histogram"][3], 1);
        assert_eq!(json["max_count"], 1);
    }
}
