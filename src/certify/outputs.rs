//! Outputs first: every file certify will write is checked before the first probe, so a
//! repaired lab never loses its ledger to a typo in `--out`; and a write that fails at the
//! end is an error, never a warning.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::Request;
use super::setup::Setup;
use crate::error::{Error, Outcome};
use crate::exit::Exit;
use crate::manifest::check_target;
use crate::manifest::{self, Manifest};
use crate::report::{self, events::Ndjson};

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

/// Writes every output asked for — the manifest (then its signature), the recording, the
/// end of the event stream, JUnit, Markdown and the summary — trying each even when an
/// earlier one failed; the failures come back together.
pub(super) fn write(
    args: &Request,
    m: &Manifest,
    setup: &Setup,
    events: Option<&Arc<Mutex<Ndjson>>>,
    human_to_stdout: bool,
) -> Failures {
    let out = args.out.display().to_string();
    let mut failed = Failures::default();
    let written = manifest::write_atomic(m, &args.out);
    let manifest_written = written.is_ok();
    failed.note(written);
    // Test-coverage collection (scripts/coverage.sh): a copy of every manifest.
    if let Some(dir) = std::env::var_os("LABCERT_COVERAGE_DIR") {
        let copy = Path::new(&dir).join(format!("{}.json", m.id));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::copy(&args.out, copy);
    }
    if let (Some(key), true) = (&args.sign, manifest_written) {
        failed.note((|| {
            let bytes = std::fs::read(&args.out).map_err(|e| format!("{out}: {e}"))?;
            let sig = crate::gate::signing::sign(key, &bytes)?;
            manifest::write_file_atomic(&crate::gate::signing::sig_path(&args.out), sig.as_bytes())
        })());
    }
    if let (Some(rec), Some(dir)) = (&setup.recorder, &args.record) {
        match rec.write(dir) {
            Ok(n) => eprintln!("recorded {n} exchanges in {}", dir.display()),
            Err(e) => failed.note(Err(e)),
        }
    }
    if let Some((dir, r)) = &setup.replay {
        let missing = r.missing.lock().unwrap_or_else(|p| p.into_inner()).len();
        if missing > 0 {
            eprintln!(
                "replay: {missing} request{} had no recorded exchange in {} (those checks are blocked: not_recorded)",
                if missing == 1 { "" } else { "s" },
                dir.display()
            );
        }
    }
    if let Some(e) = events {
        let mut e = e.lock().unwrap_or_else(|p| p.into_inner());
        e.finished(m, &out);
        if let Some(err) = &e.error {
            failed.note(Err(format!("--events: {err}")));
        }
    }
    if let Some(p) = &args.junit {
        failed.note(
            report::junit::xml(m).and_then(|xml| manifest::write_file_atomic(p, xml.as_bytes())),
        );
    }
    if let Some(p) = &args.markdown {
        failed.note(manifest::write_file_atomic(
            p,
            report::markdown::render(m).as_bytes(),
        ));
    }
    let summary = report::summary::text(m, &out);
    if human_to_stdout {
        failed.note(crate::output::stdout(&summary).map_err(|e| e.to_string()));
    } else {
        eprint!("{summary}");
    }
    failed
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
