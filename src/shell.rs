//! POSIX shell quoting: a string as exactly one word for `sh`, whatever it holds.
//!
//! An `ssh` command is always run by the remote user's login shell (`$SHELL -c LINE`), so
//! every value labcert puts into such a line is single-quoted: inside `'…'` a POSIX shell
//! expands nothing (`$`, backticks, `\`, `;`, newlines stay literal), and a `'` itself is
//! written `'\''` (end the quote, an escaped quote, start again).

use std::fmt;

/// A string no shell word can carry: a NUL byte ends the C string a shell receives, so
/// whatever follows it would be cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Nul;

impl fmt::Display for Nul {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("holds a NUL character, which no shell argument can carry")
    }
}

impl std::error::Error for Nul {}

/// `s` single-quoted for a POSIX shell: the shell reads it back as one word equal to `s`.
pub(crate) fn quote(s: &str) -> Result<String, Nul> {
    if s.contains('\0') {
        return Err(Nul);
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    Ok(out)
}

/// A command line running `argv` as written: every element quoted, joined by spaces.
pub(crate) fn join<S: AsRef<str>>(argv: &[S]) -> Result<String, Nul> {
    let words = argv
        .iter()
        .map(|a| quote(a.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(words.join(" "))
}

/// `argv` for people to read: an element is quoted only when it needs to be.
pub(crate) fn display<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter()
        .map(|a| {
            let a = a.as_ref();
            let plain = !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b));
            if plain {
                a.to_string()
            } else {
                // A NUL is shown, not refused: this is only for reading.
                quote(&a.replace('\0', "\\0")).unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// [`display`] of a rendered `argv` (strings; anything else as its JSON text).
pub(crate) fn display_json(argv: &[serde_json::Value]) -> String {
    let words: Vec<String> = argv
        .iter()
        .map(|x| x.as_str().map(String::from).unwrap_or(x.to_string()))
        .collect();
    display(&words)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `sh` makes of a command line: each argument it passes, NUL-separated.
    fn words_by_sh(line: &str) -> Vec<String> {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s\\0' {line}"))
            .output()
            .expect("sh");
        assert!(out.status.success(), "{line}: {out:?}");
        let text = String::from_utf8(out.stdout).expect("UTF-8");
        let mut words: Vec<String> = text.split('\0').map(str::to_string).collect();
        words.pop();
        words
    }

    #[test]
    fn quotes_as_posix_single_quotes() {
        assert_eq!(quote("abc").unwrap(), "'abc'");
        assert_eq!(quote("").unwrap(), "''");
        assert_eq!(quote("it's").unwrap(), "'it'\\''s'");
        assert_eq!(quote("a\nb").unwrap(), "'a\nb'");
        assert_eq!(quote("x\0y"), Err(Nul));
        assert_eq!(join(&["ls", "a b"]).unwrap(), "'ls' 'a b'");
        assert_eq!(
            display(&["curl", "-w", "%{http_code}", "http://m/x?a=1&b=2"]),
            "curl -w '%{http_code}' 'http://m/x?a=1&b=2'"
        );
        assert_eq!(display(&["echo", ""]), "echo ''");
    }

    /// The shell reads every quoted string back as exactly that one word: nothing in it is
    /// expanded, substituted, split or run.
    #[test]
    fn the_shell_reads_back_exactly_what_was_quoted() {
        let hostile = [
            "http://m/x?a=1&b=2; touch /tmp/labcert-shquote-pwned",
            "$(touch /tmp/labcert-shquote-pwned)",
            "`touch /tmp/labcert-shquote-pwned`",
            "'; touch /tmp/labcert-shquote-pwned; '",
            "\"; touch /tmp/labcert-shquote-pwned; \"",
            "a\ntouch /tmp/labcert-shquote-pwned",
            "back\\slash \\' \\\\",
            "$HOME ${PATH} $1 $@ * ? [a] ~ !x #c",
            "naïve 日本語 🦀 \t tab",
            "'",
            "''",
            "",
            " ",
        ];
        for s in hostile {
            assert_eq!(
                words_by_sh(&quote(s).unwrap()),
                vec![s.to_string()],
                "{s:?}"
            );
        }
        assert_eq!(words_by_sh(&join(&hostile).unwrap()), hostile.to_vec());
        assert_eq!(words_by_sh(&display(&hostile)), hostile.to_vec());
        assert!(!std::path::Path::new("/tmp/labcert-shquote-pwned").exists());
    }
}
