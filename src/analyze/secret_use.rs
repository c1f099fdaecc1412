//! A secret can only be placed, never transformed (E242). Its value is substituted into the
//! rendered probe when the probe runs; until then templates see a placeholder, so a filter
//! or an expression on it would transform the placeholder (`{{ secrets.token | upper }}`
//! would send `<SECRET:TOKEN>`), and a condition on it would test the placeholder.

use serde_json::Value;

use super::code;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::source::escape_token;
use crate::workspace::LoadedCatalog;

pub(super) fn check(c: &LoadedCatalog, diags: &mut Diagnostics) {
    let doc = &c.doc.value;
    for name in c.model.probes.keys() {
        let p = format!("/probes/{}", escape_token(name));
        if let Some(v) = doc.pointer(&p) {
            walk(c, v, &mut p.clone(), diags);
        }
    }
    for (gi, g) in c.model.groups.iter().enumerate() {
        for ki in 0..g.checks.len() {
            let base = format!("/groups/{gi}/checks/{ki}");
            let Some(Value::Object(fields)) = doc.pointer(&base) else {
                continue;
            };
            for (key, v) in fields {
                if key != "id" && key != "capture" {
                    walk(c, v, &mut format!("{base}/{}", escape_token(key)), diags);
                }
            }
        }
    }
}

/// Conditions are bare expressions (`when`, `exclude`, a repair guard's `refuse_if`).
fn is_condition(ptr: &str) -> bool {
    ptr.ends_with("/when")
        || ptr.ends_with("/refuse_if")
        || ptr
            .rsplit_once('/')
            .is_some_and(|(head, i)| head.ends_with("/exclude") && i.parse::<usize>().is_ok())
}

fn walk(c: &LoadedCatalog, v: &Value, ptr: &mut String, diags: &mut Diagnostics) {
    match v {
        Value::String(s) if is_condition(ptr) => condition(c, s, ptr, diags),
        Value::String(s) if crate::template::is_template(s) => text(c, s, ptr, diags),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let len = ptr.len();
                crate::source::push_token(ptr, &i.to_string());
                walk(c, x, ptr, diags);
                ptr.truncate(len);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                let len = ptr.len();
                crate::source::push_token(ptr, k);
                walk(c, x, ptr, diags);
                ptr.truncate(len);
            }
        }
        _ => {}
    }
}

fn reads_secrets(code: &str) -> bool {
    code::roots(code).iter().any(|(_, n)| *n == "secrets")
}

/// `secrets.NAME` alone: the one form that places a secret as it is.
fn placed(code: &str) -> bool {
    code.strip_prefix("secrets.").is_some_and(|name| {
        name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

fn text(c: &LoadedCatalog, s: &str, ptr: &str, diags: &mut Diagnostics) {
    let tags = code::tags(s);
    for (i, tag) in tags.iter().enumerate() {
        if !reads_secrets(tag.code) || (tag.expression && placed(tag.code)) {
            continue;
        }
        let nth = tags[..i].iter().filter(|t| t.code == tag.code).count();
        let written = &s[tag.span.clone()];
        let (msg, label) = if tag.expression {
            (
                format!("`{written}` transforms a secret"),
                "a filter or expression here would apply to a placeholder, not the value",
            )
        } else {
            (
                format!("`{written}` decides on a secret"),
                "a statement here would read a placeholder, not the value",
            )
        };
        diags.push(
            Diagnostic::error(Code::SecretTransformed, msg)
                .at(&c.doc.source, code::locate(c, ptr, tag.code, nth))
                .label(label)
                .help(HELP),
        );
    }
}

fn condition(c: &LoadedCatalog, s: &str, ptr: &str, diags: &mut Diagnostics) {
    let tags = code::tags(s);
    let expr = match tags.as_slice() {
        [one] if one.expression && one.span == (0..s.len()) => one.code,
        _ => s.trim(),
    };
    if reads_secrets(expr) {
        diags.push(
            Diagnostic::error(
                Code::SecretTransformed,
                format!("the condition `{expr}` reads a secret"),
            )
            .at(&c.doc.source, code::locate(c, ptr, expr, 0))
            .label("it would test a placeholder, not the value")
            .help("decide on a var instead; a secret's value is only substituted into the probe that sends it"),
        );
    }
}

const HELP: &str = "write the secret alone, `{{ secrets.NAME }}`: its value is substituted as it \
     is when the probe runs, and no filter or expression can apply to it (text around it stays \
     outside the braces: `Bearer {{ secrets.token }}`); to pass one to a remote shell, make it an \
     element of an ssh `argv`, which labcert quotes";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bare_secret_is_placed() {
        assert!(placed("secrets.token"));
        assert!(placed("secrets.pve_token2"));
        for code in [
            "secrets.token | upper",
            "secrets.token | shquote",
            "'Bearer ' ~ secrets.token",
            "secrets['token']",
            "secrets",
            "secrets.token.x",
            "secrets.token if x else y",
        ] {
            assert!(!placed(code), "{code}");
        }
        assert!(reads_secrets("x ~ secrets.token"));
        assert!(!reads_secrets("vars.secrets ~ 'secrets.x'"));
    }

    #[test]
    fn conditions_are_where_expressions_are_bare() {
        assert!(is_condition("/groups/0/checks/1/when"));
        assert!(is_condition("/groups/0/checks/1/for_each/exclude/2"));
        assert!(is_condition("/groups/0/checks/1/repair/guard/refuse_if"));
        assert!(!is_condition("/groups/0/checks/1/title"));
        assert!(!is_condition("/groups/0/checks/1/for_each/exclude"));
    }
}
