//! Reading and writing the IDX format of the MNIST files, plain or
//! gzip-compressed.
//!
//! An IDX file starts with a big-endian magic number whose third byte is the
//! element type (`0x08`, unsigned byte) and whose fourth byte is the number of
//! dimensions. One big-endian `u32` per dimension follows, then the elements
//! in row-major order. Images are `0x00000803` (count, rows, cols) and labels
//! are `0x00000801` (count).

use std::borrow::Cow;
use std::io::Read;

use flate2::read::GzDecoder;

use crate::dataset::{Dataset, NUM_CLASSES};
use crate::error::DataError;

/// Magic number of an IDX file of unsigned bytes with three dimensions.
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;

/// Magic number of an IDX file of unsigned bytes with one dimension.
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// First two bytes of every gzip stream.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

const IMAGES_HEADER_LEN: usize = 16;
const LABELS_HEADER_LEN: usize = 8;

/// Decompresses `bytes` when they start with the gzip magic bytes and
/// borrows them unchanged otherwise. `name` is only used in the error.
pub fn decompress_if_gzip<'a>(bytes: &'a [u8], name: &str) -> Result<Cow<'a, [u8]>, DataError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|source| DataError::Gzip {
            name: name.to_owned(),
            source,
        })?;
    tracing::debug!(
        name,
        compressed = bytes.len(),
        decompressed = out.len(),
        "gunzipped IDX file"
    );
    Ok(Cow::Owned(out))
}

/// Parses an IDX image file, plain or gzip-compressed, into
/// `(pixels, count, rows, cols)`. `name` identifies the file in errors.
pub fn read_idx_images(
    bytes: &[u8],
    name: &str,
) -> Result<(Vec<u8>, usize, usize, usize), DataError> {
    let bytes = decompress_if_gzip(bytes, name)?;
    let body = check_header(
        &bytes,
        name,
        IDX_IMAGES_MAGIC,
        "IDX images: unsigned bytes, 3 dimensions",
        IMAGES_HEADER_LEN,
    )?;
    let dims = [
        read_u32(&bytes, 4),
        read_u32(&bytes, 8),
        read_u32(&bytes, 12),
    ];
    let [count, rows, cols] = dims.map(|d| d as usize);
    let pixels = count
        .checked_mul(rows)
        .and_then(|n| n.checked_mul(cols))
        .ok_or_else(|| DataError::DimensionsOverflow {
            name: name.to_owned(),
            dims: dims.to_vec(),
        })?;
    check_body_len(body, pixels, IMAGES_HEADER_LEN, name)?;
    Ok((body.to_vec(), count, rows, cols))
}

/// Parses an IDX label file, plain or gzip-compressed, and checks that every
/// label is below [`NUM_CLASSES`]. `name` identifies the file in errors.
pub fn read_idx_labels(bytes: &[u8], name: &str) -> Result<Vec<u8>, DataError> {
    let bytes = decompress_if_gzip(bytes, name)?;
    let body = check_header(
        &bytes,
        name,
        IDX_LABELS_MAGIC,
        "IDX labels: unsigned bytes, 1 dimension",
        LABELS_HEADER_LEN,
    )?;
    let count = read_u32(&bytes, 4) as usize;
    check_body_len(body, count, LABELS_HEADER_LEN, name)?;
    if let Some((index, &label)) = body
        .iter()
        .enumerate()
        .find(|&(_, &label)| usize::from(label) >= NUM_CLASSES)
    {
        return Err(DataError::LabelOutOfRange {
            name: name.to_owned(),
            index,
            label,
        });
    }
    Ok(body.to_vec())
}

/// Encodes the images of `data` as an uncompressed IDX image file.
///
/// # Panics
///
/// Panics if the image count, rows or cols exceed `u32::MAX`, which the
/// format cannot express.
pub fn write_idx_images(data: &Dataset) -> Vec<u8> {
    let mut out = Vec::with_capacity(IMAGES_HEADER_LEN + data.images().len());
    out.extend_from_slice(&IDX_IMAGES_MAGIC.to_be_bytes());
    for dim in [data.len(), data.rows(), data.cols()] {
        out.extend_from_slice(&dimension(dim).to_be_bytes());
    }
    out.extend_from_slice(data.images());
    out
}

/// Encodes `labels` as an uncompressed IDX label file.
///
/// # Panics
///
/// Panics if there are more than `u32::MAX` labels.
pub fn write_idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(LABELS_HEADER_LEN + labels.len());
    out.extend_from_slice(&IDX_LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&dimension(labels.len()).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

fn dimension(value: usize) -> u32 {
    u32::try_from(value).expect("IDX dimensions are limited to u32::MAX")
}

/// Checks the magic number and the header length and returns the bytes after
/// the header.
fn check_header<'a>(
    bytes: &'a [u8],
    name: &str,
    expected: u32,
    kind: &'static str,
    header_len: usize,
) -> Result<&'a [u8], DataError> {
    let truncated = || DataError::Truncated {
        name: name.to_owned(),
        expected: header_len,
        found: bytes.len(),
    };
    if bytes.len() < 4 {
        return Err(truncated());
    }
    let found = read_u32(bytes, 0);
    if found != expected {
        return Err(DataError::WrongMagic {
            name: name.to_owned(),
            expected,
            found,
            kind,
        });
    }
    if bytes.len() < header_len {
        return Err(truncated());
    }
    Ok(&bytes[header_len..])
}

