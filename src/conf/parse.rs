//! Text → value tree: parses the text into its syntax tree ([`Syntax`]: the
//! grammar's rules as matched, by the scanner or by pest), then walks it in
//! document order, deciding token types, substituting `$variables` and
//! inlining `include`s. Every problem becomes a [`Diagnostic`] with a position; the
//! walk goes on where it can, so one run reports as much as possible.

mod errors;

use std::path::{Path, PathBuf};

use super::diag::Diagnostic;
use super::grammar::Rule;
use super::portability::{self, Ctx};
use super::scan::Declined;
use super::source::{Sources, Span};
use super::syntax::{Node, Syntax, TooDeep, MAX_DEPTH};
use super::tree::{Entry, Kind, Map, Value};
use errors::{bracket_depth, syntax_error};

/// Files larger than this are refused (a config is kilobytes).
pub const MAX_FILE_SIZE: usize = 16 * 1024 * 1024;

pub struct Parser<'a> {
    pub sources: &'a mut Sources,
    pub diags: &'a mut Vec<Diagnostic>,
    /// Canonical paths (and names as written) of the files being parsed, for
    /// include cycles.
    include_stack: Vec<(PathBuf, String)>,
    /// Environment variables being expanded, for reference cycles.
    env_stack: Vec<String>,
    /// Looks up environment variables (swappable in tests).
    env: &'a dyn Fn(&str) -> Option<String>,
}

/// The scopes a `$variable` can see: the entries parsed so far in each
/// enclosing map, innermost last. Arrays are not scopes.
type Scopes = Vec<Vec<Entry>>;

/// How the source of an environment variable's value is named.
pub const ENV_SOURCE_PREFIX: &str = "environment variable $";

