//! `cargo xtask test`: every quality gate CI runs, in order, stopping at the
//! first failure.

use std::time::Instant;

use crate::{cmd, toolchain};

/// Crates shared by the server and the clients; each must compile for
/// wasm32 so the browser client can use it.
const SHARED_CRATES: &[&str] = &[
    "starling-proto",
    "starling-data",
    "starling-train",
    "starling-aggregate",
    "starling-client",
];

/// Runs formatting, lints, the wasm32 check and the test suite.
pub fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    toolchain::ensure()?;
    let cargo = cmd::cargo();
    cmd::run(&cargo, &["fmt", "--all", "--check"])?;
    cmd::run(
        &cargo,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    let mut wasm_check = vec!["check", "--target", toolchain::WASM_TARGET];
    for krate in SHARED_CRATES {
        wasm_check.extend(["-p", krate]);
    }
    cmd::run(&cargo, &wasm_check)?;
    cmd::run(&cargo, &["test", "--workspace"])?;
    eprintln!(
        "==> all checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
