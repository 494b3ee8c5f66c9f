//! One local epoch of each model through the public `train_local` call: 600
//! embedded digits (every 16th of the 10,000), batch 32, plain SGD with
//! learning rate 0.05. Throughput is reported in examples per second.
//!
//! `bench/python/torch_train.py` runs the same workload in PyTorch.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use starling_data::{Dataset, embedded_mnist};
use starling_train::{ModelKind, TrainConfig, init_params, train_local};

const EXAMPLES: usize = 600;
const STRIDE: usize = 16;

fn bench_data() -> Dataset {
    let all = match embedded_mnist() {
        Ok(data) => data,
        Err(error) => panic!("embedded digits failed to decode: {error}"),
    };
    let indices: Vec<usize> = (0..EXAMPLES).map(|i| i * STRIDE).collect();
    all.subset(&indices)
}

fn local_epoch(c: &mut Criterion) {
    let data = bench_data();
    let mut group = c.benchmark_group("local_epoch");
    group.throughput(Throughput::Elements(EXAMPLES as u64));
    group.sample_size(10);
    // Flat sampling runs the same number of epochs per sample, which suits
    // the CNN's one second per epoch.
    group.sampling_mode(SamplingMode::Flat);
    for (name, kind, measurement) in [
        ("mlp", ModelKind::Mlp, Duration::from_secs(10)),
        ("cnn", ModelKind::Cnn, Duration::from_secs(40)),
    ] {
        let global = init_params(kind, 1);
        let config = TrainConfig {
            model: kind,
            local_epochs: 1,
            batch_size: 32,
            learning_rate: 0.05,
            momentum: 0.0,
            weight_decay: 0.0,
        };
        group.measurement_time(measurement);
        let mut seed = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                seed += 1;
                let outcome = train_local(&global, &config, &data, seed);
                black_box(outcome.map(|outcome| outcome.train_loss))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, local_epoch);
criterion_main!(benches);
