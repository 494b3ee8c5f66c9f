//! The browser client: the shared client core compiled to WebAssembly with
//! browser glue (WebSocket, Web Worker, page status).
//!
//! Only the crate exists so far; the client core it will wrap lives in
//! `starling-client`, which already compiles for `wasm32-unknown-unknown`.
