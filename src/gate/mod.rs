//! The release gate: preflight (may a release start on this certification?), signatures,
//! merging certifications made by separate runs, waivers, and qualification.

pub mod preflight;
pub mod signing;
