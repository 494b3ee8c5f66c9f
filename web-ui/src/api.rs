//! JSON from the server's runs API (`/api/runs`, `/api/runs/{id}`,
//! `/api/runs/{id}/metrics`), fetched with the browser's `fetch`.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use starling_runlog::{RunHeader, RunSummary};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Response body of `/api/runs/{id}`, reduced to the parts the dashboard
/// uses.
#[derive(Clone, Debug, Deserialize)]
pub struct Detail {
    /// The header, when the run wrote one.
    pub header: Option<RunHeader>,
    /// The summary, once the run has ended.
    pub summary: Option<RunSummary>,
}

/// GETs `path` and decodes its JSON body. A non-2xx response becomes an
/// error with the server's `{"error": …}` text.
pub async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, String> {
    let window = web_sys::window().ok_or("no window")?;
    let reply = JsFuture::from(window.fetch_with_str(path))
        .await
        .map_err(|err| format!("{path}: {}", js_text(&err)))?;
    let reply: web_sys::Response = reply
        .dyn_into()
        .map_err(|_| format!("{path}: fetch returned no response"))?;
    let text = JsFuture::from(reply.text().map_err(|err| js_text(&err))?)
        .await
        .map_err(|err| format!("{path}: {}", js_text(&err)))?
        .as_string()
        .unwrap_or_default();
    if !reply.ok() {
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|body| body.get("error")?.as_str().map(str::to_owned))
            .unwrap_or(text);
        return Err(format!("{path}: HTTP {}: {message}", reply.status()));
    }
    serde_json::from_str(&text).map_err(|err| format!("{path}: unexpected JSON: {err}"))
}

/// Extracts the message of a JavaScript error value, or formats the value
/// itself when it is not an `Error`.
pub fn js_text(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|err| String::from(err.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}
