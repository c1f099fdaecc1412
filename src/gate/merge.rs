//! `labcert merge A B… --out M`: one certification from several runs of the same
//! environment and topology (e.g. PVE and cloud certified in separate CI jobs). Providers
//! are united, groups kept in catalog order, the status recomputed from the checks, and
//! `expiresAt` is the earliest. A provider catalog's group certified by two inputs, or inputs
//! for different environments, topologies or catalog versions, are refused. The reachability
//! catalog runs in every certification: its groups are merged check by check, keeping each
//! check's worst result.

use std::path::{Path, PathBuf};

use crate::manifest::provenance::{fmt_time, new_id, short_digest};
use crate::manifest::{self, CatalogRef, GroupResult, Manifest, Mode, RunStatus, Summary};
use crate::run::Status;

/// A group that holds a claim: at least one check was not skipped.
fn certified(g: &GroupResult) -> bool {
    g.checks.iter().any(|c| c.status != Status::Skipped)
}

/// Ranks statuses for merging: the worst is kept.
fn rank(s: Status) -> u8 {
    match s {
        Status::Skipped => 0,
        Status::Pass => 1,
        Status::Repaired => 2,
        Status::Waived => 3,
        Status::Blocked => 4,
        Status::Fail => 5,
    }
}

/// One group from several runs' copies: each check's worst result (checks in the first
/// copy's order, then any only later copies have), and the group status recomputed.
fn worst_of<'a>(first: &GroupResult, rest: impl Iterator<Item = &'a GroupResult>) -> GroupResult {
    let mut g = first.clone();
    for other in rest {
        for c in &other.checks {
            match g.checks.iter_mut().find(|x| x.id == c.id) {
                Some(x) if rank(c.status) > rank(x.status) => *x = c.clone(),
                Some(_) => {}
                None => g.checks.push(c.clone()),
            }
        }
    }
    let required: Vec<Status> = g
        .checks
        .iter()
        .filter(|c| c.severity == "required")
        .map(|c| c.status)
        .collect();
    g.status = required
        .iter()
        .copied()
        .max_by_key(|s| rank(*s))
        .map(|s| if s == Status::Waived { Status::Pass } else { s })
        .unwrap_or(Status::Skipped);
    g
}

