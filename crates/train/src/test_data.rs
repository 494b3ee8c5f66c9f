//! A small, learnable stand-in for MNIST used by unit tests: each class is a
//! bright block at its own position on a noisy background.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use starling_data::Dataset;

use crate::model::{IMAGE_COLS, IMAGE_ROWS, NUM_CLASSES};

/// Builds `count` 28x28 examples with random labels, deterministic in `seed`.
pub(crate) fn toy_dataset(count: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut images = Vec::with_capacity(count * IMAGE_ROWS * IMAGE_COLS);
    let mut labels = Vec::with_capacity(count);
    for _ in 0..count {
        let label = rng.random_range(0..NUM_CLASSES);
        let top = 2 + (label / 5) * 14;
        let left = 1 + (label % 5) * 5;
        for row in 0..IMAGE_ROWS {
            for col in 0..IMAGE_COLS {
                let inside = (top..top + 10).contains(&row) && (left..left + 5).contains(&col);
                let pixel = if inside {
                    rng.random_range(180..=255)
                } else {
                    rng.random_range(0..60)
                };
                images.push(pixel);
            }
        }
        labels.push(label as u8);
    }
    match Dataset::new(images, labels, IMAGE_ROWS, IMAGE_COLS) {
        Ok(data) => data,
        Err(error) => panic!("toy data set is invalid: {error}"),
    }
}
