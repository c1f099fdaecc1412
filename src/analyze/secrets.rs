//! Secrets are references (`env:`, `file:`, `command:`), never literals.

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::load::Document;
use crate::template::is_template;
use crate::workspace::LoadedCatalog;

pub(crate) const SCHEMES: &[&str] = &["env", "file", "command"];

/// Header names whose values are credentials.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "x-auth-token",
    "cookie",
];

/// A parsed secret reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretRef {
    Env(String),
    File(String),
    Command(String),
}

/// Reads `env:NAME`, `file:PATH` or `command:CMD`; the error says which problem it is.
pub(crate) fn parse(text: &str) -> Result<SecretRef, Code> {
    let Some((scheme, rest)) = text.split_once(':') else {
        return Err(Code::LiteralSecret);
    };
    // `env: NAME` is not `env:NAME`: a space after the colon is a mistake, never trimmed away.
    if SCHEMES.contains(&scheme) && rest.starts_with(char::is_whitespace) {
        return Err(Code::InvalidSecretRef);
    }
    let rest = rest.trim_end();
    match scheme {
        "env"
            if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Ok(SecretRef::Env(rest.into()))
        }
        "file" if !rest.is_empty() => Ok(SecretRef::File(rest.into())),
        "command" if !rest.is_empty() => Ok(SecretRef::Command(rest.into())),
        "env" | "file" | "command" => Err(Code::InvalidSecretRef),
        s if !s.is_empty() && s.len() <= 10 && s.chars().all(|c| c.is_ascii_alphabetic()) => {
            Err(Code::InvalidSecretRef)
        }
        _ => Err(Code::LiteralSecret),
    }
}

/// Reports a value that must be a secret reference but is not.
pub(crate) fn check_ref(doc: &Document, text: &str, ptr: &str, diags: &mut Diagnostics) {
    let Err(code) = parse(text) else { return };
    let span = doc.spans.value_span(ptr);
    let d = if code == Code::LiteralSecret {
        Diagnostic::error(code, "secret given as a literal")
            .at(&doc.source, span)
            .label("a secret value must not be written here")
            .help("refer to it instead: `env:NAME`, `file:/path/to/secret` or `command:pass show lab/token`")
            .redacted()
    } else {
        let scheme = text.split_once(':').map(|(s, _)| s).unwrap_or_default();
        let mut d = Diagnostic::error(code, format!("invalid secret reference `{}`", mask(text)))
            .at(&doc.source, span)
            .label("not a usable reference")
            .redacted();
        let spaced = SCHEMES.contains(&scheme)
            && text
                .split_once(':')
                .is_some_and(|(_, r)| r.starts_with(char::is_whitespace));
        let close = SCHEMES
            .iter()
            .copied()
            .find(|s| strsim::damerau_levenshtein(s, scheme) <= 2);
        d = match close.filter(|s| *s != scheme) {
            _ if spaced => d.help(format!(
                "remove the space: write `{scheme}:{}`, nothing between the colon and the value",
                match scheme {
                    "env" => "NAME",
                    "file" => "PATH",
                    _ => "CMD",
                }
            )),
            Some(s) => d.help(format!("did you mean `{s}:`?")),
            None => d.help("use `env:NAME` (letters, digits, `_`), `file:PATH` or `command:CMD`"),
        };
        d
    };
    diags.push(d);
}

/// Shows the scheme of a would-be reference but never the rest, in case it is a real secret.
fn mask(text: &str) -> String {
    match text.split_once(':') {
        Some((s, _)) => format!("{s}:…"),
        None => "…".into(),
    }
}

pub(crate) fn check_catalog(c: &LoadedCatalog, diags: &mut Diagnostics) {
    let doc = &c.doc;
    for (name, s) in &c.model.secrets {
        if let Some(def) = &s.default {
            check_ref(
                doc,
                def,
                &format!("/secrets/{}/default", crate::source::escape_token(name)),
                diags,
            );
        }
    }
    literal_headers(doc, &doc.value, &mut String::new(), diags);
}

/// Credential headers and SSH passphrases written as plain text anywhere in the catalog.
fn literal_headers(
    doc: &Document,
    v: &serde_json::Value,
    ptr: &mut String,
    diags: &mut Diagnostics,
) {
    match v {
        serde_json::Value::Object(m) => {
            let headers = ptr.ends_with("/http/headers");
            let ssh = ptr.ends_with("/ssh");
            for (k, x) in m {
                let len = ptr.len();
                crate::source::push_token(ptr, k);
                let in_headers =
                    headers && SECRET_HEADERS.contains(&k.to_ascii_lowercase().as_str());
                let passphrase = ssh && k == "passphrase";
                match x.as_str() {
                    Some(s)
                        if (in_headers || passphrase)
                            && !is_template(s)
                            && !(passphrase && parse(s).is_ok()) =>
                    {
                        diags.push(
                            Diagnostic::error(
                                Code::LiteralSecret,
                                format!("`{k}` holds a literal credential"),
                            )
                            .at(&doc.source, doc.spans.value_span(ptr))
                            .label("a credential written into the catalog")
                            .help(
                                "declare it under `secrets:` and write `{{ secrets.<name> }}` here",
                            )
                            .redacted(),
                        );
                    }
                    _ => literal_headers(doc, x, ptr, diags),
                }
                ptr.truncate(len);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let len = ptr.len();
                crate::source::push_token(ptr, &i.to_string());
                literal_headers(doc, x, ptr, diags);
                ptr.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(
            parse("env:PVE_TOKEN"),
            Ok(SecretRef::Env("PVE_TOKEN".into()))
        );
        assert_eq!(
            parse("file:/run/secrets/x"),
            Ok(SecretRef::File("/run/secrets/x".into()))
        );
        assert!(matches!(
            parse("command:pass show x"),
            Ok(SecretRef::Command(_))
        ));
        assert_eq!(parse("3f0c-uuid-literal"), Err(Code::LiteralSecret));
        assert_eq!(
            parse("PVEAPIToken=root@pam!x=3f0c"),
            Err(Code::LiteralSecret)
        );
        assert_eq!(parse("evn:PVE_TOKEN"), Err(Code::InvalidSecretRef));
        assert_eq!(parse("env:"), Err(Code::InvalidSecretRef));
        assert_eq!(parse("env: PVE_TOKEN"), Err(Code::InvalidSecretRef));
        assert_eq!(parse("file: /run/secrets/x"), Err(Code::InvalidSecretRef));
        assert_eq!(parse("command: pass show x"), Err(Code::InvalidSecretRef));
        assert_eq!(parse("env:PVE TOKEN"), Err(Code::InvalidSecretRef));
        assert_eq!(parse("vault:x"), Err(Code::InvalidSecretRef));
    }
}
