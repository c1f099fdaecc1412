//! Per-check rules: one probe kind, known templates and parameters, declared concurrency
//! groups, one matcher per expectation, and regexes/queries/versions/CIDRs that compile.

use super::check_pointer;
use super::index::DefId;
use crate::diag::{Code, Diagnostic, Diagnostics, did_you_mean};
use crate::model::expect::{Expect, LengthMatch, Matcher};
use crate::model::probe::{ClassifyRule, Probe, ProbeTemplate};
use crate::template::is_template;
use crate::workspace::LoadedCatalog;

struct Ctx<'a> {
    c: &'a LoadedCatalog,
    diags: &'a mut Diagnostics,
}

impl Ctx<'_> {
    fn err(&mut self, code: Code, msg: String, ptr: &str, label: &str, help: Option<String>) {
        let mut d = Diagnostic::error(code, msg)
            .at(&self.c.doc.source, self.c.doc.spans.value_span(ptr))
            .label(label);
        if let Some(h) = help {
            d = d.help(h);
        }
        self.diags.push(d);
    }

    fn key_err(&mut self, code: Code, msg: String, ptr: &str, label: &str, help: Option<String>) {
        let mut d = Diagnostic::error(code, msg)
            .at(&self.c.doc.source, self.c.doc.spans.key_span(ptr))
            .label(label);
        if let Some(h) = help {
            d = d.help(h);
        }
        self.diags.push(d);
    }
}

pub(super) fn check(c: &LoadedCatalog, diags: &mut Diagnostics) {
    let mut cx = Ctx { c, diags };
    let m = &c.model;
    var_defaults(&mut cx);
    concurrency(
        &mut cx,
        m.defaults.concurrency.as_deref(),
        "/defaults/concurrency",
    );
    for (name, t) in &m.probes {
        let p = format!("/probes/{}", crate::source::escape_token(name));
        template_kinds(&mut cx, t, &p);
        ssh_form(&mut cx, t.ssh.as_deref(), &p);
        pins(&mut cx, t.http.as_deref(), t.ssh.as_deref(), &p);
        concurrency(
            &mut cx,
            t.concurrency.as_deref(),
            &format!("{p}/concurrency"),
        );
        classify(&mut cx, &t.classify, &format!("{p}/classify"));
        if let Some(tcp) = &t.tcp {
            regex(&mut cx, tcp.expect.as_deref(), &format!("{p}/tcp/expect"));
        }
    }
    for (gi, g) in m.groups.iter().enumerate() {
        concurrency(
            &mut cx,
            g.defaults.concurrency.as_deref(),
            &format!("/groups/{gi}/defaults/concurrency"),
        );
        for (ki, k) in g.checks.iter().enumerate() {
            let base = check_pointer(DefId {
                cat: 0,
                group: gi,
                check: ki,
            });
            probe(&mut cx, &k.probe, &format!("{base}/probe"));
            concurrency(
                &mut cx,
                k.concurrency.as_deref(),
                &format!("{base}/concurrency"),
            );
            for (i, e) in k.expect.iter().enumerate() {
                expect(&mut cx, e, &format!("{base}/expect/{i}"));
            }
            for (name, q) in &k.capture {
                jmespath(
                    &mut cx,
                    q,
                    &format!("{base}/capture/{}", crate::source::escape_token(name)),
                );
            }
            if let Some(r) = &k.repair {
                for (si, s) in r.steps.iter().enumerate() {
                    let sp = format!("{base}/repair/steps/{si}");
                    match (&s.probe, &s.pve_task) {
                        (Some(p), None) => probe(&mut cx, p, &format!("{sp}/probe")),
                        (None, Some(t)) => {
                            if !m.probes.contains_key(&t.api) {
                                unknown_template(&mut cx, &t.api, &format!("{sp}/pve_task/api"));
                            }
                        }
                        _ => cx.err(
                            Code::ProbeKind,
                            "a repair step needs exactly one of `probe` or `pve_task`".into(),
                            &sp,
                            "this step",
                            None,
                        ),
                    }
                    for (i, e) in s.expect.iter().enumerate() {
                        expect(&mut cx, e, &format!("{sp}/expect/{i}"));
                    }
                    for (name, q) in &s.capture {
                        jmespath(
                            &mut cx,
                            q,
                            &format!("{sp}/capture/{}", crate::source::escape_token(name)),
                        );
                    }
                }
            }
        }
    }
}

