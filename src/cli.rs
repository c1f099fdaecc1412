//! Command-line interface: clap types and dispatch.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::exit;

#[derive(Parser, Debug)]
#[command(
    name = "labcert",
    version,
    about = "Certify a test lab before a release is qualified on it"
)]
pub struct Cli {
    /// Catalog root: catalogs and `topologies/` live here.
    #[arg(long, global = true, env = "LABCERT_CATALOGS", value_name = "DIR")]
    pub catalogs: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check catalogs and topologies: every syntax, schema and semantic error, located.
    Validate {
        /// Files or directories (default: the catalog root).
        paths: Vec<PathBuf>,
    },
    /// Expand, render and order the checks of a topology, without touching the network.
    Plan(PlanArgs),
    /// Print a JSON Schema.
    Schema {
        #[arg(value_enum)]
        kind: SchemaKind,
    },
}

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
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
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanFormat {
    Text,
    Json,
    Mermaid,
    Dot,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum SchemaKind {
    Catalog,
    Topology,
    Manifest,
}

pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::INVALID
            } else {
                exit::OK
            };
        }
    };
    let root = crate::workspace::root(cli.catalogs.as_deref());
    match cli.command {
        Command::Validate { paths } => crate::validate::run(&paths, &root),
        Command::Plan(args) => crate::plan::command::run(&args, &root),
        Command::Schema { kind } => {
            let k = match kind {
                SchemaKind::Catalog => crate::schema::Kind::Catalog,
                SchemaKind::Topology => crate::schema::Kind::Topology,
                SchemaKind::Manifest => crate::schema::Kind::Manifest,
            };
            if crate::output::stdout(&crate::schema::text(k)) {
                exit::OK
            } else {
                exit::INVALID
            }
        }
    }
}
