//! Examples a user brings to the page instead of the server's partition:
//! an IDX image and label file pair (plain or gzip), or images the page has
//! already decoded to 28x28 grey levels. They stay in the tab; only model
//! updates leave it.

use starling_data::{Dataset, read_idx_images, read_idx_labels};

/// Height and width of the images the models take.
pub const IMAGE_SIDE: usize = 28;

/// Builds the data set from the page's bytes.
///
/// `kind` is `idx` for IDX files (`images` and `labels` are the two files)
/// or `pixels` for decoded images (`images` contains 784 grey levels per
/// example, `labels` one digit per example).
pub fn own_dataset(kind: &str, images: &[u8], labels: &[u8]) -> Result<Dataset, String> {
    let (pixels, count, rows, cols) = match kind {
        "idx" => read_idx_images(images, "images file").map_err(|error| error.to_string())?,
        "pixels" => {
            let per_image = IMAGE_SIDE * IMAGE_SIDE;
            if !images.len().is_multiple_of(per_image) {
                return Err(format!(
                    "decoded images hold {} bytes, not a multiple of {per_image}",
                    images.len()
                ));
            }
            (
                images.to_vec(),
                images.len() / per_image,
                IMAGE_SIDE,
                IMAGE_SIDE,
            )
        }
        other => {
            return Err(format!(
                "unknown data kind {other:?}, expected idx or pixels"
            ));
        }
    };
    let labels = match kind {
        "idx" => read_idx_labels(labels, "labels file").map_err(|error| error.to_string())?,
        _ => labels.to_vec(),
    };
    if (rows, cols) != (IMAGE_SIDE, IMAGE_SIDE) {
        return Err(format!(
            "images are {rows}x{cols} pixels but the model takes {IMAGE_SIDE}x{IMAGE_SIDE}"
        ));
    }
    if labels.len() != count {
        return Err(format!(
            "{count} images but {} labels; the files must describe the same examples",
            labels.len()
        ));
    }
    if count == 0 {
        return Err("the files hold no examples".to_owned());
    }
    Dataset::new(pixels, labels, rows, cols).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use starling_data::{write_idx_images, write_idx_labels};

    fn digits(count: usize, side: usize) -> Dataset {
        let images = (0..count * side * side).map(|i| (i % 251) as u8).collect();
        let labels = (0..count).map(|i| (i % 10) as u8).collect();
        Dataset::new(images, labels, side, side).unwrap()
    }

    #[test]
    fn idx_pair_round_trips() {
        let data = digits(12, IMAGE_SIDE);
        let images = write_idx_images(&data);
        let labels = write_idx_labels(data.labels());
        let parsed = own_dataset("idx", &images, &labels).unwrap();
        assert_eq!(parsed.len(), 12);
        assert_eq!(parsed.images(), data.images());
        assert_eq!(parsed.labels(), data.labels());
    }

    #[test]
    fn decoded_pixels_are_accepted() {
        let data = digits(3, IMAGE_SIDE);
        let parsed = own_dataset("pixels", data.images(), data.labels()).unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed.label(2), 2);
    }

    #[test]
    fn wrong_sizes_and_counts_are_named() {
        let small = digits(2, 16);
        let err = own_dataset(
            "idx",
            &write_idx_images(&small),
            &write_idx_labels(small.labels()),
        )
        .unwrap_err();
        assert_eq!(err, "images are 16x16 pixels but the model takes 28x28");

        let data = digits(4, IMAGE_SIDE);
        let err = own_dataset(
            "idx",
            &write_idx_images(&data),
            &write_idx_labels(&data.labels()[..3]),
        )
        .unwrap_err();
        assert!(err.contains("4 images but 3 labels"), "{err}");

        let err = own_dataset("pixels", &[0; 100], &[1]).unwrap_err();
        assert!(err.contains("not a multiple of 784"), "{err}");
        let err = own_dataset("pixels", &[], &[]).unwrap_err();
        assert_eq!(err, "the files hold no examples");
        let err = own_dataset("csv", &[], &[]).unwrap_err();
        assert!(err.contains("unknown data kind"), "{err}");
    }

    #[test]
    fn bad_labels_and_garbage_are_rejected() {
        let data = digits(2, IMAGE_SIDE);
        let err = own_dataset("pixels", data.images(), &[1, 12]).unwrap_err();
        assert!(err.contains("12"), "{err}");
        let err = own_dataset("idx", b"not an idx file", &[]).unwrap_err();
        assert!(err.contains("images file"), "{err}");
    }
}
