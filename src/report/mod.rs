//! Reporters: consumers of run events and of the finished manifest. None drives the run.

pub mod command;
pub mod diff;
pub mod events;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod matrix;
pub mod summary;
pub mod terminal;
pub mod text;
pub mod view;
