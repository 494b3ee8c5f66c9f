//! An in-memory image classification data set: `u8` pixels and one label per
//! image.

use crate::error::DataError;

/// Number of label classes (the digits 0 to 9).
pub const NUM_CLASSES: usize = 10;

/// Images as `u8` pixels, row-major and stored back to back, with one label
/// per image.
///
/// All images share one shape of `rows x cols` pixels and every label is in
/// `0..NUM_CLASSES`; [`Dataset::new`] checks both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    images: Vec<u8>,
    labels: Vec<u8>,
    rows: usize,
    cols: usize,
}

/// A training set and a disjoint test set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Examples to train on.
    pub train: Dataset,
    /// Held-out examples to evaluate on.
    pub test: Dataset,
}

impl Dataset {
    /// Builds a data set after checking that `images` contains exactly
    /// `labels.len()` images of `rows x cols` pixels and that every label is
    /// below [`NUM_CLASSES`].
    pub fn new(
        images: Vec<u8>,
        labels: Vec<u8>,
        rows: usize,
        cols: usize,
    ) -> Result<Self, DataError> {
        if rows == 0 || cols == 0 {
            return Err(DataError::InvalidShape { rows, cols });
        }
        let expected = labels
            .len()
            .checked_mul(rows)
            .and_then(|n| n.checked_mul(cols));
        if expected != Some(images.len()) {
            return Err(DataError::PixelCount {
                expected: expected.unwrap_or(usize::MAX),
                found: images.len(),
                labels: labels.len(),
                rows,
                cols,
            });
        }
        if let Some((index, &label)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &label)| usize::from(label) >= NUM_CLASSES)
        {
            return Err(DataError::InvalidLabel { index, label });
        }
        Ok(Self {
            images,
            labels,
            rows,
            cols,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Returns true when the data set contains no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image height in pixels.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Image width in pixels.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Pixels in one image, `rows * cols`.
    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// Returns all pixels, image after image.
    pub fn images(&self) -> &[u8] {
        &self.images
    }

    /// Returns all labels, in image order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Pixels of image `i`.
    ///
    /// # Panics
    ///
    /// Panics if `i >= self.len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        let size = self.pixels_per_image();
        &self.images[i * size..(i + 1) * size]
    }

    /// Label of image `i`.
    ///
    /// # Panics
    ///
    /// Panics if `i >= self.len()`.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// Copies the images at `indices`, in that order, into a new data set.
    /// An index may appear more than once.
    ///
    /// # Panics
    ///
    /// Panics if an index is `>= self.len()`.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let size = self.pixels_per_image();
        let mut images = Vec::with_capacity(indices.len() * size);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            images.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
        Dataset {
            images,
            labels,
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// Number of images of each label.
    pub fn label_histogram(&self) -> [u32; NUM_CLASSES] {
        label_histogram(&self.labels)
    }
}

/// Counts the labels of each class; labels `>= NUM_CLASSES` are not counted.
pub(crate) fn label_histogram(labels: &[u8]) -> [u32; NUM_CLASSES] {
    let mut histogram = [0u32; NUM_CLASSES];
    for &label in labels {
        if let Some(count) = histogram.get_mut(usize::from(label)) {
            *count += 1;
        }
    }
    histogram
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        // Three 2x2 images whose pixels are their index, labels 7, 0, 7.
        let images = vec![0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2];
        Dataset::new(images, vec![7, 0, 7], 2, 2).unwrap()
    }

    #[test]
    fn accessors_report_shape() {
        let data = tiny();
        assert_eq!(data.len(), 3);
        assert!(!data.is_empty());
        assert_eq!(data.rows(), 2);
        assert_eq!(data.cols(), 2);
        assert_eq!(data.pixels_per_image(), 4);
        assert_eq!(data.image(1), &[1, 1, 1, 1]);
        assert_eq!(data.label(2), 7);
    }

    #[test]
    fn subset_copies_in_given_order() {
        let data = tiny();
        let sub = data.subset(&[2, 1, 2]);
        assert_eq!(sub.len(), 3);
        assert_eq!(sub.labels(), &[7, 0, 7]);
        assert_eq!(sub.image(0), &[2, 2, 2, 2]);
        assert_eq!(sub.image(1), &[1, 1, 1, 1]);
        assert_eq!(sub.rows(), 2);
    }

    #[test]
    fn histogram_counts_labels() {
        let histogram = tiny().label_histogram();
        assert_eq!(histogram[7], 2);
        assert_eq!(histogram[0], 1);
        assert_eq!(histogram.iter().sum::<u32>(), 3);
    }

    #[test]
    fn new_rejects_wrong_pixel_count() {
        let err = Dataset::new(vec![0; 7], vec![1, 2], 2, 2).unwrap_err();
        assert!(matches!(
            err,
            DataError::PixelCount {
                expected: 8,
                found: 7,
                ..
            }
        ));
    }

    #[test]
    fn new_rejects_label_out_of_range() {
        let err = Dataset::new(vec![0; 8], vec![3, 10], 2, 2).unwrap_err();
        assert!(matches!(
            err,
            DataError::InvalidLabel {
                index: 1,
                label: 10
            }
        ));
    }

    #[test]
    fn new_rejects_zero_sized_images() {
        let err = Dataset::new(vec![], vec![1], 0, 28).unwrap_err();
        assert!(matches!(err, DataError::InvalidShape { rows: 0, cols: 28 }));
    }

    #[test]
    fn empty_data_set_is_valid() {
        let data = Dataset::new(vec![], vec![], 28, 28).unwrap();
        assert!(data.is_empty());
        assert_eq!(data.label_histogram(), [0; NUM_CLASSES]);
    }
}
