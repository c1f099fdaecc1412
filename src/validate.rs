//! `labcert validate`: every problem in the given catalogs and topologies, in one run.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::analyze;
use crate::diag::{Diagnostics, render};
use crate::error::Outcome;
use crate::exit::Exit;
use crate::workspace::{self, Loaded, LoadedCatalog, LoadedTopology};

/// Files loaded for a command, with the catalogs of the root added for cross-catalog references.
pub struct Set {
    pub catalogs: Vec<LoadedCatalog>,
    pub topologies: Vec<LoadedTopology>,
    /// Files the user named (diagnostics elsewhere are not theirs to fix now).
    pub requested: HashSet<PathBuf>,
    /// The catalog root the set was loaded with (a topology's `file:` is relative to it).
    pub root: PathBuf,
}

/// Loads `paths` plus the root's catalogs (only those not already given, and quietly).
/// With `quiet`, problems in root catalogs the user did not name are not reported.
pub fn load_set(paths: &[PathBuf], root: &Path, quiet: bool, diags: &mut Diagnostics) -> Set {
    let files = workspace::discover(paths, diags);
    let mut set = Set {
        catalogs: Vec::new(),
        topologies: Vec::new(),
        requested: files.iter().cloned().collect(),
        root: root.to_path_buf(),
    };
    for f in &files {
        match workspace::load(f, diags) {
            Some(Loaded::Catalog(c)) => set.catalogs.push(*c),
            Some(Loaded::Topology(t)) => set.topologies.push(*t),
            None => {}
        }
    }
    let given: HashSet<String> = set
        .catalogs
        .iter()
        .map(|c| c.model.catalog.clone())
        .collect();
    if root.is_dir() {
        let mut hidden = Diagnostics::default();
        for f in workspace::discover(&[root.to_path_buf()], &mut hidden) {
            if set.requested.contains(&f) || f.components().any(|c| c.as_os_str() == "topologies") {
                continue;
            }
            let sink = if quiet { &mut hidden } else { &mut *diags };
            if let Some(Loaded::Catalog(c)) = workspace::load(&f, sink)
                && !given.contains(&c.model.catalog)
            {
                if !quiet {
                    set.requested.insert(f);
                }
                set.catalogs.push(*c);
            }
        }
    }
    set
}

pub fn run(paths: &[PathBuf], root: &Path) -> Outcome {
    let paths = if paths.is_empty() {
        vec![root.to_path_buf()]
    } else {
        paths.to_vec()
    };
    let mut diags = Diagnostics::default();
    let set = load_set(&paths, root, true, &mut diags);
    let mut found = Diagnostics::default();
    analyze::analyze(&set.catalogs, &mut found);
    let by_id: HashMap<&str, &LoadedCatalog> = set
        .catalogs
        .iter()
        .map(|c| (c.model.catalog.as_str(), c))
        .collect();
    for t in &set.topologies {
        analyze::topology::check(t, root, &by_id, &mut found);
    }
    for d in found.sorted() {
        let mine = d
            .source
            .as_ref()
            .is_none_or(|s| set.requested.contains(&s.path));
        if mine {
            diags.push(d);
        }
    }
    let (errors, warnings) = (diags.error_count(), diags.warning_count());
    for d in diags.sorted() {
        eprintln!("{}", render(&d));
    }
    let n_cat = set
        .catalogs
        .iter()
        .filter(|c| set.requested.contains(&c.doc.source.path))
        .count();
    let summary = format!(
        "{n_cat} catalog{}, {} topolog{}: {errors} error{}, {warnings} warning{}",
        plural(n_cat),
        set.topologies.len(),
        if set.topologies.len() == 1 {
            "y"
        } else {
            "ies"
        },
        plural(errors),
        plural(warnings)
    );
    if errors > 0 {
        // The errors are the finding, each printed above with its place: exit 2.
        eprintln!("validate: {summary}");
        Ok(Exit::Invalid)
    } else {
        eprintln!("validate: ok — {summary}");
        Ok(Exit::Ok)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
