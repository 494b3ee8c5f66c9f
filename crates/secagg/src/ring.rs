//! The ring Z_(2^b) that quantized updates are masked and summed in, and
//! the byte packing of its elements on the wire.

use crate::SecAggError;

/// Calls `function::<N>(args)` with N the element width in bytes (1 to
/// 8), so each width gets code specialized for it.
macro_rules! by_width {
    ($width:expr, $function:ident($($arg:expr),* $(,)?)) => {
        match $width {
            1 => $function::<1>($($arg),*),
            2 => $function::<2>($($arg),*),
            3 => $function::<3>($($arg),*),
            4 => $function::<4>($($arg),*),
            5 => $function::<5>($($arg),*),
            6 => $function::<6>($($arg),*),
            7 => $function::<7>($($arg),*),
            _ => $function::<8>($($arg),*),
        }
    };
}
pub(crate) use by_width;

/// Arithmetic modulo 2^b for 1 ≤ b ≤ 64. Elements are kept in `u64`;
/// sums wrap in `u64` and are reduced once with [`Ring::reduce`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ring {
    bits: u8,
    mask: u64,
}

impl Ring {
    /// The ring of `bits`-bit integers.
    pub fn new(bits: u8) -> Result<Self, SecAggError> {
        if !(1..=64).contains(&bits) {
            return Err(SecAggError::Params(format!(
                "ring_bits must be between 1 and 64, got {bits}"
            )));
        }
        let mask = if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        Ok(Self { bits, mask })
    }

    /// Bits b.
    pub fn bits(self) -> u8 {
        self.bits
    }

    /// 2^b − 1.
    pub fn mask(self) -> u64 {
        self.mask
    }

    /// Bytes one element takes on the wire.
    pub fn element_bytes(self) -> usize {
        usize::from(self.bits).div_ceil(8)
    }

    /// Reduces every element modulo 2^b.
    pub fn reduce(self, values: &mut [u64]) {
        for value in values {
            *value &= self.mask;
        }
    }

    /// `acc += other` modulo 2^b.
    pub fn add_assign(self, acc: &mut [u64], other: &[u64]) {
        for (a, b) in acc.iter_mut().zip(other) {
            *a = a.wrapping_add(*b) & self.mask;
        }
    }

    /// A signed integer as a ring element (two's complement modulo 2^b).
    pub fn from_signed(self, value: i64) -> u64 {
        (value as u64) & self.mask
    }

    /// A ring element as a signed integer in [−2^(b−1), 2^(b−1)).
    pub fn to_signed(self, value: u64) -> i64 {
        let value = value & self.mask;
        if self.bits < 64 && value >> (self.bits - 1) == 1 {
            (value | !self.mask) as i64
        } else {
            value as i64
        }
    }

    /// Packs elements, reduced modulo 2^b, into `element_bytes`
    /// little-endian bytes each.
    pub fn pack(self, values: &[u64]) -> Vec<u8> {
        let mut out = Vec::with_capacity(values.len() * self.element_bytes());
        self.pack_extend(values, &mut out);
        out
    }

    /// Appends the packed form of `values` to `out`.
    pub fn pack_extend(self, values: &[u64], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + values.len() * self.element_bytes(), 0);
        let out = &mut out[start..];
        by_width!(self.element_bytes(), pack_into(self.mask, values, out));
    }

    /// Unpacks `len` elements, refusing a wrong byte count and values of
    /// `2^b` or more.
    pub fn unpack(self, bytes: &[u8], len: usize) -> Result<Vec<u64>, SecAggError> {
        let mut out = vec![0u64; len];
        self.add_packed(&mut out, bytes)?;
        Ok(out)
    }

    /// Adds `unpack(bytes)` to `acc`, wrapping in `u64` (reduce when
    /// done). When an element is outside the ring the addition is undone,
    /// so a rejected vector leaves the sum as it was.
    pub fn add_packed(self, acc: &mut [u64], bytes: &[u8]) -> Result<(), SecAggError> {
        let width = self.element_bytes();
        let len = acc.len();
        if bytes.len() != len * width {
            return Err(SecAggError::BadInput(format!(
                "expected {len} elements of {width} bytes ({} bytes), got {} bytes",
                len * width,
                bytes.len()
            )));
        }
        let outside = by_width!(width, add_from(self.mask, acc, bytes));
        match outside {
            None => Ok(()),
            Some((index, value)) => Err(SecAggError::BadInput(format!(
                "element {index} is {value}, outside the {}-bit ring",
                self.bits
            ))),
        }
    }
}

