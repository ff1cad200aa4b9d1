//! A hand-written scanner for `grammar/nats.pest`: the same rules, matched
//! the same way (PEG: ordered choice, greedy repetition), producing the same
//! [`Syntax`] tree token for token, about twenty times faster than the
//! pest-generated parser. A reload of a 10 000-user file spent most of its
//! time in pest's general machinery (attempt tracking, call stacks, `Pairs`).
//!
//! The grammar stays the definition: this scanner gives up (`None`) at the
//! first thing that does not match, and the caller then runs pest, whose
//! error says where and what was expected. So the scanner only has to be
//! right on input that parses; a test holds the two to the same tree on the
//! corpus, the examples and generated text.
//!
//! Each function below is named after the rule it matches and says how it
//! departs from a literal transcription, where it does.

mod values;

use super::grammar::Rule;
use super::syntax::{Nesting, Syntax, Token, TooDeep};

/// Why the scanner gave no tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declined {
    /// The text does not parse here, or not in a way the scanner handles:
    /// pest decides (and words the error).
    NoMatch,
    /// A map or array nested deeper than [`MAX_DEPTH`](super::syntax::MAX_DEPTH): refused outright,
    /// pest is not asked.
    TooDeep(TooDeep),
}

/// Parses a whole file.
pub fn scan(text: &str) -> Result<Syntax, Declined> {
    if text.len() >= u32::MAX as usize {
        return Err(Declined::NoMatch);
    }
    let mut s = Scanner {
        b: text.as_bytes(),
        pos: 0,
        tokens: Vec::with_capacity(text.len() / 2),
        nesting: Nesting::default(),
        too_deep: None,
    };
    match (s.file(), s.too_deep) {
        (Some(()), _) => Ok(Syntax { tokens: s.tokens }),
        (None, Some(deep)) => Err(Declined::TooDeep(deep)),
        (None, None) => Err(Declined::NoMatch),
    }
}

/// Byte classes of the grammar's character rules. Every character they
/// leave out is ASCII, so a byte of a multi-byte character is always in.
const fn class(excluded: &[u8]) -> [bool; 256] {
    let mut t = [true; 256];
    let mut i = 0;
    while i < excluded.len() {
        t[excluded[i] as usize] = false;
        i += 1;
    }
    t
}
/// `key_char`: not blank, CR, LF, `=`, `:`, `{`, `}`, `[`, `]`, `,` or `;`.
static KEY_CHAR: [bool; 256] = class(b" \t\r\n=:{}[],;");
/// `raw_char`: not blank, CR, LF, `;`, `,`, `]` or `}`.
static RAW_CHAR: [bool; 256] = class(b" \t\r\n;,]}");
/// `dq_char`: not `"` or `\`.
static DQ_CHAR: [bool; 256] = class(b"\"\\");

struct Scanner<'a> {
    b: &'a [u8],
    pos: usize,
    tokens: Vec<Token>,
    /// Open maps and arrays, counted with the one depth rule.
    nesting: Nesting,
    /// Where the scanner went past [`MAX_DEPTH`](super::syntax::MAX_DEPTH), if it did: the whole scan
    /// then fails with it.
    too_deep: Option<TooDeep>,
}

