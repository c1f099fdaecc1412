//! The code inside a template string: each `{{ expression }}` and `{% statement %}`, where it
//! is written, without its delimiters or whitespace control. Comments and `{% raw %}`
//! blocks are text. A lexer's view, enough to look at one tag at a time; the template engine
//! itself still parses every string (syntax errors are its to report).

use std::ops::Range;

/// One tag of template code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Tag<'a> {
    /// `{{ … }}` (rendered into the text) rather than `{% … %}`.
    pub expression: bool,
    /// The code, trimmed, without `-`/`+` whitespace control.
    pub code: &'a str,
    /// The whole tag, delimiters included, as byte offsets into the string.
    pub span: Range<usize>,
}

/// Every tag of `s`, in order. An unterminated tag ends the scan.
pub(super) fn tags(s: &str) -> Vec<Tag<'_>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(at) = s[i..].find('{').map(|k| k + i) {
        let (expression, close) = match b.get(at + 1) {
            Some(b'{') => (true, b'}'),
            Some(b'%') => (false, b'%'),
            Some(b'#') => match s[at + 2..].find("#}") {
                Some(k) => {
                    i = at + 2 + k + 2;
                    continue;
                }
                None => break,
            },
            _ => {
                i = at + 1;
                continue;
            }
        };
        let Some(end) = tag_end(b, at + 2, close) else {
            break;
        };
        let code = trim_control(&s[at + 2..end]);
        out.push(Tag {
            expression,
            code,
            span: at..end + 2,
        });
        i = end + 2;
        if !expression && code == "raw" {
            // Text until `{% endraw %}`, whatever it holds.
            let Some(k) = s[i..].find("endraw") else {
                break;
            };
            let Some(close) = s[i + k..].find("%}") else {
                break;
            };
            i += k + close + 2;
        }
    }
    out
}

/// Where the tag opened before `from` ends (`}}` or `%}` outside strings and brackets).
fn tag_end(b: &[u8], from: usize, close: u8) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = from;
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'') => i = skip_string(b, i, q),
            b'(' | b'[' | b'{' => {
                depth += 1;
                i += 1;
            }
            b')' | b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'}' if depth > 0 => {
                depth -= 1;
                i += 1;
            }
            c if c == close && depth == 0 && b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The index just past the string literal starting at `i` (quote `q`).
fn skip_string(b: &[u8], mut i: usize, q: u8) -> usize {
    i += 1;
    while i < b.len() && b[i] != q {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    (i + 1).min(b.len())
}

fn trim_control(code: &str) -> &str {
    let code = code.strip_prefix(['-', '+']).unwrap_or(code);
    let code = code.strip_suffix(['-', '+']).unwrap_or(code);
    code.trim()
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `code` with the inside of every string literal and bracket replaced by `x` (delimiters
/// kept): what is left is its top level, where operators and filters apply to the whole.
pub(super) fn top_level(code: &str) -> String {
    let b = code.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' | b'\'' if depth == 0 => {
                let end = skip_string(b, i, c);
                out.push(c);
                out.extend(std::iter::repeat_n(b'x', end.saturating_sub(i + 2)));
                if end > i + 1 && b[end - 1] == c {
                    out.push(c);
                }
                i = end;
                continue;
            }
            b'"' | b'\'' => {
                let end = skip_string(b, i, c);
                out.extend(std::iter::repeat_n(b'x', end - i));
                i = end;
                continue;
            }
            b'(' | b'[' | b'{' => {
                out.push(if depth == 0 { c } else { b'x' });
                depth += 1;
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                out.push(if depth == 0 { c } else { b'x' });
            }
            _ if depth > 0 => out.push(b'x'),
            // Non-ASCII bytes stand in as `x` too, so the result stays valid UTF-8.
            _ if !c.is_ascii() => out.push(b'x'),
            _ => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Names read at the root of an expression (`vars` in `vars.url`, not `url`), with their
/// byte offsets in `code`; string literals are skipped.
pub(super) fn roots(code: &str) -> Vec<(usize, &str)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\'' {
            i = skip_string(b, i, c);
            continue;
        }
        if is_ident(c) && !c.is_ascii_digit() {
            let start = i;
            while i < b.len() && is_ident(b[i]) {
                i += 1;
            }
            let before = code[..start].trim_end();
            if !before.ends_with('.') {
                out.push((start, &code[start..i]));
            }
            continue;
        }
        i += 1;
    }
    out
}

/// Where the `nth` occurrence of `code` is written inside the value at `ptr` (widened to
/// the `{{ … }}` around it when written plainly), else the whole value.
pub(super) fn locate(
    c: &crate::workspace::LoadedCatalog,
    ptr: &str,
    code: &str,
    nth: usize,
) -> Range<usize> {
    let whole = c.doc.spans.value_span(ptr);
    let text = c.doc.source.text.get(whole.clone()).unwrap_or_default();
    let Some(i) = text.match_indices(code).nth(nth).map(|(i, _)| i) else {
        return whole;
    };
    let end = i + code.len();
    let open = text[..i].rfind("{{").filter(|&o| {
        text[o + 2..i]
            .trim_start_matches(['-', '+'])
            .trim()
            .is_empty()
    });
    let close = text[end..].find("}}").filter(|&k| {
        text[end..end + k]
            .trim_end_matches(['-', '+'])
            .trim()
            .is_empty()
    });
    match (open, close) {
        (Some(o), Some(k)) => whole.start + o..whole.start + end + k + 2,
        _ => whole.start + i..whole.start + end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_with_their_places() {
        let s = "ping {{ b.addr }}; {%- if x -%}a{% endif %}{# {{ c }} #}{{ '}}' ~ d }}";
        let t = tags(s);
        let codes: Vec<(bool, &str)> = t.iter().map(|t| (t.expression, t.code)).collect();
        assert_eq!(
            codes,
            vec![
                (true, "b.addr"),
                (false, "if x"),
                (false, "endif"),
                (true, "'}}' ~ d")
            ]
        );
        assert_eq!(&s[t[0].span.clone()], "{{ b.addr }}");
        assert_eq!(
            tags("{% raw %}{{ x }}{% endraw %}{{ y }}")
                .iter()
                .map(|t| t.code)
                .collect::<Vec<_>>(),
            vec!["raw", "y"]
        );
        assert_eq!(tags("{{ {'a': {'b': 1}} }}")[0].code, "{'a': {'b': 1}}");
        assert!(tags("{{ open").is_empty());
    }

    #[test]
    fn top_level_hides_strings_and_brackets() {
        assert_eq!(
            top_level("(a - 1) | join(', ') ~ 'x|y'"),
            "(xxxxx) | join(xxxx) ~ 'xxx'"
        );
        assert_eq!(top_level("d['é'] | f"), "d[xxxx] | f");
    }

    #[test]
    fn roots_skip_attributes_and_strings() {
        let r: Vec<&str> = roots("secrets.x ~ vars['secrets'] | f(a.b, 'c') ~ y .z")
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        assert_eq!(r, vec!["secrets", "vars", "f", "a", "y"]);
    }
}
