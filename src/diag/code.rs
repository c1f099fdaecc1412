//! Stable diagnostic codes. Never renumber: users and CI grep for them.

macro_rules! codes {
    ($($name:ident = $code:literal, $doc:literal;)*) => {
        /// A stable diagnostic code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $(#[doc = $doc] $name,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$name,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$name => $code,)* }
            }

            pub fn describe(self) -> &'static str {
                match self { $(Code::$name => $doc,)* }
            }
        }
    };
}

codes! {
    Io = "E001", "a file could not be read";
    UnknownFileKind = "E002", "a file is neither a catalog nor a topology";
    Parse = "E100", "YAML or TOML syntax error";
    DuplicateKey = "E101", "the same key appears twice in one mapping";
    TooLarge = "E102", "a file too large to load: its size, YAML alias expansion or nesting depth passes a limit";
    UnknownKey = "E110", "a key the language does not know";
    WrongType = "E111", "a value of the wrong type";
    MissingKey = "E112", "a required key is missing";
    InvalidValue = "E113", "a value outside the allowed set or form";
    InvalidDuration = "E114", "a duration that cannot be read";
    InvalidId = "E115", "an id with characters other than letters, digits, '-' and '_'";
    DuplicateId = "E200", "two groups or checks share an id";
    UnknownNeed = "E201", "`needs` names a check or group that does not exist";
    Cycle = "E202", "checks depend on each other in a cycle";
    SelfDependency = "E203", "a check or group needs itself";
    UnknownCapture = "E204", "a template reads a capture its check does not need or that is not captured";
    UndefinedName = "E210", "a template uses a name that is not defined";
    TemplateSyntax = "E211", "a template that does not parse";
    UnknownFilter = "E212", "a template uses a filter that does not exist";
    UnquotedShellValue = "W213", "a template value is rendered into an `ssh` command line (a remote shell string) without `| shquote`";
    InvalidRegex = "E220", "a regular expression that does not compile";
    InvalidJmespath = "E221", "a JMESPath query that does not parse";
    InvalidSemver = "E222", "a semver requirement that does not parse";
    InvalidCidr = "E223", "a CIDR that does not parse";
    UnknownProbeTemplate = "E230", "`use` names a probe template that does not exist";
    UnknownParameter = "E231", "`with` passes a parameter the probe template does not declare";
    MissingParameter = "E232", "a required probe template parameter is not passed";
    ProbeKind = "E233", "a probe must have exactly one kind (or `use`)";
    ParameterType = "E234", "a probe template parameter is passed a value of the wrong type";
    TlsOnPlaintext = "E235", "an `http` probe sets `tls` on a plaintext `http://` URL";
    LiteralSecret = "E240", "a secret given as a literal where a reference is required";
    InvalidSecretRef = "E241", "a secret reference with an unknown scheme";
    SecretTransformed = "E242", "a filter, expression or condition applies to a secret (only `{{ secrets.name }}` alone is substituted)";
    MatcherCount = "E250", "an expectation must have exactly one matcher";
    UnknownConcurrencyGroup = "E251", "a check names a concurrency group the catalog does not declare";
    UnknownCatalog = "E260", "a topology or `needs` names a catalog that does not exist";
    UnknownInput = "E261", "a topology binds a var or secret the catalog does not declare";
    InputType = "E262", "a bound var does not have the declared type";
    UnboundInput = "W263", "a required var or secret is left unbound (checks using it will be blocked)";
    DuplicateCatalog = "E264", "two files declare the same catalog id";
    BadOverride = "E265", "a --var override that cannot be applied";
    UnknownTopology = "E266", "the topology named on the command line was not found";
    CatalogFile = "E267", "a topology's `file:` for a catalog is outside the catalog root, missing, not a regular file, or not where the catalog is defined";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for c in Code::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(
                s.len() == 4 && (s.starts_with('E') || s.starts_with('W')),
                "{s}"
            );
            assert!(!c.describe().is_empty());
        }
    }
}
