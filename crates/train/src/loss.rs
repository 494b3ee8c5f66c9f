//! Cross-entropy on logits.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

/// Negative log-likelihood of each example's label: `[batch]` from logits
/// `[batch, classes]` and labels `[batch]`.
pub(crate) fn cross_entropy_per_example(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let [batch] = labels.dims();
    let log_probs = log_softmax(logits, 1);
    log_probs
        .gather(1, labels.reshape([batch, 1]))
        .reshape([batch])
        .neg()
}

/// Mean cross-entropy over the batch, as a one-element tensor.
pub(crate) fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    cross_entropy_per_example(logits, labels).mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::inference_device;

    #[test]
    fn cross_entropy_matches_hand_computation() {
        let device = inference_device();
        let logits = Tensor::<2>::from_floats([[0.0, 0.0], [2.0, 0.0]], &device);
        let labels = Tensor::<1, Int>::from_ints([1, 0], &device);
        let losses: Vec<f32> = cross_entropy_per_example(logits, labels)
            .into_data()
            .try_into_vec()
            .unwrap();
        let first = 2.0f32.ln();
        let second = (1.0 + (-2.0f32).exp()).ln();
        assert!((losses[0] - first).abs() < 1e-6, "{losses:?}");
        assert!((losses[1] - second).abs() < 1e-6, "{losses:?}");
    }
}
