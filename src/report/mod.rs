//! Reporters: consumers of run events and of the finished manifest. None drives the run.

pub mod events;
pub mod junit;
pub mod markdown;
pub mod summary;
pub mod terminal;