/// Element `value` as its `N` low little-endian bytes.
fn pack_into<const N: usize>(mask: u64, values: &[u64], out: &mut [u8]) {
    let (words, _) = out.as_chunks_mut::<N>();
    for (word, value) in words.iter_mut().zip(values) {
        word.copy_from_slice(&(value & mask).to_le_bytes()[..N]);
    }
}

/// Reads the element stored in `N` little-endian bytes.
#[inline(always)]
fn read<const N: usize>(word: &[u8; N]) -> u64 {
    let mut full = [0u8; 8];
    full[..N].copy_from_slice(word);
    u64::from_le_bytes(full)
}

/// Adds the `N`-byte elements of `bytes` into `acc` and checks that none
/// has bits above `mask`. If one has, the addition is undone and the
/// first such element is returned, so `acc` ends as it began.
fn add_from<const N: usize>(mask: u64, acc: &mut [u64], bytes: &[u8]) -> Option<(usize, u64)> {
    let (words, _) = bytes.as_chunks::<N>();
    let mut high = 0u64;
    for (sum, word) in acc.iter_mut().zip(words) {
        let value = read(word);
        high |= value & !mask;
        *sum = sum.wrapping_add(value);
    }
    if high == 0 {
        return None;
    }
    for (sum, word) in acc.iter_mut().zip(words) {
        *sum = sum.wrapping_sub(read(word));
    }
    words
        .iter()
        .map(read)
        .enumerate()
        .find(|(_, value)| value & !mask != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_out_of_range_are_refused() {
        assert!(Ring::new(0).is_err());
        assert!(Ring::new(65).is_err());
        assert_eq!(Ring::new(64).unwrap().mask(), u64::MAX);
    }

    #[test]
    fn pack_round_trips_and_checks_range() {
        let ring = Ring::new(12).unwrap();
        let values = vec![0, 1, 4095, 2048];
        let bytes = ring.pack(&values);
        assert_eq!(bytes.len(), 8);
        assert_eq!(ring.unpack(&bytes, 4).unwrap(), values);
        assert!(ring.unpack(&bytes, 3).is_err());
        let mut bad = bytes.clone();
        bad[1] = 0xff;
        let err = ring.unpack(&bad, 4).unwrap_err();
        assert!(
            err.to_string()
                .contains("element 0 is 65280, outside the 12-bit ring"),
            "{err}"
        );
    }

    #[test]
    fn every_element_width_round_trips() {
        for bits in [1u8, 8, 9, 16, 20, 24, 31, 32, 33, 40, 48, 56, 63, 64] {
            let ring = Ring::new(bits).unwrap();
            let values: Vec<u64> = (0..37u64)
                .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) & ring.mask())
                .collect();
            let bytes = ring.pack(&values);
            assert_eq!(bytes.len(), 37 * ring.element_bytes());
            assert_eq!(ring.unpack(&bytes, 37).unwrap(), values, "{bits} bits");
        }
    }

    #[test]
    fn rejected_vector_leaves_sum_unchanged() {
        let ring = Ring::new(20).unwrap();
        let mut acc = vec![1u64, 2, 3];
        ring.add_packed(&mut acc, &ring.pack(&[10, 20, 30]))
            .unwrap();
        assert_eq!(acc, [11, 22, 33]);
        // The last element has bit 20 set: nothing is added, not even the
        // valid elements before it.
        let mut bad = ring.pack(&[1, 1, 1]);
        bad[8] = 0x10;
        let err = ring.add_packed(&mut acc, &bad).unwrap_err();
        assert!(err.to_string().contains("element 2 is 1048577"), "{err}");
        assert_eq!(acc, [11, 22, 33]);
        assert!(ring.add_packed(&mut acc, &bad[..6]).is_err());
        assert_eq!(acc, [11, 22, 33]);
    }

    #[test]
    fn signed_values_round_trip() {
        let ring = Ring::new(20).unwrap();
        for value in [0i64, 1, -1, 524_287, -524_288, -300] {
            assert_eq!(ring.to_signed(ring.from_signed(value)), value);
        }
        let mut sum = ring.from_signed(-5);
        sum = (sum + ring.from_signed(3)) & ring.mask();
        assert_eq!(ring.to_signed(sum), -2);
    }

    #[test]
    fn addition_wraps_modulo_two_to_the_b() {
        let ring = Ring::new(8).unwrap();
        let mut acc = vec![250, 3];
        ring.add_assign(&mut acc, &[10, 255]);
        assert_eq!(acc, vec![4, 2]);
    }
}
