//! Writing results to standard output. A reader that goes away (`labcert plan | head`)
//! is not an error worth a panic: stop writing quietly.

use std::io::{ErrorKind, Write};

/// Writes `text` to stdout; `false` if stdout failed for a reason other than a closed pipe.
pub fn stdout(text: &str) -> bool {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => true,
        Err(e) if e.kind() == ErrorKind::BrokenPipe => true,
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            false
        }
    }
}
