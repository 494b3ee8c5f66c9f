//! 1-bit compression: the sign of each value and one scale per chunk, the
//! mean magnitude of the chunk (signSGD with a scale, as in 1-bit SGD and
//! EF-signSGD). It is biased, so clients pair it with [`crate::ErrorFeedback`].
//!
//! Layout: chunk size and value count (LEB128), one `f32` scale per chunk
//! (little endian), then one bit per value (1 for negative), low bits
//! first.

use crate::CompressError;
use crate::varint::{MAX_CHUNK, MAX_VALUES, Reader, write_varint};

/// Encodes the signs of `values` with one scale per `chunk` values.
pub fn sign_encode(values: &[f32], chunk: usize) -> Result<Vec<u8>, CompressError> {
    crate::check_finite(values)?;
    if chunk == 0 || chunk as u64 > MAX_CHUNK {
        return Err(CompressError::ChunkSize(chunk));
    }
    let mut out = Vec::with_capacity(8 + 4 * values.len().div_ceil(chunk) + values.len() / 8);
    write_varint(&mut out, chunk as u64);
    write_varint(&mut out, values.len() as u64);
    for block in values.chunks(chunk) {
        let mean = block
            .iter()
            .map(|value| f64::from(value.abs()))
            .sum::<f64>()
            / block.len() as f64;
        out.extend_from_slice(&(mean as f32).to_le_bytes());
    }
    let start = out.len();
    out.resize(start + values.len().div_ceil(8), 0);
    for (index, value) in values.iter().enumerate() {
        if *value < 0.0 {
            out[start + index / 8] |= 1 << (index % 8);
        }
    }
    Ok(out)
}

/// Decodes a message written by [`sign_encode`].
pub fn sign_decode(bytes: &[u8]) -> Result<Vec<f32>, CompressError> {
    let mut reader = Reader::new(bytes);
    let chunk = reader.varint_in("chunk size", 1..=MAX_CHUNK)?;
    let count = reader.varint_in("value count", 0..=MAX_VALUES)?;
    let (chunk, count) = (chunk as usize, count as usize);
    let chunks = count.div_ceil(chunk);
    let needed = 4 * chunks + count.div_ceil(8);
    if reader.remaining() < needed {
        return Err(CompressError::Truncated {
            offset: bytes.len() - reader.remaining(),
            needed,
            available: reader.remaining(),
        });
    }
    if reader.remaining() > needed {
        return Err(CompressError::Trailing(reader.remaining() - needed));
    }
    let scales = reader.scales(chunks)?;
    let signs = reader.take(count.div_ceil(8))?;
    Ok((0..count)
        .map(|index| {
            let scale = scales[index / chunk];
            if signs[index / 8] >> (index % 8) & 1 == 1 {
                -scale
            } else {
                scale
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorFeedback;

    #[test]
    fn signs_and_chunk_means_come_back() {
        let bytes = sign_encode(&[1.0, -3.0, 2.0, 0.0, -4.0], 3).unwrap();
        assert_eq!(sign_decode(&bytes).unwrap(), [2.0, -2.0, 2.0, 2.0, -2.0]);
    }

    #[test]
    fn zero_vector_decodes_to_zero() {
        let bytes = sign_encode(&[0.0; 9], 4).unwrap();
        assert_eq!(sign_decode(&bytes).unwrap(), [0.0; 9]);
    }

    #[test]
    fn error_feedback_delivers_the_sum_over_rounds() {
        // With feedback, what was sent plus the residual always equals what
        // was meant to be sent.
        let updates = [
            [0.9f32, -0.1, 0.3, 0.0],
            [0.2, 0.4, -0.6, 0.1],
            [0.0, 0.0, 0.5, -0.2],
        ];
        let mut feedback = ErrorFeedback::new(4);
        let mut sent_total = [0.0f32; 4];
        for update in &updates {
            let compensated = feedback.compensate(update).unwrap();
            let sent = sign_decode(&sign_encode(&compensated, 4).unwrap()).unwrap();
            feedback.record(&compensated, &sent).unwrap();
            for (total, value) in sent_total.iter_mut().zip(&sent) {
                *total += value;
            }
        }
        for index in 0..4 {
            let meant: f32 = updates.iter().map(|update| update[index]).sum();
            let delivered = sent_total[index] + feedback.residual()[index];
            assert!(
                (meant - delivered).abs() < 1e-5,
                "{index}: {meant} vs {delivered}"
            );
        }
    }

    #[test]
    fn malformed_bytes_give_errors() {
        let good = sign_encode(&[1.0, -1.0, 3.0], 2).unwrap();
        for len in 0..good.len() {
            assert!(sign_decode(&good[..len]).is_err(), "prefix {len}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(sign_decode(&trailing), Err(CompressError::Trailing(1)));
        let mut bad_scale = good.clone();
        bad_scale[2..6].copy_from_slice(&f32::INFINITY.to_le_bytes());
        assert!(matches!(
            sign_decode(&bad_scale),
            Err(CompressError::InvalidScale { .. })
        ));
        assert!(sign_decode(&[0, 1]).is_err(), "chunk size 0");
        assert_eq!(sign_encode(&[1.0], 0), Err(CompressError::ChunkSize(0)));
        assert!(sign_encode(&[f32::NAN], 1).is_err());
    }
}
