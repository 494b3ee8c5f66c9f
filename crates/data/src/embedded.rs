//! The 10,000 MNIST digits compiled into the binary, so that simulations,
//! tests and browser clients have real data without a download.
//!
//! The files under `data/mnist-10k/` are produced by `cargo xtask
//! import-mnist`; `data/mnist-10k/PROVENANCE.md` records their source and
//! checksums and `data/mnist-10k/LICENSE` their terms (MNIST is CC BY-SA 3.0).

use crate::dataset::{Dataset, Split};
use crate::error::DataError;
use crate::idx::{read_idx_images, read_idx_labels};
use crate::split::stratified_split;

/// Gzip-compressed IDX images of the embedded digits.
const IMAGES_GZ: &[u8] = include_bytes!("../../../data/mnist-10k/images-idx3-ubyte.gz");

/// Gzip-compressed IDX labels of the embedded digits.
const LABELS_GZ: &[u8] = include_bytes!("../../../data/mnist-10k/labels-idx1-ubyte.gz");

/// Number of embedded digits.
pub const EMBEDDED_LEN: usize = 10_000;

/// Size of the test set of [`embedded_split`].
pub const EMBEDDED_TEST_LEN: usize = 2_000;

/// Decodes the embedded 10,000 MNIST digits (28x28), ordered by label.
///
/// Every call decompresses the data again (about 8 MB of pixels), so callers
/// that need it more than once should keep the result.
pub fn embedded_mnist() -> Result<Dataset, DataError> {
    let (pixels, count, rows, cols) = read_idx_images(IMAGES_GZ, "embedded images-idx3-ubyte.gz")?;
    let labels = read_idx_labels(LABELS_GZ, "embedded labels-idx1-ubyte.gz")?;
    if labels.len() != count {
        return Err(DataError::CountMismatch {
            images_name: "embedded images-idx3-ubyte.gz".to_owned(),
            images: count,
            labels_name: "embedded labels-idx1-ubyte.gz".to_owned(),
            labels: labels.len(),
        });
    }
    Dataset::new(pixels, labels, rows, cols)
}

/// Splits the embedded digits into 8,000 training and 2,000 test examples,
/// stratified by label and shuffled with `seed` (see [`stratified_split`]).
pub fn embedded_split(seed: u64) -> Result<Split, DataError> {
    stratified_split(&embedded_mnist()?, EMBEDDED_TEST_LEN, seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::NUM_CLASSES;

    #[test]
    fn embedded_has_ten_thousand_digits() {
        let data = embedded_mnist().unwrap();
        assert_eq!(data.len(), EMBEDDED_LEN);
        assert_eq!((data.rows(), data.cols()), (28, 28));
        assert_eq!(data.images().len(), EMBEDDED_LEN * 784);
        let histogram = data.label_histogram();
        assert_eq!(histogram.iter().sum::<u32>(), EMBEDDED_LEN as u32);
        for (label, &count) in histogram.iter().enumerate() {
            // Each class has roughly a tenth of the digits.
            assert!((700..1300).contains(&count), "label {label}: {count}");
        }
        assert_eq!(histogram.len(), NUM_CLASSES);
    }

    #[test]
    fn embedded_images_look_like_digits() {
        let data = embedded_mnist().unwrap();
        for i in [0, 4_999, 9_999] {
            let image = data.image(i);
            // MNIST digits sit on a black background with a bright stroke.
            assert_eq!(image[0], 0, "image {i} corner");
            let max = image.iter().copied().max();
            assert!(max >= Some(250), "image {i} max {max:?}");
            let ink = image.iter().filter(|&&p| p > 0).count();
            assert!((40..500).contains(&ink), "image {i}: {ink} inked pixels");
        }
    }

    #[test]
    fn embedded_is_ordered_by_label() {
        let data = embedded_mnist().unwrap();
        assert!(data.labels().windows(2).all(|pair| pair[0] <= pair[1]));
    }
}
