//! What a certification needs before it probes anything: how long it will be valid, the
//! secrets it resolves, the prober (live, recorded or replayed) and the waivers in force.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::Request;
use crate::error::Error;
use crate::gate::waivers::Waivers;
use crate::model::topology::DEFAULT_MAX_VALID;
use crate::plan::Plan;
use crate::run::prober::Prober;
use crate::run::record::{Recorder, Replay};
use crate::run::secrets::Secrets;
use crate::validate::Set;

/// Everything decided before the first probe.
pub(super) struct Setup {
    pub valid_for: Duration,
    pub secrets: Arc<Secrets>,
    pub prober: Arc<dyn Prober>,
    pub recorder: Option<Arc<Recorder>>,
    pub replay: Option<(PathBuf, Arc<Replay>)>,
    pub waivers: Option<Arc<Waivers>>,
}

pub(super) fn prepare(
    args: &Request,
    set: &Set,
    plan: &Plan,
    live: Arc<dyn Prober>,
) -> Result<Setup, Error> {
    let valid_for = validity(&args.valid_for, set).map_err(Error::Usage)?;
    let refs = secret_refs(set, plan);
    let secrets = Arc::new(if replay_dir(args, set).is_some() {
        Secrets::resolve_for_replay(&refs)
    } else {
        Secrets::resolve(&refs)
    });
    let (prober, recorder, replay) = probers(args, set, live, &secrets).map_err(Error::Input)?;
    let waivers = match &args.waivers {
        Some(f) => Some(Arc::new(
            Waivers::load(f, jiff::Timestamp::now()).map_err(Error::Input)?,
        )),
        None => None,
    };
    Ok(Setup {
        valid_for,
        secrets,
        prober,
        recorder,
        replay,
        waivers,
    })
}

type Probers = (
    Arc<dyn Prober>,
    Option<Arc<Recorder>>,
    Option<(PathBuf, Arc<Replay>)>,
);

/// The prober for this run: live (optionally recorded), or a replay of a recording —
/// `--replay DIR`, else the topology's `replay` unless `--live`.
fn probers(
    args: &Request,
    set: &Set,
    live: Arc<dyn Prober>,
    secrets: &Arc<Secrets>,
) -> Result<Probers, String> {
    if let Some(dir) = replay_dir(args, set) {
        let r = Arc::new(Replay::load(&dir, secrets.clone())?);
        return Ok((r.clone(), None, Some((dir, r))));
    }
    if args.record.is_some() {
        let rec = Arc::new(Recorder::new(live, secrets.clone()));
        return Ok((rec.clone(), Some(rec), None));
    }
    Ok((live, None, None))
}

/// The recording to replay: `--replay DIR`, else the topology's `replay` unless `--live`
/// or `--record`.
fn replay_dir(args: &Request, set: &Set) -> Option<PathBuf> {
    let from_topology = || {
        let t = set.topologies.last()?;
        let rel = t.model.replay.as_ref()?;
        let base = t.doc.source.path.parent().unwrap_or(Path::new("."));
        Some(base.join(rel))
    };
    match (&args.replay, args.live || args.record.is_some()) {
        (Some(d), _) => Some(d.clone()),
        (None, false) => from_topology(),
        (None, true) => None,
    }
}

/// `--valid-for`, bounded by the topology's `max_valid_for` (default 24 h); without it, 24 h
/// or the topology's bound when that is shorter.
pub(super) fn validity(text: &Option<String>, set: &Set) -> Result<Duration, String> {
    let topo = set.topologies.last();
    let max = topo.map_or(DEFAULT_MAX_VALID, |t| t.model.max_valid());
    if max.is_zero() {
        let name = topo.map_or("", |t| t.model.topology.as_str());
        return Err(format!(
            "topology `{name}` sets max_valid_for to 0: no certification of it could be valid; \
             raise `max_valid_for` in the topology"
        ));
    }
    let Some(text) = text else {
        return Ok(max.min(DEFAULT_MAX_VALID));
    };
    let d = crate::model::duration::parse(text)
        .map_err(|e| format!("--valid-for `{text}`: {e}"))?
        .0;
    if d.is_zero() {
        return Err("--valid-for must be longer than zero".into());
    }
    if d > max {
        return Err(format!(
            "--valid-for {text} is longer than this topology allows ({}); raise `max_valid_for` in the topology to allow it",
            crate::model::duration::Duration(max)
        ));
    }
    Ok(d)
}

/// Secret references of the selected catalogs: the topology's binding, else the default.
fn secret_refs(set: &Set, plan: &crate::plan::Plan) -> Vec<(String, String, String)> {
    let Some(topo) = set.topologies.last() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for pc in plan.catalogs.iter().filter(|c| c.selected) {
        let Some(c) = set.catalogs.iter().find(|c| c.model.catalog == pc.id) else {
            continue;
        };
        let binding = topo.model.catalogs.get(&pc.id);
        for (name, decl) in &c.model.secrets {
            let reference = binding
                .and_then(|b| b.secrets.get(name))
                .or(decl.default.as_ref());
            if let Some(r) = reference {
                out.push((pc.id.clone(), name.clone(), r.clone()));
            }
        }
    }
    out
}
