//! Certificate pinning: trust exactly one server certificate, named by the SHA-256 of its DER.
//!
//! Proxmox VE and similar appliances use self-signed certificates; the operator pins the
//! fingerprint the web UI shows (`AB:CD:…`). Name, chain and expiry are not checked — the
//! pin *is* the trust decision — but the handshake signatures are verified by the crypto
//! provider as usual, so the server must hold the pinned certificate's private key.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, OtherError, SignatureScheme};
use sha2::{Digest, Sha256};

/// A SHA-256 certificate fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub(super) fn of(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }

    /// Parses colon hex (`AB:CD:…`, as Proxmox shows it) or plain hex, in either case.
    pub(super) fn parse(text: &str) -> Result<Fingerprint, String> {
        let hex: String = text.trim().chars().filter(|c| *c != ':').collect();
        let bad = || format!("`{text}` is not a SHA-256 fingerprint (64 hex digits, `AB:CD:…`)");
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Fingerprint(out))
    }
}

impl fmt::Display for Fingerprint {
    /// Upper-case colon hex, as Proxmox VE shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// The server presented a certificate other than the pinned one.
#[derive(Debug)]
pub(super) struct PinMismatch {
    pub expected: Fingerprint,
    pub presented: Fingerprint,
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "certificate fingerprint mismatch: expected {}, server presented {}",
            self.expected, self.presented
        )
    }
}

impl std::error::Error for PinMismatch {}

/// Accepts exactly the pinned end-entity certificate; verifies handshake signatures normally.
#[derive(Debug)]
pub(super) struct PinnedCert {
    expected: Fingerprint,
    provider: Arc<CryptoProvider>,
}

impl PinnedCert {
    pub(super) fn new(expected: Fingerprint, provider: Arc<CryptoProvider>) -> PinnedCert {
        PinnedCert { expected, provider }
    }
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let presented = Fingerprint::of(end_entity);
        if presented == self.expected {
            return Ok(ServerCertVerified::assertion());
        }
        let mismatch = PinMismatch {
            expected: self.expected,
            presented,
        };
        Err(Error::InvalidCertificate(CertificateError::Other(
            OtherError(Arc::new(mismatch)),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls client configuration trusting only the pinned certificate, offering h2 and
/// HTTP/1.1 via ALPN.
pub(super) fn client_config(expected: Fingerprint) -> Result<rustls::ClientConfig, Error> {
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let verifier = Arc::new(PinnedCert::new(expected, provider.clone()));
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_colon_and_plain_hex_in_either_case() {
        let colon = "ab:CD:".repeat(16);
        let colon = colon.trim_end_matches(':');
        let a = Fingerprint::parse(colon).unwrap();
        let b = Fingerprint::parse(&"ABcd".repeat(16)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "AB:CD:".repeat(16).trim_end_matches(':'));
    }

    #[test]
    fn rejects_wrong_length_and_non_hex() {
        assert!(Fingerprint::parse("AB:CD").is_err());
        assert!(Fingerprint::parse(&"zz".repeat(32)).is_err());
        assert!(Fingerprint::parse(&"é".repeat(32)).is_err());
    }
}
