//! `cargo xtask test`: every quality gate CI runs, in order, stopping at the
//! first failure.

use std::time::Instant;

use crate::{cmd, e2e, toolchain, web};

/// Runs formatting, lints (native, and wasm32 for the browser client), the
/// test suite, and the browser tests against a fresh build of the client.
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
    // The browser client and the dashboard, with everything under them
    // (proto, data, train with wgpu, client, compress, runlog, charts), and
    // the privacy accountant and the aggregation strategies, checked for
    // wasm32.
    cmd::run(
        &cargo,
        &[
            "clippy",
            "--package",
            "starling-client-wasm",
            "--package",
            "starling-web-ui",
            "--package",
            "starling-privacy",
            "--package",
            "starling-aggregate",
            "--package",
            "starling-secagg",
            "--target",
            toolchain::WASM_TARGET,
            "--profile",
            web::PROFILE,
            "--",
            "-D",
            "warnings",
        ],
    )?;
    cmd::run(&cargo, &["test", "--workspace"])?;
    let web_dir = web::build()?;
    e2e::run(&web_dir)?;
    eprintln!(
        "==> all checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
