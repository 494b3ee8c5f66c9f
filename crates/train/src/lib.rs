//! Local training and evaluation of the Starling models with burn.
//!
//! This crate owns the two architectures (the MLP and the CNN of McMahan
//! et al. 2017), the conversion between a burn module and the flat
//! [`ParamSet`] that travels on the wire, the initial global model, a
//! client's local SGD epochs and the server's evaluation. It does no I/O
//! and uses no async runtime, so native clients, the simulator and the
//! wasm32 browser client can all call it. Training and evaluation are async
//! at heart ([`train_local_on`], [`evaluate_on`]) because a WebGPU device
//! returns results only through the browser's event loop. The blocking
//! [`train_local`] and [`evaluate`] run them on the CPU backend.

mod block;
mod device;
mod error;
mod eval;
mod init;
mod input;
mod local;
mod loss;
pub mod model;
mod objective;
mod params;
#[cfg(test)]
mod test_data;

pub use device::{
    BACKEND_NAME, ComputeDevice, WGPU_BACKEND_NAME, inference_device, training_device,
};
pub use error::TrainError;
pub use eval::{Evaluation, evaluate, evaluate_on};
pub use init::{init_params, param_specs};
pub use input::{PIXEL_MEAN, PIXEL_STD};
pub use local::{
    LocalOutcome, train_local, train_local_on, train_local_with, train_local_with_terms,
};
pub use objective::LocalTerms;
pub use params::{load_params, module_specs, module_to_params};
pub use starling_proto::{ModelKind, ParamSet, TensorSpec, TrainConfig};
