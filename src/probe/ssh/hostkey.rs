//! Host key verification, before anything is sent: the key must match a pinned fingerprint,
//! else an entry for `host` / `[host]:port` in `known_hosts` (OpenSSH's format: hashed `|1|`
//! names, `*`/`?`/`!` patterns, markers). A key an `@revoked` line lists for the host is
//! refused whatever else the file says; `@cert-authority` lines are read but host
//! certificates are not supported, so a host known only by them is refused saying so.
//! An unknown or changed key ends the handshake; there is no accept-any mode.

mod known_hosts;

use std::path::{Path, PathBuf};

use russh::client;
use russh::keys::ssh_key::Fingerprint;
use russh::keys::{Algorithm, HashAlg, PublicKey, PublicKeyOrCertificate};

use super::error::{HandshakeError, Reason, fail};
use super::target::Endpoint;
use crate::probe::ProbeError;
use known_hosts::{Entry, Marker};

/// What a hop's key is checked against.
pub(super) enum Trust {
    Pin(Fingerprint),
    KnownHosts {
        path: PathBuf,
        /// The lines that apply to this host, in file order.
        entries: Vec<Entry>,
    },
}

impl Trust {
    /// The pin when given, else the `known_hosts` entries for the hop, read now.
    pub(super) fn load(
        pin: Option<Fingerprint>,
        known_hosts: &Path,
        hop: &Endpoint,
    ) -> Result<Trust, ProbeError> {
        if let Some(pin) = pin {
            return Ok(Trust::Pin(pin));
        }
        let entries = known_hosts::read(known_hosts, &hop.host, hop.port).map_err(|e| {
            fail(
                Reason::HostKey,
                format!("cannot read known_hosts {}: {e}", known_hosts.display()),
            )
        })?;
        Ok(Trust::KnownHosts {
            path: known_hosts.to_path_buf(),
            entries,
        })
    }

    /// Host key algorithms in the order to offer them: those `known_hosts` has a key of
    /// first, so a server with several host keys presents the one we can check (as OpenSSH
    /// does).
    pub(super) fn preferred(&self) -> Vec<Algorithm> {
        let all = russh::Preferred::DEFAULT.key.to_vec();
        let Trust::KnownHosts { entries, .. } = self else {
            return all;
        };
        let known = |a: &Algorithm| {
            entries
                .iter()
                .any(|e| e.marker == Marker::Plain && same_kind(&e.key.algorithm(), a))
        };
        let (mut first, rest): (Vec<_>, Vec<_>) = all.into_iter().partition(known);
        first.extend(rest);
        first
    }

    /// Accepts the presented key or says, with fingerprints, why not.
    pub(super) fn verify(&self, hop: &Endpoint, key: &PublicKey) -> Result<(), String> {
        let address = hop.address();
        let presented = format!(
            "{} key {}",
            key.algorithm().as_str(),
            key.fingerprint(HashAlg::Sha256)
        );
        match self {
            Trust::Pin(pin) => {
                if key.fingerprint(pin.algorithm()) == *pin {
                    return Ok(());
                }
                Err(format!(
                    "host key changed: {address} presented {presented}, but host_key pins {pin}"
                ))
            }
            Trust::KnownHosts {
                path: file,
                entries,
            } => {
                let path = file.display();
                let with = |marker: Marker| entries.iter().filter(move |e| e.marker == marker);
                if let Some(revoked) = with(Marker::Revoked).find(|e| same_key(&e.key, key)) {
                    return Err(format!(
                        "host key revoked: {address} presented {presented}, which known_hosts \
                         {path} marks @revoked (line {})",
                        revoked.line
                    ));
                }
                let plain: Vec<&Entry> = with(Marker::Plain).collect();
                if plain.iter().any(|e| same_key(&e.key, key)) {
                    return Ok(());
                }
                let authorities: Vec<&Entry> = with(Marker::CertAuthority).collect();
                if plain.is_empty() && !authorities.is_empty() {
                    return Err(format!(
                        "host certificates are not supported: known_hosts {path} knows {address} \
                         only by @cert-authority {}, and it presented a plain {presented}. Add \
                         the host's key to known_hosts or pin it with `host_key`",
                        lines(&authorities)
                    ));
                }
                if plain.is_empty() {
                    let missing = if file.exists() {
                        ""
                    } else {
                        " (the file does not exist)"
                    };
                    return Err(format!(
                        "{address} is not in known_hosts {path}{missing}; it presented \
                         {presented}. Check that fingerprint with the host's administrator, then \
                         add the key to known_hosts or pin it with `host_key`"
                    ));
                }
                let expected: Vec<String> = plain
                    .iter()
                    .map(|e| {
                        format!(
                            "{} key {} (line {})",
                            e.key.algorithm().as_str(),
                            e.key.fingerprint(HashAlg::Sha256),
                            e.line
                        )
                    })
                    .collect();
                Err(format!(
                    "host key changed: known_hosts {path} expects {} for {address}, but it \
                     presented {presented}",
                    expected.join(" or ")
                ))
            }
        }
    }
}

