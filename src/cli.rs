//! Command-line interface: clap types and dispatch.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::{Error, Outcome};
use crate::exit::Exit;

#[derive(Parser, Debug)]
#[command(
    name = "labcert",
    version,
    about = "Certify a test lab before a release is qualified on it"
)]
pub(crate) struct Cli {
    /// Catalog root: catalogs and `topologies/` live here.
    #[arg(long, global = true, env = "LABCERT_CATALOGS", value_name = "DIR")]
    pub catalogs: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Check catalogs and topologies: every syntax, schema and semantic error, located.
    Validate {
        /// Files or directories (default: the catalog root).
        paths: Vec<PathBuf>,
    },
    /// Expand, render and order the checks of a topology, without touching the network.
    Plan(PlanArgs),
    /// Probe the lab, judge every check and write a certification manifest.
    Certify(Box<CertifyArgs>),
    /// May a release start? Checks a certification against the request; never probes.
    Preflight(PreflightArgs),
    /// Qualify a release: preflight, then the qualification catalog (no repair, ever).
    Qualify(QualifyArgs),
    /// Combine certifications of one environment and topology made by separate runs.
    Merge {
        /// The manifests to merge.
        #[arg(required = true, num_args = 1..)]
        inputs: Vec<PathBuf>,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Make an ed25519 key pair for signing manifests (KEY and KEY.pub).
    Keygen {
        /// Where to write the secret key (the public key goes to KEY.pub).
        key: PathBuf,
    },
    /// Show a manifest to people: verdict and expiry, groups, failures, blocked checks, the
    /// repair ledger, waivers and the reachability matrix.
    Report {
        /// The manifest to show.
        manifest: PathBuf,
        #[arg(long, value_enum, default_value_t)]
        format: crate::report::command::ReportFormat,
    },
    /// What changed between two certifications (informational: exit 0 when both read).
    Diff {
        /// The earlier manifest.
        old: PathBuf,
        /// The later manifest.
        new: PathBuf,
        #[arg(long, value_enum, default_value_t)]
        format: crate::report::diff::DiffFormat,
    },
    /// Print a JSON Schema.
    Schema {
        #[arg(value_enum)]
        kind: SchemaKind,
    },
}

#[derive(clap::Args, Debug)]
pub(crate) struct PlanArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

/// What to plan or certify: a topology, its providers and inputs.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct TargetArgs {
    /// Topology name (under `<catalogs>/topologies/`) or path.
    #[arg(long)]
    pub topology: String,
    /// Providers to certify, comma separated (default: the topology's).
    #[arg(long, value_delimiter = ',')]
    pub providers: Vec<String>,
    /// Environment name shown to templates as `env.environment`.
    #[arg(long)]
    pub environment: Option<String>,
    /// Override an input: `catalog.var=value` (value read as JSON when it parses).
    #[arg(long = "var", value_name = "CATALOG.NAME=VALUE")]
    pub vars: Vec<String>,
    /// Inputs from a YAML or TOML file: `{ catalog: { var: value } }`.
    #[arg(long = "vars", value_name = "FILE")]
    pub vars_files: Vec<PathBuf>,
}

impl TargetArgs {
    /// The planner's request for these flags.
    pub(crate) fn target(&self) -> crate::plan::Target {
        crate::plan::Target {
            topology: self.topology.clone(),
            providers: self.providers.clone(),
            environment: self.environment.clone(),
            vars: self.vars.clone(),
            vars_files: self.vars_files.clone(),
            bound: Default::default(),
        }
    }
}

