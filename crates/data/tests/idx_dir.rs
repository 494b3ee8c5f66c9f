//! Loading the four MNIST IDX files from a directory: accepted names, gzip
//! detection and the errors for missing or inconsistent files.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::{Compression, write::GzEncoder};
use starling_data::{DataError, Dataset, load_idx_dir, write_idx_images, write_idx_labels};

/// A scratch directory removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(test: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("starling-data-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create scratch dir");
        Self(path)
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.0.join(name), bytes).expect("write scratch file");
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("finish gzip")
}

/// `count` 3x2 images whose pixels encode their index, labels `i % 10`.
fn sample(count: usize, offset: u8) -> Dataset {
    let images = (0..count * 6)
        .map(|i| (i / 6) as u8 + offset)
        .collect::<Vec<_>>();
    let labels = (0..count).map(|i| (i % 10) as u8).collect();
    Dataset::new(images, labels, 3, 2).expect("valid sample dataset")
}

/// Writes the four files under the given names, gzip-compressing those in
/// `gzipped` (by position: train images, train labels, test images, test
/// labels).
fn write_four(dir: &ScratchDir, names: [&str; 4], gzipped: [bool; 4]) -> (Dataset, Dataset) {
    let train = sample(12, 0);
    let test = sample(5, 100);
    let contents = [
        write_idx_images(&train),
        write_idx_labels(train.labels()),
        write_idx_images(&test),
        write_idx_labels(test.labels()),
    ];
    for ((name, bytes), zipped) in names.iter().zip(contents).zip(gzipped) {
        if zipped {
            dir.write(name, &gzip(&bytes));
        } else {
            dir.write(name, &bytes);
        }
    }
    (train, test)
}

const DASH_NAMES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

#[test]
fn plain_files_load() {
    let dir = ScratchDir::new("plain");
    let (train, test) = write_four(&dir, DASH_NAMES, [false; 4]);
    let split = load_idx_dir(&dir.0).unwrap();
    assert_eq!(split.train, train);
    assert_eq!(split.test, test);
}

#[test]
fn gz_files_load() {
    let dir = ScratchDir::new("gz");
    let names = DASH_NAMES.map(|name| format!("{name}.gz"));
    let names = [&*names[0], &*names[1], &*names[2], &*names[3]];
    let (train, test) = write_four(&dir, names, [true; 4]);
    let split = load_idx_dir(&dir.0).unwrap();
    assert_eq!(split.train, train);
    assert_eq!(split.test, test);
}

#[test]
fn dotted_names_load() {
    let dir = ScratchDir::new("dotted");
    let names = [
        "train-images.idx3-ubyte",
        "train-labels.idx1-ubyte.gz",
        "t10k-images.idx3-ubyte.gz",
        "t10k-labels.idx1-ubyte",
    ];
    let (train, test) = write_four(&dir, names, [false, true, true, false]);
    let split = load_idx_dir(&dir.0).unwrap();
    assert_eq!(split.train, train);
    assert_eq!(split.test, test);
}

#[test]
fn gzip_is_detected_by_magic() {
    // Compressed content under a plain name and plain content under a .gz
    // name both load.
    let dir = ScratchDir::new("magic");
    let names = [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ];
    let (train, _) = write_four(&dir, names, [true, false, false, true]);
    let split = load_idx_dir(&dir.0).unwrap();
    assert_eq!(split.train, train);
}

#[test]
fn missing_file_lists_names_tried() {
    let dir = ScratchDir::new("missing");
    write_four(&dir, DASH_NAMES, [false; 4]);
    std::fs::remove_file(dir.0.join("t10k-labels-idx1-ubyte")).unwrap();
    let err = load_idx_dir(&dir.0).unwrap_err();
    let DataError::MissingFile {
        role, looked_for, ..
    } = &err
    else {
        panic!("expected MissingFile, got {err}");
    };
    assert_eq!(*role, "test labels");
    assert_eq!(looked_for.len(), 4);
    let text = err.to_string();
    for name in [
        "t10k-labels-idx1-ubyte",
        "t10k-labels-idx1-ubyte.gz",
        "t10k-labels.idx1-ubyte",
        "t10k-labels.idx1-ubyte.gz",
    ] {
        assert!(text.contains(name), "{name} missing from: {text}");
    }
}

#[test]
fn empty_directory_reports_training_images() {
    let dir = ScratchDir::new("empty");
    let err = load_idx_dir(&dir.0).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::MissingFile {
                role: "training images",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn count_mismatch_names_both_files() {
    let dir = ScratchDir::new("mismatch");
    write_four(&dir, DASH_NAMES, [false; 4]);
    dir.write("train-labels-idx1-ubyte", &write_idx_labels(&[1, 2, 3]));
    let err = load_idx_dir(&dir.0).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                images: 12,
                labels: 3,
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("train-images-idx3-ubyte"), "{text}");
    assert!(text.contains("train-labels-idx1-ubyte"), "{text}");
}

#[test]
fn truncated_file_is_named() {
    let dir = ScratchDir::new("truncated");
    write_four(&dir, DASH_NAMES, [false; 4]);
    let full = write_idx_images(&sample(5, 100));
    dir.write("t10k-images-idx3-ubyte", &full[..full.len() - 4]);
    let err = load_idx_dir(&dir.0).unwrap_err();
    let DataError::Truncated {
        name,
        expected,
        found,
    } = &err
    else {
        panic!("expected Truncated, got {err}");
    };
    assert!(name.ends_with("t10k-images-idx3-ubyte"), "{name}");
    assert_eq!(*expected, full.len());
    assert_eq!(*found, full.len() - 4);
}

#[test]
fn swapped_files_report_magic() {
    let dir = ScratchDir::new("swapped");
    write_four(&dir, DASH_NAMES, [false; 4]);
    let labels = std::fs::read(dir.0.join("train-labels-idx1-ubyte")).unwrap();
    dir.write("train-images-idx3-ubyte", &labels);
    let err = load_idx_dir(&dir.0).unwrap_err();
    assert!(
        matches!(
            &err,
            DataError::WrongMagic { name, expected: 0x803, found: 0x801, .. }
                if name.ends_with("train-images-idx3-ubyte")
        ),
        "{err}"
    );
}

#[test]
fn bad_gzip_is_named() {
    let dir = ScratchDir::new("badgzip");
    write_four(&dir, DASH_NAMES, [false; 4]);
    // Gzip magic followed by garbage.
    dir.write("train-labels-idx1-ubyte", &[0x1f, 0x8b, 1, 2, 3, 4, 5]);
    let err = load_idx_dir(&dir.0).unwrap_err();
    assert!(
        matches!(&err, DataError::Gzip { name, .. } if name.ends_with("train-labels-idx1-ubyte")),
        "{err}"
    );
}

#[test]
fn label_out_of_range_is_named() {
    let dir = ScratchDir::new("label");
    write_four(&dir, DASH_NAMES, [false; 4]);
    let mut labels = write_idx_labels(&[0, 1, 2, 3, 4]);
    labels[8 + 3] = 42;
    dir.write("t10k-labels-idx1-ubyte", &labels);
    let err = load_idx_dir(&dir.0).unwrap_err();
    assert!(
        matches!(
            &err,
            DataError::LabelOutOfRange { name, index: 3, label: 42 }
                if name.ends_with("t10k-labels-idx1-ubyte")
        ),
        "{err}"
    );
}

#[test]
fn missing_directory_is_missing_file() {
    let err = load_idx_dir(Path::new("/nonexistent/starling-data")).unwrap_err();
    assert!(matches!(err, DataError::MissingFile { .. }), "{err}");
}
