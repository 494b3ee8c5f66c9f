//! The "2NN" multilayer perceptron: 784-200-200-10 with ReLU.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::{Classifier, INPUT_SIZE, NUM_CLASSES};

/// Layer sizes of the [`Mlp`].
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Inputs per example.
    #[config(default = "INPUT_SIZE")]
    pub inputs: usize,
    /// Units in each of the two hidden layers.
    #[config(default = 200)]
    pub hidden: usize,
    /// Output classes.
    #[config(default = "NUM_CLASSES")]
    pub classes: usize,
}

/// Two fully connected ReLU layers and a linear output layer.
///
/// Linear weights are stored as `[inputs, outputs]` (burn's layout, the
/// transpose of PyTorch's `[outputs, inputs]`).
#[derive(Module, Debug)]
pub struct Mlp {
    /// First hidden layer.
    pub hidden1: Linear,
    /// Second hidden layer.
    pub hidden2: Linear,
    /// Output layer producing logits.
    pub output: Linear,
}

impl MlpConfig {
    /// Creates the model on `device` with burn's default initialisation.
    pub fn init(&self, device: &Device) -> Mlp {
        Mlp {
            hidden1: LinearConfig::new(self.inputs, self.hidden).init(device),
            hidden2: LinearConfig::new(self.hidden, self.hidden).init(device),
            output: LinearConfig::new(self.hidden, self.classes).init(device),
        }
    }
}

impl Classifier for Mlp {
    fn logits(&self, images: Tensor<2>) -> Tensor<2> {
        let x = relu(self.hidden1.forward(images));
        let x = relu(self.hidden2.forward(x));
        self.output.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::inference_device;

    #[test]
    fn mlp_has_paper_parameter_count() {
        let model = MlpConfig::new().init(&inference_device());
        let expected = 784 * 200 + 200 + 200 * 200 + 200 + 200 * 10 + 10;
        assert_eq!(model.num_params(), expected);
    }

    #[test]
    fn mlp_logits_shape() {
        let device = inference_device();
        let model = MlpConfig::new().init(&device);
        let logits = model.logits(Tensor::zeros([3, INPUT_SIZE], &device));
        assert_eq!(logits.dims(), [3, NUM_CLASSES]);
    }
}