fn template_kinds(cx: &mut Ctx<'_>, t: &ProbeTemplate, p: &str) {
    let kinds = t.kinds();
    if kinds.len() != 1 {
        let msg = if kinds.is_empty() {
            "probe template has no probe kind".to_string()
        } else {
            format!("probe template has several kinds: {}", kinds.join(", "))
        };
        cx.key_err(
            Code::ProbeKind,
            msg,
            p,
            "here",
            Some("give exactly one of: http, command, ssh, tcp, dns".into()),
        );
    }
}

fn probe(cx: &mut Ctx<'_>, pr: &Probe, p: &str) {
    let kinds = pr.kinds();
    match (&pr.uses, kinds.len()) {
        (Some(name), 0) => match cx.c.model.probes.get(name) {
            None => unknown_template(cx, name, &format!("{p}/use")),
            Some(t) => {
                for key in pr.with.keys() {
                    if !t.params.contains_key(key) {
                        let known: Vec<&str> = t.params.keys().map(String::as_str).collect();
                        let help = did_you_mean(key, known.iter().copied())
                            .map(|s| format!("did you mean `{s}`?"))
                            .or_else(|| {
                                (!known.is_empty())
                                    .then(|| format!("`{name}` takes: {}", known.join(", ")))
                            });
                        cx.key_err(
                            Code::UnknownParameter,
                            format!("probe template `{name}` has no parameter `{key}`"),
                            &format!("{p}/with/{}", crate::source::escape_token(key)),
                            "unknown parameter",
                            help,
                        );
                    }
                }
                for (pname, value) in &pr.with {
                    let Some(kind) = t.params.get(pname).and_then(|d| d.kind) else {
                        continue;
                    };
                    if !super::topology::fits(kind, value) {
                        cx.err(
                            Code::ParameterType,
                            format!(
                                "parameter `{pname}` of probe template `{name}` takes {}, not {}",
                                super::topology::kind_name(kind),
                                super::topology::value_kind(value)
                            ),
                            &format!("{p}/with/{}", crate::source::escape_token(pname)),
                            &format!("expected {}", super::topology::kind_name(kind)),
                            (kind == crate::model::VarType::List).then(|| match cx.c.doc.source.format {
                                crate::source::Format::Yaml => "write a list: `[vm, show]`; a string stays one argument".to_string(),
                                crate::source::Format::Toml => "write an array: `[\"vm\", \"show\"]`; a string stays one argument".to_string(),
                            }),
                        );
                    }
                }
                for (pname, decl) in &t.params {
                    if decl.default.is_none() && !pr.with.contains_key(pname) {
                        cx.key_err(
                            Code::MissingParameter,
                            format!("probe template `{name}` needs parameter `{pname}`"),
                            &format!("{p}/use"),
                            "missing a required parameter",
                            Some(match (cx.c.doc.source.format, pr.with.is_empty()) {
                                (_, false) => format!("add `{pname}` to `with`"),
                                (crate::source::Format::Yaml, true) => {
                                    format!("add `with: {{ {pname}: … }}`")
                                }
                                (crate::source::Format::Toml, true) => {
                                    format!("add `with = {{ {pname} = … }}`")
                                }
                            }),
                        );
                    }
                }
            }
        },
        (None, 1) if pr.with.is_empty() => {}
        (None, 1) => cx.key_err(
            Code::UnknownParameter,
            "`with` passes parameters to a probe template, but this probe has no `use`".into(),
            &format!("{p}/with"),
            "nothing receives these",
            None,
        ),
        (None, 0) => cx.key_err(
            Code::ProbeKind,
            "probe has no kind".into(),
            p,
            "empty probe",
            Some("give one of: http, command, ssh, tcp, dns, or `use` a probe template".into()),
        ),
        _ => cx.key_err(
            Code::ProbeKind,
            format!(
                "probe has several kinds: {}",
                pr.uses
                    .iter()
                    .map(|_| "use")
                    .chain(kinds.iter().copied())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            p,
            "more than one kind",
            Some("a probe does one thing; split it into two checks".into()),
        ),
    }
    if let Some(cmd) = &pr.command
        && cmd.argv.is_some() == cmd.shell.is_some()
    {
        cx.key_err(
            Code::ProbeKind,
            "a command probe needs exactly one of `argv` or `shell`".into(),
            &format!("{p}/command"),
            "here",
            Some("`argv` runs the program directly; `shell` runs through `sh -c`".into()),
        );
    }
    ssh_form(cx, pr.ssh.as_deref(), p);
    if let Some(tcp) = &pr.tcp {
        regex(cx, tcp.expect.as_deref(), &format!("{p}/tcp/expect"));
    }
    pins(cx, pr.http.as_deref(), pr.ssh.as_deref(), p);
    classify(cx, &pr.classify, &format!("{p}/classify"));
}

/// An `ssh` probe runs either a shell command line or an argv, never both or neither.
fn ssh_form(cx: &mut Ctx<'_>, ssh: Option<&crate::model::probe::Ssh>, p: &str) {
    let Some(s) = ssh else { return };
    if s.command.is_some() != s.argv.is_some() {
        return;
    }
    let msg = if s.command.is_some() {
        "an ssh probe has both `command` and `argv`"
    } else {
        "an ssh probe has neither `command` nor `argv`"
    };
    let help = match cx.c.doc.source.format {
        crate::source::Format::Yaml => {
            "give exactly one: `argv: [prog, arg, …]` (labcert quotes each element for the remote \
             shell) or `command: \"…\"` (a shell command line; template values in it need `| shquote`)"
        }
        crate::source::Format::Toml => {
            "give exactly one: `argv = [\"prog\", \"arg\", …]` (labcert quotes each element for the \
             remote shell) or `command = \"…\"` (a shell command line; template values in it need `| shquote`)"
        }
    };
    cx.key_err(
        Code::ProbeKind,
        msg.into(),
        &format!("{p}/ssh"),
        "here",
        Some(help.into()),
    );
}

/// A declared var's default has the declared type (templates are checked when rendered).
fn var_defaults(cx: &mut Ctx<'_>) {
    for (name, decl) in &cx.c.model.vars {
        let Some(def) = &decl.default else { continue };
        if super::topology::fits(decl.kind, def) {
            continue;
        }
        let kind = super::topology::kind_name(decl.kind);
        let help = match (decl.kind, cx.c.doc.source.format) {
            (crate::model::VarType::List, crate::source::Format::Yaml) => {
                Some("write a list: `default: [a, b]`".to_string())
            }
            (crate::model::VarType::List, crate::source::Format::Toml) => {
                Some("write an array: `default = [\"a\", \"b\"]`".to_string())
            }
            _ => Some(format!(
                "give a default that is {kind}, or change `type` to match it"
            )),
        };
        cx.err(
            Code::WrongType,
            format!(
                "var `{name}` is declared {kind}, but its default is {}",
                super::topology::value_kind(def)
            ),
            &format!("/vars/{}/default", crate::source::escape_token(name)),
            &format!("expected {kind}"),
            help,
        );
    }
}

/// TLS settings on a plaintext URL, and certificate / host key pins of the wrong form.
/// Only literal values are judged; templates are checked when rendered.
fn pins(
    cx: &mut Ctx<'_>,
    http: Option<&crate::model::probe::Http>,
    ssh: Option<&crate::model::probe::Ssh>,
    p: &str,
) {
    if let Some(h) = http
        && let Some(tls) = &h.tls
    {
        let url = h.url.trim_start();
        if url
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
        {
            let what = match (&tls.fingerprint, &tls.ca_file) {
                (Some(_), _) => "the certificate pin",
                (None, Some(_)) => "the CA file",
                (None, None) => "it",
            };
            cx.key_err(
                Code::TlsOnPlaintext,
                "`tls` is set, but the URL is plaintext `http://`".into(),
                &format!("{p}/http/tls"),
                &format!("{what} is ignored: there is no TLS on `http://`"),
                Some("use an `https://` URL, or remove `tls`".into()),
            );
        }
        if let Some(fp) = tls.fingerprint.as_deref().filter(|f| !is_template(f)) {
            let hex: String = fp.trim().chars().filter(|c| *c != ':').collect();
            if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                let digits = hex.chars().filter(char::is_ascii_hexdigit).count();
                let label = if digits == hex.chars().count() {
                    format!("{digits} hex digits, not 64")
                } else {
                    "not hex".to_string()
                };
                cx.err(
                    Code::InvalidValue,
                    "invalid TLS fingerprint: a SHA-256 fingerprint is 64 hex digits".into(),
                    &format!("{p}/http/tls/fingerprint"),
                    &label,
                    Some(
                        "copy it whole, as `pvenode cert info` shows it: `AB:CD:…` (32 pairs)"
                            .into(),
                    ),
                );
            }
        }
    }
    if let Some(s) = ssh
        && let Some(key) = s.host_key.as_deref().filter(|k| !is_template(k))
        && let Some(why) = host_key_problem(key)
    {
        cx.err(
            Code::InvalidValue,
            format!("invalid `host_key`: {why}"),
            &format!("{p}/ssh/host_key"),
            "not a host key fingerprint",
            Some(
                "copy it whole, as `ssh-keygen -lf` prints it: `SHA256:` and 43 base64 characters"
                    .into(),
            ),
        );
    }
}

