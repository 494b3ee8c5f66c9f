//! Errors of encoding and of decoding untrusted bytes.

/// Error from a codec.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompressError {
    /// The input contains NaN or an infinity, which no codec can carry.
    #[error("value {index} is {value}; only finite values can be compressed")]
    NonFinite {
        /// Position of the first non-finite value.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A quantizer was configured with an unsupported width.
    #[error("quantization to {0} bits is not supported; use 2, 4 or 8")]
    UnsupportedBits(u8),
    /// A quantizer was configured with a chunk size out of range.
    #[error("chunk size {0} is out of range; use 1 to 16777216 values")]
    ChunkSize(usize),
    /// The bytes end before the message does.
    #[error("message truncated: {needed} bytes needed at offset {offset}, {available} left")]
    Truncated {
        /// Offset of the first missing byte.
        offset: usize,
        /// Bytes the next field needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// Bytes remain after the message.
    #[error("{0} unexpected bytes after the end of the message")]
    Trailing(usize),
    /// A header field is out of its range.
    #[error("invalid {field}: {value}")]
    InvalidHeader {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u64,
    },
    /// A scale in the message is negative or not finite.
    #[error("scale of chunk {chunk} is {value}; scales must be finite and not negative")]
    InvalidScale {
        /// Chunk index.
        chunk: usize,
        /// The scale.
        value: f32,
    },
    /// A sparse index is not below the vector length.
    #[error("index {index} is out of range for a vector of {len} values")]
    IndexOutOfRange {
        /// The index.
        index: u64,
        /// Vector length.
        len: u64,
    },
    /// Sparse indices are not strictly increasing.
    #[error("index {0} repeats or is out of order")]
    UnorderedIndex(u64),
    /// The message was made by another codec chain than the receiver's.
    #[error(
        "message uses codec chain {actual:?} (sparsifier, values) but {expected:?} is expected"
    )]
    UnexpectedChain {
        /// Tags of the configured chain.
        expected: (u8, u8),
        /// Tags in the message.
        actual: (u8, u8),
    },
    /// The message's codec parameters differ from the configured ones.
    #[error("message uses {name} {actual} but {expected} is expected")]
    ParameterMismatch {
        /// The parameter.
        name: &'static str,
        /// Configured value.
        expected: u64,
        /// Value in the message.
        actual: u64,
    },
    /// A compression spec cannot be turned into a chain.
    #[error("invalid compression spec: {0}")]
    InvalidSpec(String),
    /// A vector of the wrong length was passed in.
    #[error("expected {expected} values, got {actual}")]
    LengthMismatch {
        /// Length expected.
        expected: usize,
        /// Length passed.
        actual: usize,
    },
}
