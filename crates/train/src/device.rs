//! The one place that picks the compute backend, so that a client with
//! another backend (a browser tab with wgpu, say) changes only this file.

use burn::tensor::Device;

/// Backend name reported in `Capabilities::backend`.
pub const BACKEND_NAME: &str = "flex-cpu";

/// Device for inference: burn's Flex backend (pure-Rust CPU), without
/// autodiff.
// NOTE: training and evaluation read results back synchronously
// (`Tensor::try_into_data`), which burn 0.22 does not support for a wgpu
// device in a browser, so a wgpu client needs async read-back first.
pub fn inference_device() -> Device {
    Device::flex()
}

/// Device for training: the inference device with autodiff enabled.
pub fn training_device() -> Device {
    inference_device().autodiff()
}
