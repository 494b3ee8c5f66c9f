//! The Starling dashboard, a Leptos app compiled to WebAssembly and served
//! by the server at `/dashboard`. It follows the run the server executes
//! live (server-sent events from `/api/live`) or shows a past run from the
//! runs API, and can overlay a second run's curves.
//!
//! - [`model`]: the content of each panel, computed from a
//!   [`starling_runlog::RunView`]. It is plain Rust, tested natively.
//! - [`page`]: the page's query parameters (`?run=`, `?compare=`).
//! - `app`, `api`, `live` (wasm32 only): the Leptos components, the JSON
//!   fetches and the event-stream subscription.

pub mod model;
pub mod page;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod live;

/// Mounts the dashboard on the page's body. This is the wasm entry point.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
