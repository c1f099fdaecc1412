//! `labcert merge A B… --out M`: one certification from several runs of the same
//! environment and topology (e.g. PVE and cloud certified in separate CI jobs). Providers
//! are united, groups kept in catalog order, every roll-up, the summary and the status
//! recomputed from the checks (`manifest::verdict`), and `expiresAt` is the earliest. A provider catalog's group certified by two inputs, or inputs
//! for different environments, topologies or catalog versions, are refused. The reachability
//! catalog runs in every certification: its groups are merged check by check, keeping each
//! check's worst result.

use std::path::{Path, PathBuf};

use crate::error::{Error, Outcome};
use crate::exit::Exit;
use crate::manifest::provenance::{fmt_time, new_id, short_digest};
use crate::manifest::{self, CatalogRef, GroupResult, Manifest, Mode, RunStatus, Summary, verdict};
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
    g.status = verdict::group_status(&g.checks);
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
    let inputs_union = union_inputs(inputs, &mut problems);
    if !problems.is_empty() {
        return Err(format!("cannot merge:\n  {}", problems.join("\n  ")));
    }
    let mut providers: Vec<String> = inputs.iter().flat_map(|m| m.providers.clone()).collect();
    providers.sort();
    providers.dedup();
    let interrupted = inputs.iter().any(|m| m.interrupted);
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
    let mut merged = Manifest {
        schema_version: manifest::SCHEMA_VERSION,
        id: new_id(now, &first.topology),
        // Derived from the checks below, by the one rule.
        status: RunStatus::Blocked,
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
        summary: Summary::default(),
        missing_requirements: missing,
        repairs: inputs.iter().flat_map(|m| m.repairs.clone()).collect(),
        waivers: inputs.iter().flat_map(|m| m.waivers.clone()).collect(),
        inputs: inputs_union,
        scope: first.scope.clone(),
        replayed_from: inputs.iter().find_map(|m| m.replayed_from.clone()),
        interrupted,
        merged_from: inputs.iter().map(|m| m.id.clone()).collect(),
    };
    verdict::apply(&mut merged);
    Ok(merged)
}

/// The inputs every certification was planned with, united; one var bound to different
/// values by two inputs means they certified different labs.
fn union_inputs(inputs: &[Manifest], problems: &mut Vec<String>) -> manifest::PlanInputs {
    let mut all = manifest::PlanInputs::new();
    for m in inputs {
        for (cat, vars) in &m.inputs {
            let into = all.entry(cat.clone()).or_default();
            for (name, v) in vars {
                match into.get(name) {
                    None => {
                        into.insert(name.clone(), v.clone());
                    }
                    Some(x) if x != v => problems.push(format!(
                        "input `{cat}.{name}` differs between inputs ({} in {}): certify with the same inputs",
                        short(v),
                        m.id
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    all
}

fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// `labcert merge`: reads every input (all problems at once), merges, writes atomically.
pub fn run(inputs: &[PathBuf], out: &Path) -> Outcome {
    manifest::check_target(out).map_err(|e| Error::Output(format!("--out: {e}")))?;
    let mut read = Vec::new();
    let mut bad = Vec::new();
    for p in inputs {
        match manifest::read(p) {
            Ok((_, m)) => read.push(m),
            Err(e) => bad.push(format!("{}: {e}", p.display())),
        }
    }
    if !bad.is_empty() {
        return Err(Error::Input(format!(
            "cannot read every input:\n  {}",
            bad.join("\n  ")
        )));
    }
    let m = merge(&read).map_err(Error::Input)?;
    manifest::write_atomic(&m, out).map_err(Error::Output)?;
    crate::output::stdout(&format!(
        "merged {} certifications into {} ({}): {} — providers {}\n",
        read.len(),
        out.display(),
        m.id,
        m.status.as_str(),
        m.providers.join(",")
    ))?;
    Ok(Exit::Ok)
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
