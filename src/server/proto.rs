//! The client protocol parser: bytes from the read buffer in, [`Op`]s out.
//!
//! Zero-copy: every `Op` borrows from the caller's buffer (subjects, sids, the
//! payload), and nothing is allocated on success. The parser is stateless: it
//! is handed whatever is buffered and either returns one complete op with the
//! number of bytes it used, or says how many bytes it needs at least. The
//! caller (the connection's read loop) keeps the unconsumed tail and reads more.
//!
//! Error behaviour follows nats-server's `parser.go`: a byte that cannot
//! continue a verb fails at once (`Unknown Protocol Operation`), the argument
//! part of a control line is limited to `max_control_line`, a payload must be
//! followed by exactly CRLF, and malformed arguments close the connection
//! without an `-ERR` (the reason goes to the log only).

use memchr::memchr;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_control_line: usize,
    pub max_payload: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Op<'a> {
    Connect(&'a [u8]),
    Pub(Publish<'a>),
    Sub {
        subject: &'a [u8],
        queue: Option<&'a [u8]>,
        sid: &'a [u8],
    },
    /// `max: None` (absent, zero or unparsable) unsubscribes at once.
    Unsub {
        sid: &'a [u8],
        max: Option<u64>,
    },
    Ping,
    Pong,
    Info,
    Ok,
    Err(&'a [u8]),
}

/// A PUB or HPUB. For HPUB, `header_len` is the size of the header block at the
/// start of `payload`.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Publish<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    pub header_len: Option<usize>,
    pub payload: &'a [u8],
}

#[derive(Debug)]
pub enum Parsed<'a> {
    /// One op and how many bytes of the buffer it used.
    Op(Op<'a>, usize),
    /// The buffer holds a prefix of an op; at least `need` bytes in total are
    /// required before it can complete.
    Incomplete { need: usize },
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Answered with `-ERR 'Unknown Protocol Operation'`, then close.
    #[error("Client parser ERROR, i={offset}: proto='{snippet}...'")]
    UnknownOp { offset: usize, snippet: String },
    /// Answered with `-ERR 'maximum control line exceeded'`, then close.
    #[error("maximum control line exceeded")]
    MaxControlLine,
    /// Answered with `-ERR 'Maximum Payload Violation'`, then close.
    #[error("maximum payload exceeded: {size} vs {max}")]
    MaxPayload { size: usize, max: usize },
    /// Closed without an `-ERR`, as the reference does; the text is logged.
    #[error("{context}: \"{args}\"")]
    BadArgs { context: &'static str, args: String },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Verb {
    Pub,
    Hpub,
    Sub,
    Unsub,
    Connect,
    Info,
    Ping,
    Pong,
    PlusOk,
    MinusErr,
}

/// How the byte after a verb is treated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    /// Must be a space or tab.
    Space,
    /// Spaces are skipped; anything else starts the argument (CONNECT, INFO).
    OptionalSpace,
    /// Everything up to the newline is ignored (PING, PONG, +OK).
    Ignore,
}

const VERBS: &[(&[u8], Verb, After)] = &[
    (b"PUB", Verb::Pub, After::Space),
    (b"HPUB", Verb::Hpub, After::Space),
    (b"SUB", Verb::Sub, After::Space),
    (b"UNSUB", Verb::Unsub, After::Space),
    (b"CONNECT", Verb::Connect, After::OptionalSpace),
    (b"INFO", Verb::Info, After::OptionalSpace),
    (b"PING", Verb::Ping, After::Ignore),
    (b"PONG", Verb::Pong, After::Ignore),
    (b"+OK", Verb::PlusOk, After::Ignore),
    (b"-ERR", Verb::MinusErr, After::Space),
];

const SNIPPET: usize = 32;

fn unknown(buf: &[u8], offset: usize) -> ParseError {
    let end = (offset + SNIPPET).min(buf.len());
    let start = offset.min(end);
    ParseError::UnknownOp { offset, snippet: format!("{:?}", String::from_utf8_lossy(&buf[start..end])) }
}

/// Identifies the verb at the start of `buf`. `Ok(None)` means the buffer is a
/// valid but incomplete prefix of some verb.
fn verb(buf: &[u8]) -> Result<Option<(Verb, After, usize)>, ParseError> {
    let mut first_mismatch = 0;
    for &(name, verb, after) in VERBS {
        let n = name.len().min(buf.len());
        let matched = buf[..n].iter().zip(name).take_while(|(a, b)| a.eq_ignore_ascii_case(b)).count();
        if matched == name.len() {
            if after == After::Space {
                match buf.get(name.len()) {
                    None => return Ok(None),
                    Some(b' ' | b'\t') => {}
                    Some(_) => return Err(unknown(buf, name.len())),
                }
            }
            return Ok(Some((verb, after, name.len())));
        }
        if matched == n {
            // Still a possible prefix; keep looking for a complete match.
            first_mismatch = usize::MAX;
        } else if first_mismatch != usize::MAX {
            first_mismatch = first_mismatch.max(matched);
        }
    }
    if first_mismatch == usize::MAX {
        Ok(None)
    } else {
        Err(unknown(buf, first_mismatch))
    }
}

/// Splits protocol arguments on runs of spaces and tabs.
struct Args<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let start = self.rest.iter().position(|&b| b != b' ' && b != b'\t')?;
        let rest = &self.rest[start..];
        let end = rest.iter().position(|&b| b == b' ' || b == b'\t').unwrap_or(rest.len());
        self.rest = &rest[end..];
        Some(&rest[..end])
    }
}

