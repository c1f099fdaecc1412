//! Exit codes: the contract in README's table. One place, named.

/// certified / go / product checks passed / no problems found.
pub const OK: i32 = 0;
/// certify: a required check failed; preflight: no-go; qualify: product failure.
pub const FAIL: i32 = 1;
/// Usage error, invalid catalog or topology, unreadable input.
pub const INVALID: i32 = 2;
/// certify: a required check is blocked; qualify: infra failure during the run.
pub const BLOCKED: i32 = 3;
/// qualify: preflight failed, nothing ran.
pub const PREFLIGHT: i32 = 4;
