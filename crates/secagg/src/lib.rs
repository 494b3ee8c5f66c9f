//! Secure aggregation: the server learns the sum of the clients' updates
//! and nothing about any single one, and a round still completes when
//! clients vanish midway.
//!
//! - [`MaskingClient`] and [`MaskingServer`] run SecAgg (Bonawitz et al.
//!   2017) and SecAgg+ (Bell et al. 2020) as transport-free state
//!   machines: keys are advertised, shares of each client's mask seed and
//!   secret key are sealed client to client, inputs are masked in the ring
//!   Z_(2^b), and the survivors reveal what removes the masks.
//! - [`two_server`] splits each input between the aggregator and a mask
//!   server instead.
//! - [`FixedPoint`] turns an update into ring elements and back;
//!   [`SecureParams::check`] refuses parameters that would leak or wrap.
//!
//! Everything compiles for native targets and wasm32; randomness comes
//! from the operating system or the browser's crypto API.

mod client;
mod error;
mod fixed;
mod graph;
mod keys;
mod params;
mod prg;
pub mod random;
mod ring;
mod seal;
mod server;
mod shamir;
pub mod two_server;

pub use client::{ClientPhase, MaskingClient};
pub use error::SecAggError;
pub use fixed::{Decoded, Encoded, FixedPoint, PackedEncoded};
pub use graph::Graph;
pub use keys::{KeyPair, PublicKey, parse_public};
pub use params::{SecureParams, default_neighbours, default_threshold};
pub use prg::{
    Sign, apply as apply_mask, apply_all as apply_masks, apply_all_packed as apply_masks_packed,
};
pub use ring::Ring;
pub use server::{MaskingServer, Participation, ServerPhase};
pub use shamir::{Lagrange, reconstruct, split};
