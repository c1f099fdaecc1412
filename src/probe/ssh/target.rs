//! What a spec asks for, read once: the hops to the host (jump hosts outermost first, then
//! the host itself), how to log in, and how to trust host keys. That part is a [`Route`],
//! the key of the pool's connections; the command runs on whatever connection it names.

use std::fmt;
use std::path::{Path, PathBuf};

use russh::keys::ssh_key::Fingerprint;

use super::error::{Reason, fail};
use crate::model::probe::Ssh;
use crate::probe::ProbeError;

/// A check: the command line and the connection it runs on.
pub(super) struct Target {
    pub route: Route,
    /// What the remote login shell runs: `command` as written, or `argv` quoted word by word.
    pub command: String,
}

/// Everything that makes a connection distinct. Two checks with equal routes share one.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct Route {
    /// Jump hosts, outermost first, then the host the command runs on.
    pub hops: Vec<Endpoint>,
    /// Private key file; without one the ssh-agent is asked.
    pub identity: Option<PathBuf>,
    pub passphrase: Option<String>,
    /// Pinned fingerprint of the final host's key (jump hosts always use `known_hosts`).
    pub pin: Option<Fingerprint>,
    pub known_hosts: PathBuf,
}

/// One SSH server on the way, and the user to log in as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Endpoint {
    pub user: String,
    pub host: String,
    pub port: u16,
}

impl Route {
    /// The host the command runs on.
    pub(super) fn host(&self) -> &Endpoint {
        // `from_spec` always pushes the target host last.
        &self.hops[self.hops.len() - 1]
    }
}

// By hand: the passphrase must never reach a log line.
impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("hops", &self.hops)
            .field("identity", &self.identity)
            .field("passphrase", &self.passphrase.as_ref().map(|_| "***"))
            .field("pin", &self.pin.map(|p| p.to_string()))
            .field("known_hosts", &self.known_hosts)
            .finish()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.user, self.address())
    }
}

impl Endpoint {
    /// `host:port`, with an IPv6 address in brackets.
    pub(super) fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl Target {
    /// Reads a rendered spec; a value that cannot work is a `usage` error.
    pub(super) fn from_spec(spec: &Ssh) -> Result<Target, ProbeError> {
        let user = spec.user.clone().unwrap_or_else(default_user);
        let port = match &spec.port {
            None => 22,
            Some(p) => p.port().ok_or_else(|| {
                usage(format!(
                    "ssh port must be a number from 1 to 65535, got {}",
                    p.shown()
                ))
            })?,
        };
        let host = spec.host.trim();
        if host.is_empty() {
            return Err(usage("ssh host is empty".into()));
        }
        let mut hops = spec
            .jump
            .iter()
            .map(|j| jump(j))
            .collect::<Result<Vec<_>, _>>()?;
        hops.push(Endpoint {
            user,
            host: unbracket(host).to_string(),
            port,
        });
        let pin = match &spec.host_key {
            None => None,
            Some(p) => Some(p.trim().trim_end_matches('=').parse().map_err(|_| {
                usage(format!(
                    "host_key must be a fingerprint like `SHA256:<base64>` as `ssh-keygen -lf` \
                     prints it, got {p:?}"
                ))
            })?),
        };
        let known_hosts = match &spec.known_hosts {
            Some(path) => expand(path),
            None => home().join(".ssh").join("known_hosts"),
        };
        Ok(Target {
            route: Route {
                hops,
                identity: spec.identity.as_deref().map(expand),
                passphrase: spec.passphrase.clone(),
                pin,
                known_hosts,
            },
            command: command_line(spec)?,
        })
    }
}

/// The line the remote login shell runs. OpenSSH always hands an exec request to the user's
/// shell (`$SHELL -c LINE`), so `argv` is quoted for it, element by element.
fn command_line(spec: &Ssh) -> Result<String, ProbeError> {
    match (&spec.command, &spec.argv) {
        (Some(line), None) => Ok(line.clone()),
        (None, Some(argv)) if argv.is_empty() => Err(usage("ssh argv is empty".into())),
        (None, Some(argv)) => crate::shell::join(argv).map_err(|e| {
            let i = argv
                .iter()
                .position(|a| a.contains('\0'))
                .unwrap_or_default();
            usage(format!("ssh argv element {i} {e}"))
        }),
        _ => Err(usage(
            "an ssh probe needs exactly one of `command` or `argv`".into(),
        )),
    }
}

/// `user@host:port`, `host:port`, `host`, `[v6]:port`; user and port are optional.
fn jump(text: &str) -> Result<Endpoint, ProbeError> {
    let bad = |why: &str| {
        usage(format!(
            "jump host {text:?} {why}; expected `user@host:port`"
        ))
    };
    let text = text.trim();
    let (user, rest) = match text.rsplit_once('@') {
        Some((u, r)) if !u.is_empty() => (u.to_string(), r),
        Some(_) => return Err(bad("has an empty user")),
        None => (default_user(), text),
    };
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| bad("has an unclosed `[`"))?;
        match after {
            "" => (host, None),
            p => (
                host,
                Some(p.strip_prefix(':').ok_or_else(|| bad("is malformed"))?),
            ),
        }
    } else {
        match rest.split_once(':') {
            // A bare IPv6 address has several colons and no port.
            Some((h, p)) if !p.contains(':') => (h, Some(p)),
            _ => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    let port = match port {
        None => 22,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&n| n != 0)
            .ok_or_else(|| bad("has a bad port"))?,
    };
    Ok(Endpoint {
        user,
        host: host.to_string(),
        port,
    })
}

fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The login name when the spec gives none: `$USER`, else `root`.
fn default_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".into())
}

fn home() -> PathBuf {
    std::env::home_dir().unwrap_or_else(|| PathBuf::from("/root"))
}

/// A leading `~/` is the home directory, as in OpenSSH's own options.
fn expand(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => home().join(rest),
        None => Path::new(path).to_path_buf(),
    }
}

fn usage(message: String) -> ProbeError {
    fail(Reason::Usage, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::shapes::IntOrTemplate;

    fn spec(host: &str) -> Ssh {
        Ssh {
            host: host.into(),
            port: None,
            user: Some("ops".into()),
            command: Some("true".into()),
            argv: None,
            identity: None,
            passphrase: None,
            jump: vec![],
            host_key: None,
            known_hosts: Some("/kh".into()),
        }
    }

    #[test]
    fn jump_forms() {
        let j = jump("alice@bastion:2200").unwrap();
        assert_eq!(
            (j.user.as_str(), j.host.as_str(), j.port),
            ("alice", "bastion", 2200)
        );
        let j = jump("bastion").unwrap();
        assert_eq!((j.host.as_str(), j.port), ("bastion", 22));
        let j = jump("bob@[fd00::1]:2222").unwrap();
        assert_eq!(
            (j.user.as_str(), j.host.as_str(), j.port),
            ("bob", "fd00::1", 2222)
        );
        let j = jump("fd00::1").unwrap();
        assert_eq!((j.host.as_str(), j.port), ("fd00::1", 22));
        assert_eq!(j.address(), "[fd00::1]:22");
        for bad in ["@h", "u@", "h:0", "h:x", "[::1", "[::1]x"] {
            assert_eq!(jump(bad).unwrap_err().reason, "usage", "{bad}");
        }
    }

    #[test]
    fn argv_is_quoted_word_by_word() {
        let mut s = spec("h");
        s.command = None;
        s.argv = Some(vec!["printf".into(), "[%s]".into(), "a'b; touch x".into()]);
        assert_eq!(
            Target::from_spec(&s).unwrap().command,
            "'printf' '[%s]' 'a'\\''b; touch x'"
        );
        s.argv = Some(vec!["echo".into(), "a\0b".into()]);
        let e = Target::from_spec(&s).err().unwrap();
        assert_eq!(e.reason, "usage");
        assert!(
            e.message.contains("element 1") && e.message.contains("NUL"),
            "{}",
            e.message
        );
        for (command, argv) in [
            (None, None),
            (Some("true".into()), Some(vec!["true".into()])),
        ] {
            s.command = command;
            s.argv = argv;
            assert_eq!(Target::from_spec(&s).err().unwrap().reason, "usage");
        }
        s.command = None;
        s.argv = Some(vec![]);
        assert_eq!(Target::from_spec(&s).err().unwrap().reason, "usage");
    }

    #[test]
    fn ports() {
        let mut s = spec("h");
        s.port = Some(IntOrTemplate::Template("2222".into()));
        assert_eq!(Target::from_spec(&s).unwrap().route.host().port, 2222);
        s.port = Some(IntOrTemplate::Template("ssh".into()));
        let e = Target::from_spec(&s).err().unwrap();
        assert_eq!(e.reason, "usage");
        assert!(e.message.contains("\"ssh\""), "{}", e.message);
        s.port = Some(IntOrTemplate::Int(70000));
        assert_eq!(Target::from_spec(&s).err().unwrap().reason, "usage");
    }

    #[test]
    fn hops_end_with_the_host_and_pins_parse() {
        let mut s = spec("[fd00::2]");
        s.jump = vec!["a@j1".into(), "j2:2022".into()];
        s.host_key = Some("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU".into());
        let t = Target::from_spec(&s).unwrap();
        let hosts: Vec<_> = t.route.hops.iter().map(|h| h.host.as_str()).collect();
        assert_eq!(hosts, ["j1", "j2", "fd00::2"]);
        assert_eq!(t.route.host().to_string(), "ops@[fd00::2]:22");
        assert!(t.route.pin.is_some());
        s.host_key = Some("MD5:aa:bb".into());
        assert_eq!(Target::from_spec(&s).err().unwrap().reason, "usage");
    }

    #[test]
    fn debug_hides_the_passphrase() {
        let mut s = spec("h");
        s.passphrase = Some("hunter2".into());
        let shown = format!("{:?}", Target::from_spec(&s).unwrap().route);
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
