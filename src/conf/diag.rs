//! Configuration diagnostics: every problem found, with its position, rendered
//! rustc-style for people or as JSON for CI.
//!
//! Hand-written rather than miette: the output is four short lines whose exact
//! shape is pinned by tests, and JSON is needed anyway; a renderer crate would
//! add a dozen dependencies to save forty lines.

use serde::Serialize;

use super::source::{Sources, Span};

/// At most this many diagnostics are reported for one file.
pub const MAX_DIAGNOSTICS: usize = 500;

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

impl Severity {
    fn word(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

impl Diagnostic {
    /// Start and end `(line, column)`, 1-based, when there is a position.
    fn region(&self, sources: &Sources) -> Option<((usize, usize), (usize, usize))> {
        let span = self.span?;
        let start = sources.line_col(span.source, span.start);
        let end = sources.line_col(span.source, span.end.max(span.start + 1).min(sources.get(span.source).text.len()));
        Some((start, if end > start { end } else { (start.0, start.1 + 1) }))
    }

    /// One SARIF 2.1.0 `result`: rule id = the code, the help on a line of
    /// its own, the file of the position (or the checked file).
    pub fn to_sarif(&self, sources: &Sources, checked: &str) -> serde_json::Value {
        let text = match &self.help {
            Some(h) => format!("{}\nhelp: {h}", self.message),
            None => self.message.clone(),
        };
        let file = self.span.map_or(checked.to_string(), |s| sources.get(s.source).name.clone());
        let mut location = serde_json::json!({ "physicalLocation": { "artifactLocation": { "uri": file } } });
        if let Some(((l, c), (el, ec))) = self.region(sources) {
            location["physicalLocation"]["region"] =
                serde_json::json!({ "startLine": l, "startColumn": c, "endLine": el, "endColumn": ec });
        }
        serde_json::json!({
            "ruleId": self.code,
            "level": self.severity.word(),
            "message": { "text": text },
            "locations": [location],
        })
    }

    /// A GitHub Actions workflow command: `::error file=F,line=L,col=C::message`.
    pub fn to_github(&self, sources: &Sources, checked: &str) -> String {
        let command = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let file = self.span.map_or(checked.to_string(), |s| sources.get(s.source).name.clone());
        let mut props = format!("file={}", github_escape(&file, true));
        if let Some(((l, c), (el, ec))) = self.region(sources) {
            props.push_str(&format!(",line={l},col={c},endLine={el},endColumn={ec}"));
        }
        props.push_str(&format!(",title={}", github_escape(&format!("rnats check: {}", self.code), true)));
        let text = match &self.help {
            Some(h) => format!("{}\nhelp: {h}", self.message),
            None => self.message.clone(),
        };
        format!("::{command} {props}::{}", github_escape(&text, false))
    }
}

/// Escapes data (and, for properties, `:` and `,`) as the workflow-command
/// syntax requires.
fn github_escape(s: &str, property: bool) -> String {
    let mut out = s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    if property {
        out = out.replace(':', "%3A").replace(',', "%2C");
    }
    out
}

/// One SARIF 2.1.0 log for a whole `rnats check` run, with a rule per code
/// seen. Only that tool writes one, so only its build has it.
#[cfg(feature = "tools")]
pub fn sarif_log(results: Vec<serde_json::Value>) -> serde_json::Value {
    let mut rules: Vec<&str> = results.iter().filter_map(|r| r["ruleId"].as_str()).collect();
    rules.sort_unstable();
    rules.dedup();
    let rules: Vec<serde_json::Value> = rules
        .into_iter()
        .map(|id| serde_json::json!({ "id": id, "shortDescription": { "text": rule_description(id) } }))
        .collect();
    serde_json::json!({
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "rnats check",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/rnats/rnats",
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

/// What each diagnostic code is about, for SARIF rule descriptions.
#[cfg(feature = "tools")]
fn rule_description(code: &str) -> &'static str {
    match code {
        "syntax" => "The file does not follow the NATS configuration syntax",
        "unknown-key" => "A key nats-server does not know",
        "type" => "A value of the wrong type",
        "env-type" => "An environment variable's value nats-server refuses for this key",
        "range" => "A value out of its range",
        "portability" => "Something rnats reads but nats-server 2.x rejects",
        "unsupported" => "A feature rnats checks but does not implement yet",
        "refused" => "A feature rnats will not start without implementing",
        "conflict" => "Options that contradict each other",
        "duplicate" => "Something defined twice",
        "variable" => "A variable that is not defined",
        "include-cycle" => "Files that include each other",
        "file" => "A file that cannot be read",
        "tls" => "A TLS setting nats-server refuses",
        "duration" => "A duration that cannot be read",
        "security" => "A setting that exposes the server (never fails `-t`)",
        _ => "A configuration problem",
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
