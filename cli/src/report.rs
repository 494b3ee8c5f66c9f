//! What the commands print on stdout: one line per round and a final line
//! with the test accuracy. Logs go to stderr separately.

use starling_proto::FinishReason;
use std::sync::Arc;

use starling_server::{LiveEvent, RoundMetrics, RunSummary, Sequenced};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::console::say;

/// Prints a line for every completed round, and for every browser tab
/// that joins, until the run ends.
pub fn print_rounds(mut events: broadcast::Receiver<Arc<Sequenced>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let item = match events.recv().await {
                Ok(item) => item,
                Err(broadcast::error::RecvError::Closed) => break,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "progress printer fell behind");
                    continue;
                }
            };
            let printed = match &item.event {
                LiveEvent::RoundCompleted(metrics) => say!("{}", round_line(metrics)),
                LiveEvent::ClientJoined(client) if client.platform == "browser" => say!(
                    "browser client joined: {} (backend {}, device {})",
                    client.client_id,
                    client.backend,
                    client.device
                ),
                LiveEvent::Finished(_) => break,
                _ => Ok(()),
            };
            if let Err(error) = printed {
                // The run goes on; its rounds are in the run directory.
                tracing::info!(%error, "stopped printing rounds: standard output failed");
                break;
            }
        }
    })
}

/// One round as a human-readable line.
pub fn round_line(m: &RoundMetrics) -> String {
    let accuracy = m
        .test_accuracy
        .map(|a| format!("test accuracy {:6.2}%", a * 100.0))
        .unwrap_or_else(|| "test accuracy    n/a ".to_owned());
    let loss = m
        .train_loss
        .map(|l| format!("{l:.4}"))
        .unwrap_or_else(|| "n/a".to_owned());
    let mut line = format!(
        "round {:>3}  {accuracy}  train loss {loss}  clients {}/{}  up {}  down {}  {:.1}s",
        m.round,
        m.completed,
        m.sampled,
        human_bytes(m.bytes_up),
        human_bytes(m.bytes_down),
        m.duration_s
    );
    if let Some(privacy) = &m.privacy {
        line.push_str(&format!(
            "  ε {}",
            starling_runlog::units::epsilon(privacy.epsilon)
        ));
    }
    if let Some(error) = &m.error {
        line.push_str(&format!("  FAILED: {error}"));
    }
    line
}

/// The closing line every run prints.
pub fn final_line(summary: &RunSummary, run_dir: &std::path::Path) -> String {
    let accuracy = summary
        .final_accuracy
        .map(|a| format!("{:.2}%", a * 100.0))
        .unwrap_or_else(|| "n/a".to_owned());
    let reason = summary.reason.to_string();
    let rounds = match summary.rounds {
        1 => "1 round".to_owned(),
        n => format!("{n} rounds"),
    };
    format!(
        "final test accuracy: {accuracy} after {rounds} ({reason}); outputs in {}",
        run_dir.display()
    )
}

/// Fails when the run failed, so the process exits non-zero.
pub fn check_finished(summary: &RunSummary) -> anyhow::Result<()> {
    match &summary.reason {
        FinishReason::Failed(cause) => anyhow::bail!("run {} failed: {cause}", summary.run_id),
        _ => Ok(()),
    }
}

/// Bytes with a binary unit (B, KiB, MiB, GiB).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_use_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(1536 * 1024), "1.5 MiB");
    }

    #[test]
    fn round_line_shows_accuracy_and_failure() {
        let metrics = RoundMetrics {
            round: 2,
            test_accuracy: Some(0.9512),
            error: Some("total weight is 0".into()),
            ..RoundMetrics::default()
        };
        let line = round_line(&metrics);
        assert!(line.contains("95.12%"), "{line}");
        assert!(line.contains("FAILED: total weight is 0"), "{line}");
    }
}
