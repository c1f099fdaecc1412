//! Templated strings (minijinja, strict undefined): names they use, and rendering to native values.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::OnceLock;

use minijinja::value::{Kwargs, Serde, Value as MjValue};
use minijinja::{Environment, Error, ErrorKind, Expression, UndefinedBehavior};
use serde_json::Value;

/// Names minijinja provides itself; never "undefined" in a catalog.
pub(crate) const BUILTINS: &[&str] = &[
    "range",
    "dict",
    "namespace",
    "lipsum",
    "cycler",
    "joiner",
    "debug",
    "loop",
    "true",
    "false",
    "none",
];

/// The shared environment: strict undefined, plus the filters catalogs need.
pub(crate) fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_filter("with", with);
        env.add_filter("shquote", shquote);
        env
    })
}

/// `{{ vars.url | shquote }}`: a string or number as one POSIX shell word (single-quoted),
/// for templates inside a remote shell command.
fn shquote(v: MjValue) -> Result<String, Error> {
    use minijinja::value::ValueKind;
    let text = match v.kind() {
        ValueKind::String => v.as_str().unwrap_or_default().to_string(),
        ValueKind::Number | ValueKind::Bool => v.to_string(),
        other => {
            let what = match other {
                ValueKind::Seq | ValueKind::Iterable => "a list",
                ValueKind::Map => "a map",
                _ => "nothing (none)",
            };
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "`shquote` quotes a string or a number, not {what}: \
                     give each value its own `| shquote`, or use `argv`"
                ),
            ));
        }
    };
    // A secret is substituted after rendering: quoting its placeholder would leave the
    // value itself unquoted.
    if text.contains("<secret:") {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "`shquote` cannot quote a secret (its value is substituted when the probe runs): \
             pass it as an `argv` element",
        ));
    }
    crate::shell::quote(&text).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("`shquote`: the value {e}"),
        )
    })
}

/// `{{ read.data | with(bridge_vlan_aware=1) }}`: a copy of a map with some keys set.
fn with(base: MjValue, kwargs: Kwargs) -> Result<MjValue, Error> {
    // At plan time a captured map is a placeholder: show what would be sent.
    if let Some(placeholder) = base.as_str().filter(|s| s.starts_with("<capture:")) {
        let mut set = Vec::new();
        for key in kwargs.args() {
            let v: MjValue = kwargs.get(key)?;
            set.push(format!("{key}={v}"));
        }
        kwargs.assert_all_used()?;
        return Ok(MjValue::from(format!(
            "{placeholder} with {}",
            set.join(", ")
        )));
    }
    let mut map: serde_json::Map<String, Value> = match serde_json::to_value(&base) {
        Ok(Value::Object(m)) => m,
        Ok(Value::Null) => serde_json::Map::new(),
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "`with` applies to a map",
            ));
        }
    };
    for key in kwargs.args() {
        let v: MjValue = kwargs.get(key)?;
        map.insert(
            key.to_string(),
            serde_json::to_value(&v).unwrap_or(Value::Null),
        );
    }
    kwargs.assert_all_used()?;
    Ok(MjValue::from(Serde(Value::Object(map))))
}

/// A template context under construction: top-level names to values. minijinja values
/// are shared, so cloning a context copies pointers, not data.
pub(crate) type Ctx = std::collections::BTreeMap<String, MjValue>;

/// A context as the value templates render against.
pub(crate) fn ctx_value(ctx: &Ctx) -> MjValue {
    MjValue::from(ctx.clone())
}

/// A JSON value as a template context.
pub(crate) fn to_ctx(v: Value) -> MjValue {
    MjValue::from(Serde(v))
}

pub(crate) fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// The inner expression when the whole string is one `{{ … }}`: rendered natively, not as text.
fn whole_expression(s: &str) -> Option<&str> {
    let t = s.trim();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%"))
        .then_some(inner.trim())
}

