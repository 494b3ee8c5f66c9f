//! Evaluation of a model on a labelled data set: loss, accuracy and
//! per-class counts, computed in large batches without autodiff.

use burn::tensor::Device;
use starling_data::Dataset;
use starling_proto::{ModelKind, ParamSet};

use crate::block::block_on;
use crate::device::ComputeDevice;
use crate::error::TrainError;
use crate::input::{check_dataset, read_values, to_device};
use crate::loss::cross_entropy_per_example;
use crate::model::{Classifier, CnnConfig, MlpConfig, NUM_CLASSES};
use crate::params::load_params;

/// Examples per forward pass of the MLP.
const MLP_EVAL_BATCH: usize = 1000;
/// Examples per forward pass of the CNN, smaller because its activations
/// are about 50 KB per example.
const CNN_EVAL_BATCH: usize = 250;

/// Loss and accuracy of a model on a data set.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean cross-entropy per example, 0 for an empty data set.
    pub loss: f64,
    /// Fraction of examples classified correctly, 0 for an empty data set.
    pub accuracy: f64,
    /// Examples classified correctly.
    pub correct: u64,
    /// Examples evaluated.
    pub total: u64,
    /// Correct predictions per true label.
    pub per_class_correct: [u64; NUM_CLASSES],
    /// Examples per true label.
    pub per_class_total: [u64; NUM_CLASSES],
}

/// Evaluates the `kind` model with parameters `params` on `data`, on the
/// CPU backend, blocking the calling thread.
pub fn evaluate(
    kind: ModelKind,
    params: &ParamSet,
    data: &Dataset,
) -> Result<Evaluation, TrainError> {
    block_on(evaluate_on(&ComputeDevice::cpu(), kind, params, data))
}

/// [`evaluate`] on `device`, reading results back asynchronously.
pub async fn evaluate_on(
    device: &ComputeDevice,
    kind: ModelKind,
    params: &ParamSet,
    data: &Dataset,
) -> Result<Evaluation, TrainError> {
    check_dataset(data)?;
    let device = device.inference();
    match kind {
        ModelKind::Mlp => {
            let model = load_params(MlpConfig::new().init(&device), params)?;
            evaluate_model(&model, data, MLP_EVAL_BATCH, &device).await
        }
        ModelKind::Cnn => {
            let model = load_params(CnnConfig::new().init(&device), params)?;
            evaluate_model(&model, data, CNN_EVAL_BATCH, &device).await
        }
    }
}

async fn evaluate_model<M: Classifier>(
    model: &M,
    data: &Dataset,
    batch_size: usize,
    device: &Device,
) -> Result<Evaluation, TrainError> {
    let mut evaluation = Evaluation {
        loss: 0.0,
        accuracy: 0.0,
        correct: 0,
        total: 0,
        per_class_correct: [0; NUM_CLASSES],
        per_class_total: [0; NUM_CLASSES],
    };
    if data.is_empty() {
        return Ok(evaluation);
    }

    let model = model.valid();
    let inputs = to_device(data, device);
    let mut loss_sum = 0.0f64;
    let mut start = 0;

    while start < data.len() {
        let len = batch_size.min(data.len() - start);
        let images = inputs.images.clone().narrow(0, start, len);
        let labels = inputs.labels.clone().narrow(0, start, len);
        let logits = model.logits(images);
        let predictions = logits.clone().argmax(1);
        let losses = cross_entropy_per_example(logits, labels);

        let batch_loss = read_values::<f32, 1, _>(losses.sum(), "evaluation loss").await?;
        loss_sum += batch_loss.first().copied().map_or(f64::NAN, f64::from);
        let predictions = read_values::<i64, 2, _>(predictions, "predictions").await?;

        let true_labels = &data.labels()[start..start + len];
        for (&label, &predicted) in true_labels.iter().zip(&predictions) {
            let class = usize::from(label);
            evaluation.per_class_total[class] += 1;
            if predicted == i64::from(label) {
                evaluation.per_class_correct[class] += 1;
            }
        }
        start += len;
    }

    evaluation.total = data.len() as u64;
    evaluation.correct = evaluation.per_class_correct.iter().sum();
    evaluation.loss = loss_sum / data.len() as f64;
    evaluation.accuracy = evaluation.correct as f64 / data.len() as f64;
    Ok(evaluation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::init_params;
    use crate::test_data::toy_dataset;

    #[test]
    fn empty_data_gives_zeros() {
        let params = init_params(ModelKind::Mlp, 1);
        let empty = Dataset::new(Vec::new(), Vec::new(), 28, 28).unwrap();
        let evaluation = evaluate(ModelKind::Mlp, &params, &empty).unwrap();
        assert_eq!(evaluation.total, 0);
        assert_eq!(evaluation.correct, 0);
        assert_eq!(evaluation.loss, 0.0);
        assert_eq!(evaluation.accuracy, 0.0);
    }

    #[test]
    fn counts_add_up() {
        let params = init_params(ModelKind::Mlp, 1);
        let data = toy_dataset(1003, 2);
        let evaluation = evaluate(ModelKind::Mlp, &params, &data).unwrap();
        assert_eq!(evaluation.total, 1003);
        assert_eq!(evaluation.per_class_total.iter().sum::<u64>(), 1003);
        assert_eq!(
            evaluation.per_class_correct.iter().sum::<u64>(),
            evaluation.correct
        );
        for class in 0..NUM_CLASSES {
            let expected = data
                .labels()
                .iter()
                .filter(|&&l| usize::from(l) == class)
                .count();
            assert_eq!(
                evaluation.per_class_total[class], expected as u64,
                "class {class}"
            );
        }
        // An untrained model is near the uniform prediction: loss near ln 10.
        assert!(
            (evaluation.loss - 10f64.ln()).abs() < 0.5,
            "{}",
            evaluation.loss
        );
    }

    #[test]
    fn wrong_layout_is_rejected() {
        let params = init_params(ModelKind::Mlp, 1);
        let data = toy_dataset(4, 2);
        let err = evaluate(ModelKind::Cnn, &params, &data).unwrap_err();
        assert!(matches!(err, TrainError::Layout(_)), "{err}");
    }
}
