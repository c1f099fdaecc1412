//! The release gate: preflight (may a release start on this certification?), signatures,
//! merging certifications made by separate runs, waivers, and qualification.

pub mod merge;
pub mod preflight;
pub mod qualify;
pub mod signing;
pub mod waivers;
