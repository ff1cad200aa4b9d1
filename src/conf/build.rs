//! The walk: value tree → typed [`Options`], driven by the key table (the
//! `keys` module): each block's entries are looked up there, their values
//! checked against the declared [`Ty`], and handed to the key's setter. Every
//! problem is reported at its position: wrong types, out-of-range values,
//! unknown keys (with "did you mean"), missing files. Cross-field rules (the
//! `validate` module) run afterwards, per block.
//!
//! Blocks rnats does not act on yet are checked as strictly as nats-server
//! checks them and kept verbatim in `Options::other`, so a config valid for
//! nats-server is valid here, and a config it refuses is refused here.

use std::time::Duration;

use super::context::{Builder, Val};
use super::diag::{suggest, Diagnostic, MAX_DIAGNOSTICS};
use super::keys::{Block, BlockInfo, Feature, KeyInfo, Support, Ty, Unknown};
use super::source::Span;
use super::tree::{Entry, Kind, Map, Value};
use crate::gotext::parse_go_duration;
use crate::options::*;

/// The first item of an array value.
fn first_item(v: &Value) -> Option<&Value> {
    match &v.kind {
        Kind::Array(items) => items.first(),
        _ => None,
    }
}

/// The Go type nats-server holds for a value of an environment variable.
fn go_kind(k: &Kind) -> &'static str {
    match k {
        Kind::Str(_) => "string",
        Kind::Bool(_) => "bool",
        Kind::Int(_) => "int64",
        Kind::Float(_) => "float64",
        Kind::Date(_) => "time.Time",
        Kind::Array(_) => "[]interface {}",
        Kind::Map(_) => "map[string]interface {}",
    }
}

impl Builder {
    fn unknown_key(&mut self, e: &Entry, policy: Unknown, block_name: &str, known: Vec<&'static str>) {
        if e.used {
            return; // a key used as a `$variable` is one, whatever its name
        }
        let path = self.path();
        let where_ = if path.is_empty() { String::new() } else { format!(" in `{path}`") };
        let message = if block_name == "subject permissions" {
            format!("unknown field `{}` in subject permissions: only `allow` and `deny` are permitted", e.key)
        } else {
            format!("unknown field `{}`{where_}", e.key)
        };
        let mut d = match policy {
            Unknown::Warn => Diagnostic::warning("unknown-key", Some(e.key_span), message),
            Unknown::Error => Diagnostic::error("unknown-key", Some(e.key_span), message),
            Unknown::Note => Diagnostic::note("unknown-key", Some(e.key_span), message + " (nats-server ignores it)"),
        };
        // Suggestions cost an edit distance per known key: skip them once the
        // report will be truncated anyway.
        let hint = self.diags.len() < MAX_DIAGNOSTICS;
        if let Some(s) = hint.then(|| suggest(&e.key, known)).flatten() {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        self.diags.push(d);
    }

    /// A note, once per subtree, for a key whose feature rnats does not have.
    fn note_support(&mut self, feature: Feature, e: &Entry) -> bool {
        if self.quiet > 0 {
            return false;
        }
        let support = feature.support();
        if matches!(support, Support::Implemented) {
            return false;
        }
        let path = self.path();
        let d = match support {
            Support::Implemented => return false,
            Support::Ignored(why) => {
                Diagnostic::note("unsupported", Some(e.key_span), format!("`{path}`: {why}; it is checked and ignored"))
            }
            Support::Refused(why) => Diagnostic::note(
                "refused",
                Some(e.key_span),
                format!("`{path}`: {why}; the server will not start with it"),
            ),
        };
        self.diags.push(d);
        self.quiet += 1;
        true
    }

    // ------------------------------------------------------------ the walk

    /// Builds `target` from `map` with the keys of `block`: every spelling of
    /// every key is checked (nats-server matches keys case-insensitively and
    /// checks each spelling it finds), then the block's cross-field rules run.
    pub fn block<T: 'static>(&mut self, block: &'static Block<T>, map: &Map, target: &mut T) {
        for e in map.effective() {
            let Some(key) = block.find(&e.key) else {
                let known = block.keys.iter().flat_map(|k| k.names()).collect();
                self.unknown_key(e, block.unknown, block.name, known);
                continue;
            };
            self.path.push(std::borrow::Cow::Borrowed(key.name));
            let noted = self.note_support(key.feature, e);
            if let Some(v) = self.check(&key.ty, e, key.set.is_none()) {
                match key.set {
                    Some(set) => set(self, e, v, target),
                    None => {
                        if let Some(other) = block.other {
                            other(target).insert(e.key.clone(), e.value.to_json());
                        }
                    }
                }
            }
            if noted {
                self.quiet -= 1;
            }
            self.path.pop();
        }
        if let Some(rules) = block.rules {
            rules(self, map, target);
        }
    }