pub fn merge(inputs: &[Manifest]) -> Result<Manifest, String> {
    let Some(first) = inputs.first() else {
        return Err("merge needs at least one manifest".into());
    };
    let mut problems = Vec::new();
    for m in &inputs[1..] {
        if m.environment != first.environment {
            problems.push(format!(
                "{} is for environment `{}`, {} for `{}`",
                m.id, m.environment, first.id, first.environment
            ));
        }
        if m.topology != first.topology {
            problems.push(format!(
                "{} is for topology `{}`, {} for `{}`",
                m.id, m.topology, first.id, first.topology
            ));
        }
        if m.tool.version != first.tool.version {
            problems.push(format!(
                "{} was made by labcert {}, {} by {}",
                m.id, m.tool.version, first.id, first.tool.version
            ));
        }
    }
    // Catalogs: each id once, with one digest.
    let mut catalogs: Vec<CatalogRef> = Vec::new();
    for m in inputs {
        for c in &m.catalogs {
            match catalogs.iter_mut().find(|x| x.id == c.id) {
                None => catalogs.push(c.clone()),
                Some(x) if x.sha256 != c.sha256 => problems.push(format!(
                    "catalog `{}` differs between inputs (sha256 {} vs {}): certify with the same catalogs",
                    c.id,
                    short_digest(&x.sha256),
                    short_digest(&c.sha256)
                )),
                Some(x) => x.selected |= c.selected,
            }
        }
    }
    // Groups in catalog order; each certified by exactly one input.
    let mut groups: Vec<GroupResult> = Vec::new();
    for c in &catalogs {
        let mut ids: Vec<&str> = Vec::new();
        for m in inputs {
            for g in m.groups.iter().filter(|g| g.catalog == c.id) {
                if !ids.contains(&g.id.as_str()) {
                    ids.push(&g.id);
                }
            }
        }
        for gid in ids {
            let claims: Vec<(&Manifest, &GroupResult)> = inputs
                .iter()
                .flat_map(|m| m.groups.iter().map(move |g| (m, g)))
                .filter(|(_, g)| g.catalog == c.id && g.id == gid)
                .collect();
            let real: Vec<&(&Manifest, &GroupResult)> =
                claims.iter().filter(|(_, g)| certified(g)).collect();
            match real.as_slice() {
                [] => groups.push(claims[0].1.clone()),
                [(_, g)] => groups.push((*g).clone()),
                // Reachability runs in every certification, whatever its providers: its
                // groups are merged check by check, the worst result kept.
                [(_, first), rest @ ..] if c.provider == "reachability" => {
                    groups.push(worst_of(first, rest.iter().map(|(_, g)| *g)));
                }
                many => problems.push(format!(
                    "group `{}.{gid}` was certified by more than one input: {}",
                    c.id,
                    many.iter()
                        .map(|(m, _)| m.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
    }
    if !problems.is_empty() {
        return Err(format!("cannot merge:\n  {}", problems.join("\n  ")));
    }
    let mut providers: Vec<String> = inputs.iter().flat_map(|m| m.providers.clone()).collect();
    providers.sort();
    providers.dedup();
    let mut summary = Summary::default();
    let mut required = (0, 0);
    for g in &groups {
        for k in &g.checks {
            summary.total += 1;
            let req = k.severity == "required";
            match k.status {
                Status::Pass => summary.pass += 1,
                Status::Fail => {
                    summary.fail += 1;
                    required.0 += usize::from(req);
                }
                Status::Repaired => summary.repaired += 1,
                Status::Blocked => {
                    summary.blocked += 1;
                    required.1 += usize::from(req);
                }
                Status::Skipped => summary.skipped += 1,
                Status::Waived => summary.waived += 1,
            }
        }
    }
    summary.required_fail = required.0;
    summary.required_blocked = required.1;
    let interrupted = inputs.iter().any(|m| m.interrupted);
    let status = if summary.required_fail > 0 {
        RunStatus::Fail
    } else if summary.required_blocked > 0 || interrupted {
        RunStatus::Blocked
    } else {
        RunStatus::Pass
    };
    let earliest =
        |f: fn(&Manifest) -> &String| inputs.iter().map(f).min().cloned().unwrap_or_default();
    let latest =
        |f: fn(&Manifest) -> &String| inputs.iter().map(f).max().cloned().unwrap_or_default();
    let mut missing: Vec<String> = inputs
        .iter()
        .flat_map(|m| m.missing_requirements.clone())
        .collect();
    missing.sort();
    missing.dedup();
    let now = jiff::Timestamp::now();
    Ok(Manifest {
        schema_version: manifest::SCHEMA_VERSION,
        id: new_id(now, &first.topology),
        status,
        environment: first.environment.clone(),
        topology: first.topology.clone(),
        providers,
        mode: if inputs.iter().any(|m| m.mode == Mode::Repair) {
            Mode::Repair
        } else {
            Mode::Inspect
        },
        created_at: fmt_time(now),
        started_at: earliest(|m| &m.started_at),
        finished_at: latest(|m| &m.finished_at),
        expires_at: earliest(|m| &m.expires_at),
        tool: first.tool.clone(),
        catalogs,
        groups,
        summary,
        missing_requirements: missing,
        repairs: inputs.iter().flat_map(|m| m.repairs.clone()).collect(),
        waivers: inputs.iter().flat_map(|m| m.waivers.clone()).collect(),
        scope: first.scope.clone(),
        replayed_from: inputs.iter().find_map(|m| m.replayed_from.clone()),
        interrupted,
        merged_from: inputs.iter().map(|m| m.id.clone()).collect(),
    })
}

/// `labcert merge`: reads every input (all problems at once), merges, writes atomically.
pub fn run(inputs: &[PathBuf], out: &Path) -> i32 {
    let mut read = Vec::new();
    let mut bad = Vec::new();
    for p in inputs {
        match manifest::read(p) {
            Ok((_, m)) => read.push(m),
            Err(e) => bad.push(format!("{}: {e}", p.display())),
        }
    }
    if !bad.is_empty() {
        eprintln!("error: cannot read every input:\n  {}", bad.join("\n  "));
        return crate::exit::INVALID;
    }
    match merge(&read).and_then(|m| manifest::write_atomic(&m, out).map(|_| m)) {
        Ok(m) => {
            println!(
                "merged {} certifications into {} ({}): {} — providers {}",
                read.len(),
                out.display(),
                m.id,
                m.status.as_str(),
                m.providers.join(",")
            );
            crate::exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            crate::exit::INVALID
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::CheckEntry;

    fn check(id: &str, status: Status) -> CheckEntry {
        serde_json::from_value(serde_json::json!({
            "id": id, "check": id, "title": id, "severity": "required", "status": status,
            "attempts": [], "durationMs": 0, "expectations": [], "captures": {}, "source": "x:1"
        }))
        .unwrap()
    }

    fn group(checks: Vec<CheckEntry>) -> GroupResult {
        GroupResult {
            catalog: "reachability".into(),
            id: "g".into(),
            title: "g".into(),
            status: Status::Pass,
            checks,
        }
    }

    #[test]
    fn reachability_copies_keep_each_checks_worst_result() {
        let a = group(vec![check("a", Status::Pass), check("b", Status::Skipped)]);
        let b = group(vec![
            check("a", Status::Fail),
            check("b", Status::Pass),
            check("c", Status::Pass),
        ]);
        let g = worst_of(&a, [&b].into_iter());
        let st: Vec<(String, Status)> = g.checks.iter().map(|c| (c.id.clone(), c.status)).collect();
        assert_eq!(
            st,
            [
                ("a".into(), Status::Fail),
                ("b".into(), Status::Pass),
                ("c".into(), Status::Pass)
            ]
        );
        assert_eq!(g.status, Status::Fail);
    }
}
