//! A topology's `file:` for a catalog (E267): a path relative to the catalog root that stays
//! inside it and names the regular file defining that catalog. The root is the directory
//! holding the topology's `topologies/` directory, else the command's catalog root.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::source::{Format, escape_token};
use crate::workspace::{LoadedCatalog, LoadedTopology};

pub(super) fn check(
    t: &LoadedTopology,
    root: &Path,
    cats: &HashMap<&str, &LoadedCatalog>,
    diags: &mut Diagnostics,
) {
    let root = root_of(&t.doc.source.path).unwrap_or(root);
    for (name, binding) in &t.model.catalogs {
        let Some(file) = &binding.file else { continue };
        let ptr = format!("/catalogs/{}/file", escape_token(name));
        let cat = cats.get(name.as_str());
        if let Some((msg, label, help)) = problem(root, name, file, cat, t.doc.source.format) {
            diags.push(
                Diagnostic::error(Code::CatalogFile, msg)
                    .at(&t.doc.source, t.doc.spans.value_span(&ptr))
                    .label(label)
                    .help(help),
            );
        }
    }
}

/// The directory above a topology's `topologies/` directory, if it lives in one.
fn root_of(topology: &Path) -> Option<&Path> {
    let dir = topology.parent()?;
    if dir.file_name()? != "topologies" {
        return None;
    }
    dir.parent().map(|p| {
        if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        }
    })
}

/// `file` without `.` and `..`, if it stays below the directory it is relative to.
fn inside(file: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in file.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir if out.pop() => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// What is wrong with `file` for catalog `name`: (message, label, help).
fn problem(
    root: &Path,
    name: &str,
    file: &str,
    cat: Option<&&LoadedCatalog>,
    format: Format,
) -> Option<(String, String, String)> {
    let shown = root.display();
    let Some(rel) = inside(Path::new(file)) else {
        return Some((
            format!("`file` of catalog `{name}` is outside the catalog root"),
            if Path::new(file).is_absolute() {
                "an absolute path".to_string()
            } else {
                "this path leaves the catalog root".to_string()
            },
            format!("give the catalog file relative to the catalog root ({shown}), inside it"),
        ));
    };
    let path = root.join(&rel);
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                _ => e.to_string(),
            };
            return Some((
                format!("`file` of catalog `{name}`: {}: {why}", path.display()),
                "not a readable file".to_string(),
                format!(
                    "name the file that defines catalog `{name}`, relative to the catalog root \
                     ({shown}); or leave `file` out"
                ),
            ));
        }
    };
    if !meta.is_file() {
        return Some((
            format!(
                "`file` of catalog `{name}`: {} is not a regular file",
                path.display()
            ),
            "not a regular file".to_string(),
            format!("name the file that defines catalog `{name}`"),
        ));
    }
    let defined = cat.map(|c| c.doc.source.path.as_path())?;
    let same = match (path.canonicalize(), defined.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => path == defined,
    };
    (!same).then(|| {
        (
            format!(
                "`file` of catalog `{name}` is {}, but the catalog is defined in {}",
                path.display(),
                defined.display()
            ),
            format!("catalog `{name}` is not in this file"),
            match format {
                Format::Yaml => format!(
                    "write `file: {}`, or leave `file` out",
                    relative(root, defined)
                ),
                Format::Toml => {
                    format!(
                        "write `file = \"{}\"`, or leave `file` out",
                        relative(root, defined)
                    )
                }
            },
        )
    })
}

/// `path` relative to `root` when it lies below it, else as it is.
fn relative(root: &Path, path: &Path) -> String {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    canon(path)
        .strip_prefix(canon(root))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_root() {
        assert_eq!(
            inside(Path::new("pve.yaml")),
            Some(PathBuf::from("pve.yaml"))
        );
        assert_eq!(
            inside(Path::new("./lab/../pve.yaml")),
            Some(PathBuf::from("pve.yaml"))
        );
        for bad in [
            "../pve.yaml",
            "../../../etc/passwd",
            "lab/../../x",
            "/etc/passwd",
            ".",
            "",
        ] {
            assert_eq!(inside(Path::new(bad)), None, "{bad}");
        }
    }

    #[test]
    fn the_root_is_above_topologies() {
        assert_eq!(
            root_of(Path::new("/srv/cat/topologies/lab.yaml")),
            Some(Path::new("/srv/cat"))
        );
        assert_eq!(root_of(Path::new("/srv/lab.yaml")), None);
    }
}
