//! Update compression as the server configures it and announces it in each
//! round task. A spec names the values a client keeps (all, top-k, rand-k)
//! and their encoding (raw `f32`, 2/4/8-bit quantization, QSGD, signs). Its
//! short text form reads `8bit`, `qsgd:256` or `topk:0.01+8bit`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Values per scale of quantization and sign codecs unless a spec sets it.
pub const DEFAULT_CHUNK: u32 = 1024;

/// Quantization levels of QSGD unless a spec sets them.
pub const DEFAULT_QSGD_LEVELS: u32 = 256;

/// Selection of the values of an update that a client sends.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Sparsification {
    /// Every value.
    None,
    /// The `fraction` of values with the largest magnitude.
    TopK {
        /// Fraction kept, in (0, 1].
        fraction: f64,
    },
    /// A `fraction` of positions drawn from the round's seed, the same for
    /// every client of the round.
    RandK {
        /// Fraction kept, in (0, 1].
        fraction: f64,
    },
}

/// Encoding of the kept values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum ValueEncoding {
    /// Little-endian `f32`.
    Raw,
    /// Stochastic quantization to `bits` bits with one scale per `chunk`.
    Quantize {
        /// 2, 4 or 8.
        bits: u8,
        /// Values per scale.
        chunk: u32,
    },
    /// QSGD with `levels` levels.
    Qsgd {
        /// Levels s.
        levels: u32,
    },
    /// One sign bit per value with one scale per `chunk`.
    Sign {
        /// Values per scale.
        chunk: u32,
    },
}

/// Compression of client updates.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct UplinkCompression {
    /// Selection of the values sent.
    pub sparsification: Sparsification,
    /// Their encoding.
    pub values: ValueEncoding,
    /// Whether clients carry what compression dropped into their next
    /// update (error feedback).
    pub error_feedback: bool,
}

/// A spec that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid compression {spec:?}: {reason}; expected e.g. none, 8bit, 4bit:512, qsgd:256, sign, topk:0.01, randk:0.05+8bit"
)]
pub struct SpecError {
    /// The spec as given.
    pub spec: String,
    /// The problem with it.
    pub reason: String,
}

impl UplinkCompression {
    /// Parses a spec, returning `None` for `none`. A spec is an optional
    /// `topk:F+` or `randk:F+` prefix (F, the fraction kept, in (0, 1])
    /// followed by a value codec: `f32`, `8bit`, `4bit` or `2bit` (each with
    /// an optional `:chunk`), `qsgd` (optional `:levels`) or `sign`
    /// (optional `:chunk`). A sparsifier alone keeps `f32` values.
    pub fn parse(spec: &str, error_feedback: bool) -> Result<Option<Self>, SpecError> {
        let fail = |reason: String| SpecError {
            spec: spec.to_owned(),
            reason,
        };
        let text = spec.trim();
        if text.is_empty() || text == "none" {
            return Ok(None);
        }
        let (sparsification, rest) = match text.split_once('+') {
            Some((first, rest)) => (parse_sparsifier(first).map_err(fail)?, Some(rest)),
            None if text.starts_with("topk") || text.starts_with("randk") => {
                (parse_sparsifier(text).map_err(fail)?, None)
            }
            None => (Sparsification::None, Some(text)),
        };
        let values = match rest {
            Some(rest) => parse_values(rest).map_err(fail)?,
            None => ValueEncoding::Raw,
        };
        if sparsification == Sparsification::None && values == ValueEncoding::Raw {
            return Ok(None);
        }
        Ok(Some(Self {
            sparsification,
            values,
            error_feedback,
        }))
    }

    /// True when decoding gives back exactly what the client had.
    pub fn is_lossless(&self) -> bool {
        self.sparsification == Sparsification::None && self.values == ValueEncoding::Raw
    }
}

impl fmt::Display for UplinkCompression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sparsification {
            Sparsification::None => {}
            Sparsification::TopK { fraction } => write!(f, "topk:{fraction}+")?,
            Sparsification::RandK { fraction } => write!(f, "randk:{fraction}+")?,
        }
        match self.values {
            ValueEncoding::Raw => f.write_str("f32")?,
            ValueEncoding::Quantize { bits, chunk } => write!(f, "{bits}bit:{chunk}")?,
            ValueEncoding::Qsgd { levels } => write!(f, "qsgd:{levels}")?,
            ValueEncoding::Sign { chunk } => write!(f, "sign:{chunk}")?,
        }
        if self.error_feedback {
            f.write_str(" with error feedback")?;
        }
        Ok(())
    }
}

impl FromStr for UplinkCompression {
    type Err = SpecError;

    /// Parses a spec with error feedback on; `none` is an error here.
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        Self::parse(spec, true)?.ok_or_else(|| SpecError {
            spec: spec.to_owned(),
            reason: "this spec compresses nothing".to_owned(),
        })
    }
}

