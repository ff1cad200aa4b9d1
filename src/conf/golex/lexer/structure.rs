//! The lexer's structure states: the top level, blocks, keys, includes,
//! arrays and maps, with their messages word for word.

use super::{is_key_sep, is_nl, is_space, is_ws, shown, Item, Lexer, St, EOF};

impl Lexer<'_> {
    /// One step of the state machine; value states are in `values`.
    pub(super) fn step(&mut self, s: St) -> Option<St> {
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
            value_state => self.step_value(value_state),
        }
    }
}
