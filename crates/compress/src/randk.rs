//! Rand-k sparsification: `k` positions drawn from a seed that every client
//! of a round shares, so all clients keep the same coordinates (which is
//! what lets sparse updates be summed under secure aggregation) and the
//! positions need not be sent.
//!
//! Layout: length and `k` (LEB128), then the `k` kept values as
//! little-endian `f32`, in increasing position order.

use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;

use crate::CompressError;
use crate::sparse::SparseVector;
use crate::varint::{MAX_VALUES, Reader, write_varint};

/// Returns the `k` positions (increasing) of a vector of `len` values that
/// the round seed `seed` selects. Every client with the same seed gets the
/// same positions, and `k >= len` selects all of them.
pub fn rand_k_positions(len: usize, k: usize, seed: u64) -> Vec<u32> {
    if k >= len {
        return (0..len as u32).collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut positions: Vec<u32> = sample(&mut rng, len, k)
        .into_iter()
        .map(|index| index as u32)
        .collect();
    positions.sort_unstable();
    positions
}

/// Encodes the values of `values` at the positions `seed` selects.
pub fn rand_k_encode(values: &[f32], k: usize, seed: u64) -> Result<Vec<u8>, CompressError> {
    crate::check_finite(values)?;
    if values.len() as u64 > MAX_VALUES {
        return Err(CompressError::InvalidHeader {
            field: "vector length",
            value: values.len() as u64,
        });
    }
    let positions = rand_k_positions(values.len(), k, seed);
    let mut out = Vec::with_capacity(10 + 4 * positions.len());
    write_varint(&mut out, values.len() as u64);
    write_varint(&mut out, positions.len() as u64);
    for &position in &positions {
        out.extend_from_slice(&values[position as usize].to_le_bytes());
    }
    Ok(out)
}

/// Decodes a message written by [`rand_k_encode`] with the same round seed.
pub fn rand_k_decode(bytes: &[u8], seed: u64) -> Result<SparseVector, CompressError> {
    let mut reader = Reader::new(bytes);
    let (len, k) = reader.length_and_count()?;
    if k * 4 != reader.remaining() as u64 {
        return Err(CompressError::InvalidHeader {
            field: "value bytes (not 4 per kept value)",
            value: reader.remaining() as u64,
        });
    }
    let positions = rand_k_positions(len as usize, k as usize, seed);
    let values = reader.finite_f32s(positions.len())?;
    reader.finish()?;
    Ok(SparseVector::from_parts(len as usize, positions, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_positions() {
        let first = rand_k_positions(1000, 10, 42);
        assert_eq!(first, rand_k_positions(1000, 10, 42));
        assert_ne!(first, rand_k_positions(1000, 10, 43));
        assert_eq!(first.len(), 10);
        assert!(first.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(first.iter().all(|&position| position < 1000));
    }

    #[test]
    fn round_trip_keeps_the_selected_values() {
        let values: Vec<f32> = (0..50).map(|i| i as f32 - 25.0).collect();
        let bytes = rand_k_encode(&values, 5, 9).unwrap();
        assert_eq!(bytes.len(), 1 + 1 + 20);
        let sparse = rand_k_decode(&bytes, 9).unwrap();
        for (&position, &value) in sparse.indices().iter().zip(sparse.values()) {
            assert_eq!(value, values[position as usize]);
        }
        assert_eq!(sparse.indices(), rand_k_positions(50, 5, 9));
    }

    #[test]
    fn k_zero_and_k_at_least_n() {
        let values = [1.0, 2.0, 3.0];
        assert!(
            rand_k_decode(&rand_k_encode(&values, 0, 1).unwrap(), 1)
                .unwrap()
                .indices()
                .is_empty()
        );
        let all = rand_k_decode(&rand_k_encode(&values, 7, 1).unwrap(), 1).unwrap();
        assert_eq!(all.to_dense(), values);
    }

    #[test]
    fn malformed_bytes_give_errors() {
        let good = rand_k_encode(&[1.0; 10], 3, 5).unwrap();
        for len in 0..good.len() {
            assert!(rand_k_decode(&good[..len], 5).is_err(), "prefix {len}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(rand_k_decode(&trailing, 5).is_err());
        assert!(rand_k_decode(&[2, 3], 5).is_err(), "k above the length");
        let mut nan = vec![1, 1];
        nan.extend_from_slice(&f32::NAN.to_le_bytes());
        assert!(matches!(
            rand_k_decode(&nan, 5),
            Err(CompressError::NonFinite { .. })
        ));
    }
}