/// Checks that the body after the header has exactly `expected` bytes and
/// reports whole-file sizes when it does not.
fn check_body_len(
    body: &[u8],
    expected: usize,
    header_len: usize,
    name: &str,
) -> Result<(), DataError> {
    let expected_total = expected.saturating_add(header_len);
    let found = body.len() + header_len;
    if body.len() < expected {
        return Err(DataError::Truncated {
            name: name.to_owned(),
            expected: expected_total,
            found,
        });
    }
    if body.len() > expected {
        return Err(DataError::TrailingBytes {
            name: name.to_owned(),
            expected: expected_total,
            found,
        });
    }
    Ok(())
}

/// Reads a big-endian `u32` at `offset`; the caller has checked the length.
fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_be_bytes([
        bytes[offset],
        bytes[offset + 1],
        bytes[offset + 2],
        bytes[offset + 3],
    ])
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::{Compression, write::GzEncoder};

    use super::*;

    fn sample() -> Dataset {
        let images: Vec<u8> = (0..3 * 4 * 5).map(|i| i as u8).collect();
        Dataset::new(images, vec![3, 9, 0], 4, 5).unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn images_round_trip() {
        let data = sample();
        let bytes = write_idx_images(&data);
        assert_eq!(&bytes[..4], &[0, 0, 8, 3]);
        let (pixels, count, rows, cols) = read_idx_images(&bytes, "x").unwrap();
        assert_eq!((count, rows, cols), (3, 4, 5));
        assert_eq!(pixels, data.images());
    }

    #[test]
    fn labels_round_trip() {
        let bytes = write_idx_labels(&[3, 9, 0]);
        assert_eq!(&bytes[..8], &[0, 0, 8, 1, 0, 0, 0, 3]);
        assert_eq!(read_idx_labels(&bytes, "x").unwrap(), vec![3, 9, 0]);
    }

    #[test]
    fn gzip_and_plain_read_the_same() {
        let data = sample();
        let plain = write_idx_images(&data);
        let zipped = gzip(&plain);
        assert_eq!(&zipped[..2], &GZIP_MAGIC);
        assert_eq!(
            read_idx_images(&zipped, "x").unwrap(),
            read_idx_images(&plain, "x").unwrap()
        );
        let labels = write_idx_labels(data.labels());
        assert_eq!(read_idx_labels(&gzip(&labels), "x").unwrap(), data.labels());
    }

    #[test]
    fn labels_file_read_as_images_names_magic() {
        let bytes = write_idx_labels(&[1, 2]);
        let err = read_idx_images(&bytes, "imgs.idx").unwrap_err();
        assert!(matches!(
            err,
            DataError::WrongMagic {
                expected: 0x803,
                found: 0x801,
                ..
            }
        ));
        let text = err.to_string();
        assert!(text.starts_with("imgs.idx: "), "{text}");
        assert!(text.contains("0x00000803"), "{text}");
        assert!(text.contains("0x00000801"), "{text}");
    }

    #[test]
    fn short_body_is_truncated() {
        let bytes = write_idx_images(&sample());
        let err = read_idx_images(&bytes[..bytes.len() - 1], "imgs").unwrap_err();
        assert!(matches!(
            err,
            DataError::Truncated {
                expected: 76,
                found: 75,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "imgs: truncated, expected 76 bytes, found 75"
        );
    }

    #[test]
    fn short_header_is_truncated() {
        let bytes = write_idx_labels(&[1]);
        for cut in 0..LABELS_HEADER_LEN {
            let err = read_idx_labels(&bytes[..cut], "lbl").unwrap_err();
            assert!(
                matches!(err, DataError::Truncated { expected: 8, found, .. } if found == cut),
                "cut {cut}: {err}"
            );
        }
    }

    #[test]
    fn extra_bytes_are_rejected() {
        let mut bytes = write_idx_labels(&[1, 2]);
        bytes.push(0);
        let err = read_idx_labels(&bytes, "lbl").unwrap_err();
        assert!(matches!(
            err,
            DataError::TrailingBytes {
                expected: 10,
                found: 11,
                ..
            }
        ));
    }

    #[test]
    fn label_ten_is_out_of_range() {
        let bytes = write_idx_labels(&[0, 9, 10]);
        let err = read_idx_labels(&bytes, "lbl").unwrap_err();
        assert!(matches!(
            err,
            DataError::LabelOutOfRange {
                index: 2,
                label: 10,
                ..
            }
        ));
        assert!(err.to_string().starts_with("lbl: "));
    }

    #[test]
    fn corrupt_gzip_is_reported() {
        let mut zipped = gzip(&write_idx_labels(&[1, 2, 3]));
        let len = zipped.len();
        // Damage the CRC32 in the gzip trailer.
        zipped[len - 8] ^= 0xff;
        let err = read_idx_labels(&zipped, "lbl.gz").unwrap_err();
        assert!(matches!(err, DataError::Gzip { .. }), "{err}");
        assert!(err.to_string().starts_with("lbl.gz: invalid gzip"));
    }

    #[test]
    fn huge_dimensions_do_not_allocate() {
        let mut bytes = IDX_IMAGES_MAGIC.to_be_bytes().to_vec();
        for _ in 0..3 {
            bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        }
        let err = read_idx_images(&bytes, "big").unwrap_err();
        assert!(
            matches!(
                err,
                DataError::DimensionsOverflow { .. } | DataError::Truncated { .. }
            ),
            "{err}"
        );
    }
}
