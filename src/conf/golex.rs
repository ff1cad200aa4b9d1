//! nats-server's own verdict on a config file's syntax, word for word: the
//! error its `conf` package (lexer and parser) returns first, for the first
//! line of `-t` and of a failed start when rnats runs as `nats-server`
//! (launchers and test harnesses read that line, e.g. for `Parse error`).
//!
//! This is a second reading of the file, done only when it is needed: the
//! same state machine as nats-server's lexer, state for state (its line
//! counting and its messages included), and the parser's checks on the
//! items (integers in range, variables found in an enclosing block or the
//! environment, environment values parsed as values, includes read). rnats'
//! own parser (`parse.rs`) remains the one that builds the configuration
//! and reports every problem with its position; this module only says what
//! the reference would say first.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The reference's error for the file at `path` (as given on the command
/// line), or `None` when its `conf` package reads it.
pub fn first_error(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => return Some(format!("open {}: {}", path.display(), go_io_error(&e))),
    };
    let mut p = GoParser {
        env,
        env_refs: HashSet::new(),
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        includes: vec![std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())],
    };
    p.parse(&data, &path.to_string_lossy()).err().filter(|e| e != INCLUDE_CYCLE)
}

/// An include cycle: nats-server overflows its stack on one and has no line
/// to match; rnats' own diagnostic says what it is.
const INCLUDE_CYCLE: &str = "\0include cycle";

/// The reference's error for the text of one file (a test helper too).
pub fn first_error_in(text: &str, name: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut p = GoParser { env, env_refs: HashSet::new(), dir: PathBuf::new(), includes: Vec::new() };
    p.parse(text.as_bytes(), name).err().filter(|e| e != INCLUDE_CYCLE)
}

/// Go's text for an I/O error (`no such file or directory`).
fn go_io_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a directory".into(),
        _ => e.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Error,
    Eof,
    Key,
    Text,
    Str,
    Bool,
    Integer,
    Float,
    Datetime,
    ArrayStart,
    ArrayEnd,
    MapStart,
    MapEnd,
    CommentStart,
    Variable,
    Include,
}

struct Token {
    typ: Item,
    val: Vec<u8>,
    line: i64,
    pos: i64,
}

/// The lexer's states, one per function of nats-server's `lex.go`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Top,
    TopValueEnd,
    BlockStart,
    BlockValueEnd,
    BlockEnd,
    KeyStart,
    DubQuotedKey,
    QuotedKey,
    IncludeStart,
    IncludeQuotedString,
    IncludeDubQuotedString,
    IncludeString,
    Include,
    Key,
    KeyEnd,
    Value,
    ArrayValue,
    ArrayValueEnd,
    ArrayEnd,
    MapKeyStart,
    MapQuotedKey,
    MapDubQuotedKey,
    MapKey,
    MapKeyEnd,
    MapValue,
    MapValueEnd,
    MapEnd,
    QuotedString,
    DubQuotedString,
    Str,
    Block,
    StringEscape,
    StringBinary,
    NumberStart,
    Number,
    ConvenientNumber,
    DateAfterYear,
    NegNumberStart,
    NegNumber,
    FloatStart,
    Float,
    IpAddr,
    CommentStart,
    Comment,
}

const EOF: char = '\0';

struct Lexer<'a> {
    input: &'a [u8],
    start: usize,
    pos: usize,
    width: usize,
    line: i64,
    stack: Vec<St>,
    string_parts: Vec<u8>,
    has_parts: bool,
    string_state: St,
    lstart: usize,
    ilstart: usize,
    items: Vec<Token>,
}

fn is_ws(c: char) -> bool {
    c == '\t' || c == ' '
}
fn is_nl(c: char) -> bool {
    c == '\n' || c == '\r'
}
fn is_space(c: char) -> bool {
    c.is_whitespace()
}
fn is_key_sep(c: char) -> bool {
    c == '=' || c == ':'
}
fn is_suffix(c: char) -> bool {
    matches!(c, 'k' | 'K' | 'm' | 'M' | 'g' | 'G' | 't' | 'T' | 'p' | 'P' | 'e' | 'E')
}
/// `%v` of a rune in the lexer's messages (Go's `escapeSpecial`).
fn shown(c: char) -> String {
    if c == '\n' {
        "\\n".into()
    } else {
        c.to_string()
    }
}

