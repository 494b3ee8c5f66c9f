//! Privacy accounting for DP-FedAvg with Rényi differential privacy (RDP).
//!
//! Each round is one step of the Poisson-subsampled Gaussian mechanism.
//! Every client joins the cohort with probability q (the sampling rate),
//! and the sum of clipped updates gets Gaussian noise of standard deviation
//! z times the clipping norm (z is the noise multiplier). This crate
//! computes the RDP of such a step ([`sampled_gaussian_rdp`]), composes
//! steps over rounds and converts the total to an (ε, δ) guarantee
//! ([`RdpAccountant`]), and finds the smallest noise multiplier that meets
//! a target ε ([`calibrate_noise_multiplier`]). It also clips updates to an
//! L2 bound, flat or per layer ([`clip_flat`], [`clip_per_layer`]), and
//! adapts the bound to a quantile of update norms ([`AdaptiveClipping`]).
//!
//! Everything is f64 maths with no I/O, so the crate compiles for native
//! targets and wasm32 alike.
//!
//! ```
//! use starling_privacy::{RdpAccountant, calibrate_noise_multiplier};
//!
//! // 1000 rounds at sampling rate 0.05 and noise multiplier 1.5.
//! let mut accountant = RdpAccountant::new();
//! accountant.record_steps(0.05, 1.5, 1000)?;
//! let spent = accountant.epsilon(1e-5)?;
//! assert!((spent.epsilon - 6.0189).abs() < 1e-3);
//! assert_eq!(spent.order, 4.4);
//!
//! // The smallest noise multiplier that keeps ε within 6.5 over those rounds.
//! let noise_multiplier = calibrate_noise_multiplier(6.5, 1e-5, 0.05, 1000)?;
//! assert!(noise_multiplier < 1.5);
//! # Ok::<(), starling_privacy::PrivacyError>(())
//! ```

mod accountant;
mod adaptive;
mod calibrate;
mod clip;
mod conversion;
mod distributed;
mod erfc;
mod error;
mod log_sum;
mod noise;
mod orders;
mod rdp;

pub use accountant::RdpAccountant;
pub use adaptive::{AdaptiveClipping, update_noise_multiplier};
pub use calibrate::{CalibrationConfig, calibrate_noise_multiplier};
pub use clip::{Clipped, clip_flat, clip_per_layer, l2_norm};
pub use conversion::PrivacySpent;
pub use distributed::{ROUNDING_BETA, SCALED_NORM, SkellamNoise, rounding_bound, skellam_rdp};
pub use error::PrivacyError;
pub use noise::{gaussian, noised_mean};
pub use orders::{MAX_ORDER, standard_orders};
pub use rdp::sampled_gaussian_rdp;
