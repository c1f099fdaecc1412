//! `labcert report M [--format text|markdown|junit|html]`: a manifest for people. Reads and
//! validates the manifest, renders it, prints it to stdout. Exit 0 when it was shown,
//! whatever the manifest says (`preflight` is the gate); 2 when it cannot be read.

use std::path::Path;

use jiff::Timestamp;

use crate::error::{Error, Outcome};
use crate::exit::Exit;
use crate::manifest::{self, Manifest, ReadError};

/// What `labcert report` prints.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportFormat {
    /// The full report for a terminal.
    #[default]
    Text,
    /// A summary for a release pull request.
    Markdown,
    /// JUnit XML: groups are suites, `fail` a failure, `blocked` an error.
    Junit,
    /// One self-contained HTML page (inline CSS, no scripts, no external assets).
    Html,
}

/// Reads and validates a manifest; the error names the file and every problem.
pub fn load(path: &Path) -> Result<Manifest, String> {
    match manifest::read(path) {
        Ok((_, m)) => Ok(m),
        Err(ReadError::Schema(v)) => Err(format!(
            "{}: not a valid manifest: {}",
            path.display(),
            ReadError::Schema(v)
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Renders `m` in `format` as of `now`.
pub fn render(m: &Manifest, format: ReportFormat, now: Timestamp) -> Result<String, String> {
    Ok(match format {
        ReportFormat::Text => super::text::render(m, now),
        ReportFormat::Markdown => super::markdown::render_at(m, now),
        ReportFormat::Junit => super::junit::xml(m)?,
        ReportFormat::Html => super::html::render(m, now),
    })
}

/// `labcert report`: shows the verdict the checks make, and says so when the stored one
/// disagrees (a hand-edited or corrupted manifest).
pub fn run(path: &Path, format: ReportFormat) -> Outcome {
    let mut m = load(path).map_err(|e| Error::Input(format!("cannot read the manifest: {e}")))?;
    let disagree = manifest::verdict::disagreements(&m);
    if !disagree.is_empty() {
        eprintln!(
            "warning: {}: the stored verdict disagrees with its checks; shown as the checks make it:",
            path.display()
        );
        for d in &disagree {
            eprintln!("  - {d}");
        }
        manifest::verdict::apply(&mut m);
    }
    let text = render(&m, format, Timestamp::now())
        .map_err(|e| Error::Output(format!("cannot render {}: {e}", path.display())))?;
    crate::output::stdout(&text)?;
    Ok(Exit::Ok)
}
