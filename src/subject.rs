//! Subject syntax: token splitting and validation, as nats-server does it.
//!
//! Subjects are bytes, not strings: any byte except the separators listed in
//! [`is_space`] is allowed in a token, UTF-8 included. `*` and `>` are wildcards
//! only when they are a whole token (`foo*.bar` is a valid literal subject).

/// Bytes that may never appear in a subject (they separate protocol arguments).
#[inline]
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0c)
}

/// Splits a subject into its `.`-separated tokens.
#[inline]
pub fn tokens(subject: &[u8]) -> impl Iterator<Item = &[u8]> {
    subject.split(|&b| b == b'.')
}

/// A subject usable in SUB: non-empty tokens, no spaces, and `>` only as the
/// last token. `*` and `>` may stand alone.
pub fn is_valid_subject(subject: &[u8]) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut saw_fwc = false;
    for token in tokens(subject) {
        if token.is_empty() || saw_fwc {
            return false;
        }
        if token.iter().any(|&b| is_space(b)) {
            return false;
        }
        if token == b">" {
            saw_fwc = true;
        }
    }
    true
}

/// nats-server's pedantic check on a published subject (`IsValidLiteralSubject`):
/// no empty token and no `*` or `>` token. Other bytes, blanks included, are
/// not looked at (a PUB subject can hold a CR or a form feed).
pub fn is_valid_literal_subject(subject: &[u8]) -> bool {
    tokens(subject).all(|t| !t.is_empty() && t != b"*" && t != b">")
}

/// nats-server's check when a client subscribes, which its sublist makes on
/// insert: no empty token and nothing after a `>` token. Unlike
/// [`is_valid_subject`] it does not look at the bytes: `SUB a\x0cb 1` is
/// accepted (a SUB subject cannot hold a space, tab, CR or LF anyway).
pub fn is_valid_sub_subject(subject: &[u8]) -> bool {
    let mut after_fwc = false;
    for token in tokens(subject) {
        if token.is_empty() || after_fwc {
            return false;
        }
        after_fwc = token == b">";
    }
    true
}

/// True when some whole token is `*` or `>`.
pub fn has_wildcard(subject: &[u8]) -> bool {
    tokens(subject).any(|t| t == b"*" || t == b">")
}

/// ```
/// use rnats::server::subject::filter_matches;
/// assert!(filter_matches(b"orders.*.new", b"orders.eu.new"));
/// assert!(filter_matches(b"orders.>", b"orders.eu.new"));
/// assert!(!filter_matches(b"orders.*", b"orders.eu.new"));
/// ```
///
/// Matches a literal (or wildcard-bearing, as a publish may be) subject against a
/// subscription filter, token by token. Used by the reference matcher in tests and
/// by permission checks on single subjects; the hot path uses the sublist trie.
pub fn filter_matches(filter: &[u8], subject: &[u8]) -> bool {
    let mut f = tokens(filter);
    let mut s = tokens(subject);
    loop {
        match (f.next(), s.next()) {
            (Some(b">"), Some(_)) => return true,
            (Some(b"*"), Some(_)) => {}
            (Some(ft), Some(st)) if ft == st => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Returns true when every subject matched by `narrow` is also matched by `wide`.
/// Both are subscription filters; used for permission checks of wildcard
/// subscriptions against wildcard allow lists.
pub fn is_subset_match(narrow: &[u8], wide: &[u8]) -> bool {
    let mut n = tokens(narrow);
    let mut w = tokens(wide);
    loop {
        match (n.next(), w.next()) {
            (Some(_), Some(b">")) => return true,
            (Some(b">"), Some(_)) => return false,
            (Some(_), Some(b"*")) => {}
            (Some(b"*"), Some(_)) => return false,
            (Some(nt), Some(wt)) if nt == wt => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether some subject can match both filters (nats-server's
/// `subjectsCollide`): token by token, `*` meets any token and `>` meets
/// the rest.
pub fn subjects_collide(a: &[u8], b: &[u8]) -> bool {
    let mut x = tokens(a);
    let mut y = tokens(b);
    loop {
        match (x.next(), y.next()) {
            (Some(b">"), Some(_)) | (Some(_), Some(b">")) => return true,
            (Some(b"*"), Some(_)) | (Some(_), Some(b"*")) => {}
            (Some(p), Some(q)) if p == q => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collisions() {
        for (a, b) in [("a.b", "a.b"), ("a.*", "a.b"), ("a.>", "*.b.c"), (">", "x"), ("a.*.c", "a.b.*")] {
            assert!(subjects_collide(a.as_bytes(), b.as_bytes()), "{a} {b}");
            assert!(subjects_collide(b.as_bytes(), a.as_bytes()), "{b} {a}");
        }
        for (a, b) in [("a.b", "a.c"), ("a.*", "a.b.c"), ("a.>", "a"), ("b.>", "a.>")] {
            assert!(!subjects_collide(a.as_bytes(), b.as_bytes()), "{a} {b}");
        }
    }

    #[test]
    fn validity() {
        for ok in ["foo", "foo.bar", "*", ">", "foo.*", "foo.>", "*.*.>", "foo*.bar", "f>o", "ü.ñ"] {
            assert!(is_valid_subject(ok.as_bytes()), "{ok} should be valid");
        }
        for bad in ["", ".", "foo.", ".foo", "foo..bar", "foo.>.bar", "foo bar", "a\tb", ">.>"] {
            assert!(!is_valid_subject(bad.as_bytes()), "{bad:?} should be invalid");
        }
        assert!(is_valid_literal_subject(b"foo*.bar"));
        assert!(!is_valid_literal_subject(b"foo.*"));
        assert!(!is_valid_literal_subject(b">"));
        assert!(!is_valid_literal_subject(b""));
        assert!(!is_valid_literal_subject(b"a..b"));
        assert!(is_valid_literal_subject(b"a\x0cb.\r"), "the pedantic check ignores blanks");
        assert!(is_valid_sub_subject(b"a\x0cb.*.>"));
        assert!(!is_valid_sub_subject(b"a.>.b"));
        assert!(!is_valid_sub_subject(b"a."));
        assert!(!is_valid_sub_subject(b""));
    }

    #[test]
    fn matching() {
        assert!(filter_matches(b"foo.*", b"foo.bar"));
        assert!(!filter_matches(b"foo.*", b"foo.bar.baz"));
        assert!(filter_matches(b"foo.>", b"foo.bar.baz"));
        assert!(!filter_matches(b"foo.>", b"foo"));
        assert!(filter_matches(b">", b"a"));
        assert!(filter_matches(b"*.b", b"*.b"));
        assert!(!filter_matches(b"a", b"b"));
    }

    #[test]
    fn subsets() {
        assert!(is_subset_match(b"foo.bar", b"foo.*"));
        assert!(is_subset_match(b"foo.*", b"foo.>"));
        assert!(is_subset_match(b"foo.*", b"foo.*"));
        assert!(!is_subset_match(b"foo.>", b"foo.*"));
        assert!(!is_subset_match(b"foo.*", b"foo.bar"));
        assert!(is_subset_match(b"foo.>", b">"));
    }
}
