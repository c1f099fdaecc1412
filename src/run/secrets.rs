//! Secrets at run time: references resolved once per catalog, substituted into rendered
//! probes just before they run, and masked out of everything that is recorded.

use std::collections::HashMap;
use std::sync::RwLock;

use serde_json::Value;

use crate::analyze::secrets::{SecretRef, parse};

/// What stands in for a secret value wherever it would appear.
pub const MASK: &str = "********";

/// Resolved secrets of every catalog, and every value to mask.
#[derive(Debug, Default)]
pub struct Secrets {
    /// catalog id → secret name → value, or why it could not be resolved.
    values: HashMap<String, HashMap<String, Result<String, String>>>,
    /// Every resolved value (longest first, so a value containing another is masked whole),
    /// and values captured by checks marked `sensitive`.
    masked: RwLock<Vec<String>>,
    /// The resolved secret values alone: what recordings mask (a recording must replay
    /// faithfully, so sensitive evidence stays in it; it never reaches a manifest).
    secret_values: Vec<String>,
}

/// Values shorter than this are not masked when captured (they would mask everything).
const MIN_SENSITIVE: usize = 4;

impl Secrets {
    /// Resolves `refs` (catalog id → secret name → reference). A reference that does not
    /// resolve is kept as an error: only the checks that use it are blocked.
    pub fn resolve(refs: &[(String, String, String)]) -> Secrets {
        Secrets::resolve_with(refs, false)
    }

    /// For a replay: recordings hold every secret masked, so a secret that does not resolve
    /// here stands in as the mask itself and the recorded requests still match.
    pub fn resolve_for_replay(refs: &[(String, String, String)]) -> Secrets {
        Secrets::resolve_with(refs, true)
    }

    fn resolve_with(refs: &[(String, String, String)], replay: bool) -> Secrets {
        let mut s = Secrets::default();
        for (cat, name, reference) in refs {
            let v = match resolve_one(reference) {
                Err(_) if replay => Ok(MASK.to_string()),
                // Too short to mask without masking every occurrence of a common string,
                // and too short to be a secret: refused, so it can never leak unmasked.
                Ok(v) if v.len() < MIN_SENSITIVE => Err(format!(
                    "the value is shorter than {MIN_SENSITIVE} characters; labcert cannot keep it out of its output"
                )),
                v => v,
            };
            if let Ok(value) = &v
                && value != MASK
            {
                s.masked
                    .get_mut()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(value.clone());
            }
            s.values
                .entry(cat.clone())
                .or_default()
                .insert(name.clone(), v);
        }
        s.normalise();
        s
    }

    fn normalise(&mut self) {
        let m = self.masked.get_mut().unwrap_or_else(|p| p.into_inner());
        m.sort_by_key(|v| std::cmp::Reverse(v.len()));
        m.dedup();
        self.secret_values = m.clone();
    }

    /// Masks the secret values only (not sensitive captures): for recordings.
    pub fn mask_secrets(&self, text: &str) -> String {
        mask_with(&self.secret_values, text)
    }

    /// [`Secrets::mask_secrets`] over every string of `v`.
    pub fn mask_secrets_value(&self, v: &mut Value) {
        if !self.secret_values.is_empty() {
            mask_value_with(&self.secret_values, v);
        }
    }

