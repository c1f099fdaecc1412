//! Why a check ended as it did, beyond its status: the run's own reasons as variants, and the
//! reason classes probes and catalogs name (`refused`, `http_401`, `source_unreachable`, …)
//! as `Class`. Written to manifests as the same strings as ever.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A need did not pass (or the plan already knew it would not).
    Dependency,
    /// Not started: an interrupt, `--fail-fast`, or a substrate failure in qualification.
    Cancelled,
    /// An input (a var, a secret) is missing.
    MissingRequirement,
    /// Not run, as the plan decided (provider not selected, `when` false, a need skipped).
    Skipped,
    /// An expectation did not hold.
    Expectation,
    /// Its probe or expectations could not be rendered at run time.
    Render,
    /// An expectation that is not valid once rendered.
    Invalid,
    /// labcert itself failed running the check.
    Internal,
    /// A waiver in force covers the failure.
    Waived,
    /// Failed, then repaired and verified.
    Repaired,
    /// The repair ran but the check still fails, or a step failed.
    RepairFailed,
    /// The repair made a check that had passed fail.
    RepairBroke,
    /// A replay found no recorded exchange for the request.
    NotRecorded,
    /// A probe's reason class or one a catalog's `classify` rule names.
    Class(String),
}

impl Reason {
    pub fn as_str(&self) -> &str {
        match self {
            Reason::Dependency => "dependency",
            Reason::Cancelled => "cancelled",
            Reason::MissingRequirement => "missing_requirement",
            Reason::Skipped => "skipped",
            Reason::Expectation => "expectation",
            Reason::Render => "render",
            Reason::Invalid => "invalid",
            Reason::Internal => "internal",
            Reason::Waived => "waived",
            Reason::Repaired => "repaired",
            Reason::RepairFailed => "repair_failed",
            Reason::RepairBroke => "repair_broke",
            Reason::NotRecorded => "not_recorded",
            Reason::Class(c) => c,
        }
    }

    /// The reason a string names: one of the run's own, else a class.
    pub fn parse(s: &str) -> Reason {
        match s {
            "dependency" => Reason::Dependency,
            "cancelled" => Reason::Cancelled,
            "missing_requirement" => Reason::MissingRequirement,
            "skipped" => Reason::Skipped,
            "expectation" => Reason::Expectation,
            "render" => Reason::Render,
            "invalid" => Reason::Invalid,
            "internal" => Reason::Internal,
            "waived" => Reason::Waived,
            "repaired" => Reason::Repaired,
            "repair_failed" => Reason::RepairFailed,
            "repair_broke" => Reason::RepairBroke,
            "not_recorded" => Reason::NotRecorded,
            other => Reason::Class(other.to_string()),
        }
    }

    /// Blocked because the run could not go on, not because of the lab: a need that did not
    /// pass or a stop. Qualification and the substrate stop do not count these.
    pub fn is_knock_on(&self) -> bool {
        matches!(self, Reason::Dependency | Reason::Cancelled)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Reason {
    fn from(s: &str) -> Reason {
        Reason::parse(s)
    }
}

impl From<String> for Reason {
    fn from(s: String) -> Reason {
        Reason::parse(&s)
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Reason, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        Ok(Reason::parse(&s))
    }
}

impl JsonSchema for Reason {
    fn schema_name() -> Cow<'static, str> {
        "Reason".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "The run's own reasons (dependency, cancelled, missing_requirement, skipped, expectation, render, invalid, internal, waived, repaired, repair_failed, repair_broke, not_recorded) or a probe's or catalog's reason class (refused, timeout, http_401, …)."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_back_as_itself() {
        for s in [
            "dependency",
            "cancelled",
            "missing_requirement",
            "skipped",
            "expectation",
            "render",
            "invalid",
            "internal",
            "waived",
            "repaired",
            "repair_failed",
            "repair_broke",
            "not_recorded",
            "refused",
            "http_401",
            "source_unreachable",
        ] {
            let r = Reason::parse(s);
            assert_eq!(r.as_str(), s);
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<Reason>(&json).unwrap(), r);
        }
        assert_eq!(Reason::parse("refused"), Reason::Class("refused".into()));
    }
}
