//! The catalog language as typed data, read from the loader's JSON value tree.

pub mod catalog;
pub mod duration;
pub mod expect;
pub mod probe;
pub mod repair;
pub mod shapes;
pub mod topology;

pub use catalog::*;
pub use topology::{Binding, Topology};
