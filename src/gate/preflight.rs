//! Preflight: may a release start on this certification? Go only if every rule holds
//! (PRODUCT.md "Preflight"); otherwise every reason is listed. It reads files and the
//! current catalogs; it never probes or repairs anything.

use std::collections::BTreeSet;
use std::path::Path;

use jiff::Timestamp;

use crate::diag::Diagnostics;
use crate::error::Outcome;
use crate::exit::Exit;
use crate::manifest::{self, Manifest, ReadError, RunStatus, provenance, verdict};
use crate::run::Status;

/// What the release asks for.
pub struct Request<'a> {
    pub certification: &'a Path,
    pub environment: &'a str,
    pub topology: &'a str,
    pub providers: Vec<String>,
    /// Catalog root, to compare digests with the catalogs in force now.
    pub catalogs: &'a Path,
    pub verify_key: Option<&'a Path>,
    /// Accept catalogs that changed since certification (said loudly).
    pub allow_catalog_drift: bool,
    /// Accept a manifest replayed from a recording (demos and tests only).
    pub allow_replayed: bool,
    pub now: Timestamp,
}

pub enum Verdict {
    Go {
        manifest: Box<Manifest>,
        warnings: Vec<String>,
    },
    NoGo {
        manifest: Option<Box<Manifest>>,
        reasons: Vec<String>,
        warnings: Vec<String>,
    },
    /// The manifest cannot be read as one (missing, not JSON, not the schema).
    Unreadable(String),
}

pub fn check(req: &Request<'_>) -> Verdict {
    let (bytes, m) = match manifest::read(req.certification) {
        Ok(x) => x,
        Err(ReadError::Schema(v)) => {
            return Verdict::Unreadable(format!(
                "{}: not a valid manifest:\n  {}",
                req.certification.display(),
                v.join("\n  ")
            ));
        }
        Err(e) => return Verdict::Unreadable(e.to_string()),
    };
    let mut reasons = Vec::new();
    let mut warnings = Vec::new();
    // The verdict is the checks' own, whatever the stored fields say.
    for d in verdict::disagreements(&m) {
        reasons.push(d.to_string());
    }
    let derived = verdict::status(&verdict::summary(m.checks()), m.interrupted);
    if derived != RunStatus::Pass {
        reasons.push(format!(
            "status (from its checks) is {}, not pass",
            derived.as_str()
        ));
    }
    if m.interrupted {
        reasons.push("the certification run was interrupted".into());
    }
    time_rules(&m, req.now, &mut reasons);
    if m.environment != req.environment {
        reasons.push(format!(
            "environment: certified `{}`, requested `{}`",
            m.environment, req.environment
        ));
    }
    if m.topology != req.topology {
        reasons.push(format!(
            "topology: certified `{}`, requested `{}`",
            m.topology, req.topology
        ));
    }
    let have: BTreeSet<&str> = m.providers.iter().map(String::as_str).collect();
    let want: BTreeSet<&str> = req.providers.iter().map(String::as_str).collect();
    for p in want.difference(&have) {
        reasons.push(format!("provider `{p}` was not certified"));
    }
    for p in have.difference(&want) {
        reasons.push(format!("provider `{p}` was certified but not requested"));
    }
    if m.tool.name != env!("CARGO_PKG_NAME") {
        reasons.push(format!("made by `{}`, not labcert", m.tool.name));
    } else if !compatible(&m.tool.version) {
        reasons.push(format!(
            "made by labcert {}, which this labcert {} does not accept (same major version, not newer)",
            m.tool.version,
            env!("CARGO_PKG_VERSION")
        ));
    }
    if let Some(dir) = &m.replayed_from {
        let why = format!("replayed from the recording {dir}: it certifies a recording, not a lab");
        if req.allow_replayed {
            warnings.push(format!("ACCEPTED BY --allow-replayed: {why}"));
        } else {
            reasons.push(why);
        }
    }
    catalog_rules(req, &m, &mut reasons, &mut warnings);
    if let Some(key) = req.verify_key {
        let sig = crate::gate::signing::sig_path(req.certification);
        match crate::workspace::read_text(&sig) {
            Err(d) => reasons.push(format!("no signature at {}", d.message)),
            Ok(text) => {
                if let Err(why) = crate::gate::signing::verify(key, &bytes, &text) {
                    reasons.push(format!("signature: {why}"));
                }
            }
        }
    }
    for w in &m.waivers {
        warnings.push(format!(
            "WAIVER in force: {} — {} (approved by {}, expires {})",
            w.checks.join(", "),
            w.reason,
            w.approver,
            w.expires
        ));
    }
    if reasons.is_empty() {
        Verdict::Go {
            manifest: Box::new(m),
            warnings,
        }
    } else {
        Verdict::NoGo {
            manifest: Some(Box::new(m)),
            reasons,
            warnings,
        }
    }
}

