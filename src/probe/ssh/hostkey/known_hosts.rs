//! The `known_hosts` format of OpenSSH (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"): per line an
//! optional marker (`@cert-authority` or `@revoked`), a hostnames field, the key type, the
//! base64 key and a comment, separated by spaces or tabs. The hostnames field is either one
//! hashed name (`|1|salt|hash`, HMAC-SHA1 of the name keyed with the salt) or a
//! comma-separated list of patterns, where `*` and `?` are wildcards and a `!` prefix negates:
//! a name matching any negated pattern is not matched by the line at all. The name looked up
//! is `host`, or `[host]:port` off port 22, compared without regard to case. Comments, blank
//! lines and lines that cannot be read (an unknown marker, a bad key) are skipped, as OpenSSH
//! skips them.

use std::io;
use std::path::Path;

use russh::keys::PublicKey;
use russh::keys::parse_public_key_base64;
use russh::keys::ssh_encoding::base64::{Base64, Encoding};

/// What a line says about its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::probe::ssh) enum Marker {
    /// A host key of the host.
    Plain,
    /// A certificate authority trusted to sign the host's certificates.
    CertAuthority,
    /// A key that must never be accepted for the host.
    Revoked,
}

impl Marker {
    fn parse(field: &str) -> Option<Marker> {
        match field {
            "@cert-authority" => Some(Marker::CertAuthority),
            "@revoked" => Some(Marker::Revoked),
            _ => None,
        }
    }
}

/// A line of the file that applies to the host looked up.
#[derive(Clone, Debug)]
pub(in crate::probe::ssh) struct Entry {
    /// 1-based line number in the file.
    pub line: usize,
    pub marker: Marker,
    pub key: PublicKey,
}

/// The name a host is recorded under: `host` on port 22, else `[host]:port`; lower case.
fn lookup_name(host: &str, port: u16) -> String {
    let host = host.to_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// The entries of the file at `path` that apply to `host` on `port`; none if the file does
/// not exist.
pub(super) fn read(path: &Path, host: &str, port: u16) -> io::Result<Vec<Entry>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(entries(&String::from_utf8_lossy(&bytes), host, port)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(vec![]),
        Err(e) => Err(e),
    }
}

/// The entries of `text` (a whole `known_hosts` file) that apply to `host` on `port`.
fn entries(text: &str, host: &str, port: u16) -> Vec<Entry> {
    let name = lookup_name(host, port);
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| parse_line(line, &name).map(|(marker, key)| (i + 1, marker, key)))
        .map(|(line, marker, key)| Entry { line, marker, key })
        .collect()
}

/// The marker and key of one line, if the line is well formed and its hostnames match `name`.
fn parse_line(line: &str, name: &str) -> Option<(Marker, PublicKey)> {
    let mut fields = line.split([' ', '\t']).filter(|f| !f.is_empty());
    let mut first = fields.next()?;
    if first.starts_with('#') {
        return None;
    }
    let marker = if first.starts_with('@') {
        let marker = Marker::parse(first)?;
        first = fields.next()?;
        marker
    } else {
        Marker::Plain
    };
    let _key_type = fields.next()?;
    let key = fields.next()?;
    if !hosts_match(first, name) {
        return None;
    }
    let key = parse_public_key_base64(key).ok()?;
    Some((marker, key))
}

/// Whether a hostnames field matches `name` (already lower case).
fn hosts_match(field: &str, name: &str) -> bool {
    if let Some(hashed) = field.strip_prefix("|1|") {
        return hashed_match(hashed, name);
    }
    let mut positive = false;
    for pattern in field.split(',') {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pattern),
        };
        if glob(&pattern.to_lowercase(), name) {
            if negated {
                return false;
            }
            positive = true;
        }
    }
    positive
}

/// `salt|hash` (both base64) against `name`: the hash is HMAC-SHA1 keyed with the salt.
fn hashed_match(hashed: &str, name: &str) -> bool {
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (Base64::decode_vec(salt), Base64::decode_vec(hash)) else {
        return false;
    };
    hmac_sha1(&salt, name.as_bytes())[..] == hash[..]
}

