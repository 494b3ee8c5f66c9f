//! Mask expansion: the first 16 bytes of a 32-byte seed key an AES-128-CTR
//! keystream (128-bit big-endian counter from 0). The keystream becomes one
//! uniform ring element per coordinate, which is added to or subtracted
//! from a vector. An element takes 4 keystream bytes for rings of up to 32
//! bits and 8 above.
//!
//! AES runs on the AES instructions natively (VAES or AES-NI, chosen at run
//! time) and in constant-time software on wasm32. [`apply_all`] expands
//! many masks in one pass over the vector, a cache-sized chunk at a time.

use aes::Aes128Enc;
use aes::cipher::array::Array;
use aes::cipher::{BlockCipherEncrypt, KeyInit};

use crate::ring::{Ring, by_width};

/// Elements per chunk: 32 KiB of `u64` output, with 16 KiB (32-bit rings)
/// or 32 KiB of keystream, so both stay in the first-level caches.
const CHUNK: usize = 4096;

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
    apply_all(ring, &[(*seed, sign)], out);
}

/// Applies every `(seed, sign)` mask to `out`, modulo 2^64: the same
/// result as [`apply`] once per mask, with one pass over `out`.
pub fn apply_all(ring: Ring, masks: &[([u8; 32], Sign)], out: &mut [u64]) {
    let wide = ring.bits() > 32;
    expand(wide, masks, out.len(), |start, stream, sign| {
        let out = &mut out[start..];
        match (wide, sign) {
            (false, Sign::Add) => combine(out, stream, |v, w: [u8; 4]| {
                v.wrapping_add(u64::from(u32::from_le_bytes(w)))
            }),
            (false, Sign::Sub) => combine(out, stream, |v, w: [u8; 4]| {
                v.wrapping_sub(u64::from(u32::from_le_bytes(w)))
            }),
            (true, Sign::Add) => combine(out, stream, |v, w: [u8; 8]| {
                v.wrapping_add(u64::from_le_bytes(w))
            }),
            (true, Sign::Sub) => combine(out, stream, |v, w: [u8; 8]| {
                v.wrapping_sub(u64::from_le_bytes(w))
            }),
        }
    });
}

/// Applies every mask to elements packed as [`Ring::pack`] lays them out,
/// and reduces them: the packed form of [`apply_all`] followed by
/// [`Ring::reduce`]. Each element wraps within its bytes, which is exact
/// because 2^b divides 2^(8 × bytes).
pub fn apply_all_packed(ring: Ring, masks: &[([u8; 32], Sign)], packed: &mut [u8]) {
    by_width!(ring.element_bytes(), apply_packed(ring, masks, packed));
}

fn apply_packed<const N: usize>(ring: Ring, masks: &[([u8; 32], Sign)], packed: &mut [u8]) {
    let (elements, _) = packed.as_chunks_mut::<N>();
    let wide = ring.bits() > 32;
    expand(wide, masks, elements.len(), |start, stream, sign| {
        let elements = &mut elements[start..];
        match (wide, sign) {
            (false, Sign::Add) => combine_packed(elements, stream, |v, w: [u8; 4]| {
                v.wrapping_add(u64::from(u32::from_le_bytes(w)))
            }),
            (false, Sign::Sub) => combine_packed(elements, stream, |v, w: [u8; 4]| {
                v.wrapping_sub(u64::from(u32::from_le_bytes(w)))
            }),
            (true, Sign::Add) => combine_packed(elements, stream, |v, w: [u8; 8]| {
                v.wrapping_add(u64::from_le_bytes(w))
            }),
            (true, Sign::Sub) => combine_packed(elements, stream, |v, w: [u8; 8]| {
                v.wrapping_sub(u64::from_le_bytes(w))
            }),
        }
    });
    let mask = ring.mask();
    if u32::from(ring.bits()) < 8 * N as u32 {
        for element in elements {
            let mut full = [0u8; 8];
            full[..N].copy_from_slice(element);
            element.copy_from_slice(&(u64::from_le_bytes(full) & mask).to_le_bytes()[..N]);
        }
    }
}

