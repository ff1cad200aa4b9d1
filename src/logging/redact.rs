//! The last line of defence for secrets: every message is scrubbed on the
//! writer thread before any sink sees it.
//!
//! Call sites already keep secrets out (the CONNECT trace is redacted field
//! by field), but a log line can carry text the server did not choose: a
//! malformed CONNECT echoed in a parser error, a credential put in the wrong
//! field. So, whatever the call site, these never reach a sink:
//! - the value after a key that starts with `pass` or `auth_token`, or is
//!   `token`, `sig`, `proxy_sig`, `nkey` or `jwt`, followed by `:` or `=`
//!   (nats-server's `removeSecretsFromTrace` patterns, made
//!   case-insensitive, with `jwt` and `token` added, and quoted values
//!   ending at their real closing quote, escaped or not);
//! - anything shaped like an nkey seed (`S` + type + 56 base32 characters);
//! - anything shaped like a JWT (`eyJ…​.…​.…`).
//!
//! Each is replaced by `[REDACTED]`, the marker nats-server uses.

use std::borrow::Cow;
use std::sync::OnceLock;

use memchr::memmem::Finder;

pub use crate::secret::REDACTED;

/// `message` with every secret-looking value replaced.
pub fn scrub(message: &str) -> Cow<'_, str> {
    Scrubber::default().scrub(message)
}

/// Scratch space kept between lines, so the writer thread scrubs without
/// allocating unless a line has something to hide.
#[derive(Default)]
pub struct Scrubber {
    /// The line in lower case, for the case-insensitive key search.
    lower: Vec<u8>,
    candidates: Vec<usize>,
    spans: Vec<(usize, usize)>,
}

impl Scrubber {
    pub fn scrub<'a>(&mut self, message: &'a str) -> Cow<'a, str> {
        self.find_spans(message.as_bytes());
        if self.spans.is_empty() {
            return Cow::Borrowed(message);
        }
        Cow::Owned(replace_spans(message, &self.spans))
    }
}

fn replace_spans(message: &str, spans: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(message.len());
    let mut at = 0;
    for &(start, end) in spans {
        if start < at {
            // Overlaps the previous span, which already covered its start.
            if end > at {
                at = end;
            }
            continue;
        }
        out.push_str(&message[at..start]);
        out.push_str(REDACTED);
        at = end;
    }
    out.push_str(&message[at..]);
    out
}

/// Key names that start a candidate, lower-case. A position found for one
/// is only a candidate: `key_at` decides (boundary, separator).
const KEY_NEEDLES: [&str; 7] = ["pass", "auth_token", "proxy_sig", "sig", "nkey", "jwt", "token"];

