//! The configuration language, from file to typed [`Options`]:
//!
//! 1. text → syntax tree: the hand-written scanner ([`scan`]) matches the
//!    rules of `grammar/nats.pest`; where it gives up, the pest parser
//!    ([`grammar`]) runs and its error is phrased for people;
//! 2. syntax tree → value tree with spans ([`parse`], [`tree`]): token types
//!    decided, `$variables` substituted, `include`s inlined, and what
//!    nats-server reads differently flagged ([`portability`]);
//! 3. value tree → [`Options`] ([`build`]): the walk looks each key up in the
//!    one key table ([`keys`]), checks its value against the declared type,
//!    and hands it to the key's setter ([`setters`], [`values`]); each block's
//!    cross-field rules run after it ([`validate`]). [`context`] holds what
//!    all of these share: the builder that collects diagnostics and the
//!    checked value a setter receives;
//! 4. the command-line flags are laid over the result, and the options'
//!    own checks run.
//!
//! Every problem is a positioned [`diag::Diagnostic`]. Beside this pipeline:
//! [`golex`] and [`reference`](mod@reference) give nats-server's own first error word for
//! word (for `-t` and for launchers), [`schema`] derives the JSON Schema of
//! config files from the key table, and [`fmt`] is `rnats fmt`.

pub(crate) mod accounts;
pub(crate) mod accounts_lint;
pub(crate) mod accounts_rules;
pub(crate) mod build;
pub(crate) mod context;
pub(crate) mod diag;
pub mod fmt;
pub(crate) mod golex;
pub mod grammar;
pub mod keys;
pub(crate) mod operator;
pub mod parse;
pub(crate) mod portability;
pub mod reference;
pub mod scan;
pub mod schema;
pub(crate) mod setters;
pub mod source;
pub mod syntax;
pub mod tree;
pub(crate) mod validate;
pub(crate) mod values;

use std::path::Path;

use crate::options::FlagOverlay;
use crate::options::Options;
use diag::{Diagnostic, Severity};
use source::Sources;

pub use diag::MAX_DIAGNOSTICS;

/// The outcome of loading a config file: the options (meaningful only when
/// there are no errors), every diagnostic, and the sources they point into.
pub struct Loaded {
    pub options: Options,
    pub diags: Vec<Diagnostic>,
    /// Warnings for `rnats check` only, never for `-t` or a start: what
    /// nats-server accepts silently but probably is not what was meant.
    pub advice: Vec<Diagnostic>,
    pub sources: Sources,
}

impl Loaded {
    pub fn count(&self, severity: Severity) -> usize {
        self.diags.iter().filter(|d| d.severity == severity).count()
    }

    /// Whether the config is refused: any error, or under `strict` any
    /// warning. Security advice (`security`: an open monitoring port) is
    /// shown but never refuses a config: exposure is a deployment's choice
    /// (a container publishes the port it needs), and `-t` must fail exactly
    /// where nats-server's does.
    pub fn failed(&self, strict: bool) -> bool {
        let refusing = |d: &&Diagnostic| d.severity == Severity::Warning && d.code != "security";
        self.count(Severity::Error) > 0 || (strict && self.diags.iter().filter(refusing).count() > 0)
    }

    pub fn render(&self) -> String {
        self.diags.iter().map(|d| d.render(&self.sources)).collect::<Vec<_>>().join("\n")
    }
}

/// Builds options from config text held in memory (fuzzing, tests, tools).
/// `include`s resolve against the working directory.
///
/// ```
/// let loaded = rnats::conf::load_str("app.conf", "port: 4333\nmax_payload: 2KB\nmax_paylod: 1\n");
/// assert!(!loaded.failed(false), "an unknown key is only a warning");
/// assert_eq!(loaded.options.max_payload, 2048);
/// let warning = &loaded.diags[0];
/// assert_eq!(warning.code, "unknown-key");
/// assert_eq!(warning.help.as_deref(), Some("did you mean `max_payload`?"));
/// assert!(loaded.failed(true), "but it fails a strict check");
/// ```
pub fn load_str(name: &str, text: &str) -> Loaded {
    let mut sources = Sources::default();
    let mut diags = Vec::new();
    let id = sources.add(name.to_string(), Path::new(name), text.to_string());
    let root = parse::Parser::new(&mut sources, &mut diags).parse_source(id);
    finish(root, sources, diags, &FlagOverlay::default())
}

/// Reads `path` and builds options from it, then applies the command-line
/// flags on top (flags always win, as in nats-server).
pub fn load(path: &Path, overlay: &FlagOverlay) -> Loaded {
    let mut sources = Sources::default();
    let mut diags = Vec::new();
    let root = parse::Parser::new(&mut sources, &mut diags).parse_file(path, path.display().to_string(), None);
    finish(root, sources, diags, overlay)
}

fn finish(root: Option<tree::Map>, sources: Sources, mut diags: Vec<Diagnostic>, overlay: &FlagOverlay) -> Loaded {
    let mut options = Options::default();
    let mut advice = Vec::new();
    let parse_failed = diags.iter().any(|d| d.severity == Severity::Error);
    if let Some(root) = root {
        let env_sources = sources
            .iter()
            .enumerate()
            .filter(|(_, s)| s.name.starts_with(parse::ENV_SOURCE_PREFIX))
            .map(|(id, _)| id)
            .collect();
        let mut builder = context::Builder::new(env_sources);
        builder.block(&keys::TOP, &root, &mut options);
        // A file whose only value failed to parse is not "empty".
        diags.extend(builder.diags.into_iter().filter(|d| !(parse_failed && d.code == "empty")));
        advice = builder.advice;
    }
    overlay.apply(&mut options);
    if let Err(msg) = overlay.check(&options) {
        diags.push(Diagnostic::error("flags", None, msg));
    }
    if !diags.iter().any(|d| d.severity == Severity::Error) {
        if let Err(msg) = options.validate() {
            diags.push(Diagnostic::error("conflict", None, msg));
        }
    }
    // Errors first, then in file order; a runaway file does not bury the
    // terminal (or CI log) under a million lines.
    diags.sort_by_key(|d| (d.severity, d.span.map(|s| (s.source, s.start))));
    if diags.len() > MAX_DIAGNOSTICS {
        let dropped = diags.len() - MAX_DIAGNOSTICS;
        diags.truncate(MAX_DIAGNOSTICS);
        diags.push(Diagnostic::note("truncated", None, format!("{dropped} more problems not shown")));
    }
    advice.sort_by_key(|d| d.span.map(|s| (s.source, s.start)));
    Loaded { options, diags, advice, sources }
}
