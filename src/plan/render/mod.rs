//! Plan output: text for people, mermaid and dot for pictures. JSON is the `Plan`'s own
//! serialization, streamed by `output::stdout_json`.

mod graphs;
mod text;

pub use graphs::{dot, mermaid};
pub use text::text;
