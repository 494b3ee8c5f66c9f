//! The ring Z_(2^b) that quantized updates are masked and summed in, and
//! the byte packing of its elements on the wire.

use crate::SecAggError;

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

    /// Packs reduced elements into `element_bytes` little-endian bytes each.
    pub fn pack(self, values: &[u64]) -> Vec<u8> {
        let width = self.element_bytes();
        let mut out = Vec::with_capacity(values.len() * width);
        for value in values {
            out.extend_from_slice(&(value & self.mask).to_le_bytes()[..width]);
        }
        out
    }

    /// Unpacks `len` elements, refusing a wrong byte count and values of
    /// `2^b` or more.
    pub fn unpack(self, bytes: &[u8], len: usize) -> Result<Vec<u64>, SecAggError> {
        let width = self.element_bytes();
        if bytes.len() != len * width {
            return Err(SecAggError::BadInput(format!(
                "expected {len} elements of {width} bytes ({} bytes), got {} bytes",
                len * width,
                bytes.len()
            )));
        }
        let mut out = Vec::with_capacity(len);
        for (index, chunk) in bytes.chunks_exact(width).enumerate() {
            let mut word = [0u8; 8];
            word[..width].copy_from_slice(chunk);
            let value = u64::from_le_bytes(word);
            if value & !self.mask != 0 {
                return Err(SecAggError::BadInput(format!(
                    "element {index} is {value}, outside the {}-bit ring",
                    self.bits
                )));
            }
            out.push(value);
        }
        Ok(out)
    }
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
        assert!(err.to_string().contains("outside the 12-bit ring"), "{err}");
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
