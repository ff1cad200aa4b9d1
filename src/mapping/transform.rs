//! One subject transform: a source subject (literal or with wildcards) and a
//! destination with token functions (`{{wildcard(1)}}`, `$1`,
//! `{{partition(10,1,2)}}`, `{{split(1,-)}}`, ...), compiled once and applied
//! per message into a caller's reusable buffer (no allocation once the
//! buffer is warm).
//!
//! The semantics are nats-server 2.15's `subject_transform.go`, quirks
//! included, because mapped subjects cross the wire to other servers and
//! clients: `wildcard(0)` names the first source token, `partition(n)`
//! hashes the whole subject, a literal source ignores `partition`'s token
//! list, `split` drops empty pieces, `left`/`right` are accepted (the 2.15.1
//! binary does, whatever later sources say), and function names match with
//! their first letter in either case only (`Wildcard`, not `WILDCARD`).

use super::error::TransformError;
use super::function::{function_args, looks_like_function, parse_token, Func};

/// What one destination token becomes. Source token positions are already
/// resolved from wildcard numbers to indexes into the published subject.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    /// Copied as written (`$foo` that is not `$<number>` included).
    Literal(Box<[u8]>),
    /// A `>` in the destination: the rest of the published subject.
    Rest,
    Wildcard(usize),
    /// FNV-1a of the named tokens concatenated (or of the whole subject when
    /// none are named), modulo the bucket count.
    Partition {
        buckets: i32,
        tokens: Box<[usize]>,
    },
    SplitFromLeft {
        token: usize,
        at: i32,
    },
    SplitFromRight {
        token: usize,
        at: i32,
    },
    SliceFromLeft {
        token: usize,
        size: i32,
    },
    SliceFromRight {
        token: usize,
        size: i32,
    },
    Split {
        token: usize,
        by: Box<[u8]>,
    },
    Left {
        token: usize,
        len: i32,
    },
    Right {
        token: usize,
        len: i32,
    },
    Random {
        ceiling: i64,
    },
}

/// A compiled transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    src: String,
    dest: String,
    /// Tokens of the source: where the rest of the subject starts for `>`.
    src_tokens: usize,
    ops: Vec<Op>,
}

/// Up to 32 tokens without allocating (nats-server's `tsa [32]string`);
/// longer subjects spill to the heap.
pub struct Tokens<'a> {
    inline: [&'a [u8]; 32],
    len: usize,
    spill: Vec<&'a [u8]>,
}

impl<'a> Tokens<'a> {
    pub fn of(subject: &'a [u8]) -> Tokens<'a> {
        let mut t = Tokens { inline: [&[]; 32], len: 0, spill: Vec::new() };
        for token in subject.split(|&b| b == b'.') {
            if t.len < 32 {
                t.inline[t.len] = token;
            } else {
                if t.spill.is_empty() {
                    t.spill.extend_from_slice(&t.inline);
                }
                t.spill.push(token);
            }
            t.len += 1;
        }
        t
    }

    pub fn as_slice(&self) -> &[&'a [u8]] {
        if self.spill.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }
}

impl Transform {
    /// A mapping's transform (`mappings`, stream imports' `to`): any function.
    /// `None` when the destination is empty (nothing to transform).
    pub fn new(src: &str, dest: &str) -> Result<Option<Transform>, TransformError> {
        Transform::compile(src, dest, false)
    }

    /// An import's transform: it must be reversible, so only `wildcard()` /
    /// `$n`, and every source wildcard used.
    pub fn new_strict(src: &str, dest: &str) -> Result<Option<Transform>, TransformError> {
        Transform::compile(src, dest, true)
    }

