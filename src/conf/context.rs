//! The config layer's shared context: the [`Builder`] that every step of a
//! build reports into (diagnostics, the key path it is at) and the checked
//! value [`Val`] a key's setter receives. The key table, the walk over the
//! value tree, the value checkers and the cross-field rules all work on these
//! two, so they live below all of them.

use std::time::Duration;

use super::diag::Diagnostic;
use super::source::Span;
use super::tree::{Entry, Kind, Map, Value};
use crate::options::Port;

/// Collects diagnostics while building, and knows where in the file it is.
#[derive(Default)]
pub struct Builder {
    pub diags: Vec<Diagnostic>,
    /// Advice for `rnats check` only (overlapping mappings, ...): warnings
    /// about configs nats-server takes without a word, so they must not
    /// fail `-t` as warnings in `diags` do.
    pub advice: Vec<Diagnostic>,
    /// The key path being built (`cluster`, `tls`, ...), for messages.
    /// Key names are static; only `within` segments (account names) are owned.
    pub(super) path: Vec<std::borrow::Cow<'static, str>>,
    /// How many enclosing keys already got a "not implemented" note: their
    /// inner keys get none of their own.
    pub(super) quiet: usize,
    /// The sources that are environment variables' values.
    pub env_sources: std::collections::HashSet<usize>,
}

/// A value that passed its key's type check, ready for the key's setter.
#[derive(Debug)]
pub enum Val<'a> {
    Bool(bool),
    Int(i64),
    Str(String),
    Strs(Vec<String>),
    Dur(Duration),
    Port(Port),
    Listen(Option<String>, Port),
    Map(&'a Map),
    Items(&'a [Value]),
    Raw(&'a Value),
}

impl Val<'_> {
    pub fn into_str(self) -> Option<String> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn into_strs(self) -> Vec<String> {
        match self {
            Val::Strs(v) => v,
            Val::Str(s) => vec![s],
            _ => Vec::new(),
        }
    }
    pub fn int(self) -> Option<i64> {
        match self {
            Val::Int(i) => Some(i),
            _ => None,
        }
    }
    pub fn set_bool(self, dst: &mut bool) {
        if let Val::Bool(b) = self {
            *dst = b;
        }
    }
    pub fn set_usize(self, dst: &mut usize) {
        if let Val::Int(i) = self {
            *dst = usize::try_from(i).unwrap_or(usize::MAX);
        }
    }
    pub fn set_dur(self, dst: &mut Duration) {
        if let Val::Dur(d) = self {
            *dst = d;
        }
    }
    /// The port of a `listen`-style value, `-1` for a random one.
    pub fn listen_port(self) -> Option<i64> {
        match self {
            Val::Listen(_, Port::Fixed(p)) => Some(p as i64),
            Val::Listen(_, Port::Random) => Some(-1),
            _ => None,
        }
    }
}

impl Builder {
    /// A builder for a file whose sources `env_sources` are environment variables' values.
    pub fn new(env_sources: std::collections::HashSet<usize>) -> Self {
        Builder { env_sources, ..Builder::default() }
    }

    pub fn error(&mut self, code: &'static str, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(code, Some(span), msg));
    }

    pub fn warning(&mut self, code: &'static str, span: Span, msg: impl Into<String>, help: &str) {
        self.diags.push(Diagnostic::warning(code, Some(span), msg).with_help(help));
    }

    /// The dotted path of the block being built (`cluster.tls`), or "" at the top.
    pub fn path(&self) -> String {
        self.path.join(".")
    }

    /// Runs `f` one level deeper in the key path (an account's name, ...).
    pub fn within<R>(&mut self, segment: &str, f: impl FnOnce(&mut Self) -> R) -> R {
        self.path.push(std::borrow::Cow::Owned(segment.to_string()));
        let r = f(self);
        self.path.pop();
        r
    }

    pub fn type_error(&mut self, e: &Entry, want: &str) {
        self.type_error_at(&e.key, &e.value, want);
    }

    pub fn type_error_at(&mut self, key: &str, value: &Value, want: &str) {
        let found = value.kind.describe();
        let mut d = Diagnostic::error("type", Some(value.span), format!("`{key}` must be {want}, found {found}"));
        if let Kind::Str(s) = &value.kind {
            if want.contains("integer") && s.parse::<f64>().is_ok() {
                d = d.with_help("remove the quotes");
            } else if want.contains("boolean")
                && matches!(s.to_ascii_lowercase().as_str(), "true" | "false" | "yes" | "no" | "on" | "off")
            {
                d = d.with_help("remove the quotes: a quoted `true` is a string");
            }
        }
        self.diags.push(d);
    }

    /// The path of the block that holds the current key (`cluster.tls`).
    pub(super) fn path_parent(&self) -> String {
        self.path[..self.path.len().saturating_sub(1)].join(".")
    }
}
