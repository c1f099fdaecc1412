//! Exit codes: the contract in README's table. One place, named.

/// How a command ended, as its process exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// certified / go / product checks passed / no problems found.
    Ok,
    /// certify: a required check failed; preflight: no-go; qualify: product failure.
    Fail,
    /// Usage error, invalid catalog or topology, unreadable input, unwritable output.
    Invalid,
    /// certify: a required check is blocked; qualify: infra failure during the run.
    Blocked,
    /// qualify: preflight failed, nothing ran.
    Preflight,
}

impl Exit {
    pub fn code(self) -> i32 {
        match self {
            Exit::Ok => 0,
            Exit::Fail => 1,
            Exit::Invalid => 2,
            Exit::Blocked => 3,
            Exit::Preflight => 4,
        }
    }
}
