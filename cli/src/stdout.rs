//! Writes the commands' reports on standard output. `println!` panics
//! when the reader has gone (`starling sim | head`), so these writes return
//! the error instead, and `main` exits quietly on a closed pipe.

use std::fmt;
use std::io::{self, Write};

/// Writes one formatted line on standard output, like `println!`, but
/// returns an error where `println!` would panic.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::stdout::line(format_args!($($arg)*))
    };
}
pub(crate) use say;

/// Writes `args` and a newline on standard output.
pub fn line(args: fmt::Arguments<'_>) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_fmt(args)?;
    out.write_all(b"\n")
}

/// Writes `text` as it is on standard output.
pub fn text(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes `text` for a command that goes on whether or not anyone reads
/// it, such as a server's banner: a failure is logged, not returned.
pub fn notice(text: &str) {
    if let Err(error) = self::text(text) {
        tracing::info!(%error, "failed to print a notice on standard output");
    }
}

/// Returns true when `err` or one of its causes is a broken pipe: the
/// reader of standard output went away.
pub fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_pipe_is_found_under_context() {
        let err = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("failed to print the rounds");
        assert!(is_closed_pipe(&err));
    }

    #[test]
    fn other_errors_are_not_a_closed_pipe() {
        let err = anyhow::Error::new(io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(!is_closed_pipe(&err));
        assert!(!is_closed_pipe(&anyhow::anyhow!("run failed")));
    }
}