fn system_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl<'a> Parser<'a> {
    pub fn new(sources: &'a mut Sources, diags: &'a mut Vec<Diagnostic>) -> Self {
        Parser { sources, diags, include_stack: Vec::new(), env_stack: Vec::new(), env: &system_env }
    }

    pub fn with_env(mut self, env: &'a dyn Fn(&str) -> Option<String>) -> Self {
        self.env = env;
        self
    }

    /// Reads and parses a file; `None` if it could not be read or parsed.
    pub fn parse_file(&mut self, path: &Path, name: String, at: Option<Span>) -> Option<Map> {
        let text = match read_config(path) {
            Ok(t) => t,
            Err(e) => {
                let what = if at.is_some() { "include file" } else { "configuration file" };
                self.diags.push(Diagnostic::error("file", at, format!("cannot read {what} `{name}`: {e}")));
                return None;
            }
        };
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if let Some(i) = self.include_stack.iter().position(|(p, _)| *p == canonical) {
            let mut chain: Vec<String> = self.include_stack[i..].iter().map(|(_, n)| n.clone()).collect();
            chain.push(name.clone());
            self.diags.push(
                Diagnostic::error("include-cycle", at, format!("include cycle: `{name}` includes itself"))
                    .with_help(chain.join(" → ")),
            );
            return None;
        }
        let id = self.sources.add(name.clone(), path, text);
        self.include_stack.push((canonical, name));
        let map = self.parse_source(id);
        self.include_stack.pop();
        map
    }

    /// Parses an already registered source as a whole document.
    pub fn parse_source(&mut self, id: usize) -> Option<Map> {
        let text = self.sources.get(id).text.clone();
        let syntax = self.syntax(id, &text)?;
        let mut scopes: Scopes = vec![Vec::new()];
        for file in syntax.roots(&text) {
            for entry in file.children() {
                if entry.rule() == Rule::entry {
                    self.entry(entry, id, &mut scopes);
                }
            }
        }
        Some(Map { entries: scopes.pop().unwrap_or_default() })
    }

    fn syntax(&mut self, id: usize, text: &str) -> Option<Syntax> {
        syntax_tree(text, id).map_err(|d| self.diags.push(d)).ok()
    }

    fn span(&self, node: &Node<'_>, id: usize) -> Span {
        Span { source: id, start: node.start(), end: node.end() }
    }

    fn entry(&mut self, pair: Node<'_>, id: usize, scopes: &mut Scopes) {
        let Some(inner) = pair.children().next() else {
            return;
        };
        match inner.rule() {
            Rule::include => self.include(inner, id, scopes),
            Rule::pair => {
                let mut parts = inner.children();
                let (Some(key), Some(sep), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
                    return;
                };
                let key_span = self.span(&key, id);
                let key_text = key_text(key);
                if sep.as_str().is_empty() {
                    // `cluster{`: the reference reads the brace into the key.
                    let brace = value.as_str().chars().next().unwrap_or('{');
                    self.portability(
                        key_span,
                        format!("it reads `{key_text}{brace}...` as one key"),
                        format!("put a space before `{brace}`"),
                    );
                }
                let ctx = if scopes.len() == 1 { Ctx::Top } else { Ctx::Map };
                if let Some(value) = self.value(value, id, scopes, ctx) {
                    if let Some(scope) = scopes.last_mut() {
                        scope.push(Entry { key: key_text, key_span, value, used: false });
                    }
                }
            }
            _ => {}
        }
    }

    fn include(&mut self, pair: Node<'_>, id: usize, scopes: &mut Scopes) {
        let span = self.span(&pair, id);
        let Some(path_pair) = pair.children().next() else {
            return;
        };
        let written = path_pair.children().next().map(|p| p.as_str().to_string()).unwrap_or_default();
        // Relative to the including file's directory, as the including file was named.
        let base = self.sources.get(id).path.parent().map(Path::to_path_buf).unwrap_or_default();
        let full: PathBuf =
            base.join(&written).components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect();
        let name = full.display().to_string();
        if let Some(map) = self.parse_file(&full, name, Some(span)) {
            if let Some(scope) = scopes.last_mut() {
                scope.extend(map.entries);
            }
        }
    }

    /// A warning for what nats-server 2.x refuses or reads differently, with
    /// its own words: fatal under `-t`, so a mixed fleet never gets a config
    /// only rnats reads.
    fn portability(&mut self, span: Span, reference: String, fix: String) {
        self.diags.push(
            Diagnostic::warning("portability", Some(span), format!("nats-server 2.x rejects this: {reference}"))
                .with_help(fix),
        );
    }

    fn value(&mut self, pair: Node<'_>, id: usize, scopes: &mut Scopes, ctx: Ctx) -> Option<Value> {
        let pair = if pair.rule() == Rule::value { pair.children().next()? } else { pair };
        let span = self.span(&pair, id);
        let text = pair.as_str();
        let kind = match pair.rule() {
            Rule::map => {
                scopes.push(Vec::new());
                for entry in pair.children() {
                    self.entry(entry, id, scopes);
                }
                Kind::Map(Map { entries: scopes.pop().unwrap_or_default() })
            }
            Rule::array => {
                let mut items = Vec::new();
                for v in pair.children() {
                    let number = v
                        .children()
                        .next()
                        .filter(|n| matches!(n.rule(), Rule::integer | Rule::sized) && !n.as_str().starts_with('-'));
                    if let Some(n) = number {
                        if text.as_bytes().get(n.end() - span.start) == Some(&b']') {
                            self.portability(
                                self.span(&n, id),
                                format!(
                                    "a number directly before `]` takes the bracket into a string (`{}]`)",
                                    n.as_str()
                                ),
                                "put a space or a comma before `]`".into(),
                            );
                        }
                    }
                    if let Some(v) = self.value(v, id, scopes, Ctx::Array) {
                        items.push(v);
                    }
                }
                Kind::Array(items)
            }
            Rule::dq_string => {
                let inner = pair.children().next()?;
                let start = inner.start();
                Kind::Str(self.unescape(inner.as_str(), id, start)?)
            }
            Rule::block_string if span.end == self.sources.get(id).text.len() => {
                self.portability(
                    span,
                    "it reads the closing `)` into the value when it is the last character of the file".into(),
                    "end the file with a new line".into(),
                );
                Kind::Str(pair.children().next()?.as_str().to_string())
            }
            Rule::sq_string | Rule::block_string => Kind::Str(pair.children().next()?.as_str().to_string()),
            Rule::datetime => Kind::Date(text.to_string()),
            Rule::ip_like => Kind::Str(text.to_string()),
            Rule::integer => match text.parse::<i64>() {
                Ok(n) => Kind::Int(n),
                Err(_) => {
                    self.diags.push(Diagnostic::error(
                        "range",
                        Some(span),
                        format!("integer `{text}` is out of range"),
                    ));
                    return None;
                }
            },
            Rule::float => match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Kind::Float(f),
                _ => {
                    self.diags.push(Diagnostic::error("range", Some(span), format!("number `{text}` is out of range")));
                    return None;
                }
            },
            Rule::sized => match parse_sized(text) {
                Ok(n) => Kind::Int(n),
                Err(msg) => {
                    let d = Diagnostic::error("size", Some(span), msg).with_help(
                        "size suffixes: k m g t p e (powers of 1000), kb/ki/kib mb/mi/mib ... (powers of 1024)",
                    );
                    self.diags.push(d);
                    return None;
                }
            },
            Rule::raw => {
                if let Some(reference) = portability::unquoted_word(text, ctx) {
                    let quoted = if text.contains('"') { format!("'{text}'") } else { format!("\"{text}\"") };
                    self.portability(span, reference, format!("quote the value: {quoted}"));
                }
                return self.raw(text, span, id, scopes);
            }
            _ => return None,
        };
        Some(Value { kind, span })
    }

    /// An unquoted word: a string with escapes, a boolean, or a variable.
    fn raw(&mut self, text: &str, span: Span, id: usize, scopes: &mut Scopes) -> Option<Value> {
        if text.contains('\\') {
            let s = self.unescape(text, id, span.start)?;
            return Some(Value { kind: Kind::Str(s), span });
        }
        let is = |words: [&str; 3]| words.iter().any(|w| text.eq_ignore_ascii_case(w));
        if is(["true", "yes", "on"]) {
            return Some(Value { kind: Kind::Bool(true), span });
        }
        if is(["false", "no", "off"]) {
            return Some(Value { kind: Kind::Bool(false), span });
        }
        let Some(name) = text.strip_prefix('$') else {
            return Some(Value { kind: Kind::Str(text.to_string()), span });
        };
        // An unquoted bcrypt hash is a value, not a variable reference. The
        // reference only exempts `$2a$`; `$2b$` and `$2y$` hashes are just as common.
        if ["2a$", "2b$", "2y$"].iter().any(|p| name.starts_with(p)) {
            return Some(Value { kind: Kind::Str(text.to_string()), span });
        }
        for scope in scopes.iter_mut().rev() {
            if let Some(e) = scope.iter_mut().rev().find(|e| e.key == name) {
                e.used = true;
                return Some(Value { kind: e.value.kind.clone(), span });
            }
        }
        self.env_variable(name, span)
    }

    /// `$NAME` not defined in the file: the environment's value, parsed as a
    /// config value (so `4222` is an integer and `[a, b]` an array).
    fn env_variable(&mut self, name: &str, span: Span) -> Option<Value> {
        let Some(raw) = (self.env)(name) else {
            self.diags.push(
                Diagnostic::error("variable", Some(span), format!("variable `${name}` is not defined"))
                    .with_help("define it earlier in this block or an enclosing one, or set the environment variable"),
            );
            return None;
        };
        if self.env_stack.iter().any(|n| n == name) {
            let chain = [self.env_stack.as_slice(), &[name.to_string()]].concat().join(" → $");
            self.diags.push(Diagnostic::error("variable", Some(span), format!("variable reference cycle: ${chain}")));
            return None;
        }
        let src = self.sources.add(format!("{ENV_SOURCE_PREFIX}{name}"), Path::new(""), format!("value={raw}"));
        self.env_stack.push(name.to_string());
        let before = self.diags.len();
        let map = self.parse_source(src);
        self.env_stack.pop();
        let value = map.and_then(|m| m.entries.into_iter().next_back()).map(|e| e.value);
        match value {
            Some(v) => Some(Value { kind: v.kind, span }),
            None => {
                if self.diags.len() == before {
                    self.diags.push(Diagnostic::error(
                        "variable",
                        Some(span),
                        format!("environment variable ${name} has no value"),
                    ));
                }
                None
            }
        }
    }

    /// Processes `\t \n \r \" \\ \xHH`; anything else is an error at its position.
    fn unescape(&mut self, text: &str, id: usize, start: usize) -> Option<String> {
        if !text.contains('\\') {
            return Some(text.to_string());
        }
        let mut out: Vec<u8> = Vec::with_capacity(text.len());
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'\\' {
                out.push(bytes[i]);
                i += 1;
                continue;
            }
            let at = Span { source: id, start: start + i, end: start + (i + 2).min(bytes.len()) };
            match bytes.get(i + 1) {
                Some(b't') => out.push(b'\t'),
                Some(b'n') => out.push(b'\n'),
                Some(b'r') => out.push(b'\r'),
                Some(b'"') => out.push(b'"'),
                Some(b'\\') => out.push(b'\\'),
                Some(b'x') => {
                    let hex = text.get(i + 2..i + 4).and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(b) => {
                            out.push(b);
                            i += 4;
                            continue;
                        }
                        None => {
                            self.diags.push(Diagnostic::error(
                                "escape",
                                Some(at),
                                "expected two hexadecimal digits after `\\x`",
                            ));
                            return None;
                        }
                    }
                }
                _ => {
                    self.diags.push(
                        Diagnostic::error("escape", Some(at), "invalid escape sequence").with_help(
                            "only \\t \\n \\r \\\" \\\\ and \\xHH are allowed; use single quotes for raw text",
                        ),
                    );
                    return None;
                }
            }
            i += 2;
        }
        Some(String::from_utf8_lossy(&out).into_owned())
    }
}

