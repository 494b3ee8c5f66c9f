//! Update compression shared by every client and the server: stochastic
//! quantization with a per-chunk scale, QSGD, 1-bit signs, top-k and
//! rand-k sparsification, error feedback and a sparsity warm-up. Every
//! function is pure (no I/O, no async), so it compiles for native targets
//! and wasm32 alike.
//!
//! Decoders take untrusted bytes and return [`CompressError`] on anything
//! malformed; they never panic.

mod bits;
mod chain;
mod downlink;
mod error;
mod feedback;
mod qsgd;
mod quantize;
mod randk;
mod sign;
mod sparse;
mod spec;
mod varint;
mod warmup;

pub use chain::{Chain, Encoded, Sparsifier, ValueCodec};
pub use downlink::{Broadcast, ModelStep, apply_steps};
pub use error::CompressError;
pub use feedback::ErrorFeedback;
pub use qsgd::{Qsgd, qsgd_decode};
pub use quantize::{Quantizer, dequantize};
pub use randk::{rand_k_decode, rand_k_encode, rand_k_positions};
pub use sign::{sign_decode, sign_encode};
pub use sparse::{SparseVector, top_k};
pub use warmup::SparsityWarmup;

/// Checks that every value is finite, naming the first that is not.
pub fn check_finite(values: &[f32]) -> Result<(), CompressError> {
    match values.iter().position(|value| !value.is_finite()) {
        Some(index) => Err(CompressError::NonFinite {
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}
