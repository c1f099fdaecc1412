//! Values templated into a remote shell command line: an `ssh` probe's `command` is run by the
//! host's login shell, so every expression rendered into it must end in `| shquote` or its
//! value runs as shell code there (W213).
//!
//! In a probe template, `{{ params.NAME }}` alone passes shell code through from the check:
//! it is not warned there, and the `with: { NAME: … }` of every probe using the template is
//! checked as a command line instead.

use std::collections::{BTreeSet, HashMap};

use super::code::{self, Tag};
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::probe::Probe;
use crate::source::escape_token;
use crate::workspace::LoadedCatalog;

pub(super) fn check(c: &LoadedCatalog, diags: &mut Diagnostics) {
    let m = &c.model;
    // Template name → parameters its command line passes through as shell code.
    let mut passed: HashMap<&str, BTreeSet<String>> = HashMap::new();
    for (name, t) in &m.probes {
        let Some(line) = t.ssh.as_ref().and_then(|s| s.command.as_deref()) else {
            continue;
        };
        let ptr = format!("/probes/{}/ssh/command", escape_token(name));
        let params: Vec<&str> = t.params.keys().map(String::as_str).collect();
        let through = command_line(c, line, &ptr, &params, None, diags);
        passed.insert(name, through);
    }
    for (gi, g) in m.groups.iter().enumerate() {
        for (ki, k) in g.checks.iter().enumerate() {
            let base = format!("/groups/{gi}/checks/{ki}");
            probe(c, &k.probe, &format!("{base}/probe"), &passed, diags);
            let steps = k.repair.iter().flat_map(|r| r.steps.iter()).enumerate();
            for (si, s) in steps {
                if let Some(p) = &s.probe {
                    let ptr = format!("{base}/repair/steps/{si}/probe");
                    probe(c, p, &ptr, &passed, diags);
                }
            }
        }
    }
}

fn probe(
    c: &LoadedCatalog,
    p: &Probe,
    ptr: &str,
    passed: &HashMap<&str, BTreeSet<String>>,
    diags: &mut Diagnostics,
) {
    if let Some(line) = p.ssh.as_ref().and_then(|s| s.command.as_deref()) {
        command_line(c, line, &format!("{ptr}/ssh/command"), &[], None, diags);
    }
    let Some(name) = p.uses.as_deref() else {
        return;
    };
    for param in passed.get(name).into_iter().flatten() {
        if let Some(line) = p.with.get(param).and_then(|v| v.as_str()) {
            let at = format!("{ptr}/with/{}", escape_token(param));
            command_line(c, line, &at, &[], Some((name, param)), diags);
        }
    }
}

/// Warns for each unquoted expression of a command line; returns the `params` it passes
/// through whole (only a probe template's `params` may be, given in `params`).
fn command_line(
    c: &LoadedCatalog,
    line: &str,
    ptr: &str,
    params: &[&str],
    via: Option<(&str, &str)>,
    diags: &mut Diagnostics,
) -> BTreeSet<String> {
    let mut through = BTreeSet::new();
    let tags = code::tags(line);
    for (i, tag) in tags.iter().enumerate().filter(|(_, t)| t.expression) {
        if let Some(p) = tag.code.strip_prefix("params.")
            && params.contains(&p)
        {
            through.insert(p.to_string());
            continue;
        }
        let names = crate::template::expression_names(tag.code).unwrap_or_default();
        if names.is_empty() || quoted(tag.code) {
            continue;
        }
        let secret = names
            .iter()
            .any(|n| n == "secrets" || n.starts_with("secrets."));
        // The same code written earlier in the line: this is its next occurrence.
        let nth = tags[..i].iter().filter(|t| t.code == tag.code).count();
        diags.push(warning(c, tag, nth, line, ptr, via, secret));
    }
    through
}