/// An AES-128-CTR keystream read as little-endian `u32` words: fast
/// random draws for stochastic rounding.
pub struct Words {
    cipher: Aes128Enc,
    next_block: u128,
    blocks: Vec<Array<u8, aes::cipher::consts::U16>>,
}

impl Words {
    /// Creates the keystream of `seed`, from counter 0.
    pub fn new(seed: &[u8; 32]) -> Self {
        Self {
            cipher: cipher(seed),
            next_block: 0,
            blocks: Vec::new(),
        }
    }

    /// Fills `out` with the next words; a partly used block is dropped.
    pub fn fill(&mut self, out: &mut [u32]) {
        let used = out.len().div_ceil(4);
        self.blocks.resize(used, Array::default());
        for block in &mut self.blocks[..used] {
            *block = self.next_block.to_be_bytes().into();
            self.next_block += 1;
        }
        self.cipher.encrypt_blocks(&mut self.blocks[..used]);
        let (words, _) = Array::slice_as_flattened(&self.blocks[..used]).as_chunks::<4>();
        for (value, word) in out.iter_mut().zip(words) {
            *value = u32::from_le_bytes(*word);
        }
    }
}

/// Keys AES-128 with the first 16 bytes of a seed. The seeds are uniform
/// (HKDF outputs or fresh randomness), and 128 bits match the security of
/// the P-256 agreement that the pairwise seeds come from.
fn cipher(seed: &[u8; 32]) -> Aes128Enc {
    let mut key = [0u8; 16];
    key.copy_from_slice(&seed[..16]);
    Aes128Enc::new(&key.into())
}

/// Runs the keystream of every mask over `len` elements, a chunk at a
/// time: `consume(first element, keystream bytes, sign)` is called for
/// each chunk and mask, with at least 4 (8 when `wide`) bytes per element
/// left in the chunk.
fn expand(
    wide: bool,
    masks: &[([u8; 32], Sign)],
    len: usize,
    mut consume: impl FnMut(usize, &[u8], Sign),
) {
    let ciphers: Vec<(Aes128Enc, Sign)> = masks
        .iter()
        .map(|(seed, sign)| (cipher(seed), *sign))
        .collect();
    let width = if wide { 8 } else { 4 };
    let blocks_per_chunk = CHUNK * width / 16;
    let mut counters = vec![Array::<u8, _>::default(); blocks_per_chunk];
    let mut stream = counters.clone();
    for (index, start) in (0..len).step_by(CHUNK).enumerate() {
        let elements = CHUNK.min(len - start);
        let used = (elements * width).div_ceil(16);
        let counters = &mut counters[..used];
        let stream = &mut stream[..used];
        let first = (index * blocks_per_chunk) as u128;
        for (offset, block) in (0u128..).zip(counters.iter_mut()) {
            *block = (first + offset).to_be_bytes().into();
        }
        for (cipher, sign) in &ciphers {
            // Counters in, keystream out; the counters serve every mask.
            cipher
                .encrypt_blocks_b2b(counters, stream)
                .unwrap_or_else(|_| unreachable!("both buffers hold `used` blocks"));
            let bytes = &Array::slice_as_flattened(stream)[..elements * width];
            consume(start, bytes, *sign);
        }
    }
}

/// Sets `out[i] = op(out[i], word i of bytes)`, in a form the compiler
/// turns into vector instructions.
#[inline(always)]
fn combine<const N: usize>(out: &mut [u64], bytes: &[u8], op: impl Fn(u64, [u8; N]) -> u64) {
    let (words, _) = bytes.as_chunks::<N>();
    for (value, word) in out.iter_mut().zip(words) {
        *value = op(*value, *word);
    }
}

