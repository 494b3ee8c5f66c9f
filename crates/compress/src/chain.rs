//! Codecs composed into a chain: an optional sparsifier (top-k or rand-k)
//! followed by a codec for the values it keeps (raw `f32`, quantization,
//! QSGD or signs). The message starts with the chain's two tags, so a
//! decoder configured for one chain rejects a message made with another.
//!
//! Layout: sparsifier tag, value codec tag and the dense length (LEB128).
//! For top-k the positions follow, as a [`SparseVector`] without values.
//! The kept values come last, in the value codec's own layout.

use crate::varint::{Reader, write_varint};
use crate::{
    CompressError, Qsgd, Quantizer, SparseVector, dequantize, qsgd_decode, rand_k_positions,
    sign_decode, sign_encode, top_k,
};

/// Rule that picks the values to keep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sparsifier {
    /// Keep every value.
    None,
    /// Keep the `k` values of largest magnitude.
    TopK {
        /// Values kept.
        k: usize,
    },
    /// Keep `k` positions drawn from the round seed, the same on every
    /// client of the round.
    RandK {
        /// Values kept.
        k: usize,
    },
}

/// Encoding of the kept values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueCodec {
    /// Little-endian `f32`.
    Raw,
    /// Stochastic quantization ([`Quantizer`]).
    Quantize(Quantizer),
    /// QSGD ([`Qsgd`]).
    Qsgd(Qsgd),
    /// Signs with one scale per `chunk` values.
    Sign {
        /// Values per scale.
        chunk: usize,
    },
}

/// A sparsifier followed by a value codec.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Chain {
    /// Rule that picks the values to keep.
    pub sparsifier: Sparsifier,
    /// Encoding of the kept values.
    pub values: ValueCodec,
}

/// A compressed update and what the receiver will decode from it, which a
/// client needs for error feedback.
#[derive(Clone, Debug, PartialEq)]
pub struct Encoded {
    /// The message.
    pub bytes: Vec<u8>,
    /// The dense vector the message decodes to.
    pub decoded: Vec<f32>,
}

impl Sparsifier {
    fn tag(&self) -> u8 {
        match self {
            Self::None => 0,
            Self::TopK { .. } => 1,
            Self::RandK { .. } => 2,
        }
    }
}

impl ValueCodec {
    fn tag(&self) -> u8 {
        match self {
            Self::Raw => 0,
            Self::Quantize(_) => 1,
            Self::Qsgd(_) => 2,
            Self::Sign { .. } => 3,
        }
    }

    fn encode(&self, values: &[f32], seed: u64) -> Result<Vec<u8>, CompressError> {
        match self {
            Self::Raw => {
                crate::check_finite(values)?;
                Ok(values
                    .iter()
                    .flat_map(|value| value.to_le_bytes())
                    .collect())
            }
            Self::Quantize(quantizer) => quantizer.encode(values, seed),
            Self::Qsgd(qsgd) => qsgd.encode(values, seed),
            Self::Sign { chunk } => sign_encode(values, *chunk),
        }
    }

    /// Checks that the message's header carries this codec's parameters,
    /// so a chain with other bits, chunk or levels is rejected.
    fn check_parameters(&self, bytes: &[u8]) -> Result<(), CompressError> {
        let mut reader = Reader::new(bytes);
        let (name, expected, actual) = match self {
            Self::Raw => return Ok(()),
            Self::Quantize(quantizer) => {
                let bits = reader.u8()?;
                if bits != quantizer.bits() {
                    ("bits", u64::from(quantizer.bits()), u64::from(bits))
                } else {
                    ("chunk size", quantizer.chunk() as u64, reader.varint()?)
                }
            }
            Self::Qsgd(qsgd) => ("QSGD levels", u64::from(qsgd.levels()), reader.varint()?),
            Self::Sign { chunk } => ("chunk size", *chunk as u64, reader.varint()?),
        };
        if expected == actual {
            Ok(())
        } else {
            Err(CompressError::ParameterMismatch {
                name,
                expected,
                actual,
            })
        }
    }

