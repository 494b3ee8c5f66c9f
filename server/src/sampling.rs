//! Client sampling: which connected clients take part in a round, and the
//! per-client seeds derived from the run seed.

use rand::SeedableRng;
use rand::seq::IteratorRandom;
use rand_chacha::ChaCha8Rng;

/// Clients to sample from `available` connected clients: `K` when given,
/// else `ceil(C * available)`, never below `min_clients` and never above
/// `available`.
pub fn sample_size(
    available: usize,
    fraction: f64,
    clients_per_round: Option<u32>,
    min_clients: u32,
) -> usize {
    let wanted = match clients_per_round {
        Some(k) => k as usize,
        None => (fraction * available as f64).ceil() as usize,
    };
    wanted.max(min_clients as usize).min(available)
}

/// Picks `count` of `candidates` for `round`, deterministically in
/// `(seed, round)` and independent of the order of `candidates`.
pub fn sample_clients(candidates: &[String], count: usize, seed: u64, round: u32) -> Vec<String> {
    let mut sorted: Vec<&String> = candidates.iter().collect();
    sorted.sort();
    let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, u64::from(round)));
    let mut chosen: Vec<String> = sorted
        .into_iter()
        .choose_multiple(&mut rng, count)
        .into_iter()
        .cloned()
        .collect();
    chosen.sort();
    chosen
}

/// Seed for one client's local shuffling in one round.
pub fn client_seed(seed: u64, round: u32, client_id: &str) -> u64 {
    let id_hash = client_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    mix(mix(seed, u64::from(round)), id_hash)
}

/// Seed shared by every client of one round (rand-k positions).
pub fn round_seed(seed: u64, round: u32) -> u64 {
    mix(mix(seed, u64::from(round)), 0x7261_6e64_6b00_0000)
}

/// SplitMix64 finaliser over `a ^ rotate(b)`: a cheap, well-mixed way to
/// derive independent seeds.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i:03}")).collect()
    }

    #[test]
    fn one_client_with_fraction_below_one_is_sampled() {
        assert_eq!(sample_size(1, 0.8, None, 1), 1);
    }

    #[test]
    fn fraction_rounds_up_and_respects_minimum() {
        assert_eq!(sample_size(100, 0.1, None, 1), 10);
        assert_eq!(sample_size(100, 0.101, None, 1), 11);
        assert_eq!(sample_size(10, 0.1, None, 3), 3);
        assert_eq!(sample_size(2, 0.1, None, 3), 2);
    }

    #[test]
    fn fixed_count_overrides_fraction() {
        assert_eq!(sample_size(50, 0.5, Some(7), 1), 7);
        assert_eq!(sample_size(5, 0.5, Some(7), 1), 5);
    }

    #[test]
    fn sampling_is_deterministic_and_order_free() {
        let mut shuffled = ids(20);
        shuffled.reverse();
        let a = sample_clients(&ids(20), 5, 42, 3);
        let b = sample_clients(&shuffled, 5, 42, 3);
        assert_eq!(a, b);
        assert_eq!(a.len(), 5);
    }

    #[test]
    fn sampling_changes_with_round_and_seed() {
        let base = sample_clients(&ids(50), 5, 1, 1);
        assert_ne!(base, sample_clients(&ids(50), 5, 1, 2));
        assert_ne!(base, sample_clients(&ids(50), 5, 2, 1));
    }

    #[test]
    fn client_seeds_differ_per_client_and_round() {
        let a = client_seed(1, 1, "a");
        assert_ne!(a, client_seed(1, 1, "b"));
        assert_ne!(a, client_seed(1, 2, "a"));
        assert_eq!(a, client_seed(1, 1, "a"));
    }
}
