//! The initial global model and the parameter layout of each architecture.
//!
//! Initial values come from a ChaCha8 stream seeded with the caller's seed,
//! not from burn's device RNG, because that RNG is shared by every thread
//! using the device. The ChaCha8 stream also gives the same bits on every
//! platform, native or wasm32.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use starling_proto::{ModelKind, ParamSet, TensorSpec};

use crate::device::inference_device;
use crate::model::{CnnConfig, MlpConfig};
use crate::params::module_specs;

/// Names and shapes of the parameters of `kind`, in [`ParamSet`] order.
pub fn param_specs(kind: ModelKind) -> Vec<TensorSpec> {
    // Parameters are lazy, so building the module allocates no weights.
    let device = inference_device();
    match kind {
        ModelKind::Mlp => module_specs(&MlpConfig::new().init(&device)),
        ModelKind::Cnn => module_specs(&CnnConfig::new().init(&device)),
    }
}

/// Initial global model, deterministic in `seed`: the same seed gives a
/// bit-identical [`ParamSet`].
///
/// Every tensor is drawn from `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`, where a
/// bias uses the fan-in of the weight before it. This matches the default
/// initialisation of burn's and PyTorch's `Linear` and `Conv2d` layers.
pub fn init_params(kind: ModelKind, seed: u64) -> ParamSet {
    let mut params = ParamSet::zeros(param_specs(kind));
    let bounds: Vec<(usize, f32)> = init_bounds(params.specs());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let values = params.values_mut();
    let mut offset = 0;
    for (len, bound) in bounds {
        for value in &mut values[offset..offset + len] {
            let unit: f32 = rng.random();
            *value = (2.0 * unit - 1.0) * bound;
        }
        offset += len;
    }
    params
}

/// Returns `(numel, bound)` for each tensor.
fn init_bounds(specs: &[TensorSpec]) -> Vec<(usize, f32)> {
    let mut fan_in = 1;
    specs
        .iter()
        .map(|spec| {
            if spec.shape.len() > 1 {
                fan_in = weight_fan_in(&spec.shape);
            }
            (spec.numel(), 1.0 / (fan_in.max(1) as f32).sqrt())
        })
        .collect()
}

/// Fan-in of a weight: `[inputs, outputs]` for a linear layer (burn's
/// layout), `[out_channels, in_channels, kernel...]` for a convolution.
fn weight_fan_in(shape: &[u32]) -> usize {
    match shape {
        [inputs, _outputs] => *inputs as usize,
        [_out_channels, rest @ ..] => rest.iter().map(|&dim| dim as usize).product(),
        [] => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_is_deterministic_per_seed() {
        for kind in [ModelKind::Mlp, ModelKind::Cnn] {
            let first = init_params(kind, 7);
            let second = init_params(kind, 7);
            assert_eq!(first.specs(), second.specs());
            let same_bits = first
                .values()
                .iter()
                .zip(second.values())
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same_bits, "{kind:?}");
        }
    }

    #[test]
    fn init_differs_across_seeds() {
        let first = init_params(ModelKind::Mlp, 1);
        let second = init_params(ModelKind::Mlp, 2);
        let equal = first
            .values()
            .iter()
            .zip(second.values())
            .filter(|(a, b)| a == b)
            .count();
        assert!(equal < first.len() / 1000, "{equal} equal values");
    }

    #[test]
    fn init_matches_layout_and_bounds() {
        let params = init_params(ModelKind::Cnn, 3);
        assert_eq!(params.specs(), param_specs(ModelKind::Cnn).as_slice());
        assert!(params.check_finite().is_ok());
        for (spec, values) in params.tensors() {
            let fan_in: f32 = match spec.name.as_str() {
                "conv1.weight" | "conv1.bias" => 25.0,
                "conv2.weight" | "conv2.bias" => 32.0 * 25.0,
                "hidden.weight" | "hidden.bias" => 3136.0,
                "output.weight" | "output.bias" => 512.0,
                other => panic!("unexpected tensor {other}"),
            };
            let bound = 1.0 / fan_in.sqrt();
            let max = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(max <= bound, "{}: {max} > {bound}", spec.name);
            assert!(max > 0.5 * bound, "{}: {max} too small", spec.name);
        }
    }

    #[test]
    fn mlp_spec_count() {
        let specs = param_specs(ModelKind::Mlp);
        let total: usize = specs.iter().map(TensorSpec::numel).sum();
        assert_eq!(total, 199_210);
    }
}
