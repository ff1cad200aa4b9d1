//! The lexer's value states: quoted and unquoted strings, escapes, numbers,
//! dates, IP addresses and comments, with their messages word for word.

use super::{is_nl, is_suffix, is_ws, shown, Item, Lexer, St, EOF};

impl Lexer<'_> {
    /// One step in a value state (see `structure` for the others).
    pub(super) fn step_value(&mut self, s: St) -> Option<St> {
        match s {
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
            structure_state => unreachable!("{structure_state:?} is handled by `step`"),
        }
    }
}
