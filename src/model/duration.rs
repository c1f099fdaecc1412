//! Durations as people write them: `500ms`, `10s`, `2m`, `1h30m`, `1d`; a bare integer is seconds.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The pattern the schema gives editors; [`parse`] is the authority.
pub const PATTERN: &str = r"^([0-9]+(ms|s|m|h|d))+$";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub fn as_millis(self) -> u64 {
        self.0.as_millis() as u64
    }
}

/// Reads `1h30m`-style text; errors say what was wrong in words a user acts on.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    let mut total: u64 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("expected a number at `{rest}`"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| "number too large".to_string())?;
        rest = &rest[digits..];
        let unit = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let factor = match &rest[..unit] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" if rest.starts_with(char::is_whitespace) => {
                return Err(format!(
                    "no space allowed inside a duration; write `{}`",
                    t.split_whitespace().collect::<String>()
                ));
            }
            "" => return Err(format!("`{t}` has no unit; use ms, s, m, h or d")),
            other => return Err(format!("unknown unit `{other}`; use ms, s, m, h or d")),
        };
        rest = &rest[unit..];
        total = n
            .checked_mul(factor)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| "duration too large".to_string())?;
    }
    Ok(Duration(std::time::Duration::from_millis(total)))
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.as_millis();
        if ms == 0 {
            return write!(f, "0s");
        }
        let mut rest = ms;
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
            ("ms", 1),
        ] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => parse(&s).map_err(serde::de::Error::custom),
            serde_json::Value::Number(n) => n
                .as_u64()
                .map(|s| Duration(std::time::Duration::from_secs(s)))
                .ok_or_else(|| {
                    serde::de::Error::custom("a duration in seconds must be a whole number ≥ 0")
                }),
            _ => Err(serde::de::Error::custom("expected a duration like `10s`")),
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: `500ms`, `10s`, `2m`, `1h30m`, `1d`; a bare integer is seconds.",
            "type": ["string", "integer"],
            "pattern": PATTERN,
            "minimum": 0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        assert_eq!(parse("1h30m").unwrap().to_string(), "1h30m");
        assert_eq!(parse("500ms").unwrap().as_millis(), 500);
        assert_eq!(parse("10s").unwrap().as_millis(), 10_000);
        assert!(parse("10").is_err());
        assert!(parse("10x").is_err());
        assert!(parse("s").is_err());
        assert!(parse("").is_err());
    }
}
