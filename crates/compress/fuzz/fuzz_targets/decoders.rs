//! Feeds arbitrary bytes to every decoder of untrusted update messages: the
//! single codecs and the chains the server decodes with. A decoder may
//! return an error, never panic, and never return a vector of another
//! length than the one the receiver expects.

#![no_main]

use libfuzzer_sys::fuzz_target;
use starling_compress::{
    Chain, SparseVector, dequantize, qsgd_decode, rand_k_decode, sign_decode,
};
use starling_proto::UplinkCompression;

/// Chains a server can be configured with, besides plain `f32`.
const SPECS: [&str; 7] = [
    "8bit",
    "4bit:64",
    "2bit:7",
    "qsgd:16",
    "sign:32",
    "topk:0.1+8bit",
    "randk:0.25+qsgd:4",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, message)) = data.split_first() else {
        return;
    };
    let _ = dequantize(message);
    let _ = qsgd_decode(message);
    let _ = sign_decode(message);
    let _ = SparseVector::decode(message);
    let _ = rand_k_decode(message, u64::from(selector));

    // The model size the receiver expects: small, so that random bytes can
    // reach the end of a message.
    let len = usize::from(selector % 32) + 1;
    let chain = match SPECS.get(usize::from(selector >> 5)) {
        Some(spec) => {
            let spec: UplinkCompression = spec.parse().expect("listed specs parse");
            Chain::from_spec(&spec, len).expect("listed specs fit every length")
        }
        None => Chain::NONE,
    };
    if let Ok(values) = chain.decode(message, len, u64::from(selector)) {
        assert_eq!(values.len(), len);
    }
});
