//! The convolutional network: two 5x5 convolution + 2x2 max-pool blocks
//! (32 and 64 channels, "same" padding), a 512-unit ReLU layer and a
//! 10-way output, about 1.66M parameters.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::{Classifier, IMAGE_COLS, IMAGE_ROWS, NUM_CLASSES};

/// Channel and unit counts of the [`Cnn`].
#[derive(Config, Debug)]
pub struct CnnConfig {
    /// Output channels of the first convolution.
    #[config(default = 32)]
    pub conv1_channels: usize,
    /// Output channels of the second convolution.
    #[config(default = 64)]
    pub conv2_channels: usize,
    /// Side of the square convolution kernels.
    #[config(default = 5)]
    pub kernel_size: usize,
    /// Units in the dense hidden layer.
    #[config(default = 512)]
    pub hidden: usize,
    /// Output classes.
    #[config(default = "NUM_CLASSES")]
    pub classes: usize,
}

/// Convolutional classifier for 28x28 grey-scale images.
///
/// Convolution weights are `[out_channels, in_channels, kernel, kernel]` and
/// the flattening before `hidden` is channel-major, both as in PyTorch.
/// Linear weights are `[inputs, outputs]`.
#[derive(Module, Debug)]
pub struct Cnn {
    /// First convolution, 1 input channel.
    pub conv1: Conv2d,
    /// Second convolution.
    pub conv2: Conv2d,
    /// 2x2 max pooling with stride 2, used after each convolution.
    pub pool: MaxPool2d,
    /// Dense hidden layer on the flattened feature maps.
    pub hidden: Linear,
    /// Output layer producing logits.
    pub output: Linear,
}

impl CnnConfig {
    /// Creates the model on `device` with burn's default initialisation.
    pub fn init(&self, device: &Device) -> Cnn {
        let kernel = [self.kernel_size, self.kernel_size];
        // Two 2x2 poolings shrink each side by 4.
        let flat = self.conv2_channels * (IMAGE_ROWS / 4) * (IMAGE_COLS / 4);
        Cnn {
            conv1: Conv2dConfig::new([1, self.conv1_channels], kernel)
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            conv2: Conv2dConfig::new([self.conv1_channels, self.conv2_channels], kernel)
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            hidden: LinearConfig::new(flat, self.hidden).init(device),
            output: LinearConfig::new(self.hidden, self.classes).init(device),
        }
    }
}

impl Classifier for Cnn {
    fn logits(&self, images: Tensor<2>) -> Tensor<2> {
        let [batch, _] = images.dims();
        let x = images.reshape([batch, 1, IMAGE_ROWS, IMAGE_COLS]);
        let x = self.pool.forward(relu(self.conv1.forward(x)));
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        let x: Tensor<2> = x.flatten(1, 3);
        let x = relu(self.hidden.forward(x));
        self.output.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::inference_device;
    use crate::model::INPUT_SIZE;

    #[test]
    fn cnn_has_paper_parameter_count() {
        let model = CnnConfig::new().init(&inference_device());
        let conv1 = 32 * 25 + 32;
        let conv2 = 64 * 32 * 25 + 64;
        let hidden = 7 * 7 * 64 * 512 + 512;
        let output = 512 * 10 + 10;
        assert_eq!(model.num_params(), conv1 + conv2 + hidden + output);
        assert_eq!(model.num_params(), 1_663_370);
    }

    #[test]
    fn cnn_backward_gives_gradient_per_parameter() {
        let device = crate::device::training_device();
        let model = CnnConfig::new().init(&device);
        let images = Tensor::<2>::ones([4, INPUT_SIZE], &device);
        let labels = Tensor::<1, burn::tensor::Int>::from_ints([0, 3, 7, 9], &device);
        let loss = crate::loss::cross_entropy(model.logits(images), labels);
        let grads = loss.backward();
        let conv1 = model.conv1.weight.grad(&grads).unwrap();
        assert_eq!(conv1.dims(), [32, 1, 5, 5]);
        let conv2 = model.conv2.weight.grad(&grads).unwrap();
        assert_eq!(conv2.dims(), [64, 32, 5, 5]);
        let hidden = model.hidden.weight.grad(&grads).unwrap();
        assert_eq!(hidden.dims(), [3136, 512]);
        let output_bias = model.output.bias.as_ref().unwrap().grad(&grads).unwrap();
        assert_eq!(output_bias.dims(), [NUM_CLASSES]);
    }

    #[test]
    fn cnn_logits_shape() {
        let device = inference_device();
        let model = CnnConfig::new().init(&device);
        let logits = model.logits(Tensor::zeros([2, INPUT_SIZE], &device));
        assert_eq!(logits.dims(), [2, NUM_CLASSES]);
    }
}