/// Why a pinned SSH host key fingerprint cannot be one, if it cannot.
fn host_key_problem(key: &str) -> Option<String> {
    let key = key.trim();
    let Some((alg, b64)) = key.split_once(':') else {
        return Some("expected `SHA256:<base64>`".into());
    };
    let want = match alg {
        "SHA256" => 43,
        "SHA512" => 86,
        other => return Some(format!("unknown hash `{other}`, expected `SHA256`")),
    };
    let b64 = b64.trim_end_matches('=');
    if !b64
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
    {
        return Some(format!("a {alg} fingerprint is base64 (`A-Z a-z 0-9 + /`)"));
    }
    (b64.len() != want).then(|| {
        format!(
            "a {alg} fingerprint is {want} base64 characters, this has {}",
            b64.len()
        )
    })
}

fn unknown_template(cx: &mut Ctx<'_>, name: &str, ptr: &str) {
    let known: Vec<&str> = cx.c.model.probes.keys().map(String::as_str).collect();
    let help = did_you_mean(name, known.iter().copied())
        .map(|s| format!("did you mean `{s}`?"))
        .or_else(|| {
            Some(format!(
                "define it under `probes:`; known: {}",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ))
        });
    cx.err(
        Code::UnknownProbeTemplate,
        format!("unknown probe template `{name}`"),
        ptr,
        "no such template",
        help,
    );
}

