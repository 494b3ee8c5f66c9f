//! Uniform quantization to 8, 4 or 2 bits with stochastic rounding and one
//! scale per chunk of values.
//!
//! A chunk of values `x` with `m = max |x|` gets the step `s = m / L`, where
//! `L = 2^(bits-1) - 1` (127, 7 or 1). Each value becomes the integer
//! `q = floor(x / s)` or `q + 1`, the upper one with probability equal to the
//! fractional part, so `E[q * s] = x`: the rounding is unbiased (to within
//! 2^-15 of a step, the resolution of the draws). Every
//! decoded value is within one step `s` of its input, and one outlier only
//! widens the step of its own chunk.
//!
//! Layout: `bits` (u8), chunk size and value count (LEB128), one `f32`
//! scale per chunk (little endian), then the codes `q + L`, packed
//! `8 / bits` to a byte, low bits first.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::CompressError;
use crate::varint::{MAX_CHUNK, MAX_VALUES, Reader, write_varint};

/// A quantizer configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantizer {
    bits: u8,
    chunk: usize,
}

impl Quantizer {
    /// Creates a quantizer to `bits` bits (2, 4 or 8) with one scale per
    /// `chunk` values.
    pub fn new(bits: u8, chunk: usize) -> Result<Self, CompressError> {
        if !matches!(bits, 2 | 4 | 8) {
            return Err(CompressError::UnsupportedBits(bits));
        }
        if chunk == 0 || chunk as u64 > MAX_CHUNK {
            return Err(CompressError::ChunkSize(chunk));
        }
        Ok(Self { bits, chunk })
    }

    /// Bits per value.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// Values per scale.
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// Encodes `values`, drawing the rounding from a ChaCha8 stream seeded
    /// with `seed`, so the same input and seed give the same bytes.
    pub fn encode(&self, values: &[f32], seed: u64) -> Result<Vec<u8>, CompressError> {
        crate::check_finite(values)?;
        let levels = max_level(self.bits);
        let chunks = values.len().div_ceil(self.chunk);
        let per_byte = usize::from(8 / self.bits);
        let mut out = Vec::with_capacity(16 + 4 * chunks + values.len().div_ceil(per_byte));
        out.push(self.bits);
        write_varint(&mut out, self.chunk as u64);
        write_varint(&mut out, values.len() as u64);

        let scales: Vec<f32> = values
            .chunks(self.chunk)
            .map(|chunk| scale_of(chunk, levels))
            .collect();
        for scale in &scales {
            out.extend_from_slice(&scale.to_le_bytes());
        }

        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Random words are drawn a chunk at a time, each giving two 16-bit
        // draws, and codes are packed after the loop, which keeps the loop
        // free of calls and branches.
        let mut words = vec![0u32; self.chunk.min(values.len()).div_ceil(2)];
        let mut codes = vec![levels as u8; values.len()];
        let code_chunks = codes.chunks_mut(self.chunk);
        for ((chunk, codes), &scale) in values.chunks(self.chunk).zip(code_chunks).zip(&scales) {
            if scale == 0.0 {
                // An all-zero chunk: every code is the zero level.
                continue;
            }
            let words = &mut words[..chunk.len().div_ceil(2)];
            rng.fill(words);
            let draws = words
                .iter()
                .flat_map(|word| [*word & 0xffff, *word >> 16])
                .map(|half| half as f32 * (1.0 / 65536.0));
            // Multiplying by the inverse is faster than dividing, unless the
            // step is so small that its inverse overflows.
            let inverse = 1.0 / scale;
            if inverse.is_finite() {
                for ((code, &value), draw) in codes.iter_mut().zip(chunk).zip(draws) {
                    *code = (round_stochastic(value * inverse, draw, levels) + levels) as u8;
                }
            } else {
                for ((code, &value), draw) in codes.iter_mut().zip(chunk).zip(draws) {
                    *code = (round_stochastic(value / scale, draw, levels) + levels) as u8;
                }
            }
        }
        // Each code is in 0..=2 * levels, which fits `bits`.
        if self.bits == 8 {
            out.extend_from_slice(&codes);
        } else {
            let mut packer = Packer::new(self.bits, &mut out);
            for code in codes {
                packer.push(code);
            }
            packer.finish();
        }
        Ok(out)
    }
}

/// Largest code magnitude for `bits`: 127, 7 or 1.
fn max_level(bits: u8) -> i32 {
    (1 << (bits - 1)) - 1
}

/// Step of a chunk: its largest magnitude over the largest level, never 0
/// for a chunk with a non-zero value (a value too small for the division
/// gets its own magnitude as the step).
fn scale_of(chunk: &[f32], levels: i32) -> f32 {
    let max = chunk.iter().fold(0.0f32, |max, value| max.max(value.abs()));
    let scale = (f64::from(max) / f64::from(levels)) as f32;
    if scale == 0.0 && max > 0.0 {
        max
    } else {
        scale
    }
}

/// Offset that makes every ratio positive, so that truncation is a floor.
const SHIFT: f32 = 256.0;