impl<'a> Lexer<'a> {
    fn new(input: &'a [u8]) -> Lexer<'a> {
        Lexer {
            input,
            start: 0,
            pos: 0,
            width: 0,
            line: 1,
            stack: Vec::new(),
            string_parts: Vec::new(),
            has_parts: false,
            string_state: St::Str,
            lstart: 0,
            ilstart: 0,
            items: Vec::new(),
        }
    }

    fn next(&mut self) -> char {
        if self.pos >= self.input.len() {
            self.width = 0;
            return EOF;
        }
        if self.input[self.pos] == b'\n' {
            self.line += 1;
            self.lstart = self.pos;
        }
        let (c, w) = decode(&self.input[self.pos..]);
        self.width = w;
        self.pos += w;
        c
    }

    fn backup(&mut self) {
        self.pos -= self.width;
        if self.pos < self.input.len() && self.input[self.pos] == b'\n' {
            self.line -= 1;
        }
    }

    fn peek(&mut self) -> char {
        let c = self.next();
        self.backup();
        c
    }

    fn ignore(&mut self) {
        self.start = self.pos;
        self.ilstart = self.lstart;
    }

    fn emit(&mut self, typ: Item) {
        let mut val = self.string_parts.clone();
        val.extend_from_slice(&self.input[self.start..self.pos]);
        let pos = self.pos as i64 - self.ilstart as i64 - val.len() as i64;
        self.items.push(Token { typ, val, line: self.line, pos });
        self.start = self.pos;
        self.ilstart = self.lstart;
    }

    fn emit_string(&mut self) {
        let mut val = std::mem::take(&mut self.string_parts);
        self.has_parts = false;
        val.extend_from_slice(&self.input[self.start..self.pos]);
        let pos = self.pos as i64 - self.ilstart as i64 - val.len() as i64;
        self.items.push(Token { typ: Item::Str, val, line: self.line, pos });
        self.start = self.pos;
        self.ilstart = self.lstart;
    }

    fn add_current_part(&mut self, offset: usize) {
        let end = self.pos - offset;
        self.string_parts.extend_from_slice(&self.input[self.start..end]);
        self.has_parts = true;
        self.start = self.pos;
    }

    fn add_part(&mut self, s: &[u8]) -> Option<St> {
        self.string_parts.extend_from_slice(s);
        self.has_parts = true;
        self.start = self.pos;
        Some(self.string_state)
    }

    fn error(&mut self, msg: String) -> Option<St> {
        let pos = self.pos as i64 - self.lstart as i64;
        self.items.push(Token { typ: Item::Error, val: msg.into_bytes(), line: self.line, pos });
        None
    }

    fn pop(&mut self) -> Option<St> {
        match self.stack.pop() {
            Some(s) => Some(s),
            None => self.error("BUG in lexer: no states to pop.".into()),
        }
    }

    fn skip(&mut self, next: St) -> Option<St> {
        self.ignore();
        Some(next)
    }

    fn eof_or_error(&mut self) -> Option<St> {
        if self.pos > self.start {
            return self.error("Unexpected EOF.".into());
        }
        self.emit(Item::Eof);
        None
    }

    fn is_bool(&self) -> bool {
        let s = String::from_utf8_lossy(&self.input[self.start..self.pos]).to_lowercase();
        matches!(s.as_str(), "true" | "false" | "on" | "off" | "yes" | "no")
    }

    fn is_variable(&mut self) -> bool {
        if self.start < self.input.len() && self.input[self.start] == b'$' {
            self.start += 1;
            return true;
        }
        false
    }

    fn key_check_keyword(&mut self, fall_through: St, push: Option<St>) -> Option<St> {
        let key = String::from_utf8_lossy(&self.input[self.start..self.pos]).to_lowercase();
        if key == "include" {
            self.ignore();
            if let Some(p) = push {
                self.stack.push(p);
            }
            return Some(St::IncludeStart);
        }
        self.emit(Item::Key);
        Some(fall_through)
    }

    /// Runs the lexer to its end: the items, the last an EOF or an error.
    fn run(mut self) -> Vec<Token> {
        let mut state = Some(St::Top);
        while let Some(s) = state {
            state = self.step(s);
        }
        self.items
    }

    fn step(&mut self, s: St) -> Option<St> {
        match s {
            St::Top => {
                let r = self.next();
                if is_space(r) {
                    return self.skip(St::Top);
                }
                match r {
                    '{' => {
                        self.stack.push(St::Top);
                        return self.skip(St::BlockStart);
                    }
                    '#' => {
                        self.stack.push(St::Top);
                        return Some(St::CommentStart);
                    }
                    '/' => {
                        if self.next() == '/' {
                            self.stack.push(St::Top);
                            return Some(St::CommentStart);
                        }
                        self.backup();
                        return self.eof_or_error();
                    }
                    EOF => return self.eof_or_error(),
                    _ => {}
                }
                self.backup();
                self.stack.push(St::TopValueEnd);
                Some(St::KeyStart)
            }
            St::TopValueEnd => {
                let r = self.next();
                if r == '#' {
                    self.stack.push(St::Top);
                    return Some(St::CommentStart);
                }
                if r == '/' {
                    if self.next() == '/' {
                        self.stack.push(St::Top);
                        return Some(St::CommentStart);
                    }
                    self.backup();
                    return Some(St::TopValueEnd);
                }
                if is_ws(r) {
                    return Some(St::TopValueEnd);
                }
                if is_nl(r) || r == EOF || r == ';' || r == ',' || r == '}' {
                    self.ignore();
                    return Some(St::Top);
                }
                self.error(format!(
                    "Expected a top-level value to end with a new line, comment or EOF, but got '{}' instead.",
                    shown(r)
                ))
            }
            St::BlockStart => {
                let r = self.next();
                if is_space(r) {
                    return self.skip(St::BlockStart);
                }
                match r {
                    '{' => {
                        self.stack.push(St::BlockEnd);
                        return self.skip(St::BlockStart);
                    }
                    '}' => {
                        self.ignore();
                        return self.pop();
                    }
                    '#' => {
                        self.stack.push(St::BlockStart);
                        return Some(St::CommentStart);
                    }
                    '/' => {
                        if self.next() == '/' {
                            self.stack.push(St::BlockStart);
                            return Some(St::CommentStart);
                        }
                        self.backup();
                        return self.eof_or_error();
                    }
                    EOF => return self.eof_or_error(),
                    _ => {}
                }
                self.backup();
                self.stack.push(St::BlockValueEnd);
                Some(St::KeyStart)
            }
            St::BlockValueEnd => {
                let r = self.next();
                if r == '#' {
                    self.stack.push(St::BlockValueEnd);
                    return Some(St::CommentStart);
                }
                if r == '/' {
                    if self.next() == '/' {
                        self.stack.push(St::BlockValueEnd);
                        return Some(St::CommentStart);
                    }
                    self.backup();
                    return Some(St::BlockValueEnd);
                }
                if is_ws(r) {
                    return Some(St::BlockValueEnd);
                }
                if is_nl(r) || r == ';' || r == ',' {
                    self.ignore();
                    return Some(St::BlockStart);
                }
                if r == '}' {
                    self.backup();
                    return Some(St::BlockEnd);
                }
                self.error(format!(
                    "Expected a block-level value to end with a new line, comment or EOF, but got '{}' instead.",
                    shown(r)
                ))
            }
            St::BlockEnd => {
                let r = self.next();
                if r == '#' {
                    self.stack.push(St::BlockStart);
                    return Some(St::CommentStart);
                }
                if r == '/' {
                    if self.next() == '/' {
                        self.stack.push(St::BlockStart);
                        return Some(St::CommentStart);
                    }
                    self.backup();
                    return Some(St::BlockEnd);
                }
                if is_nl(r) || is_ws(r) {
                    return Some(St::BlockEnd);
                }
                if r == ';' || r == ',' {
                    self.ignore();
                    return Some(St::BlockStart);
                }
                if r == '}' {
                    self.ignore();
                    return self.pop();
                }
                self.error(format!("Expected a block-level to end with a '}}', but got '{}' instead.", shown(r)))
            }
            St::KeyStart => {
                let r = self.peek();
                if is_key_sep(r) {
                    return self.error(format!("Unexpected key separator '{}'", shown(r)));
                }
                if is_space(r) {
                    self.next();
                    return self.skip(St::KeyStart);
                }
                if r == '"' {
                    self.next();
                    return self.skip(St::DubQuotedKey);
                }
                if r == '\'' {
                    self.next();
                    return self.skip(St::QuotedKey);
                }
                self.ignore();
                self.next();
                Some(St::Key)
            }
            St::DubQuotedKey | St::QuotedKey => {
                let quote = if s == St::DubQuotedKey { '"' } else { '\'' };
                let r = self.peek();
                if r == quote {
                    self.emit(Item::Key);
                    self.next();
                    return self.skip(St::KeyEnd);
                }
                if r == EOF {
                    return self.eof_or_error();
                }
                self.next();
                Some(s)
            }
            St::IncludeStart => {
                let r = self.next();
                if is_ws(r) {
                    return self.skip(St::IncludeStart);
                }
                self.backup();
                Some(St::Include)
            }
            St::IncludeQuotedString | St::IncludeDubQuotedString => {
                let single = s == St::IncludeQuotedString;
                let r = self.next();
                if r == if single { '\'' } else { '"' } {
                    self.backup();
                    self.emit(Item::Include);
                    self.next();
                    self.ignore();
                    return self.pop();
                }
                if r == EOF {
                    let what = if single { "quoted include" } else { "double quoted include" };
                    return self.error(format!("Unexpected EOF in {what}"));
                }
                Some(s)
            }
            St::IncludeString => {
                let r = self.next();
                if is_nl(r) || r == EOF || r == ';' || r == '}' || is_ws(r) {
                    self.backup();
                    self.emit(Item::Include);
                    return self.pop();
                }
                if r == '\'' {
                    self.backup();
                    self.emit(Item::Include);
                    self.next();
                    self.ignore();
                    return self.pop();
                }
                Some(St::IncludeString)
            }
            St::Include => {
                let r = self.next();
                let found = match r {
                    '\'' => {
                        self.ignore();
                        return Some(St::IncludeQuotedString);
                    }
                    '"' => {
                        self.ignore();
                        return Some(St::IncludeDubQuotedString);
                    }
                    '[' => "start of an array",
                    '{' => "start of a map",
                    '(' => "start of a block",
                    c if c.is_ascii_digit() || c == '-' => "start of a number",
                    '\\' => "escape sequence",
                    c if is_nl(c) => "new line",
                    _ => {
                        self.backup();
                        return Some(St::IncludeString);
                    }
                };
                self.error(format!("Expected include value but found {found}"))
            }
            St::Key => {
                let r = self.peek();
                if is_space(r) {
                    return self.key_check_keyword(St::KeyEnd, None);
                }
                if is_key_sep(r) || r == EOF {
                    self.emit(Item::Key);
                    return Some(St::KeyEnd);
                }
                self.next();
                Some(St::Key)
            }
            St::KeyEnd => {
                let r = self.next();
                if is_space(r) {
                    return self.skip(St::KeyEnd);
                }
                if is_key_sep(r) {
                    return self.skip(St::Value);
                }
                if r == EOF {
                    self.emit(Item::Eof);
                    return None;
                }
                self.backup();
                Some(St::Value)
            }
            St::Value => {
                let r = self.next();
                if is_ws(r) {
                    return self.skip(St::Value);
                }
                match r {
                    '[' => {
                        self.ignore();
                        self.emit(Item::ArrayStart);
                        Some(St::ArrayValue)
                    }
                    '{' => {
                        self.ignore();
                        self.emit(Item::MapStart);
                        Some(St::MapKeyStart)
                    }
                    '\'' => {
                        self.ignore();
                        Some(St::QuotedString)
                    }
                    '"' => {
                        self.ignore();
                        self.string_state = St::DubQuotedString;
                        Some(St::DubQuotedString)
                    }
                    '-' => Some(St::NegNumberStart),
                    '(' => {
                        self.ignore();
                        Some(St::Block)
                    }
                    c if c.is_ascii_digit() => {
                        self.backup();
                        Some(St::NumberStart)
                    }
                    '.' => self.error("Floats must start with a digit".into()),
                    c if is_nl(c) => self.error("Expected value but found new line".into()),
                    _ => {
                        self.backup();
                        self.string_state = St::Str;
                        Some(St::Str)
                    }
                }
            }
            St::ArrayValue => {
                let r = self.next();
                if is_space(r) {
                    return self.skip(St::ArrayValue);
                }
                if r == '#' {
                    self.stack.push(St::ArrayValue);
                    return Some(St::CommentStart);
                }
                if r == '/' {
                    if self.next() == '/' {
                        self.stack.push(St::ArrayValue);
                        return Some(St::CommentStart);
                    }
                    self.backup();
                    return self.error("Unexpected array value terminator ','.".into());
                }
                if r == ',' {
                    return self.error("Unexpected array value terminator ','.".into());
                }
                if r == ']' {
                    return Some(St::ArrayEnd);
                }
                self.backup();
                self.stack.push(St::ArrayValueEnd);
                Some(St::Value)
            }
            St::ArrayValueEnd => {
                let r = self.next();
                if is_ws(r) {
                    return self.skip(St::ArrayValueEnd);
                }
                if r == '#' {
                    self.stack.push(St::ArrayValueEnd);
                    return Some(St::CommentStart);
                }
                if r == '/' {
                    if self.next() == '/' {
                        self.stack.push(St::ArrayValueEnd);
                        return Some(St::CommentStart);
                    }
                    self.backup();
                    return self.skip(St::ArrayValue);
                }
                if r == ',' || is_nl(r) {
                    return self.skip(St::ArrayValue);
                }
                if r == ']' {
                    return Some(St::ArrayEnd);
                }
                self.error(format!(
                    "Expected an array value terminator \",\" or an array terminator \"]\", but got '{}' instead.",
                    shown(r)
                ))
            }
            St::ArrayEnd => {
                self.ignore();
                self.emit(Item::ArrayEnd);
                self.pop()
            }
            St::MapKeyStart => {
                let r = self.peek();
                if is_key_sep(r) {
                    return self.error(format!("Unexpected key separator '{}'.", shown(r)));
                }
                if r == ']' {
                    return self.error(format!("Unexpected array end '{}' processing map.", shown(r)));
                }
                if is_space(r) {
                    self.next();
                    return self.skip(St::MapKeyStart);
                }
                match r {
                    '}' => {
                        self.next();
                        return self.skip(St::MapEnd);
                    }
                    '#' => {
                        self.next();
                        self.stack.push(St::MapKeyStart);
                        return Some(St::CommentStart);
                    }
                    '/' => {
                        self.next();
                        if self.next() == '/' {
                            self.stack.push(St::MapKeyStart);
                            return Some(St::CommentStart);
                        }
                        self.backup();
                    }
                    '\'' => {
                        self.next();
                        return self.skip(St::MapQuotedKey);
                    }
                    '"' => {
                        self.next();
                        return self.skip(St::MapDubQuotedKey);
                    }
                    EOF => return self.error("Unexpected EOF processing map.".into()),
                    _ => {}
                }
                self.ignore();
                self.next();
                Some(St::MapKey)
            }
            St::MapQuotedKey | St::MapDubQuotedKey => {
                let single = s == St::MapQuotedKey;
                let r = self.peek();
                if r == EOF {
                    let what = if single { "quoted map key" } else { "double quoted map key" };
                    return self.error(format!("Unexpected EOF processing {what}."));
                }
                if r == if single { '\'' } else { '"' } {
                    self.emit(Item::Key);
                    self.next();
                    return self.skip(St::MapKeyEnd);
                }
                self.next();
                Some(s)
            }
            St::MapKey => {
                let r = self.peek();
                if r == EOF {
                    return self.error("Unexpected EOF processing map key.".into());
                }
                if is_space(r) {
                    return self.key_check_keyword(St::MapKeyEnd, Some(St::MapValueEnd));
                }
                if is_key_sep(r) {
                    self.emit(Item::Key);
                    return Some(St::MapKeyEnd);
                }
                self.next();
                Some(St::MapKey)
            }
            St::MapKeyEnd => {
                let r = self.next();
                if is_space(r) {
                    return self.skip(St::MapKeyEnd);
                }
                if is_key_sep(r) {
                    return self.skip(St::MapValue);
                }
                self.backup();
                Some(St::MapValue)
            }
            St::MapValue => {
                let r = self.next();
                if is_space(r) {
                    return self.skip(St::MapValue);
                }
                if r == ',' {
                    return self.error("Unexpected map value terminator \",\".".into());
                }
                if r == '}' {
                    return self.skip(St::MapEnd);
                }
                self.backup();
                self.stack.push(St::MapValueEnd);
                Some(St::Value)
            }
            St::MapValueEnd => {
                let r = self.next();
                if is_ws(r) {
                    return self.skip(St::MapValueEnd);
                }
                if r == '#' {
                    self.stack.push(St::MapValueEnd);
                    return Some(St::CommentStart);
                }
                if r == '/' {
                    if self.next() == '/' {
                        self.stack.push(St::MapValueEnd);
                        return Some(St::CommentStart);
                    }
                    self.backup();
                    return self.skip(St::MapKeyStart);
                }
                if r == ';' || r == ',' || is_nl(r) {
                    return self.skip(St::MapKeyStart);
                }
                if r == '}' {
                    return self.skip(St::MapEnd);
                }
                self.error(format!(
                    "Expected a map value terminator \",\" or a map terminator \"}}\", but got '{}' instead.",
                    shown(r)
                ))
            }
            St::MapEnd => {
                self.ignore();
                self.emit(Item::MapEnd);
                self.pop()
            }
            St::QuotedString => {
                let r = self.next();
                if r == '\'' {
                    self.backup();
                    self.emit(Item::Str);
                    self.next();
                    self.ignore();
                    return self.pop();
                }
                if r == EOF {
                    return self.eof_or_error();
                }
                Some(St::QuotedString)
            }
            St::DubQuotedString => {
                let r = self.next();
                if r == '\\' {
                    self.add_current_part(1);
                    return Some(St::StringEscape);
                }
                if r == '"' {
                    self.backup();
                    self.emit_string();
                    self.next();
                    self.ignore();
                    return self.pop();
                }
                if r == EOF {
                    return self.eof_or_error();
                }
                Some(St::DubQuotedString)
            }
            St::Str => {
                let r = self.next();
                if r == '\\' {
                    self.add_current_part(1);
                    return Some(St::StringEscape);
                }
                if is_nl(r) || r == EOF || r == ';' || r == ',' || r == ']' || r == '}' || is_ws(r) {
                    self.backup();
                    if self.has_parts {
                        self.emit_string();
                    } else if self.is_bool() {
                        self.emit(Item::Bool);
                    } else if self.is_variable() {
                        self.emit(Item::Variable);
                    } else {
                        self.emit_string();
                    }
                    return self.pop();
                }
                if r == '\'' {
                    self.backup();
                    self.emit_string();
                    self.next();
                    self.ignore();
                    return self.pop();
                }
                Some(St::Str)
            }
            St::Block => {
                let r = self.next();
                if r == ')' {
                    self.backup();
                    self.backup();
                    if self.next() != '\n' {
                        self.next();
                        return Some(St::Block);
                    }
                    self.next();
                    match self.next() {
                        '\n' | EOF => {
                            self.backup();
                            self.backup();
                            self.emit(Item::Str);
                            self.next();
                            self.ignore();
                            return self.pop();
                        }
                        _ => self.backup(),
                    }
                } else if r == EOF {
                    return self.error("Unexpected EOF processing block.".into());
                }
                Some(St::Block)
            }
            St::StringEscape => {
                let r = self.next();
                match r {
                    'x' => Some(St::StringBinary),
                    't' => self.add_part(b"\t"),
                    'n' => self.add_part(b"\n"),
                    'r' => self.add_part(b"\r"),
                    '"' => self.add_part(b"\""),
                    '\\' => self.add_part(b"\\"),
                    _ => self.error(format!(
                        "Invalid escape character '{}'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.",
                        shown(r)
                    )),
                }
            }
            St::StringBinary => {
                if is_nl(self.next()) || is_nl(self.next()) {
                    return self.error("Expected two hexadecimal digits after '\\x', but hit end of line".into());
                }
                let offset = self.pos.saturating_sub(2);
                let hex = &self.input[offset..self.pos];
                match std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .filter(|_| hex.len() == 2)
                {
                    Some(b) => {
                        self.add_part(&[b]);
                        Some(self.string_state)
                    }
                    None => {
                        let got = String::from_utf8_lossy(hex).into_owned();
                        self.error(format!("Expected two hexadecimal digits after '\\x', but got '{got}'"))
                    }
                }
            }
            St::NumberStart | St::NegNumberStart => {
                let r = self.next();
                if !r.is_ascii_digit() {
                    if r == '.' {
                        return self.error("Floats must start with a digit, not '.'.".into());
                    }
                    return self.error(format!("Expected a digit but got '{}'.", shown(r)));
                }
                Some(if s == St::NumberStart { St::Number } else { St::NegNumber })
            }
            St::Number => {
                let r = self.next();
                if r == '-' {
                    if self.pos - self.start != 5 {
                        return self.error("All ISO8601 dates must be in full Zulu form.".into());
                    }
                    return Some(St::DateAfterYear);
                }
                if r.is_ascii_digit() {
                    return Some(St::Number);
                }
                if r == '.' {
                    return Some(St::FloatStart);
                }
                if is_suffix(r) {
                    return Some(St::ConvenientNumber);
                }
                if !(is_nl(r) || r == EOF || r == '}' || r == ';' || r == ',' || is_ws(r)) {
                    self.string_state = St::Str;
                    return Some(St::Str);
                }
                self.backup();
                self.emit(Item::Integer);
                self.pop()
            }
            St::ConvenientNumber => {
                let r = self.next();
                if matches!(r, 'b' | 'B' | 'i' | 'I') {
                    return Some(St::ConvenientNumber);
                }
                self.backup();
                if is_nl(r) || r == EOF || r == '}' || r == ';' || r == ',' || is_ws(r) || r.is_ascii_digit() {
                    self.emit(Item::Integer);
                    return self.pop();
                }
                self.string_state = St::Str;
                Some(St::Str)
            }
            St::DateAfterYear => {
                for f in "00-00T00:00:00Z".chars() {
                    let r = self.next();
                    if f == '0' {
                        if !r.is_ascii_digit() {
                            return self.error(format!(
                                "Expected digit in ISO8601 datetime, but found '{}' instead.",
                                shown(r)
                            ));
                        }
                    } else if f != r {
                        return self.error(format!(
                            "Expected '{}' in ISO8601 datetime, but found '{}' instead.",
                            shown(f),
                            shown(r)
                        ));
                    }
                }
                self.emit(Item::Datetime);
                self.pop()
            }
            St::NegNumber => {
                let r = self.next();
                if r.is_ascii_digit() {
                    return Some(St::NegNumber);
                }
                if r == '.' {
                    return Some(St::FloatStart);
                }
                if is_suffix(r) {
                    return Some(St::ConvenientNumber);
                }
                self.backup();
                self.emit(Item::Integer);
                self.pop()
            }
            St::FloatStart => {
                let r = self.next();
                if !r.is_ascii_digit() {
                    return self
                        .error(format!("Floats must have a digit after the '.', but got '{}' instead.", shown(r)));
                }
                Some(St::Float)
            }
            St::Float => {
                let r = self.next();
                if r.is_ascii_digit() {
                    return Some(St::Float);
                }
                if r == '.' {
                    return Some(St::IpAddr);
                }
                self.backup();
                self.emit(Item::Float);
                self.pop()
            }
            St::IpAddr => {
                let r = self.next();
                if r.is_ascii_digit() || matches!(r, '.' | ':' | '-') {
                    return Some(St::IpAddr);
                }
                self.backup();
                self.emit(Item::Str);
                self.pop()
            }
            St::CommentStart => {
                self.ignore();
                self.emit(Item::CommentStart);
                Some(St::Comment)
            }
            St::Comment => {
                let r = self.peek();
                if is_nl(r) || r == EOF {
                    self.emit(Item::Text);
                    return self.pop();
                }
                self.next();
                Some(St::Comment)
            }
        }
    }
}

/// One UTF-8 character and its width; an invalid byte is U+FFFD, width 1,
/// as Go decodes it.
fn decode(bytes: &[u8]) -> (char, usize) {
    let len = match bytes[0] {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return (char::REPLACEMENT_CHARACTER, 1),
    };
    match bytes.get(..len).and_then(|b| std::str::from_utf8(b).ok()).and_then(|s| s.chars().next()) {
        Some(c) => (c, len),
        None => (char::REPLACEMENT_CHARACTER, 1),
    }
}

/// The parser's walk over the items (`parse.go`), keeping of the values only
/// what its checks need: the keys of each enclosing map, for variables.
struct GoParser<'e> {
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

impl GoParser<'_> {
    fn parse(&mut self, data: &[u8], fp: &str) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> Option<String> {
        first_error_in(text, "t.conf", &|_| None)
    }

