//! JSON decoded the way Go's `encoding/json` decodes it into a struct, which
//! is what nats-server does with CONNECT and INFO. Clients depend on the
//! quirks, so they are reproduced rather than improved:
//!
//! - keys match field names exactly or case-insensitively, with Unicode
//!   simple folding (`bytes.EqualFold`): besides ASCII case, `ſ` (U+017F)
//!   is an `s` and the Kelvin sign (U+212A) a `k`; `İ` and `ı` are not an
//!   `i` (observed on nats-server 2.15.1). The last of repeated keys wins;
//! - `null` leaves a bool, number or string field as it was, and a top-level
//!   `null` decodes to nothing at all;
//! - a value of the wrong type (`"protocol":"1"`, `"verbose":1`,
//!   `"protocol":1.0`) or a top level that is not an object is an error;
//! - strings may hold invalid UTF-8 or lone surrogate escapes: each bad byte
//!   or lone surrogate becomes U+FFFD;
//! - nesting up to 10 000 levels is fine, and no input ever recurses here.
//!
//! The input is validated in one iterative pass first (as Go does before
//! decoding), so the decoding steps below can assume well-formed JSON.

use std::borrow::Cow;

use base64::Engine;

/// Go's `maxNestingDepth`.
const MAX_DEPTH: usize = 10_000;

/// The Go type of a struct field, as far as decoding is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Str,
    /// A signed integer type with this range (`int`, `int32`).
    Int {
        min: i64,
        max: i64,
    },
    /// An unsigned integer type with this maximum (`uint64`, `byte`).
    Uint {
        max: u64,
    },
    /// `[]string`
    StrList,
    /// `[]byte`: a base64 string, or an array of small numbers.
    Bytes,
    /// `*SubjectPermission`: `{"allow":[...],"deny":[...]}`.
    SubjectPermission,
}

pub const INT: Kind = Kind::Int { min: i64::MIN, max: i64::MAX };
pub const INT32: Kind = Kind::Int { min: i32::MIN as i64, max: i32::MAX as i64 };
pub const UINT64: Kind = Kind::Uint { max: u64::MAX };
pub const BYTE: Kind = Kind::Uint { max: u8::MAX as u64 };

/// A decoded scalar for the caller to store.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// `null` into a bool, number or string: the field keeps its value.
    Keep,
    Bool(bool),
    Str(String),
    Int(i64),
    /// Lists and permissions: the value is well typed (rnats does not keep it).
    Other,
}

/// Checks that `json` is one JSON value with nothing but whitespace around
/// it, with Go's grammar and depth limit. The error text is Go's.
pub fn validate(json: &[u8]) -> Result<(), String> {
    // One entry per open container: true for an object.
    let mut stack: Vec<bool> = Vec::new();
    let mut i = skip_ws(json, 0);
    loop {
        // A value starts at `i`.
        let Some(&b) = json.get(i) else { return Err(eof()) };
        i = match b {
            b'{' | b'[' => {
                stack.push(b == b'{');
                if stack.len() > MAX_DEPTH {
                    return Err("exceeded max depth".into());
                }
                let j = skip_ws(json, i + 1);
                let close = if b == b'{' { b'}' } else { b']' };
                if json.get(j) == Some(&close) {
                    stack.pop();
                    j + 1
                } else {
                    // The first member's value starts here.
                    i = if b == b'{' { object_key(json, j)? } else { j };
                    continue;
                }
            }
            b'"' => string_end(json, i)?,
            b'-' | b'0'..=b'9' => number_end(json, i)?,
            b't' => literal(json, i, b"true")?,
            b'f' => literal(json, i, b"false")?,
            b'n' => literal(json, i, b"null")?,
            _ => return Err(invalid(b, "looking for beginning of value")),
        };
        // After a value: close containers, or find where the next one starts.
        loop {
            i = skip_ws(json, i);
            let Some(&in_object) = stack.last() else {
                return match json.get(i) {
                    None => Ok(()),
                    Some(&b) => Err(invalid(b, "after top-level value")),
                };
            };
            let close = if in_object { b'}' } else { b']' };
            match json.get(i) {
                None => return Err(eof()),
                Some(&b) if b == close => {
                    stack.pop();
                    i += 1;
                }
                Some(b',') => {
                    i = skip_ws(json, i + 1);
                    if in_object {
                        i = object_key(json, i)?;
                    }
                    break;
                }
                Some(&b) => {
                    let what = if in_object { "after object key:value pair" } else { "after array element" };
                    return Err(invalid(b, what));
                }
            }
        }
    }
}