/// The syntax tree of a text (source `id`, for the diagnostic): the
/// scanner's, or else pest's. Every way there counts nesting with the one
/// depth rule ([`super::syntax::Nesting`]): the scanner as it descends, the
/// bracket scan that spares pest a hopeless deep descent, and the check of
/// the finished tree, which holds even where the bracket scan is misled (a
/// stray quote makes it skip what pest reads as brackets). Nothing deeper
/// than [`MAX_DEPTH`] reaches the recursive walks, and the error is the same
/// whichever path found it.
pub(crate) fn syntax_tree(text: &str, id: usize) -> Result<Syntax, Diagnostic> {
    let too_deep = |d: TooDeep| {
        Diagnostic::error(
            "too-deep",
            Some(Span { source: id, start: d.offset, end: d.offset + 1 }),
            format!("nesting deeper than {MAX_DEPTH} levels"),
        )
    };
    let tree = match super::scan::scan(text) {
        Ok(tree) => tree,
        Err(Declined::TooDeep(d)) => return Err(too_deep(d)),
        Err(Declined::NoMatch) => {
            if let Some(d) = bracket_depth(text) {
                return Err(too_deep(d));
            }
            match Syntax::parse_with_pest(text) {
                Ok(tree) => tree,
                // pest ran out of stack (its guard stops it cleanly): only
                // nesting makes it recurse that far.
                Err(e) if matches!(&e.variant, pest::error::ErrorVariant::CustomError { .. }) => {
                    let at = match e.location {
                        pest::error::InputLocation::Pos(p) | pest::error::InputLocation::Span((p, _)) => p,
                    };
                    return Err(too_deep(TooDeep { offset: at.min(text.len().saturating_sub(1)) }));
                }
                Err(e) => return Err(syntax_error(&e, id, text)),
            }
        }
    };
    tree.check_depth().map_err(too_deep)?;
    Ok(tree)
}

