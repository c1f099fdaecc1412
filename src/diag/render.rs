//! Plain-text rendering of a diagnostic, rustc/hurl style: the source line with a caret.

use std::fmt::Write;

use super::{Diagnostic, Severity};

/// Renders one diagnostic. No colour: output is stable for logs and snapshots.
pub fn render(d: &Diagnostic) -> String {
    let mut out = String::new();
    let sev = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = writeln!(out, "{sev}[{}]: {}", d.code.as_str(), d.message);
    if let Some(src) = &d.source {
        let (line, col) = src.line_col(d.span.start);
        let raw = src.line_text(line);
        let (end_line, end_col) = src.line_col(d.span.end.max(d.span.start));
        // A literal secret must not reach logs through the quoted source line.
        let text: String = if d.redact {
            let stop = if end_line == line {
                end_col
            } else {
                usize::MAX
            };
            raw.chars()
                .enumerate()
                .map(|(i, c)| {
                    if i + 1 >= col
                        && i + 1 < stop
                        && !matches!(c, '"' | '\'' | ' ' | ',' | '}' | ']')
                    {
                        '*'
                    } else {
                        c
                    }
                })
                .collect()
        } else {
            raw.to_string()
        };
        let gutter = line.to_string().len();
        let pad = " ".repeat(gutter);
        let _ = writeln!(out, "{pad}--> {}:{line}:{col}", src.path.display());
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{line} | {text}");
        // Underline the span on this line only; a multi-line span is marked to the line end.
        let line_chars = text.chars().count();
        let width = if end_line == line {
            end_col.saturating_sub(col)
        } else {
            (line_chars + 1).saturating_sub(col)
        }
        .max(1);
        let lead: String = text
            .chars()
            .take(col - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let carets = "^".repeat(width);
        let label = if d.label.is_empty() {
            String::new()
        } else {
            format!(" {}", d.label)
        };
        let _ = writeln!(out, "{pad} | {lead}{carets}{label}");
        if let Some(help) = &d.help {
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{pad} = help: {help}");
        }
    } else if let Some(help) = &d.help {
        let _ = writeln!(out, "  = help: {help}");
    }
    out
}