    /// nats-server's `ValidateMapping` then `NewSubjectTransform`: the checks
    /// a `mappings` entry goes through, in the reference's order.
    pub fn for_mapping(src: &str, dest: &str) -> Result<Option<Transform>, TransformError> {
        if dest.is_empty() {
            return Ok(None);
        }
        let mut after_fwc = false;
        for t in dest.split('.') {
            if t.is_empty() || after_fwc {
                return Err(TransformError::InvalidTransform { token: t.to_string() });
            }
            if looks_like_function(t) {
                if function_args(t).is_none() {
                    return Err(TransformError::UnknownFunction { token: t.to_string() });
                }
                continue;
            }
            if t == ">" {
                after_fwc = true;
            } else if t.bytes().any(|b| matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' ')) {
                return Err(TransformError::BlankInDestination);
            }
        }
        Transform::new(src, dest)
    }

    fn compile(src: &str, dest: &str, strict: bool) -> Result<Option<Transform>, TransformError> {
        if dest.is_empty() {
            return Ok(None);
        }
        let src = if src.is_empty() { ">" } else { src };
        let (Some(s), Some(d)) = (SubjectInfo::of(src), SubjectInfo::of(dest)) else {
            return Err(TransformError::BadSubject);
        };
        if d.pwcs > 0 || s.fwc != d.fwc {
            return Err(TransformError::BadSubject);
        }
        // Wildcard number (1-based) -> source token index. nats-server keeps
        // this in a Go map, so an unknown number (0, negative) reads as 0:
        // the first token. Kept, as mapped subjects must be the same.
        let src_index: Vec<usize> = src.split('.').enumerate().filter(|(_, t)| *t == "*").map(|(i, _)| i).collect();
        let index_of = |n: i64| -> usize {
            if n >= 1 {
                src_index.get(n as usize - 1).copied().unwrap_or(0)
            } else {
                0
            }
        };
        let mut ops = Vec::new();
        let mut placeholders = 0usize;
        for token in dest.split('.') {
            let f = parse_token(token)?;
            if s.pwcs > 0 || s.fwc {
                if strict && !matches!(f, Func::None | Func::Wildcard(_)) {
                    return Err(TransformError::OnlyWildcardForImport { token: token.to_string() });
                }
                let check = |n: i64| -> Result<usize, TransformError> {
                    if n > s.pwcs as i64 {
                        Err(TransformError::IndexOutOfRange { token: format!("{token}: [{n}]") })
                    } else {
                        Ok(index_of(n))
                    }
                };
                placeholders += f.indexes();
                ops.push(match f {
                    Func::None => literal_op(token),
                    Func::Random(ceiling) => Op::Random { ceiling },
                    Func::Wildcard(n) => Op::Wildcard(check(n)?),
                    Func::Partition(buckets, list) => Op::Partition {
                        buckets,
                        tokens: list.into_iter().map(check).collect::<Result<Vec<_>, _>>()?.into(),
                    },
                    Func::SplitFromLeft(n, at) => Op::SplitFromLeft { token: check(n)?, at },
                    Func::SplitFromRight(n, at) => Op::SplitFromRight { token: check(n)?, at },
                    Func::SliceFromLeft(n, size) => Op::SliceFromLeft { token: check(n)?, size },
                    Func::SliceFromRight(n, size) => Op::SliceFromRight { token: check(n)?, size },
                    Func::Split(n, by) => Op::Split { token: check(n)?, by: by.into_bytes().into() },
                    Func::Left(n, len) => Op::Left { token: check(n)?, len },
                    Func::Right(n, len) => Op::Right { token: check(n)?, len },
                });
            } else {
                // A literal source: only functions that need no wildcard.
                ops.push(match f {
                    Func::None => literal_op(token),
                    Func::Random(ceiling) => Op::Random { ceiling },
                    Func::Partition(buckets, _) => Op::Partition { buckets, tokens: Box::new([]) },
                    _ => return Err(TransformError::IndexOutOfRange { token: token.to_string() }),
                });
            }
        }
        if strict && (s.pwcs > 0 || s.fwc) && placeholders < s.pwcs {
            return Err(TransformError::NotUsingAllWildcards { dest: dest.to_string() });
        }
        Ok(Some(Transform { src: src.to_string(), dest: dest.to_string(), src_tokens: s.tokens, ops }))
    }

