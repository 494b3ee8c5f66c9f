//! Sleeping in a worker without blocking its event loop.

use js_sys::Promise;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::WorkerGlobalScope;

/// Resolves after `ms` milliseconds.
pub async fn sleep_ms(ms: u32) {
    let promise = Promise::new(&mut |resolve, _reject| {
        let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
        let delay = i32::try_from(ms).unwrap_or(i32::MAX);
        if scope
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, delay)
            .is_err()
        {
            // Without a timer, go on at once rather than hang.
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Milliseconds since the worker started, with sub-millisecond precision.
pub fn now_ms() -> f64 {
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    scope
        .performance()
        .map_or(0.0, |performance| performance.now())
}
