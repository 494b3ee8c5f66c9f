//! The wasm-bindgen CLI at exactly the version of the `wasm-bindgen` crate
//! in Cargo.lock, installed into `target/tools` when missing.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::cmd;

/// Returns the path of a wasm-bindgen binary matching Cargo.lock,
/// installing it with `cargo install` first when needed.
pub fn ensure(root: &Path) -> anyhow::Result<PathBuf> {
    let version = locked_version(root)?;
    let tools = root.join("target").join("tools");
    let binary = tools
        .join("bin")
        .join(format!("wasm-bindgen{}", std::env::consts::EXE_SUFFIX));
    let expected_version = format!("wasm-bindgen {version}");
    let binary_text = binary.to_string_lossy().into_owned();
    if cmd::output(&binary_text, &["--version"]).as_deref() == Some(expected_version.as_str()) {
        return Ok(binary);
    }
    eprintln!(
        "==> installing wasm-bindgen-cli {version} into {}",
        tools.display()
    );
    let cargo = cmd::cargo();
    let tools_text = tools.to_string_lossy().into_owned();
    let exact = format!("={version}");
    let install = |locked: bool| {
        let mut args = vec![
            "install",
            "wasm-bindgen-cli",
            "--version",
            exact.as_str(),
            "--root",
            tools_text.as_str(),
            "--force",
        ];
        if locked {
            args.push("--locked");
        }
        cmd::run(&cargo, &args)
    };
    if let Err(error) = install(true) {
        // The CLI's own lock file has pinned a crate version the registry
        // mirror lacks before; resolving afresh still builds the same CLI.
        eprintln!("==> `cargo install --locked` failed ({error:#}); retrying without --locked");
        install(false)?;
    }
    match cmd::output(&binary_text, &["--version"]) {
        Some(found) if found == expected_version => Ok(binary),
        found => bail!(
            "installed wasm-bindgen reports {found:?}, expected {expected_version:?}; remove {} and retry",
            tools.display()
        ),
    }
}

/// The `wasm-bindgen` crate version recorded in Cargo.lock.
fn locked_version(root: &Path) -> anyhow::Result<String> {
    let lock_path = root.join("Cargo.lock");
    let lock = std::fs::read_to_string(&lock_path)
        .with_context(|| format!("failed to read {}", lock_path.display()))?;
    version_in_lock(&lock).context("Cargo.lock has no wasm-bindgen package")
}

fn version_in_lock(lock: &str) -> Option<String> {
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\"" {
            let version = lines.next()?.trim();
            let version = version.strip_prefix("version = \"")?.strip_suffix('"')?;
            return Some(version.to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_exact_package() {
        let lock = "[[package]]\nname = \"wasm-bindgen-futures\"\nversion = \"0.4.80\"\n\n\
                    [[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\n";
        assert_eq!(version_in_lock(lock).as_deref(), Some("0.2.130"));
        assert_eq!(version_in_lock("[[package]]\nname = \"x\"\n"), None);
    }
}
