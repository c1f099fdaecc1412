//! The API's vocabulary: what a handler answers (`{"data": …}` or an error with PVE's
//! status, reason phrase and body), request parameters as PVE reads them, and the value
//! checks its JSON schema applies.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::{Map, Value, json};

/// A successful answer: `{"data": …}`, plus the top-level `changes` a network list carries
/// when `/etc/network/interfaces.new` differs from the running file.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    pub data: Value,
    pub changes: Option<String>,
}

impl From<Value> for Data {
    fn from(data: Value) -> Data {
        Data {
            data,
            changes: None,
        }
    }
}

/// An error as pveproxy sends it: the message is the reason phrase, and the body is
/// `{"data":null,"message":"…\n"}` (plus `errors` for a parameter error). `bare` errors
/// (401 from the auth layer, 595 from the proxy) have an empty body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub errors: Option<Map<String, Value>>,
    pub bare: bool,
}

pub type Answer = Result<Data, ApiError>;

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            errors: None,
            bare: false,
        }
    }

    /// 400 with `errors: {name: why}`, as a JSON-schema or `raise_param_exc` failure.
    pub fn param(name: &str, why: impl Into<String>) -> ApiError {
        let mut errors = Map::new();
        errors.insert(name.into(), Value::String(why.into()));
        ApiError {
            errors: Some(errors),
            ..ApiError::new(400, "Parameter verification failed.")
        }
    }

    /// One 400 naming every parameter of `checks` that failed (PVE's schema check collects
    /// them all into `errors`), or `Ok` when none did.
    pub fn all(checks: impl IntoIterator<Item = Result<(), ApiError>>) -> Result<(), ApiError> {
        let mut out: Option<ApiError> = None;
        for e in checks.into_iter().filter_map(Result::err) {
            match (&mut out, e.errors) {
                (Some(first), Some(more)) => {
                    first.errors.get_or_insert_with(Map::new).extend(more);
                }
                (None, errors) => out = Some(ApiError { errors, ..e }),
                (Some(_), None) => {}
            }
        }
        out.map_or(Ok(()), Err)
    }

    /// 501: no handler for this method on this path (a catalog bug, not a lab fault).
    pub fn not_implemented(method: &str, path: &str) -> ApiError {
        ApiError::new(501, format!("Method '{method} {path}' not implemented"))
    }

    /// 403 from a permission check.
    pub fn permission(path: &str, privilege: &str) -> ApiError {
        ApiError::new(
            403,
            format!("Permission check failed ({path}, {privilege})"),
        )
    }

    /// 500 with a message, the way a handler's `die` comes out.
    pub fn server(message: impl Into<String>) -> ApiError {
        ApiError::new(500, message)
    }

    /// 595 from pveproxy when the node a call is proxied to cannot be reached.
    pub fn node_unreachable() -> ApiError {
        ApiError {
            bare: true,
            ..ApiError::new(
                595,
                "Errors during connection establishment, proxy handshake: No route to host",
            )
        }
    }

    /// The reason phrase: the message's first line.
    pub fn reason(&self) -> String {
        let line = self.message.lines().next().unwrap_or("").trim();
        if line.is_empty() {
            "Error".into()
        } else {
            line.into()
        }
    }

    /// The body pveproxy sends with it.
    pub fn body(&self) -> Vec<u8> {
        if self.bare {
            return Vec::new();
        }
        let mut body = json!({"data": null, "message": format!("{}\n", self.message)});
        if let Some(errors) = &self.errors {
            body["errors"] = Value::Object(errors.clone());
        }
        body.to_string().into_bytes()
    }
}

/// Query and form parameters as pveproxy decodes them (pve-http-server
/// `PVE/APIServer/AnyEvent.pm` `extract_params`/`decode_urlencoded`): a form or query key
/// sent with an empty value (`mtu=`) splits into a key without a value, Perl's `undef`,
/// which passes every schema check (pve-common `JSONSchema.pm` `check_prop` returns early
/// for an undefined optional property) and clears the setting it names. A JSON body keeps
/// `""` a defined empty string, which the schema's type and format checks then see
/// (`type check ('integer') failed - got ''`); JSON `null` is `undef`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub BTreeMap<String, Option<String>>);

impl Params {
    /// `a=1&b=two+words&c=` (form or query string).
    pub fn parse(encoded: &str) -> Params {
        let mut out = Params::default();
        out.merge(encoded);
        out
    }

