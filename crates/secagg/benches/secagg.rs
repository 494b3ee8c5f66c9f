//! Criterion benchmarks of the building blocks: mask expansion per ring
//! width, P-256 key agreement and Shamir reconstruction from
//! threshold-many shares.
//!
//! `cargo bench -p starling-secagg --bench secagg`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use starling_secagg::{
    KeyPair, Lagrange, Ring, Sign, apply_mask, apply_masks_packed, parse_public, split,
};

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
    // A client's masked input: its self mask and 6 pairwise masks over
    // packed 32-bit elements, in one pass.
    let ring = Ring::new(32).expect("valid ring");
    let mut packed = vec![0u8; len * 4];
    let masks: Vec<([u8; 32], Sign)> = (0..7u8).map(|i| ([i; 32], Sign::Add)).collect();
    group.throughput(Throughput::Bytes((len * 4 * masks.len()) as u64));
    group.bench_function("seven_masks_packed_32", |b| {
        b.iter(|| apply_masks_packed(ring, &masks, &mut packed));
    });
    group.finish();
}

fn key_agreement(c: &mut Criterion) {
    let mut group = c.benchmark_group("p256");
    let ours = KeyPair::generate().expect("system randomness");
    let theirs = KeyPair::generate().expect("system randomness");
    let peer = parse_public(theirs.public(), 2).expect("a valid key");
    group.bench_function("agree", |b| {
        b.iter(|| ours.agree(&peer, b"bench").expect("a valid agreement"));
    });
    group.bench_function("generate", |b| {
        b.iter(|| KeyPair::generate().expect("system randomness"));
    });
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

criterion_group!(benches, mask_expansion, key_agreement, reconstruction);
criterion_main!(benches);
