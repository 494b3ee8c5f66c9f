//! starling-client-wasm.
