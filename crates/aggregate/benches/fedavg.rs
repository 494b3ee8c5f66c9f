//! FedAvg aggregation of 100 client updates of 1M `f32` parameters, next to
//! the cost of reading the same bytes once (the memory-bandwidth floor).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use starling_aggregate::{ClientContribution, weighted_mean_into, weighted_mean_into_threads};

const CLIENTS: usize = 100;
const PARAMS: usize = 1_000_000;

fn updates() -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    (0..CLIENTS)
        .map(|_| (0..PARAMS).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect()
}

fn bench(c: &mut Criterion) {
    let data = updates();
    let contributions: Vec<_> = data
        .iter()
        .enumerate()
        .map(|(k, delta)| ClientContribution {
            client_id: "bench",
            weight: (k % 7 + 1) as f64 * 100.0,
            local_steps: 1,
            delta,
            control_delta: None,
        })
        .collect();
    let mut out = vec![0.0f32; PARAMS];

    let mut group = c.benchmark_group("fedavg_100x1M");
    group.throughput(Throughput::Bytes((CLIENTS * PARAMS * 4) as u64));
    group.sample_size(20);
    group.bench_function("weighted_mean", |b| {
        b.iter(|| weighted_mean_into(std::hint::black_box(&contributions), &mut out))
    });
    group.bench_function("weighted_mean_1_thread", |b| {
        b.iter(|| weighted_mean_into_threads(std::hint::black_box(&contributions), &mut out, 1))
    });
    group.bench_function("read_once_sum", |b| {
        b.iter(|| {
            let mut acc = [0.0f32; 16];
            for delta in &data {
                for chunk in delta.chunks_exact(16) {
                    for (a, &v) in acc.iter_mut().zip(chunk) {
                        *a += v;
                    }
                }
            }
            std::hint::black_box(acc)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
