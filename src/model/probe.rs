//! Probes: how a check observes. One kind per probe, or `use` of a catalog's probe template.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::duration::Duration;
use super::shapes::{IntOrTemplate, OneOrMany, Retry};

/// An HTTP(S) request.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// GET (default), POST, PUT, DELETE, HEAD, PATCH, or a template.
    pub method: Option<String>,
    pub url: String,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Query-string parameters.
    #[serde(default)]
    pub query: IndexMap<String, String>,
    /// A JSON request body.
    pub json: Option<Value>,
    /// A form body (`application/x-www-form-urlencoded`): a table, or a template rendering to one.
    pub form: Option<Value>,
    /// A raw text body.
    pub body: Option<String>,
    pub tls: Option<Tls>,
}

/// How the server's certificate is trusted. Default: the system roots.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM file of the CA that signed the server certificate.
    pub ca_file: Option<String>,
    /// SHA-256 fingerprint of the server certificate (colon hex, as Proxmox VE shows it).
    pub fingerprint: Option<String>,
}

/// A local program. `argv` runs without a shell; `shell` runs through `sh -c`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Command {
    pub argv: Option<Vec<String>>,
    pub shell: Option<String>,
    #[serde(default)]
    pub env: IndexMap<String, String>,
    pub stdin: Option<String>,
    pub cwd: Option<String>,
}

/// A command on a remote host over SSH: exactly one of `command` or `argv`. Host keys are
/// always verified.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ssh {
    pub host: String,
    pub port: Option<IntOrTemplate>,
    pub user: Option<String>,
    /// A command line for the remote login shell, run as written: a value templated into it
    /// needs `| shquote`, or it runs as shell code.
    pub command: Option<String>,
    /// The program and its arguments: labcert quotes each element for the remote shell, so
    /// each arrives as exactly one argument whatever it holds; an element that renders to a
    /// list becomes several.
    pub argv: Option<Vec<String>>,
    /// Private key file path (a template; the key itself never enters the catalog).
    pub identity: Option<String>,
    /// Passphrase of the key: a secret reference (`env:`, `file:`, `command:`) or `{{ secrets.x }}`.
    pub passphrase: Option<String>,
    /// Hosts to jump through, outermost first (`user@host:port`).
    #[serde(default)]
    pub jump: Vec<String>,
    /// Pinned host key fingerprint (`SHA256:…`); otherwise `known_hosts` is used.
    pub host_key: Option<String>,
    pub known_hosts: Option<String>,
}

/// A TCP connection, optionally sending a line and expecting a banner.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tcp {
    pub host: String,
    pub port: IntOrTemplate,
    pub send: Option<String>,
    /// Regular expression the banner must match.
    pub expect: Option<String>,
}

/// DNS record types a `dns` probe can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
pub enum RecordType {
    #[default]
    A,
    AAAA,
    CNAME,
    MX,
    NS,
    PTR,
    SOA,
    SRV,
    TXT,
}

/// A DNS lookup.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    pub name: String,
    #[serde(default, rename = "type")]
    pub record: RecordType,
    /// Server address (default: the system resolver).
    pub server: Option<String>,
    pub port: Option<IntOrTemplate>,
}

/// What a matching error means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Could not inspect (credentials, permissions, transport).
    Blocked,
    /// Inspected, and wrong: the error is the finding (e.g. a refused port under test).
    Fail,
}

/// A classification rule: when every given condition matches, the result is `as`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifyRule {
    /// HTTP status codes.
    pub status: Option<OneOrMany<u16>>,
    /// Exit codes.
    pub exit: Option<OneOrMany<i32>>,
    /// Transport error reason classes: `dns`, `refused`, `timeout`, `tls`, `no_route`, `auth`, `hostkey`…
    pub error: Option<OneOrMany<String>>,
    /// Regular expression on stderr.
    pub stderr: Option<String>,
    /// Regular expression on stdout.
    pub stdout: Option<String>,
    /// Regular expression on the HTTP body.
    pub body: Option<String>,
    #[serde(rename = "as")]
    pub outcome: Outcome,
    /// Reason class recorded with the result (default: derived from the match).
    pub reason: Option<String>,
}