    pub fn source(&self) -> &str {
        &self.src
    }

    pub fn destination(&self) -> &str {
        &self.dest
    }

    /// Whether the source has wildcards (a literal source matches one subject).
    pub fn source_has_wildcards(&self) -> bool {
        self.src.split('.').any(|t| t == "*" || t == ">")
    }

    /// Writes the transformed subject into `out` (cleared first). `tokens`
    /// are the published subject's, which matched the source. `random` gives
    /// a non-negative 31-bit number per call (for `random()`).
    pub fn apply(&self, tokens: &[&[u8]], out: &mut Vec<u8>, random: &mut dyn FnMut() -> u32) {
        out.clear();
        let tok = |i: usize| tokens.get(i).copied().unwrap_or_default();
        let last = self.ops.len().saturating_sub(1);
        for (i, op) in self.ops.iter().enumerate() {
            match op {
                Op::Rest => break,
                Op::Literal(t) => out.extend_from_slice(t),
                Op::Wildcard(i) => {
                    if let Some(t) = tokens.get(*i) {
                        out.extend_from_slice(t);
                    }
                }
                Op::Partition { buckets, tokens: named } => {
                    let hash = if named.is_empty() {
                        fnv1a(tokens.iter().enumerate().flat_map(|(i, t)| {
                            let sep: &[u8] = if i == 0 { b"" } else { b"." };
                            sep.iter().chain(t.iter())
                        }))
                    } else {
                        fnv1a(named.iter().flat_map(|&i| tok(i).iter()))
                    };
                    // Go: `h.Sum32() % uint32(numBuckets)`; 0 buckets is "0".
                    let bucket = if *buckets == 0 { 0 } else { hash % (*buckets as u32) };
                    push_number(out, bucket as i64);
                }
                Op::SplitFromLeft { token, at } | Op::SplitFromRight { token, at } => {
                    let t = tok(*token);
                    match inside(*at, t.len()) {
                        Some(at) => {
                            let cut = if matches!(op, Op::SplitFromLeft { .. }) { at } else { t.len() - at };
                            out.extend_from_slice(&t[..cut]);
                            out.push(b'.');
                            out.extend_from_slice(&t[cut..]);
                        }
                        None => out.extend_from_slice(t),
                    }
                }
                Op::SliceFromLeft { token, size } => slice_from_left(out, tok(*token), *size),
                Op::SliceFromRight { token, size } => slice_from_right(out, tok(*token), *size),
                Op::Split { token, by } => split(out, tok(*token), by),
                Op::Left { token, len } => {
                    let t = tok(*token);
                    out.extend_from_slice(inside(*len, t.len()).map_or(t, |n| &t[..n]));
                }
                Op::Right { token, len } => {
                    let t = tok(*token);
                    out.extend_from_slice(inside(*len, t.len()).map_or(t, |n| &t[t.len() - n..]));
                }
                Op::Random { ceiling } => {
                    // Go: `int(rand.Int31()) % ceiling`, the sign of the
                    // dividend (never negative) kept; 0 is "0".
                    let n = if *ceiling == 0 { 0 } else { (random() & 0x7fff_ffff) as i64 % ceiling };
                    push_number(out, n);
                }
            }
            if i < last {
                out.push(b'.');
            }
        }
        if matches!(self.ops.last(), Some(Op::Rest)) {
            let from = self.src_tokens.saturating_sub(1);
            for (i, t) in tokens.iter().enumerate().skip(from) {
                out.extend_from_slice(t);
                if i + 1 < tokens.len() {
                    out.push(b'.');
                }
            }
        }
    }
}

fn literal_op(token: &str) -> Op {
    if token == ">" {
        Op::Rest
    } else {
        Op::Literal(token.as_bytes().into())
    }
}