/// Shell-style matching of the whole of `text`: `*` is any run of characters, `?` any one.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it is currently taken to end at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                // Let the last `*` take one more character and try again.
                Some((sp, st)) => {
                    star = Some((sp, st + 1));
                    pi = sp + 1;
                    ti = st + 1;
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// HMAC (RFC 2104) with SHA-1, as hashed `known_hosts` names use it.
fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..20].copy_from_slice(&sha1(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let mut inner = pad(0x36);
    inner.extend_from_slice(message);
    let mut outer = pad(0x5c);
    outer.extend_from_slice(&sha1(&inner));
    sha1(&outer)
}

/// SHA-1 (FIPS 180-4). Only for matching hashed names, which OpenSSH defines with it.
fn sha1(message: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let mut data = message.to_vec();
    data.push(0x80);
    while data.len() % 64 != 56 {
        data.push(0);
    }
    data.extend_from_slice(&((message.len() as u64) * 8).to_be_bytes());
    for block in data.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, x) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&x.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sha1_and_hmac_known_answers() {
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        // 56 bytes: the padding needs a second block.
        assert_eq!(
            hex(&sha1(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        // RFC 2202, test cases 2 and 6 (a key longer than a block).
        assert_eq!(
            hex(&hmac_sha1(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hex(&hmac_sha1(
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
    }

    #[test]
    fn patterns_wildcards_and_negation() {
        let m = |field: &str, host: &str, port: u16| hosts_match(field, &lookup_name(host, port));
        assert!(m("lab1", "lab1", 22));
        assert!(m("LAB1", "Lab1", 22), "names compare without case");
        assert!(!m("lab1", "lab10", 22));
        assert!(m("other,lab1", "lab1", 22));
        assert!(m("lab?", "lab1", 22));
        assert!(!m("lab?", "lab12", 22));
        assert!(m("*.example.com", "a.b.example.com", 22));
        assert!(!m("*.example.com", "example.com", 22));
        assert!(m("a*b*c", "aXbYbZc", 22));
        assert!(!m("a*b*c", "aXbYbZ", 22));
        assert!(m("*", "anything", 22));
        // Negation wins wherever it stands in the list, and alone matches nothing.
        assert!(!m("*.example.com,!bad.example.com", "bad.example.com", 22));
        assert!(!m("!bad.example.com,*.example.com", "bad.example.com", 22));
        assert!(m("*.example.com,!bad.example.com", "good.example.com", 22));
        assert!(!m("!bad.example.com", "good.example.com", 22));
        // Off port 22 the name is `[host]:port`; the bare name does not cover it.
        assert!(m("[lab1]:2222", "lab1", 2222));
        assert!(!m("lab1", "lab1", 2222));
        assert!(!m("[lab1]:2222", "lab1", 22));
        assert!(m("[lab*]:2222", "lab7", 2222));
        assert!(!m("[lab*]:2222", "lab7", 2223));
        assert!(m("[::1]:2222", "::1", 2222));
    }

    #[test]
    fn lines_markers_and_hashes() {
        const A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";
        let text = format!(
            "# a comment\n\
             \n\
             \t lab1\tssh-ed25519 {A} spaced with tabs\n\
             @revoked lab1 ssh-ed25519 {A}\n\
             @cert-authority *.lab ssh-ed25519 {A}\n\
             @unknown lab1 ssh-ed25519 {A}\n\
             lab1 ssh-ed25519 not-base64\n\
             lab1 ssh-ed25519\n\
             @revoked\n\
             @revoked |1|O33ESRMWPVkMYIwJ1Uw+n877jTo=|nuuC5vEqXlEZ/8BXQR7m619W6Ak= ssh-ed25519 {A}\n\
             |1|bad|hash ssh-ed25519 {A}\n"
        );
        let found = |host: &str, port: u16| -> Vec<(usize, Marker)> {
            entries(&text, host, port)
                .into_iter()
                .map(|e| (e.line, e.marker))
                .collect()
        };
        assert_eq!(
            found("lab1", 22),
            [(3, Marker::Plain), (4, Marker::Revoked)]
        );
        assert_eq!(found("x.lab", 22), [(5, Marker::CertAuthority)]);
        assert_eq!(found("example.com", 22), [(10, Marker::Revoked)]);
        assert_eq!(found("EXAMPLE.com", 22), [(10, Marker::Revoked)]);
        assert!(found("example.com", 2222).is_empty());
    }
}
