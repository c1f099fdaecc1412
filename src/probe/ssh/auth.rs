//! Logging in with a public key: the `identity` file (decrypted with the passphrase when it
//! is encrypted), else each key the ssh-agent holds. Every failure here is `auth`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use russh::client::{AuthResult, Handle};
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, decode_secret_key};

use super::error::{self, Reason, fail};
use super::hostkey::Verifier;
use super::target::{Endpoint, Route};
use crate::probe::ProbeError;

/// What the client proves its identity with, on every hop.
pub(super) enum Credentials {
    Key { key: Arc<PrivateKey>, path: PathBuf },
    Agent(PathBuf),
}

impl Credentials {
    /// The route's identity file, read and decrypted now, else the agent socket.
    pub(super) async fn load(
        route: &Route,
        agent: Option<&Path>,
    ) -> Result<Credentials, ProbeError> {
        match (&route.identity, agent) {
            (Some(path), _) => {
                let key = read_key(path.clone(), route.passphrase.clone()).await?;
                Ok(Credentials::Key {
                    key: Arc::new(key),
                    path: path.clone(),
                })
            }
            (None, Some(socket)) => Ok(Credentials::Agent(socket.to_path_buf())),
            (None, None) => Err(fail(
                Reason::Auth,
                "no `identity` is given and no ssh-agent is available (SSH_AUTH_SOCK is not \
                 set)"
                    .into(),
            )),
        }
    }
}

/// Reads a private key (OpenSSH, PEM or PKCS#8). Decrypting runs a deliberately slow KDF,
/// so it runs off the async threads.
async fn read_key(path: PathBuf, passphrase: Option<String>) -> Result<PrivateKey, ProbeError> {
    let shown = path.display().to_string();
    let decoded = tokio::task::spawn_blocking(move || {
        // A key the runner cannot read is the runner's problem (`identity`), never the
        // host's: catalogs that treat `auth` as a finding must not blame the host for it.
        let text = std::fs::read_to_string(&path).map_err(|e| {
            (
                Reason::Identity,
                format!("cannot read identity {shown}: {e}"),
            )
        })?;
        match decode_secret_key(&text, None) {
            Err(russh::keys::Error::KeyIsEncrypted) => match passphrase {
                None => Err((
                    Reason::Auth,
                    format!("identity {shown} is encrypted and the check gives no passphrase"),
                )),
                Some(p) => decode_secret_key(&text, Some(&p)).map_err(|e| {
                    (
                        Reason::Auth,
                        format!("cannot decrypt identity {shown}: wrong passphrase? ({e})"),
                    )
                }),
            },
            other => other.map_err(|e| {
                (
                    Reason::Identity,
                    format!("cannot read identity {shown}: {e}"),
                )
            }),
        }
    })
    .await;
    match decoded {
        Ok(Ok(key)) => Ok(key),
        Ok(Err((reason, message))) => Err(fail(reason, message)),
        Err(e) => Err(fail(Reason::Auth, format!("reading an identity: {e}"))),
    }
}

/// Logs in to `hop` on an established, verified session.
pub(super) async fn login(
    handle: &mut Handle<Verifier>,
    hop: &Endpoint,
    creds: &Credentials,
) -> Result<(), ProbeError> {
    let doing = format!("logging in to {hop}");
    match creds {
        Credentials::Key { key, path } => {
            let hash = rsa_hash(handle, key.algorithm().is_rsa()).await;
            let signed = PrivateKeyWithHashAlg::new(key.clone(), hash);
            let result = handle
                .authenticate_publickey(hop.user.clone(), signed)
                .await
                .map_err(|e| error::ssh(e, &doing))?;
            if result.success() {
                return Ok(());
            }
            closed(handle, &doing)?;
            Err(fail(
                Reason::Auth,
                format!(
                    "{hop} rejected identity {} ({} {})",
                    path.display(),
                    key.algorithm().as_str(),
                    key.public_key().fingerprint(HashAlg::Sha256)
                ),
            ))
        }
        Credentials::Agent(socket) => {
            let agent_error = |e: russh::keys::Error| {
                fail(
                    Reason::Auth,
                    format!("ssh-agent at {}: {e}", socket.display()),
                )
            };
            let mut agent = AgentClient::connect_uds(socket)
                .await
                .map_err(agent_error)?;
            if let Some(binding) = handle.agent_session_binding() {
                // Needed for destination-constrained keys; older agents refuse it harmlessly.
                let _ = agent.bind_session(binding, false).await;
            }
            let identities = agent.request_identities().await.map_err(agent_error)?;
            if identities.is_empty() {
                return Err(fail(
                    Reason::Auth,
                    format!("the ssh-agent at {} holds no keys", socket.display()),
                ));
            }
            for identity in &identities {
                let key = identity.public_key().into_owned();
                let hash = rsa_hash(handle, key.algorithm().is_rsa()).await;
                let result = handle
                    .authenticate_publickey_with(hop.user.clone(), key, hash, &mut agent)
                    .await;
                if let Ok(AuthResult::Success) = result {
                    return Ok(());
                }
                closed(handle, &doing)?;
            }
            Err(fail(
                Reason::Auth,
                format!(
                    "{hop} rejected all {} keys of the ssh-agent at {}",
                    identities.len(),
                    socket.display()
                ),
            ))
        }
    }
}

/// A server that hangs up after rejecting a key (e.g. past `MaxAuthTries`) ends the login.
fn closed(handle: &Handle<Verifier>, doing: &str) -> Result<(), ProbeError> {
    if handle.is_closed() {
        return Err(fail(
            Reason::Auth,
            format!("{doing}: the server closed the connection after rejecting a key"),
        ));
    }
    Ok(())
}

/// For RSA: the best hash the server accepts (`rsa-sha2-512`/`-256`, from its
/// `server-sig-algs`), `rsa-sha2-256` when it does not say.
async fn rsa_hash(handle: &Handle<Verifier>, rsa: bool) -> Option<HashAlg> {
    if !rsa {
        return None;
    }
    match handle.best_supported_rsa_hash().await {
        Ok(Some(hash)) => hash,
        _ => Some(HashAlg::Sha256),
    }
}
