//! Conversion between a burn module and a [`ParamSet`].
//!
//! Tensor names are the module's field paths joined with dots (for example
//! `hidden1.weight`) and tensors appear in the module's visit order, which is
//! the field declaration order. Values are copied as `f32` bits, so a
//! module -> `ParamSet` -> module round trip is exact.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};
use starling_proto::{ParamError, ParamSet, TensorSpec};

use crate::error::TrainError;
use crate::input::read_values;

/// Lists the name and shape of every float parameter of `module`, in visit
/// order, without initialising lazy parameters.
pub fn module_specs<M: Module>(module: &M) -> Vec<TensorSpec> {
    let mut collector = SpecCollector::default();
    module.visit(&mut collector);
    collector.specs
}

/// Copies every float parameter of `module` into a [`ParamSet`].
pub fn module_to_params<M: Module>(module: &M) -> Result<ParamSet, TrainError> {
    crate::block::block_on(read_params(module))
}

/// Copies every float parameter of `module` into a [`ParamSet`] with one
/// read-back from the device.
pub(crate) async fn read_params<M: Module>(module: &M) -> Result<ParamSet, TrainError> {
    let mut collector = TensorCollector::default();
    module.visit(&mut collector);
    let values = if collector.tensors.is_empty() {
        Vec::new()
    } else {
        let flat = Tensor::cat(collector.tensors, 0);
        read_values::<f32, 1, _>(flat, "parameter tensors").await?
    };
    Ok(ParamSet::new(collector.specs, values)?)
}

/// Replaces every float parameter of `module` with the values in `params`.
///
/// Fails with [`TrainError::Layout`] unless `params` has exactly the
/// module's tensor names and shapes, in the same order.
pub fn load_params<M: Module>(module: M, params: &ParamSet) -> Result<M, TrainError> {
    params.check_layout(&module_specs(&module))?;
    let mut loader = ParamLoader {
        path: ModulePath::default(),
        tensors: params.tensors(),
        index: 0,
        error: None,
    };
    let module = module.map(&mut loader);
    if let Some(error) = loader.error {
        return Err(error.into());
    }
    Ok(module)
}

/// Stack of field names from the root module to the current one.
#[derive(Default)]
struct ModulePath(Vec<String>);

impl ModulePath {
    fn enter(&mut self, name: &str) {
        self.0.push(name.to_owned());
    }

    fn exit(&mut self) {
        self.0.pop();
    }

    fn joined(&self) -> String {
        self.0.join(".")
    }
}

fn spec_of<const D: usize>(path: &ModulePath, param: &Param<Tensor<D>>) -> TensorSpec {
    TensorSpec {
        name: path.joined(),
        shape: param
            .lazy_shape()
            .iter()
            .map(|&dim| u32::try_from(dim).unwrap_or(u32::MAX))
            .collect(),
    }
}

#[derive(Default)]
struct SpecCollector {
    path: ModulePath,
    specs: Vec<TensorSpec>,
}

impl ModuleVisitor for SpecCollector {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.enter(name);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.specs.push(spec_of(&self.path, param));
    }
}

/// Gathers every float parameter, flattened, in visit order.
#[derive(Default)]
struct TensorCollector {
    path: ModulePath,
    specs: Vec<TensorSpec>,
    tensors: Vec<Tensor<1>>,
}

impl ModuleVisitor for TensorCollector {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.enter(name);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.specs.push(spec_of(&self.path, param));
        self.tensors
            .push(param.val().detach().flatten::<1>(0, D - 1));
    }
}

/// Mapper that swaps in the tensors of a [`ParamSet`] one by one.
///
/// [`load_params`] checks the layout before mapping; the per-tensor check
/// here only guards against a visit order that differs from the map order.
struct ParamLoader<'a, I: Iterator<Item = (&'a TensorSpec, &'a [f32])>> {
    path: ModulePath,
    tensors: I,
    index: usize,
    error: Option<ParamError>,
}

