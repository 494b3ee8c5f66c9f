//! Writes the commands' reports on standard output and their messages on
//! standard error. `println!` and `eprintln!` panic when the reader has
//! gone (`starling sim | head`), so a report line returns [`Closed`]
//! instead and `main` exits quietly on it, while a message that cannot be
//! written is dropped.

use std::fmt;
use std::io::{self, Write};

/// Writes one formatted line on standard output, like `println!`, but
/// returns an error where `println!` would panic.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::console::line(format_args!($($arg)*))
    };
}
pub(crate) use say;

/// Writes one formatted line on standard error, like `eprintln!`, and
/// drops it when standard error is closed.
macro_rules! complain {
    ($($arg:tt)*) => {
        $crate::console::error_line(format_args!($($arg)*))
    };
}
pub(crate) use complain;

/// Error of a report write whose reader went away (a broken pipe on
/// standard output).
#[derive(Debug)]
pub struct Closed;

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("standard output was closed by its reader")
    }
}

impl std::error::Error for Closed {}

/// Writes `args` and a newline on standard output.
pub fn line(args: fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| out.write_all(b"\n"));
    written.map_err(report_error)
}

/// Writes `text` as it is on standard output.
pub fn text(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    written.map_err(report_error)
}

/// Writes `text` for a command that goes on whether or not anyone reads
/// it, such as a server's banner: a failure is logged, not returned.
pub fn notice(text: &str) {
    if let Err(error) = self::text(text) {
        tracing::info!(%error, "failed to print a notice on standard output");
    }
}

/// Writes `args` and a newline on standard error, ignoring a failure:
/// there is no other place left to report it.
pub fn error_line(args: fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// Returns true when `err` comes from a report write whose reader went
/// away. A broken pipe elsewhere (a figure written to a named pipe) is a
/// real failure and does not count.
pub fn is_closed(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.is::<Closed>())
}

fn report_error(err: io::Error) -> anyhow::Error {
    if err.kind() == io::ErrorKind::BrokenPipe {
        anyhow::Error::new(Closed)
    } else {
        anyhow::Error::new(err).context("failed to write to standard output")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipe_on_stdout_is_closed() {
        let err = report_error(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("failed to print the rounds");
        assert!(is_closed(&err));
    }

    #[test]
    fn broken_pipe_elsewhere_is_not_closed() {
        let err = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("failed to write accuracy.svg");
        assert!(!is_closed(&err));
    }

    #[test]
    fn other_stdout_errors_are_not_closed() {
        let err = report_error(io::Error::from(io::ErrorKind::StorageFull));
        assert!(!is_closed(&err));
        assert_eq!(err.to_string(), "failed to write to standard output");
    }
}
