//! The compute backend a client trains on: burn's Flex CPU backend
//! everywhere, and burn's wgpu backend on WebGPU where the `wgpu` feature is
//! on and the browser offers an adapter.

use burn::tensor::Device;

/// Backend name of the CPU backend, reported in `Capabilities::backend`.
pub const BACKEND_NAME: &str = "flex-cpu";

/// Backend name of the WebGPU backend.
pub const WGPU_BACKEND_NAME: &str = "wgpu-webgpu";

/// A device to train and evaluate on, with the name clients report.
#[derive(Clone, Debug)]
pub struct ComputeDevice {
    device: Device,
    name: &'static str,
}

impl ComputeDevice {
    /// burn's Flex backend: pure-Rust CPU code, the same on every platform.
    pub fn cpu() -> Self {
        Self {
            device: Device::flex(),
            name: BACKEND_NAME,
        }
    }

    /// burn's wgpu backend on the default adapter.
    ///
    /// The wgpu runtime can be set up once per process (once per page or
    /// worker in a browser): call this once and clone the result.
    #[cfg(feature = "wgpu")]
    pub async fn wgpu() -> Result<Self, crate::TrainError> {
        let device = Device::wgpu_options()
            .init_async()
            .await
            .map_err(|error| crate::TrainError::backend("wgpu adapter", error))?;
        Ok(Self {
            device,
            name: WGPU_BACKEND_NAME,
        })
    }

    /// Backend name, for example `flex-cpu`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Returns the device without autodiff, for evaluation.
    pub fn inference(&self) -> Device {
        self.device.clone()
    }

    /// Returns the device with autodiff, for training.
    pub fn training(&self) -> Device {
        self.device.clone().autodiff()
    }
}

/// Device for inference on the CPU backend.
pub fn inference_device() -> Device {
    ComputeDevice::cpu().inference()
}

/// Device for training on the CPU backend.
pub fn training_device() -> Device {
    ComputeDevice::cpu().training()
}
