//! nats-server's config parser (`parse.go`) over the lexer's items: its
//! checks on the items (integers in range, variables found in an enclosing
//! block or the environment, environment values parsed as values, includes
//! read) and its error texts.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::lexer::{Item, Lexer};

/// An include cycle: nats-server overflows its stack on one and has no line
/// to match; rnats' own diagnostic says what it is.
pub(super) const INCLUDE_CYCLE: &str = "\0include cycle";

/// Go's text for an I/O error (`no such file or directory`).
pub(super) fn go_io_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a directory".into(),
        _ => e.to_string(),
    }
}
/// The parser's walk over the items (`parse.go`), keeping of the values only
/// what its checks need: the keys of each enclosing map, for variables.
pub(super) struct GoParser<'e> {
    env: &'e dyn Fn(&str) -> Option<String>,
    /// Environment variables being expanded (cycle detection).
    env_refs: HashSet<String>,
    /// The directory includes are read from.
    dir: PathBuf,
    /// The files being read, outermost first (include cycles).
    includes: Vec<PathBuf>,
}

enum Ctx {
    Map(HashSet<Vec<u8>>),
    Array,
}

impl<'e> GoParser<'e> {
    pub(super) fn new(env: &'e dyn Fn(&str) -> Option<String>, dir: PathBuf, includes: Vec<PathBuf>) -> Self {
        GoParser { env, env_refs: HashSet::new(), dir, includes }
    }

    pub(super) fn parse(&mut self, data: &[u8], fp: &str) -> Result<(), String> {
        let items = Lexer::new(data).run();
        let mut ctxs = vec![Ctx::Map(HashSet::new())];
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut prev: Option<Item> = None;
        let mut prev_val: Vec<u8> = Vec::new();
        for it in &items {
            if it.typ == Item::Eof {
                if prev == Some(Item::Key) && prev_val != b"}" {
                    return Err(format!("config is invalid ({fp}:{}:{})", it.line, it.pos));
                }
                break;
            }
            prev = Some(it.typ);
            prev_val.clone_from(&it.val);
            let set = |ctxs: &mut Vec<Ctx>, keys: &mut Vec<Vec<u8>>| {
                if let Some(Ctx::Map(m)) = ctxs.last_mut() {
                    if let Some(k) = keys.pop() {
                        m.insert(k);
                    }
                }
            };
            let val = String::from_utf8_lossy(&it.val).into_owned();
            match it.typ {
                Item::Error => return Err(format!("Parse error on line {}: '{val}'", it.line)),
                Item::Key => keys.push(it.val.clone()),
                Item::MapStart => ctxs.push(Ctx::Map(HashSet::new())),
                Item::MapEnd => {
                    ctxs.pop();
                    set(&mut ctxs, &mut keys);
                }
                Item::ArrayStart => ctxs.push(Ctx::Array),
                Item::ArrayEnd => {
                    ctxs.pop();
                    set(&mut ctxs, &mut keys);
                }
                Item::Str | Item::Bool => set(&mut ctxs, &mut keys),
                Item::Integer => {
                    let digits = val.chars().take_while(|c| c.is_ascii_digit() || *c == '-').count();
                    if let Err(e) = val[..digits].parse::<i64>() {
                        let range = matches!(
                            e.kind(),
                            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
                        );
                        return Err(if range {
                            format!("integer '{val}' is out of the range")
                        } else {
                            format!("expected integer, but got '{val}'")
                        });
                    }
                    set(&mut ctxs, &mut keys);
                }
                Item::Float => {
                    match val.parse::<f64>() {
                        Ok(f) if f.is_finite() => {}
                        Ok(_) => return Err(format!("float '{val}' is out of the range")),
                        Err(_) => return Err(format!("expected float, but got '{val}'")),
                    }
                    set(&mut ctxs, &mut keys);
                }
                Item::Datetime => {
                    if !valid_zulu(&val) {
                        return Err(format!("expected Zulu formatted DateTime, but got '{val}'"));
                    }
                    set(&mut ctxs, &mut keys);
                }
                Item::Variable => {
                    match self.lookup(&ctxs, &val) {
                        Err(e) => {
                            return Err(format!(
                                "variable reference for '{val}' on line {} could not be parsed: {e}",
                                it.line
                            ))
                        }
                        Ok(false) => {
                            return Err(format!("variable reference for '{val}' on line {} can not be found", it.line))
                        }
                        Ok(true) => {}
                    }
                    set(&mut ctxs, &mut keys);
                }
                Item::Include => {
                    let path = self.dir.join(&val);
                    let included = match std::fs::read(&path) {
                        Ok(d) => d,
                        Err(e) => {
                            return Err(format!(
                                "error parsing include file '{val}', open {}: {}",
                                path.display(),
                                go_io_error(&e)
                            ))
                        }
                    };
                    let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                    if self.includes.contains(&canonical) {
                        return Err(INCLUDE_CYCLE.into());
                    }
                    let mut sub = GoParser {
                        env: self.env,
                        env_refs: HashSet::new(),
                        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
                        includes: [self.includes.as_slice(), &[canonical]].concat(),
                    };
                    let names = sub.parse_keys(&included, &path.to_string_lossy()).map_err(|e| {
                        if e == INCLUDE_CYCLE {
                            e
                        } else {
                            format!("error parsing include file '{val}', {e}")
                        }
                    })?;
                    if let Some(Ctx::Map(m)) = ctxs.last_mut() {
                        m.extend(names);
                    }
                }
                Item::Eof | Item::Text | Item::CommentStart => {}
            }
        }
        Ok(())
    }

