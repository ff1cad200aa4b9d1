//! nats-server's config lexer (`lex.go`), state for state: its items, its
//! states, and the machinery the states share. The states themselves are in
//! `structure` (blocks, keys, arrays, maps, includes) and `values` (strings,
//! numbers, dates, comments).

mod structure;
mod values;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Item {
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

pub(super) struct Token {
    pub(super) typ: Item,
    pub(super) val: Vec<u8>,
    pub(super) line: i64,
    pub(super) pos: i64,
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

pub(super) struct Lexer<'a> {
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
    pub(super) fn new(input: &'a [u8]) -> Lexer<'a> {
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
    pub(super) fn run(mut self) -> Vec<Token> {
        let mut state = Some(St::Top);
        while let Some(s) = state {
            state = self.step(s);
        }
        self.items
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
