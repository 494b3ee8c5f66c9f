//! Mask expansion: a 32-byte seed drives a ChaCha20 keystream that becomes
//! one uniform ring element per coordinate (4 keystream bytes per element
//! for rings of up to 32 bits, 8 above), added to or subtracted from a
//! vector.

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};

use crate::ring::Ring;

/// Elements expanded per keystream call.
const CHUNK: usize = 2048;

/// Whether a mask is added or subtracted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sign {
    /// `out += mask`.
    Add,
    /// `out -= mask`.
    Sub,
}

/// Applies the mask expanded from `seed` to `out`, modulo 2^64; reduce
/// with [`Ring::reduce`] when done.
pub fn apply(ring: Ring, seed: &[u8; 32], sign: Sign, out: &mut [u64]) {
    let mut cipher = ChaCha20::new(seed.into(), &[0u8; 12].into());
    let wide = ring.bits() > 32;
    let width = if wide { 8 } else { 4 };
    let mut stream = vec![0u8; CHUNK * width];
    for block in out.chunks_mut(CHUNK) {
        let bytes = &mut stream[..block.len() * width];
        cipher.write_keystream(bytes);
        if wide {
            combine(block, bytes.chunks_exact(8), sign, |c| {
                u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))
            });
        } else {
            combine(block, bytes.chunks_exact(4), sign, |c| {
                u64::from(u32::from_le_bytes(c.try_into().unwrap_or([0; 4])))
            });
        }
    }
}

fn combine<'a>(
    out: &mut [u64],
    words: impl Iterator<Item = &'a [u8]>,
    sign: Sign,
    read: impl Fn(&[u8]) -> u64,
) {
    match sign {
        Sign::Add => {
            for (value, word) in out.iter_mut().zip(words) {
                *value = value.wrapping_add(read(word));
            }
        }
        Sign::Sub => {
            for (value, word) in out.iter_mut().zip(words) {
                *value = value.wrapping_sub(read(word));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_then_subtract_cancels() {
        let ring = Ring::new(32).unwrap();
        let mut values: Vec<u64> = (0..5000).collect();
        apply(ring, &[3; 32], Sign::Add, &mut values);
        ring.reduce(&mut values);
        assert_ne!(values[..10], (0..10).collect::<Vec<u64>>()[..]);
        apply(ring, &[3; 32], Sign::Sub, &mut values);
        ring.reduce(&mut values);
        assert_eq!(values, (0..5000).collect::<Vec<u64>>());
    }

    #[test]
    fn masks_cover_the_whole_ring() {
        // With 20,000 draws, every one of the 16 top-bit patterns of a
        // 34-bit and a 32-bit ring appears, and the top bit is set about
        // half the time: the mask is not confined to a smaller range.
        for bits in [32u8, 34, 64] {
            let ring = Ring::new(bits).unwrap();
            let mut values = vec![0u64; 20_000];
            apply(ring, &[9; 32], Sign::Add, &mut values);
            ring.reduce(&mut values);
            let shift = bits - 4;
            let mut seen = [0usize; 16];
            for value in &values {
                seen[(value >> shift) as usize] += 1;
            }
            assert!(
                seen.iter().all(|&count| count > 1000),
                "{bits} bits: {seen:?}"
            );
            let high = values.iter().filter(|v| *v >> (bits - 1) == 1).count();
            assert!((9_500..10_500).contains(&high), "{bits} bits: {high}");
        }
    }

    #[test]
    fn different_seeds_give_different_masks() {
        let ring = Ring::new(16).unwrap();
        let mut a = vec![0u64; 64];
        let mut b = vec![0u64; 64];
        apply(ring, &[1; 32], Sign::Add, &mut a);
        apply(ring, &[2; 32], Sign::Add, &mut b);
        assert_ne!(a, b);
    }
}
