//! Outputs first: every file certify will write is checked before the first probe, so a
//! repaired lab never loses its ledger to a typo in `--out`; and a write that fails at the
//! end is an error, never a warning.

use std::path::{Path, PathBuf};

use super::Request;
use crate::error::{Error, Outcome};
use crate::exit::Exit;
use crate::manifest::check_target;

/// Every file this run will write, with the option that names it.
pub(super) fn targets(args: &Request) -> Vec<(&'static str, PathBuf)> {
    let mut out = vec![("--out", args.out.clone())];
    if args.sign.is_some() {
        out.push(("--sign", crate::gate::signing::sig_path(&args.out)));
    }
    for (flag, p) in [("--junit", &args.junit), ("--markdown", &args.markdown)] {
        if let Some(p) = p {
            out.push((flag, p.clone()));
        }
    }
    if let Some(p) = args
        .events
        .as_ref()
        .filter(|p| p.as_path() != Path::new("-"))
    {
        out.push(("--events", p.clone()));
    }
    if let Some(dir) = &args.record {
        out.push(("--record", dir.join(crate::run::record::FILE)));
    }
    out
}

/// Checks every output before anything is probed; all problems at once.
pub(super) fn check(args: &Request) -> Result<(), String> {
    if let Some(dir) = &args.record {
        // The recording's directory is labcert's to make.
        std::fs::create_dir_all(dir).map_err(|e| format!("--record {}: {e}", dir.display()))?;
    }
    let problems: Vec<String> = targets(args)
        .into_iter()
        .filter_map(|(flag, p)| check_target(&p).err().map(|e| format!("{flag}: {e}")))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "cannot write the outputs asked for; nothing probed:\n  {}",
            problems.join("\n  ")
        ))
    }
}

/// Write failures at the end of a run, kept until every output has been tried.
#[derive(Default)]
pub(super) struct Failures(Vec<String>);

impl Failures {
    pub(super) fn note(&mut self, r: Result<(), String>) {
        if let Err(e) = r {
            self.0.push(e);
        }
    }

    /// The run's outcome: a certification that passed but could not be written whole is
    /// unusable to the gate (an output error, exit 2); a fail or blocked verdict keeps its
    /// own code, the write errors said beside it.
    pub(super) fn outcome(self, verdict: Exit) -> Outcome {
        if self.0.is_empty() {
            Ok(verdict)
        } else if verdict == Exit::Ok {
            Err(Error::Output(self.0.join("\nerror: ")))
        } else {
            for e in &self.0 {
                eprintln!("error: {e}");
            }
            Ok(verdict)
        }
    }
}