fn concurrency(cx: &mut Ctx<'_>, name: Option<&str>, ptr: &str) {
    let Some(name) = name else { return };
    if is_template(name) || cx.c.model.concurrency.contains_key(name) {
        return;
    }
    let known: Vec<&str> = cx.c.model.concurrency.keys().map(String::as_str).collect();
    let help = did_you_mean(name, known.iter().copied())
        .map(|s| format!("did you mean `{s}`?"))
        .or_else(|| {
            Some(match cx.c.doc.source.format {
                crate::source::Format::Yaml => {
                    format!("declare it: `concurrency: {{ {name}: 4 }}` at the catalog top level")
                }
                crate::source::Format::Toml => {
                    format!("declare it: `concurrency = {{ {name} = 4 }}` at the catalog top level")
                }
            })
        });
    cx.err(
        Code::UnknownConcurrencyGroup,
        format!("unknown concurrency group `{name}`"),
        ptr,
        "not declared",
        help,
    );
}

fn classify(cx: &mut Ctx<'_>, rules: &[ClassifyRule], base: &str) {
    for (i, r) in rules.iter().enumerate() {
        regex(cx, r.stderr.as_deref(), &format!("{base}/{i}/stderr"));
        regex(cx, r.stdout.as_deref(), &format!("{base}/{i}/stdout"));
        regex(cx, r.body.as_deref(), &format!("{base}/{i}/body"));
    }
}