fn parse_sparsifier(text: &str) -> Result<Sparsification, String> {
    let (name, argument) = text.split_once(':').unwrap_or((text, ""));
    let fraction = || -> Result<f64, String> {
        let fraction: f64 = argument
            .parse()
            .map_err(|_| format!("{name} needs a fraction kept, e.g. {name}:0.01"))?;
        if fraction > 0.0 && fraction <= 1.0 {
            Ok(fraction)
        } else {
            Err(format!("fraction {fraction} is not in (0, 1]"))
        }
    };
    match name {
        "topk" => Ok(Sparsification::TopK {
            fraction: fraction()?,
        }),
        "randk" => Ok(Sparsification::RandK {
            fraction: fraction()?,
        }),
        other => Err(format!("unknown sparsifier {other:?} (topk, randk)")),
    }
}

fn parse_values(text: &str) -> Result<ValueEncoding, String> {
    let (name, argument) = match text.split_once(':') {
        Some((name, argument)) => (name, Some(argument)),
        None => (text, None),
    };
    let number = |default: u32, what: &str| -> Result<u32, String> {
        match argument {
            None => Ok(default),
            Some(argument) => match argument.parse::<u32>() {
                Ok(value) if value > 0 => Ok(value),
                _ => Err(format!(
                    "{what} of {name} must be a positive integer, got {argument:?}"
                )),
            },
        }
    };
    match name {
        "f32" => match argument {
            None => Ok(ValueEncoding::Raw),
            Some(_) => Err("f32 takes no parameter".to_owned()),
        },
        "8bit" | "4bit" | "2bit" => Ok(ValueEncoding::Quantize {
            bits: name.as_bytes()[0] - b'0',
            chunk: number(DEFAULT_CHUNK, "the chunk size")?,
        }),
        "qsgd" => Ok(ValueEncoding::Qsgd {
            levels: number(DEFAULT_QSGD_LEVELS, "the levels")?,
        }),
        "sign" | "1bit" => Ok(ValueEncoding::Sign {
            chunk: number(DEFAULT_CHUNK, "the chunk size")?,
        }),
        other => Err(format!(
            "unknown value codec {other:?} (f32, 8bit, 4bit, 2bit, qsgd, sign)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: &str) -> Option<UplinkCompression> {
        UplinkCompression::parse(spec, true).unwrap()
    }

    #[test]
    fn specs_parse_to_chains() {
        assert_eq!(parse("none"), None);
        assert_eq!(parse("f32"), None);
        let eight = parse("8bit").unwrap();
        assert_eq!(eight.sparsification, Sparsification::None);
        assert_eq!(
            eight.values,
            ValueEncoding::Quantize {
                bits: 8,
                chunk: 1024
            }
        );
        assert_eq!(
            parse("4bit:512").unwrap().values,
            ValueEncoding::Quantize {
                bits: 4,
                chunk: 512
            }
        );
        assert_eq!(
            parse("qsgd").unwrap().values,
            ValueEncoding::Qsgd { levels: 256 }
        );
        assert_eq!(
            parse("1bit").unwrap().values,
            ValueEncoding::Sign { chunk: 1024 }
        );
        let top = parse("topk:0.01").unwrap();
        assert_eq!(top.sparsification, Sparsification::TopK { fraction: 0.01 });
        assert_eq!(top.values, ValueEncoding::Raw);
        let both = parse("randk:0.05+8bit").unwrap();
        assert_eq!(
            both.sparsification,
            Sparsification::RandK { fraction: 0.05 }
        );
        assert_eq!(
            both.values,
            ValueEncoding::Quantize {
                bits: 8,
                chunk: 1024
            }
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let err = UplinkCompression::parse("16bit", true).unwrap_err();
        assert!(
            err.reason.contains("unknown value codec \"16bit\""),
            "{err}"
        );
        let err = UplinkCompression::parse("topk:2", true).unwrap_err();
        assert!(err.reason.contains("not in (0, 1]"), "{err}");
        let err = UplinkCompression::parse("topk", true).unwrap_err();
        assert!(err.reason.contains("needs a fraction"), "{err}");
        let err = UplinkCompression::parse("8bit:0", true).unwrap_err();
        assert!(err.reason.contains("positive integer"), "{err}");
        let err = UplinkCompression::parse("zip+8bit", true).unwrap_err();
        assert!(err.reason.contains("unknown sparsifier"), "{err}");
        assert!(err.to_string().contains("expected e.g."), "{err}");
    }

    #[test]
    fn display_round_trips() {
        for spec in [
            "8bit:1024",
            "qsgd:16",
            "topk:0.01+8bit:256",
            "randk:0.1+f32",
            "sign:64",
        ] {
            let parsed = UplinkCompression::parse(spec, false).unwrap().unwrap();
            assert_eq!(parsed.to_string(), spec);
        }
    }
}
