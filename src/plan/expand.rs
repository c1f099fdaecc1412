//! `for_each`: one instance per list item or matrix combination, with ids derived from items.

use serde_json::{Map, Value};

use crate::model::shapes::{ForEach, ListSource};
use crate::template::{self, Ctx, ctx_value, to_ctx};

/// One instance of a check: its id suffix and the loop variables it binds.
pub(super) struct Instance {
    pub suffix: Option<String>,
    pub bindings: Map<String, Value>,
}

/// Expands a check's `for_each` against `base` (the context without loop variables).
pub(super) fn expand(for_each: Option<&ForEach>, base: &Ctx) -> Result<Vec<Instance>, String> {
    let Some(fe) = for_each else {
        return Ok(vec![Instance {
            suffix: None,
            bindings: Map::new(),
        }]);
    };
    let ctx = ctx_value(base);
    let mut out = Vec::new();
    match fe {
        ForEach::List(src) => {
            for item in list(src, &ctx, "for_each")? {
                let mut b = Map::new();
                let suffix = derive_id(&item);
                b.insert("item".into(), item);
                out.push(Instance {
                    suffix: Some(suffix),
                    bindings: b,
                });
            }
        }
        ForEach::Matrix(m) => {
            let mut combos: Vec<Map<String, Value>> = vec![Map::new()];
            for (name, src) in &m.matrix {
                let items = list(src, &ctx, &format!("for_each.matrix.{name}"))?;
                let mut next = Vec::with_capacity(combos.len() * items.len());
                for c in &combos {
                    for it in &items {
                        let mut c2 = c.clone();
                        c2.insert(name.clone(), it.clone());
                        next.push(c2);
                    }
                }
                combos = next;
            }
            'combo: for combo in combos {
                let mut full = base.clone();
                full.extend(combo.iter().map(|(k, v)| (k.clone(), to_ctx(v.clone()))));
                full.insert("item".into(), to_ctx(Value::Object(combo.clone())));
                let cctx = ctx_value(&full);
                for ex in &m.exclude {
                    if template::truthy(ex, &cctx).map_err(|e| format!("exclude `{ex}`: {e}"))? {
                        continue 'combo;
                    }
                }
                let suffix = match &m.id {
                    Some(t) => {
                        match template::render(t, &cctx).map_err(|e| format!("for_each.id: {e}"))? {
                            Value::String(s) => s,
                            other => other.to_string(),
                        }
                    }
                    None => combo.values().map(derive_id).collect::<Vec<_>>().join(","),
                };
                let mut b = combo.clone();
                b.insert("item".into(), Value::Object(combo));
                out.push(Instance {
                    suffix: Some(suffix),
                    bindings: b,
                });
            }
        }
    }
    dedupe(&mut out);
    Ok(out)
}

fn list(src: &ListSource, ctx: &minijinja::Value, what: &str) -> Result<Vec<Value>, String> {
    match src {
        ListSource::List(l) => Ok(l.clone()),
        ListSource::Template(t) => {
            match template::render(t, ctx).map_err(|e| format!("{what}: {e}"))? {
                Value::Array(a) => Ok(a),
                other => Err(format!(
                    "{what} must give a list, but `{t}` gave {}",
                    crate::schema::type_name(&other)
                )),
            }
        }
    }
}

/// A readable id for an item: its text, or its `id`/`name`/`iface`/`node`/`host`/`vmid` field.
pub(super) fn derive_id(item: &Value) -> String {
    match item {
        Value::String(s) => s.clone(),
        Value::Number(_) | Value::Bool(_) => item.to_string(),
        Value::Object(m) => ["id", "name", "iface", "node", "host", "vmid", "key"]
            .iter()
            .find_map(|k| m.get(*k).map(derive_id))
            .unwrap_or_else(|| item.to_string()),
        _ => item.to_string(),
    }
}

/// Two items with the same derived id get `#2`, `#3`… so every instance id is unique.
fn dedupe(list: &mut [Instance]) {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for inst in list.iter_mut() {
        if let Some(s) = &mut inst.suffix {
            let n = seen.entry(s.clone()).or_insert(0);
            *n += 1;
            if *n > 1 {
                s.push_str(&format!("#{n}"));
            }
        }
    }
}
