//! Detached ed25519 signatures over a manifest's exact bytes. Key files hold one line:
//! `labcert-ed25519-secret <hex seed>` or `labcert-ed25519-public <hex key>`; a signature
//! file (`<manifest>.sig`) holds `labcert-ed25519-signature <hex>`.

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

const SECRET: &str = "labcert-ed25519-secret";
const PUBLIC: &str = "labcert-ed25519-public";
const SIG: &str = "labcert-ed25519-signature";

/// Where the signature of `manifest` lives.
pub fn sig_path(manifest: &Path) -> PathBuf {
    let mut p = manifest.as_os_str().to_owned();
    p.push(".sig");
    PathBuf::from(p)
}

/// Makes a key pair: `path` (secret, mode 0600) and `path.pub`.
pub fn keygen(path: &Path) -> Result<PathBuf, String> {
    let mut seed = [0u8; 32];
    let mut f = std::fs::File::open("/dev/urandom").map_err(|e| format!("/dev/urandom: {e}"))?;
    std::io::Read::read_exact(&mut f, &mut seed).map_err(|e| format!("/dev/urandom: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    if path.exists() {
        return Err(format!("{} exists; not overwriting a key", path.display()));
    }
    let public = path.with_extension(match path.extension() {
        Some(e) => format!("{}.pub", e.to_string_lossy()),
        None => "pub".into(),
    });
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        writeln!(f, "{SECRET} {}", hex(&seed)).map_err(|e| e.to_string())?;
    }
    std::fs::write(
        &public,
        format!("{PUBLIC} {}\n", hex(key.verifying_key().as_bytes())),
    )
    .map_err(|e| format!("{}: {e}", public.display()))?;
    Ok(public)
}

/// Signs `bytes` with the secret key in `key_file`; returns the signature file's text.
pub fn sign(key_file: &Path, bytes: &[u8]) -> Result<String, String> {
    let seed: [u8; 32] = read_key(key_file, SECRET)?;
    let key = SigningKey::from_bytes(&seed);
    Ok(format!("{SIG} {}\n", hex(&key.sign(bytes).to_bytes())))
}

/// Checks the signature in `sig_text` over `bytes` against the public key in `pub_file`.
pub fn verify(pub_file: &Path, bytes: &[u8], sig_text: &str) -> Result<(), String> {
    let public: [u8; 32] = read_key(pub_file, PUBLIC)?;
    let key = VerifyingKey::from_bytes(&public)
        .map_err(|e| format!("{}: not an ed25519 public key: {e}", pub_file.display()))?;
    let raw = sig_text
        .trim()
        .strip_prefix(SIG)
        .map(str::trim)
        .ok_or_else(|| "the signature file is not a labcert signature".to_string())?;
    let sig: [u8; 64] = unhex(raw)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| "the signature is not 64 hex bytes".to_string())?;
    key.verify(bytes, &Signature::from_bytes(&sig))
        .map_err(|_| "the signature does not match: the manifest changed after signing, or another key signed it".into())
}

fn read_key<const N: usize>(path: &Path, kind: &str) -> Result<[u8; N], String> {
    let text = crate::workspace::read_text(path).map_err(|d| d.message)?;
    let raw = text
        .trim()
        .strip_prefix(kind)
        .map(str::trim)
        .ok_or_else(|| format!("{}: not a {kind} key file", path.display()))?;
    unhex(raw)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| format!("{}: the key is not {N} hex bytes", path.display()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify_and_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        let public = keygen(&key).unwrap();
        let sig = sign(&key, b"manifest bytes").unwrap();
        verify(&public, b"manifest bytes", &sig).unwrap();
        assert!(verify(&public, b"manifest bytez", &sig).is_err());
        let other = dir.path().join("o");
        let other_pub = keygen(&other).unwrap();
        assert!(verify(&other_pub, b"manifest bytes", &sig).is_err());
        assert!(keygen(&key).is_err(), "never overwrites a key");
    }
}