impl Scrubber {
    /// Fills `spans` with the byte ranges to hide, sorted by start. Every
    /// range starts and ends on an ASCII byte or at the end, so slicing the
    /// `str` there is safe.
    ///
    /// Candidates are found with SIMD substring searches (a trace line can
    /// be a whole message payload, and this runs on every line), then
    /// checked one by one in order.
    fn find_spans(&mut self, b: &[u8]) {
        // Built once: building a finder costs more than searching a log line.
        static FINDERS: OnceLock<Vec<Finder<'static>>> = OnceLock::new();
        let finders =
            FINDERS.get_or_init(|| KEY_NEEDLES.iter().chain(&["eyj"]).map(|n| Finder::new(n.as_bytes())).collect());
        let (candidates, spans) = (&mut self.candidates, &mut self.spans);
        candidates.clear();
        spans.clear();
        let lower: &[u8] = if b.iter().any(u8::is_ascii_uppercase) {
            self.lower.clear();
            self.lower.extend(b.iter().map(u8::to_ascii_lowercase));
            &self.lower
        } else {
            b
        };
        for finder in finders {
            candidates.extend(finder.find_iter(lower));
        }
        candidates.extend(memchr::memchr_iter(b'S', b));
        if candidates.is_empty() {
            return;
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut done = 0;
        for &i in candidates.iter() {
            if i < done {
                continue;
            }
            let boundary = i == 0 || !is_word(b[i - 1]);
            if let Some(key_end) = key_at(b, i, boundary) {
                if let Some((start, end)) = value_after_key(b, key_end) {
                    spans.push((start, end));
                    done = end;
                    continue;
                }
            }
            if boundary && b[i] == b'S' {
                if let Some(end) = seed_at(b, i) {
                    spans.push((i, end));
                    done = end;
                    continue;
                }
            }
            if boundary && b[i] == b'e' {
                if let Some(end) = jwt_at(b, i) {
                    spans.push((i, end));
                    done = end;
                }
            }
        }
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn starts_with_ci(b: &[u8], at: usize, word: &[u8]) -> bool {
    b.len() >= at + word.len() && b[at..at + word.len()].eq_ignore_ascii_case(word)
}

/// If a secret-bearing key starts at `i`, where the separator search starts.
fn key_at(b: &[u8], i: usize, boundary: bool) -> Option<usize> {
    // nats-server matches these two as prefixes (`password`, `auth_token2`).
    for prefix in [&b"pass"[..], b"auth_token"] {
        if starts_with_ci(b, i, prefix) {
            // The key runs on over non-space characters up to the separator.
            let mut j = i + prefix.len();
            while j <= b.len() {
                if separator_at(b, j).is_some() {
                    return Some(j);
                }
                if j == b.len() || b[j].is_ascii_whitespace() {
                    return None;
                }
                j += 1;
            }
            return None;
        }
    }
    if !boundary {
        return None;
    }
    for exact in [&b"proxy_sig"[..], b"sig", b"nkey", b"jwt", b"token"] {
        if starts_with_ci(b, i, exact) && separator_at(b, i + exact.len()).is_some() {
            return Some(i + exact.len());
        }
    }
    None
}

/// `\\?"?\s*[:=]` at `j`: the end of the key's closing quote and the
/// separator; returns where the separator ends.
fn separator_at(b: &[u8], mut j: usize) -> Option<usize> {
    if b.get(j) == Some(&b'\\') && b.get(j + 1) == Some(&b'"') {
        j += 2;
    } else if b.get(j) == Some(&b'"') {
        j += 1;
    }
    while b.get(j).is_some_and(|c| *c == b' ' || *c == b'\t') {
        j += 1;
    }
    matches!(b.get(j), Some(b':') | Some(b'=')).then_some(j + 1)
}

/// The value after the separator: a quoted string up to its real closing
/// quote (also inside an already-escaped `\"…\"` text), or a bare value up
/// to `,`, `}`, a quote or the end of the line.
fn value_after_key(b: &[u8], key_end: usize) -> Option<(usize, usize)> {
    let mut j = separator_at(b, key_end)?;
    while b.get(j).is_some_and(|c| *c == b' ' || *c == b'\t') {
        j += 1;
    }
    let (start, end) = if b.get(j) == Some(&b'\\') && b.get(j + 1) == Some(&b'"') {
        // Quoted inside quoted text: ends at the next `\"`.
        let start = j + 2;
        let mut k = start;
        while k < b.len() && !(b[k] == b'\\' && b.get(k + 1) == Some(&b'"')) {
            // An escaped backslash (`\\\\`) is part of the value.
            k += if b[k] == b'\\' && b.get(k + 1) == Some(&b'\\') { 2 } else { 1 };
        }
        (start, k.min(b.len()))
    } else if b.get(j) == Some(&b'"') {
        let start = j + 1;
        let mut k = start;
        while k < b.len() && b[k] != b'"' {
            k += if b[k] == b'\\' { 2 } else { 1 };
        }
        (start, k.min(b.len()))
    } else {
        let start = j;
        let mut k = start;
        while k < b.len() && !matches!(b[k], b'"' | b',' | b'}' | b'\r' | b'\n') {
            k += 1;
        }
        (start, k)
    };
    // Already redacted (the CONNECT trace does it first): nothing to hide.
    if start >= end || &b[start..end] == REDACTED.as_bytes() {
        return None;
    }
    // Public text the reference logs after `JWT:` / `jwt:`: the kind of
    // client (`Authenticated JWT: Client "U..."`) or a public nkey (the
    // `"<account>/<name>/jwt:<user key>"` tag). Neither is a secret.
    let value = b[start..end].trim_ascii();
    if value == b"Client" || value == b"Leafnode" || is_public_nkey(value) {
        return None;
    }
    Some((start, end))
}

/// A public nkey (user, account, operator, server, cluster, curve): the
/// type letter and 55 more base32 characters.
fn is_public_nkey(v: &[u8]) -> bool {
    let base32 = |c: &u8| c.is_ascii_uppercase() || (b'2'..=b'7').contains(c);
    v.len() == 56 && b"UANOCXP".contains(&v[0]) && v.iter().all(base32)
}

/// An nkey seed: `S`, a type letter, then base32 to 58 characters in all.
fn seed_at(b: &[u8], i: usize) -> Option<usize> {
    const LEN: usize = 58;
    let end = i + LEN;
    let kind = *b.get(i + 1)?;
    if !b"UANOCXP".contains(&kind) || b.len() < end {
        return None;
    }
    let base32 = |c: &u8| c.is_ascii_uppercase() || (b'2'..=b'7').contains(c);
    if !b[i..end].iter().all(base32) || b.get(end).is_some_and(|c| is_word(*c)) {
        return None;
    }
    Some(end)
}

/// A JWT: three base64url parts joined by dots, the first one a JSON header
/// (`eyJ`, which is `{"` encoded). The signature part may be empty.
fn jwt_at(b: &[u8], i: usize) -> Option<usize> {
    if !b[i..].starts_with(b"eyJ") {
        return None;
    }
    let b64 = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    let mut j = i;
    let mut dots = 0;
    while j < b.len() && (b64(b[j]) || (b[j] == b'.' && dots < 2)) {
        if b[j] == b'.' {
            dots += 1;
        }
        j += 1;
    }
    (dots == 2 && j - i > 12).then_some(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4GY";
    const JWT: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJBQkMifQ.c2lnbmF0dXJl";

    #[test]
    fn connect_json_fields() {
        let line = r#"cid:1 - <<- [CONNECT {"user":"u","pass":"hunter2","auth_token":"t0k","sig":"c2ln","jwt":"x.y.z","nkey":"UABC"}]"#;
        let out = scrub(line);
        for secret in ["hunter2", "t0k", "c2ln", "x.y.z", "UABC"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(out.contains(r#""user":"u""#), "{out}");
        assert_eq!(out.matches(REDACTED).count(), 5, "{out}");
    }

    #[test]
    fn quoted_values_end_at_their_real_quote() {
        let out = scrub(r#"{"pass":"a\"b,c}d","x":1}"#);
        assert_eq!(out, r#"{"pass":"[REDACTED]","x":1}"#);
        // Inside a Go-quoted trace payload the quotes are escaped.
        let out = scrub(r#"MSG_PAYLOAD: ["{\"password\":\"s3 cr,et\"}"]"#);
        assert_eq!(out, r#"MSG_PAYLOAD: ["{\"password\":\"[REDACTED]\"}"]"#);
    }

    #[test]
    fn key_value_forms_and_case() {
        assert_eq!(scrub("Password = hunter2, next"), "Password = [REDACTED], next");
        assert_eq!(scrub("TOKEN: abc"), "TOKEN: [REDACTED]");
        // Public text after `JWT:`/`jwt:` stays; a seed never does.
        let user = "UDMCY3TDRDAWEMKXPSWLVEKE4Q5IZBLCQMWIOATBMPOIJUB3TWFEIYTR";
        let line = format!("Authenticated JWT: Client \"{user}\" - \"ACC/jwt:{user}\"");
        assert_eq!(scrub(&line), line);
        assert_eq!(scrub("jwt: SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4"), "jwt: [REDACTED]");
        assert_eq!(scrub("\"Auth_Token\" : \"abc\""), "\"Auth_Token\" : \"[REDACTED]\"");
    }

    #[test]
    fn ordinary_lines_are_untouched() {
        for line in [
            "Plaintext passwords detected, use nkeys or bcrypt",
            "127.0.0.1:5 - cid:1 - \"$G/user:alice\" - <<- [SUB pass.word 1]",
            "authentication error - User \"bob\"",
            "  ID:       NBODSOE76UE27ZID2EXV44FU7GEHWZODA6OZACKYMUJ6R3DDJ7AGE7TB",
            "Listening for client connections on 0.0.0.0:4222",
            "signature: none, tokens left 3",
            "bypass the cache",
        ] {
            assert!(matches!(scrub(line), Cow::Borrowed(_)), "{line}");
        }
    }

    #[test]
    fn already_redacted_stays_borrowed() {
        assert!(matches!(scrub(r#"{"pass":"[REDACTED]"}"#), Cow::Borrowed(_)));
    }

    #[test]
    fn seeds_and_jwts_anywhere() {
        let out = scrub(&format!("User \"{SEED}\" failed")).into_owned();
        assert_eq!(out, "User \"[REDACTED]\" failed");
        let out = scrub(&format!("bearer {JWT} and more")).into_owned();
        assert_eq!(out, "bearer [REDACTED] and more");
        // A public key (not `S…`) and a longer word are left alone.
        let public = "UAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4";
        assert_eq!(scrub(public), public);
        let longer = format!("{SEED}A");
        assert_eq!(scrub(&longer), longer);
    }

    #[test]
    fn multibyte_text_around_secrets() {
        let out = scrub("é pass=ü€ , ok ✓");
        assert_eq!(out, "é pass=[REDACTED], ok ✓");
    }

    #[test]
    fn value_runs_to_end_of_line() {
        assert_eq!(scrub("pass=abc"), "pass=[REDACTED]");
        assert_eq!(scrub("pass=\"abc"), "pass=\"[REDACTED]");
        assert_eq!(scrub("pass="), "pass=");
    }
}
