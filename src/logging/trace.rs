//! How a message payload appears in a trace line: Go's `%q` quoting, cut at
//! `max_traced_msg_len` the way nats-server's `traceMsg` cuts it.
//!
//! nats-server (client.go, `traceMsgInternal`) writes
//! `<<- MSG_PAYLOAD: ["hello"]` in full, and past the limit the first
//! `max_traced_msg_len` bytes followed by `...` inside the quotes:
//! `<<- MSG_PAYLOAD: ["hel..."]`. A payload of zero bytes is not traced at
//! all (the call site skips it).

use std::fmt::{self, Write as _};

/// A payload ready to be put between the brackets of a `MSG_PAYLOAD` trace.
pub struct TracedPayload<'a> {
    bytes: &'a [u8],
    /// 0 means no limit.
    max: usize,
}

impl<'a> TracedPayload<'a> {
    pub fn new(bytes: &'a [u8], max: usize) -> TracedPayload<'a> {
        TracedPayload { bytes, max }
    }
}

impl fmt::Display for TracedPayload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cut = self.max > 0 && self.bytes.len() > self.max;
        let shown = if cut { &self.bytes[..self.max] } else { self.bytes };
        f.write_char('"')?;
        go_quote_into(f, shown)?;
        if cut {
            f.write_str("...")?;
        }
        f.write_char('"')
    }
}

/// Writes `bytes` as the inside of Go's `strconv.Quote`: printable UTF-8 as
/// is; `\a \b \f \n \r \t \v \\ \"`; other control characters and invalid
/// bytes as `\xNN`; other non-printable characters as `\uNNNN`/`\UNNNNNNNN`.
pub fn go_quote_into(out: &mut impl fmt::Write, bytes: &[u8]) -> fmt::Result {
    let mut rest = bytes;
    while !rest.is_empty() {
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(s) => (s, None),
            Err(e) => {
                let (ok, tail) = rest.split_at(e.valid_up_to());
                // Checked by from_utf8 just above.
                let s = std::str::from_utf8(ok).unwrap_or_default();
                (s, Some((tail, e.error_len().unwrap_or(tail.len()))))
            }
        };
        for c in valid.chars() {
            quote_char(out, c)?;
        }
        match bad {
            Some((tail, len)) => {
                for b in &tail[..len] {
                    write!(out, "\\x{b:02x}")?;
                }
                rest = &tail[len..];
            }
            None => break,
        }
    }
    Ok(())
}

fn quote_char(out: &mut impl fmt::Write, c: char) -> fmt::Result {
    match c {
        '"' => out.write_str("\\\""),
        '\\' => out.write_str("\\\\"),
        '\x07' => out.write_str("\\a"),
        '\x08' => out.write_str("\\b"),
        '\x0c' => out.write_str("\\f"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        '\x0b' => out.write_str("\\v"),
        ' '..='~' => out.write_char(c),
        c if (c as u32) < 0x20 || c == '\x7f' => write!(out, "\\x{:02x}", c as u32),
        c if is_printable(c) => out.write_char(c),
        c if (c as u32) < 0x10000 => write!(out, "\\u{:04x}", c as u32),
        c => write!(out, "\\U{:08x}", c as u32),
    }
}

/// Go's `unicode.IsPrint` for a non-ASCII character: letters, marks,
/// numbers, punctuation and symbols. Rust's `Debug` escaping uses the same
/// Unicode classes, except that it also escapes a combining mark standing
/// first, so the character is tested after a plain letter.
fn is_printable(c: char) -> bool {
    let mut pair = [0u8; 8];
    pair[0] = b'a';
    let len = 1 + c.encode_utf8(&mut pair[1..]).len();
    let s = std::str::from_utf8(&pair[..len]).unwrap_or("a");
    s.escape_debug().eq(s.chars())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(bytes: &[u8], max: usize) -> String {
        TracedPayload::new(bytes, max).to_string()
    }

    #[test]
    fn whole_payload() {
        assert_eq!(q(b"hello", 0), "\"hello\"");
        assert_eq!(q(b"hello", 5), "\"hello\"");
    }

    #[test]
    fn cut_payload_ends_with_dots_inside_the_quotes() {
        assert_eq!(q(b"hello world", 5), "\"hello...\"");
    }

    #[test]
    fn escapes_like_go() {
        assert_eq!(q(b"a\"b\\c\r\n\t\x00\x7f\x1b", 0), r#""a\"b\\c\r\n\t\x00\x7f\x1b""#);
        assert_eq!(q(b"\x07\x08\x0c\x0b", 0), r#""\a\b\f\v""#);
        assert_eq!(q("héllo ✓ 日本".as_bytes(), 0), "\"héllo ✓ 日本\"");
        // Invalid UTF-8 bytes, byte by byte.
        assert_eq!(q(b"a\xff\xfeb", 0), r#""a\xff\xfeb""#);
        // Non-printable: NBSP (a space other than ' '), zero-width space,
        // a private-use character; a combining mark is printable.
        assert_eq!(q("\u{a0}\u{200b}\u{e000}\u{301}".as_bytes(), 0), "\"\\u00a0\\u200b\\ue000\u{301}\"");
        assert_eq!(q("\u{f0000}".as_bytes(), 0), "\"\\U000f0000\"");
    }

    #[test]
    fn a_cut_may_split_a_character() {
        // Go cuts bytes, not characters; the broken tail shows as \x.
        assert_eq!(q("é".as_bytes(), 1), r#""\xc3...""#);
    }
}
