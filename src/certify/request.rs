//! What `labcert certify` is asked to do; the command line maps its flags to one.

use std::path::PathBuf;

use crate::plan::Target;

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub target: Target,
    /// The manifest to write.
    pub out: PathBuf,
    /// `--valid-for`, as written (bounded by the topology's `max_valid_for`).
    pub valid_for: Option<String>,
    pub jobs: usize,
    pub per_endpoint: usize,
    pub ssh_channels: usize,
    pub fail_fast: bool,
    pub junit: Option<PathBuf>,
    /// NDJSON events to a file, or `-` for stdout.
    pub events: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
    pub scope: Option<String>,
    pub record: Option<PathBuf>,
    pub replay: Option<PathBuf>,
    /// Apply repairs (else each is reported as "would repair").
    pub repair: bool,
    pub waivers: Option<PathBuf>,
    /// Sign the manifest with this key (`M.sig`).
    pub sign: Option<PathBuf>,
    /// Probe the lab even when the topology names a recording to replay.
    pub live: bool,
}