/// Expressions (`when`, `exclude`, guards) may be written bare or inside `{{ }}`.
fn expression_text(s: &str) -> &str {
    whole_expression(s).unwrap_or(s.trim())
}

/// A compiled expression; the environment is `'static`, so compiled forms can be kept.
type Compiled = Rc<Expression<'static, 'static>>;

thread_local! {
    /// Catalogs repeat some strings many times (a probe template's URL, once per check):
    /// those are compiled once. A compiled expression takes kilobytes, so a string is kept
    /// only from its third use on; most strings are used twice (validated, then rendered).
    static COMPILED: RefCell<HashMap<String, Compiled>> = RefCell::new(HashMap::new());
    static USES: RefCell<HashMap<u64, u8>> = RefCell::new(HashMap::new());
}

fn compiled(src: &str) -> Result<Compiled, Error> {
    if let Some(c) = COMPILED.with(|m| m.borrow().get(src).cloned()) {
        return Ok(c);
    }
    let c = Rc::new(env().compile_expression_owned(src.to_string())?);
    let key = {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        BuildHasherDefault::<DefaultHasher>::default().hash_one(src)
    };
    let uses = USES.with(|u| {
        let mut u = u.borrow_mut();
        let n = u.entry(key).or_insert(0);
        *n = n.saturating_add(1);
        *n
    });
    if uses >= 3 {
        COMPILED.with(|m| m.borrow_mut().insert(src.to_string(), c.clone()));
    }
    Ok(c)
}

/// A text template as one expression, `"lit" ~ (expr) ~ "lit"`, which compiles once and
/// renders the same text. `None` for statements, comments or whitespace control.
fn as_concat(s: &str) -> Option<String> {
    if s.contains("{%") || s.contains("{#") || s.contains("{{-") || s.contains("-}}") {
        return None;
    }
    let lit = |t: &str| {
        format!(
            "\"{}\"",
            t.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
                .replace('\r', "\\r")
                .replace('\t', "\\t")
        )
    };
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        if i > 0 {
            parts.push(lit(&rest[..i]));
        }
        let after = &rest[i + 2..];
        let j = after.find("}}")?;
        let e = after[..j].trim();
        if e.is_empty() {
            return None;
        }
        parts.push(format!("({e})"));
        rest = &after[j + 2..];
    }
    if !rest.is_empty() {
        parts.push(lit(rest));
    }
    Some(if parts.is_empty() {
        "\"\"".into()
    } else {
        parts.join(" ~ ")
    })
}

/// Dotted names a template reads (`vars.url`, `item`), or its syntax error.
pub(crate) fn names(s: &str) -> Result<BTreeSet<String>, Error> {
    let set = match whole_expression(s) {
        Some(e) => compiled(e)?.undeclared_variables(true),
        None => match as_concat(s).map(|c| compiled(&c)) {
            Some(Ok(c)) => c.undeclared_variables(true),
            // The template engine's own error says where the syntax is wrong.
            _ => env().template_from_str(s)?.undeclared_variables(true),
        },
    };
    Ok(set.into_iter().collect())
}

/// Dotted names an expression reads.
pub(crate) fn expression_names(s: &str) -> Result<BTreeSet<String>, Error> {
    Ok(compiled(expression_text(s))?
        .undeclared_variables(true)
        .into_iter()
        .collect())
}

/// Renders a string; a lone `{{ expr }}` keeps the expression's type (a list stays a list).
pub(crate) fn render(s: &str, ctx: &MjValue) -> Result<Value, Error> {
    if !is_template(s) {
        return Ok(Value::String(s.to_string()));
    }
    if let Some(e) = whole_expression(s) {
        let v = compiled(e)?.eval(ctx)?;
        if v.is_undefined() {
            return Err(Error::new(
                ErrorKind::UndefinedError,
                format!("`{e}` is undefined"),
            ));
        }
        return serde_json::to_value(&v)
            .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()));
    }
    if let Some(Ok(c)) = as_concat(s).map(|c| compiled(&c)) {
        return Ok(Value::String(c.eval(ctx)?.to_string()));
    }
    env().render_str(s, ctx).map(Value::String)
}

