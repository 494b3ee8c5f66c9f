//! Training throughput of the browser client, for the comparison with
//! TensorFlow.js in the benchmark page.

use starling_proto::{ModelKind, TrainConfig};
use starling_train::{ComputeDevice, init_params, train_local_on};
use wasm_bindgen::prelude::*;

use crate::timer::now_ms;

/// Trains the MLP on the first `examples` embedded training digits for
/// `epochs` epochs of batch `batch_size` (SGD, learning rate 0.05) on the
/// CPU backend, after one untimed warm-up epoch, and returns the samples per
/// second of the timed epochs.
#[wasm_bindgen]
pub async fn bench_train(examples: u32, batch_size: u32, epochs: u32) -> Result<f64, JsValue> {
    let error = |error: String| JsValue::from_str(&error);
    let split = starling_data::embedded_split(1).map_err(|e| error(e.to_string()))?;
    let count = (examples as usize).min(split.train.len());
    let data = split.train.subset(&(0..count).collect::<Vec<_>>());
    let params = init_params(ModelKind::Mlp, 1);
    let device = ComputeDevice::cpu();
    let mut config = TrainConfig {
        model: ModelKind::Mlp,
        local_epochs: 1,
        batch_size,
        learning_rate: 0.05,
        momentum: 0.0,
        weight_decay: 0.0,
    };
    train_local_on(&device, &params, &config, &data, 0)
        .await
        .map_err(|e| error(e.to_string()))?;
    config.local_epochs = epochs;
    let started = now_ms();
    train_local_on(&device, &params, &config, &data, 1)
        .await
        .map_err(|e| error(e.to_string()))?;
    let seconds = (now_ms() - started) / 1000.0;
    Ok(f64::from(epochs) * count as f64 / seconds)
}
