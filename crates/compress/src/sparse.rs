//! Sparse vectors: top-k selection and a compact encoding of the kept
//! positions (delta-coded LEB128 or a bitmap, whichever is smaller).
//!
//! Layout: length and count (LEB128), a format byte (0: deltas, 1: bitmap),
//! the positions, then one little-endian `f32` per kept value.

use std::cmp::Ordering;

use crate::CompressError;
use crate::varint::{MAX_VALUES, Reader, write_varint};

/// Format byte of delta-coded positions.
const DELTAS: u8 = 0;
/// Format byte of a bitmap of positions.
const BITMAP: u8 = 1;

/// The kept values of a vector of `len` values; all others are zero.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseVector {
    len: usize,
    indices: Vec<u32>,
    values: Vec<f32>,
}

/// Keeps the `k` values of largest magnitude (ties go to the lower index).
/// `k = 0` keeps nothing and `k >= values.len()` keeps everything. The
/// selection is `select_nth_unstable`, linear on average, not a sort.
pub fn top_k(values: &[f32], k: usize) -> Result<SparseVector, CompressError> {
    crate::check_finite(values)?;
    let len = values.len();
    if len as u64 > MAX_VALUES {
        return Err(CompressError::InvalidHeader {
            field: "vector length",
            value: len as u64,
        });
    }
    let mut order: Vec<u32> = (0..len as u32).collect();
    if k < len {
        let larger_first = |a: &u32, b: &u32| {
            let (x, y) = (values[*a as usize].abs(), values[*b as usize].abs());
            y.partial_cmp(&x).unwrap_or(Ordering::Equal).then(a.cmp(b))
        };
        if k > 0 {
            order.select_nth_unstable_by(k - 1, larger_first);
        }
        order.truncate(k);
        order.sort_unstable();
    }
    let kept = order.iter().map(|&index| values[index as usize]).collect();
    Ok(SparseVector {
        len,
        indices: order,
        values: kept,
    })
}

impl SparseVector {
    /// Builds a vector from positions (increasing, below `len`) and their
    /// values; the callers in this crate guarantee both.
    pub(crate) fn from_parts(len: usize, indices: Vec<u32>, values: Vec<f32>) -> Self {
        Self {
            len,
            indices,
            values,
        }
    }

    /// Length of the dense vector.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a vector of length 0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Positions kept, increasing.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// Values kept, in the order of [`Self::indices`].
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Returns the dense vector, zero where nothing was kept.
    pub fn to_dense(&self) -> Vec<f32> {
        let mut dense = vec![0.0; self.len];
        for (&index, &value) in self.indices.iter().zip(&self.values) {
            dense[index as usize] = value;
        }
        dense
    }

    /// Encodes the vector, choosing the smaller position format.
    pub fn encode(&self) -> Vec<u8> {
        let mut deltas = Vec::new();
        let mut previous = 0u64;
        for (position, &index) in self.indices.iter().enumerate() {
            let index = u64::from(index);
            // The first position is absolute, the others are gaps minus one.
            let gap = if position == 0 {
                index
            } else {
                index - previous - 1
            };
            write_varint(&mut deltas, gap);
            previous = index;
        }
        let bitmap_len = self.len.div_ceil(8);
        let mut out = Vec::with_capacity(16 + deltas.len().min(bitmap_len) + 4 * self.values.len());
        write_varint(&mut out, self.len as u64);
        write_varint(&mut out, self.indices.len() as u64);
        if deltas.len() <= bitmap_len {
            out.push(DELTAS);
            out.extend_from_slice(&deltas);
        } else {
            out.push(BITMAP);
            let start = out.len();
            out.resize(start + bitmap_len, 0);
            for &index in &self.indices {
                out[start + index as usize / 8] |= 1 << (index % 8);
            }
        }
        for value in &self.values {
            out.extend_from_slice(&value.to_le_bytes());
        }
        out
    }

    /// Decodes untrusted bytes written by [`Self::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, CompressError> {
        let mut reader = Reader::new(bytes);
        // Every kept value needs 4 bytes after the positions.
        let (len, indices) = read_positions(&mut reader, 4)?;
        let values = reader.finite_f32s(indices.len())?;
        reader.finish()?;
        Ok(Self {
            len,
            indices,
            values,
        })
    }

    /// Encodes only the length and the positions, for a codec chain that
    /// sends the kept values in another form.
    pub(crate) fn encode_positions(len: usize, indices: &[u32]) -> Vec<u8> {
        let encoded = Self::from_parts(len, indices.to_vec(), vec![0.0; indices.len()]).encode();
        encoded[..encoded.len() - 4 * indices.len()].to_vec()
    }

    /// Decodes what [`Self::encode_positions`] wrote at the start of
    /// `bytes` for a vector of `len` values; returns the positions and the
    /// bytes read.
    pub(crate) fn decode_positions(
        bytes: &[u8],
        len: usize,
    ) -> Result<(Vec<u32>, usize), CompressError> {
        let mut reader = Reader::new(bytes);
        let (declared, indices) = read_positions(&mut reader, 0)?;
        if declared != len {
            return Err(CompressError::LengthMismatch {
                expected: len,
                actual: declared,
            });
        }
        Ok((indices, bytes.len() - reader.remaining()))
    }
}