fn time_rules(m: &Manifest, now: Timestamp, reasons: &mut Vec<String>) {
    let parse = |what: &str, s: &str, reasons: &mut Vec<String>| match s.parse::<Timestamp>() {
        Ok(t) => Some(t),
        Err(e) => {
            reasons.push(format!("{what} `{s}` is not a UTC RFC 3339 time: {e}"));
            None
        }
    };
    if let Some(exp) = parse("expiresAt", &m.expires_at, reasons)
        && exp <= now
    {
        reasons.push(format!(
            "expired at {} ({} ago)",
            m.expires_at,
            human(now.duration_since(exp))
        ));
    }
    for (what, s) in [
        ("createdAt", &m.created_at),
        ("startedAt", &m.started_at),
        ("finishedAt", &m.finished_at),
    ] {
        if let Some(t) = parse(what, s, reasons)
            && t > now
        {
            reasons.push(format!(
                "{what} {s} is in the future ({} from now): the clock that made it is wrong",
                human(t.duration_since(now))
            ));
        }
    }
}

/// Every required group of the requested providers present and passing, and the catalog
/// digests equal to the catalogs in force now.
fn catalog_rules(
    req: &Request<'_>,
    m: &Manifest,
    reasons: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    // The check set is planned again with the inputs the certification was planned with.
    let args = crate::plan::Target {
        topology: req.topology.to_string(),
        providers: req.providers.clone(),
        environment: Some(req.environment.to_string()),
        bound: m.inputs.clone(),
        ..Default::default()
    };
    let mut diags = Diagnostics::default();
    let Some((plan, set)) = crate::plan::command::plan(&args, req.catalogs, &mut diags) else {
        let first = diags
            .iter()
            .find(|d| d.is_error())
            .map(|d| d.message.clone())
            .unwrap_or_default();
        reasons.push(format!(
            "cannot read the current catalogs of topology `{}` under {}: {first}",
            req.topology,
            req.catalogs.display()
        ));
        return;
    };
    if let Some(t) = set.topologies.last() {
        window_rule(m, t.model.max_valid(), reasons);
    }
    let mut drifted = false;
    for pc in plan.catalogs.iter().filter(|c| c.selected) {
        let Some(c) = set.catalogs.iter().find(|c| c.model.catalog == pc.id) else {
            continue;
        };
        match m.catalogs.iter().find(|r| r.id == pc.id) {
            None => reasons.push(format!("catalog `{}` is not in the certification", pc.id)),
            Some(r) => {
                let now = provenance::sha256_hex(c.doc.source.text.as_bytes());
                if r.sha256 != now {
                    let why = format!(
                        "catalog `{}` changed since certification (sha256 {} then, {} now)",
                        pc.id,
                        provenance::short_digest(&r.sha256),
                        provenance::short_digest(&now)
                    );
                    drifted = true;
                    if req.allow_catalog_drift {
                        warnings.push(format!("ACCEPTED BY --allow-catalog-drift: {why}"));
                    } else {
                        reasons.push(why);
                    }
                }
            }
        }
        for g in &c.model.groups {
            let required = g.checks.iter().any(|k| {
                k.severity
                    .or(g.defaults.severity)
                    .or(c.model.defaults.severity)
                    .unwrap_or_default()
                    == crate::model::Severity::Required
            });
            if !required {
                continue;
            }
            match m.groups.iter().find(|x| x.catalog == pc.id && x.id == g.id) {
                None => reasons.push(format!(
                    "required group `{}.{}` is missing from the certification",
                    pc.id, g.id
                )),
                Some(x) => {
                    let st = verdict::group_status(&x.checks);
                    if matches!(st, Status::Fail | Status::Blocked) {
                        reasons.push(format!(
                            "required group `{}.{}` is {}",
                            pc.id,
                            g.id,
                            st.as_str()
                        ));
                    }
                }
            }
        }
    }
    check_set_rule(
        &plan,
        m,
        drifted && req.allow_catalog_drift,
        reasons,
        warnings,
    );
}

/// The validity window (`finishedAt` to `expiresAt`) no longer than the topology allows.
fn window_rule(m: &Manifest, max: std::time::Duration, reasons: &mut Vec<String>) {
    let (Ok(finished), Ok(expires)) = (
        m.finished_at.parse::<Timestamp>(),
        m.expires_at.parse::<Timestamp>(),
    ) else {
        return; // time_rules already said which one does not parse
    };
    let window = expires.duration_since(finished);
    let max = jiff::SignedDuration::try_from(max).unwrap_or(jiff::SignedDuration::MAX);
    if window > max {
        reasons.push(format!(
            "valid for {} after it finished ({} to {}), longer than topology `{}` allows ({})",
            human(window),
            m.finished_at,
            m.expires_at,
            m.topology,
            human(max)
        ));
    }
}