/// At `i` is a key: checks it and the colon, returns where its value starts.
fn object_key(json: &[u8], i: usize) -> Result<usize, String> {
    match json.get(i) {
        None => return Err(eof()),
        Some(b'"') => {}
        Some(&b) => return Err(invalid(b, "looking for beginning of object key string")),
    }
    let j = skip_ws(json, string_end(json, i)?);
    match json.get(j) {
        None => Err(eof()),
        Some(b':') => Ok(skip_ws(json, j + 1)),
        Some(&b) => Err(invalid(b, "after object key")),
    }
}

fn eof() -> String {
    "unexpected end of JSON input".into()
}

fn invalid(b: u8, context: &str) -> String {
    let shown = match b {
        b'\'' => "'\\''".to_string(),
        b'"' => "'\"'".to_string(),
        0x20..=0x7e => format!("'{}'", b as char),
        _ => format!("'\\x{b:02x}'"),
    };
    format!("invalid character {shown} {context}")
}

fn skip_ws(json: &[u8], mut i: usize) -> usize {
    while matches!(json.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

fn literal(json: &[u8], i: usize, word: &[u8]) -> Result<usize, String> {
    for (k, &w) in word.iter().enumerate() {
        match json.get(i + k) {
            None => return Err(eof()),
            Some(&b) if b != w => return Err(invalid(b, "in literal")),
            _ => {}
        }
    }
    Ok(i + word.len())
}

/// The end of the string starting with the quote at `i`.
fn string_end(json: &[u8], i: usize) -> Result<usize, String> {
    let mut j = i + 1;
    loop {
        match json.get(j) {
            None => return Err(eof()),
            Some(b'"') => return Ok(j + 1),
            Some(b'\\') => match json.get(j + 1) {
                None => return Err(eof()),
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => j += 2,
                Some(b'u') => {
                    for k in 2..6 {
                        match json.get(j + k) {
                            None => return Err(eof()),
                            Some(h) if h.is_ascii_hexdigit() => {}
                            Some(&h) => return Err(invalid(h, "in \\u hexadecimal character escape")),
                        }
                    }
                    j += 6;
                }
                Some(&b) => return Err(invalid(b, "in string escape code")),
            },
            Some(&b) if b < 0x20 => return Err(invalid(b, "in string literal")),
            Some(_) => j += 1,
        }
    }
}

/// The end of the number starting at `i`: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn number_end(json: &[u8], i: usize) -> Result<usize, String> {
    let digits = |mut j: usize| {
        while json.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        j
    };
    let need_digit = |j: usize, context: &str| match json.get(j) {
        None => Err(eof()),
        Some(d) if d.is_ascii_digit() => Ok(()),
        Some(&b) => Err(invalid(b, context)),
    };
    let mut j = i;
    if json.get(j) == Some(&b'-') {
        j += 1;
        need_digit(j, "in numeric literal")?;
    }
    j = if json.get(j) == Some(&b'0') { j + 1 } else { digits(j) };
    if json.get(j) == Some(&b'.') {
        need_digit(j + 1, "after decimal point in numeric literal")?;
        j = digits(j + 1);
    }
    if matches!(json.get(j), Some(b'e' | b'E')) {
        j += 1;
        if matches!(json.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        need_digit(j, "in exponent of numeric literal")?;
        j = digits(j);
    }
    Ok(j)
}

/// The end of the (valid) value starting at `i`.
fn value_end(json: &[u8], i: usize) -> usize {
    match json[i] {
        b'"' => string_end(json, i).unwrap_or(json.len()),
        b'-' | b'0'..=b'9' => number_end(json, i).unwrap_or(json.len()),
        b't' | b'n' => i + 4,
        b'f' => i + 5,
        _ => {
            // A container: count brackets outside strings.
            let mut depth = 0usize;
            let mut j = i;
            while j < json.len() {
                match json[j] {
                    b'"' => {
                        j = string_end(json, j).unwrap_or(json.len());
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            json.len()
        }
    }
}

/// The members of a (valid) object or array: raw key (with quotes) and raw
/// value for objects, `None` keys for arrays.
fn members(json: &[u8]) -> Vec<(Option<&[u8]>, &[u8])> {
    let mut out = Vec::new();
    let is_object = json.first() == Some(&b'{');
    let mut i = skip_ws(json, 1);
    if matches!(json.get(i), Some(b'}' | b']')) {
        return out;
    }
    loop {
        let mut key = None;
        if is_object {
            let end = string_end(json, i).unwrap_or(json.len());
            key = Some(&json[i..end]);
            i = skip_ws(json, end) + 1;
            i = skip_ws(json, i);
        }
        let end = value_end(json, i);
        out.push((key, &json[i..end]));
        i = skip_ws(json, end);
        if json.get(i) != Some(&b',') {
            return out;
        }
        i = skip_ws(json, i + 1);
    }
}

/// The text of a (valid) JSON string literal, quotes included, as Go
/// decodes it: escapes resolved, every invalid UTF-8 byte and every lone
/// surrogate replaced by U+FFFD.
pub fn string_value(lit: &[u8]) -> String {
    let body = &lit[1..lit.len() - 1];
    let mut out = String::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\\' => {
                let c = body[i + 1];
                i += 2;
                match c {
                    b'b' => out.push('\u{8}'),
                    b'f' => out.push('\u{c}'),
                    b'n' => out.push('\n'),
                    b'r' => out.push('\r'),
                    b't' => out.push('\t'),
                    b'u' => {
                        let hi = hex4(&body[i..]);
                        i += 4;
                        if (0xd800..0xdc00).contains(&hi) && body[i..].starts_with(b"\\u") {
                            let lo = hex4(&body[i + 2..]);
                            if (0xdc00..0xe000).contains(&lo) {
                                let c = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
                                out.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                                i += 6;
                                continue;
                            }
                        }
                        out.push(char::from_u32(hi).unwrap_or('\u{fffd}'));
                    }
                    c => out.push(c as char),
                }
            }
            _ => {
                let end = body[i..].iter().position(|&b| b == b'\\').map_or(body.len(), |p| i + p);
                push_go_utf8(&mut out, &body[i..end]);
                i = end;
            }
        }
    }
    out
}

fn hex4(b: &[u8]) -> u32 {
    b[..4].iter().fold(0, |n, &h| n * 16 + (h as char).to_digit(16).unwrap_or(0))
}

/// Appends `bytes` as UTF-8, one U+FFFD per byte that does not start a
/// valid sequence (Go's `utf8.DecodeRune` steps one byte on error).
pub fn push_go_utf8(out: &mut String, mut bytes: &[u8]) {
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.push_str(s);
                return;
            }
            Err(e) => {
                let (good, bad) = bytes.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                out.push('\u{fffd}');
                bytes = &bad[1..];
            }
        }
    }
}

