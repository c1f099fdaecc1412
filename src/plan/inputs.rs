//! The inputs each catalog sees: its defaults, the topology's bindings, then `--vars` files
//! and `--var` flags, in that order. What stays unbound is a missing requirement.

use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::load;
use crate::source::{Format, Source};

/// Overrides from the command line, per catalog id.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub vars: IndexMap<String, IndexMap<String, Value>>,
}

impl Overrides {
    /// Reads `--vars FILE`s then `--var catalog.name=value` flags.
    pub fn read(flags: &[String], files: &[PathBuf], diags: &mut Diagnostics) -> Overrides {
        let mut o = Overrides::default();
        for f in files {
            o.file(f, diags);
        }
        for flag in flags {
            let Some((key, raw)) = flag.split_once('=') else {
                diags.push(Diagnostic::error(
                    Code::BadOverride,
                    format!("--var `{flag}`: expected CATALOG.NAME=VALUE"),
                ));
                continue;
            };
            let Some((cat, name)) = key.split_once('.') else {
                diags.push(
                    Diagnostic::error(
                        Code::BadOverride,
                        format!("--var `{flag}`: `{key}` does not name a catalog"),
                    )
                    .help(format!(
                        "write `--var <catalog>.{key}={raw}`, e.g. `--var pve.{key}={raw}`"
                    )),
                );
                continue;
            };
            let value =
                serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
            o.vars
                .entry(cat.to_string())
                .or_default()
                .insert(name.to_string(), value);
        }
        o
    }

    fn file(&mut self, path: &std::path::Path, diags: &mut Diagnostics) {
        let Some(format) = Format::from_path(path) else {
            diags.push(Diagnostic::error(
                Code::BadOverride,
                format!(
                    "--vars {}: expected a .yaml, .yml or .toml file",
                    path.display()
                ),
            ));
            return;
        };
        let text = match crate::workspace::read_text(path) {
            Ok(t) => t,
            Err(mut d) => {
                d.message = format!("--vars {}", d.message);
                diags.push(d);
                return;
            }
        };
        let source = Arc::new(Source::new(path.to_path_buf(), text, format));
        let Some(doc) = load::parse(source.clone(), diags) else {
            return;
        };
        let Value::Object(cats) = doc.value else {
            diags.push(
                Diagnostic::error(
                    Code::BadOverride,
                    "a vars file maps catalog ids to their vars",
                )
                .at(&source, 0..0)
                .help("e.g. `pve: { url: https://pve1.lab:8006 }`"),
            );
            return;
        };
        for (cat, vars) in cats {
            match vars {
                Value::Object(m) => {
                    let entry = self.vars.entry(cat.clone()).or_default();
                    entry.extend(m);
                }
                _ => diags.push(
                    Diagnostic::error(
                        Code::BadOverride,
                        format!("`{cat}` must map var names to values"),
                    )
                    .at(
                        &source,
                        doc.spans
                            .value_span(&format!("/{}", crate::source::escape_token(&cat))),
                    ),
                ),
            }
        }
    }
}
