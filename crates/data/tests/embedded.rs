//! The embedded digits and their 8,000/2,000 split.

use starling_data::{
    Dataset, EMBEDDED_LEN, NUM_CLASSES, embedded_mnist, embedded_split, read_idx_images,
    read_idx_labels, write_idx_images, write_idx_labels,
};

/// Returns the images of `data` as separate slices, sorted, so that two data
/// sets with the same images in any order compare equal.
fn sorted_images(data: &Dataset) -> Vec<&[u8]> {
    let mut images: Vec<&[u8]> = (0..data.len()).map(|i| data.image(i)).collect();
    images.sort_unstable();
    images
}

#[test]
fn embedded_loads_every_class() {
    let data = embedded_mnist().unwrap();
    assert_eq!(data.len(), 10_000);
    assert_eq!(data.rows(), 28);
    assert_eq!(data.cols(), 28);
    let histogram = data.label_histogram();
    assert_eq!(histogram.iter().sum::<u32>(), 10_000);
    for (label, &count) in histogram.iter().enumerate() {
        assert!(count > 0, "label {label} missing");
    }
}

#[test]
fn split_sizes_are_8000_and_2000() {
    let split = embedded_split(42).unwrap();
    assert_eq!(split.train.len(), 8_000);
    assert_eq!(split.test.len(), 2_000);
    assert_eq!((split.test.rows(), split.test.cols()), (28, 28));
}

#[test]
fn split_is_deterministic() {
    let first = embedded_split(42).unwrap();
    let second = embedded_split(42).unwrap();
    assert_eq!(first.train, second.train);
    assert_eq!(first.test, second.test);
}

#[test]
fn split_differs_across_seeds() {
    let first = embedded_split(1).unwrap();
    let second = embedded_split(2).unwrap();
    assert_ne!(first.test, second.test);
    assert_ne!(first.train.labels(), second.train.labels());
}

#[test]
fn split_is_disjoint_and_complete() {
    let data = embedded_mnist().unwrap();
    let split = embedded_split(5).unwrap();
    // Rebuild the full set from both halves and compare as multisets of
    // images: every digit lands in exactly one half.
    let mut images = split.train.images().to_vec();
    images.extend_from_slice(split.test.images());
    let mut labels = split.train.labels().to_vec();
    labels.extend_from_slice(split.test.labels());
    let joined = Dataset::new(images, labels, 28, 28).unwrap();
    assert_eq!(sorted_images(&joined), sorted_images(&data));
    assert_eq!(joined.label_histogram(), data.label_histogram());
}

#[test]
fn split_is_stratified() {
    let data = embedded_mnist().unwrap();
    let split = embedded_split(3).unwrap();
    let full = data.label_histogram();
    let test = split.test.label_histogram();
    for label in 0..NUM_CLASSES {
        let exact = f64::from(full[label]) * 2_000.0 / EMBEDDED_LEN as f64;
        let found = f64::from(test[label]);
        assert!(
            (found - exact).abs() < 1.0,
            "label {label}: {found} test examples, exact share {exact}"
        );
    }
}

#[test]
fn split_test_order_is_shuffled() {
    // The embedded set is ordered by label; the split must not be.
    let split = embedded_split(0).unwrap();
    let labels = split.test.labels();
    let sorted = labels.windows(2).all(|pair| pair[0] <= pair[1]);
    assert!(!sorted);
    assert_ne!(labels[..100].iter().min(), labels[..100].iter().max());
}

#[test]
fn embedded_survives_idx_round_trip() {
    let data = embedded_mnist().unwrap();
    let (pixels, count, rows, cols) = read_idx_images(&write_idx_images(&data), "images").unwrap();
    let labels = read_idx_labels(&write_idx_labels(data.labels()), "labels").unwrap();
    assert_eq!((count, rows, cols), (10_000, 28, 28));
    assert_eq!(Dataset::new(pixels, labels, rows, cols).unwrap(), data);
}