/// Collects up to 5 arguments without allocating; `None` if there are more.
fn split_args(line: &[u8]) -> Option<([&[u8]; 5], usize)> {
    let mut out: [&[u8]; 5] = [&[]; 5];
    let mut n = 0;
    for a in (Args { rest: line }) {
        if n == out.len() {
            return None;
        }
        out[n] = a;
        n += 1;
    }
    Some((out, n))
}

/// Parses a non-negative decimal size; `None` for anything else or overflow.
pub fn parse_size(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 18 {
        return None;
    }
    let mut n: usize = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (b - b'0') as usize;
    }
    Some(n)
}

fn bad(context: &'static str, args: &[u8]) -> ParseError {
    ParseError::BadArgs { context, args: String::from_utf8_lossy(args).into_owned() }
}

/// Parses one op from the start of `buf`.
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, ParseError> {
    let Some((verb, after, verb_len)) = verb(buf)? else {
        return Ok(Parsed::Incomplete { need: buf.len() + 1 });
    };
    let Some(nl) = memchr(b'\n', &buf[verb_len..]).map(|i| i + verb_len) else {
        // Stop buffering a control line that can never be valid.
        if buf.len() - verb_len > limits.max_control_line + 1 && after != After::Ignore {
            return Err(ParseError::MaxControlLine);
        }
        if after == After::Ignore && buf.len() > limits.max_control_line + verb_len + 2 {
            return Err(ParseError::MaxControlLine);
        }
        return Ok(Parsed::Incomplete { need: buf.len() + 1 });
    };
    let line_end = if nl > 0 && buf[nl - 1] == b'\r' { nl - 1 } else { nl };
    let args = if verb_len <= line_end { &buf[verb_len..line_end] } else { &[][..] };
    let consumed = nl + 1;
    if after != After::Ignore {
        // The reference measures the argument without its leading spaces.
        let trimmed = args.iter().position(|&b| b != b' ' && b != b'\t').map_or(&[][..], |i| &args[i..]);
        if trimmed.len() > limits.max_control_line {
            return Err(ParseError::MaxControlLine);
        }
    }
    let op = match verb {
        Verb::Ping => Op::Ping,
        Verb::Pong => Op::Pong,
        Verb::PlusOk => Op::Ok,
        Verb::Info => Op::Info,
        Verb::Connect => Op::Connect(trim_start(args)),
        Verb::MinusErr => Op::Err(trim_start(args)),
        Verb::Sub => {
            let (a, n) = split_args(args).ok_or_else(|| bad("processSub Parse Error", trim_start(args)))?;
            match n {
                2 => Op::Sub { subject: a[0], queue: None, sid: a[1] },
                3 => Op::Sub { subject: a[0], queue: Some(a[1]), sid: a[2] },
                _ => return Err(bad("processSub Parse Error", trim_start(args))),
            }
        }
        Verb::Unsub => {
            let (a, n) = split_args(args).ok_or_else(|| bad("processUnsub Parse Error", trim_start(args)))?;
            match n {
                1 => Op::Unsub { sid: a[0], max: None },
                2 => Op::Unsub { sid: a[0], max: parse_size(a[1]).map(|m| m as u64).filter(|&m| m > 0) },
                _ => return Err(bad("processUnsub Parse Error", trim_start(args))),
            }
        }
        Verb::Pub | Verb::Hpub => {
            let context = if verb == Verb::Pub { "processPub Parse Error" } else { "processHeaderPub Parse Error" };
            let (a, n) = split_args(args).ok_or_else(|| bad(context, trim_start(args)))?;
            let (subject, reply, sizes): (&[u8], Option<&[u8]>, &[&[u8]]) = match (verb, n) {
                (Verb::Pub, 2) => (a[0], None, &a[1..2]),
                (Verb::Pub, 3) => (a[0], Some(a[1]), &a[2..3]),
                (Verb::Hpub, 3) => (a[0], None, &a[1..3]),
                (Verb::Hpub, 4) => (a[0], Some(a[1]), &a[2..4]),
                _ => return Err(bad(context, trim_start(args))),
            };
            let (header_len, size) = if verb == Verb::Pub {
                let size =
                    parse_size(sizes[0]).ok_or_else(|| bad("processPub Bad or Missing Size", trim_start(args)))?;
                (None, size)
            } else {
                let hdr = parse_size(sizes[0])
                    .ok_or_else(|| bad("processHeaderPub Bad or Missing Header Size", trim_start(args)))?;
                let total = parse_size(sizes[1])
                    .ok_or_else(|| bad("processHeaderPub Bad or Missing Total Size", trim_start(args)))?;
                if hdr > total {
                    return Err(bad("processHeaderPub Header Size larger then TotalSize", trim_start(args)));
                }
                (Some(hdr), total)
            };
            if size > limits.max_payload {
                return Err(ParseError::MaxPayload { size, max: limits.max_payload });
            }
            let start = consumed;
            let end = start + size;
            if buf.len() < end + 2 {
                // A payload may not run past its declared size into the next op.
                if let Some(extra) = buf.len().checked_sub(end) {
                    if extra >= 1 && buf[end] != b'\r' {
                        return Err(unknown(buf, end));
                    }
                }
                return Ok(Parsed::Incomplete { need: end + 2 });
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(unknown(buf, end));
            }
            let publish = Publish { subject, reply, header_len, payload: &buf[start..end] };
            return Ok(Parsed::Op(Op::Pub(publish), end + 2));
        }
    };
    Ok(Parsed::Op(op, consumed))
}

