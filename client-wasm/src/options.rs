//! The options the page passes to the worker when it starts it, and the
//! reconnect schedule.

use serde::Deserialize;

/// Backend the page chose after probing WebGPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// burn's Flex CPU backend.
    Cpu,
    /// burn's wgpu backend on the browser's WebGPU adapter.
    Webgpu,
}

/// Options the page passes to the worker as JSON.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkerOptions {
    /// WebSocket URL of the server, for example `ws://127.0.0.1:7070/ws`.
    pub server_url: String,
    /// Client id, kept by the tab across reloads.
    pub client_id: String,
    /// Backend to train on.
    pub backend: BackendChoice,
    /// Description of the hardware the page found, reported to the server.
    pub device: String,
    /// Milliseconds to wait between training and uploading, to stand in
    /// for a slow device in tests and demonstrations.
    #[serde(default)]
    pub hold_ms: u32,
}

impl WorkerOptions {
    /// Parses the page's JSON, naming the problem on failure.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let options: Self =
            serde_json::from_str(json).map_err(|error| format!("bad worker options: {error}"))?;
        if !(options.server_url.starts_with("ws://") || options.server_url.starts_with("wss://")) {
            return Err(format!(
                "server URL {:?} must start with ws:// or wss://",
                options.server_url
            ));
        }
        Ok(options)
    }
}

/// First reconnect delay.
pub const FIRST_RETRY_MS: u32 = 500;
/// Maximum reconnect delay.
pub const MAX_RETRY_MS: u32 = 10_000;

/// Delay before reconnect attempt `attempt` (1 for the first retry): the
/// delay doubles from [`FIRST_RETRY_MS`] up to [`MAX_RETRY_MS`], and
/// `jitter` in `[0, 1)` spreads it over its upper half so that tabs cut off
/// together do not return together.
pub fn retry_delay_ms(attempt: u32, jitter: f64) -> u32 {
    let doublings = attempt.saturating_sub(1).min(16);
    let full = FIRST_RETRY_MS
        .saturating_mul(1 << doublings)
        .min(MAX_RETRY_MS);
    let jitter = jitter.clamp(0.0, 1.0);
    (f64::from(full) * (0.5 + 0.5 * jitter)).round() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_page_options() {
        let json = r#"{"serverUrl":"ws://127.0.0.1:7070/ws","clientId":"tab-1",
            "backend":"webgpu","device":"google swiftshader","holdMs":250}"#;
        let options = WorkerOptions::from_json(json).unwrap();
        assert_eq!(options.backend, BackendChoice::Webgpu);
        assert_eq!(options.client_id, "tab-1");
        assert_eq!(options.hold_ms, 250);
    }

    #[test]
    fn hold_defaults_to_zero() {
        let json = r#"{"serverUrl":"wss://example.test/ws","clientId":"a","backend":"cpu","device":"cpu"}"#;
        assert_eq!(WorkerOptions::from_json(json).unwrap().hold_ms, 0);
    }

    #[test]
    fn rejects_http_url_and_unknown_fields() {
        let http =
            r#"{"serverUrl":"http://127.0.0.1/ws","clientId":"a","backend":"cpu","device":"cpu"}"#;
        let err = WorkerOptions::from_json(http).unwrap_err();
        assert!(err.contains("must start with ws://"), "{err}");
        let extra =
            r#"{"serverUrl":"ws://h/ws","clientId":"a","backend":"cpu","device":"cpu","x":1}"#;
        let err = WorkerOptions::from_json(extra).unwrap_err();
        assert!(err.contains("unknown field"), "{err}");
        let backend = r#"{"serverUrl":"ws://h/ws","clientId":"a","backend":"gpu","device":"cpu"}"#;
        assert!(WorkerOptions::from_json(backend).is_err());
    }

    #[test]
    fn retry_delay_doubles_up_to_the_cap() {
        let full: Vec<u32> = (1..=7)
            .map(|attempt| retry_delay_ms(attempt, 1.0))
            .collect();
        assert_eq!(full, [500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
        assert_eq!(retry_delay_ms(1, 0.0), 250);
        assert_eq!(retry_delay_ms(3, 0.5), 1500);
        assert_eq!(retry_delay_ms(u32::MAX, 1.0), MAX_RETRY_MS);
        assert_eq!(retry_delay_ms(0, 1.0), FIRST_RETRY_MS);
    }
}
