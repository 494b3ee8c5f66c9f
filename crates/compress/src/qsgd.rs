//! QSGD (Alistarh et al. 2017, "QSGD: Communication-Efficient SGD via
//! Gradient Quantization and Encoding"): each value becomes its vector's L2
//! norm times its sign times a level in `{0, 1/s, ..., 1}`, rounded
//! stochastically so the result is unbiased. Its variance is at most
//! `min(n / s^2, sqrt(n) / s) * ||v||^2` for `n` values.
//!
//! Layout: `s` and `n` (LEB128), the norm (`f32`, little endian), then per
//! value the Elias-gamma code of `level + 1` followed, for a non-zero level,
//! by a sign bit (1 for negative). Small levels, the common case, take one
//! to three bits.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::CompressError;
use crate::bits::{BitReader, BitWriter};
use crate::varint::{MAX_VALUES, Reader, write_varint};

/// Maximum number of levels.
const MAX_LEVELS: u64 = 1 << 16;

/// A QSGD configuration with `s` levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Qsgd {
    levels: u32,
}

impl Qsgd {
    /// Creates a QSGD codec with `levels` (s) levels, 1 to 65,536.
    pub fn new(levels: u32) -> Result<Self, CompressError> {
        if levels == 0 || u64::from(levels) > MAX_LEVELS {
            return Err(CompressError::InvalidHeader {
                field: "QSGD levels (use 1 to 65536)",
                value: u64::from(levels),
            });
        }
        Ok(Self { levels })
    }

    /// Levels s.
    pub fn levels(&self) -> u32 {
        self.levels
    }

    /// Returns the bound on `E ||Q(v) - v||^2 / ||v||^2` for `len` values.
    pub fn variance_bound(&self, len: usize) -> f64 {
        let n = len as f64;
        let s = f64::from(self.levels);
        (n / (s * s)).min(n.sqrt() / s)
    }

    /// Encodes `values` with rounding drawn from a ChaCha8 stream seeded
    /// with `seed`.
    pub fn encode(&self, values: &[f32], seed: u64) -> Result<Vec<u8>, CompressError> {
        crate::check_finite(values)?;
        let norm = values
            .iter()
            .map(|&value| f64::from(value) * f64::from(value))
            .sum::<f64>()
            .sqrt();
        let mut out = Vec::new();
        write_varint(&mut out, u64::from(self.levels));
        write_varint(&mut out, values.len() as u64);
        out.extend_from_slice(&(norm as f32).to_le_bytes());

        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut bits = BitWriter::new();
        let levels = f64::from(self.levels);
        for &value in values {
            let level = if norm > 0.0 {
                let ratio = (f64::from(value).abs() / norm * levels).min(levels);
                let floor = ratio.floor();
                let up = rng.random::<f64>() < ratio - floor;
                (floor as u32 + u32::from(up)).min(self.levels)
            } else {
                0
            };
            bits.gamma(level + 1);
            if level > 0 {
                bits.bit(value < 0.0);
            }
        }
        out.extend_from_slice(&bits.into_bytes());
        Ok(out)
    }
}