/// Whether a decoded key names the field: exactly, or after Go's folding.
pub fn key_matches(key: &str, field: &str) -> bool {
    if key == field {
        return true;
    }
    let mut k = key.chars();
    let mut f = field.bytes();
    loop {
        match (k.next(), f.next()) {
            (None, None) => return true,
            (Some(c), Some(b)) => {
                let folded = match c {
                    'ſ' => 'S',
                    '\u{212a}' => 'K',
                    c => c.to_ascii_uppercase(),
                };
                if folded != (b as char).to_ascii_uppercase() {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Decodes `json` as Go decodes it into a struct with `fields`, calling
/// `store(index, value)` for each member that names a field, in order.
/// Members naming no field are skipped. The first type error is returned
/// after all members were seen, as Go does; `what` names the struct.
pub fn decode_struct(
    json: &[u8],
    what: &str,
    fields: &[(&str, Kind)],
    mut store: impl FnMut(usize, Decoded),
) -> Result<(), String> {
    validate(json)?;
    let start = skip_ws(json, 0);
    let end = value_end(json, start);
    let top = &json[start..end];
    match top[0] {
        b'n' => return Ok(()),
        b'{' => {}
        _ => return Err(format!("json: cannot unmarshal {} into Go value of type server.{what}", type_name(top))),
    }
    let mut first_error = None;
    for (key, value) in members(top) {
        let key = string_value(key.unwrap_or(b"\"\""));
        let Some(index) = fields.iter().position(|(name, _)| key_matches(&key, name)) else { continue };
        let (name, kind) = fields[index];
        match decode_value(value, kind) {
            Ok(v) => store(index, v),
            Err(found) => {
                // Go's message quotes a number it could not store; for a
                // credential field that number is a secret, and this text is
                // logged. Only its kind is kept there (nats-server logs it).
                let found = match SECRET_FIELDS.contains(&name) {
                    true => found.split(' ').next().unwrap_or("value").to_string(),
                    false => found,
                };
                first_error.get_or_insert_with(|| {
                    format!(
                        "json: cannot unmarshal {found} into Go struct field {what}.{name} of type {}",
                        go_type(kind)
                    )
                });
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// CONNECT fields whose values are credentials.
const SECRET_FIELDS: &[&str] = &["pass", "auth_token", "sig", "jwt", "nkey"];

fn type_name(v: &[u8]) -> &'static str {
    match v[0] {
        b'{' => "object",
        b'[' => "array",
        b'"' => "string",
        b't' | b'f' => "bool",
        b'n' => "null",
        _ => "number",
    }
}

fn go_type(kind: Kind) -> Cow<'static, str> {
    match kind {
        Kind::Bool => "bool".into(),
        Kind::Str => "string".into(),
        Kind::Int { max, .. } if max == i32::MAX as i64 => "int32".into(),
        Kind::Int { .. } => "int".into(),
        Kind::Uint { max } if max == u8::MAX as u64 => "uint8".into(),
        Kind::Uint { .. } => "uint64".into(),
        Kind::StrList => "[]string".into(),
        Kind::Bytes => "[]uint8".into(),
        Kind::SubjectPermission => "server.SubjectPermission".into(),
    }
}

/// One value into a field of `kind`; on a type error, what was found
/// (Go's wording: `string`, `number 1.0`, ...).
fn decode_value(v: &[u8], kind: Kind) -> Result<Decoded, String> {
    let found = || match v[0] {
        b'-' | b'0'..=b'9' => format!("number {}", String::from_utf8_lossy(v)),
        _ => type_name(v).to_string(),
    };
    if v[0] == b'n' {
        return Ok(Decoded::Keep);
    }
    match kind {
        Kind::Bool => match v[0] {
            b't' => Ok(Decoded::Bool(true)),
            b'f' => Ok(Decoded::Bool(false)),
            _ => Err(found()),
        },
        Kind::Str => match v[0] {
            b'"' => Ok(Decoded::Str(string_value(v))),
            _ => Err(found()),
        },
        Kind::Int { min, max } => {
            let n = std::str::from_utf8(v).ok().and_then(|s| s.parse::<i64>().ok());
            match n {
                Some(n) if (min..=max).contains(&n) => Ok(Decoded::Int(n)),
                _ => Err(found()),
            }
        }
        Kind::Uint { max } => {
            let n = std::str::from_utf8(v).ok().and_then(|s| s.parse::<u64>().ok());
            match n {
                Some(n) if n <= max => Ok(Decoded::Int(i64::try_from(n).unwrap_or(i64::MAX))),
                _ => Err(found()),
            }
        }
        Kind::StrList => match v[0] {
            b'[' => {
                for (_, e) in members(v) {
                    if e[0] != b'"' && e[0] != b'n' {
                        return Err(match e[0] {
                            b'-' | b'0'..=b'9' => format!("number {}", String::from_utf8_lossy(e)),
                            _ => type_name(e).to_string(),
                        });
                    }
                }
                Ok(Decoded::Other)
            }
            _ => Err(found()),
        },
        Kind::Bytes => match v[0] {
            b'"' => {
                // Go's base64 decoder skips CR and LF; padding is required.
                let mut text = string_value(v).into_bytes();
                text.retain(|&b| b != b'\r' && b != b'\n');
                let engine = base64::engine::GeneralPurpose::new(
                    &base64::alphabet::STANDARD,
                    base64::engine::GeneralPurposeConfig::new()
                        .with_decode_allow_trailing_bits(true)
                        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireCanonical),
                );
                engine.decode(&text).map(|_| Decoded::Other).map_err(|_| "string (bad base64)".to_string())
            }
            b'[' => {
                for (_, e) in members(v) {
                    decode_value(e, BYTE)?;
                }
                Ok(Decoded::Other)
            }
            _ => Err(found()),
        },
        Kind::SubjectPermission => match v[0] {
            b'{' => {
                for (key, e) in members(v) {
                    let key = string_value(key.unwrap_or(b"\"\""));
                    if key_matches(&key, "allow") || key_matches(&key, "deny") {
                        decode_value(e, Kind::StrList)?;
                    }
                }
                Ok(Decoded::Other)
            }
            _ => Err(found()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        for ok in [
            &b"{}"[..],
            b" {\"a\" : [1, -0, 0.5, 1e3, 2E-1, true, false, null, \"x\\u00e9\\n\"]} \r\n",
            b"null",
            b"[]",
            b"\"\xff\"",
            b"[[[[[]]]]]",
            b"{\"\\ud800\":1}",
        ] {
            assert_eq!(validate(ok), Ok(()), "{:?}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b""[..],
            b"{",
            b"{}x",
            b"{}{}",
            b"{\"a\":1,}",
            b"{'a':1}",
            b"[01]",
            b"[1.]",
            b"[-]",
            b"[1e]",
            b"tru",
            b"True",
            b"\"a\x01\"",
            b"\"\\x\"",
            b"\"\\u12g4\"",
            b"{\"a\" 1}",
            b"[1 2]",
        ] {
            assert!(validate(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = [vec![b'['; MAX_DEPTH], vec![b']'; MAX_DEPTH]].concat();
        assert_eq!(validate(&deep), Ok(()));
        let deeper = [vec![b'['; MAX_DEPTH + 1], vec![b']'; MAX_DEPTH + 1]].concat();
        assert_eq!(validate(&deeper), Err("exceeded max depth".into()));
        assert_eq!(validate(b"{}x"), Err("invalid character 'x' after top-level value".into()));
    }

    #[test]
    fn strings_as_go_decodes_them() {
        assert_eq!(string_value(b"\"a\\u0041\\n\""), "aA\n");
        assert_eq!(string_value(b"\"\\ud83d\\ude00\""), "\u{1f600}");
        assert_eq!(string_value(b"\"\\ud800x\""), "\u{fffd}x");
        assert_eq!(string_value(b"\"\\udc00\\ud800\""), "\u{fffd}\u{fffd}");
        assert_eq!(string_value(b"\"\xe2\x82A\""), "\u{fffd}\u{fffd}A");
        assert_eq!(string_value(b"\"\xc3\xa9\""), "é");
    }

    #[test]
    fn keys_fold_as_go_folds_them() {
        assert!(key_matches("VERBOSE", "verbose"));
        assert!(key_matches("verboſe", "verbose"));
        assert!(key_matches("\u{212a}ey", "key"));
        assert!(!key_matches("pedantİc", "pedantic"));
        assert!(!key_matches("pedantıc", "pedantic"));
        assert!(!key_matches("pedan_tic", "pedantic"));
        assert!(!key_matches("verbos", "verbose"));
        assert!(!key_matches("verbosé", "verbose"));
    }

    #[test]
    fn struct_decoding() {
        let fields =
            [("verbose", Kind::Bool), ("protocol", INT), ("name", Kind::Str), ("import", Kind::SubjectPermission)];
        let run = |json: &[u8]| {
            let mut got = Vec::new();
            decode_struct(json, "ClientOpts", &fields, |i, v| got.push((fields[i].0, v))).map(|_| got)
        };
        assert_eq!(run(b"null"), Ok(vec![]));
        assert_eq!(
            run(b"{\"Verbose\":false,\"verbose\":null,\"protocol\":-0,\"x\":[{}]}"),
            Ok(vec![("verbose", Decoded::Bool(false)), ("verbose", Decoded::Keep), ("protocol", Decoded::Int(0))])
        );
        assert_eq!(
            run(b"{\"protocol\":\"1\"}"),
            Err("json: cannot unmarshal string into Go struct field ClientOpts.protocol of type int".into())
        );
        assert!(run(b"{\"protocol\":1.0}").is_err());
        assert!(run(b"{\"protocol\":1e0}").is_err());
        assert!(run(b"{\"protocol\":99999999999999999999}").is_err());
        assert!(run(b"{\"verbose\":1}").is_err());
        assert!(run(b"{\"import\":{\"allow\":1}}").is_err());
        assert!(run(b"{\"import\":{\"allow\":[\"a\",null]}}").is_ok());
        assert_eq!(run(b"[]"), Err("json: cannot unmarshal array into Go value of type server.ClientOpts".into()));
        assert_eq!(run(b"{\"name\":\"\\ud800\"}"), Ok(vec![("name", Decoded::Str("\u{fffd}".into()))]));
    }
}