/// The same key material (a comment or RSA signature hash does not count).
fn same_key(a: &PublicKey, b: &PublicKey) -> bool {
    a.key_data() == b.key_data()
}

/// "line 3" or "lines 3, 7".
fn lines(entries: &[&Entry]) -> String {
    let numbers: Vec<String> = entries.iter().map(|e| e.line.to_string()).collect();
    let plural = if numbers.len() == 1 { "" } else { "s" };
    format!("line{plural} {}", numbers.join(", "))
}

/// RSA keys sign with any of the RSA algorithms; other kinds must match exactly.
fn same_kind(a: &Algorithm, b: &Algorithm) -> bool {
    let rsa = |x: &Algorithm| matches!(x, Algorithm::Rsa { .. });
    (rsa(a) && rsa(b)) || a == b
}

/// The russh handler of one hop: checks the host key, nothing else.
pub(super) struct Verifier {
    pub hop: Endpoint,
    pub trust: Trust,
}

impl client::Handler for Verifier {
    type Error = HandshakeError;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, HandshakeError> {
        // No certificate algorithm is offered, so a server presents a plain key; were it a
        // certificate, only the key it certifies would be checked (no CA is trusted).
        self.trust
            .verify(&self.hop, &key.public_key())
            .map(|()| true)
            .map_err(HandshakeError::HostKey)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use russh::keys::parse_public_key_base64;

    const A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";
    const B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAILIG2T/B0l0gaqj3puu510tu9N1OkQ4znY3LYuEm5zCF";

    fn hop(host: &str, port: u16) -> Endpoint {
        Endpoint {
            user: "root".into(),
            host: host.into(),
            port,
        }
    }

    fn known_hosts(lines: &[&str]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
        f
    }

    #[test]
    fn known_hosts_with_port_and_hashed_entries() {
        let a = parse_public_key_base64(A).unwrap();
        let b = parse_public_key_base64(B).unwrap();
        let f = known_hosts(&[
            &format!("[lab1]:2222 ssh-ed25519 {A}"),
            // `example.com` hashed, as `ssh-keygen -H` writes it.
            &format!(
                "|1|O33ESRMWPVkMYIwJ1Uw+n877jTo=|nuuC5vEqXlEZ/8BXQR7m619W6Ak= ssh-ed25519 {B}"
            ),
        ]);
        let ok = |h: &Endpoint, k: &PublicKey| Trust::load(None, f.path(), h).unwrap().verify(h, k);
        assert!(ok(&hop("lab1", 2222), &a).is_ok());
        assert!(ok(&hop("example.com", 22), &b).is_ok());
        let changed = ok(&hop("lab1", 2222), &b).unwrap_err();
        assert!(changed.starts_with("host key changed"), "{changed}");
        assert!(
            changed.contains(&a.fingerprint(HashAlg::Sha256).to_string()),
            "{changed}"
        );
        assert!(
            changed.contains(&b.fingerprint(HashAlg::Sha256).to_string()),
            "{changed}"
        );
        // Port 22 is the bare name: `[lab1]:2222` says nothing about lab1:22.
        let unknown = ok(&hop("lab1", 22), &a).unwrap_err();
        assert!(
            unknown.contains("lab1:22 is not in known_hosts"),
            "{unknown}"
        );
        assert!(
            unknown.contains(&a.fingerprint(HashAlg::Sha256).to_string()),
            "{unknown}"
        );
    }

    /// `verify` of `key` for `host:port` against a file of `lines`.
    fn check(lines: &[String], host: &str, port: u16, key: &str) -> Result<(), String> {
        let f = known_hosts(&lines.iter().map(String::as_str).collect::<Vec<_>>());
        let h = hop(host, port);
        let key = parse_public_key_base64(key).unwrap();
        Trust::load(None, f.path(), &h).unwrap().verify(&h, &key)
    }

    fn fp(key: &str) -> String {
        parse_public_key_base64(key)
            .unwrap()
            .fingerprint(HashAlg::Sha256)
            .to_string()
    }

    #[test]
    fn a_revoked_key_is_refused_whatever_else_lists_it() {
        let lines = [
            format!("lab1 ssh-ed25519 {A}"),
            format!("@revoked lab1,lab2 ssh-ed25519 {A} compromised"),
        ];
        let e = check(&lines, "lab1", 22, A).unwrap_err();
        assert!(e.starts_with("host key revoked"), "{e}");
        assert!(
            e.contains("@revoked (line 2)") && e.contains(&fp(A)) && e.contains("lab1:22"),
            "{e}"
        );
        // Revoked and not otherwise listed: still revoked, not "unknown".
        let e = check(&lines, "lab2", 22, A).unwrap_err();
        assert!(e.starts_with("host key revoked"), "{e}");
        // A revocation for another host says nothing about this one.
        let lines = [
            format!("@revoked other ssh-ed25519 {A}"),
            format!("lab1 ssh-ed25519 {A}"),
        ];
        assert_eq!(check(&lines, "lab1", 22, A), Ok(()));
    }

    #[test]
    fn a_revoked_other_key_leaves_the_right_key_accepted() {
        let lines = [
            format!("@revoked * ssh-ed25519 {B}"),
            format!("lab1 ssh-ed25519 {A}"),
        ];
        assert_eq!(check(&lines, "lab1", 22, A), Ok(()));
        let e = check(&lines, "lab1", 22, B).unwrap_err();
        assert!(
            e.starts_with("host key revoked") && e.contains(&fp(B)),
            "{e}"
        );
        // The revoked key's kind is not what the server is asked for first.
        let rsa = "AAAAB3NzaC1yc2EAAAADAQABAAAAgQCjC4U++1alihu1UpYB9c0Qpl7CdZySpXOAU6FvuvPjvNHs3kd2ohxkpD9N+e41Xrx08M4mvUBNUMThOtDHHZLJq7GPpmGO37mXQ4ExoIRVLQqD4F8TKd+EsggBsS7re6G1MA/Ew5Ckp180Owzi8y1jMpRv4ZQSuSR/7Ar+KvrLCQ==";
        let f = known_hosts(&[
            &format!("@revoked h ssh-rsa {rsa}"),
            &format!("h ssh-ed25519 {A}"),
        ]);
        let order = Trust::load(None, f.path(), &hop("h", 22))
            .unwrap()
            .preferred();
        assert_eq!(order[0], Algorithm::Ed25519, "{order:?}");
    }

    #[test]
    fn cert_authority_lines_alone_refuse_a_plain_key_saying_why() {
        let lines = [
            format!("@cert-authority *.lab ssh-ed25519 {B}"),
            format!("@cert-authority lab1.lab ssh-ed25519 {A}"),
            format!("other.lab ssh-ed25519 {A}"),
        ];
        // Even the CA's own key, presented as a plain host key, is not accepted.
        for key in [A, B] {
            let e = check(&lines, "lab1.lab", 22, key).unwrap_err();
            assert!(e.starts_with("host certificates are not supported"), "{e}");
            assert!(
                e.contains("@cert-authority lines 1, 2") && e.contains(&fp(key)),
                "{e}"
            );
        }
        // A plain entry for the host makes it an ordinary changed key.
        let e = check(&lines, "other.lab", 22, B).unwrap_err();
        assert!(e.starts_with("host key changed"), "{e}");
        assert_eq!(check(&lines, "other.lab", 22, A), Ok(()));
    }

    #[test]
    fn markers_on_hashed_and_port_entries() {
        // `example.com` hashed, as `ssh-keygen -H` writes it.
        let hashed = "|1|O33ESRMWPVkMYIwJ1Uw+n877jTo=|nuuC5vEqXlEZ/8BXQR7m619W6Ak=";
        let lines = [
            format!("@revoked [lab1]:2222 ssh-ed25519 {A}"),
            format!("[lab1]:2222,lab1 ssh-ed25519 {A}"),
            format!("@revoked {hashed} ssh-ed25519 {B}"),
            format!("{hashed} ssh-ed25519 {B}"),
            format!("@cert-authority\t[ca.lab]:2200\tssh-ed25519 {B}"),
        ];
        let e = check(&lines, "lab1", 2222, A).unwrap_err();
        assert!(e.contains("revoked") && e.contains("line 1"), "{e}");
        assert_eq!(check(&lines, "lab1", 22, A), Ok(()));
        let e = check(&lines, "example.com", 22, B).unwrap_err();
        assert!(e.contains("revoked") && e.contains("line 3"), "{e}");
        let e = check(&lines, "ca.lab", 2200, A).unwrap_err();
        assert!(e.contains("host certificates are not supported"), "{e}");
        let e = check(&lines, "ca.lab", 22, A).unwrap_err();
        assert!(e.contains("is not in known_hosts"), "{e}");
    }

    #[test]
    fn pins() {
        let a = parse_public_key_base64(A).unwrap();
        let b = parse_public_key_base64(B).unwrap();
        let h = hop("lab1", 22);
        let pin = Trust::Pin(a.fingerprint(HashAlg::Sha256));
        assert!(pin.verify(&h, &a).is_ok());
        let e = pin.verify(&h, &b).unwrap_err();
        assert!(
            e.starts_with("host key changed") && e.contains("pins"),
            "{e}"
        );
    }

    #[test]
    fn known_algorithms_are_offered_first() {
        let rsa = "AAAAB3NzaC1yc2EAAAADAQABAAAAgQCjC4U++1alihu1UpYB9c0Qpl7CdZySpXOAU6FvuvPjvNHs3kd2ohxkpD9N+e41Xrx08M4mvUBNUMThOtDHHZLJq7GPpmGO37mXQ4ExoIRVLQqD4F8TKd+EsggBsS7re6G1MA/Ew5Ckp180Owzi8y1jMpRv4ZQSuSR/7Ar+KvrLCQ==";
        let f = known_hosts(&[&format!("h ssh-rsa {rsa}")]);
        let t = Trust::load(None, f.path(), &hop("h", 22)).unwrap();
        let order = t.preferred();
        assert!(
            order[..2]
                .iter()
                .all(|a| matches!(a, Algorithm::Rsa { .. })),
            "{order:?}"
        );
        assert_eq!(order.len(), russh::Preferred::DEFAULT.key.len());
    }
}