/// Where to go back to when an alternative fails.
#[derive(Clone, Copy)]
struct Mark {
    pos: usize,
    tokens: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn at(&self, offset: usize) -> Option<u8> {
        self.b.get(self.pos + offset).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn mark(&self) -> Mark {
        Mark { pos: self.pos, tokens: self.tokens.len() }
    }

    fn reset(&mut self, m: Mark) {
        self.pos = m.pos;
        self.tokens.truncate(m.tokens);
    }

    /// Starts a node for `rule` here; [`Scanner::close`] ends it.
    fn open(&mut self, rule: Rule) -> usize {
        let at = self.pos as u32;
        self.tokens.push(Token { rule, start: at, end: at, next: 0 });
        self.tokens.len() - 1
    }

    fn close(&mut self, node: usize) {
        let next = self.tokens.len() as u32;
        let end = self.pos as u32;
        if let Some(t) = self.tokens.get_mut(node) {
            t.end = end;
            t.next = next;
        }
    }

    /// A leaf node over `start..self.pos`.
    fn leaf(&mut self, rule: Rule, start: usize) {
        let next = self.tokens.len() as u32 + 1;
        self.tokens.push(Token { rule, start: start as u32, end: self.pos as u32, next });
    }

    /// `ok` ? close `node` : undo everything since `m`.
    fn finish(&mut self, node: usize, m: Mark, ok: bool) -> bool {
        if ok {
            self.close(node);
        } else {
            self.reset(m);
        }
        ok
    }

    fn skip_while(&mut self, class: &[bool; 256]) {
        while self.pos < self.b.len() && class[self.b[self.pos] as usize] {
            self.pos += 1;
        }
    }

    fn ws(&mut self) -> bool {
        matches!(self.peek(), Some(b' ' | b'\t')) && {
            self.pos += 1;
            true
        }
    }

    fn ws_star(&mut self) {
        while self.ws() {}
    }

    /// `NL = "\r\n" | "\n" | "\r"`
    fn nl(&mut self) -> bool {
        match self.peek() {
            Some(b'\r') => {
                self.pos += 1 + usize::from(self.peek_is(1, b'\n'));
                true
            }
            Some(b'\n') => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn peek_is(&self, offset: usize, c: u8) -> bool {
        self.at(offset) == Some(c)
    }

    /// `comment = @{ ("#" | "//") ~ line_char* }`
    fn comment(&mut self) -> bool {
        let start = self.pos;
        match self.peek() {
            Some(b'#') => self.pos += 1,
            Some(b'/') if self.peek_is(1, b'/') => self.pos += 2,
            _ => return false,
        }
        while let Some(c) = self.peek() {
            if c == b'\r' || c == b'\n' {
                break;
            }
            self.pos += 1;
        }
        self.leaf(Rule::comment, start);
        true
    }

    /// `file = { SOI ~ top_skip ~ (entry ~ top_end ~ top_skip)* ~ EOI }`.
    /// An iteration that fails leaves a position that is not the end, where
    /// `EOI` then fails too: so any failure fails the file.
    fn file(&mut self) -> Option<()> {
        let file = self.open(Rule::file);
        self.top_skip();
        while self.pos < self.b.len() {
            if !self.entry() || !self.top_end() {
                return None;
            }
            self.top_skip();
        }
        let end = self.pos;
        self.leaf(Rule::EOI, end);
        self.close(file);
        Some(())
    }

    /// `top_skip = _{ (WS | NL | comment | "{" | "}" | ";" | ",")* }`
    fn top_skip(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'{' | b'}' | b';' | b',') => self.pos += 1,
                Some(b'\r' | b'\n') => {
                    self.nl();
                }
                Some(b'#' | b'/') if self.comment() => {}
                _ => return,
            }
        }
    }

    /// `top_end = _{ WS* ~ (NL | ";" | "," | "}" | comment | &EOI) }`
    fn top_end(&mut self) -> bool {
        let m = self.mark();
        self.ws_star();
        let ok = match self.peek() {
            None => true,
            Some(b';' | b',' | b'}') => {
                self.pos += 1;
                true
            }
            Some(b'\r' | b'\n') => self.nl(),
            Some(_) => self.comment(),
        };
        if !ok {
            self.reset(m);
        }
        ok
    }

    /// `entry = { include | pair }`
    fn entry(&mut self) -> bool {
        let m = self.mark();
        let node = self.open(Rule::entry);
        let ok = self.include() || self.pair();
        self.finish(node, m, ok)
    }

    /// `include = ${ ^"include" ~ WS+ ~ include_path }`
    fn include(&mut self) -> bool {
        let word = self.b.get(self.pos..self.pos + 7);
        if !word.is_some_and(|w| w.eq_ignore_ascii_case(b"include")) || !matches!(self.at(7), Some(b' ' | b'\t')) {
            return false;
        }
        let m = self.mark();
        let node = self.open(Rule::include);
        self.pos += 7;
        self.ws_star();
        let ok = self.include_path();
        self.finish(node, m, ok)
    }