/// Runs [`combine`] on elements stored in `M` little-endian bytes each.
#[inline(always)]
fn combine_packed<const M: usize, const N: usize>(
    out: &mut [[u8; M]],
    bytes: &[u8],
    op: impl Fn(u64, [u8; N]) -> u64,
) {
    let (words, _) = bytes.as_chunks::<N>();
    for (element, word) in out.iter_mut().zip(words) {
        let mut full = [0u8; 8];
        full[..M].copy_from_slice(element);
        let value = op(u64::from_le_bytes(full), *word);
        element.copy_from_slice(&value.to_le_bytes()[..M]);
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
    fn keystream_is_pinned_aes_128_ctr() {
        // AES-128 with the all-zero key maps the all-zero block (counter 0)
        // to 66e94bd4 ef8a2c3b 884cfa59 ca342b2e. Every party must expand
        // the same mask, so the generator is pinned.
        let mut narrow = vec![0u64; 4];
        apply(Ring::new(32).unwrap(), &[0; 32], Sign::Add, &mut narrow);
        assert_eq!(narrow, [0xd44b_e966, 0x3b2c_8aef, 0x59fa_4c88, 0x2e2b_34ca]);
        let mut wide = vec![0u64; 2];
        apply(Ring::new(64).unwrap(), &[0; 32], Sign::Sub, &mut wide);
        assert_eq!(
            wide,
            [
                0x3b2c_8aef_d44b_e966_u64.wrapping_neg(),
                0x2e2b_34ca_59fa_4c88_u64.wrapping_neg()
            ]
        );
    }

    #[test]
    fn counter_continues_across_chunks() {
        // The keystream of a long vector is the standard AES-128-CTR
        // stream, as the `ctr` crate produces it, past several chunks.
        use ctr::cipher::{KeyIvInit, StreamCipher};
        let seed = [7u8; 32];
        for bits in [32u8, 64] {
            let ring = Ring::new(bits).unwrap();
            let width = if bits > 32 { 8 } else { 4 };
            let len = CHUNK * 3 + 17;
            let mut stream = vec![0u8; len * width];
            ctr::Ctr128BE::<aes::Aes128>::new(&[7u8; 16].into(), &[0; 16].into())
                .apply_keystream(&mut stream);
            let expected: Vec<u64> = stream
                .chunks_exact(width)
                .map(|word| {
                    let mut full = [0u8; 8];
                    full[..width].copy_from_slice(word);
                    u64::from_le_bytes(full)
                })
                .collect();
            let mut values = vec![0u64; len];
            apply(ring, &seed, Sign::Add, &mut values);
            assert_eq!(values, expected, "{bits} bits");
        }
    }

    #[test]
    fn one_pass_matches_masks_one_by_one() {
        // Lengths around the chunk size, with a final partial block.
        for (bits, len) in [(32u8, CHUNK * 2 + 3), (48, CHUNK + 1), (20, 5)] {
            let ring = Ring::new(bits).unwrap();
            let masks = [
                ([1u8; 32], Sign::Add),
                ([2; 32], Sign::Sub),
                ([3; 32], Sign::Add),
            ];
            let start: Vec<u64> = (0..len as u64).collect();
            let mut one_by_one = start.clone();
            for (seed, sign) in &masks {
                apply(ring, seed, *sign, &mut one_by_one);
            }
            let mut together = start;
            apply_all(ring, &masks, &mut together);
            assert_eq!(together, one_by_one, "{bits} bits, {len} values");
        }
    }

    #[test]
    fn packed_masking_matches_element_masking() {
        let masks = [([4u8; 32], Sign::Add), ([5; 32], Sign::Sub)];
        for bits in [1u8, 7, 8, 12, 22, 24, 32, 33, 40, 48, 56, 64] {
            let ring = Ring::new(bits).unwrap();
            let len = CHUNK + 9;
            let start: Vec<u64> = (0..len as u64)
                .map(|i| i.wrapping_mul(0x2545_f491_4f6c_dd1d) & ring.mask())
                .collect();
            let mut elements = start.clone();
            apply_all(ring, &masks, &mut elements);
            ring.reduce(&mut elements);
            let mut packed = ring.pack(&start);
            apply_all_packed(ring, &masks, &mut packed);
            assert_eq!(packed, ring.pack(&elements), "{bits} bits");
            assert_eq!(ring.unpack(&packed, len).unwrap(), elements, "{bits} bits");
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
