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
    /// The forms of every resolved value (longest value first, so a value containing another
    /// is masked whole), and of values captured by checks marked `sensitive`.
    masked: RwLock<Vec<Forms>>,
    /// The forms of the resolved secret values alone: what recordings mask (a recording must
    /// replay faithfully, so sensitive evidence stays in it; it never reaches a manifest).
    secret_values: Vec<Forms>,
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
                    .push(Forms::of(value));
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
        sort_forms(m);
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
        found.retain(|f| !m.iter().any(|x| x.value == *f));
        found.sort();
        found.dedup();
        m.extend(found.iter().map(|f| Forms::of(f)));
        sort_forms(&mut m);
    }

    fn list(&self) -> std::sync::RwLockReadGuard<'_, Vec<Forms>> {
        self.masked.read().unwrap_or_else(|p| p.into_inner())
    }

    /// A probe with every `<secret:name>` placeholder filled in with its value; else the
    /// secrets that could not be resolved, with why.
    pub fn substitute_spec(
        &self,
        catalog: &str,
        spec: &crate::plan::Spec,
    ) -> Result<crate::plan::Spec, Vec<String>> {
        let mut missing = Vec::new();
        let mut out = spec.clone();
        out.strings_mut(&mut |s| {
            if s.contains("<secret:") {
                *s = self.fill(catalog, s, &mut missing);
            }
        });
        if missing.is_empty() {
            Ok(out)
        } else {
            missing.sort();
            missing.dedup();
            Err(missing)
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

/// A prefix of a value at least this long, left at the end of a text (where it was cut), is
/// masked too.
const MIN_PREFIX: usize = 8;

/// Every form one value can take on the way out, computed once.
#[derive(Debug, Clone)]
struct Forms {
    value: String,
    /// For each character of the value, every way it can be written, longest first: raw,
    /// percent-encoded (upper and lower-case hex, `+` for a space), JSON-escaped (as serde_json
    /// escapes it, and `\uXXXX`), Rust-debug-escaped, HTML/XML entities, and `/` for `\` (a URL
    /// path). The characters may be written in any mix of these ways (an HTTP client encodes
    /// some characters of a URL and not others).
    chars: Vec<Vec<String>>,
    /// Bytes any first alternative starts with: a quick way to skip a position.
    first: [bool; 256],
    /// Forms not written character by character, longest first: base64 (standard and URL-safe,
    /// with and without padding, and the part that does not depend on the neighbouring bytes
    /// when the value sits at any offset inside a longer encoded text, as in HTTP Basic auth).
    literals: Vec<String>,
}

impl Forms {
    fn of(value: &str) -> Forms {
        let chars: Vec<Vec<String>> = value.chars().map(char_forms).collect();
        let mut first = [false; 256];
        for alt in chars.first().into_iter().flatten() {
            first[alt.as_bytes()[0] as usize] = true;
        }
        Forms {
            value: value.to_string(),
            chars,
            first,
            literals: base64_forms(value.as_bytes()),
        }
    }

    /// Where the value, in any of its character-by-character forms, ends if it starts at `at`
    /// (the longest match); and whether a prefix of it runs to the end of `text` (which may
    /// end inside the form of a character).
    fn match_at(&self, text: &[u8], at: usize) -> (Option<usize>, bool) {
        if at >= text.len() || !self.first[text[at] as usize] {
            return (None, false);
        }
        let mut cur = vec![at];
        let mut to_end = false;
        for alts in &self.chars {
            let mut next: Vec<usize> = Vec::new();
            for &p in &cur {
                for alt in alts {
                    let rest = &text[p..];
                    if rest.starts_with(alt.as_bytes()) {
                        if !next.contains(&(p + alt.len())) {
                            next.push(p + alt.len());
                        }
                    } else if !rest.is_empty() && alt.as_bytes().starts_with(rest) {
                        // The text was cut inside this character's form (`%C`).
                        to_end = true;
                    }
                }
            }
            if next.is_empty() {
                return (None, to_end);
            }
            to_end |= next.contains(&text.len());
            cur = next;
        }
        (cur.into_iter().max(), to_end)
    }

    /// `text` with every form of the value masked, and a prefix of one left at its end; None
    /// when there is nothing to mask.
    fn mask(&self, text: &str) -> Option<String> {
        let mut out: Option<String> = None;
        let bytes = text.as_bytes();
        // Character by character: raw, percent-encoded, JSON-escaped and the rest.
        let mut done = 0;
        let mut at = 0;
        while at < bytes.len() {
            if let (Some(end), _) = self.match_at(bytes, at) {
                let o = out.get_or_insert_with(String::new);
                o.push_str(&text[done..at]);
                o.push_str(MASK);
                done = end;
                at = end;
            } else {
                at += 1;
                while at < bytes.len() && !text.is_char_boundary(at) {
                    at += 1;
                }
            }
        }
        if let Some(o) = &mut out {
            o.push_str(&text[done..]);
        }
        // The literal forms (base64 only holds characters no other form masks into).
        for lit in &self.literals {
            let cur = out.as_deref().unwrap_or(text);
            if cur.contains(lit.as_str()) {
                out = Some(cur.replace(lit.as_str(), MASK));
            }
        }
        // A prefix left where the text was cut.
        let cur = out.as_deref().unwrap_or(text);
        if let Some(at) = self.prefix_at_end(cur) {
            out = Some(format!("{}{MASK}", &cur[..at]));
        }
        out
    }

    /// Where a prefix of at least [`MIN_PREFIX`] bytes of a form starts, if `text` ends in one.
    fn prefix_at_end(&self, text: &str) -> Option<usize> {
        if text.len() < MIN_PREFIX {
            return None;
        }
        let last = text.len() - MIN_PREFIX;
        // Longest literal prefix first.
        let mut best: Option<usize> = None;
        for lit in &self.literals {
            for k in (MIN_PREFIX..lit.len()).rev() {
                if text.ends_with(&lit[..k]) {
                    let at = text.len() - k;
                    best = Some(best.map_or(at, |b: usize| b.min(at)));
                    break;
                }
            }
        }
        // Character by character: no form of a character is longer than 12 bytes.
        let window = self.chars.len().saturating_mul(12);
        let mut at = text.len().saturating_sub(window);
        while !text.is_char_boundary(at) {
            at += 1;
        }
        let bytes = text.as_bytes();
        while at <= last && best.is_none_or(|b| at < b) {
            if text.is_char_boundary(at) && self.match_at(bytes, at).1 {
                return Some(at);
            }
            at += 1;
        }
        best
    }
}

fn sort_forms(m: &mut Vec<Forms>) {
    m.sort_by(|a, b| {
        b.value
            .len()
            .cmp(&a.value.len())
            .then(a.value.cmp(&b.value))
    });
    m.dedup_by(|a, b| a.value == b.value);
}

/// Every way one character of a secret can be written, longest first, no duplicates.
fn char_forms(c: char) -> Vec<String> {
    let mut alts = vec![c.to_string()];
    let mut utf8 = [0u8; 4];
    let bytes = c.encode_utf8(&mut utf8).as_bytes();
    // Percent-encoded.
    alts.push(bytes.iter().map(|b| format!("%{b:02X}")).collect());
    alts.push(bytes.iter().map(|b| format!("%{b:02x}")).collect());
    // JSON (serde_json's escapes, then the \u form any encoder may use).
    let json = match c {
        '"' => Some("\\\"".to_string()),
        '\\' => Some("\\\\".to_string()),
        '\n' => Some("\\n".to_string()),
        '\r' => Some("\\r".to_string()),
        '\t' => Some("\\t".to_string()),
        '\u{8}' => Some("\\b".to_string()),
        '\u{c}' => Some("\\f".to_string()),
        '/' => Some("\\/".to_string()),
        c if (c as u32) < 0x20 => Some(format!("\\u{:04x}", c as u32)),
        _ => None,
    };
    alts.extend(json);
    let mut units = [0u16; 2];
    let units = c.encode_utf16(&mut units);
    alts.push(units.iter().map(|u| format!("\\u{u:04x}")).collect());
    alts.push(units.iter().map(|u| format!("\\u{u:04X}")).collect());
    // Rust's Debug escapes of control characters.
    if c.is_control() {
        alts.push(c.escape_debug().to_string());
    }
    match c {
        ' ' => alts.push("+".into()),
        '\\' => alts.push("/".into()),
        '"' => alts.extend(["&quot;", "&#34;", "&#x22;"].map(String::from)),
        '\'' => alts.extend(["&#39;", "&#x27;", "&apos;"].map(String::from)),
        '&' => alts.extend(["&amp;", "&#38;"].map(String::from)),
        '<' => alts.extend(["&lt;", "&#60;"].map(String::from)),
        '>' => alts.extend(["&gt;", "&#62;"].map(String::from)),
        _ => {}
    }
    alts.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    alts.dedup();
    alts
}

/// The base64 forms of `value`, longest first: its whole encoding (padded and not), and at each
/// offset 0, 1 and 2 inside a longer text, the characters that only its own bytes decide; each
/// in the standard and the URL-safe alphabet.
fn base64_forms(value: &[u8]) -> Vec<String> {
    let mut std_forms = Vec::new();
    let whole = base64(value);
    std_forms.push(whole.trim_end_matches('=').to_string());
    std_forms.push(whole);
    for offset in 0..3 {
        let mut data = vec![0u8; offset];
        data.extend_from_slice(value);
        let enc = base64(&data);
        let from = (8 * offset).div_ceil(6);
        let to = 8 * data.len() / 6;
        if to > from {
            std_forms.push(enc[from..to].to_string());
        }
    }
    let mut all: Vec<String> = std_forms
        .iter()
        .flat_map(|f| [f.clone(), f.replace('+', "-").replace('/', "_")])
        .filter(|f| f.trim_end_matches('=').len() >= MIN_SENSITIVE)
        .collect();
    all.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    all.dedup();
    all
}

/// Standard base64, padded.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn mask_with(list: &[Forms], text: &str) -> String {
    mask_str(list, text).unwrap_or_else(|| text.to_string())
}

/// `text` with every form of every value in `list` masked; None when nothing was.
fn mask_str(list: &[Forms], text: &str) -> Option<String> {
    let mut out: Option<String> = None;
    for f in list {
        if let Some(masked) = f.mask(out.as_deref().unwrap_or(text)) {
            out = Some(masked);
        }
    }
    out
}

fn mask_value_with(list: &[Forms], v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Some(masked) = mask_str(list, s) {
                *s = masked;
            }
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

    /// An HTTP probe sending `auth` as its Authorization header.
    fn http(auth: &str) -> crate::plan::Spec {
        let v = json!({"url": "https://h/", "headers": {"Authorization": auth}});
        crate::plan::Spec::from_json(crate::plan::Kind::Http, v).unwrap()
    }

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
            .substitute_spec("c", &http("<secret:t>"))
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
            .substitute_spec("pve", &http("PVEAPIToken=<secret:token>"))
            .unwrap();
        assert_eq!(
            v.to_json()["headers"]["Authorization"],
            "PVEAPIToken=s3cr3t-value"
        );
        let err = s
            .substitute_spec("pve", &http("<secret:gone>"))
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

    /// A secret holding a space, a quote, a backslash and non-ASCII.
    const HARD: &str = "pä ss\"wo\\rd-123";

    fn hard() -> Secrets {
        // SAFETY: tests in this module are the only readers of this variable.
        unsafe { std::env::set_var("LABCERT_TEST_SECRET_HARD", HARD) };
        Secrets::resolve(&[(
            "c".into(),
            "t".into(),
            "env:LABCERT_TEST_SECRET_HARD".into(),
        )])
    }

    #[test]
    fn base64_matches_the_standard_encoding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(HARD.as_bytes()), "cMOkIHNzIndvXHJkLTEyMw==");
    }

    #[test]
    fn every_form_of_a_secret_is_masked() {
        let s = hard();
        let json = serde_json::to_string(HARD).unwrap();
        let forms = [
            HARD.to_string(),
            // Percent-encoded: %20 or + for the space, upper or lower-case hex, and as an
            // HTTP client leaves a URL (some characters encoded, some not).
            "p%C3%A4%20ss%22wo%5Crd-123".into(),
            "p%C3%A4+ss%22wo%5Crd-123".into(),
            "p%c3%a4%20ss%22wo%5crd-123".into(),
            "p%C3%A4%20ss%22wo\\rd-123".into(),
            "p%C3%A4%20ss%22wo/rd-123".into(),
            // JSON-escaped: as serde_json writes it, and ASCII-only.
            json[1..json.len() - 1].to_string(),
            "p\\u00e4 ss\\\"wo\\\\rd-123".into(),
            // HTML.
            "pä ss&quot;wo\\rd-123".into(),
            // base64: standard and URL-safe, with and without padding.
            "cMOkIHNzIndvXHJkLTEyMw==".into(),
            "cMOkIHNzIndvXHJkLTEyMw".into(),
        ];
        for form in forms {
            let text = format!("before {form} after");
            assert_eq!(s.mask(&text), format!("before {MASK} after"), "{form}");
            assert_eq!(
                s.mask_secrets(&text),
                format!("before {MASK} after"),
                "{form}"
            );
            let mut v = json!({ form.clone(): [text.clone()] });
            s.mask_value(&mut v);
            assert_eq!(
                v,
                json!({ MASK: [format!("before {MASK} after")] }),
                "{form}"
            );
        }
    }

    #[test]
    fn base64_of_a_secret_inside_a_longer_text_is_masked() {
        let s = hard();
        // HTTP Basic auth, and the secret at every offset, with anything after it.
        for before in ["", "u", "us", "user:", "admin@pam:"] {
            for after in ["", "x", "xy", ":more"] {
                let plain = format!("{before}{HARD}{after}");
                let std = base64(plain.as_bytes());
                let url = std.replace('+', "-").replace('/', "_");
                for enc in [std.clone(), std.trim_end_matches('=').into(), url] {
                    let masked = s.mask(&format!("Authorization: Basic {enc}"));
                    assert!(masked.contains(MASK), "{plain:?}: {masked}");
                    // What is left around the mask is the neighbours' own characters, at most
                    // one character apiece that also holds a few bits of the secret, and padding.
                    let rest = masked.strip_prefix("Authorization: Basic ").unwrap();
                    let (head, tail) = rest.split_once(MASK).unwrap();
                    assert!(head.len() <= (4 * before.len()).div_ceil(3) + 1, "{masked}");
                    assert!(tail.len() <= (4 * after.len()).div_ceil(3) + 3, "{masked}");
                }
            }
        }
    }

    #[test]
    fn a_prefix_left_at_a_cut_is_masked() {
        let s = hard();
        let forms = [
            HARD.to_string(),
            "p%C3%A4%20ss%22wo%5Crd-123".into(),
            "p\\u00e4 ss\\\"wo\\\\rd-123".into(),
            "cMOkIHNzIndvXHJkLTEyMw==".into(),
        ];
        for form in forms {
            for (k, _) in form.char_indices().filter(|(k, _)| *k >= MIN_PREFIX) {
                let text = format!("error: {}", &form[..k]);
                let masked = s.mask(&text);
                // (A cut inside base64 padding may leave a `=`.)
                let rest = masked.strip_prefix(&format!("error: {MASK}"));
                assert!(
                    rest.is_some_and(|r| r.trim_matches('=').is_empty()),
                    "{masked}"
                );
            }
            // Shorter than that, a prefix is left alone (it would mask too much).
            let short = &form[..form.char_indices().nth(3).unwrap().0];
            assert_eq!(s.mask(&format!("x {short}")), format!("x {short}"));
        }
    }

    #[test]
    fn text_without_a_secret_is_left_alone() {
        let s = hard();
        for text in [
            "100% done + more \\ \"quoted\" / & <b>",
            "pä ss and more",
            "p%C3%A4 is not it",
            "",
            "dXNlcjpwYXNzd29yZA==",
        ] {
            assert_eq!(s.mask(text), text);
        }
    }

    #[test]
    fn sensitive_captures_are_masked_in_every_form_but_not_in_recordings() {
        let s = hard();
        s.add_sensitive([json!("private value 9431")].iter());
        assert_eq!(s.mask("k=private+value+9431"), format!("k={MASK}"));
        assert_eq!(
            s.mask_secrets("k=private+value+9431"),
            "k=private+value+9431"
        );
        assert_eq!(
            s.mask(&format!("{} {HARD}", base64(b"private value 9431"))),
            format!("{MASK} {MASK}")
        );
    }
}