/// Declares a probe-like struct: the five kinds, timeout and classification, plus extra fields.
macro_rules! probe_struct {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            // Boxed: a probe has one kind, and a catalog holds thousands of probes.
            pub http: Option<Box<Http>>,
            pub command: Option<Box<Command>>,
            pub ssh: Option<Box<Ssh>>,
            pub tcp: Option<Box<Tcp>>,
            pub dns: Option<Box<Dns>>,
            /// Per-attempt timeout (overrides group and catalog defaults).
            pub timeout: Option<Duration>,
            /// Retry policy for transient errors.
            pub retry: Option<Retry>,
            /// Named concurrency group (declared in the catalog's `concurrency`).
            pub concurrency: Option<String>,
            /// Rules deciding which errors are `blocked` and which are `fail`; checked in order.
            #[serde(default)]
            pub classify: Vec<ClassifyRule>,
        }
    };
}

probe_struct! {
    /// A probe: exactly one of `http`, `command`, `ssh`, `tcp`, `dns`, or `use` with `with`.
    pub struct Probe {
        /// Name of a probe template declared in this catalog's `probes`.
        #[serde(rename = "use")]
        pub uses: Option<String>,
        /// Parameters for the template, available in it as `params.<name>`.
        #[serde(default, rename = "with")]
        pub with: IndexMap<String, Value>,
    }
}

probe_struct! {
    /// A reusable probe with parameters, defined once per catalog.
    pub struct ProbeTemplate {
        pub description: Option<String>,
        /// Parameters the template reads as `params.<name>`.
        #[serde(default)]
        pub params: IndexMap<String, ParamDecl>,
    }
}

/// A probe template parameter.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParamDecl {
    /// What the parameter holds (default: any). A `list` spliced into `argv` becomes several arguments.
    #[serde(rename = "type")]
    pub kind: Option<super::shapes::VarType>,
    pub description: Option<String>,
    /// Used when the check does not pass the parameter; without it the parameter is required.
    pub default: Option<Value>,
}

/// The kind names, in schema order.
pub const KINDS: [&str; 5] = ["http", "command", "ssh", "tcp", "dns"];

macro_rules! kinds_of {
    ($t:ty) => {
        impl $t {
            /// The probe's kind and its fields as JSON (unset fields included as null).
            pub fn kind_json(&self) -> (&'static str, serde_json::Value) {
                let json = |v: Result<serde_json::Value, serde_json::Error>| v.unwrap_or_default();
                if let Some(h) = &self.http {
                    ("http", json(serde_json::to_value(h)))
                } else if let Some(c) = &self.command {
                    ("command", json(serde_json::to_value(c)))
                } else if let Some(s) = &self.ssh {
                    ("ssh", json(serde_json::to_value(s)))
                } else if let Some(t) = &self.tcp {
                    ("tcp", json(serde_json::to_value(t)))
                } else if let Some(d) = &self.dns {
                    ("dns", json(serde_json::to_value(d)))
                } else {
                    ("none", serde_json::Value::Null)
                }
            }

            /// The probe kinds that are set.
            pub fn kinds(&self) -> Vec<&'static str> {
                let mut v = Vec::new();
                if self.http.is_some() {
                    v.push("http");
                }
                if self.command.is_some() {
                    v.push("command");
                }
                if self.ssh.is_some() {
                    v.push("ssh");
                }
                if self.tcp.is_some() {
                    v.push("tcp");
                }
                if self.dns.is_some() {
                    v.push("dns");
                }
                v
            }
        }
    };
}
kinds_of!(Probe);
kinds_of!(ProbeTemplate);
