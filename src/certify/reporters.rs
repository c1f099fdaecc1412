//! Who hears the run as it goes: the terminal (a live view, or plain lines in CI or when
//! piped) and, with `--events`, the NDJSON stream.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::Request;
use crate::error::Error;
use crate::plan::Plan;
use crate::report;
use crate::run::Reporter;
use crate::run::secrets::Secrets;

pub(super) struct Reporters {
    pub list: Vec<Box<dyn Reporter>>,
    /// The NDJSON stream, kept to finish it with the manifest.
    pub events: Option<Arc<Mutex<report::events::Ndjson>>>,
    /// The end summary goes to stdout, unless the events do (`--events -`).
    pub human_to_stdout: bool,
}

pub(super) fn open(
    args: &Request,
    plan: &Plan,
    secrets: &Arc<Secrets>,
) -> Result<Reporters, Error> {
    let human_to_stdout = args.events.as_deref() != Some(Path::new("-"));
    let live = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let plain: Box<dyn std::io::Write + Send> = if human_to_stdout {
        Box::new(std::io::stdout())
    } else {
        Box::new(std::io::stderr())
    };
    let mut list: Vec<Box<dyn Reporter>> = vec![Box::new(report::terminal::Terminal::new(
        plan,
        live,
        plain,
        secrets.clone(),
    ))];
    let events = match &args.events {
        None => None,
        Some(p) => {
            let out: Box<dyn std::io::Write + Send> = if p == Path::new("-") {
                Box::new(std::io::stdout())
            } else {
                let f = std::fs::File::create(p)
                    .map_err(|e| Error::Output(format!("--events {}: {e}", p.display())))?;
                Box::new(std::io::LineWriter::new(f))
            };
            Some(Arc::new(Mutex::new(report::events::Ndjson::new(
                out,
                secrets.clone(),
            ))))
        }
    };
    if let Some(e) = &events {
        list.push(Box::new(e.clone()));
    }
    Ok(Reporters {
        list,
        events,
        human_to_stdout,
    })
}
