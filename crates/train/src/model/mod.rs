//! The two architectures of McMahan et al. 2017 ("Communication-Efficient
//! Learning of Deep Networks from Decentralized Data") and the trait that
//! training and evaluation use to run either.

mod cnn;
mod mlp;

pub use cnn::{Cnn, CnnConfig};
pub use mlp::{Mlp, MlpConfig};

use burn::module::Module;
use burn::tensor::Tensor;

/// Image height the models take.
pub const IMAGE_ROWS: usize = 28;
/// Image width the models take.
pub const IMAGE_COLS: usize = 28;
/// Pixels per image, the length of one input row.
pub const INPUT_SIZE: usize = IMAGE_ROWS * IMAGE_COLS;
/// Output classes: the ten digits.
pub const NUM_CLASSES: usize = 10;

/// A model that maps flattened images to class logits.
pub trait Classifier: Module {
    /// Computes logits `[batch, NUM_CLASSES]` from pixels `[batch, INPUT_SIZE]`
    /// stored row-major.
    fn logits(&self, images: Tensor<2>) -> Tensor<2>;
}