/// Decodes a message written by [`Qsgd::encode`].
pub fn qsgd_decode(bytes: &[u8]) -> Result<Vec<f32>, CompressError> {
    let mut reader = Reader::new(bytes);
    let levels = reader.varint_in("QSGD levels", 1..=MAX_LEVELS)?;
    let count = reader.varint_in("value count", 0..=MAX_VALUES)?;
    let norm = reader.f32()?;
    if !(norm.is_finite() && norm >= 0.0) {
        return Err(CompressError::InvalidScale {
            chunk: 0,
            value: norm,
        });
    }
    let body = reader.take(reader.remaining())?;
    // Every value takes at least one bit, so a count the body cannot hold
    // fails before anything is allocated.
    if count > body.len() as u64 * 8 {
        return Err(CompressError::Truncated {
            offset: bytes.len() - body.len(),
            needed: count.div_ceil(8) as usize,
            available: body.len(),
        });
    }
    let mut bits = BitReader::new(body);
    let mut values = Vec::with_capacity(count as usize);
    let step = f64::from(norm) / levels as f64;
    for _ in 0..count {
        let level = u64::from(bits.gamma()?) - 1;
        if level > levels {
            return Err(CompressError::InvalidHeader {
                field: "QSGD level (above s)",
                value: level,
            });
        }
        let magnitude = (level as f64 * step) as f32;
        let negative = level > 0 && bits.bit()?;
        values.push(if negative { -magnitude } else { magnitude });
    }
    let extra = body.len() - bits.bytes_used();
    if extra > 0 {
        return Err(CompressError::Trailing(extra));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(levels: u32, values: &[f32], seed: u64) -> Vec<f32> {
        qsgd_decode(&Qsgd::new(levels).unwrap().encode(values, seed).unwrap()).unwrap()
    }

    fn norm(values: &[f32]) -> f64 {
        values
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt()
    }

    #[test]
    fn zero_vector_stays_zero() {
        assert_eq!(round_trip(4, &[0.0; 7], 1), [0.0; 7]);
        assert!(round_trip(4, &[], 1).is_empty());
    }

    #[test]
    fn one_non_zero_value_is_exact() {
        // |v_i| / ||v|| = 1 is the top level, so no rounding happens.
        assert_eq!(round_trip(3, &[0.0, -2.5, 0.0], 7), [0.0, -2.5, 0.0]);
    }

    #[test]
    fn stochastic_levels_are_unbiased() {
        let values = [0.3f32, -0.5, 0.8, 0.1];
        let draws = 20_000u64;
        let mut sums = [0.0f64; 4];
        for seed in 0..draws {
            for (sum, decoded) in sums.iter_mut().zip(round_trip(2, &values, seed)) {
                *sum += f64::from(decoded);
            }
        }
        // One step is ||v|| / s = 0.5; the standard error of the mean is
        // below 0.5 / sqrt(20,000) = 0.0036, so 0.02 allows 5.5 of them.
        for (sum, value) in sums.iter().zip(values) {
            let mean = sum / draws as f64;
            assert!((mean - f64::from(value)).abs() < 0.02, "{value}: {mean}");
        }
    }

    #[test]
    fn variance_stays_within_the_bound() {
        let values: Vec<f32> = (0..256)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let squared_norm = norm(&values).powi(2);
        for levels in [1, 4, 16] {
            let codec = Qsgd::new(levels).unwrap();
            let draws = 300;
            let mut total = 0.0;
            for seed in 0..draws {
                let decoded = round_trip(levels, &values, seed);
                total += decoded
                    .iter()
                    .zip(&values)
                    .map(|(d, v)| f64::from(d - v).powi(2))
                    .sum::<f64>();
            }
            let ratio = total / draws as f64 / squared_norm;
            assert!(
                ratio <= codec.variance_bound(values.len()),
                "s = {levels}: {ratio} above {}",
                codec.variance_bound(values.len())
            );
        }
    }

    #[test]
    fn malformed_bytes_give_errors() {
        let good = Qsgd::new(4).unwrap().encode(&[1.0, -2.0, 0.5], 3).unwrap();
        let mut bad_levels = good.clone();
        bad_levels[0] = 0;
        assert!(qsgd_decode(&bad_levels).is_err());
        let mut bad_norm = good.clone();
        bad_norm[2..6].copy_from_slice(&(-1.0f32).to_le_bytes());
        assert!(matches!(
            qsgd_decode(&bad_norm),
            Err(CompressError::InvalidScale { .. })
        ));
        let mut trailing = good.clone();
        trailing.push(0xff);
        assert!(qsgd_decode(&trailing).is_err());
        for len in 0..6 {
            assert!(qsgd_decode(&good[..len]).is_err(), "prefix {len}");
        }
        // A level above s: s = 1, one value with gamma(3) = 011.
        let mut above = vec![1, 1];
        above.extend_from_slice(&1.0f32.to_le_bytes());
        above.push(0b110);
        assert!(matches!(
            qsgd_decode(&above),
            Err(CompressError::InvalidHeader { .. })
        ));
        assert!(Qsgd::new(0).is_err());
        assert!(Qsgd::new(u32::MAX).is_err());
    }

    #[test]
    fn non_finite_input_is_rejected() {
        let err = Qsgd::new(4).unwrap().encode(&[f32::NAN], 1).unwrap_err();
        assert!(matches!(err, CompressError::NonFinite { index: 0, .. }));
    }

    proptest! {
        #[test]
        fn values_are_within_one_step(
            values in proptest::collection::vec(-1e3f32..1e3, 0..200),
            levels in 1u32..64,
            seed in any::<u64>(),
        ) {
            let decoded = round_trip(levels, &values, seed);
            prop_assert_eq!(decoded.len(), values.len());
            let step = norm(&values) / f64::from(levels);
            for (decoded, value) in decoded.iter().zip(&values) {
                prop_assert!(f64::from(decoded - value).abs() <= step * 1.0001 + 1e-6);
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = qsgd_decode(&bytes);
        }
    }
}
