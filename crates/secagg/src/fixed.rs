//! Fixed-point encoding of an update for the ring: values are clipped to
//! [−R, R], shifted to [0, 2R] and quantized to `value_bits` with stochastic
//! rounding (unbiased), then multiplied by the client's weight. The vector
//! ends with the weight and the count of clipped values, so the sum carries
//! the total weight and the total count, never one client's.

use crate::params::SecureParams;
use crate::ring::Ring;
use crate::{SecAggError, keys, prg};

/// Values rounded per batch of random draws.
const RANDOM_BATCH: usize = 1024;

/// 2^32, the resolution of a rounding draw.
const TWO_TO_32: f64 = 4_294_967_296.0;

/// 2^52: adding it to a float in [0, 2^51) leaves the integer part in the
/// low mantissa bits. The helpers below use this instead of conversion
/// instructions, so that the encoding loop runs on vector registers.
const MAGIC: f64 = 4_503_599_627_370_496.0;

/// `x.floor()` for 0 ≤ x < 2^51.
#[inline(always)]
fn floor_small(x: f64) -> f64 {
    let nearest = (x + MAGIC) - MAGIC;
    if nearest > x { nearest - 1.0 } else { nearest }
}

/// Converts a whole float in [0, 2^51) to an integer.
#[inline(always)]
fn small_to_u64(x: f64) -> u64 {
    (x + MAGIC).to_bits() - MAGIC.to_bits()
}

/// Converts an integer below 2^51 to a float.
#[inline(always)]
fn small_to_f64(n: u64) -> f64 {
    f64::from_bits(MAGIC.to_bits() | n) - MAGIC
}

/// The quantizer shared by clients and the server of a round.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedPoint {
    clip_range: f64,
    levels: u64,
}

/// A client's encoded vector and what the encoding did.
#[derive(Clone, Debug, PartialEq)]
pub struct Encoded {
    /// `len + 2` ring elements: weighted values, weight, clipped count.
    pub values: Vec<u64>,
    /// Values that were outside [−R, R].
    pub clipped: u64,
}

/// A client's encoded vector in packed form, and what the encoding did.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedEncoded {
    /// `len + 2` ring elements packed as [`Ring::pack`] lays them out.
    pub bytes: Vec<u8>,
    /// Values that were outside [−R, R].
    pub clipped: u64,
}

/// The decoded aggregate.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// The weighted sum of the clients' (clipped, quantized) values.
    pub sum: Vec<f64>,
    /// The sum of the clients' weights.
    pub total_weight: u64,
    /// Values clipped across all clients.
    pub clipped: u64,
}

impl Decoded {
    /// The weighted mean, or `None` when the total weight is 0.
    pub fn mean(&self) -> Option<Vec<f32>> {
        if self.total_weight == 0 {
            return None;
        }
        let weight = self.total_weight as f64;
        Some(self.sum.iter().map(|s| (s / weight) as f32).collect())
    }
}

impl FixedPoint {
    /// The quantizer of `params`.
    pub fn new(params: &SecureParams) -> Self {
        Self::with(params.clip_range, params.value_bits)
    }

    /// A quantizer for range R and `value_bits` bits.
    pub fn with(clip_range: f64, value_bits: u8) -> Self {
        Self {
            clip_range,
            levels: (1u64 << value_bits.clamp(1, 32)) - 1,
        }
    }

    /// Width of one quantization step, `2R / (2^bits − 1)`.
    pub fn step(&self) -> f64 {
        2.0 * self.clip_range / self.levels as f64
    }

    /// Encodes `values` with `weight`, drawing the rounding from `seed`.
    pub fn encode(&self, values: &[f32], weight: u64, seed: u64) -> Result<Encoded, SecAggError> {
        let mut out = Vec::with_capacity(values.len() + 2);
        let clipped = self.encode_batches(values, weight, seed, |batch| {
            out.extend_from_slice(batch);
        })?;
        out.extend_from_slice(&[weight, clipped]);
        Ok(Encoded {
            values: out,
            clipped,
        })
    }

