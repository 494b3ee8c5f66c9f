//! Encode and decode throughput of each codec on 1,000,000 `f32` values
//! (4 MB of input), reported by criterion in bytes of `f32` input per
//! second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use starling_compress::{
    Qsgd, Quantizer, SparseVector, dequantize, qsgd_decode, rand_k_decode, rand_k_encode,
    sign_decode, sign_encode, top_k,
};
use std::hint::black_box;

const LEN: usize = 1_000_000;

/// Returns a deterministic update-like vector: small values of both signs.
fn update() -> Vec<f32> {
    (0..LEN)
        .map(|i| ((i as u64 * 2_654_435_761 % 10_007) as f32 - 5_003.0) * 1e-5)
        .collect()
}

fn codecs(c: &mut Criterion) {
    let values = update();
    let mut group = c.benchmark_group("codecs_1m");
    group.throughput(Throughput::Bytes((LEN * 4) as u64));
    group.sample_size(20);

    for bits in [8u8, 4, 2] {
        let quantizer = Quantizer::new(bits, 1024).expect("valid quantizer");
        let encoded = quantizer.encode(&values, 1).expect("finite input");
        group.bench_function(format!("quantize{bits}_encode"), |b| {
            b.iter(|| {
                quantizer
                    .encode(black_box(&values), 1)
                    .expect("finite input")
            })
        });
        group.bench_function(format!("quantize{bits}_decode"), |b| {
            b.iter(|| dequantize(black_box(&encoded)).expect("valid message"))
        });
    }

    let qsgd = Qsgd::new(16).expect("valid levels");
    let encoded = qsgd.encode(&values, 1).expect("finite input");
    group.bench_function("qsgd16_encode", |b| {
        b.iter(|| qsgd.encode(black_box(&values), 1).expect("finite input"))
    });
    group.bench_function("qsgd16_decode", |b| {
        b.iter(|| qsgd_decode(black_box(&encoded)).expect("valid message"))
    });

    let encoded = sign_encode(&values, 1024).expect("finite input");
    group.bench_function("sign_encode", |b| {
        b.iter(|| sign_encode(black_box(&values), 1024).expect("finite input"))
    });
    group.bench_function("sign_decode", |b| {
        b.iter(|| sign_decode(black_box(&encoded)).expect("valid message"))
    });

    let k = LEN / 100;
    let encoded = top_k(&values, k).expect("finite input").encode();
    group.bench_function("top1pct_encode", |b| {
        b.iter(|| top_k(black_box(&values), k).expect("finite input").encode())
    });
    group.bench_function("top1pct_decode", |b| {
        b.iter(|| {
            SparseVector::decode(black_box(&encoded))
                .expect("valid message")
                .to_dense()
        })
    });

    let encoded = rand_k_encode(&values, k, 3).expect("finite input");
    group.bench_function("rand1pct_encode", |b| {
        b.iter(|| rand_k_encode(black_box(&values), k, 3).expect("finite input"))
    });
    group.bench_function("rand1pct_decode", |b| {
        b.iter(|| {
            rand_k_decode(black_box(&encoded), 3)
                .expect("valid message")
                .to_dense()
        })
    });
    group.finish();
}

criterion_group!(benches, codecs);
criterion_main!(benches);
