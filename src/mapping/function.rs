//! The functions of a destination token (`{{wildcard(1)}}`, `$1`,
//! `{{partition(10,1,2)}}`, ...), found and their arguments parsed the way
//! nats-server's regular expressions and `indexPlaceHolders` do.

use super::error::TransformError;

/// A destination token's function, arguments parsed (wildcard numbers not
/// yet resolved).
#[derive(Debug)]
pub(super) enum Func {
    None,
    Wildcard(i64),
    Partition(i32, Vec<i64>),
    SplitFromLeft(i64, i32),
    SplitFromRight(i64, i32),
    SliceFromLeft(i64, i32),
    SliceFromRight(i64, i32),
    Split(i64, String),
    Left(i64, i32),
    Right(i64, i32),
    Random(i64),
}

impl Func {
    /// How many source wildcards the token refers to.
    pub(super) fn indexes(&self) -> usize {
        match self {
            Func::None | Func::Random(_) => 0,
            Func::Partition(_, list) => list.len(),
            _ => 1,
        }
    }
}

/// The function names in the order nats-server tries its regular
/// expressions (`split` after the longer `split...` names, which it would
/// not match anyway as `split` must be followed by `(`).
const FUNCTIONS: [&str; 10] = [
    "wildcard",
    "partition",
    "splitfromleft",
    "splitfromright",
    "slicefromleft",
    "slicefromright",
    "right",
    "left",
    "split",
    "random",
];

/// `{{` ... `}}` with at least one byte between: a function call to check.
pub(super) fn looks_like_function(t: &str) -> bool {
    t.len() > 4 && t.starts_with("{{") && t.ends_with("}}")
}

/// Which function a `{{...}}` token calls and its raw argument text, as
/// nats-server's regular expressions find them: `{{\s*[nN]ame\s*\((.*)\)\s*}}`
/// anywhere in the token, the first letter in either case and the rest as
/// written (`[sS]plit[fF]rom[lL]eft`: the capitals inside may be either too).
pub(super) fn function_args(t: &str) -> Option<(&'static str, &str)> {
    FUNCTIONS.iter().find_map(|name| find_call(t, name).map(|args| (*name, args)))
}

fn find_call<'a>(t: &'a str, name: &str) -> Option<&'a str> {
    let b = t.as_bytes();
    let blank = |c: u8| matches!(c, b'\t' | b'\n' | 0x0c | b'\r' | b' ');
    for start in (0..b.len().saturating_sub(1)).filter(|&i| &b[i..i + 2] == b"{{") {
        let mut i = start + 2;
        while i < b.len() && blank(b[i]) {
            i += 1;
        }
        if !name_matches(&b[i..], name) {
            continue;
        }
        i += name.len();
        while i < b.len() && blank(b[i]) {
            i += 1;
        }
        if b.get(i) != Some(&b'(') {
            continue;
        }
        let open = i + 1;
        // Greedy `(.*)`: the rightmost `)` followed by blanks and `}}`.
        let close = (open..b.len()).rev().find(|&j| {
            b[j] == b')' && {
                let mut k = j + 1;
                while k < b.len() && blank(b[k]) {
                    k += 1;
                }
                b[k..].starts_with(b"}}")
            }
        });
        if let Some(close) = close {
            return Some(&t[open..close]);
        }
    }
    None
}

/// `[wW]ildcard`, `[sS]plit[fF]rom[lL]eft`, ...: the letters that start a
/// word in nats-server's expressions may be either case.
fn name_matches(b: &[u8], name: &str) -> bool {
    let n = name.as_bytes();
    if b.len() < n.len() {
        return false;
    }
    let word_starts: &[usize] = match name {
        "splitfromleft" | "splitfromright" => &[0, 5, 9],
        "slicefromleft" | "slicefromright" => &[0, 5, 9],
        _ => &[0],
    };
    n.iter().enumerate().all(|(i, &c)| b[i] == c || (word_starts.contains(&i) && b[i] == c.to_ascii_uppercase()))
}