    #[test]
    fn lexer_messages_as_the_reference() {
        assert_eq!(err("port: 4222\n"), None);
        assert_eq!(
            err("cluster {\n  name: c1\n  listen: 127.0.0.1:6222 routes: [a]\n}\n").as_deref(),
            Some("Parse error on line 3: 'Expected a map value terminator \",\" or a map terminator \"}\", but got 'r' instead.'")
        );
        assert_eq!(
            err("listen: 127.0.0.1:4222\nname: \"unterminated\n").as_deref(),
            Some("Parse error on line 3: 'Unexpected EOF.'")
        );
        assert_eq!(
            err("a: 1.5s\n").as_deref(),
            Some("Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 's' instead.'")
        );
        assert_eq!(err("a: .5\n").as_deref(), Some("Parse error on line 1: 'Floats must start with a digit'"));
        assert_eq!(err("a: -x\n").as_deref(), Some("Parse error on line 1: 'Expected a digit but got 'x'.'"));
        assert_eq!(
            err("a: 1-2\n").as_deref(),
            Some("Parse error on line 1: 'All ISO8601 dates must be in full Zulu form.'")
        );
        assert_eq!(
            err("a: 2016-05-04\n").as_deref(),
            Some("Parse error on line 2: 'Expected 'T' in ISO8601 datetime, but found '\\n' instead.'")
        );
        // The `2]` is a string to the reference, and the array never ends.
        assert_eq!(
            err("a: [1, 2]\n").as_deref(),
            Some("Parse error on line 2: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '\0' instead.'")
        );
        assert_eq!(err("a: [1, 2 ]\n"), None);
        assert_eq!(err("a: \"\\q\"\n").map(|e| e.contains("Invalid escape character 'q'")), Some(true));
        assert_eq!(
            err("a: 99999999999999999999\n").as_deref(),
            Some("integer '99999999999999999999' is out of the range")
        );
        assert_eq!(
            err("a: 2016-13-04T00:00:00Z\n").as_deref(),
            Some("expected Zulu formatted DateTime, but got '2016-13-04T00:00:00Z'")
        );
        assert_eq!(err("foo").as_deref(), Some("config is invalid (t.conf:1:3)"));
    }

