//! Writing results to standard output. A reader that goes away (`labcert plan | head`)
//! is not an error worth a panic: stop writing quietly.

use std::io::{ErrorKind, Write};

use crate::error::Error;

/// Writes `text` to stdout; an error if stdout failed for a reason other than a closed pipe.
pub(crate) fn stdout(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    settle(out.write_all(text.as_bytes()).and_then(|()| out.flush()))
}

fn settle(r: std::io::Result<()>) -> Result<(), Error> {
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::Output(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}

/// Writes `value` as pretty JSON to stdout as it is serialized (a large plan is never
/// held twice in memory); the same error handling as [`stdout`].
pub(crate) fn stdout_json<T: serde::Serialize>(value: &T) -> Result<(), Error> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    settle(written)
}
