//! Configuration diagnostics: every problem found, with its position, rendered
//! rustc-style for people or as JSON for CI.
//!
//! Hand-written rather than miette: the output is four short lines whose exact
//! shape is pinned by tests, and JSON is needed anyway; a renderer crate would
//! add a dozen dependencies to save forty lines.

use serde::Serialize;

use super::source::{Sources, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    /// Informational: never fails a check (e.g. a block rnats does not use).
    Note,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable identifier for tooling: `syntax`, `unknown-key`, `type`, ...
    pub code: &'static str,
    pub message: String,
    pub span: Option<Span>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, span: Option<Span>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, code, message: message.into(), span, help: None }
    }
    pub fn warning(code: &'static str, span: Option<Span>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, code, message: message.into(), span, help: None }
    }
    pub fn note(code: &'static str, span: Option<Span>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Note, code, message: message.into(), span, help: None }
    }
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `file:line:col`, or just the file when there is no position.
    pub fn location(&self, sources: &Sources) -> Option<(String, usize, usize)> {
        let span = self.span?;
        let (line, col) = sources.line_col(span.source, span.start);
        Some((sources.get(span.source).name.clone(), line, col))
    }

    /// rustc-style text: a header, the location, the source line and a caret.
    pub fn render(&self, sources: &Sources) -> String {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        let mut out = format!("{sev}[{}]: {}\n", self.code, self.message);
        if let Some(span) = self.span {
            let (line, col) = sources.line_col(span.source, span.start);
            let (end_line, end_col) = sources.line_col(span.source, span.end.max(span.start));
            let text = sources.line_text(span.source, line);
            let gutter = line.to_string().len();
            let width = if end_line == line && end_col > col { end_col - col } else { 1 };
            out.push_str(&format!("{:gutter$}--> {}:{line}:{col}\n", "", sources.get(span.source).name));
            out.push_str(&format!("{:gutter$} |\n", ""));
            out.push_str(&format!("{line} | {}\n", text.replace('\t', " ")));
            out.push_str(&format!("{:gutter$} | {}{}\n", "", " ".repeat(col - 1), "^".repeat(width.min(80))));
            if let Some(help) = &self.help {
                out.push_str(&format!("{:gutter$} = help: {help}\n", ""));
            }
        } else if let Some(help) = &self.help {
            out.push_str(&format!("  = help: {help}\n"));
        }
        out
    }

    /// One JSON object: file, line, column, severity, code, message (and help).
    pub fn to_json(&self, sources: &Sources) -> serde_json::Value {
        let (file, line, column) = match self.location(sources) {
            Some((f, l, c)) => (Some(f), Some(l), Some(c)),
            None => (None, None, None),
        };
        serde_json::json!({
            "file": file,
            "line": line,
            "column": column,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "help": self.help,
        })
    }
}

/// The closest known name to `word`, for "did you mean" hints.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn renders_with_caret_and_help() {
        let mut s = Sources::default();
        let id = s.add("x.conf".into(), Path::new("x.conf"), "port: 1\nmax_paylod: 5\n".into());
        let d = Diagnostic::warning(
            "unknown-key",
            Some(Span { source: id, start: 8, end: 18 }),
            "unknown field `max_paylod`",
        )
        .with_help("did you mean `max_payload`?");
        assert_eq!(
            d.render(&s),
            "warning[unknown-key]: unknown field `max_paylod`\n \
             --> x.conf:2:1\n  |\n2 | max_paylod: 5\n  | ^^^^^^^^^^\n  = help: did you mean `max_payload`?\n"
        );
        let j = d.to_json(&s);
        assert_eq!(j["line"], 2);
        assert_eq!(j["column"], 1);
        assert_eq!(j["severity"], "warning");
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("max_paylod", ["max_payload", "max_pending", "port"]), Some("max_payload"));
        assert_eq!(suggest("PORT", ["port"]), Some("port"));
        assert_eq!(suggest("zzzzzz", ["port", "host"]), None);
    }
}
