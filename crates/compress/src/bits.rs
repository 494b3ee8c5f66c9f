//! Bit-level writing and reading, with Elias-gamma codes for small
//! positive integers.

use crate::CompressError;

/// Appends bits to a byte vector, low bits of each byte first.
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    used: u32,
}

impl BitWriter {
    pub(crate) fn new() -> Self {
        Self {
            bytes: Vec::new(),
            used: 0,
        }
    }

    pub(crate) fn bit(&mut self, bit: bool) {
        if self.used.is_multiple_of(8) {
            self.bytes.push(0);
        }
        if bit {
            let last = self.bytes.len() - 1;
            self.bytes[last] |= 1 << (self.used % 8);
        }
        self.used += 1;
    }

    /// Writes `value` (at least 1) as an Elias-gamma code: as many zeros as
    /// it has bits after the leading one, then its bits from the top.
    pub(crate) fn gamma(&mut self, value: u32) {
        debug_assert!(value >= 1);
        let width = 32 - value.leading_zeros();
        for _ in 1..width {
            self.bit(false);
        }
        for shift in (0..width).rev() {
            self.bit(value >> shift & 1 == 1);
        }
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Reads bits written by [`BitWriter`] from untrusted bytes.
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    pub(crate) fn bit(&mut self) -> Result<bool, CompressError> {
        let byte = self
            .bytes
            .get(self.position / 8)
            .ok_or(CompressError::Truncated {
                offset: self.position / 8,
                needed: 1,
                available: 0,
            })?;
        let bit = byte >> (self.position % 8) & 1 == 1;
        self.position += 1;
        Ok(bit)
    }

    /// Reads an Elias-gamma code of at most 32 bits.
    pub(crate) fn gamma(&mut self) -> Result<u32, CompressError> {
        let mut zeros = 0u32;
        while !self.bit()? {
            zeros += 1;
            if zeros > 31 {
                return Err(CompressError::InvalidHeader {
                    field: "Elias-gamma code (longer than 32 bits)",
                    value: u64::from(zeros),
                });
            }
        }
        let mut value = 1u32;
        for _ in 0..zeros {
            value = value << 1 | u32::from(self.bit()?);
        }
        Ok(value)
    }

    /// Bytes consumed, counting a partly read byte.
    pub(crate) fn bytes_used(&self) -> usize {
        self.position.div_ceil(8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_codes_round_trip() {
        let values = [1u32, 2, 3, 4, 5, 17, 255, 256, u32::MAX];
        let mut writer = BitWriter::new();
        for &value in &values {
            writer.gamma(value);
        }
        let bytes = writer.into_bytes();
        let mut reader = BitReader::new(&bytes);
        for &value in &values {
            assert_eq!(reader.gamma().unwrap(), value);
        }
    }

    #[test]
    fn one_is_a_single_bit() {
        let mut writer = BitWriter::new();
        writer.gamma(1);
        writer.gamma(1);
        assert_eq!(writer.into_bytes(), [0b11]);
    }

    #[test]
    fn runs_of_zeros_are_rejected() {
        assert!(BitReader::new(&[0; 5]).gamma().is_err());
        assert!(BitReader::new(&[]).bit().is_err());
    }
}