/// Every check the catalogs in force plan for the requested providers, with the inputs the
/// certification records, is in it and was not skipped: a split certification missing a
/// pair, or a manifest with checks removed, is no certification of the whole.
fn check_set_rule(
    plan: &crate::plan::Plan,
    m: &Manifest,
    drift_accepted: bool,
    reasons: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    use std::collections::HashMap;
    let have: HashMap<&str, Status> = m.checks().map(|c| (c.id.as_str(), c.status)).collect();
    let mut missing = Vec::new();
    let mut skipped = Vec::new();
    for p in &plan.checks {
        if matches!(p.state, crate::plan::State::Skipped(_)) {
            continue;
        }
        match have.get(p.id.as_str()) {
            None => missing.push(p.id.as_str()),
            Some(Status::Skipped) => skipped.push(p.id.as_str()),
            Some(_) => {}
        }
    }
    let list = |ids: &[&str]| {
        let mut s = ids.iter().take(10).copied().collect::<Vec<_>>().join(", ");
        if ids.len() > 10 {
            s.push_str(&format!(", … ({} more)", ids.len() - 10));
        }
        s
    };
    let mut found = Vec::new();
    if !missing.is_empty() {
        found.push(format!(
            "{} check{} the catalogs plan for these providers {} not in the certification (certify again so each runs; split runs merged hold them all): {}",
            missing.len(),
            if missing.len() == 1 { "" } else { "s" },
            if missing.len() == 1 { "is" } else { "are" },
            list(&missing)
        ));
    }
    if !skipped.is_empty() {
        found.push(format!(
            "{} planned check{} {} skipped in the certification: {}",
            skipped.len(),
            if skipped.len() == 1 { "" } else { "s" },
            if skipped.len() == 1 { "was" } else { "were" },
            list(&skipped)
        ));
    }
    for why in found {
        // A catalog that changed (and was accepted so) may plan checks the certification
        // could not know; otherwise a missing check is a hole in the certification.
        if drift_accepted {
            warnings.push(format!("ACCEPTED BY --allow-catalog-drift: {why}"));
        } else {
            reasons.push(why);
        }
    }
}

fn compatible(made_by: &str) -> bool {
    let (Ok(then), Ok(now)) = (
        semver::Version::parse(made_by),
        semver::Version::parse(env!("CARGO_PKG_VERSION")),
    ) else {
        return false;
    };
    semver::VersionReq::parse(&format!("^{then}")).is_ok_and(|r| r.matches(&now))
}

/// "5 h", "3 min", "12 s", "2 d".
pub fn human(d: jiff::SignedDuration) -> String {
    let s = d.as_secs().unsigned_abs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..172800 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86400),
    }
}

/// Prints a verdict; returns its exit code (an unreadable manifest is exit 2, said here).
pub fn print(verdict: &Verdict, path: &Path) -> Outcome {
    match verdict {
        Verdict::Unreadable(why) => {
            eprintln!("preflight: NO-GO — cannot read the certification: {why}");
            Ok(Exit::Invalid)
        }
        Verdict::Go { manifest, warnings } => {
            for w in warnings {
                eprintln!("warning: {w}");
            }
            let left = manifest
                .expires_at
                .parse::<Timestamp>()
                .map(|t| human(t.duration_since(Timestamp::now())))
                .unwrap_or_default();
            crate::output::stdout(&format!(
                "preflight: GO — {} ({}) certifies {} / {} [{}], expires in {left}\n",
                manifest.id,
                path.display(),
                manifest.environment,
                manifest.topology,
                manifest.providers.join(",")
            ))?;
            Ok(Exit::Ok)
        }
        Verdict::NoGo {
            manifest,
            reasons,
            warnings,
        } => {
            for w in warnings {
                eprintln!("warning: {w}");
            }
            let id = manifest.as_ref().map(|m| m.id.as_str()).unwrap_or("?");
            let mut out = format!(
                "preflight: NO-GO — {id} ({}): {} reason{}\n",
                path.display(),
                reasons.len(),
                if reasons.len() == 1 { "" } else { "s" }
            );
            for r in reasons {
                out.push_str(&format!("  - {r}\n"));
            }
            crate::output::stdout(&out)?;
            Ok(Exit::Fail)
        }
    }
}