    /// Builds one `T` per map of an array.
    pub fn blocks<T: Default + 'static>(&mut self, block: &'static Block<T>, items: &[Value]) -> Vec<T> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Kind::Map(m) = &item.kind {
                let mut t = T::default();
                self.block(block, m, &mut t);
                out.push(t);
            }
        }
        out
    }

    /// Checks a value against its declared type. Nested blocks of keys that
    /// have no setter are checked here too (`recurse`); keys with a setter
    /// build their block themselves.
    pub fn check<'a>(&mut self, ty: &Ty, e: &'a Entry, recurse: bool) -> Option<Val<'a>> {
        if let Some(what) = self.env_array_refused(e) {
            let msg = format!("error parsing {what}: unsupported type {}", go_kind(&first_item(&e.value)?.kind));
            self.diags.push(Diagnostic::error("env-type", Some(e.key_span), msg).with_help(
                "nats-server takes these strings from the file only: an array from an environment variable is refused",
            ));
            return None;
        }
        self.check_value(ty, &e.key, &e.value, recurse)
    }

    /// nats-server reads an environment variable's value as a value of its
    /// own (`TAGS=[a,b]` is an array), but its items are plain values, not
    /// the positioned tokens of the file, and three keys take tokens only:
    /// `server_tags`, `operator` and a TLS block's `ca_certs_match` refuse
    /// such an array (`error parsing tags: unsupported type string`).
    /// Everywhere else an environment value counts as if written in place.
    fn env_array_refused(&self, e: &Entry) -> Option<&'static str> {
        let what = match e.key.to_ascii_lowercase().as_str() {
            "server_tags" => "tags",
            "ca_certs_match" => "ca_cert_match",
            "operator" | "operators" | "root" | "roots" | "root_operator" | "root_operators" => "operators",
            _ => return None,
        };
        let item = first_item(&e.value)?;
        self.env_sources.contains(&item.span.source).then_some(what)
    }

    fn check_value<'a>(&mut self, ty: &Ty, key: &str, v: &'a Value, recurse: bool) -> Option<Val<'a>> {
        let span = v.span;
        match (ty, &v.kind) {
            (Ty::Bool, Kind::Bool(b)) => Some(Val::Bool(*b)),
            (Ty::Bool, _) => self.wrong(key, v, "a boolean (true/false, yes/no, on/off)"),
            (Ty::Int { min, max }, Kind::Int(i)) => {
                if i < min || i > max {
                    self.error("range", span, format!("`{key}` must be between {min} and {max}, found {i}"));
                    return None;
                }
                Some(Val::Int(*i))
            }
            (Ty::Size { max }, Kind::Int(i)) => {
                if *i < 0 {
                    self.error("range", span, format!("`{key}` cannot be negative"));
                    return None;
                }
                if i > max {
                    self.error("range", span, format!("`{key}` value is too big: {i} (at most {max})"));
                    return None;
                }
                Some(Val::Int(*i))
            }
            (Ty::Int { .. } | Ty::Size { .. }, _) => self.wrong(key, v, "an integer"),
            (Ty::Str | Ty::OneOf(_), Kind::Str(s)) => {
                if let Ty::OneOf(allowed) = ty {
                    if !allowed.contains(&s.as_str()) {
                        let list = allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
                        self.error("value", span, format!("`{key}` must be one of {list}, found `{s}`"));
                        return None;
                    }
                }
                Some(Val::Str(s.clone()))
            }
            (Ty::Str | Ty::OneOf(_), _) => self.wrong(key, v, "a string"),
            (Ty::Strings, Kind::Str(s)) => Some(Val::Strs(vec![s.clone()])),
            (Ty::Strings | Ty::StrArray, Kind::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match &item.kind {
                        Kind::Str(s) => out.push(s.clone()),
                        other => {
                            let msg = format!("`{key}` must hold strings, found {}", other.describe());
                            self.error("type", item.span, msg);
                            return None;
                        }
                    }
                }
                Some(Val::Strs(out))
            }
            (Ty::Strings, _) => self.wrong(key, v, "a string or an array of strings"),
            (Ty::StrArray, _) => self.wrong(key, v, "an array of strings"),
            (Ty::Duration, Kind::Int(i)) if *i >= 0 => {
                self.diags.push(
                    Diagnostic::warning(
                        "duration",
                        Some(span),
                        format!("`{key}` should be a duration; the number is taken as seconds"),
                    )
                    .with_help(format!("write `\"{i}s\"`")),
                );
                Some(Val::Dur(Duration::from_secs(*i as u64)))
            }
            (Ty::Duration | Ty::DurationStr | Ty::Seconds, Kind::Str(s)) => match parse_go_duration(s) {
                Ok(d) => Some(Val::Dur(d)),
                Err(msg) => {
                    self.error("duration", span, msg);
                    None
                }
            },
            (Ty::Duration, _) => self.wrong(key, v, "a duration such as \"2s\" or \"1m30s\""),
            (Ty::DurationStr, _) => self.wrong(key, v, "a duration string such as \"2m\""),
            (Ty::Seconds, Kind::Int(i)) if *i >= 0 => Some(Val::Dur(Duration::from_secs(*i as u64))),
            (Ty::Seconds, Kind::Float(f)) if *f >= 0.0 && f.is_finite() && *f < 1e12 => {
                Some(Val::Dur(Duration::from_secs_f64(*f)))
            }
            (Ty::Seconds, _) => self.wrong(key, v, "a number of seconds or a duration string"),
            (Ty::Port, Kind::Int(-1)) => Some(Val::Port(Port::Random)),
            (Ty::Port, Kind::Str(s)) if s.eq_ignore_ascii_case("random") => Some(Val::Port(Port::Random)),
            (Ty::Port, Kind::Int(p)) => {
                if !(0..=65535).contains(p) {
                    self.error("range", span, format!("`{key}` must be between -1 and 65535, found {p}"));
                    return None;
                }
                Some(Val::Port(Port::Fixed(*p as u16)))
            }
            (Ty::Port, _) => self.wrong(key, v, "an integer"),
            (Ty::Listen, Kind::Int(_)) => match self.check_value(&Ty::Port, key, v, recurse)? {
                Val::Port(p) => Some(Val::Listen(None, p)),
                _ => None,
            },
            (Ty::Listen, Kind::Str(s)) => self.listen(key, s, span),
            (Ty::Listen, _) => self.wrong(key, v, "`host:port` or a port number"),
            (Ty::StorageSize, Kind::Int(i)) => Some(Val::Int(*i)),
            (Ty::StorageSize, Kind::Str(s)) => match storage_size(s) {
                Ok(n) => Some(Val::Int(n)),
                Err(msg) => {
                    self.error("value", span, format!("`{key}`: {msg}"));
                    None
                }
            },
            (Ty::StorageSize, _) => self.wrong(key, v, "a size (an integer, or a string such as \"10G\")"),
            (Ty::Block(b), Kind::Map(m)) => {
                if recurse {
                    b.check(self, m);
                }
                Some(Val::Map(m))
            }
            (Ty::Block(_), _) => self.wrong(key, v, "a map (`{ ... }`)"),
            (Ty::Blocks(b), Kind::Array(items)) => {
                for item in items {
                    match &item.kind {
                        Kind::Map(m) if recurse => b.check(self, m),
                        Kind::Map(_) => {}
                        other => self.error(
                            "type",
                            item.span,
                            format!("each of `{key}` must be a map, found {}", other.describe()),
                        ),
                    }
                }
                Some(Val::Items(items))
            }
            (Ty::Blocks(_), _) => self.wrong(key, v, "an array of maps"),
            (Ty::MapOf(inner), Kind::Map(m)) => {
                let mut ok = true;
                for e in m.effective() {
                    ok &= self.check_value(inner, &e.key, &e.value, true).is_some();
                }
                ok.then_some(Val::Map(m))
            }
            (Ty::MapOf(_), _) => self.wrong(key, v, "a map (`{ ... }`)"),
            (Ty::Custom(c), _) => (c.check)(self, key, v).then_some(Val::Raw(v)),
        }
    }

    fn wrong<'a>(&mut self, key: &str, v: &Value, want: &str) -> Option<Val<'a>> {
        self.type_error_at(key, v, want);
        None
    }

    /// `listen`: `host:port` (the port may be `-1`).
    fn listen<'a>(&mut self, key: &str, s: &str, span: Span) -> Option<Val<'a>> {
        let Some((host, port)) = s.rsplit_once(':') else {
            self.error("listen", span, format!("`{key}` must be `host:port` or a port, found `{s}`"));
            return None;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        match port.parse::<i64>() {
            Ok(-1) => Some(Val::Listen(Some(host.to_string()), Port::Random)),
            Ok(p) if (0..=65535).contains(&p) => Some(Val::Listen(Some(host.to_string()), Port::Fixed(p as u16))),
            _ => {
                self.error("listen", span, format!("invalid port `{port}` in `{key}`"));
                None
            }
        }
    }
}

/// `getStorageSize` of nats-server: an integer, or digits and one of K M G T
/// (powers of 1024); the empty string is 0.
fn storage_size(s: &str) -> Result<i64, String> {
    if s.is_empty() {
        return Ok(0);
    }
    let (num, suffix) = s.split_at(s.len() - s.chars().last().map_or(0, char::len_utf8));
    let n: i64 = num.parse().map_err(|_| format!("invalid size `{s}`"))?;
    let shift = match suffix {
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("size `{s}` must end in K, M, G or T")),
    };
    n.checked_mul(1 << shift).ok_or_else(|| format!("size `{s}` is too large"))
}

/// A block of the table seen without its model type. The walk implements
/// it: checking a nested block is walking it into a scratch model.
impl<T: Default + 'static> BlockInfo for Block<T> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn key_infos(&'static self) -> Vec<KeyInfo> {
        self.infos()
    }
    fn unknown(&self) -> Unknown {
        self.unknown
    }
    fn case_sensitive(&self) -> bool {
        self.case_sensitive
    }
    fn check(&'static self, b: &mut Builder, map: &Map) {
        let mut scratch = T::default();
        b.block(self, map, &mut scratch);
    }
}