fn trim_start(s: &[u8]) -> &[u8] {
    let i = s.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(s.len());
    &s[i..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const L: Limits = Limits { max_control_line: 4096, max_payload: 1024 * 1024 };

    fn one(input: &[u8]) -> Op<'_> {
        match parse(input, &L).expect("parse") {
            Parsed::Op(op, n) => {
                assert_eq!(n, input.len(), "whole input used");
                op
            }
            Parsed::Incomplete { .. } => panic!("incomplete: {:?}", String::from_utf8_lossy(input)),
        }
    }

    fn err(input: &[u8]) -> ParseError {
        parse(input, &L).expect_err("should fail")
    }

    #[test]
    fn ops() {
        assert_eq!(one(b"PING\r\n"), Op::Ping);
        assert_eq!(one(b"ping\n"), Op::Ping);
        assert_eq!(one(b"PINGX\r\n"), Op::Ping, "the reference ignores the rest of a PING line");
        assert_eq!(one(b"PONG\r\n"), Op::Pong);
        assert_eq!(one(b"+OK\r\n"), Op::Ok);
        assert_eq!(one(b"INFO {}\r\n"), Op::Info);
        assert_eq!(one(b"CONNECT {\"verbose\":false}\r\n"), Op::Connect(b"{\"verbose\":false}"));
        assert_eq!(one(b"-ERR 'x'\r\n"), Op::Err(b"'x'"));
        assert_eq!(one(b"SUB foo 1\r\n"), Op::Sub { subject: b"foo", queue: None, sid: b"1" });
        assert_eq!(one(b"sub\tfoo\t q  1\n"), Op::Sub { subject: b"foo", queue: Some(b"q"), sid: b"1" });
        assert_eq!(one(b"UNSUB 1\r\n"), Op::Unsub { sid: b"1", max: None });
        assert_eq!(one(b"UNSUB 1 5\r\n"), Op::Unsub { sid: b"1", max: Some(5) });
        assert_eq!(one(b"UNSUB 1 x\r\n"), Op::Unsub { sid: b"1", max: None });
        assert_eq!(
            one(b"PUB foo 5\r\nhello\r\n"),
            Op::Pub(Publish { subject: b"foo", reply: None, header_len: None, payload: b"hello" })
        );
        assert_eq!(
            one(b"PUB foo r 0\r\n\r\n"),
            Op::Pub(Publish { subject: b"foo", reply: Some(b"r"), header_len: None, payload: b"" })
        );
        assert_eq!(
            one(b"HPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
            Op::Pub(Publish {
                subject: b"foo",
                reply: Some(b"r"),
                header_len: Some(12),
                payload: b"NATS/1.0\r\n\r\nhi"
            })
        );
    }

    #[test]
    fn incomplete() {
        for partial in [
            &b"P"[..],
            b"PU",
            b"PUB",
            b"PUB foo",
            b"PUB foo 5\r\nhel",
            b"PUB foo 5\r\nhello",
            b"PUB foo 5\r\nhello\r",
            b"CONNECT {",
        ] {
            assert!(matches!(parse(partial, &L), Ok(Parsed::Incomplete { .. })), "{partial:?}");
        }
        match parse(b"PUB foo 5000\r\nabc", &L) {
            Ok(Parsed::Incomplete { need }) => assert_eq!(need, 14 + 5000 + 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors() {
        assert!(matches!(err(b"FOO\r\n"), ParseError::UnknownOp { offset: 0, .. }));
        assert!(matches!(err(b"PUX foo\r\n"), ParseError::UnknownOp { offset: 2, .. }));
        assert!(matches!(err(b"X"), ParseError::UnknownOp { .. }), "fails before the newline arrives");
        assert!(matches!(err(b"MSG foo 1 1\r\n"), ParseError::UnknownOp { .. }));
        assert!(matches!(err(b"PUB\r\n"), ParseError::UnknownOp { .. }));
        assert!(matches!(err(b"PUB foo 3\r\nhello\r\n"), ParseError::UnknownOp { .. }));
        assert!(matches!(err(b"PUB foo 1\r\nz\nPING\r\n"), ParseError::UnknownOp { .. }));
        assert!(matches!(err(b"PUB foo 2\r\nab\rX"), ParseError::UnknownOp { .. }));
        assert!(matches!(err(b"PUB foo 3\r\nhello"), ParseError::UnknownOp { .. }), "payload longer than declared");
        assert_eq!(err(b"PUB foo 2000000\r\n"), ParseError::MaxPayload { size: 2_000_000, max: 1024 * 1024 });
        assert!(matches!(err(b"PUB foo\r\n"), ParseError::BadArgs { context: "processPub Parse Error", .. }));
        assert!(matches!(
            err(b"PUB foo -1\r\n"),
            ParseError::BadArgs { context: "processPub Bad or Missing Size", .. }
        ));
        assert!(matches!(err(b"PUB foo x\r\n"), ParseError::BadArgs { .. }));
        assert!(matches!(err(b"PUB a b c d\r\n"), ParseError::BadArgs { .. }));
        assert!(matches!(err(b"HPUB a 5 3\r\n"), ParseError::BadArgs { .. }));
        assert!(matches!(err(b"SUB foo\r\n"), ParseError::BadArgs { context: "processSub Parse Error", .. }));
        assert!(matches!(err(b"SUB a b c d\r\n"), ParseError::BadArgs { .. }));
        assert!(matches!(err(b"UNSUB\r\n"), ParseError::UnknownOp { .. }));
        assert!(matches!(err(b"UNSUB 1 2 3\r\n"), ParseError::BadArgs { .. }));
        let long = [b"SUB ".as_slice(), &[b'a'; 5000], b" 1\r\n"].concat();
        assert_eq!(err(&long), ParseError::MaxControlLine);
        let unterminated = [b"SUB ".as_slice(), &[b'a'; 5000]].concat();
        assert_eq!(err(&unterminated), ParseError::MaxControlLine, "detected before the newline");
    }

    fn ops_of(mut input: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(Parsed::Op(op, n)) = parse(input, &L) {
            out.push(format!("{op:?}"));
            input = &input[n..];
        }
        out
    }

    proptest! {
        /// Feeding a stream in arbitrary chunks gives the same ops as all at once.
        #[test]
        fn split_invariance(cuts in prop::collection::vec(0usize..120, 0..8)) {
            let stream: &[u8] = b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo r 5\r\nhello\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\nUNSUB 1 3\r\n";
            let whole = ops_of(stream);
            let mut got = Vec::new();
            let mut buffered: Vec<u8> = Vec::new();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(stream.len())).collect();
            cuts.push(stream.len());
            cuts.sort();
            let mut prev = 0;
            for c in cuts {
                buffered.extend_from_slice(&stream[prev..c]);
                prev = c;
                loop {
                    match parse(&buffered, &L) {
                        Ok(Parsed::Op(op, n)) => { got.push(format!("{op:?}")); buffered.drain(..n); }
                        Ok(Parsed::Incomplete { .. }) => break,
                        Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
                    }
                }
            }
            prop_assert_eq!(got, whole);
        }

        /// Arbitrary bytes never panic the parser.
        #[test]
        fn never_panics(input in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&input, &L);
        }
    }
}