fn expect(cx: &mut Ctx<'_>, e: &Expect, p: &str) {
    let matcher = e.matcher();
    let set = matcher.set_names();
    let shortcuts = e.shortcut_names();
    let count = set.len() + shortcuts.len();
    if count != 1 {
        let (msg, help) = if count == 0 {
            (
                "expectation has no matcher".to_string(),
                "add one, e.g. `equals: 1`, `exists: true`, `status: 200`".to_string(),
            )
        } else {
            let all: Vec<&str> = shortcuts.iter().chain(set.iter()).copied().collect();
            (
                format!("expectation has {count} matchers: {}", all.join(", ")),
                "split it into one expectation per matcher".to_string(),
            )
        };
        cx.err(
            Code::MatcherCount,
            msg,
            p,
            "in this expectation",
            Some(help),
        );
    }
    if !shortcuts.is_empty() && e.query.is_some() {
        cx.key_err(
            Code::MatcherCount,
            format!("`{}` does not take a `query`", shortcuts[0]),
            &format!("{p}/query"),
            "remove this, or use a matcher",
            None,
        );
    }
    if let Some(q) = &e.query {
        jmespath(cx, q, &format!("{p}/query"));
    }
    matcher_values(cx, &matcher, p);
    for (name, m) in [("stdout", &e.stdout), ("stderr", &e.stderr)] {
        if let Some(m) = m {
            let mp = format!("{p}/{name}");
            if m.set_names().len() != 1 {
                cx.err(
                    Code::MatcherCount,
                    format!("`{name}` needs exactly one matcher"),
                    &mp,
                    "here",
                    Some("e.g. `stdout: { contains: ok }`".into()),
                );
            }
            matcher_values(cx, m, &mp);
        }
    }
}

fn matcher_values(cx: &mut Ctx<'_>, m: &Matcher, p: &str) {
    regex(cx, m.matches.as_deref(), &format!("{p}/matches"));
    if let Some(req) = m.semver.as_deref().filter(|s| !is_template(s))
        && let Err(e) = semver::VersionReq::parse(req)
    {
        cx.err(
            Code::InvalidSemver,
            format!("invalid semver requirement `{req}`: {e}"),
            &format!("{p}/semver"),
            "not a version requirement",
            Some("e.g. `>=8.1`, `^1.4`, `>=2.0, <3`".into()),
        );
    }
    if let Some(cidr) = m.cidr_contains.as_deref().filter(|s| !is_template(s))
        && cidr.parse::<ipnet::IpNet>().is_err()
        && cidr.parse::<std::net::IpAddr>().is_err()
    {
        cx.err(
            Code::InvalidCidr,
            format!("invalid CIDR `{cidr}`"),
            &format!("{p}/cidr_contains"),
            "not a CIDR or address",
            Some("e.g. `10.20.0.0/16`".into()),
        );
    }
    for (name, sub) in [("all", &m.all), ("any", &m.any)] {
        if let Some(sub) = sub {
            let sp = format!("{p}/{name}");
            if sub.set_names().len() != 1 {
                cx.err(
                    Code::MatcherCount,
                    format!("`{name}` needs exactly one matcher"),
                    &sp,
                    "here",
                    None,
                );
            }
            matcher_values(cx, sub, &sp);
        }
    }
    if let Some(l) = &m.length
        && let LengthMatch::Matcher(sub) = l.as_ref()
    {
        matcher_values(cx, sub, &format!("{p}/length"));
    }
}

fn regex(cx: &mut Ctx<'_>, re: Option<&str>, ptr: &str) {
    let Some(re) = re.filter(|r| !is_template(r)) else {
        return;
    };
    if let Some(last) = regex_problem(re) {
        cx.err(
            Code::InvalidRegex,
            format!("invalid regular expression: {last}"),
            ptr,
            "does not compile",
            None,
        );
    }
}

fn jmespath(cx: &mut Ctx<'_>, q: &str, ptr: &str) {
    if is_template(q) {
        return;
    }
    if let Err(e) = jmespath::compile(q) {
        cx.err(
            Code::InvalidJmespath,
            format!(
                "invalid JMESPath query `{q}`: {}",
                e.reason.to_string().replace("nud token", "token")
            ),
            ptr,
            "does not parse",
            q.contains('-')
                .then(|| "quote keys with dashes: data.\"lifecycle-state\"".into()),
        );
    }
}

/// Why a regular expression does not compile, in one line; `None` when it does.
pub(crate) fn regex_problem(re: &str) -> Option<String> {
    let e = regex::Regex::new(re).err()?;
    let why = e.to_string();
    let last = why
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(&why)
        .trim();
    Some(last.strip_prefix("error: ").unwrap_or(last).to_string())
}
