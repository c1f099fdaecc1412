//! Why a command could not do its job. Each variant knows its exit code; command entry
//! points return `Result<Exit, Error>` and only `cli::run` turns either into a process
//! exit code, printing the error once.

use crate::exit::Exit;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Flags that cannot work together, or a value a flag does not take.
    Usage(String),
    /// An input that cannot be used: catalogs, topology, a manifest, a waiver file. Located
    /// diagnostics, if any, were printed already; this says what the command gave up on.
    Input(String),
    /// An output that cannot be written.
    Output(String),
    /// The machine refused what labcert needs to run (e.g. its async runtime).
    System(String),
}

impl Error {
    /// Every error is unusable input or output to the contract: exit 2.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Usage(_) | Error::Input(_) | Error::Output(_) | Error::System(_) => {
                Exit::Invalid
            }
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Usage(m) | Error::Input(m) | Error::Output(m) | Error::System(m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for Error {}

/// What a command returns.
pub type Outcome = Result<Exit, Error>;
