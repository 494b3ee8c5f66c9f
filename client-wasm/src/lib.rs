//! The browser client: the client core that native edge clients run
//! (`starling-client`), compiled to WebAssembly, plus the glue a browser
//! needs: a WebSocket transport, timers, and status messages to the page.
//!
//! The page (`www/app.js`) probes WebGPU, picks the backend and starts a
//! Web Worker (`www/worker.js`) that calls [`run_worker`]; everything from
//! there on (registration, training, uploads, reconnects) runs here, in the
//! worker, so the page stays responsive while a round trains.
//!
//! The modules that do not touch browser APIs ([`options`], [`own_data`],
//! [`status`]) also build natively so their tests run with `cargo test`.

pub mod options;
pub mod own_data;
pub mod status;

#[cfg(target_arch = "wasm32")]
mod bench;
#[cfg(target_arch = "wasm32")]
mod socket;
#[cfg(target_arch = "wasm32")]
mod timer;
#[cfg(target_arch = "wasm32")]
mod worker;

#[cfg(target_arch = "wasm32")]
pub use bench::bench_train;
#[cfg(target_arch = "wasm32")]
pub use worker::run_worker;
