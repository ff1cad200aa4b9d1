//! The configuration language: file → pest grammar ([`grammar`]) → value tree
//! with spans ([`parse`], [`tree`]) → typed, validated [`Options`] ([`build`]),
//! with every problem reported as a positioned [`diag::Diagnostic`].

pub mod build;
pub mod diag;
pub mod grammar;
pub mod parse;
pub mod source;
pub mod tree;
pub mod units;

use std::path::Path;

use crate::cli::FlagOverlay;
use crate::options::Options;
use diag::{Diagnostic, Severity};
use source::Sources;

/// The outcome of loading a config file: the options (meaningful only when
/// there are no errors), every diagnostic, and the sources they point into.
pub struct Loaded {
    pub options: Options,
    pub diags: Vec<Diagnostic>,
    pub sources: Sources,
}

impl Loaded {
    pub fn count(&self, severity: Severity) -> usize {
        self.diags.iter().filter(|d| d.severity == severity).count()
    }

    /// Whether the config is refused: any error, or under `strict` any warning.
    pub fn failed(&self, strict: bool) -> bool {
        self.count(Severity::Error) > 0 || (strict && self.count(Severity::Warning) > 0)
    }

    pub fn render(&self) -> String {
        self.diags
            .iter()
            .map(|d| d.render(&self.sources))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Reads `path` and builds options from it, then applies the command-line
/// flags on top (flags always win, as in nats-server).
pub fn load(path: &Path, overlay: &FlagOverlay) -> Loaded {
    let mut sources = Sources::default();
    let mut diags = Vec::new();
    let root = parse::Parser::new(&mut sources, &mut diags).parse_file(
        path,
        path.display().to_string(),
        None,
    );
    let mut options = Options::default();
    if let Some(root) = root {
        let mut builder = build::Builder::default();
        builder.top_level(&root, &mut options);
        diags.extend(builder.diags);
    }
    overlay.apply(&mut options);
    if !diags.iter().any(|d| d.severity == Severity::Error) {
        if let Err(msg) = options.validate() {
            diags.push(Diagnostic::error("conflict", None, msg));
        }
    }
    // Errors first, then in file order.
    diags.sort_by_key(|d| (d.severity, d.span.map(|s| (s.source, s.start))));
    Loaded {
        options,
        diags,
        sources,
    }
}
