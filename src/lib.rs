//! labcert: certify a test lab before a release is qualified on it.

pub mod certify;
pub mod cli;
pub mod diag;
pub mod error;
pub mod exit;
pub mod load;
pub mod manifest;
pub mod model;
pub mod output;
pub mod schema;
pub mod source;

pub use cli::run;
pub mod analyze;
pub mod gate;
pub mod graph;
pub mod judge;
pub mod plan;
pub mod probe;
pub mod report;
pub mod run;
pub mod template;
pub mod validate;
pub mod workspace;
