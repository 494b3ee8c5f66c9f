//! From the wire's [`UplinkCompression`] to a [`Chain`] for a model of a
//! given size: fractions become value counts, chunk sizes and levels are
//! checked by the codecs' own constructors.

use starling_proto::{Sparsification, UplinkCompression, ValueEncoding};

use crate::{Chain, CompressError, Qsgd, Quantizer, Sparsifier, ValueCodec};

impl Chain {
    /// Builds the chain `spec` describes for updates of `len` values. A fraction
    /// keeps `ceil(fraction * len)` values, at least one of a non-empty
    /// update.
    pub fn from_spec(spec: &UplinkCompression, len: usize) -> Result<Self, CompressError> {
        let kept = |fraction: f64| -> Result<usize, CompressError> {
            if !(fraction > 0.0 && fraction <= 1.0) {
                return Err(CompressError::InvalidSpec(format!(
                    "fraction {fraction} is not in (0, 1]"
                )));
            }
            Ok(((fraction * len as f64).ceil() as usize).clamp(len.min(1), len))
        };
        let sparsifier = match spec.sparsification {
            Sparsification::None => Sparsifier::None,
            Sparsification::TopK { fraction } => Sparsifier::TopK { k: kept(fraction)? },
            Sparsification::RandK { fraction } => Sparsifier::RandK { k: kept(fraction)? },
        };
        let values = match spec.values {
            ValueEncoding::Raw => ValueCodec::Raw,
            ValueEncoding::Quantize { bits, chunk } => {
                ValueCodec::Quantize(Quantizer::new(bits, chunk as usize)?)
            }
            ValueEncoding::Qsgd { levels } => ValueCodec::Qsgd(Qsgd::new(levels)?),
            ValueEncoding::Sign { chunk } => {
                if chunk == 0 {
                    return Err(CompressError::ChunkSize(0));
                }
                ValueCodec::Sign {
                    chunk: chunk as usize,
                }
            }
        };
        Ok(Self { sparsifier, values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> UplinkCompression {
        text.parse().unwrap()
    }

    #[test]
    fn fractions_become_counts() {
        let chain = Chain::from_spec(&spec("topk:0.01+8bit"), 199_210).unwrap();
        assert_eq!(chain.sparsifier, Sparsifier::TopK { k: 1993 });
        assert_eq!(
            chain.values,
            ValueCodec::Quantize(Quantizer::new(8, 1024).unwrap())
        );
        // A tiny fraction of a small update still keeps one value.
        let chain = Chain::from_spec(&spec("randk:0.001"), 10).unwrap();
        assert_eq!(chain.sparsifier, Sparsifier::RandK { k: 1 });
        assert_eq!(chain.values, ValueCodec::Raw);
    }

    #[test]
    fn codec_limits_are_checked() {
        let bad_bits = UplinkCompression {
            values: ValueEncoding::Quantize { bits: 3, chunk: 8 },
            ..spec("8bit")
        };
        assert_eq!(
            Chain::from_spec(&bad_bits, 10),
            Err(CompressError::UnsupportedBits(3))
        );
        let bad_fraction = UplinkCompression {
            sparsification: Sparsification::TopK { fraction: 0.0 },
            ..spec("8bit")
        };
        assert!(matches!(
            Chain::from_spec(&bad_fraction, 10),
            Err(CompressError::InvalidSpec(_))
        ));
    }

    #[test]
    fn another_bit_width_is_rejected_by_name() {
        let values: Vec<f32> = (0..100).map(|i| i as f32 / 10.0).collect();
        let four = Chain::from_spec(&spec("4bit"), 100).unwrap();
        let eight = Chain::from_spec(&spec("8bit"), 100).unwrap();
        let bytes = four.encode(&values, 1).unwrap().bytes;
        let err = eight.decode(&bytes, 100, 1).unwrap_err();
        assert_eq!(
            err,
            CompressError::ParameterMismatch {
                name: "bits",
                expected: 8,
                actual: 4
            }
        );
        let other_chunk = Chain::from_spec(&spec("8bit:64"), 100).unwrap();
        let err = other_chunk
            .decode(&eight.encode(&values, 1).unwrap().bytes, 100, 1)
            .unwrap_err();
        assert!(
            matches!(
                err,
                CompressError::ParameterMismatch {
                    name: "chunk size",
                    ..
                }
            ),
            "{err}"
        );
    }
}