    fn decode(&self, bytes: &[u8], expected: usize) -> Result<Vec<f32>, CompressError> {
        self.check_parameters(bytes)?;
        let values = match self {
            Self::Raw => {
                if bytes.len() != expected * 4 {
                    return Err(CompressError::LengthMismatch {
                        expected: expected * 4,
                        actual: bytes.len(),
                    });
                }
                let values: Vec<f32> = bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                crate::check_finite(&values)?;
                values
            }
            Self::Quantize(_) => dequantize(bytes)?,
            Self::Qsgd(_) => qsgd_decode(bytes)?,
            Self::Sign { .. } => sign_decode(bytes)?,
        };
        if values.len() != expected {
            return Err(CompressError::LengthMismatch {
                expected,
                actual: values.len(),
            });
        }
        Ok(values)
    }
}

impl Chain {
    /// Plain `f32` values, nothing dropped.
    pub const NONE: Self = Self {
        sparsifier: Sparsifier::None,
        values: ValueCodec::Raw,
    };

    /// Compresses `update`; `seed` drives rand-k positions (share it across
    /// the round) and stochastic rounding.
    pub fn encode(&self, update: &[f32], seed: u64) -> Result<Encoded, CompressError> {
        self.encode_with(update, seed, seed)
    }

    /// Compresses `update` with rand-k positions drawn from `round_seed`
    /// (the same for every client of the round) and stochastic rounding
    /// from `value_seed` (a client's own).
    pub fn encode_with(
        &self,
        update: &[f32],
        round_seed: u64,
        value_seed: u64,
    ) -> Result<Encoded, CompressError> {
        let seed = round_seed;
        crate::check_finite(update)?;
        let mut bytes = vec![self.sparsifier.tag(), self.values.tag()];
        write_varint(&mut bytes, update.len() as u64);
        let positions: Option<Vec<u32>> = match self.sparsifier {
            Sparsifier::None => None,
            Sparsifier::TopK { k } => {
                let positions = top_k(update, k)?.indices().to_vec();
                bytes.extend_from_slice(&SparseVector::encode_positions(update.len(), &positions));
                Some(positions)
            }
            Sparsifier::RandK { k } => Some(rand_k_positions(update.len(), k, seed)),
        };
        let kept: Vec<f32> = match &positions {
            Some(positions) => positions.iter().map(|&p| update[p as usize]).collect(),
            None => update.to_vec(),
        };
        bytes.extend_from_slice(&self.values.encode(&kept, value_seed)?);
        let decoded = self.decode(&bytes, update.len(), seed)?;
        Ok(Encoded { bytes, decoded })
    }