/// Reads the length, count, format and positions; `value_bytes` is the
/// size of each kept value that must follow, checked before allocating.
fn read_positions(
    reader: &mut Reader<'_>,
    value_bytes: u64,
) -> Result<(usize, Vec<u32>), CompressError> {
    let (len, count) = reader.length_and_count()?;
    // Each delta takes at least a byte and each value `value_bytes`, so a
    // count the bytes cannot hold fails before anything is allocated.
    let remaining = reader.remaining() as u64;
    if count.saturating_mul(value_bytes) > remaining {
        return Err(CompressError::Truncated {
            offset: 0,
            needed: (count * value_bytes) as usize,
            available: remaining as usize,
        });
    }
    let count = count as usize;
    let mut indices = Vec::new();
    match reader.u8()? {
        DELTAS => {
            if count > reader.remaining() {
                return Err(CompressError::Truncated {
                    offset: 0,
                    needed: count,
                    available: reader.remaining(),
                });
            }
            indices.reserve(count);
            let mut next = 0u64;
            for _ in 0..count {
                let index = next
                    .checked_add(reader.varint()?)
                    .filter(|&index| index < len)
                    .ok_or(CompressError::IndexOutOfRange { index: next, len })?;
                indices.push(index as u32);
                next = index + 1;
            }
        }
        BITMAP => {
            let bitmap = reader.take(len.div_ceil(8) as usize)?;
            for (byte_index, &byte) in bitmap.iter().enumerate() {
                for bit in 0..8 {
                    if byte & (1 << bit) == 0 {
                        continue;
                    }
                    let index = byte_index as u64 * 8 + bit;
                    if index >= len {
                        return Err(CompressError::IndexOutOfRange { index, len });
                    }
                    indices.push(index as u32);
                }
            }
            if indices.len() != count {
                return Err(CompressError::InvalidHeader {
                    field: "bitmap population (differs from the kept count)",
                    value: indices.len() as u64,
                });
            }
        }
        other => {
            return Err(CompressError::InvalidHeader {
                field: "position format",
                value: u64::from(other),
            });
        }
    }
    Ok((len as usize, indices))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keeps_largest_magnitudes_with_negatives() {
        let sparse = top_k(&[0.5, -4.0, 3.0, -0.1, 2.0], 2).unwrap();
        assert_eq!(sparse.indices(), [1, 2]);
        assert_eq!(sparse.values(), [-4.0, 3.0]);
        assert_eq!(sparse.to_dense(), [0.0, -4.0, 3.0, 0.0, 0.0]);
    }

    #[test]
    fn zero_keeps_nothing_and_large_k_keeps_all() {
        let values = [1.0, -2.0, 3.0];
        assert!(top_k(&values, 0).unwrap().indices().is_empty());
        assert_eq!(top_k(&values, 3).unwrap().to_dense(), values);
        assert_eq!(top_k(&values, 10).unwrap().to_dense(), values);
    }

    #[test]
    fn ties_go_to_the_lower_index() {
        let sparse = top_k(&[1.0, -1.0, 1.0], 2).unwrap();
        assert_eq!(sparse.indices(), [0, 1]);
    }

    #[test]
    fn non_finite_input_is_rejected() {
        let err = top_k(&[1.0, f32::NEG_INFINITY], 1).unwrap_err();
        assert!(
            matches!(err, CompressError::NonFinite { index: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn dense_selection_uses_a_bitmap() {
        let values: Vec<f32> = (0..64).map(|i| i as f32).collect();
        let bytes = top_k(&values, 40).unwrap().encode();
        // varint(64), varint(40), format, 8 bitmap bytes, 40 values.
        assert_eq!(bytes[2], BITMAP);
        assert_eq!(bytes.len(), 3 + 8 + 160);
        let sparse = top_k(&values, 2).unwrap().encode();
        assert_eq!(sparse[2], DELTAS);
    }

    #[test]
    fn malformed_bytes_give_errors() {
        let good = top_k(&[5.0, 0.0, 0.0, 7.0, 1.0], 2).unwrap().encode();
        for len in 0..good.len() {
            assert!(SparseVector::decode(&good[..len]).is_err(), "prefix {len}");
        }
        let mut trailing = good.clone();
        trailing.push(1);
        assert_eq!(
            SparseVector::decode(&trailing),
            Err(CompressError::Trailing(1))
        );
        // Length 5, two values, deltas: 4 then 0 puts the second at 5.
        let mut out_of_range = vec![5, 2, DELTAS, 4, 0];
        out_of_range.extend_from_slice(&[0; 8]);
        assert!(matches!(
            SparseVector::decode(&out_of_range),
            Err(CompressError::IndexOutOfRange { .. })
        ));
        // More kept values than the length.
        assert!(SparseVector::decode(&[2, 3, DELTAS]).is_err());
        // A bitmap whose population differs from the count.
        let mut population = vec![8, 1, BITMAP, 0b11];
        population.extend_from_slice(&[0; 4]);
        assert!(SparseVector::decode(&population).is_err());
        // A bit past the length.
        let mut past = vec![3, 1, BITMAP, 0b1000];
        past.extend_from_slice(&[0; 4]);
        assert!(matches!(
            SparseVector::decode(&past),
            Err(CompressError::IndexOutOfRange { index: 3, len: 3 })
        ));
        assert!(SparseVector::decode(&[1, 0, 7]).is_err(), "unknown format");
    }

    proptest! {
        #[test]
        fn top_k_round_trips_and_keeps_the_largest(
            values in proptest::collection::vec(-100f32..100.0, 0..200),
            k in 0usize..250,
        ) {
            let sparse = top_k(&values, k).unwrap();
            prop_assert_eq!(sparse.indices().len(), k.min(values.len()));
            let decoded = SparseVector::decode(&sparse.encode()).unwrap();
            prop_assert_eq!(&decoded, &sparse);
            let smallest_kept = sparse.values().iter().fold(f32::INFINITY, |m, v| m.min(v.abs()));
            for (index, value) in values.iter().enumerate() {
                if !sparse.indices().contains(&(index as u32)) {
                    prop_assert!(value.abs() <= smallest_kept);
                }
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = SparseVector::decode(&bytes);
        }
    }
}