    /// `include_path = { "\"" ~ path_dq ~ "\"" | "'" ~ path_sq ~ "'" | path_bare }`
    fn include_path(&mut self) -> bool {
        let m = self.mark();
        let node = self.open(Rule::include_path);
        let ok = self.quoted(b'"', Rule::path_dq) || self.quoted(b'\'', Rule::path_sq) || self.path_bare();
        self.finish(node, m, ok)
    }

    /// `q ~ inner ~ q` where `inner = @{ (not q)* }` (paths, keys, '...').
    fn quoted(&mut self, q: u8, inner: Rule) -> bool {
        if self.peek() != Some(q) {
            return false;
        }
        let Some(len) = self.b[self.pos + 1..].iter().position(|&c| c == q) else {
            return false;
        };
        self.pos += 1;
        let start = self.pos;
        self.pos += len;
        self.leaf(inner, start);
        self.pos += 1;
        true
    }

    /// `path_bare = @{ !(ASCII_DIGIT | "-" | "[" | "{" | "(" | "\\" | "=" | ":")
    ///   ~ (!(WS | NL | ";" | "}" | "," | "'") ~ ANY)+ }`
    fn path_bare(&mut self) -> bool {
        match self.peek() {
            None | Some(b'0'..=b'9' | b'-' | b'[' | b'{' | b'(' | b'\\' | b'=' | b':') => return false,
            _ => {}
        }
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'}' | b',' | b'\'') {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return false;
        }
        self.leaf(Rule::path_bare, start);
        true
    }

    /// `pair = { key ~ key_sep ~ value }`
    fn pair(&mut self) -> bool {
        let m = self.mark();
        let node = self.open(Rule::pair);
        let ok = self.key() && self.key_sep() && self.value();
        self.finish(node, m, ok)
    }

    /// `key = { quoted_key | bare_key }`, with
    /// `quoted_key = ${ "\"" ~ key_text_dq ~ "\"" | "'" ~ key_text_sq ~ "'" }` and
    /// `bare_key = @{ !("\"" | "'" | "=" | ":") ~ key_char+ }`.
    fn key(&mut self) -> bool {
        let m = self.mark();
        let node = self.open(Rule::key);
        let ok = match self.peek() {
            Some(q @ (b'"' | b'\'')) => {
                let quoted = self.open(Rule::quoted_key);
                let inner = if q == b'"' { Rule::key_text_dq } else { Rule::key_text_sq };
                let ok = self.quoted(q, inner);
                ok && {
                    self.close(quoted);
                    true
                }
            }
            Some(b'=' | b':') | None => false,
            Some(_) => {
                let start = self.pos;
                self.skip_while(&KEY_CHAR);
                self.pos > start && {
                    self.leaf(Rule::bare_key, start);
                    true
                }
            }
        };
        self.finish(node, m, ok)
    }

    /// `key_sep = { WS* ~ ("=" | ":") ~ WS* | (WS | NL)+ ~ (("=" | ":") ~ WS*)? | &("{" | "[") }`
    fn key_sep(&mut self) -> bool {
        let start = self.pos;
        let node = self.open(Rule::key_sep);
        self.ws_star();
        if matches!(self.peek(), Some(b'=' | b':')) {
            self.pos += 1;
            self.ws_star();
        } else {
            self.pos = start;
            while self.ws() || self.nl() {}
            if self.pos > start {
                if matches!(self.peek(), Some(b'=' | b':')) {
                    self.pos += 1;
                    self.ws_star();
                }
            } else if !matches!(self.peek(), Some(b'{' | b'[')) {
                self.tokens.pop();
                return false;
            }
        }
        self.close(node);
        true
    }

    /// `value`: each alternative only where its first character can start it.
    /// A quoted string, array, map or block that fails to close fails the
    /// value, since `raw` cannot start with those characters either.
    fn value(&mut self) -> bool {
        let m = self.mark();
        let node = self.open(Rule::value);
        let ok = match self.peek() {
            Some(b'"') => self.dq_string(),
            Some(b'[') => self.nested(Scanner::array),
            Some(b'{') => self.nested(Scanner::map),
            Some(b'\'') => self.quoted_value(b'\'', Rule::sq_string, Rule::sq_text),
            Some(b'(') => self.block_string(),
            Some(b'-' | b'0'..=b'9') => {
                self.datetime() || self.ip_like() || self.sized() || self.float() || self.integer() || self.raw()
            }
            _ => self.raw(),
        };
        self.finish(node, m, ok)
    }

    /// A map or array one level deeper, refused beyond [`MAX_DEPTH`](super::syntax::MAX_DEPTH): the
    /// scan then fails, and its caller reports the depth.
    fn nested(&mut self, f: fn(&mut Self) -> bool) -> bool {
        if self.too_deep.is_some() {
            return false;
        }
        if let Err(deep) = self.nesting.enter(self.pos) {
            self.too_deep = Some(deep);
            return false;
        }
        let ok = f(self);
        self.nesting.leave();
        ok
    }

    /// `map = { "{" ~ m_skip ~ (entry ~ (m_end ~ m_skip ~ entry)* ~ m_end?)? ~ m_skip ~ map_close }`
    fn map(&mut self) -> bool {
        self.list(Rule::map, Scanner::entry, false, Rule::map_close)
    }

    /// `array = { "[" ~ a_skip ~ (value ~ (a_end ~ a_skip ~ value)* ~ a_end?)? ~ a_skip ~ array_close }`
    fn array(&mut self) -> bool {
        self.list(Rule::array, Scanner::value, true, Rule::array_close)
    }

    /// A map or an array: its opening bracket (already seen), `item`s
    /// separated by `m_end` or `a_end`, and the closer.
    fn list(&mut self, rule: Rule, item: fn(&mut Self) -> bool, in_array: bool, closer: Rule) -> bool {
        let m = self.mark();
        let node = self.open(rule);
        self.pos += 1;
        self.m_skip();
        if item(self) {
            loop {
                let between = self.mark();
                if self.sep(in_array) {
                    self.m_skip();
                    if item(self) {
                        continue;
                    }
                }
                self.reset(between);
                break;
            }
            self.sep(in_array);
        }
        self.m_skip();
        let start = self.pos;
        let ok = self.eat(if in_array { b']' } else { b'}' }) && {
            self.leaf(closer, start);
            true
        };
        self.finish(node, m, ok)
    }

    /// `m_skip` and `a_skip`: `(WS | NL | comment)*`
    fn m_skip(&mut self) {
        while self.ws() || self.nl() || (matches!(self.peek(), Some(b'#' | b'/')) && self.comment()) {}
    }

    /// `m_end = _{ WS* ~ ("," | ";" | NL | comment) }`, and `a_end` (the same
    /// without `;`) when `in_array`. Nothing is consumed when it fails.
    fn sep(&mut self, in_array: bool) -> bool {
        let start = self.pos;
        self.ws_star();
        let ok = match self.peek() {
            Some(b',') => {
                self.pos += 1;
                true
            }
            Some(b';') if !in_array => {
                self.pos += 1;
                true
            }
            Some(b'\r' | b'\n') => self.nl(),
            Some(b'#' | b'/') => self.comment(),
            _ => false,
        };
        if !ok {
            self.pos = start;
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The scanner and pest accept the same texts, with the same tree.
    fn same_as_pest(text: &str) -> Result<(), String> {
        let fast = scan(text).ok();
        // pest's tree under the same depth rule.
        let pest = Syntax::parse_with_pest(text).ok().filter(|t| t.check_depth().is_ok());
        if fast == pest {
            return Ok(());
        }
        let show = |s: &Option<Syntax>| match s {
            None => "no parse".to_string(),
            Some(s) => s
                .tokens
                .iter()
                .map(|t| format!("{:?}{:?}", t.rule, text.get(t.start as usize..t.end as usize).unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(" "),
        };
        Err(format!("{text:?}\n scanner: {}\n    pest: {}", show(&fast), show(&pest)))
    }

    fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                files_under(&p, out);
            } else if p.extension().is_some_and(|x| x == "conf" || x == "json" || x == "txt") {
                out.push(p);
            }
        }
    }

    #[test]
    fn same_tree_as_pest_on_every_config_file_in_the_repository() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["examples-conf", "tests", "deploy"] {
            files_under(&root.join(dir), &mut files);
        }
        assert!(files.len() > 20, "found only {} config files", files.len());
        let mut failures = Vec::new();
        let mut scanned = 0;
        for f in &files {
            let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
            match same_as_pest(&text) {
                Ok(()) => scanned += usize::from(scan(&text).is_ok()),
                Err(e) => failures.push(format!("{}: {e}", f.display())),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
        assert!(scanned * 2 > files.len(), "the scanner parsed only {scanned} of {} files", files.len());
    }

    #[test]
    fn same_tree_as_pest_on_tricky_text() {
        let cases = [
            "",
            "a",
            "a b",
            "a: 1",
            "a = [1]",
            "a = [1, 2 ]",
            "a {b: 1; c: 2,}\n",
            "{\"port\": 4222}",
            "include x.conf\n",
            "include 'x.conf'",
            "INCLUDE \"x.conf\";",
            "include = 5",
            "include\n5",
            "includes: 1",
            "a: (\nx\n)\n",
            "a: (\nx\n)",
            "a: (x)\n",
            "a: 2024-01-02T03:04:05Z",
            "a: 2024-01-02T03:04:05Zx",
            "a: 1.2.3.4:5",
            "a: 1.2",
            "a: 1.2.",
            "a: -1k",
            "a: 1kib",
            "a: 10s",
            "a: -",
            "a: -x",
            "a: \"x\\\"y\"",
            "a: \"x\\",
            "a: 'x'",
            "'a b': 1",
            "\"a\": 1",
            "\"a: 1",
            "a\r\nb\r\n",
            "a\r1",
            "a:\n1",
            "a\n= 1",
            "a{b{c[1,[2]]}}",
            "a: [\n# c\n1 # d\n, 2\n]",
            "a: x // c\n// d\n",
            "a: x/y",
            "/a: 1",
            "a: 1 2",
            "a: [,]",
            "a: {,}",
            "a: }",
            "}}{{;,a: 1",
            "a: \u{e9}t\u{e9}\nb\u{e9}: 'caf\u{e9}'\n",
            "a: \"\\\u{e9}\"",
            "a = $b\nb = [$a]",
        ];
        for c in cases {
            if let Err(e) = same_as_pest(c) {
                panic!("{e}");
            }
        }
    }

    /// Text made of the grammar's significant pieces, in any order.
    fn config_soup() -> impl Strategy<Value = String> {
        let atoms = prop::sample::select(vec![
            "a",
            "key",
            "include",
            "INCLUDE",
            " ",
            "\t",
            "\n",
            "\r",
            "\r\n",
            ":",
            "=",
            "{",
            "}",
            "[",
            "]",
            ",",
            ";",
            "\"",
            "'",
            "(",
            ")",
            "\n)",
            "\\",
            "$",
            "#",
            "//",
            "/",
            "-",
            "0",
            "12",
            "1k",
            "kb",
            "i",
            "2.5",
            ".",
            "x.conf",
            "true",
            "2024-01-02T03:04:05Z",
            "1.2.3",
            "\u{e9}",
            "\u{0}",
        ]);
        prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn same_tree_as_pest_on_generated_text(text in config_soup()) {
            prop_assert!(same_as_pest(&text).is_ok(), "{}", same_as_pest(&text).unwrap_err());
        }

        #[test]
        fn same_tree_as_pest_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let text = String::from_utf8_lossy(&bytes);
            prop_assert!(same_as_pest(&text).is_ok(), "{}", same_as_pest(&text).unwrap_err());
        }
    }
}