    /// Decodes untrusted bytes made by this chain with the same round seed
    /// into the dense vector, which must have `len` values (the model's
    /// size, known to the receiver, so a message cannot make it allocate
    /// more).
    pub fn decode(&self, bytes: &[u8], len: usize, seed: u64) -> Result<Vec<f32>, CompressError> {
        let mut reader = Reader::new(bytes);
        let (sparsifier, values) = (reader.u8()?, reader.u8()?);
        if (sparsifier, values) != (self.sparsifier.tag(), self.values.tag()) {
            return Err(CompressError::UnexpectedChain {
                expected: (self.sparsifier.tag(), self.values.tag()),
                actual: (sparsifier, values),
            });
        }
        let declared = reader.varint()?;
        if declared != len as u64 {
            return Err(CompressError::LengthMismatch {
                expected: len,
                actual: usize::try_from(declared).unwrap_or(usize::MAX),
            });
        }
        let positions: Option<Vec<u32>> = match self.sparsifier {
            Sparsifier::None => None,
            Sparsifier::TopK { k } => {
                let rest = reader.take(reader.remaining())?;
                let (positions, used) = SparseVector::decode_positions(rest, len)?;
                if positions.len() != k.min(len) {
                    return Err(CompressError::ParameterMismatch {
                        name: "kept value count",
                        expected: k.min(len) as u64,
                        actual: positions.len() as u64,
                    });
                }
                reader = Reader::new(&rest[used..]);
                Some(positions)
            }
            Sparsifier::RandK { k } => Some(rand_k_positions(len, k, seed)),
        };
        let body = reader.take(reader.remaining())?;
        let expected = positions.as_ref().map_or(len, Vec::len);
        let kept = self.values.decode(body, expected)?;
        Ok(match positions {
            None => kept,
            Some(positions) => SparseVector::from_parts(len, positions, kept).to_dense(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update() -> Vec<f32> {
        (0..200)
            .map(|i| ((i * 37 % 19) as f32 - 9.0) / 4.0)
            .collect()
    }

    #[test]
    fn no_compression_is_exact() {
        let values = update();
        let encoded = Chain::NONE.encode(&values, 1).unwrap();
        assert_eq!(encoded.decoded, values);
        assert_eq!(encoded.bytes.len(), 2 + 2 + 800);
    }

    #[test]
    fn top_k_then_eight_bits() {
        let values = update();
        let chain = Chain {
            sparsifier: Sparsifier::TopK { k: 20 },
            values: ValueCodec::Quantize(Quantizer::new(8, 64).unwrap()),
        };
        let encoded = chain.encode(&values, 3).unwrap();
        assert_eq!(
            chain.decode(&encoded.bytes, 200, 3).unwrap(),
            encoded.decoded
        );
        let kept = top_k(&values, 20).unwrap();
        let step = 2.5 / 127.0;
        for (index, (&decoded, &value)) in encoded.decoded.iter().zip(&values).enumerate() {
            if kept.indices().contains(&(index as u32)) {
                assert!((decoded - value).abs() <= step * 1.0001, "{index}");
            } else {
                assert_eq!(decoded, 0.0, "{index}");
            }
        }
        assert!(encoded.bytes.len() < 100, "{} bytes", encoded.bytes.len());
    }

    #[test]
    fn rand_k_positions_come_from_the_seed() {
        let values = update();
        let chain = Chain {
            sparsifier: Sparsifier::RandK { k: 10 },
            values: ValueCodec::Raw,
        };
        let encoded = chain.encode(&values, 8).unwrap();
        assert_eq!(encoded.bytes.len(), 2 + 2 + 40);
        let kept = encoded.decoded.iter().filter(|&&v| v != 0.0).count();
        assert!(kept <= 10);
        assert_ne!(
            chain.decode(&encoded.bytes, 200, 9).unwrap(),
            encoded.decoded
        );
    }

    #[test]
    fn another_chain_is_rejected() {
        let values = update();
        let sign = Chain {
            sparsifier: Sparsifier::None,
            values: ValueCodec::Sign { chunk: 32 },
        };
        let bytes = sign.encode(&values, 1).unwrap().bytes;
        let err = Chain::NONE.decode(&bytes, 200, 1).unwrap_err();
        assert!(
            matches!(err, CompressError::UnexpectedChain { .. }),
            "{err}"
        );
        let err = sign.decode(&bytes, 100, 1).unwrap_err();
        assert!(
            matches!(
                err,
                CompressError::LengthMismatch {
                    expected: 100,
                    actual: 200
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn other_top_k_count_is_rejected() {
        let values = update();
        let wide = Chain {
            sparsifier: Sparsifier::TopK { k: 20 },
            values: ValueCodec::Raw,
        };
        let narrow = Chain {
            sparsifier: Sparsifier::TopK { k: 10 },
            values: ValueCodec::Raw,
        };
        let bytes = wide.encode(&values, 1).unwrap().bytes;
        assert_eq!(
            narrow.decode(&bytes, 200, 1),
            Err(CompressError::ParameterMismatch {
                name: "kept value count",
                expected: 10,
                actual: 20
            })
        );
        assert!(wide.decode(&bytes, 200, 1).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120),
        ) {
            let chains = [
                Chain::NONE,
                Chain {
                    sparsifier: Sparsifier::TopK { k: 4 },
                    values: ValueCodec::Quantize(Quantizer::new(2, 8).unwrap()),
                },
                Chain {
                    sparsifier: Sparsifier::RandK { k: 4 },
                    values: ValueCodec::Sign { chunk: 8 },
                },
            ];
            for chain in chains {
                let _ = chain.decode(&bytes, 16, 1);
            }
        }
    }

    #[test]
    fn truncated_messages_give_errors() {
        let chain = Chain {
            sparsifier: Sparsifier::TopK { k: 5 },
            values: ValueCodec::Qsgd(Qsgd::new(4).unwrap()),
        };
        let bytes = chain.encode(&update(), 2).unwrap().bytes;
        for len in 0..bytes.len() {
            assert!(chain.decode(&bytes[..len], 200, 2).is_err(), "prefix {len}");
        }
    }
}
