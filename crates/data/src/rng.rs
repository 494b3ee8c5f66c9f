//! Seeded random number generators. Nothing in this crate uses operating
//! system randomness, so every split and partition is reproducible from its
//! seed and the crate builds for `wasm32-unknown-unknown` without `getrandom`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Independent random streams for the different uses of one seed, so that the
/// train/test split and the partitioning of the training set are not
/// correlated when a [`starling_proto::DataAssignment`] uses the same seed for
/// both.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stream {
    Split = 1,
    Partition = 2,
}

/// Returns a ChaCha8 generator for `seed` positioned on `stream`.
pub(crate) fn seeded(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream as u64);
    rng
}
