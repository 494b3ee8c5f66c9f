//! Local training on one client: mini-batch SGD from the global model,
//! returning the update (local minus global) that the server aggregates.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use starling_data::Dataset;
use starling_proto::{ModelKind, ParamSet, TrainConfig};

use crate::block::block_on;
use crate::device::ComputeDevice;
use crate::error::TrainError;
use crate::init::param_specs;
use crate::input::{check_dataset, index_tensor, read_values, to_device};
use crate::loss::cross_entropy;
use crate::model::{Classifier, CnnConfig, MlpConfig};
use crate::objective::{DeviceTerms, LocalTerms};
use crate::params::{load_params, read_params};

/// Result of [`train_local`].
#[derive(Clone, Debug, PartialEq)]
pub struct LocalOutcome {
    /// Local model minus the global model, with the global model's layout.
    pub delta: ParamSet,
    /// Examples trained on, the FedAvg weight.
    pub num_examples: u64,
    /// Optimiser steps taken over all epochs.
    pub local_steps: u32,
    /// Mean of the per-batch mean losses over all steps, 0 when no step ran.
    pub train_loss: f64,
}

/// Trains from `global` on `data`: `config.local_epochs` epochs of
/// mini-batch SGD with the learning rate, momentum and weight decay of
/// `config`.
///
/// The example order is reshuffled every epoch from a ChaCha8 stream seeded
/// with `seed`, so the same inputs give the same order on every platform.
/// The last batch of an epoch may be smaller than `config.batch_size` and is
/// trained on. Empty data or zero epochs give a zero delta and no steps.
///
/// Momentum follows PyTorch's `SGD` without dampening; weight decay adds
/// `weight_decay * w` to the gradient. Optimiser state starts fresh on every
/// call.
///
/// Runs on the CPU backend and blocks the calling thread; a browser client
/// calls [`train_local_on`] instead.
pub fn train_local(
    global: &ParamSet,
    config: &TrainConfig,
    data: &Dataset,
    seed: u64,
) -> Result<LocalOutcome, TrainError> {
    block_on(train_local_on(
        &ComputeDevice::cpu(),
        global,
        config,
        data,
        seed,
    ))
}

/// [`train_local`] with `terms` added to the local loss; see
/// [`train_local_with`].
pub fn train_local_with_terms(
    global: &ParamSet,
    config: &TrainConfig,
    data: &Dataset,
    seed: u64,
    terms: &LocalTerms,
) -> Result<LocalOutcome, TrainError> {
    block_on(train_local_with(
        &ComputeDevice::cpu(),
        global,
        config,
        data,
        seed,
        terms,
    ))
}

/// [`train_local`] on `device`, reading results back asynchronously, as a
/// WebGPU device in a browser requires. The same inputs give the same
/// update as [`train_local`] on the CPU device.
pub async fn train_local_on(
    device: &ComputeDevice,
    global: &ParamSet,
    config: &TrainConfig,
    data: &Dataset,
    seed: u64,
) -> Result<LocalOutcome, TrainError> {
    train_local_with(device, global, config, data, seed, &LocalTerms::default()).await
}

/// [`train_local_on`] with `terms` added to the loss of every step (the
/// FedProx proximal term, the SCAFFOLD correction). With empty terms the
/// result is bit for bit that of [`train_local_on`]. The reported
/// `train_loss` is the cross-entropy alone, so it compares across
/// strategies.
pub async fn train_local_with(
    device: &ComputeDevice,
    global: &ParamSet,
    config: &TrainConfig,
    data: &Dataset,
    seed: u64,
    terms: &LocalTerms,
) -> Result<LocalOutcome, TrainError> {
    check_config(config)?;
    global.check_layout(&param_specs(config.model))?;
    terms.check(global.len())?;
    check_dataset(data)?;
    if data.is_empty() || config.local_epochs == 0 {
        return Ok(LocalOutcome {
            delta: ParamSet::zeros(global.specs().to_vec()),
            num_examples: 0,
            local_steps: 0,
            train_loss: 0.0,
        });
    }
    let device = device.training();
    match config.model {
        ModelKind::Mlp => {
            let model = MlpConfig::new().init(&device);
            train_model(model, global, config, data, seed, terms, &device).await
        }
        ModelKind::Cnn => {
            let model = CnnConfig::new().init(&device);
            train_model(model, global, config, data, seed, terms, &device).await
        }
    }
}

