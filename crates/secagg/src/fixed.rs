//! Fixed-point encoding of an update for the ring: values are clipped to
//! [−R, R], shifted to [0, 2R] and quantized to `value_bits` with stochastic
//! rounding (unbiased), then multiplied by the client's weight. The vector
//! ends with the weight and the count of clipped values, so the sum carries
//! the total weight and the total count, never one client's.

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use crate::SecAggError;
use crate::params::SecureParams;

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
        if let Some((index, value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(SecAggError::NonFinite {
                index,
                value: *value,
            });
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let range = self.clip_range;
        let scale = self.levels as f64 / (2.0 * range);
        let mut clipped = 0u64;
        let mut out = Vec::with_capacity(values.len() + 2);
        for &value in values {
            let value = f64::from(value);
            if value.abs() > range {
                clipped += 1;
            }
            let position = (value.clamp(-range, range) + range) * scale;
            let floor = position.floor();
            // Round up with probability equal to the fraction, compared at
            // 32-bit resolution.
            let up = f64::from(rng.next_u32()) < (position - floor) * 4_294_967_296.0;
            let level = (floor as u64 + u64::from(up)).min(self.levels);
            out.push(level.wrapping_mul(weight));
        }
        out.push(weight);
        out.push(clipped);
        Ok(Encoded {
            values: out,
            clipped,
        })
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