    /// [`GoParser::parse`] returning the top-level keys (an include's).
    fn parse_keys(&mut self, data: &[u8], fp: &str) -> Result<Vec<Vec<u8>>, String> {
        self.parse(data, fp)?;
        // The keys themselves: a second, error-free walk of the items.
        let items = Lexer::new(data).run();
        let mut depth = 0i32;
        let mut out = Vec::new();
        for it in items {
            match it.typ {
                Item::MapStart | Item::ArrayStart => depth += 1,
                Item::MapEnd | Item::ArrayEnd => depth -= 1,
                Item::Key if depth == 0 => out.push(it.val),
                _ => {}
            }
        }
        Ok(out)
    }

    /// `lookupVariable`: an enclosing map's key, a bcrypt hash, or the
    /// environment's value parsed as `pk=<value>`.
    fn lookup(&mut self, ctxs: &[Ctx], name: &str) -> Result<bool, String> {
        if name.starts_with("2a$") {
            return Ok(true);
        }
        for ctx in ctxs.iter().rev() {
            if let Ctx::Map(m) = ctx {
                if m.contains(name.as_bytes()) {
                    return Ok(true);
                }
            }
        }
        if self.env_refs.contains(name) {
            return Err(format!("variable reference cycle for '{name}'"));
        }
        let Some(value) = (self.env)(name) else { return Ok(false) };
        self.env_refs.insert(name.to_string());
        let saved_dir = std::mem::take(&mut self.dir);
        let r = self.parse(format!("pk={value}").as_bytes(), "");
        self.dir = saved_dir;
        self.env_refs.remove(name);
        r.map(|()| true)
    }
}

/// `time.Parse("2006-01-02T15:04:05Z", s)` for the lexer's shape.
fn valid_zulu(s: &str) -> bool {
    let n = |a: usize, b: usize| s.get(a..b).and_then(|t| t.parse::<u32>().ok()).unwrap_or(99);
    let (year, month, day, hour, min, sec) = (n(0, 4), n(5, 7), n(8, 10), n(11, 13), n(14, 16), n(17, 19));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day) && hour < 24 && min < 60 && sec < 60
}
