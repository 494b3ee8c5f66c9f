//! Seeded, stratified train/test splits.

use rand::seq::SliceRandom;

use crate::dataset::{Dataset, NUM_CLASSES, Split};
use crate::error::DataError;
use crate::rng::{Stream, seeded};

/// Splits `data` into a training set and a test set of exactly `test_len`
/// examples, keeping each label's share as equal in both as whole examples
/// allow.
///
/// Each class contributes `class_count * test_len / len` test examples,
/// rounded down. The examples still missing go one each to the classes with
/// the largest remainders, the lower label first on ties. Which examples of a
/// class are held out, and the order of both sets, are shuffled with `seed`,
/// so the same seed always gives the same split.
pub fn stratified_split(data: &Dataset, test_len: usize, seed: u64) -> Result<Split, DataError> {
    let total = data.len();
    if test_len > total {
        return Err(DataError::TestTooLarge {
            test: test_len,
            examples: total,
        });
    }
    let mut rng = seeded(seed, Stream::Split);

    let mut by_class: [Vec<usize>; NUM_CLASSES] = Default::default();
    for (index, &label) in data.labels().iter().enumerate() {
        by_class[usize::from(label)].push(index);
    }
    let class_sizes = by_class.each_ref().map(Vec::len);
    let quotas = test_quotas(&class_sizes, test_len, total);

    let mut train = Vec::with_capacity(total - test_len);
    let mut test = Vec::with_capacity(test_len);
    for (mut indices, quota) in by_class.into_iter().zip(quotas) {
        indices.shuffle(&mut rng);
        test.extend_from_slice(&indices[..quota]);
        train.extend_from_slice(&indices[quota..]);
    }
    train.shuffle(&mut rng);
    test.shuffle(&mut rng);

    tracing::debug!(
        seed,
        train = train.len(),
        test = test.len(),
        "stratified split"
    );
    Ok(Split {
        train: data.subset(&train),
        test: data.subset(&test),
    })
}

/// Apportions `test_len` among classes by the largest-remainder method.
fn test_quotas(
    class_sizes: &[usize; NUM_CLASSES],
    test_len: usize,
    total: usize,
) -> [usize; NUM_CLASSES] {
    if total == 0 {
        return [0; NUM_CLASSES];
    }
    // u64 keeps `size * test_len` from overflowing on 32-bit wasm.
    let (test_len, total) = (test_len as u64, total as u64);
    let mut quotas = [0usize; NUM_CLASSES];
    let mut remainders = [0u64; NUM_CLASSES];
    for (class, &size) in class_sizes.iter().enumerate() {
        let share = size as u64 * test_len;
        quotas[class] = (share / total) as usize;
        remainders[class] = share % total;
    }
    let missing = test_len as usize - quotas.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..NUM_CLASSES).collect();
    order.sort_by(|&a, &b| remainders[b].cmp(&remainders[a]).then(a.cmp(&b)));
    for &class in order.iter().take(missing) {
        quotas[class] += 1;
    }
    quotas
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labelled(labels: Vec<u8>) -> Dataset {
        let images = (0..labels.len()).map(|i| i as u8).collect();
        Dataset::new(images, labels, 1, 1).unwrap()
    }

    #[test]
    fn quotas_sum_to_test_len() {
        let sizes = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
        let quotas = test_quotas(&sizes, 2000, 10_000);
        assert_eq!(quotas.iter().sum::<usize>(), 2000);
        for (quota, size) in quotas.iter().zip(sizes) {
            let exact = size as f64 * 0.2;
            assert!((*quota as f64 - exact).abs() < 1.0, "{quota} vs {exact}");
        }
    }

    #[test]
    fn quotas_break_ties_by_label() {
        // Three equal classes of 1 share 2 test slots: labels 0 and 1 win.
        let mut sizes = [0; NUM_CLASSES];
        sizes[..3].copy_from_slice(&[1, 1, 1]);
        let quotas = test_quotas(&sizes, 2, 3);
        assert_eq!(&quotas[..3], &[1, 1, 0]);
    }

    #[test]
    fn split_keeps_class_shares() {
        let labels: Vec<u8> = (0..100).map(|i| if i < 80 { 0 } else { 1 }).collect();
        let split = stratified_split(&labelled(labels), 10, 7).unwrap();
        assert_eq!(split.test.label_histogram()[0], 8);
        assert_eq!(split.test.label_histogram()[1], 2);
        assert_eq!(split.train.len(), 90);
    }

    #[test]
    fn whole_set_can_be_test() {
        let split = stratified_split(&labelled(vec![1, 2, 3]), 3, 0).unwrap();
        assert_eq!(split.test.len(), 3);
        assert!(split.train.is_empty());
    }

    #[test]
    fn oversized_test_is_rejected() {
        let err = stratified_split(&labelled(vec![1, 2]), 3, 0).unwrap_err();
        assert!(matches!(
            err,
            DataError::TestTooLarge {
                test: 3,
                examples: 2
            }
        ));
    }
}
