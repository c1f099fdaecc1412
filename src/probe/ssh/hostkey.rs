//! Host key verification, before anything is sent: the key must match a pinned fingerprint,
//! else an entry for `host` / `[host]:port` in `known_hosts` (hashed `|1|` entries too).
//! An unknown or changed key ends the handshake; there is no accept-any mode.

use std::path::{Path, PathBuf};

use russh::client;
use russh::keys::known_hosts::known_host_keys_path;
use russh::keys::ssh_key::Fingerprint;
use russh::keys::{Algorithm, HashAlg, PublicKey, PublicKeyOrCertificate};

use super::error::{HandshakeError, Reason, fail};
use super::target::Endpoint;
use crate::probe::ProbeError;

/// What a hop's key is checked against.
pub(super) enum Trust {
    Pin(Fingerprint),
    KnownHosts {
        path: PathBuf,
        /// Keys recorded for this host, with their line numbers.
        recorded: Vec<(usize, PublicKey)>,
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
        let recorded = known_host_keys_path(&hop.host, hop.port, known_hosts).map_err(|e| {
            fail(
                Reason::HostKey,
                format!("cannot read known_hosts {}: {e}", known_hosts.display()),
            )
        })?;
        Ok(Trust::KnownHosts {
            path: known_hosts.to_path_buf(),
            recorded,
        })
    }

    /// Host key algorithms in the order to offer them: those `known_hosts` has a key of
    /// first, so a server with several host keys presents the one we can check (as OpenSSH
    /// does).
    pub(super) fn preferred(&self) -> Vec<Algorithm> {
        let all = russh::Preferred::DEFAULT.key.to_vec();
        let Trust::KnownHosts { recorded, .. } = self else {
            return all;
        };
        let known = |a: &Algorithm| recorded.iter().any(|(_, k)| same_kind(&k.algorithm(), a));
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
            Trust::KnownHosts { path, recorded } => {
                if recorded.iter().any(|(_, k)| k.key_data() == key.key_data()) {
                    return Ok(());
                }
                if recorded.is_empty() {
                    let missing = if path.exists() {
                        ""
                    } else {
                        " (the file does not exist)"
                    };
                    return Err(format!(
                        "{address} is not in known_hosts {}{missing}; it presented {presented}. \
                         Check that fingerprint with the host's administrator, then add the key \
                         to known_hosts or pin it with `host_key`",
                        path.display()
                    ));
                }
                let expected: Vec<String> = recorded
                    .iter()
                    .map(|(line, k)| {
                        format!(
                            "{} key {} (line {line})",
                            k.algorithm().as_str(),
                            k.fingerprint(HashAlg::Sha256)
                        )
                    })
                    .collect();
                Err(format!(
                    "host key changed: known_hosts {} expects {} for {address}, but it \
                     presented {presented}",
                    path.display(),
                    expected.join(" or ")
                ))
            }
        }
    }
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
        // A certificate is checked by the key it certifies (no CA trust is configured).
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
