//! Reading a command's output: capped per stream, drained past the cap so the program never
//! blocks on a full pipe, and kept in the caller's buffer so that what was read survives when
//! reading is cut off (the deadline passed, a daemon still holds the pipe).

use tokio::io::{AsyncRead, AsyncReadExt};

/// One stream's output so far.
#[derive(Debug, Default)]
pub(super) struct Captured {
    pub(super) bytes: Vec<u8>,
    /// More was written than the cap kept.
    pub(super) capped: bool,
    /// The stream reached its end (every writer closed it).
    pub(super) eof: bool,
}

impl Captured {
    /// Whether the record is incomplete: over the cap, or cut off before the end.
    pub(super) fn truncated(&self) -> bool {
        self.capped || !self.eof
    }

    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// Reads `stream` to its end into `into`, keeping at most `cap` bytes. A missing stream is
/// an empty one.
pub(super) async fn drain<R: AsyncRead + Unpin>(
    stream: Option<R>,
    cap: usize,
    into: &mut Captured,
) {
    let Some(mut stream) = stream else {
        into.eof = true;
        return;
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(into.bytes.len());
                into.bytes.extend_from_slice(&buf[..n.min(room)]);
                into.capped |= n > room;
            }
        }
    }
    into.eof = true;
}