    /// Encodes like [`FixedPoint::encode`], straight into the packed form of
    /// `ring` ([`Ring::pack`]) that a masking client masks and sends. The
    /// same seed gives the same elements.
    pub fn encode_packed(
        &self,
        ring: Ring,
        values: &[f32],
        weight: u64,
        seed: u64,
    ) -> Result<PackedEncoded, SecAggError> {
        let mut bytes = Vec::with_capacity((values.len() + 2) * ring.element_bytes());
        let clipped = self.encode_batches(values, weight, seed, |batch| {
            ring.pack_extend(batch, &mut bytes);
        })?;
        ring.pack_extend(&[weight, clipped], &mut bytes);
        Ok(PackedEncoded { bytes, clipped })
    }

    /// Quantizes `values` a batch at a time, hands each batch of weighted
    /// levels to `emit`, and returns the count of clipped values.
    fn encode_batches(
        &self,
        values: &[f32],
        weight: u64,
        seed: u64,
        mut emit: impl FnMut(&[u64]),
    ) -> Result<u64, SecAggError> {
        let mut draw_words = prg::Words::new(&keys::derive(&seed.to_le_bytes(), b"rounding"));

        let range = self.clip_range;
        let top = self.levels as f64;
        let scale = top / (2.0 * range);
        let mut clipped = 0u64;
        let mut finite = true;
        let mut draws = [0u32; RANDOM_BATCH];
        let mut batch = [0u64; RANDOM_BATCH];

        for chunk in values.chunks(RANDOM_BATCH) {
            let draws = &mut draws[..chunk.len()];
            let batch = &mut batch[..chunk.len()];
            draw_words.fill(draws);
            let mut chunk_clipped = 0u64;
            let mut chunk_finite = true;
            // Local counters and fixed-size buffers keep this loop free of
            // dependencies between values, so it compiles to vector code.
            for ((&value, &draw), level) in chunk.iter().zip(draws.iter()).zip(batch.iter_mut()) {
                chunk_finite &= value.is_finite();
                let value = f64::from(value);
                chunk_clipped += u64::from(value.abs() > range);
                // In [0, levels], and levels < 2^33.
                let position = ((value.clamp(-range, range) + range) * scale).min(top);
                let floor = floor_small(position);
                // Round up with probability equal to the fraction, compared
                // at 32-bit resolution.
                let up = small_to_f64(u64::from(draw)) < (position - floor) * TWO_TO_32;
                *level = small_to_u64(floor) + u64::from(up);
            }
            if weight != 1 {
                for level in batch.iter_mut() {
                    *level = level.wrapping_mul(weight);
                }
            }
            emit(batch);
            clipped += chunk_clipped;
            finite &= chunk_finite;
        }
        // Checked in the same pass; the position is found only on failure.
        if !finite
            && let Some((index, value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite())
        {
            return Err(SecAggError::NonFinite {
                index,
                value: *value,
            });
        }
        Ok(clipped)
    }

    /// Decodes an unmasked sum of encoded vectors of `len` values.
    pub fn decode(&self, sum: &[u64], len: usize) -> Result<Decoded, SecAggError> {
        if sum.len() != len + 2 {
            return Err(SecAggError::BadInput(format!(
                "the sum has {} elements, expected {}",
                sum.len(),
                len + 2
            )));
        }
        let total_weight = sum[len];
        let step = self.step();
        let offset = total_weight as f64 * self.clip_range;
        Ok(Decoded {
            sum: sum[..len]
                .iter()
                .map(|&s| s as f64 * step - offset)
                .collect(),
            total_weight,
            clipped: sum[len + 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_encoding_matches_packed_encode() {
        let fixed = FixedPoint::with(2.0, 22);
        let values: Vec<f32> = (0..3000).map(|i| (i as f32 - 1500.0) / 500.0).collect();
        for bits in [24u8, 32, 48] {
            let ring = Ring::new(bits).unwrap();
            let plain = fixed.encode(&values, 3, 11).unwrap();
            let packed = fixed.encode_packed(ring, &values, 3, 11).unwrap();
            assert_eq!(packed.clipped, plain.clipped);
            assert_eq!(packed.bytes, ring.pack(&plain.values), "{bits} bits");
        }
        assert!(
            fixed
                .encode_packed(Ring::new(32).unwrap(), &[1.0, f32::INFINITY], 1, 0)
                .is_err()
        );
    }

    #[test]
    fn float_tricks_match_the_conversions() {
        let top = ((1u64 << 33) - 1) as f64;
        for x in [
            0.0,
            0.25,
            0.5,
            0.999_999,
            1.0,
            1.5,
            2.5,
            3.5,
            1e6 + 0.5,
            top - 0.5,
            top,
        ] {
            assert_eq!(floor_small(x), x.floor(), "{x}");
            assert_eq!(small_to_u64(x.floor()), x.floor() as u64, "{x}");
        }
        for n in [0u64, 1, 12_345, u64::from(u32::MAX), 1 << 40] {
            assert_eq!(small_to_f64(n), n as f64, "{n}");
        }
    }

    fn sum(vectors: &[Vec<u64>]) -> Vec<u64> {
        let mut acc = vec![0u64; vectors[0].len()];
        for v in vectors {
            for (a, b) in acc.iter_mut().zip(v) {
                *a += b;
            }
        }
        acc
    }

    #[test]
    fn sums_decode_within_one_step_per_client() {
        let fixed = FixedPoint::with(1.0, 16);
        let step = fixed.step();
        let encode = |v: f32, seed| fixed.encode(&[v], 1, seed).unwrap().values;
        let three = [encode(0.25, 1), encode(0.5, 2), encode(-0.75, 3)];
        let decoded = fixed.decode(&sum(&three), 1).unwrap();
        assert_eq!(decoded.total_weight, 3);
        assert!(decoded.sum[0].abs() <= 3.0 * step, "{}", decoded.sum[0]);
        let four = [
            three[0].clone(),
            three[1].clone(),
            three[2].clone(),
            encode(1.0, 4),
        ];
        let decoded = fixed.decode(&sum(&four), 1).unwrap();
        assert!(
            (decoded.sum[0] - 1.0).abs() <= 4.0 * step,
            "{}",
            decoded.sum[0]
        );
        let mean = decoded.mean().unwrap()[0];
        assert!((f64::from(mean) - 0.25).abs() <= step, "{mean}");
    }

    #[test]
    fn weights_scale_values_and_are_summed() {
        let fixed = FixedPoint::with(2.0, 12);
        let a = fixed.encode(&[1.0, -1.0], 3, 1).unwrap().values;
        let b = fixed.encode(&[-1.0, 0.5], 1, 2).unwrap().values;
        let decoded = fixed.decode(&sum(&[a, b]), 2).unwrap();
        assert_eq!(decoded.total_weight, 4);
        let mean = decoded.mean().unwrap();
        // (3·1 − 1) / 4 = 0.5 and (−3 + 0.5) / 4 = −0.625.
        assert!((mean[0] - 0.5).abs() < 1e-3, "{mean:?}");
        assert!((mean[1] + 0.625).abs() < 1e-3, "{mean:?}");
    }

    #[test]
    fn clipped_values_are_counted() {
        let fixed = FixedPoint::with(1.0, 8);
        let encoded = fixed.encode(&[3.0, -0.5, -7.0, 1.0], 1, 0).unwrap();
        assert_eq!(encoded.clipped, 2);
        assert_eq!(encoded.values[5], 2);
        let decoded = fixed.decode(&encoded.values, 4).unwrap();
        assert_eq!(decoded.clipped, 2);
        assert!((decoded.sum[0] - 1.0).abs() < 1e-12);
        assert!((decoded.sum[2] + 1.0).abs() < 1e-12);
    }

    #[test]
    fn rounding_is_unbiased() {
        let fixed = FixedPoint::with(1.0, 4);
        let value = 0.123f32;
        let runs = 20_000;
        let total: f64 = (0..runs)
            .map(|seed| {
                fixed
                    .decode(&fixed.encode(&[value], 1, seed).unwrap().values, 1)
                    .unwrap()
                    .sum[0]
            })
            .sum();
        let mean = total / runs as f64;
        // One step is 2/15; the standard error of the mean is below
        // step / (2 sqrt(runs)) ≈ 0.0005.
        assert!((mean - 0.123).abs() < 0.003, "{mean}");
    }

    #[test]
    fn non_finite_values_are_refused() {
        let fixed = FixedPoint::with(1.0, 8);
        assert_eq!(
            fixed
                .encode(&[0.0, f32::NAN], 1, 0)
                .unwrap_err()
                .to_string(),
            "value 1 of the update is NaN; only finite values can be aggregated"
        );
        assert!(fixed.encode(&[f32::NEG_INFINITY], 1, 0).is_err());
    }
}