/// Rounds `ratio` down or up with probability given by its fraction, using
/// the uniform draw `draw` in `[0, 1)`, and clamps to `[-levels, levels]`.
///
/// `ratio` is at most `levels + 1` in magnitude. Shifting it by 256 keeps
/// the fraction to within 2^-15, and draws come in steps of 2^-16, so the
/// rounding is unbiased to within about 2^-15 of a step.
fn round_stochastic(ratio: f32, draw: f32, levels: i32) -> i32 {
    let shifted = ratio + SHIFT;
    let floor = shifted as i32;
    let fraction = shifted - floor as f32;
    (floor - SHIFT as i32 + i32::from(draw < fraction)).clamp(-levels, levels)
}

/// Packs codes of `bits` bits into bytes, low bits first.
struct Packer<'a> {
    bits: u8,
    out: &'a mut Vec<u8>,
    current: u8,
    filled: u8,
}

impl<'a> Packer<'a> {
    fn new(bits: u8, out: &'a mut Vec<u8>) -> Self {
        Self {
            bits,
            out,
            current: 0,
            filled: 0,
        }
    }

    fn push(&mut self, code: u8) {
        self.current |= code << self.filled;
        self.filled += self.bits;
        if self.filled == 8 {
            self.out.push(self.current);
            self.current = 0;
            self.filled = 0;
        }
    }

    fn finish(self) {
        if self.filled > 0 {
            self.out.push(self.current);
        }
    }
}