fn read_config(path: &Path) -> std::io::Result<String> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(std::io::Error::other("is a directory"));
    }
    if meta.len() as usize > MAX_FILE_SIZE {
        return Err(std::io::Error::other(format!("larger than {} MiB", MAX_FILE_SIZE >> 20)));
    }
    let bytes = std::fs::read(path)?;
    // Invalid UTF-8 becomes U+FFFD, as in the reference (the strict check
    // first: it is several times faster on the valid text of nearly every file).
    Ok(String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

fn key_text(key: Node<'_>) -> String {
    let inner = key.children().next();
    match inner {
        Some(p) if p.rule() == Rule::quoted_key => {
            p.children().next().map(|t| t.as_str().to_string()).unwrap_or_default()
        }
        Some(p) => p.as_str().to_string(),
        None => String::new(),
    }
}

/// An integer with a size suffix: `k`=1000 ... `e`=1000⁶, `kb`/`ki`/`kib`=1024 ...
/// Overflow and unknown suffixes are errors (the reference wraps around or
/// silently drops the value).
pub fn parse_sized(text: &str) -> Result<i64, String> {
    let digits_end = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
    let (num, suffix) = text.split_at(digits_end);
    let n: i64 = num.parse().map_err(|_| format!("integer `{num}` is out of range"))?;
    let suffix = suffix.to_ascii_lowercase();
    let (base, power) = match suffix.as_str() {
        "k" => (1000, 1),
        "m" => (1000, 2),
        "g" => (1000, 3),
        "t" => (1000, 4),
        "p" => (1000, 5),
        "e" => (1000, 6),
        s => {
            let unit = s.chars().next().unwrap_or(' ');
            let binary = matches!(&s[1..], "b" | "i" | "ib");
            let power = "kmgtpe".find(unit).map(|p| p as u32 + 1);
            match (binary, power) {
                (true, Some(p)) => (1024, p),
                _ => return Err(format!("unknown size suffix `{suffix}` in `{text}`")),
            }
        }
    };
    let mult = (base as i64).checked_pow(power).ok_or_else(|| format!("size `{text}` is too large"))?;
    n.checked_mul(mult).ok_or_else(|| format!("size `{text}` is too large (more than 2^63-1)"))
}

#[cfg(test)]
mod tests {
    use super::errors::{brackets, enclosing_context};
    use super::*;
    use serde_json::json;

    fn parse_env(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> (Option<serde_json::Value>, Vec<Diagnostic>, Sources) {
        let mut sources = Sources::default();
        let mut diags = Vec::new();
        let id = sources.add("t.conf".into(), Path::new("t.conf"), text.into());
        let map = Parser::new(&mut sources, &mut diags).with_env(env).parse_source(id);
        let json = map.map(|m| Value { kind: Kind::Map(m), span: Span::default() }.to_json());
        (json, diags, sources)
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// The value of `text`, which must parse with no diagnostic other than
    /// portability warnings (tested on their own below).
    fn ok(text: &str) -> serde_json::Value {
        let (json, mut diags, sources) = parse_env(text, &no_env);
        diags.retain(|d| d.code != "portability");
        assert!(diags.is_empty(), "{text:?}: {}", diags.iter().map(|d| d.render(&sources)).collect::<String>());
        json.expect("parsed")
    }

    /// The first diagnostic as `line:col code: message`.
    fn err(text: &str) -> String {
        let (_, diags, sources) = parse_env(text, &no_env);
        let d = diags.first().unwrap_or_else(|| panic!("{text:?} should fail"));
        let (_, line, col) = d.location(&sources).unwrap();
        format!("{line}:{col} {}: {}", d.code, d.message)
    }

    #[test]
    fn key_separators() {
        for text in ["a = 1", "a: 1", "a 1", "a=1", "a:1", "a\t=\t1", "a\n1", "'a': 1", "\"a\" = 1"] {
            assert_eq!(ok(text), json!({"a": 1}), "{text:?}");
        }
        assert_eq!(ok("\"a b\": 1"), json!({"a b": 1}));
        assert_eq!(ok("a.b-c = x"), json!({"a.b-c": "x"}));
        assert_eq!(ok("PORT: 1"), json!({"PORT": 1}), "case is kept");
    }

    #[test]
    fn maps_arrays_and_separators() {
        assert_eq!(ok("c { a: 1, b: 2 }"), json!({"c": {"a": 1, "b": 2}}));
        assert_eq!(ok("c {\n a: 1\n b: 2\n}"), json!({"c": {"a": 1, "b": 2}}));
        assert_eq!(ok("c: {a: 1; b: 2;}"), json!({"c": {"a": 1, "b": 2}}));
        assert_eq!(ok("c{a:1}"), json!({"c": {"a": 1}}), "no space before the brace");
        assert_eq!(ok("c {}"), json!({"c": {}}));
        assert_eq!(ok("a = [1, 2, 3]"), json!({"a": [1, 2, 3]}));
        assert_eq!(ok("a = [1]"), json!({"a": [1]}), "the reference swallows this `]`; we do not");
        assert_eq!(ok("a = [\n x\n y,\n z,\n]"), json!({"a": ["x", "y", "z"]}));
        assert_eq!(ok("a = [\"x\" # c\n b]"), json!({"a": ["x", "b"]}));
        assert_eq!(ok("a = [1, \"two\", true, {x: 1}, [2]]"), json!({"a": [1, "two", true, {"x": 1}, [2]]}));
        assert_eq!(ok("a = []"), json!({"a": []}));
        assert_eq!(ok("a: 1; b: 2, c: 3"), json!({"a": 1, "b": 2, "c": 3}));
        assert_eq!(ok("{ \"port\": 4222, \"debug\": true }"), json!({"port": 4222, "debug": true}), "JSON");
        assert_eq!(ok("{\n  \"a\": {\"b\": [1, 2]},\n  \"c\": \"d\"\n}\n"), json!({"a": {"b": [1, 2]}, "c": "d"}));
        assert_eq!(ok("a: 1\na: 2"), json!({"a": 2}), "last wins");
    }

    #[test]
    fn comments() {
        assert_eq!(ok("# c\n// d\na: 1 # e\nb: x // f\n"), json!({"a": 1, "b": "x"}));
        assert_eq!(ok("a: abc#def"), json!({"a": "abc#def"}), "no comment inside a word");
        assert_eq!(ok("m {\n # c\n a: 1 # d\n}"), json!({"m": {"a": 1}}));
    }

    #[test]
    fn strings() {
        assert_eq!(ok(r#"a: "x\ty\n\"q\" \\ \x41""#), json!({"a": "x\ty\n\"q\" \\ A"}));
        assert_eq!(ok(r"a: 'raw \t $x'"), json!({"a": "raw \\t $x"}));
        assert_eq!(ok("a: \"two\nlines\""), json!({"a": "two\nlines"}));
        assert_eq!(ok("a: (\nhello\n  world)\n)\n"), json!({"a": "\nhello\n  world)\n"}));
        assert_eq!(ok("a: nats://u:p@h:4222/x?y=1"), json!({"a": "nats://u:p@h:4222/x?y=1"}));
        assert_eq!(ok("a: 127.0.0.1:4222"), json!({"a": "127.0.0.1:4222"}));
        assert_eq!(ok("a: 1.2.3"), json!({"a": "1.2.3"}));
        assert_eq!(ok(r"a: x\ty"), json!({"a": "x\ty"}), "escapes in unquoted words");
        assert_eq!(ok("a: \"true\""), json!({"a": "true"}), "quoted is never a bool");
    }

    #[test]
    fn booleans() {
        for t in ["true", "TRUE", "yes", "yEs", "on", "ON"] {
            assert_eq!(ok(&format!("a: {t}")), json!({"a": true}), "{t}");
        }
        for f in ["false", "no", "No", "off", "OFF"] {
            assert_eq!(ok(&format!("a: {f}")), json!({"a": false}), "{f}");
        }
        assert_eq!(ok("a: y"), json!({"a": "y"}));
    }

    #[test]
    fn numbers() {
        assert_eq!(ok("a: 42\nb: -7\nc: 1.5\nd: -0.25"), json!({"a": 42, "b": -7, "c": 1.5, "d": -0.25}));
        let sizes = [
            ("1k", 1000i64),
            ("1K", 1000),
            ("2kb", 2048),
            ("1ki", 1024),
            ("1KiB", 1024),
            ("1m", 1_000_000),
            ("1MB", 1 << 20),
            ("1mib", 1 << 20),
            ("1g", 1_000_000_000),
            ("1gb", 1 << 30),
            ("1t", 1_000_000_000_000),
            ("1tb", 1 << 40),
            ("1p", 1_000_000_000_000_000),
            ("1pb", 1 << 50),
            ("1e", 1_000_000_000_000_000_000),
            ("2E", 2_000_000_000_000_000_000),
            ("1eb", 1 << 60),
            ("-1k", -1000),
        ];
        for (text, want) in sizes {
            assert_eq!(ok(&format!("a: {text}")), json!({ "a": want }), "{text}");
        }
        for s in ["2s", "1m30s", "500ms", "1h", "12abc", "0x10", "1_000", "+5", "1k5", "1e5", "1.5s"] {
            assert_eq!(ok(&format!("a: {s}")), json!({ "a": s }), "{s} is a string");
        }
        assert_eq!(ok("a: 2024-01-02T03:04:05Z"), json!({"a": "2024-01-02T03:04:05Z"}));
        assert_eq!(ok("a: [1, 2 ]"), json!({"a": [1, 2]}));
    }

    #[test]
    fn number_errors() {
        assert_eq!(err("a: 10e"), "1:4 size: size `10e` is too large (more than 2^63-1)");
        assert_eq!(err("max_payload: 12e"), "1:14 size: size `12e` is too large (more than 2^63-1)");
        assert_eq!(err("a: 1kbb"), "1:4 size: unknown size suffix `kbb` in `1kbb`");
        assert_eq!(err("a: 99999999999999999999"), "1:4 range: integer `99999999999999999999` is out of range");
    }

    #[test]
    fn variables() {
        assert_eq!(ok("p = 4222\nport: $p"), json!({"p": 4222, "port": 4222}));
        assert_eq!(ok("perms = {pub: a}\nu { p: $perms }"), json!({"perms": {"pub": "a"}, "u": {"p": {"pub": "a"}}}));
        assert_eq!(ok("a { x = 1\n b { y: $x } }"), json!({"a": {"x": 1, "b": {"y": 1}}}), "outer scopes");
        assert_eq!(ok("x = 1\na [ { y: $x } ]"), json!({"x": 1, "a": [{"y": 1}]}), "arrays are not scopes");
        assert_eq!(ok("x = 1\nx = 2\ny: $x"), json!({"x": 2, "y": 2}), "the latest definition");
        assert_eq!(ok("p: $2a$10$abc.def"), json!({"p": "$2a$10$abc.def"}), "bcrypt hash");
        assert_eq!(ok("p: $2b$11$abc"), json!({"p": "$2b$11$abc"}), "bcrypt 2b too");
        assert_eq!(ok("p: \"$x\""), json!({"p": "$x"}), "quoted is literal");
        assert_eq!(err("port: $a\na = 1"), "1:7 variable: variable `$a` is not defined");
        assert_eq!(err("a { b = 1 }\nport: $b"), "2:7 variable: variable `$b` is not defined");
        assert_eq!(err("port: $"), "1:7 variable: variable `$` is not defined");
    }

    #[test]
    fn variables_from_environment() {
        let env = |n: &str| match n {
            "P" => Some("4223".to_string()),
            "B" => Some("true".to_string()),
            "L" => Some("[1, 2]".to_string()),
            "S" => Some("hello world".to_string()),
            "R" => Some("$Q".to_string()),
            "Q" => Some("$R".to_string()),
            "BAD" => Some("[1, ".to_string()),
            _ => None,
        };
        let (json, diags, _) = parse_env("a: $P\nb: $B\nc: $L", &env);
        // `[1, 2]` is parsed as the reference parses it: the `2]` is a warning.
        assert!(diags.iter().all(|d| d.code == "portability") && diags.len() == 1, "{diags:?}");
        assert_eq!(json.unwrap(), json!({"a": 4223, "b": true, "c": [1, 2]}));
        let (_, diags, _) = parse_env("a: $R", &env);
        assert!(diags.iter().any(|d| d.message.contains("variable reference cycle: $R → $Q → $R")), "{diags:?}");
        let (_, diags, _) = parse_env("a: $BAD", &env);
        assert_eq!(diags[0].code, "syntax", "{diags:?}");
        let (_, diags, _) = parse_env("a: $S", &env);
        assert_eq!(diags[0].code, "syntax", "an environment value must itself be a valid value: {diags:?}");
    }

    #[test]
    fn syntax_errors_have_positions() {
        assert_eq!(err("port: \n"), "1:7 syntax: expected a value after the key, found a new line");
        assert_eq!(
            err("a { b: c d: e }"),
            "1:10 syntax: unexpected `d`; expected `,`, a new line or `}` to end the previous value"
        );
        assert_eq!(
            err("a = [a b]"),
            "1:8 syntax: unexpected `b`; expected `,`, a new line or `]` to end the previous value"
        );
        assert_eq!(err("a { b: 1"), "1:9 syntax: unexpected end of file; `}` is missing");
        assert!(err("a: \"open").starts_with("1:"), "unterminated string");
        assert_eq!(
            err("a: [,x]"),
            "1:5 syntax: unexpected `,`; expected `,`, a new line or `]` to end the previous value"
        );
        assert_eq!(err(r#"a: "\q""#), "1:5 escape: invalid escape sequence");
        assert_eq!(err(r#"a: "\x4""#), "1:5 escape: expected two hexadecimal digits after `\\x`");
        assert_eq!(err("port"), "1:5 syntax: unexpected end of file; expected a value");
        assert_eq!(err("port: 1 2"), "1:9 syntax: unexpected `2`; a value must be followed by a new line, `;` or `,`");
        assert_eq!(err("a: (\nhello)"), "1:4 syntax: block string is not closed");
    }

    #[test]
    fn bracket_scan_skips_comments_and_block_strings() {
        let found = |t: &str| brackets(t).map(|(_, c)| c as char).collect::<String>();
        assert_eq!(found("a { b: 1 } # [\n"), "{}");
        assert_eq!(found("a { b: 1 } // [ {\n"), "{}", "`//` comments");
        assert_eq!(found("a: (\n{ [ ]\n)\nb: [1]\n"), "[]", "block strings");
        assert_eq!(found("r: URL(x) { }"), "{}", "a `(` inside a word is not a block");
        assert_eq!(found("a: 1 / 2 [ ]"), "[]", "a lone `/` is not a comment");
        // So the depth check and the "missing `}`" message see what the grammar sees.
        assert_eq!(enclosing_context("m {\n // }\n"), Some('}'));
        assert_eq!(enclosing_context("m {\n x: (\n}\n)\n"), Some('}'));
        assert_eq!(err("a: [\n// ]\n"), "3:1 syntax: unexpected end of file; `]` is missing");
    }

    #[test]
    fn portability_warnings() {
        let warn = |t: &str| {
            let (_, diags, sources) = parse_env(t, &no_env);
            diags
                .iter()
                .map(|d| {
                    let (_, l, c) = d.location(&sources).unwrap();
                    format!("{l}:{c} {}: {}", d.code, d.message)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            warn("a: 1.5s"),
            ["1:4 portability: nats-server 2.x rejects this: Expected a top-level value to end with a new line, comment or EOF, but got 's' instead."]
        );
        assert_eq!(warn("a: [1]\n").len(), 1);
        assert_eq!(warn("a: [1 ]\n").len(), 0);
        assert_eq!(warn("a: [x, 1k]\n").len(), 1, "the reference reads `1k]` as a string");
        assert_eq!(warn("a: [-1]\n").len(), 0);
        assert_eq!(warn("c{a: 1}").len(), 1, "`c{{` is one key for the reference");
        assert_eq!(warn("c {a: 1}").len(), 0);
        assert_eq!(warn("a: (\nx\n)").len(), 1, "the closing `)` at EOF");
        assert_eq!(warn("a: (\nx\n)\n").len(), 0);
        assert_eq!(warn("p: $2b$10$abc").len(), 1);
        assert_eq!(warn("a: 2016-05-04").len(), 1);
        assert_eq!(warn("a: -abc").len(), 1);
        assert_eq!(warn("a: .5").len(), 1);
        assert_eq!(warn("a: x\nb: 12abc\nc: \"1.5s\"").len(), 0);
    }

    #[test]
    fn hostile_input() {
        let deep = "a: ".to_string() + &"[".repeat(100_000);
        assert!(err(&deep).contains("too-deep"));
        let deep_maps = "a ".to_string() + &"{b ".repeat(10_000);
        assert!(err(&deep_maps).contains("too-deep"));
        let garbage: String = (0..2000u32).map(|i| char::from_u32(i * 7 % 0x2FF).unwrap_or('x')).collect();
        let _ = parse_env(&garbage, &no_env);
        let _ = parse_env("\u{0}\u{1}{{{{}}}}]]]", &no_env);
        let big = "k: v\n".repeat(200_000);
        assert_eq!(ok(&big), json!({"k": "v"}));
    }

    /// A stray quote misleads the bracket scan (it reads a string to the
    /// end of the file) and the scanner declines the line, so pest parses
    /// the nesting: the check of its tree still refuses it, before the
    /// recursive walk that used to overflow the stack. On a 2 MiB stack, as
    /// a tokio worker running a reload has.
    #[test]
    fn depth_rule_holds_on_every_path() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let cases = [
            // The scanner counts as it descends.
            (format!("b: {}\n", nested(16_000)), "1:68"),
            // The scanner declines (`x"` then `b: 1 2`): the bracket scan.
            (format!("a: 1 2\nb: {}\n", nested(100)), "2:68"),
            // Both misled: pest parses, its tree is checked (and pest's
            // stack guard stops it short of the end at this depth).
            (format!("a: x\"\nb: {}\n", nested(16_000)), "2:"),
            (format!("a: x\"\nb: {}\n", nested(4_000)), "2:"),
            (format!("a: x\"\nb: {}\n", nested(65)), "2:68"),
            (format!("a: x\"\nb {}\n", "{c ".repeat(3_000)), ""),
        ];
        for (text, at) in cases {
            let got = std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn(move || err(&text))
                .unwrap()
                .join()
                .expect("no stack overflow");
            assert!(got.contains("too-deep: nesting deeper than 64 levels"), "{}", &got[..got.len().min(300)]);
            assert!(got.starts_with(at), "{at}: {}", &got[..got.len().min(300)]);
        }
        // 64 levels are fine on every path.
        assert!(ok(&format!("a: x\"\nb: {}\n", nested(64)))["b"].is_array());
        assert!(ok(&format!("b: {}\n", nested(64)))["b"].is_array());
    }

    #[test]
    fn includes() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        std::fs::create_dir(p("sub")).unwrap();
        std::fs::write(
            p("main.conf"),
            "port: 1\nauthorization {\n  include 'sub/users.conf'\n  timeout: 2\n}\npw: $PASS\n",
        )
        .unwrap();
        std::fs::write(p("sub/users.conf"), "include ./pw.conf;\nusers = [{user: a, password: $PASS}]\n").unwrap();
        std::fs::write(p("sub/pw.conf"), "PASS: secret\n").unwrap();
        let mut sources = Sources::default();
        let mut diags = Vec::new();
        let main = p("main.conf");
        let map = Parser::new(&mut sources, &mut diags).with_env(&no_env).parse_file(&main, "main.conf".into(), None);
        let rendered: String = diags.iter().map(|d| d.render(&sources)).collect();
        // `$PASS` after the include is not visible at top level: it lives in authorization.
        assert_eq!(diags.len(), 1, "{rendered}");
        assert!(diags[0].message.contains("`$PASS` is not defined"));
        let json = Value { kind: Kind::Map(map.unwrap()), span: Span::default() }.to_json();
        assert_eq!(json["authorization"]["users"][0]["password"], "secret");
        assert_eq!(json["authorization"]["timeout"], 2);
        assert_eq!(sources.iter().count(), 3);

        std::fs::write(p("a.conf"), "include b.conf\n").unwrap();
        std::fs::write(p("b.conf"), "x: 1\ninclude \"a.conf\"\n").unwrap();
        let mut sources = Sources::default();
        let mut diags = Vec::new();
        Parser::new(&mut sources, &mut diags).parse_file(&p("a.conf"), "a.conf".into(), None);
        assert_eq!(diags[0].code, "include-cycle", "{diags:?}");
        let (_, line, col) = diags[0].location(&sources).unwrap();
        assert_eq!((line, col), (2, 1), "points at the include line in b.conf");

        std::fs::write(p("self.conf"), "include self.conf\n").unwrap();
        let mut diags = Vec::new();
        Parser::new(&mut Sources::default(), &mut diags).parse_file(&p("self.conf"), "self.conf".into(), None);
        assert_eq!(diags[0].code, "include-cycle");

        std::fs::write(p("missing.conf"), "include nothere.conf\n").unwrap();
        let mut diags = Vec::new();
        Parser::new(&mut Sources::default(), &mut diags).parse_file(&p("missing.conf"), "missing.conf".into(), None);
        assert_eq!(diags[0].code, "file");
        assert!(diags[0].message.contains("cannot read include file"), "{}", diags[0].message);
    }
}