fn fnv1a<'a>(bytes: impl Iterator<Item = &'a u8>) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// `n` as a position strictly inside a token of `len` bytes: where the
/// split, slice, left and right functions act at all (else the token is
/// copied whole, as nats-server does).
fn inside(n: i32, len: usize) -> Option<usize> {
    usize::try_from(n).ok().filter(|&n| n > 0 && n < len)
}

fn push_number(out: &mut Vec<u8>, n: i64) {
    use std::io::Write;
    let _ = write!(out, "{n}");
}

/// nats-server's `SliceFromLeft`: pieces of `size` from the left, the
/// shorter remainder last.
fn slice_from_left(out: &mut Vec<u8>, t: &[u8], size: i32) {
    let Some(size) = inside(size, t.len()) else {
        out.extend_from_slice(t);
        return;
    };
    let mut i = 0;
    while i + size <= t.len() {
        if i != 0 {
            out.push(b'.');
        }
        out.extend_from_slice(&t[i..i + size]);
        if i + size != t.len() && i + 2 * size > t.len() {
            out.push(b'.');
            out.extend_from_slice(&t[i + size..]);
            break;
        }
        i += size;
    }
}

/// nats-server's `SliceFromRight`: the shorter remainder first.
fn slice_from_right(out: &mut Vec<u8>, t: &[u8], size: i32) {
    let Some(size) = inside(size, t.len()) else {
        out.extend_from_slice(t);
        return;
    };
    let rem = t.len() % size;
    if rem > 0 {
        out.extend_from_slice(&t[..rem]);
        out.push(b'.');
    }
    let mut i = rem;
    while i + size <= t.len() {
        out.extend_from_slice(&t[i..i + size]);
        if i + size < t.len() {
            out.push(b'.');
        }
        i += size;
    }
}

/// nats-server's `Split`: Go's `strings.Split`, empty pieces dropped and no
/// separator written before an empty piece or after a leading one.
fn split(out: &mut Vec<u8>, t: &[u8], by: &[u8]) {
    let pieces = go_split(t, by);
    for (j, piece) in pieces.iter().enumerate() {
        out.extend_from_slice(piece);
        if j + 1 < pieces.len() && !pieces[j + 1].is_empty() && !(j == 0 && piece.is_empty()) {
            out.push(b'.');
        }
    }
}

/// Go's `strings.Split`: an empty separator splits after each UTF-8
/// sequence (each byte of an invalid one).
fn go_split<'a>(t: &'a [u8], by: &[u8]) -> Vec<&'a [u8]> {
    if by.is_empty() {
        let mut pieces = Vec::new();
        let mut rest = t;
        while !rest.is_empty() {
            let n = match std::str::from_utf8(&rest[..rest.len().min(4)]) {
                Ok(s) => s.chars().next().map_or(1, char::len_utf8),
                Err(e) if e.valid_up_to() > 0 => std::str::from_utf8(&rest[..e.valid_up_to()])
                    .ok()
                    .and_then(|s| s.chars().next())
                    .map_or(1, char::len_utf8),
                Err(_) => 1,
            };
            pieces.push(&rest[..n]);
            rest = &rest[n..];
        }
        return pieces;
    }
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + by.len() <= t.len() {
        if &t[i..i + by.len()] == by {
            pieces.push(&t[start..i]);
            i += by.len();
            start = i;
        } else {
            i += 1;
        }
    }
    pieces.push(&t[start..]);
    pieces
}

/// nats-server's `subjectInfo`: non-empty tokens, nothing after `>`.
struct SubjectInfo {
    tokens: usize,
    pwcs: usize,
    fwc: bool,
}

impl SubjectInfo {
    fn of(subject: &str) -> Option<SubjectInfo> {
        if subject.is_empty() {
            return None;
        }
        let mut info = SubjectInfo { tokens: 0, pwcs: 0, fwc: false };
        for t in subject.split('.') {
            if t.is_empty() || info.fwc {
                return None;
            }
            info.tokens += 1;
            match t {
                ">" => info.fwc = true,
                "*" => info.pwcs += 1,
                _ => {}
            }
        }
        Some(info)
    }
}