impl<'a, I: Iterator<Item = (&'a TensorSpec, &'a [f32])>> ModuleMapper for ParamLoader<'a, I> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.enter(name);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let index = self.index;
        self.index += 1;
        if self.error.is_some() {
            return param;
        }
        let expected = spec_of(&self.path, &param);
        let Some((spec, values)) = self.tensors.next() else {
            self.error = Some(ParamError::SpecMismatch {
                index,
                expected: format!("{}{:?}", expected.name, expected.shape),
                actual: "nothing".to_owned(),
            });
            return param;
        };
        if *spec != expected {
            self.error = Some(ParamError::SpecMismatch {
                index,
                expected: format!("{}{:?}", expected.name, expected.shape),
                actual: format!("{}{:?}", spec.name, spec.shape),
            });
            return param;
        }
        let shape: Vec<usize> = spec.shape.iter().map(|&dim| dim as usize).collect();
        let data = TensorData::new(values.to_vec(), shape);
        let tensor = Tensor::<D>::from_data(data, &param.lazy_device());
        let id = param.id;
        // Keeps the parameter's id, device and gradient setting without
        // running its lazy initialiser.
        param.transform_for_load(tensor, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{inference_device, training_device};
    use crate::model::{CnnConfig, MlpConfig};

    #[test]
    fn mlp_specs_use_field_paths() {
        let model = MlpConfig::new().init(&inference_device());
        let specs = module_specs(&model);
        let names: Vec<&str> = specs.iter().map(|spec| spec.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "hidden1.weight",
                "hidden1.bias",
                "hidden2.weight",
                "hidden2.bias",
                "output.weight",
                "output.bias"
            ]
        );
        assert_eq!(specs[0].shape, [784, 200]);
        assert_eq!(specs[5].shape, [10]);
    }

    #[test]
    fn cnn_specs_use_field_paths() {
        let model = CnnConfig::new().init(&inference_device());
        let specs = module_specs(&model);
        let names: Vec<&str> = specs.iter().map(|spec| spec.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "conv1.weight",
                "conv1.bias",
                "conv2.weight",
                "conv2.bias",
                "hidden.weight",
                "hidden.bias",
                "output.weight",
                "output.bias"
            ]
        );
        assert_eq!(specs[0].shape, [32, 1, 5, 5]);
        assert_eq!(specs[2].shape, [64, 32, 5, 5]);
        assert_eq!(specs[4].shape, [3136, 512]);
    }

    fn patterned(specs: Vec<TensorSpec>) -> ParamSet {
        let mut params = ParamSet::zeros(specs);
        for (i, value) in params.values_mut().iter_mut().enumerate() {
            // Values that are not exactly representable in short decimal form.
            *value = ((i as f32) * 0.618_034).sin() / 3.0;
        }
        params
    }

    fn assert_bit_identical(actual: &ParamSet, expected: &ParamSet) {
        assert_eq!(actual.specs(), expected.specs());
        let same_bits = actual
            .values()
            .iter()
            .zip(expected.values())
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same_bits);
    }

    #[test]
    fn mlp_round_trip_is_bit_exact() {
        let device = training_device();
        let model = MlpConfig::new().init(&device);
        let params = patterned(module_specs(&model));
        let loaded = load_params(model, &params).unwrap();
        let back = module_to_params(&loaded).unwrap();
        assert_bit_identical(&back, &params);
    }

    #[test]
    fn cnn_round_trip_is_bit_exact() {
        let device = inference_device();
        let model = CnnConfig::new().init(&device);
        let params = patterned(module_specs(&model));
        let loaded = load_params(model, &params).unwrap();
        let back = module_to_params(&loaded).unwrap();
        assert_bit_identical(&back, &params);
    }

    #[test]
    fn loaded_params_keep_gradients_on() {
        let device = training_device();
        let model = MlpConfig::new().init(&device);
        let params = patterned(module_specs(&model));
        let loaded = load_params(model, &params).unwrap();
        assert!(loaded.hidden1.weight.is_require_grad());
        assert!(loaded.output.bias.as_ref().unwrap().is_require_grad());
    }

    #[test]
    fn load_rejects_other_model() {
        let device = inference_device();
        let cnn_params = patterned(module_specs(&CnnConfig::new().init(&device)));
        let err = load_params(MlpConfig::new().init(&device), &cnn_params).unwrap_err();
        assert!(matches!(err, TrainError::Layout(_)), "{err}");
        let text = err.to_string();
        assert!(text.contains("tensor 0 mismatch"), "{text}");
    }

    #[test]
    fn load_rejects_wrong_shape() {
        let device = inference_device();
        let model = MlpConfig::new().init(&device);
        let mut specs = module_specs(&model);
        specs[2].shape = vec![200, 100];
        let err = load_params(model, &patterned(specs)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("tensor 2 mismatch"), "{text}");
        assert!(text.contains("hidden2.weight"), "{text}");
    }

    #[test]
    fn load_rejects_missing_tensor() {
        let device = inference_device();
        let model = MlpConfig::new().init(&device);
        let mut specs = module_specs(&model);
        specs.pop();
        let err = load_params(model, &patterned(specs)).unwrap_err();
        assert!(err.to_string().contains("tensor 5 mismatch"), "{err}");
    }
}
