//! The scanner's value rules: strings (double-quoted, single-quoted, block),
//! numbers with their shapes (sizes, floats, integers, dates, IP-like words)
//! and raw words.

use super::{Scanner, DQ_CHAR, RAW_CHAR};
use crate::conf::grammar::Rule;

impl Scanner<'_> {
    /// `dq_string = ${ "\"" ~ dq_text ~ "\"" }`, `dq_text = @{ (dq_char+ | "\\" ~ ANY)* }`.
    /// After a backslash, ANY is one character; its continuation bytes are
    /// `dq_char`s anyway, so stepping one byte ends in the same place.
    pub(super) fn dq_string(&mut self) -> bool {
        let m = self.mark();
        let node = self.open(Rule::dq_string);
        self.pos += 1;
        let start = self.pos;
        loop {
            self.skip_while(&DQ_CHAR);
            if self.peek() == Some(b'\\') && self.pos + 1 < self.b.len() {
                self.pos += 2;
            } else {
                break;
            }
        }
        self.leaf(Rule::dq_text, start);
        let ok = self.eat(b'"');
        self.finish(node, m, ok)
    }

    /// `sq_string = ${ "'" ~ sq_text ~ "'" }`
    pub(super) fn quoted_value(&mut self, q: u8, outer: Rule, inner: Rule) -> bool {
        let m = self.mark();
        let node = self.open(outer);
        let ok = self.quoted(q, inner);
        self.finish(node, m, ok)
    }

    /// `block_string = ${ "(" ~ block_text ~ ")" }`, with
    /// `block_text = @{ (!("\n" ~ ")" ~ ("\n" | "\r" | EOI)) ~ ANY)* ~ "\n" }`:
    /// everything up to the first `)` alone at the start of a line, and the
    /// new line before it.
    pub(super) fn block_string(&mut self) -> bool {
        let start = self.pos + 1;
        let mut at = start;
        let close = loop {
            let Some(i) = self.b[at..].iter().position(|&c| c == b'\n') else { return false };
            let nl = at + i;
            if self.b.get(nl + 1) == Some(&b')') && matches!(self.b.get(nl + 2), None | Some(b'\n' | b'\r')) {
                break nl + 1;
            }
            at = nl + 1;
        };
        let node = self.open(Rule::block_string);
        self.pos = close;
        self.leaf(Rule::block_text, start);
        self.pos += 1;
        self.close(node);
        true
    }

    pub(super) fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `num_end = _{ &(WS | NL | EOI | ";" | "," | "}" | "]") }`
    pub(super) fn num_end(&self) -> bool {
        matches!(self.peek(), None | Some(b' ' | b'\t' | b'\r' | b'\n' | b';' | b',' | b'}' | b']'))
    }

    /// An atomic number rule: `shape` moves over the text and says whether it
    /// matched; the node is kept only if it did.
    pub(super) fn number(&mut self, rule: Rule, shape: impl FnOnce(&mut Self) -> bool) -> bool {
        let start = self.pos;
        if shape(self) {
            self.leaf(rule, start);
            true
        } else {
            self.pos = start;
            false
        }
    }

    /// `datetime = @{ DIGIT{4} ~ "-" ~ DIGIT{2} ~ "-" ~ DIGIT{2} ~ "T" ~ DIGIT{2} ~ ":" ~ DIGIT{2} ~ ":" ~ DIGIT{2} ~ "Z" }`
    pub(super) fn datetime(&mut self) -> bool {
        const SHAPE: &[u8; 20] = b"dddd-dd-ddTdd:dd:ddZ";
        self.number(Rule::datetime, |s| {
            let ok = s.b.get(s.pos..s.pos + 20).is_some_and(|w| {
                w.iter().zip(SHAPE).all(|(&c, &want)| if want == b'd' { c.is_ascii_digit() } else { c == want })
            });
            s.pos += if ok { 20 } else { 0 };
            ok
        })
    }

    /// `ip_like = @{ DIGIT+ ~ "." ~ DIGIT+ ~ "." ~ (DIGIT | "." | ":" | "-")* ~ num_end }`
    pub(super) fn ip_like(&mut self) -> bool {
        self.number(Rule::ip_like, |s| {
            if s.digits() == 0 || !s.eat(b'.') || s.digits() == 0 || !s.eat(b'.') {
                return false;
            }
            while matches!(s.peek(), Some(b'0'..=b'9' | b'.' | b':' | b'-')) {
                s.pos += 1;
            }
            s.num_end()
        })
    }

    /// `sized = @{ "-"? ~ DIGIT+ ~ (k|K|m|M|g|G|t|T|p|P|e|E) ~ (b|B|i|I)* ~ num_end }`
    pub(super) fn sized(&mut self) -> bool {
        self.number(Rule::sized, |s| {
            s.eat(b'-');
            if s.digits() == 0
                || !matches!(
                    s.peek(),
                    Some(b'k' | b'K' | b'm' | b'M' | b'g' | b'G' | b't' | b'T' | b'p' | b'P' | b'e' | b'E')
                )
            {
                return false;
            }
            s.pos += 1;
            while matches!(s.peek(), Some(b'b' | b'B' | b'i' | b'I')) {
                s.pos += 1;
            }
            s.num_end()
        })
    }

    /// `float = @{ "-"? ~ DIGIT+ ~ "." ~ DIGIT+ ~ num_end }`
    pub(super) fn float(&mut self) -> bool {
        self.number(Rule::float, |s| {
            s.eat(b'-');
            s.digits() > 0 && s.eat(b'.') && s.digits() > 0 && s.num_end()
        })
    }

    /// `integer = @{ "-"? ~ DIGIT+ ~ num_end }`
    pub(super) fn integer(&mut self) -> bool {
        self.number(Rule::integer, |s| {
            s.eat(b'-');
            s.digits() > 0 && s.num_end()
        })
    }

    /// `raw = @{ !("\"" | "'" | "(" | "[" | "{") ~ raw_char+ }`
    pub(super) fn raw(&mut self) -> bool {
        if matches!(self.peek(), Some(b'"' | b'\'' | b'(' | b'[' | b'{')) {
            return false;
        }
        let start = self.pos;
        self.skip_while(&RAW_CHAR);
        self.pos > start && {
            self.leaf(Rule::raw, start);
            true
        }
    }
}