fn check_config(config: &TrainConfig) -> Result<(), TrainError> {
    if config.batch_size == 0 {
        return Err(TrainError::InvalidConfig(
            "batch_size is 0 but must be at least 1".to_owned(),
        ));
    }
    if !(config.learning_rate.is_finite() && config.learning_rate >= 0.0) {
        return Err(TrainError::InvalidConfig(format!(
            "learning_rate is {} but must be finite and not negative",
            config.learning_rate
        )));
    }
    if !(0.0..1.0).contains(&config.momentum) {
        return Err(TrainError::InvalidConfig(format!(
            "momentum is {} but must be in [0, 1)",
            config.momentum
        )));
    }
    if !(config.weight_decay.is_finite() && config.weight_decay >= 0.0) {
        return Err(TrainError::InvalidConfig(format!(
            "weight_decay is {} but must be finite and not negative",
            config.weight_decay
        )));
    }
    Ok(())
}

fn sgd_config(config: &TrainConfig) -> SgdConfig {
    let mut sgd = SgdConfig::new();
    if config.momentum > 0.0 {
        let momentum = MomentumConfig::new()
            .with_momentum(config.momentum)
            .with_dampening(0.0);
        sgd = sgd.with_momentum(Some(momentum));
    }
    if config.weight_decay > 0.0 {
        sgd = sgd.with_weight_decay(Some(WeightDecayConfig::new(config.weight_decay as f32)));
    }
    sgd
}

