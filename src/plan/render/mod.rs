//! Plan output: text for people, JSON for tools, mermaid and dot for pictures.

mod graphs;
mod text;

pub use graphs::{dot, mermaid};
pub use text::text;

use super::Plan;

pub fn json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).unwrap_or_default();
    s.push('\n');
    s
}
