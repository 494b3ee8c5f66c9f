//! Running external commands with their progress shown: every step prints
//! what it runs and how long it took.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

/// Runs `program args…` in the workspace root, inheriting stdio, and fails
/// when it exits non-zero.
pub fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    run_with_env(program, args, &[])
}

/// Like [`run`], with extra environment variables.
pub fn run_with_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<()> {
    run_in_with_env(&workspace_root(), program, args, env)
}

/// Like [`run`], in `dir` instead of the workspace root.
pub fn run_in(dir: &Path, program: &str, args: &[&str]) -> anyhow::Result<()> {
    run_in_with_env(dir, program, args, &[])
}

/// Like [`run_in`], with extra environment variables.
pub fn run_in_with_env(
    dir: &Path,
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<()> {
    let shown = format!("{program} {}", args.join(" "));
    eprintln!("==> {shown}");
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .status()
        .with_context(|| format!("failed to start `{shown}`"))?;
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("`{shown}` failed with {status} after {seconds:.0}s");
    }
    eprintln!("    done in {seconds:.0}s");
    Ok(())
}

/// Runs a command and returns its trimmed stdout, or `None` when it cannot
/// start or fails.
pub fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The workspace root (the parent of the xtask crate).
pub fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The cargo binary that runs this xtask.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}