    /// Treats values a `sensitive` check captured like secrets from now on.
    pub fn add_sensitive<'a>(&self, values: impl Iterator<Item = &'a serde_json::Value>) {
        let mut found = Vec::new();
        for v in values {
            collect_strings(v, &mut found);
        }
        found.retain(|s| s.len() >= MIN_SENSITIVE);
        if found.is_empty() {
            return;
        }
        let mut m = self.masked.write().unwrap_or_else(|p| p.into_inner());
        m.extend(found);
        m.sort_by_key(|v| std::cmp::Reverse(v.len()));
        m.dedup();
    }

    fn list(&self) -> std::sync::RwLockReadGuard<'_, Vec<String>> {
        self.masked.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces `<secret:name>` placeholders in a rendered probe with the values.
    /// Err lists the secrets that could not be resolved, with why.
    pub fn substitute(&self, catalog: &str, v: &Value) -> Result<Value, Vec<String>> {
        let mut missing = Vec::new();
        let out = self.walk(catalog, v, &mut missing);
        if missing.is_empty() {
            Ok(out)
        } else {
            missing.sort();
            missing.dedup();
            Err(missing)
        }
    }

    fn walk(&self, catalog: &str, v: &Value, missing: &mut Vec<String>) -> Value {
        match v {
            Value::String(s) if s.contains("<secret:") => {
                Value::String(self.fill(catalog, s, missing))
            }
            Value::Array(a) => {
                Value::Array(a.iter().map(|x| self.walk(catalog, x, missing)).collect())
            }
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), self.walk(catalog, x, missing)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn fill(&self, catalog: &str, s: &str, missing: &mut Vec<String>) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(at) = rest.find("<secret:") {
            out.push_str(&rest[..at]);
            let after = &rest[at + "<secret:".len()..];
            let Some(end) = after.find('>') else {
                out.push_str(&rest[at..]);
                return out;
            };
            let name = &after[..end];
            match self.values.get(catalog).and_then(|m| m.get(name)) {
                Some(Ok(value)) => out.push_str(value),
                Some(Err(why)) => missing.push(format!("{catalog}: secrets.{name} ({why})")),
                None => missing.push(format!("{catalog}: secrets.{name} (not bound)")),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Masks every secret value in `text`.
    pub fn mask(&self, text: &str) -> String {
        mask_with(&self.list(), text)
    }

    /// Masks every secret value in every string of `v` (keys too).
    pub fn mask_value(&self, v: &mut Value) {
        let list = self.list();
        if !list.is_empty() {
            mask_value_with(&list, v);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list().is_empty()
    }
}

fn mask_with(list: &[String], text: &str) -> String {
    let mut out = text.to_string();
    for v in list {
        if out.contains(v.as_str()) {
            out = out.replace(v.as_str(), MASK);
        }
    }
    out
}

fn mask_value_with(list: &[String], v: &mut Value) {
    match v {
        Value::String(s) if list.iter().any(|m| s.contains(m.as_str())) => {
            *s = mask_with(list, s);
        }
        Value::Array(a) => a.iter_mut().for_each(|x| mask_value_with(list, x)),
        Value::Object(m) => {
            let old = std::mem::take(m);
            for (k, mut x) in old {
                mask_value_with(list, &mut x);
                m.insert(mask_with(list, &k), x);
            }
        }
        _ => {}
    }
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

fn resolve_one(reference: &str) -> Result<String, String> {
    match parse(reference) {
        Ok(SecretRef::Env(name)) => match std::env::var(&name) {
            Ok(v) if !v.is_empty() => Ok(v),
            Ok(_) => Err(format!("environment variable {name} is empty")),
            Err(_) => Err(format!("environment variable {name} is not set")),
        },
        Ok(SecretRef::File(path)) => std::fs::read_to_string(&path)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| format!("cannot read {path}: {e}")),
        Ok(SecretRef::Command(cmd)) => {
            let out = std::process::Command::new("sh")
                .args(["-c", &cmd])
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .output()
                .map_err(|e| format!("cannot run the secret command: {e}"))?;
            if !out.status.success() {
                return Err(format!("the secret command exited with {}", out.status));
            }
            Ok(String::from_utf8_lossy(&out.stdout)
                .trim_end_matches(['\n', '\r'])
                .to_string())
        }
        Err(_) => Err("not a secret reference (env:, file: or command:)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_secret_too_short_to_mask_is_refused() {
        // SAFETY: tests in this module are the only readers of this variable.
        unsafe { std::env::set_var("LABCERT_TEST_SECRET_SHORT", "ab") };
        let s = Secrets::resolve(&[(
            "c".into(),
            "t".into(),
            "env:LABCERT_TEST_SECRET_SHORT".into(),
        )]);
        let err = s
            .substitute("c", &json!("<secret:t>"))
            .unwrap_err()
            .join("; ");
        assert!(err.contains("shorter than 4 characters"), "{err}");
    }

    #[test]
    fn substitutes_and_masks() {
        // SAFETY: tests in this module are the only readers of this variable.
        unsafe { std::env::set_var("LABCERT_TEST_SECRET_A", "s3cr3t-value") };
        let s = Secrets::resolve(&[
            (
                "pve".into(),
                "token".into(),
                "env:LABCERT_TEST_SECRET_A".into(),
            ),
            (
                "pve".into(),
                "gone".into(),
                "env:LABCERT_TEST_SECRET_UNSET".into(),
            ),
        ]);
        let v = s
            .substitute("pve", &json!({"h": "PVEAPIToken=<secret:token>"}))
            .unwrap();
        assert_eq!(v["h"], "PVEAPIToken=s3cr3t-value");
        let err = s
            .substitute("pve", &json!(["<secret:gone>"]))
            .unwrap_err()
            .join("; ");
        assert!(
            err.contains("LABCERT_TEST_SECRET_UNSET is not set"),
            "{err}"
        );
        assert_eq!(s.mask("x s3cr3t-value y"), "x ******** y");
        let mut j = json!({"s3cr3t-value": ["a s3cr3t-value"]});
        s.mask_value(&mut j);
        assert_eq!(j, json!({"********": ["a ********"]}));
    }
}