/// Go's `strconv.Atoi` on an argument trimmed of spaces (only spaces).
fn atoi(s: &str) -> Option<i64> {
    let s = s.trim_matches(' ');
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Go's `strconv.ParseInt(s, 10, 32)` on an argument trimmed of spaces.
fn atoi32(s: &str) -> Option<i32> {
    atoi(s).and_then(|n| i32::try_from(n).ok())
}

/// nats-server's `indexPlaceHolders`.
pub(super) fn parse_token(token: &str) -> Result<Func, TransformError> {
    if token.len() > 1 && token.starts_with('$') {
        // `$1` is the legacy wildcard; `$foo` is just a token.
        return Ok(atoi_strict(&token[1..]).map_or(Func::None, Func::Wildcard));
    }
    if !looks_like_function(token) {
        return Ok(Func::None);
    }
    let err = |kind: fn(String) -> TransformError| Err(kind(token.to_string()));
    let Some((name, raw)) = function_args(token) else {
        return err(|token| TransformError::UnknownFunction { token });
    };
    let args = split_args(raw);
    let index_and_int = |make: fn(i64, i32) -> Func| -> Result<Func, TransformError> {
        match args.len() {
            0 | 1 => err(|token| TransformError::NotEnoughArgs { token }),
            2 => match (atoi(args[0]), atoi32(args[1])) {
                (Some(i), Some(n)) => Ok(make(i, n)),
                _ => err(|token| TransformError::InvalidArg { token }),
            },
            _ => err(|token| TransformError::TooManyArgs { token }),
        }
    };
    match name {
        "wildcard" => match args.as_slice() {
            [""] => err(|token| TransformError::NotEnoughArgs { token }),
            [one] => atoi(one).map(Func::Wildcard).ok_or(TransformError::InvalidArg { token: token.to_string() }),
            _ => err(|token| TransformError::TooManyArgs { token }),
        },
        "partition" => {
            let Some(n) = atoi(args[0]).filter(|&n| n <= i32::MAX as i64) else {
                return err(|token| TransformError::InvalidArg { token });
            };
            let mut list = Vec::new();
            for a in &args[1..] {
                list.push(atoi(a).ok_or(TransformError::InvalidArg { token: token.to_string() })?);
            }
            Ok(Func::Partition(n as i32, list))
        }
        "splitfromleft" => index_and_int(Func::SplitFromLeft),
        "splitfromright" => index_and_int(Func::SplitFromRight),
        "slicefromleft" => index_and_int(Func::SliceFromLeft),
        "slicefromright" => index_and_int(Func::SliceFromRight),
        "right" => index_and_int(Func::Right),
        "left" => index_and_int(Func::Left),
        "split" => match args.as_slice() {
            [] | [_] => err(|token| TransformError::NotEnoughArgs { token }),
            [i, by] => match atoi(i) {
                Some(i) if !by.contains(' ') && !by.contains('.') => Ok(Func::Split(i, by.to_string())),
                _ => err(|token| TransformError::InvalidArg { token }),
            },
            _ => err(|token| TransformError::TooManyArgs { token }),
        },
        _ => match args.as_slice() {
            [n] => match atoi(n).filter(|&n| n <= i32::MAX as i64) {
                Some(n) => Ok(Func::Random(n)),
                None => err(|token| TransformError::InvalidArg { token }),
            },
            _ => err(|token| TransformError::NotEnoughArgs { token }),
        },
    }
}

/// `$1`: Go's `strconv.Atoi` on the rest, untrimmed.
fn atoi_strict(s: &str) -> Option<i64> {
    if s.starts_with(' ') || s.ends_with(' ') {
        return None;
    }
    atoi(s)
}

/// nats-server splits arguments on `,\s*`: blanks after a comma go, blanks
/// before one stay (and `split`'s separator may then hold a space).
fn split_args(raw: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(i) = rest.find(',') {
        out.push(&rest[..i]);
        rest = rest[i + 1..].trim_start_matches(['\t', '\n', '\x0c', '\r', ' ']);
    }
    out.push(rest);
    out
}
