//! labcert: certify a test lab before a release is qualified on it.

pub(crate) mod certify;
pub(crate) mod cli;
pub mod diag;
pub mod documents;
pub mod error;
pub mod exit;
pub mod load;
pub mod manifest;
pub mod model;
pub mod outcome;
pub(crate) mod output;
pub mod schema;
pub mod source;

pub use cli::run;
pub(crate) mod analyze;
pub mod gate;
pub(crate) mod graph;
pub mod judge;
pub mod plan;
pub mod probe;
pub mod report;
pub mod run;
pub(crate) mod shell;
pub(crate) mod template;
pub mod validate;
pub mod workspace;
