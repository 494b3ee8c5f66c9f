//! Installs what the build needs beyond a bare Rust toolchain, saying what
//! it does: rustfmt and clippy components and the wasm32 target.

use crate::cmd;

/// Target the shared crates must also compile for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Adds rustfmt, clippy and the wasm32 target with rustup when missing.
pub fn ensure() -> anyhow::Result<()> {
    let Some(installed) = cmd::output("rustup", &["component", "list", "--installed"]) else {
        eprintln!("==> rustup not found; assuming rustfmt, clippy and {WASM_TARGET} are installed");
        return Ok(());
    };
    for component in ["rustfmt", "clippy"] {
        if !installed.lines().any(|line| line.starts_with(component)) {
            eprintln!("==> installing the {component} component");
            cmd::run("rustup", &["component", "add", component])?;
        }
    }
    let targets = cmd::output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if !targets.lines().any(|line| line.trim() == WASM_TARGET) {
        eprintln!("==> installing the {WASM_TARGET} target");
        cmd::run("rustup", &["target", "add", WASM_TARGET])?;
    }
    Ok(())
}
