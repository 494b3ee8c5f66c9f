//! The `starling` binary as a user runs it: real processes, real sockets on
//! 127.0.0.1, output read from stdout.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(240);

fn starling() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_starling"));
    command.env("RUST_LOG", "warn").stdout(Stdio::piped());
    command
}

/// Collects stdout lines on a thread so the test can wait with a timeout.
fn stdout_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for_line(lines: &mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => continue,
            Err(err) => panic!("no line containing {needle:?}: {err}"),
        }
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("process did not exit within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Returns the one run folder a command wrote under `runs`.
fn only_run_dir(runs: &std::path::Path) -> std::path::PathBuf {
    std::fs::read_dir(runs)
        .expect("runs folder")
        .next()
        .expect("one run folder")
        .expect("readable entry")
        .path()
}

#[test]
fn demo_prints_rounds_and_final_accuracy() {
    let runs = tempfile::tempdir().unwrap();
    let mut child = starling()
        .args([
            "demo",
            "--bind",
            "127.0.0.1:0",
            "--rounds",
            "2",
            "--local-epochs",
            "1",
            "--browser-clients",
            "0",
        ])
        .arg("--runs-dir")
        .arg(runs.path())
        .spawn()
        .unwrap();
    let lines = stdout_lines(&mut child);
    let url = wait_for_line(&lines, "clients:");
    assert!(url.contains("ws://127.0.0.1:"), "{url}");
    wait_for_line(&lines, "round   1");
    wait_for_line(&lines, "round   2");
    let last = wait_for_line(&lines, "final test accuracy:");
    assert!(last.contains("after 2 rounds"), "{last}");
    assert!(wait_exit(&mut child).success());
}

#[test]
fn serve_stops_cleanly_on_ctrl_c() {
    let runs = tempfile::tempdir().unwrap();
    let mut child = starling()
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--wait-for-clients",
            "120",
        ])
        .arg("--runs-dir")
        .arg(runs.path())
        .spawn()
        .unwrap();
    let lines = stdout_lines(&mut child);
    wait_for_line(&lines, "listening on http://127.0.0.1:");
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let last = wait_for_line(&lines, "final test accuracy:");
    assert!(last.contains("(stopped)"), "{last}");
    assert!(wait_exit(&mut child).success());
}

#[test]
fn sim_rejects_unknown_strategy_with_the_valid_ones() {
    let output = starling()
        .args(["sim", "--clients", "3", "--strategy", "fedmagic"])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("fedmagic"), "{stderr}");
    assert!(stderr.contains("valid strategies: fedavg"), "{stderr}");
}

#[test]
fn sim_reports_accuracy_and_writes_metrics() {
    let runs = tempfile::tempdir().unwrap();
    let output = starling()
        .args([
            "sim",
            "--clients",
            "10",
            "--fraction",
            "0.3",
            "--rounds",
            "2",
            "--partition",
            "dirichlet",
            "--alpha",
            "0.3",
            "--seed",
            "4",
            "--quiet",
        ])
        .arg("--runs-dir")
        .arg(runs.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("clients 3/3"), "{stdout}");
    assert!(stdout.contains("final test accuracy:"), "{stdout}");
    let run_dir = only_run_dir(runs.path());
    let metrics = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2);
}

#[test]
fn sim_closed_stdout_exits_quietly() {
    // As in `starling sim | head -0`, the reader is closed before the
    // first line, so every write fails with a broken pipe.
    let runs = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = starling()
        .args(["sim", "--clients", "4", "--rounds", "2", "--seed", "3"])
        .arg("--runs-dir")
        .arg(runs.path())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let run_dir = only_run_dir(runs.path());
    let metrics = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2, "the run is complete");
}

#[test]
fn sim_closed_stderr_keeps_exit_codes() {
    // As in `starling sim 2>&1 | head -0`: logs and the error line go to a
    // pipe whose reader is closed, which must not turn into a panic (101).
    let runs = tempfile::tempdir().unwrap();
    let closed = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer
    };
    let status = starling()
        .args(["sim", "--clients", "4", "--rounds", "2", "--seed", "3"])
        .arg("--runs-dir")
        .arg(runs.path())
        .env("RUST_LOG", "debug")
        .stdout(closed())
        .stderr(closed())
        .status()
        .unwrap();
    assert!(status.success(), "{status:?}");
    let run_dir = only_run_dir(runs.path());
    assert!(run_dir.join("summary.json").is_file());

    let status = starling()
        .args(["sim", "--rounds", "0"])
        .arg("--runs-dir")
        .arg(runs.path())
        .stdout(closed())
        .stderr(closed())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
}

#[test]
fn two_server_sim_uses_a_mask_server_process() {
    let runs = tempfile::tempdir().unwrap();
    let mut mask_server = starling()
        .args(["serve", "--role", "mask-server", "--bind", "127.0.0.1:0"])
        .spawn()
        .unwrap();
    let lines = stdout_lines(&mut mask_server);
    let line = wait_for_line(&lines, "mask server listening on ");
    let url = line.rsplit(' ').next().unwrap().to_owned();
    assert!(
        url.starts_with("ws://127.0.0.1:") && url.ends_with("/mask"),
        "{url}"
    );
    let output = starling()
        .args([
            "sim",
            "--clients",
            "4",
            "--rounds",
            "2",
            "--quiet",
            "--secure-aggregation",
            "two-server",
            "--mask-server",
            &url,
        ])
        .arg("--runs-dir")
        .arg(runs.path())
        .output()
        .unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &mask_server.id().to_string()])
        .status();
    assert!(wait_exit(&mut mask_server).success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("final test accuracy:"), "{stdout}");
    let run_dir = only_run_dir(runs.path());
    let metrics = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    assert_eq!(
        metrics.matches("\"protocol\":\"two-server\"").count(),
        2,
        "{metrics}"
    );
    assert!(!metrics.contains("\"aborted\":true"), "{metrics}");
}

#[test]
fn secure_round_with_a_narrow_ring_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("secure.toml");
    std::fs::write(&config, "[secure]\nring_bits = 20\n").unwrap();
    let output = starling()
        .args(["sim", "--clients", "3", "--secure-aggregation", "secagg"])
        .env("RUST_LOG", "warn")
        .arg("--config")
        .arg(&config)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("20-bit ring is too small"), "{stderr}");
}
