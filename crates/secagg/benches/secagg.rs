//! Criterion benchmarks of the building blocks: mask expansion per ring
//! width and Shamir reconstruction from threshold-many shares.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use starling_secagg::{Lagrange, Ring, Sign, apply_mask, split};

fn mask_expansion(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask_expansion");
    let len = 1_000_000;
    for bits in [32u8, 48] {
        let ring = Ring::new(bits).expect("valid split");
        let mut out = vec![0u64; len];
        // Throughput counts the keystream bytes the mask consumes.
        let width = if bits > 32 { 8 } else { 4 };
        group.throughput(Throughput::Bytes((len * width) as u64));
        group.bench_with_input(BenchmarkId::new("bits", bits), &bits, |b, _| {
            b.iter(|| apply_mask(ring, &[7; 32], Sign::Add, &mut out));
        });
    }
    group.finish();
}

fn reconstruction(c: &mut Criterion) {
    let mut group = c.benchmark_group("shamir");
    for (shares, threshold) in [(7u32, 4usize), (100, 51)] {
        let slots: Vec<u32> = (1..=shares).collect();
        let secret = p256_scalar();
        let values = split(&secret, threshold, &slots).expect("valid split");
        let used: Vec<u32> = slots[..threshold].to_vec();
        group.bench_function(BenchmarkId::new("reconstruct", shares), |b| {
            b.iter(|| {
                Lagrange::at_zero(&used)
                    .expect("distinct slots")
                    .combine(&values[..threshold])
            });
        });
    }
    group.finish();
}

fn p256_scalar() -> p256::Scalar {
    p256::Scalar::from(123_456_789u64)
}

criterion_group!(benches, mask_expansion, reconstruction);
criterion_main!(benches);