    /// Adds `a=1&…`; a later value for a key wins.
    pub fn merge(&mut self, encoded: &str) {
        for pair in encoded.split(['&', ';']).filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = form_decode(v);
            self.0
                .insert(form_decode(k), if v.is_empty() { None } else { Some(v) });
        }
    }

    /// A JSON object body: scalars become text (`""` too), `null` is undef.
    pub fn merge_json(&mut self, body: &Value) {
        if let Value::Object(fields) = body {
            for (k, v) in fields {
                let text = match v {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                };
                self.0.insert(k.clone(), text);
            }
        }
    }

    /// The value of `key` when it was sent with one (a JSON `""` is one; a form's `key=`
    /// is not).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.as_deref())
    }

    /// Whether `key` was sent at all (even empty).
    pub fn sent(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// 400 for the first key `allowed` rejects, worded like PVE's schema check.
    pub fn only(&self, allowed: impl Fn(&str) -> bool) -> Result<(), ApiError> {
        match self.keys().find(|k| !allowed(k)) {
            Some(k) => Err(ApiError::param(
                k,
                "property is not defined in schema and the schema does not allow additional properties",
            )),
            None => Ok(()),
        }
    }

    /// A PVE boolean (`1`, `0`, `yes`, `off`, …) as 0/1.
    pub fn boolean(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => boolean(v).map(Some).ok_or_else(|| {
                ApiError::param(key, format!("type check ('boolean') failed - got '{v}'"))
            }),
        }
    }

    /// An integer within bounds.
    pub fn integer(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let n: i64 = v.parse().map_err(|_| {
            ApiError::param(key, format!("type check ('integer') failed - got '{v}'"))
        })?;
        if n < min {
            return Err(ApiError::param(
                key,
                format!("value must have a minimum value of {min}"),
            ));
        }
        if n > max {
            return Err(ApiError::param(
                key,
                format!("value must have a maximum value of {max}"),
            ));
        }
        Ok(Some(n))
    }

    /// A value that must pass `check`, else the format error `why`.
    pub fn format(
        &self,
        key: &str,
        check: impl Fn(&str) -> bool,
        why: &str,
    ) -> Result<Option<&str>, ApiError> {
        match self.get(key) {
            Some(v) if !check(v) => Err(ApiError::param(key, format!("invalid format - {why}"))),
            other => Ok(other),
        }
    }

    /// One of `values`.
    pub fn one_of(&self, key: &str, values: &[&str]) -> Result<Option<&str>, ApiError> {
        match self.get(key) {
            Some(v) if !values.contains(&v) => Err(ApiError::param(
                key,
                format!(
                    "value '{v}' does not have a value in the enumeration '{}'",
                    values.join(", ")
                ),
            )),
            other => Ok(other),
        }
    }

    /// The `delete` list (`a,b c;d`).
    pub fn delete_list(&self) -> Vec<String> {
        self.get("delete").map(split_list).unwrap_or_default()
    }
}

/// PVE's `split_list`: on commas, semicolons, spaces and NULs.
pub fn split_list(s: &str) -> Vec<String> {
    s.split([',', ';', ' ', '\0'])
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// `1|true|yes|on` → 1, `0|false|no|off` → 0.
pub fn boolean(v: &str) -> Option<i64> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(1),
        "0" | "false" | "no" | "off" => Some(0),
        _ => None,
    }
}

pub fn is_ipv4(v: &str) -> bool {
    v.parse::<Ipv4Addr>().is_ok()
}

pub fn is_ipv6(v: &str) -> bool {
    v.parse::<Ipv6Addr>().is_ok()
}

/// `10.0.0.11/24` (a prefix of 8 to 32, as PVE's CIDRv4).
pub fn is_cidr4(v: &str) -> bool {
    v.split_once('/')
        .is_some_and(|(a, p)| is_ipv4(a) && p.parse::<u8>().is_ok_and(|p| (8..=32).contains(&p)))
}

pub fn is_cidr6(v: &str) -> bool {
    v.split_once('/')
        .is_some_and(|(a, p)| is_ipv6(a) && p.parse::<u8>().is_ok_and(|p| (8..=128).contains(&p)))
}

/// A `bridge_vids` list: VIDs and ranges of 2–4094, separated by spaces, commas or semicolons.
pub fn is_vid_list(v: &str) -> bool {
    let vid = |s: &str| s.parse::<u16>().is_ok_and(|n| (2..=4094).contains(&n));
    let items = split_list(v);
    !items.is_empty()
        && items.iter().all(|item| match item.split_once('-') {
            Some((a, b)) => vid(a) && vid(b) && a.parse::<u16>().ok() < b.parse::<u16>().ok(),
            None => vid(item),
        })
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
pub fn form_decode(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

/// `%XX` escapes decoded (a path segment, a UPID sent encoded).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Perl's `uri_escape`: everything but `A-Za-z0-9-._~` as `%XX` (how PVE stores `sshkeys`).
pub fn uri_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
