//! How a message payload appears in a trace line: Go's `%q` quoting, cut at
//! `max_traced_msg_len` the way nats-server's `traceMsg` cuts it.
//!
//! nats-server (client.go, `traceMsgInternal`) writes
//! `<<- MSG_PAYLOAD: ["hello"]` in full, and past the limit the first
//! `max_traced_msg_len` bytes followed by `...` inside the quotes:
//! `<<- MSG_PAYLOAD: ["hel..."]`. A payload of zero bytes is not traced at
//! all (the call site skips it).

use std::fmt::{self, Write as _};

use crate::gotext::go_quote_into;

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
