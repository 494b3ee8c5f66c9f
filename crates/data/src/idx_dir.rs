//! Loading the four standard MNIST IDX files from a directory, so that a
//! client can train on the full data set or on Fashion-MNIST, which uses the
//! same layout.

use std::path::{Path, PathBuf};

use crate::dataset::{Dataset, Split};
use crate::error::DataError;
use crate::idx::{read_idx_images, read_idx_labels};

/// One of the four MNIST files: its role, for error messages, and the two
/// parts of its name.
struct IdxFile {
    role: &'static str,
    stem: &'static str,
    kind: &'static str,
}

const TRAIN_IMAGES: IdxFile = IdxFile {
    role: "training images",
    stem: "train-images",
    kind: "idx3-ubyte",
};
const TRAIN_LABELS: IdxFile = IdxFile {
    role: "training labels",
    stem: "train-labels",
    kind: "idx1-ubyte",
};
const TEST_IMAGES: IdxFile = IdxFile {
    role: "test images",
    stem: "t10k-images",
    kind: "idx3-ubyte",
};
const TEST_LABELS: IdxFile = IdxFile {
    role: "test labels",
    stem: "t10k-labels",
    kind: "idx1-ubyte",
};

impl IdxFile {
    /// Accepted file names, in the order they are tried: the official
    /// `train-images-idx3-ubyte`, then the dotted `train-images.idx3-ubyte`
    /// found in Fashion-MNIST and Kaggle copies, each plain before `.gz`.
    fn candidates(&self) -> Vec<String> {
        let Self { stem, kind, .. } = self;
        vec![
            format!("{stem}-{kind}"),
            format!("{stem}-{kind}.gz"),
            format!("{stem}.{kind}"),
            format!("{stem}.{kind}.gz"),
        ]
    }

    fn find(&self, dir: &Path) -> Result<PathBuf, DataError> {
        let candidates = self.candidates();
        candidates
            .iter()
            .map(|name| dir.join(name))
            .find(|path| path.is_file())
            .ok_or_else(|| DataError::MissingFile {
                dir: dir.to_path_buf(),
                role: self.role,
                looked_for: candidates,
            })
    }
}

/// Loads the training and test sets from the four MNIST IDX files in `dir`.
///
/// Each file may be named `train-images-idx3-ubyte` or
/// `train-images.idx3-ubyte` (likewise for `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`), optionally with a
/// `.gz` suffix. Compression is detected from the gzip magic bytes, not from
/// the name, so a decompressed file that kept its `.gz` name still loads.
pub fn load_idx_dir(dir: &Path) -> Result<Split, DataError> {
    let train = load_pair(dir, &TRAIN_IMAGES, &TRAIN_LABELS)?;
    let test = load_pair(dir, &TEST_IMAGES, &TEST_LABELS)?;
    tracing::info!(
        dir = %dir.display(),
        train = train.len(),
        test = test.len(),
        rows = train.rows(),
        cols = train.cols(),
        "loaded IDX data set"
    );
    Ok(Split { train, test })
}

fn load_pair(dir: &Path, images: &IdxFile, labels: &IdxFile) -> Result<Dataset, DataError> {
    let images_path = images.find(dir)?;
    let labels_path = labels.find(dir)?;
    let images_name = images_path.display().to_string();
    let labels_name = labels_path.display().to_string();

    let (pixels, count, rows, cols) = read_idx_images(&read_file(&images_path)?, &images_name)?;
    let labels = read_idx_labels(&read_file(&labels_path)?, &labels_name)?;
    if labels.len() != count {
        return Err(DataError::CountMismatch {
            images_name,
            images: count,
            labels_name,
            labels: labels.len(),
        });
    }
    Dataset::new(pixels, labels, rows, cols)
}

fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_cover_dash_dot_and_gz() {
        assert_eq!(
            TEST_LABELS.candidates(),
            vec![
                "t10k-labels-idx1-ubyte",
                "t10k-labels-idx1-ubyte.gz",
                "t10k-labels.idx1-ubyte",
                "t10k-labels.idx1-ubyte.gz",
            ]
        );
    }
}
