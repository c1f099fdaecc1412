//! `checks.<id>.<capture>` at plan time: placeholders for values only the run will know.
//!
//! A group need can name hundreds of checks, and every check of the group sees them all;
//! the placeholders are built once per group (a shared layer) instead of once per check.

use std::collections::HashMap;
use std::sync::Arc;

use minijinja::Value as MjValue;
use minijinja::value::{Enumerator, Object};
use serde_json::{Map, Value};

use crate::analyze::{Analysis, DefId};
use crate::template::to_ctx;
use crate::workspace::LoadedCatalog;

type Layer = Arc<Vec<(String, MjValue)>>;

/// The `checks` name of one check's template context.
#[derive(Debug)]
pub(super) struct Captures {
    layers: Vec<Layer>,
}

impl Object for Captures {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        let k = key.as_str()?;
        let found: Vec<&MjValue> = self
            .layers
            .iter()
            .flat_map(|l| l.iter())
            .filter(|(id, _)| id == k)
            .map(|(_, v)| v)
            .collect();
        match found.as_slice() {
            [] => None,
            [one] => Some((*one).clone()),
            // Two needed checks share a local id (in different groups): offer both's captures.
            many => {
                let mut merged = Map::new();
                for v in many {
                    if let Ok(Value::Object(m)) = serde_json::to_value(v) {
                        merged.extend(m);
                    }
                }
                Some(to_ctx(Value::Object(merged)))
            }
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut ids: Vec<MjValue> = self
            .layers
            .iter()
            .flat_map(|l| l.iter())
            .map(|(id, _)| MjValue::from(id.as_str()))
            .collect();
        ids.dedup();
        Enumerator::Values(ids)
    }
}

/// Builds the `checks` value for each check definition, sharing group layers.
#[derive(Default)]
pub(super) struct Builder {
    per_target: HashMap<DefId, MjValue>,
    per_group: HashMap<(usize, usize), Layer>,
}

impl Builder {
    pub(super) fn for_check(
        &mut self,
        cats: &[LoadedCatalog],
        analysis: &Analysis,
        d: DefId,
    ) -> MjValue {
        let needs = analysis
            .needs
            .get(&d)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let group_prefix = format!("/groups/{}/needs/", d.group);
        let (group, own): (Vec<_>, Vec<_>) = needs
            .iter()
            .partition(|n| n.pointer.starts_with(&group_prefix));
        let mut layers = Vec::new();
        if !group.is_empty() {
            let key = (d.cat, d.group);
            if !self.per_group.contains_key(&key) {
                let layer = self.layer(cats, analysis, group.iter().map(|n| &n.target));
                self.per_group.insert(key, layer);
            }
            layers.push(self.per_group[&key].clone());
        }
        if !own.is_empty() {
            layers.push(self.layer(cats, analysis, own.iter().map(|n| &n.target)));
        }
        MjValue::from_object(Captures { layers })
    }

    fn layer<'a>(
        &mut self,
        cats: &[LoadedCatalog],
        analysis: &Analysis,
        targets: impl Iterator<Item = &'a crate::analyze::Target>,
    ) -> Layer {
        let mut out = Vec::new();
        for t in targets {
            for td in analysis.index.expand(t) {
                let k = &cats[td.cat].model.groups[td.group].checks[td.check];
                let v = self
                    .per_target
                    .entry(td)
                    .or_insert_with(|| {
                        let caps: Map<String, Value> = k
                            .capture
                            .keys()
                            .map(|c| {
                                (
                                    c.clone(),
                                    Value::String(format!("<capture:checks.{}.{c}>", k.id)),
                                )
                            })
                            .collect();
                        to_ctx(Value::Object(caps))
                    })
                    .clone();
                out.push((k.id.clone(), v));
            }
        }
        Arc::new(out)
    }
}
