//! Browser tests. Installs what they need when it is missing: Debian's
//! Chromium with apt, and `playwright-core` with npm from
//! `e2e/package-lock.json`. Then runs `e2e/tests/` with Node's test runner
//! against the built client and the debug `starling` binary that
//! `cargo test --workspace` builds for the CLI tests.

use std::path::Path;

use anyhow::{Context, bail};

use crate::cmd;

/// Where Debian puts Chromium.
const CHROMIUM_PATHS: &[&str] = &["/usr/bin/chromium", "/usr/bin/chromium-browser"];

/// Runs the browser tests against the client in `web_dir`.
pub fn run(web_dir: &Path) -> anyhow::Result<()> {
    let root = cmd::workspace_root();
    let chromium = ensure_chromium()?;
    ensure_node()?;
    let e2e = root.join("e2e");
    if !e2e.join("node_modules").join("playwright-core").is_dir() {
        cmd::run_in(&e2e, "npm", &["ci", "--no-audit", "--no-fund"])?;
    }
    let binary = root
        .join("target")
        .join("debug")
        .join(format!("starling{}", std::env::consts::EXE_SUFFIX));
    if !binary.is_file() {
        // `cargo build -p starling` alone unifies features differently from
        // the workspace test build, so it is only the fallback.
        cmd::run(&cmd::cargo(), &["build", "--package", "starling"])?;
    }
    let artifacts = root.join("target").join("e2e-artifacts");
    let env = [
        ("STARLING_BIN", path_text(&binary)),
        ("STARLING_WEB_DIR", path_text(web_dir)),
        ("STARLING_CHROMIUM", chromium),
        ("STARLING_E2E_ARTIFACTS", path_text(&artifacts)),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    cmd::run_in_with_env(
        &e2e,
        "node",
        &["--test", "--test-concurrency=1", "tests/"],
        &env,
    )?;
    eprintln!("    screenshots in {}", artifacts.display());
    Ok(())
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Finds Chromium, or installs Debian's package with apt.
fn ensure_chromium() -> anyhow::Result<String> {
    if let Ok(path) = std::env::var("STARLING_CHROMIUM") {
        return Ok(path);
    }
    if let Some(found) = CHROMIUM_PATHS.iter().find(|path| Path::new(path).exists()) {
        return Ok((*found).to_owned());
    }
    apt_install(&["chromium"])?;
    CHROMIUM_PATHS
        .iter()
        .find(|path| Path::new(path).exists())
        .map(|path| (*path).to_owned())
        .context("apt installed chromium but no chromium binary was found")
}

/// Checks for Node.js 18 or later (for `node --test`), installing Debian's
/// nodejs and npm when node is missing.
fn ensure_node() -> anyhow::Result<()> {
    if cmd::output("node", &["--version"]).is_none() {
        apt_install(&["nodejs", "npm"])?;
    }
    let version = cmd::output("node", &["--version"]).context("node is not installed")?;
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .unwrap_or(0);
    if major < 18 {
        bail!("the browser tests need Node.js 18 or later, found {version}");
    }
    Ok(())
}

/// `apt-get install` as root, or through `sudo -n` otherwise.
fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    let root = cmd::output("id", &["-u"]).as_deref() == Some("0");
    let (program, prefix): (&str, Vec<&str>) = if root {
        ("apt-get", vec![])
    } else {
        ("sudo", vec!["-n", "apt-get"])
    };
    eprintln!("==> installing {} with apt", packages.join(" "));
    let env = [("DEBIAN_FRONTEND", "noninteractive")];
    let mut update = prefix.clone();
    update.extend(["update", "-q"]);
    cmd::run_with_env(program, &update, &env)?;
    let mut install = prefix;
    install.extend(["install", "-y", "-q", "--no-install-recommends"]);
    install.extend(packages);
    cmd::run_with_env(program, &install, &env).with_context(|| {
        format!(
            "could not install {}; install it yourself or set STARLING_CHROMIUM",
            packages.join(" ")
        )
    })
}