async fn train_model<M: Classifier>(
    model: M,
    global: &ParamSet,
    config: &TrainConfig,
    data: &Dataset,
    seed: u64,
    terms: &LocalTerms,
    device: &Device,
) -> Result<LocalOutcome, TrainError> {
    let mut model = load_params(model, global)?;
    let terms = DeviceTerms::new(terms, global, device);
    let inputs = to_device(data, device);
    let mut optimizer = sgd_config(config).init();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..data.len()).collect();
    let batch_size = config.batch_size as usize;
    let mut steps: u32 = 0;
    let mut loss_sum = 0.0f64;

    for epoch in 1..=config.local_epochs {
        order.shuffle(&mut rng);

        // Batch losses are summed on the device and read once per epoch, so
        // a backend with a command queue is not forced to sync every step.
        let mut epoch_loss: Option<Tensor<1>> = None;
        let mut epoch_steps = 0u32;

        for batch in order.chunks(batch_size) {
            let indices = index_tensor(batch, device);
            let images = inputs.images.clone().select(0, indices.clone());
            let labels = inputs.labels.clone().select(0, indices);
            let loss = cross_entropy(model.logits(images), labels);
            let objective = match terms.as_ref().and_then(|terms| terms.penalty(&model)) {
                Some(penalty) => loss.clone() + penalty,
                None => loss.clone(),
            };
            let grads = GradientsParams::from_grads(objective.backward(), &model);
            model = optimizer.step(config.learning_rate, model, grads);

            let loss = loss.detach();
            epoch_loss = Some(match epoch_loss {
                Some(sum) => sum + loss,
                None => loss,
            });
            epoch_steps += 1;
        }

        let epoch_sum = match epoch_loss {
            Some(sum) => read_values::<f32, 1, _>(sum, "training loss")
                .await?
                .first()
                .copied()
                .map_or(f64::NAN, f64::from),
            None => 0.0,
        };

        if !epoch_sum.is_finite() {
            return Err(TrainError::Diverged {
                epoch,
                loss: epoch_sum / f64::from(epoch_steps.max(1)),
            });
        }
        loss_sum += epoch_sum;
        steps += epoch_steps;
    }

    let local = read_params(&model).await?;
    let delta: Vec<f32> = local
        .values()
        .iter()
        .zip(global.values())
        .map(|(local, global)| local - global)
        .collect();

    Ok(LocalOutcome {
        delta: ParamSet::new(global.specs().to_vec(), delta)?,
        num_examples: data.len() as u64,
        local_steps: steps,
        train_loss: loss_sum / f64::from(steps.max(1)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::init_params;
    use crate::test_data::toy_dataset;

    fn config(model: ModelKind) -> TrainConfig {
        TrainConfig {
            model,
            local_epochs: 1,
            batch_size: 16,
            learning_rate: 0.05,
            momentum: 0.0,
            weight_decay: 0.0,
        }
    }

    #[test]
    fn empty_data_gives_zero_update() {
        let global = init_params(ModelKind::Mlp, 1);
        let empty = Dataset::new(Vec::new(), Vec::new(), 28, 28).unwrap();
        let outcome = train_local(&global, &config(ModelKind::Mlp), &empty, 5).unwrap();
        assert_eq!(outcome.num_examples, 0);
        assert_eq!(outcome.local_steps, 0);
        assert_eq!(outcome.train_loss, 0.0);
        assert_eq!(outcome.delta.specs(), global.specs());
        assert!(outcome.delta.values().iter().all(|&v| v == 0.0));
    }

    #[test]
    fn delta_has_global_layout_and_counts() {
        let global = init_params(ModelKind::Mlp, 2);
        let data = toy_dataset(50, 3);
        let mut config = config(ModelKind::Mlp);
        config.local_epochs = 2;
        let outcome = train_local(&global, &config, &data, 9).unwrap();
        assert_eq!(outcome.delta.specs(), global.specs());
        assert_eq!(outcome.num_examples, 50);
        // 50 examples in batches of 16: 3 full batches and one of 2, twice.
        assert_eq!(outcome.local_steps, 8);
        assert!(outcome.train_loss.is_finite());
        assert!(outcome.train_loss > 0.0);
        assert!(outcome.delta.values().iter().any(|&v| v != 0.0));
        assert!(outcome.delta.check_finite().is_ok());
    }

    #[test]
    fn same_seed_gives_same_update() {
        let global = init_params(ModelKind::Mlp, 4);
        let data = toy_dataset(40, 5);
        let config = config(ModelKind::Mlp);
        let first = train_local(&global, &config, &data, 11).unwrap();
        let second = train_local(&global, &config, &data, 11).unwrap();
        assert_eq!(first, second);
        let other = train_local(&global, &config, &data, 12).unwrap();
        assert_ne!(first.delta, other.delta);
    }

    #[test]
    fn momentum_and_decay_change_the_update() {
        let global = init_params(ModelKind::Mlp, 4);
        let data = toy_dataset(64, 6);
        let plain = train_local(&global, &config(ModelKind::Mlp), &data, 1).unwrap();
        let mut tuned = config(ModelKind::Mlp);
        tuned.momentum = 0.9;
        tuned.weight_decay = 1e-3;
        let tuned = train_local(&global, &tuned, &data, 1).unwrap();
        assert_ne!(plain.delta, tuned.delta);
        assert!(tuned.delta.check_finite().is_ok());
    }

    fn train_with(
        global: &ParamSet,
        config: &TrainConfig,
        data: &Dataset,
        terms: &LocalTerms,
    ) -> LocalOutcome {
        train_local_with_terms(global, config, data, 3, terms).unwrap()
    }

    #[test]
    fn empty_terms_reproduce_plain_training_bit_for_bit() {
        let global = init_params(ModelKind::Mlp, 4);
        let data = toy_dataset(40, 5);
        let mut config = config(ModelKind::Mlp);
        config.momentum = 0.5;
        let plain = train_local(&global, &config, &data, 3).unwrap();
        let with = train_with(&global, &config, &data, &LocalTerms::default());
        assert_eq!(plain, with);
    }

    #[test]
    fn correction_shifts_one_step() {
        // One full-batch step: w1 = w0 - lr * (grad + correction), so the
        // corrected delta differs from the plain one by -lr * correction.
        let global = init_params(ModelKind::Mlp, 6);
        let data = toy_dataset(16, 7);
        let config = config(ModelKind::Mlp);
        let plain = train_with(&global, &config, &data, &LocalTerms::default());
        assert_eq!(plain.local_steps, 1);
        let correction: Vec<f32> = (0..global.len())
            .map(|i| ((i % 7) as f32 - 3.0) * 0.01)
            .collect();
        let terms = LocalTerms {
            proximal_mu: 0.0,
            correction: Some(correction.clone()),
        };
        let corrected = train_with(&global, &config, &data, &terms);
        let lr = config.learning_rate as f32;
        for ((&c, &p), &k) in corrected
            .delta
            .values()
            .iter()
            .zip(plain.delta.values())
            .zip(&correction)
        {
            assert!((c - (p - lr * k)).abs() < 1e-6, "{c} vs {}", p - lr * k);
        }
    }

    #[test]
    fn proximal_term_pulls_second_step() {
        // Two full-batch steps. The proximal gradient is 0 at the global
        // model, so step 1 is plain; step 2 adds mu * (w1 - w0) = mu * d1,
        // so the FedProx delta is the plain one minus lr * mu * d1.
        let global = init_params(ModelKind::Mlp, 8);
        let data = toy_dataset(16, 9);
        let one_step = config(ModelKind::Mlp);
        let mut two_steps = one_step.clone();
        two_steps.local_epochs = 2;
        let first = train_with(&global, &one_step, &data, &LocalTerms::default());
        let plain = train_with(&global, &two_steps, &data, &LocalTerms::default());
        let mu = 0.5;
        let terms = LocalTerms {
            proximal_mu: mu,
            correction: None,
        };
        let prox = train_with(&global, &two_steps, &data, &terms);
        let scale = (one_step.learning_rate * mu) as f32;
        for ((&x, &p), &d1) in prox
            .delta
            .values()
            .iter()
            .zip(plain.delta.values())
            .zip(first.delta.values())
        {
            assert!(
                (x - (p - scale * d1)).abs() < 1e-5,
                "{x} vs {}",
                p - scale * d1
            );
        }
        let norm = |d: &ParamSet| d.values().iter().map(|v| v * v).sum::<f32>();
        assert!(norm(&prox.delta) < norm(&plain.delta));
    }

    #[test]
    fn layout_mismatch_is_rejected() {
        let global = init_params(ModelKind::Cnn, 1);
        let data = toy_dataset(8, 1);
        let err = train_local(&global, &config(ModelKind::Mlp), &data, 1).unwrap_err();
        assert!(matches!(err, TrainError::Layout(_)), "{err}");
    }

    #[test]
    fn wrong_image_size_is_rejected() {
        let global = init_params(ModelKind::Mlp, 1);
        let data = Dataset::new(vec![0; 2 * 16 * 16], vec![1, 2], 16, 16).unwrap();
        let err = train_local(&global, &config(ModelKind::Mlp), &data, 1).unwrap_err();
        assert!(
            matches!(err, TrainError::ImageSize { rows: 16, .. }),
            "{err}"
        );
    }

    #[test]
    fn invalid_config_is_rejected() {
        let global = init_params(ModelKind::Mlp, 1);
        let data = toy_dataset(8, 1);
        let mut zero_batch = config(ModelKind::Mlp);
        zero_batch.batch_size = 0;
        let mut negative_lr = config(ModelKind::Mlp);
        negative_lr.learning_rate = -0.1;
        let mut big_momentum = config(ModelKind::Mlp);
        big_momentum.momentum = 1.0;
        let mut nan_decay = config(ModelKind::Mlp);
        nan_decay.weight_decay = f64::NAN;
        for bad in [zero_batch, negative_lr, big_momentum, nan_decay] {
            let err = train_local(&global, &bad, &data, 1).unwrap_err();
            assert!(matches!(err, TrainError::InvalidConfig(_)), "{err}");
        }
    }

    #[test]
    fn huge_learning_rate_diverges() {
        let global = init_params(ModelKind::Mlp, 1);
        let data = toy_dataset(64, 2);
        let mut config = config(ModelKind::Mlp);
        config.learning_rate = 1e30;
        config.local_epochs = 3;
        let err = train_local(&global, &config, &data, 1).unwrap_err();
        assert!(matches!(err, TrainError::Diverged { .. }), "{err}");
    }

    #[test]
    fn mlp_epoch_on_mnist_beats_chance() {
        let split = starling_data::embedded_split(17).unwrap();
        let train = split.train.subset(&(0..1000).collect::<Vec<_>>());
        let global = init_params(ModelKind::Mlp, 17);
        let mut config = config(ModelKind::Mlp);
        config.batch_size = 10;
        let outcome = train_local(&global, &config, &train, 17).unwrap();
        assert_eq!(outcome.local_steps, 100);
        let mut local = global.clone();
        for (value, delta) in local.values_mut().iter_mut().zip(outcome.delta.values()) {
            *value += delta;
        }
        let before = crate::eval::evaluate(ModelKind::Mlp, &global, &split.test).unwrap();
        let after = crate::eval::evaluate(ModelKind::Mlp, &local, &split.test).unwrap();
        assert_eq!(after.total, 2000);
        assert!(
            before.accuracy < 0.3,
            "untrained accuracy {}",
            before.accuracy
        );
        assert!(after.accuracy > 0.7, "trained accuracy {}", after.accuracy);
        assert!(after.loss < before.loss);
    }

    #[test]
    fn toy_problem_is_learned() {
        let train = toy_dataset(300, 21);
        let test = toy_dataset(200, 22);
        let global = init_params(ModelKind::Mlp, 21);
        let mut config = config(ModelKind::Mlp);
        config.batch_size = 10;
        let outcome = train_local(&global, &config, &train, 21).unwrap();
        let mut local = global.clone();
        for (value, delta) in local.values_mut().iter_mut().zip(outcome.delta.values()) {
            *value += delta;
        }
        let after = crate::eval::evaluate(ModelKind::Mlp, &local, &test).unwrap();
        assert!(after.accuracy > 0.9, "accuracy {}", after.accuracy);
    }

    #[test]
    fn cnn_training_lowers_loss() {
        let global = init_params(ModelKind::Cnn, 3);
        let data = toy_dataset(32, 4);
        let mut config = config(ModelKind::Cnn);
        config.batch_size = 32;
        config.learning_rate = 0.1;
        let before = crate::eval::evaluate(ModelKind::Cnn, &global, &data).unwrap();
        let mut params = global.clone();
        for round in 0..4 {
            let outcome = train_local(&params, &config, &data, round).unwrap();
            assert_eq!(outcome.local_steps, 1);
            for (value, delta) in params.values_mut().iter_mut().zip(outcome.delta.values()) {
                *value += delta;
            }
        }
        let after = crate::eval::evaluate(ModelKind::Cnn, &params, &data).unwrap();
        assert!(
            after.loss < before.loss,
            "loss {} -> {}",
            before.loss,
            after.loss
        );
    }
}