/// Whether the expression's value as a whole passes through `shquote` last: its top level is
/// `operand | filter | … | shquote`. A filter binds tighter than any operator, so in
/// `a ~ b | shquote` only `b` is quoted.
fn quoted(code: &str) -> bool {
    let top = code::top_level(code);
    let mut parts: Vec<&str> = top.split('|').map(str::trim).collect();
    if parts.len() < 2 || !matches!(parts.pop(), Some("shquote" | "shquote()")) {
        return false;
    }
    let operand = parts.remove(0);
    let term = !operand.is_empty()
        && !operand.starts_with("not(")
        && operand
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.()[]{}'\"".contains(&b));
    term && parts.iter().all(|f| filter_call(f))
}

/// `name` or `name(…)` (arguments already hidden by [`code::top_level`]).
fn filter_call(f: &str) -> bool {
    let name = f
        .strip_suffix(')')
        .and_then(|g| g.split_once('('))
        .map_or(f, |(n, args)| {
            if args.bytes().all(|b| b == b'x') {
                n
            } else {
                ""
            }
        });
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The expression with `shquote` applied to all of it.
fn fixed(code: &str) -> String {
    let top = code::top_level(code);
    let mut parts = top.split('|').map(str::trim);
    let chain = parts.next().is_some_and(|operand| {
        !operand.is_empty()
            && operand
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.()[]{}'\"".contains(&b))
    }) && parts.all(filter_call);
    if chain {
        format!("{{{{ {code} | shquote }}}}")
    } else {
        format!("{{{{ ({code}) | shquote }}}}")
    }
}

fn warning(
    c: &LoadedCatalog,
    tag: &Tag<'_>,
    nth: usize,
    line: &str,
    ptr: &str,
    via: Option<(&str, &str)>,
    secret: bool,
) -> Diagnostic {
    let written = &line[tag.span.clone()];
    let into = match via {
        Some((t, p)) => format!(
            "the remote shell command of probe template `{t}` (through its `{p}` parameter)"
        ),
        None => "a remote shell command".to_string(),
    };
    let help = if secret {
        "a secret cannot be quoted by a filter (its value is substituted when the probe runs): \
         give the probe as `argv: [prog, arg, …]` and the secret as one element, which labcert \
         quotes; for shell syntax, `argv: [sh, -c, '… \"$1\" …', sh, \"{{ secrets.name }}\"]`"
            .to_string()
    } else {
        format!(
            "write `{}` (single quotes: the value arrives as one word), or give the probe as \
             `argv: [prog, arg, …]`, which quotes every element",
            fixed(tag.code)
        )
    };
    Diagnostic::warning(
        Code::UnquotedShellValue,
        format!("`{written}` is rendered into {into} without `| shquote`"),
    )
    .at(&c.doc.source, code::locate(c, ptr, tag.code, nth))
    .label("its value runs as shell code on the host")
    .help(help)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_only_when_shquote_applies_to_the_whole_value() {
        for ok in [
            "vars.url | shquote",
            "b.addr|shquote",
            "(vars.mtu - 28) | shquote",
            "vars.nodes | join(' ') | shquote",
            "item['addr'] | shquote()",
        ] {
            assert!(quoted(ok), "{ok}");
        }
        for bad in [
            "vars.url",
            "vars.url | upper",
            "vars.mtu - 28 | shquote",
            "'a' ~ x | shquote",
            "x if c else y | shquote",
            "x | shquote ~ y",
            "x | shquote == 'a'",
            "not(x) | shquote",
            "-x | shquote",
            "x | shquote | upper",
            "'a' ~ x | string | shquote",
        ] {
            assert!(!quoted(bad), "{bad}");
        }
    }

    #[test]
    fn the_fix_quotes_the_whole_value() {
        assert_eq!(fixed("vars.url"), "{{ vars.url | shquote }}");
        assert_eq!(
            fixed("vars.nodes | join(' ')"),
            "{{ vars.nodes | join(' ') | shquote }}"
        );
        assert_eq!(fixed("vars.mtu - 28"), "{{ (vars.mtu - 28) | shquote }}");
    }
}