#[derive(clap::Args, Debug)]
pub(crate) struct QualifyArgs {
    /// The certification manifest preflight must accept first.
    #[arg(long, value_name = "FILE")]
    pub certification: PathBuf,
    /// The release (version or commit) being qualified.
    #[arg(long)]
    pub release: String,
    /// The qualification catalog: checks marked `class: product` or `class: substrate`.
    #[arg(long, value_name = "FILE")]
    pub catalog: PathBuf,
    /// Where to write the qualification result (JSON).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Environment to require (default: the certification's).
    #[arg(long)]
    pub environment: Option<String>,
    /// Topology to require (default: the certification's).
    #[arg(long)]
    pub topology: Option<String>,
    /// Providers to require (default: the certification's).
    #[arg(long, value_delimiter = ',')]
    pub providers: Vec<String>,
    /// Inputs of the qualification catalog: `catalog.name=value`.
    #[arg(long = "var", value_name = "CATALOG.NAME=VALUE")]
    pub vars: Vec<String>,
    #[arg(long = "vars", value_name = "FILE")]
    pub vars_files: Vec<PathBuf>,
    /// Require a valid signature by this public key.
    #[arg(long, value_name = "PUB")]
    pub verify_key: Option<PathBuf>,
    /// Accept a replayed certification (demos and tests only).
    #[arg(long)]
    pub allow_replayed: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct PreflightArgs {
    /// The certification manifest.
    #[arg(long, value_name = "FILE")]
    pub certification: PathBuf,
    #[arg(long)]
    pub environment: String,
    #[arg(long)]
    pub topology: String,
    /// Providers the release needs, comma separated (order does not matter).
    #[arg(long, value_delimiter = ',')]
    pub providers: Vec<String>,
    /// Require a valid signature (FILE.sig) by this public key.
    #[arg(long, value_name = "PUB")]
    pub verify_key: Option<PathBuf>,
    /// Accept catalogs that changed since the certification (reported loudly).
    #[arg(long)]
    pub allow_catalog_drift: bool,
    /// Accept a manifest replayed from a recording (demos and tests only; reported loudly).
    #[arg(long)]
    pub allow_replayed: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct CertifyArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Where to write the manifest (atomically).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// How long the certification stays valid: at most the topology's `max_valid_for` (24h
    /// unless the topology says otherwise); by default 24h, or that bound when shorter.
    #[arg(long, value_name = "DURATION")]
    pub valid_for: Option<String>,
    /// Checks running at once (probes mostly wait on I/O).
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub jobs: usize,
    /// Checks talking to one HTTP API endpoint at once (SSH hosts: `--ssh-channels`).
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub per_endpoint: usize,
    /// Commands in flight on one SSH connection (below the server's MaxSessions, 10 by default).
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub ssh_channels: usize,
    /// Stop starting checks after the first required failure (the rest are blocked: cancelled).
    #[arg(long)]
    pub fail_fast: bool,
    /// Also write JUnit XML (groups become suites).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Stream NDJSON events as they happen (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Also write a Markdown summary for a release PR.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// The release or commit range this certification is meant for.
    #[arg(long, value_name = "RANGE")]
    pub scope: Option<String>,
    /// Save every probe exchange (secrets masked) to DIR.
    #[arg(long, value_name = "DIR", conflicts_with = "replay")]
    pub record: Option<PathBuf>,
    /// Answer every probe from the recording in DIR; no network. Default: the topology's `replay`.
    #[arg(long, value_name = "DIR")]
    pub replay: Option<PathBuf>,
    /// Run the repair of each failing check that has one, then verify it by the check's own
    /// probe. Without it, those checks are reported as "would repair".
    #[arg(long)]
    pub repair: bool,
    /// Waivers (YAML/TOML/JSON): failing checks they cover become `waived`; the manifest
    /// lists them and expires no later than the earliest used.
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// Sign the manifest with this ed25519 secret key (see `labcert keygen`): writes OUT.sig.
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// Probe the real systems even when the topology names a recording to replay.
    #[arg(long, conflicts_with = "replay")]
    pub live: bool,
}

impl CertifyArgs {
    /// The certify request for these flags.
    pub(crate) fn request(&self) -> crate::certify::Request {
        crate::certify::Request {
            target: self.target.target(),
            out: self.out.clone(),
            valid_for: self.valid_for.clone(),
            jobs: self.jobs,
            per_endpoint: self.per_endpoint,
            ssh_channels: self.ssh_channels,
            fail_fast: self.fail_fast,
            junit: self.junit.clone(),
            events: self.events.clone(),
            markdown: self.markdown.clone(),
            scope: self.scope.clone(),
            record: self.record.clone(),
            replay: self.replay.clone(),
            repair: self.repair,
            waivers: self.waivers.clone(),
            sign: self.sign.clone(),
            live: self.live,
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlanFormat {
    Text,
    Json,
    Mermaid,
    Dot,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub(crate) enum SchemaKind {
    Catalog,
    Topology,
    Manifest,
    Qualification,
}

/// Parses the command line, runs the command, and turns its outcome into the process's
/// exit code: the one place an error is printed and a code chosen.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Invalid.code()
            } else {
                Exit::Ok.code()
            };
        }
    };
    match dispatch(cli) {
        Ok(exit) => exit.code(),
        Err(e) => {
            eprintln!("error: {e}");
            e.exit().code()
        }
    }
}

fn dispatch(cli: Cli) -> Outcome {
    let root = crate::workspace::root(cli.catalogs.as_deref());
    match cli.command {
        Command::Validate { paths } => crate::validate::run(&paths, &root),
        Command::Plan(args) => {
            use crate::plan::command::Format;
            let format = match args.format {
                PlanFormat::Text => Format::Text,
                PlanFormat::Json => Format::Json,
                PlanFormat::Mermaid => Format::Mermaid,
                PlanFormat::Dot => Format::Dot,
            };
            crate::plan::command::run(&args.target.target(), format, &root)
        }
        Command::Certify(args) => crate::certify::run(&args.request(), &root),
        Command::Preflight(args) => {
            use crate::gate::preflight::{Request, check, print};
            let verdict = check(&Request {
                certification: &args.certification,
                environment: &args.environment,
                topology: &args.topology,
                providers: args.providers.clone(),
                catalogs: &root,
                verify_key: args.verify_key.as_deref(),
                allow_catalog_drift: args.allow_catalog_drift,
                allow_replayed: args.allow_replayed,
                now: jiff::Timestamp::now(),
            });
            print(&verdict, &args.certification)
        }
        Command::Qualify(a) => crate::gate::qualify::run(
            &crate::gate::qualify::Request {
                certification: a.certification,
                release: a.release,
                catalog: a.catalog,
                out: a.out,
                environment: a.environment,
                topology: a.topology,
                providers: a.providers,
                vars: a.vars,
                vars_files: a.vars_files,
                verify_key: a.verify_key,
                allow_replayed: a.allow_replayed,
            },
            &root,
        ),
        Command::Merge { inputs, out } => crate::gate::merge::run(&inputs, &out),
        Command::Keygen { key } => {
            let public = crate::gate::signing::keygen(&key).map_err(Error::Output)?;
            crate::output::stdout(&format!(
                "secret key {} (keep it private), public key {}\n",
                key.display(),
                public.display()
            ))?;
            Ok(Exit::Ok)
        }
        Command::Report { manifest, format } => crate::report::command::run(&manifest, format),
        Command::Diff { old, new, format } => crate::report::diff::run(&old, &new, format),
        Command::Schema { kind } => {
            let k = match kind {
                SchemaKind::Catalog => crate::schema::Kind::Catalog,
                SchemaKind::Topology => crate::schema::Kind::Topology,
                SchemaKind::Manifest => crate::schema::Kind::Manifest,
                SchemaKind::Qualification => crate::schema::Kind::Qualification,
            };
            crate::output::stdout(&crate::documents::text(k))?;
            Ok(Exit::Ok)
        }
    }
}