/// Decodes a message written by [`Quantizer::encode`].
pub fn dequantize(bytes: &[u8]) -> Result<Vec<f32>, CompressError> {
    let mut reader = Reader::new(bytes);
    let bits = reader.u8()?;
    if !matches!(bits, 2 | 4 | 8) {
        return Err(CompressError::UnsupportedBits(bits));
    }
    let chunk = reader.varint_in("chunk size", 1..=MAX_CHUNK)?;
    let count = reader.varint_in("value count", 0..=MAX_VALUES)?;
    let chunk = chunk as usize;
    let count = count as usize;
    let chunks = count.div_ceil(chunk);
    let per_byte = usize::from(8 / bits);
    // Check the length before allocating anything sized by the header.
    let needed = 4 * chunks + count.div_ceil(per_byte);
    if reader.remaining() < needed {
        return Err(CompressError::Truncated {
            offset: bytes.len() - reader.remaining(),
            needed,
            available: reader.remaining(),
        });
    }
    let scales = reader.scales(chunks)?;
    let codes = reader.take(count.div_ceil(per_byte))?;
    reader.finish()?;

    let levels = max_level(bits);
    let mask = ((1u16 << bits) - 1) as u8;
    let mut values = Vec::with_capacity(count);
    for index in 0..count {
        let byte = codes[index / per_byte];
        let shift = (index % per_byte) as u8 * bits;
        let code = i32::from((byte >> shift) & mask);
        if code > 2 * levels {
            return Err(CompressError::InvalidHeader {
                field: "code",
                value: code as u64,
            });
        }
        values.push((code - levels) as f32 * scales[index / chunk]);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(bits: u8, chunk: usize, values: &[f32], seed: u64) -> Vec<f32> {
        let quantizer = Quantizer::new(bits, chunk).unwrap();
        dequantize(&quantizer.encode(values, seed).unwrap()).unwrap()
    }

    #[test]
    fn all_zero_tensor_stays_zero() {
        for bits in [2, 4, 8] {
            let decoded = round_trip(bits, 4, &[0.0; 10], 1);
            assert_eq!(decoded, vec![0.0; 10]);
        }
    }

    #[test]
    fn tiny_value_gets_a_finite_positive_scale() {
        let bytes = Quantizer::new(8, 1024)
            .unwrap()
            .encode(&[0.0, 1e-30, 0.0], 3)
            .unwrap();
        let scale = f32::from_le_bytes([bytes[3], bytes[4], bytes[5], bytes[6]]);
        assert!(scale.is_finite());
        assert!(scale > 0.0);
        let decoded = dequantize(&bytes).unwrap();
        assert!(decoded.iter().all(|value| value.is_finite()));
        assert!((decoded[1] - 1e-30).abs() <= scale);
        assert_eq!(decoded[0], 0.0);
        // A subnormal value whose step would underflow still decodes within
        // one step (its own magnitude).
        let decoded = round_trip(8, 8, &[1e-44, 0.0], 3);
        assert!(decoded.iter().all(|value| value.is_finite()));
        assert!((decoded[0] - 1e-44).abs() <= 1e-44);
        assert_eq!(decoded[1], 0.0);
    }

    #[test]
    fn constant_tensors_come_back_within_one_step() {
        for bits in [2, 4, 8] {
            for constant in [5.0f32, -3.0, 500.0, 0.0] {
                let values = vec![constant; 37];
                let step = constant.abs() / max_level(bits) as f32;
                for (decoded, value) in round_trip(bits, 16, &values, 9).iter().zip(&values) {
                    assert!(
                        (decoded - value).abs() <= step,
                        "{bits} bits: {value} came back as {decoded}"
                    );
                }
            }
        }
    }

    #[test]
    fn non_finite_input_is_rejected() {
        let quantizer = Quantizer::new(8, 4).unwrap();
        let err = quantizer.encode(&[1.0, f32::NAN], 1).unwrap_err();
        assert!(
            matches!(err, CompressError::NonFinite { index: 1, .. }),
            "{err}"
        );
        let err = quantizer.encode(&[f32::INFINITY], 1).unwrap_err();
        assert!(
            matches!(err, CompressError::NonFinite { index: 0, .. }),
            "{err}"
        );
    }

    #[test]
    fn bad_configs_are_rejected() {
        assert_eq!(Quantizer::new(3, 8), Err(CompressError::UnsupportedBits(3)));
        assert_eq!(Quantizer::new(8, 0), Err(CompressError::ChunkSize(0)));
        assert_eq!(
            Quantizer::new(8, 1 << 25),
            Err(CompressError::ChunkSize(1 << 25))
        );
    }

    #[test]
    fn one_outlier_widens_only_its_chunk() {
        let mut values = vec![0.01f32; 64];
        values[40] = 1000.0;
        let decoded = round_trip(8, 32, &values, 5);
        // The first chunk keeps a step of 0.01 / 127.
        for (decoded, value) in decoded[..32].iter().zip(&values[..32]) {
            assert!((decoded - value).abs() <= 0.01 / 127.0 + f32::EPSILON);
        }
    }

    #[test]
    fn sizes_match_the_layout() {
        let values = vec![0.5f32; 1000];
        for (bits, packed) in [(8, 1000), (4, 500), (2, 250)] {
            let bytes = Quantizer::new(bits, 100)
                .unwrap()
                .encode(&values, 1)
                .unwrap();
            // bits + varint(100) + varint(1000) + 10 scales + codes.
            assert_eq!(bytes.len(), 1 + 1 + 2 + 40 + packed, "{bits} bits");
        }
    }

    #[test]
    fn stochastic_rounding_is_unbiased() {
        // 0.3 steps above a level: the mean of many draws approaches it.
        let values = [0.3f32, -0.7, 1.0];
        let draws = 20_000;
        let mut sums = [0.0f64; 3];
        for seed in 0..draws {
            for (sum, decoded) in sums.iter_mut().zip(round_trip(2, 3, &values, seed)) {
                *sum += f64::from(decoded);
            }
        }
        for (sum, value) in sums.iter().zip(values) {
            let mean = sum / draws as f64;
            // Standard error of a mean of 20,000 draws of at most one step
            // (1.0) is below 0.004; 0.02 is five of them.
            assert!(
                (mean - f64::from(value)).abs() < 0.02,
                "{value}: mean {mean}"
            );
        }
    }

    #[test]
    fn malformed_bytes_give_errors() {
        let good = Quantizer::new(4, 8).unwrap().encode(&[1.0; 20], 1).unwrap();
        for len in 0..good.len() {
            assert!(dequantize(&good[..len]).is_err(), "prefix of {len} bytes");
        }
        let mut long = good.clone();
        long.push(0);
        assert_eq!(dequantize(&long), Err(CompressError::Trailing(1)));
        let mut bad_bits = good.clone();
        bad_bits[0] = 5;
        assert_eq!(
            dequantize(&bad_bits),
            Err(CompressError::UnsupportedBits(5))
        );
        let mut bad_scale = good.clone();
        bad_scale[3..7].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(matches!(
            dequantize(&bad_scale),
            Err(CompressError::InvalidScale { chunk: 0, .. })
        ));
        // A header that claims 2^32 values in 2 bytes fails before allocating.
        let mut huge = vec![8u8];
        write_varint(&mut huge, 1);
        write_varint(&mut huge, 1 << 32);
        assert!(matches!(
            dequantize(&huge),
            Err(CompressError::Truncated { .. })
        ));
    }

    #[test]
    fn code_above_range_is_rejected() {
        // 2 bits: codes 0..=2 are valid, 3 is not.
        let mut bytes = Quantizer::new(2, 4).unwrap().encode(&[1.0; 4], 1).unwrap();
        let last = bytes.len() - 1;
        bytes[last] = 0xff;
        assert!(matches!(
            dequantize(&bytes),
            Err(CompressError::InvalidHeader { field: "code", .. })
        ));
    }

    proptest! {
        #[test]
        fn decoded_values_are_within_one_step(
            values in proptest::collection::vec(-1e6f32..1e6, 0..300),
            bits in prop::sample::select(vec![2u8, 4, 8]),
            chunk in 1usize..64,
            seed in any::<u64>(),
        ) {
            let decoded = round_trip(bits, chunk, &values, seed);
            prop_assert_eq!(decoded.len(), values.len());
            for (block, decoded) in values.chunks(chunk).zip(decoded.chunks(chunk)) {
                let step = scale_of(block, max_level(bits));
                for (value, decoded) in block.iter().zip(decoded) {
                    // One step, plus float rounding of the product.
                    prop_assert!((decoded - value).abs() <= step * 1.0001 + f32::MIN_POSITIVE);
                }
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = dequantize(&bytes);
        }
    }
}