/// Evaluates an expression to a truth value.
pub(crate) fn truthy(s: &str, ctx: &MjValue) -> Result<bool, Error> {
    let v = compiled(expression_text(s))?.eval(ctx)?;
    if v.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            format!("`{}` is undefined", expression_text(s)),
        ));
    }
    Ok(v.is_true())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_and_text_rendering() {
        let ctx = to_ctx(serde_json::json!({"vars": {"nodes": ["a", "b"], "n": 2}}));
        assert_eq!(
            render("{{ vars.nodes }}", &ctx).unwrap(),
            serde_json::json!(["a", "b"])
        );
        assert_eq!(
            render("n={{ vars.n }}", &ctx).unwrap(),
            serde_json::json!("n=2")
        );
        assert!(render("{{ vars.missing }}", &ctx).is_err());
        assert!(render("x {{ vars.missing }}", &ctx).is_err());
        assert!(truthy("vars.n == 2", &ctx).unwrap());
        assert_eq!(
            render("a \"{{ vars.n }}\"\n{{ vars.nodes }}", &ctx).unwrap(),
            serde_json::json!("a \"2\"\n['a', 'b']")
        );
        assert_eq!(
            render("{% if vars.n %}yes{% endif %}", &ctx).unwrap(),
            serde_json::json!("yes")
        );
        let names = names("{{ vars.url }}/x/{{ item.iface }}").unwrap();
        assert!(names.contains("vars.url") && names.contains("item.iface"));
    }

    /// The compiled shortcut renders exactly what the template engine would.
    #[test]
    fn concatenation_matches_the_template_engine() {
        let ctx =
            to_ctx(serde_json::json!({"l": ["a", "b"], "m": {"k": 1}, "n": null, "s": "x\\y\"z"}));
        for t in [
            "{{ l }}|{{ m }}|{{ n }}",
            "p\\q \"{{ s }}\"\t{{ l | length }}",
            "{{ s }}{{ s }}",
            "a}b{{ 1 + 2 }}c",
        ] {
            let direct = env().render_str(t, &ctx).unwrap();
            assert_eq!(render(t, &ctx).unwrap(), serde_json::json!(direct), "{t}");
        }
    }

    #[test]
    fn shquote_makes_one_shell_word() {
        let ctx = to_ctx(serde_json::json!({
            "url": "http://m/x?a=1&b=2; touch /tmp/pwned",
            "q": "it's \"quoted\"\n$(x) `y` naïve",
            "n": 1472,
            "l": ["a"],
            "s": "<secret:token>",
            "z": "a\0b",
        }));
        let r = |t: &str| render(t, &ctx);
        assert_eq!(
            r("curl {{ url | shquote }}").unwrap(),
            serde_json::json!("curl 'http://m/x?a=1&b=2; touch /tmp/pwned'")
        );
        assert_eq!(
            r("{{ q | shquote }}").unwrap(),
            serde_json::json!("'it'\\''s \"quoted\"\n$(x) `y` naïve'")
        );
        assert_eq!(r("{{ n | shquote }}").unwrap(), serde_json::json!("'1472'"));
        assert_eq!(
            r("{{ (n - 28) | shquote }}").unwrap(),
            serde_json::json!("'1444'")
        );
        for bad in [
            "{{ l | shquote }}",
            "{{ s | shquote }}",
            "{{ z | shquote }}",
            "{{ none | shquote }}",
        ] {
            assert!(r(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn with_filter_merges() {
        let ctx = to_ctx(serde_json::json!({"d": {"a": 1}}));
        assert_eq!(
            render("{{ d | with(b=2) }}", &ctx).unwrap(),
            serde_json::json!({"a": 1, "b": 2})
        );
    }
}
