//! LEB128 variable-length unsigned integers and a bounds-checked reader.

use crate::CompressError;

/// Maximum number of values a message may declare (2^32, well above any
/// model here).
pub(crate) const MAX_VALUES: u64 = 1 << 32;
/// Maximum chunk size of the chunked codecs, in values.
pub(crate) const MAX_CHUNK: u64 = 1 << 24;

/// Appends `value` as LEB128: 7 bits per byte, low bits first.
pub(crate) fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads fields from untrusted bytes, failing instead of panicking.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, offset: 0 }
    }

    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], CompressError> {
        let available = self.bytes.len() - self.offset;
        if len > available {
            return Err(CompressError::Truncated {
                offset: self.offset,
                needed: len,
                available,
            });
        }
        let slice = &self.bytes[self.offset..self.offset + len];
        self.offset += len;
        Ok(slice)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, CompressError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn f32(&mut self) -> Result<f32, CompressError> {
        let bytes = self.take(4)?;
        Ok(f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// Reads a LEB128 integer and checks that it is in `range`, naming
    /// `field` otherwise.
    pub(crate) fn varint_in(
        &mut self,
        field: &'static str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, CompressError> {
        let value = self.varint()?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(CompressError::InvalidHeader { field, value })
        }
    }

    /// Reads `count` little-endian `f32` values, each finite. The caller
    /// has checked that the bytes can hold them.
    pub(crate) fn finite_f32s(&mut self, count: usize) -> Result<Vec<f32>, CompressError> {
        let mut values = Vec::with_capacity(count);
        for index in 0..count {
            let value = self.f32()?;
            if !value.is_finite() {
                return Err(CompressError::NonFinite { index, value });
            }
            values.push(value);
        }
        Ok(values)
    }

    /// Reads one `f32` scale per chunk, each finite and not negative. The
    /// caller has checked that the bytes can hold them.
    pub(crate) fn scales(&mut self, chunks: usize) -> Result<Vec<f32>, CompressError> {
        let mut scales = Vec::with_capacity(chunks);
        for chunk in 0..chunks {
            let value = self.f32()?;
            if !(value.is_finite() && value >= 0.0) {
                return Err(CompressError::InvalidScale { chunk, value });
            }
            scales.push(value);
        }
        Ok(scales)
    }

    /// Reads a sparse message's dense length and kept count, checking that
    /// the count is not above the length.
    pub(crate) fn length_and_count(&mut self) -> Result<(u64, u64), CompressError> {
        let len = self.varint_in("vector length", 0..=MAX_VALUES)?;
        let count = self.varint_in("kept count (above the length)", 0..=len)?;
        Ok((len, count))
    }

    pub(crate) fn varint(&mut self) -> Result<u64, CompressError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                break;
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(CompressError::InvalidHeader {
            field: "varint (longer than 64 bits)",
            value: u64::MAX,
        })
    }

    /// Fails when bytes remain.
    pub(crate) fn finish(self) -> Result<(), CompressError> {
        match self.bytes.len() - self.offset {
            0 => Ok(()),
            extra => Err(CompressError::Trailing(extra)),
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            write_varint(&mut out, value);
            let mut reader = Reader::new(&out);
            assert_eq!(reader.varint().unwrap(), value);
            reader.finish().unwrap();
        }
    }

    #[test]
    fn overlong_varint_is_rejected() {
        let bytes = [0xff; 11];
        assert!(Reader::new(&bytes).varint().is_err());
        let truncated = [0x80, 0x80];
        assert!(matches!(
            Reader::new(&truncated).varint(),
            Err(CompressError::Truncated { .. })
        ));
    }
}