    #[test]
    fn variables_as_the_reference() {
        assert_eq!(err("a: 1\nb: $a\n"), None);
        assert_eq!(
            err("b { c: $a }\na: 1\n").as_deref(),
            Some("variable reference for 'a' on line 1 can not be found")
        );
        assert_eq!(
            err("x { a: 1 }\nb: $a\n").as_deref(),
            Some("variable reference for 'a' on line 2 can not be found")
        );
        assert_eq!(err("p: $2a$10$abc\n"), None, "a bcrypt hash");
        let env = |n: &str| match n {
            "T" => Some("[1,2]".to_string()),
            "OK" => Some("[a, b]".to_string()),
            "A" => Some("$B".to_string()),
            "B" => Some("$A".to_string()),
            "S" => Some("4222 x".to_string()),
            _ => None,
        };
        let e = |t: &str| first_error_in(t, "t.conf", &env);
        assert_eq!(e("tags: $OK\n"), None);
        assert_eq!(
            e("tags: $T\n").as_deref(),
            Some("variable reference for 'T' on line 1 could not be parsed: Parse error on line 1: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '\0' instead.'")
        );
        assert_eq!(
            e("p: $S\n").as_deref(),
            Some("variable reference for 'S' on line 1 could not be parsed: Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 'x' instead.'")
        );
        let cycle = e("p: $A\n").unwrap();
        assert!(cycle.ends_with("variable reference cycle for 'A'"), "{cycle}");
    }
}
