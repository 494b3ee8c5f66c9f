//! `cargo xtask build-web`: compiles the browser client and the dashboard
//! to wasm32 (release), runs wasm-bindgen on each, and lays out
//! `target/web/client/` for the server to serve: the client's page from
//! `client-wasm/www/` at the root and the dashboard from `web-ui/www/` under
//! `dashboard/`, each with its bindings under `pkg/` and a gzip copy of each
//! large file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::{bindgen, cmd, toolchain};

/// Cargo profile of the wasm crates (see the workspace Cargo.toml).
pub const PROFILE: &str = "wasm-release";

/// A wasm crate and where its page goes.
struct App {
    /// Cargo package.
    package: &'static str,
    /// Folder (from the workspace root) with its HTML, CSS and JavaScript.
    www: &'static str,
    /// Folder under `target/web/client/` it is served from.
    mount: &'static str,
}

/// The browser client at `/`, the dashboard at `/dashboard/`.
const APPS: [App; 2] = [
    App {
        package: "starling-client-wasm",
        www: "client-wasm/www",
        mount: "",
    },
    App {
        package: "starling-web-ui",
        www: "web-ui/www",
        mount: "dashboard",
    },
];

/// Builds the browser client and the dashboard and returns the folder the
/// server serves.
pub fn build() -> anyhow::Result<PathBuf> {
    toolchain::ensure()?;
    let root = cmd::workspace_root();
    let cargo = cmd::cargo();
    // One build per package: built together, cargo would unify their
    // dependencies' features and rebuild the client's whole graph.
    for app in &APPS {
        cmd::run(
            &cargo,
            &[
                "build",
                "--package",
                app.package,
                "--target",
                toolchain::WASM_TARGET,
                "--profile",
                PROFILE,
            ],
        )?;
    }
    let bindgen = bindgen::ensure(&root)?;

    let out = root.join("target").join("web").join("client");
    if out.exists() {
        std::fs::remove_dir_all(&out)
            .with_context(|| format!("failed to clear {}", out.display()))?;
    }
    for app in &APPS {
        let dir = out.join(app.mount);
        let pkg = dir.join("pkg");
        std::fs::create_dir_all(&pkg)
            .with_context(|| format!("failed to create {}", pkg.display()))?;
        let wasm = root
            .join("target")
            .join(toolchain::WASM_TARGET)
            .join(PROFILE)
            .join(format!("{}.wasm", app.package.replace('-', "_")));
        cmd::run(
            &bindgen.to_string_lossy(),
            &[
                "--target",
                "web",
                "--no-typescript",
                "--remove-producers-section",
                "--remove-name-section",
                "--out-dir",
                &pkg.to_string_lossy(),
                &wasm.to_string_lossy(),
            ],
        )?;
        copy_dir(&root.join(app.www), &dir)?;
    }
    compress_large_files(&out)?;
    for app in &APPS {
        report_sizes(&out.join(app.mount).join("pkg"))?;
    }
    Ok(out)
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in
        std::fs::read_dir(from).with_context(|| format!("failed to read {}", from.display()))?
    {
        let path = entry?.path();
        let target = to.join(path.file_name().context("file without a name")?);
        if path.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_dir(&path, &target)?;
        } else {
            std::fs::copy(&path, &target)
                .with_context(|| format!("failed to copy {}", path.display()))?;
        }
    }
    Ok(())
}

/// Writes `name.gz` (best compression) next to every wasm and JavaScript
/// file, so the server need not compress them when it starts.
fn compress_large_files(dir: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            compress_large_files(&path)?;
            continue;
        }
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(extension, "wasm" | "js") {
            continue;
        }
        let body = std::fs::read(&path)?;
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(&body)?;
        let gz = PathBuf::from(format!("{}.gz", path.display()));
        std::fs::write(&gz, encoder.finish()?)
            .with_context(|| format!("failed to write {}", gz.display()))?;
    }
    Ok(())
}

fn report_sizes(pkg: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(pkg)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("wasm") {
            continue;
        }
        let raw = std::fs::metadata(&path)?.len();
        let gz = std::fs::metadata(format!("{}.gz", path.display()))?.len();
        eprintln!(
            "    {}: {:.2} MiB raw, {:.2} MiB gzip",
            path.display(),
            raw as f64 / 1048576.0,
            gz as f64 / 1048576.0
        );
    }
    Ok(())
}
