//! `cargo xtask demo`: builds the browser client and the `starling` binary,
//! then runs `starling demo` (a server, 8 edge clients on the embedded
//! digits, and a join page for browser tabs).

use crate::{cmd, web};

/// Builds and runs the demo; `args` are passed on to `starling demo`.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    web::build()?;
    let cargo = cmd::cargo();
    cmd::run(&cargo, &["build", "--package", "starling"])?;
    let binary = cmd::workspace_root()
        .join("target")
        .join("debug")
        .join(format!("starling{}", std::env::consts::EXE_SUFFIX));
    let binary = binary.to_string_lossy().into_owned();
    let mut demo_args = vec!["demo"];
    demo_args.extend(args.iter().map(String::as_str));
    cmd::run(&binary, &demo_args)
}
