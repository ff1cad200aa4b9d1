//! The client protocol parser: bytes from the read buffer in, [`Op`]s out.
//!
//! Zero-copy: every `Op` borrows from the caller's buffer (subjects, sids, the
//! payload), and nothing is allocated on success. The parser is stateless: it
//! is handed whatever is buffered and either returns one complete op with the
//! number of bytes it used, or says how many bytes it needs at least. The
//! caller (the connection's read loop) keeps the unconsumed tail and reads more.
//!
//! It reproduces nats-server's `parser.go` byte for byte, quirks included
//! (the rules are written down, with reproducers, in the project's
//! protocol-rules notes):
//!
//! - A verb is matched one byte at a time, in any case, and a byte that cannot
//!   continue it fails at once (`Unknown Protocol Operation`). `MSG`, `RS+`,
//!   `A+`, `LS+` are server verbs and fail on their first byte; `HMSG` is
//!   read (see `Verb::Hmsg`).
//! - After the verb and its blanks, the next byte starts the argument even
//!   when it is a CR or an LF, and the line then ends at the next LF: so
//!   `SUB \nfoo 1\n` subscribes to `foo`, and `CONNECT\r\n` has the argument
//!   `"\r"`. `PING`, `PONG` and `+OK` ignore everything up to their LF.
//! - A CR anywhere in the argument makes the parser drop the byte before the
//!   LF, whatever it is (`SUB foo\r 12\n` subscribes with sid `1`).
//! - PUB and HPUB split arguments on spaces and tabs; SUB and UNSUB also on
//!   CR and LF. Sizes are at most 9 decimal digits (a longer one is a bad
//!   size, not a payload violation).
//! - The argument is limited to `max_control_line`, checked on the complete
//!   line and on what has arrived of an unfinished one.
//! - CONNECT and INFO arguments must decode as Go decodes JSON into
//!   nats-server's `ClientOpts` and `Info` (see `info::check_connect`).
//! - A payload must be followed by exactly CRLF.
//! - Malformed arguments close the connection without an `-ERR` (the reason
//!   goes to the log only). So does an HPUB from a connection that did not
//!   ask for headers, as soon as its control line is complete.
//! - A PUB or HPUB whose control line is complete but whose payload is not
//!   is reported as such ([`Parsed::AwaitingPayload`]): nats-server runs the
//!   control line's checks (the pedantic subject check) before the payload
//!   arrives.

use memchr::memchr;

use super::info::{check_connect, check_info};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_control_line: usize,
    pub max_payload: usize,
    /// Whether HPUB is accepted: the client said `headers:true` and the
    /// server supports headers. Without it an HPUB closes the connection.
    pub headers: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Op<'a> {
    Connect(&'a [u8]),
    /// A PUB or HPUB. Also what an `HMSG` line from a client amounts to in
    /// nats-server: a message with an empty subject and no payload.
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
/// start of `payload`; an HPUB with a header size of 0 is a message without
/// headers (nats-server delivers it as a plain `MSG`), so it has `None`.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Publish<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    pub header_len: Option<usize>,
    pub payload: &'a [u8],
    /// The total size as the publisher wrote it (`007` stays `007`):
    /// deliveries repeat these digits, as nats-server's do.
    pub size_text: &'a [u8],
    /// The header size as written, when `header_len` is `Some`.
    pub header_text: &'a [u8],
}

#[derive(Debug)]
pub enum Parsed<'a> {
    /// One op and how many bytes of the buffer it used.
    Op(Op<'a>, usize),
    /// The buffer holds a prefix of an op; at least `need` bytes in total are
    /// required before it can complete.
    Incomplete { need: usize },
    /// The buffer holds the complete (and valid) control line of a PUB or
    /// HPUB to `subject`, and part of its payload; `need` bytes in total
    /// complete it. The control line's own checks are due now.
    AwaitingPayload { subject: &'a [u8], need: usize },
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Answered with `-ERR 'Unknown Protocol Operation'`, then close.
    /// `pub_subject`: the failure is in the payload of a PUB or HPUB to this
    /// subject whose control line was complete, so that line's checks come
    /// first.
    #[error("Client parser ERROR, i={offset}: proto='{snippet}...'")]
    UnknownOp { offset: usize, snippet: String, pub_subject: Option<Box<[u8]>> },
    /// Answered with `-ERR 'maximum control line exceeded'`, then close.
    #[error("maximum control line exceeded")]
    MaxControlLine,
    /// Answered with `-ERR 'Maximum Payload Violation'`, then close.
    #[error("maximum payload exceeded: {size} vs {max}")]
    MaxPayload { size: usize, max: usize },
    /// Closed without an `-ERR`, as the reference does; the text is logged.
    #[error("{context}: \"{args}\"")]
    BadArgs { context: &'static str, args: String },
    /// An HPUB from a connection without headers: closed without an `-ERR`.
    #[error("message headers not supported")]
    HeadersNotSupported,
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
    /// nats-server parses `HMSG <anything>` from a client, then looks for the
    /// CRLF ending an empty payload in the same read, and handles it as a
    /// message with an empty subject: `+OK` when verbose, delivered to nobody.
    /// Anything else after the line, or the read ending first, fails.
    Hmsg,
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
    (b"HMSG", Verb::Hmsg, After::Space),
];

/// How much an op may buffer before its argument starts (blanks after the
/// verb, or the rest of a PING line). nats-server streams those bytes away
/// without a limit; a stateless parser has to hold them, so it bounds them.
const MAX_UNTERMINATED: usize = 64 * 1024;

const SNIPPET: usize = 32;

fn unknown(buf: &[u8], offset: usize) -> ParseError {
    let end = (offset + SNIPPET).min(buf.len());
    let start = offset.min(end);
    ParseError::UnknownOp {
        offset,
        snippet: format!("{:?}", String::from_utf8_lossy(&buf[start..end])),
        pub_subject: None,
    }
}

/// A failure in the payload of a PUB or HPUB to `subject`.
fn bad_payload(buf: &[u8], offset: usize, subject: &[u8]) -> ParseError {
    match unknown(buf, offset) {
        ParseError::UnknownOp { offset, snippet, .. } => {
            ParseError::UnknownOp { offset, snippet, pub_subject: Some(subject.into()) }
        }
        other => other,
    }
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

/// Whether `b` separates protocol arguments: spaces and tabs, and with
/// `crlf` (SUB, UNSUB) also CR and LF.
fn is_arg_sep(b: u8, crlf: bool) -> bool {
    b == b' ' || b == b'\t' || (crlf && (b == b'\r' || b == b'\n'))
}

/// Splits arguments on runs of separators, collecting up to 5 without
/// allocating; `None` if there are more. One pass over the bytes.
fn split_args(line: &[u8], crlf: bool) -> Option<([&[u8]; 5], usize)> {
    let mut out: [&[u8]; 5] = [&[]; 5];
    let mut n = 0;
    let mut start = None;
    for (i, &b) in line.iter().enumerate() {
        match (is_arg_sep(b, crlf), start) {
            (true, Some(s)) => {
                *out.get_mut(n)? = &line[s..i];
                n += 1;
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        *out.get_mut(n)? = &line[s..];
        n += 1;
    }
    Some((out, n))
}

/// Parses a size as nats-server does: 1 to 9 decimal digits, nothing else.
pub fn parse_size(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 9 {
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

/// Parses one op from the start of `buf`, as if it had arrived in one read.
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, ParseError> {
    parse_split(buf, limits, None)
}

/// Where the first read that ended inside the op's argument ended (`at`,
/// an offset into the op), and a scratch buffer in which to assemble the
/// argument as the reference holds it when that line has a CR in it.
pub struct Cut<'s> {
    pub at: usize,
    pub scratch: &'s mut Vec<u8>,
}

/// Where the argument of the op at the start of `buf` starts, once that
/// many bytes have arrived (the caller's test for whether a read ended
/// inside the argument: see [`Cut`]).
pub fn arg_start(buf: &[u8]) -> Option<usize> {
    let (_, after, verb_len) = verb(buf).ok()??;
    if after == After::Ignore {
        return None;
    }
    buf[verb_len..].iter().position(|&b| b != b' ' && b != b'\t').map(|i| i + verb_len)
}

/// The argument as nats-server's parser keeps it when a read ended inside
/// it, at `at`: what it had then, less the last byte if a CR had been seen,
/// then every later byte that is not a CR (its `argBuf`). `end` is the LF,
/// or the end of what has arrived.
fn split_arg_len(line: &[u8], arg_start: usize, at: usize, end: usize) -> usize {
    let dropped = usize::from(line[arg_start + 1..at].contains(&b'\r'));
    at - arg_start - dropped + line[at..end].iter().filter(|&&b| b != b'\r').count()
}

/// [`parse`], for an op some of whose bytes came in an earlier read. The
/// reference assembles the argument of a control line cut by a read end
/// differently from an uncut one when a CR is in it (see
/// [`split_arg_len`]); `cut` says where the cut was.
pub fn parse_split<'a>(buf: &'a [u8], limits: &Limits, cut: Option<Cut<'a>>) -> Result<Parsed<'a>, ParseError> {
    let Some((verb, after, verb_len)) = verb(buf)? else {
        return Ok(Parsed::Incomplete { need: buf.len() + 1 });
    };
    let incomplete = Ok(Parsed::Incomplete { need: buf.len() + 1 });
    if after == After::Ignore {
        let Some(nl) = memchr(b'\n', &buf[verb_len..]) else {
            return if buf.len() > verb_len + MAX_UNTERMINATED { Err(ParseError::MaxControlLine) } else { incomplete };
        };
        let op = match verb {
            Verb::Ping => Op::Ping,
            Verb::Pong => Op::Pong,
            _ => Op::Ok,
        };
        return Ok(Parsed::Op(op, verb_len + nl + 1));
    }
    // The argument starts at the first byte that is not a blank, whatever it
    // is: a CR or LF there is part of the argument, not its end.
    let Some(arg_start) = buf[verb_len..].iter().position(|&b| b != b' ' && b != b'\t').map(|i| i + verb_len) else {
        return if buf.len() > verb_len + MAX_UNTERMINATED { Err(ParseError::MaxControlLine) } else { incomplete };
    };
    let Some(nl) = memchr(b'\n', &buf[arg_start + 1..]).map(|i| i + arg_start + 1) else {
        // The reference checks what it holds of an unfinished argument at the
        // end of every read; the same CR rule applies.
        let held = match &cut {
            Some(c) if c.at > arg_start && c.at <= buf.len() => split_arg_len(buf, arg_start, c.at, buf.len()),
            _ => buf.len() - arg_start - usize::from(buf[arg_start + 1..].contains(&b'\r')),
        };
        if held > limits.max_control_line {
            return Err(ParseError::MaxControlLine);
        }
        return incomplete;
    };
    // A CR anywhere after the first byte of the argument drops the byte
    // before the LF (normally that CR itself).
    // The byte before the LF first: a CRLF-terminated line (nearly every
    // one) is settled without a scan, which cost a tenth of a PUB's parse.
    let cr = (nl - 1 > arg_start && buf[nl - 1] == b'\r') || buf[arg_start + 1..nl].contains(&b'\r');
    let args: &'a [u8] = match cut {
        // Cut by a read end, with a CR in it: rare enough to copy.
        Some(Cut { at, scratch }) if cr && at > arg_start && at <= nl => {
            let dropped = usize::from(buf[arg_start + 1..at].contains(&b'\r'));
            scratch.clear();
            scratch.extend_from_slice(&buf[arg_start..at - dropped]);
            scratch.extend(buf[at..nl].iter().filter(|&&b| b != b'\r'));
            debug_assert_eq!(scratch.len(), split_arg_len(buf, arg_start, at, nl));
            &scratch[..]
        }
        _ => &buf[arg_start..nl - usize::from(cr)],
    };
    if args.len() > limits.max_control_line {
        return Err(ParseError::MaxControlLine);
    }
    let consumed = nl + 1;
    let op = match verb {
        Verb::Ping | Verb::Pong | Verb::PlusOk => unreachable!("handled above"),
        Verb::Info => {
            check_info(args).map_err(|e| bad("processInfo", e.as_bytes()))?;
            Op::Info
        }
        Verb::Connect => {
            check_connect(args).map_err(|e| bad("processConnect", e.as_bytes()))?;
            Op::Connect(args)
        }
        Verb::MinusErr => Op::Err(args),
        Verb::Hmsg => {
            // The empty payload's CRLF must be in this read.
            if buf.len() < consumed + 2 || &buf[consumed..consumed + 2] != b"\r\n" {
                let at = if buf.get(consumed) == Some(&b'\r') { consumed + 1 } else { consumed };
                return Err(unknown(buf, at));
            }
            let publish = Publish {
                subject: b"",
                reply: None,
                header_len: None,
                payload: b"",
                size_text: b"0",
                header_text: b"",
            };
            return Ok(Parsed::Op(Op::Pub(publish), consumed + 2));
        }
        Verb::Sub => {
            let (a, n) = split_args(args, true).ok_or_else(|| bad("processSub Parse Error", args))?;
            match n {
                2 => Op::Sub { subject: a[0], queue: None, sid: a[1] },
                3 => Op::Sub { subject: a[0], queue: Some(a[1]), sid: a[2] },
                _ => return Err(bad("processSub Parse Error", args)),
            }
        }
        Verb::Unsub => {
            let (a, n) = split_args(args, true).ok_or_else(|| bad("processUnsub Parse Error", args))?;
            match n {
                1 => Op::Unsub { sid: a[0], max: None },
                2 => Op::Unsub { sid: a[0], max: parse_size(a[1]).map(|m| m as u64).filter(|&m| m > 0) },
                _ => return Err(bad("processUnsub Parse Error", args)),
            }
        }
        Verb::Pub | Verb::Hpub => {
            if verb == Verb::Hpub && !limits.headers {
                // Refused before its arguments are looked at.
                return Err(ParseError::HeadersNotSupported);
            }
            let context = if verb == Verb::Pub { "processPub Parse Error" } else { "processHeaderPub Parse Error" };
            let (a, n) = split_args(args, false).ok_or_else(|| bad(context, args))?;
            let (subject, reply, sizes): (&[u8], Option<&[u8]>, &[&[u8]]) = match (verb, n) {
                (Verb::Pub, 2) => (a[0], None, &a[1..2]),
                (Verb::Pub, 3) => (a[0], Some(a[1]), &a[2..3]),
                (Verb::Hpub, 3) => (a[0], None, &a[1..3]),
                (Verb::Hpub, 4) => (a[0], Some(a[1]), &a[2..4]),
                _ => return Err(bad(context, args)),
            };
            let (header_len, header_text, size, size_text) = if verb == Verb::Pub {
                let size = parse_size(sizes[0]).ok_or_else(|| bad("processPub Bad or Missing Size", args))?;
                (None, &b""[..], size, sizes[0])
            } else {
                let hdr =
                    parse_size(sizes[0]).ok_or_else(|| bad("processHeaderPub Bad or Missing Header Size", args))?;
                let total =
                    parse_size(sizes[1]).ok_or_else(|| bad("processHeaderPub Bad or Missing Total Size", args))?;
                if hdr > total {
                    return Err(bad("processHeaderPub Header Size larger then TotalSize", args));
                }
                ((hdr > 0).then_some(hdr), sizes[0], total, sizes[1])
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
                        return Err(bad_payload(buf, end, subject));
                    }
                }
                return Ok(Parsed::AwaitingPayload { subject, need: end + 2 });
            }
            if &buf[end..end + 2] != b"\r\n" {
                let at = if buf[end] == b'\r' { end + 1 } else { end };
                return Err(bad_payload(buf, at, subject));
            }
            let publish = Publish { subject, reply, header_len, payload: &buf[start..end], size_text, header_text };
            return Ok(Parsed::Op(Op::Pub(publish), end + 2));
        }
    };
    Ok(Parsed::Op(op, consumed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const L: Limits = Limits { max_control_line: 4096, max_payload: 1024 * 1024, headers: true };

    fn one(input: &[u8]) -> Op<'_> {
        match parse(input, &L).expect("parse") {
            Parsed::Op(op, n) => {
                assert_eq!(n, input.len(), "whole input used");
                op
            }
            other => panic!("incomplete: {:?} {other:?}", String::from_utf8_lossy(input)),
        }
    }

    /// A PUB or HPUB as the parser yields it, sizes written plainly.
    fn publish<'a>(subject: &'a [u8], reply: Option<&'a [u8]>, header_len: Option<usize>, payload: &'a [u8]) -> Op<'a> {
        let text = |n: usize| -> &'static [u8] {
            match n {
                0 => b"0",
                1 => b"1",
                5 => b"5",
                12 => b"12",
                14 => b"14",
                _ => panic!("add {n} to the test's sizes"),
            }
        };
        Op::Pub(Publish {
            subject,
            reply,
            header_len,
            payload,
            size_text: text(payload.len()),
            header_text: header_len.map_or(&b""[..], text),
        })
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
        assert_eq!(one(b"PUB foo 5\r\nhello\r\n"), publish(b"foo", None, None, b"hello"));
        assert_eq!(one(b"PUB foo r 0\r\n\r\n"), publish(b"foo", Some(b"r"), None, b""));
        assert_eq!(
            one(b"HPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
            publish(b"foo", Some(b"r"), Some(12), b"NATS/1.0\r\n\r\nhi")
        );
    }

    #[test]
    fn incomplete() {
        for partial in [&b"P"[..], b"PU", b"PUB", b"PUB foo", b"PUB foo 5\r", b"CONNECT {"] {
            assert!(matches!(parse(partial, &L), Ok(Parsed::Incomplete { .. })), "{partial:?}");
        }
        // A complete control line is reported, for its checks.
        for partial in [&b"PUB foo 5\r\n"[..], b"PUB foo 5\r\nhel", b"PUB foo 5\r\nhello", b"PUB foo 5\r\nhello\r"] {
            assert!(matches!(parse(partial, &L), Ok(Parsed::AwaitingPayload { subject: b"foo", .. })), "{partial:?}");
        }
        match parse(b"PUB foo 5000\r\nabc", &L) {
            Ok(Parsed::AwaitingPayload { need, .. }) => assert_eq!(need, 14 + 5000 + 2),
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
        // A bad payload names the subject whose control line was complete.
        match err(b"PUB a.* 1\r\nxx\r\n") {
            ParseError::UnknownOp { pub_subject: Some(s), .. } => assert_eq!(&*s, b"a.*"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(err(b"FOO\r\n"), ParseError::UnknownOp { pub_subject: None, .. }));
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

    /// nats-server's quirks, each checked against the reference binary.
    #[test]
    fn reference_quirks() {
        // The argument starts at the first non-blank byte, even a CR or LF.
        assert_eq!(one(b"SUB \nfoo 1\n"), Op::Sub { subject: b"foo", queue: None, sid: b"1" });
        assert_eq!(one(b"CONNECT\n{}\n"), Op::Connect(b"\n{}"));
        assert!(matches!(err(b"CONNECT\r\n"), ParseError::BadArgs { .. }), "the argument is a lone CR");
        assert!(matches!(parse(b"CONNECT\n", &L), Ok(Parsed::Incomplete { .. })), "the LF starts the argument");
        // A CR inside the argument drops the byte before the LF.
        assert_eq!(one(b"SUB foo\r 12\n"), Op::Sub { subject: b"foo", queue: None, sid: b"1" });
        assert!(matches!(err(b"PUB foo 1\r\r\nx\r\n"), ParseError::BadArgs { .. }), "size `1\\r`");
        assert_eq!(one(b"PUB a\rb 1 \r\nx\r\n"), publish(b"a\rb", None, None, b"x"));
        // Sizes have at most 9 digits.
        assert!(matches!(err(b"PUB foo 1234567890\r\n"), ParseError::BadArgs { .. }));
        assert!(matches!(err(b"PUB foo 999999999\r\n"), ParseError::MaxPayload { .. }));
        assert_eq!(one(b"UNSUB 1 1234567890\r\n"), Op::Unsub { sid: b"1", max: None });
        assert_eq!(one(b"UNSUB 1 007\r\n"), Op::Unsub { sid: b"1", max: Some(7) });
        // CONNECT and INFO decode as Go decodes them.
        assert_eq!(one(b"CONNECT null\r\n"), Op::Connect(b"null"));
        assert_eq!(one(b"connect\t\t{\"VERBOSE\":false}\n"), Op::Connect(b"{\"VERBOSE\":false}"));
        for bad_json in [&b"CONNECT []\r\n"[..], b"CONNECT {\"protocol\":\"1\"}\r\n", b"CONNECT {}x\r\n"] {
            assert!(matches!(err(bad_json), ParseError::BadArgs { .. }), "{:?}", String::from_utf8_lossy(bad_json));
        }
        assert_eq!(one(b"INFO null\r\n"), Op::Info);
        assert!(matches!(err(b"INFO garbage\r\n"), ParseError::BadArgs { .. }));
        assert!(matches!(err(b"INFO\r\n"), ParseError::BadArgs { .. }));
        assert!(matches!(err(b"INFO {\"port\":\"x\"}\r\n"), ParseError::BadArgs { .. }));
        // HMSG from a client: an empty message, whose CRLF must be there already.
        let empty = publish(b"", None, None, b"");
        assert_eq!(one(b"HMSG a 1 2 3\r\n\r\n"), empty);
        assert_eq!(one(b"hmsg\tx\n\r\n"), empty);
        for cut in [&b"HMSG a\r\n"[..], b"HMSG a\r\n\r", b"HMSG a\r\nxy"] {
            assert!(matches!(err(cut), ParseError::UnknownOp { .. }), "{:?}", String::from_utf8_lossy(cut));
        }
        assert!(matches!(err(b"HMSGX"), ParseError::UnknownOp { offset: 4, .. }));
        // The unfinished-argument check counts from the argument, less a CR.
        let spaces_then_arg = [b"SUB".as_slice(), &[b' '; 5000], b"foo 1\r\n"].concat();
        assert!(matches!(parse(&spaces_then_arg, &L), Ok(Parsed::Op(Op::Sub { .. }, _))));
        let long_ping = [b"PING".as_slice(), &[b'x'; 5000], b"\r\n"].concat();
        assert!(matches!(parse(&long_ping, &L), Ok(Parsed::Op(Op::Ping, _))));
        let at_limit = [b"SUB ".as_slice(), &[b'a'; 4096], b"\r"].concat();
        assert!(matches!(parse(&at_limit, &L), Ok(Parsed::Incomplete { .. })));
        // Sizes are kept as written; a header size of 0 means no headers.
        match one(b"PUB a 007\r\nabcdefg\r\n") {
            Op::Pub(p) => assert_eq!((p.size_text, p.payload.len()), (&b"007"[..], 7)),
            other => panic!("{other:?}"),
        }
        match one(b"HPUB a 01 002\r\nxy\r\n") {
            Op::Pub(p) => assert_eq!((p.header_len, p.header_text, p.size_text), (Some(1), &b"01"[..], &b"002"[..])),
            other => panic!("{other:?}"),
        }
        match one(b"HPUB a 0 1\r\nx\r\n") {
            Op::Pub(p) => assert_eq!((p.header_len, p.size_text), (None, &b"1"[..])),
            other => panic!("{other:?}"),
        }
        // Without headers an HPUB is refused on its control line, before
        // anything else about it (its size, its payload) is looked at.
        let no_headers = Limits { headers: false, ..L };
        for hpub in [&b"HPUB a 1 2000000\r\n"[..], b"HPUB a 1 2\r\n", b"HPUB x\r\n"] {
            assert_eq!(parse(hpub, &no_headers).unwrap_err(), ParseError::HeadersNotSupported);
        }
        assert!(matches!(parse(b"HPUB a 1 2", &no_headers), Ok(Parsed::Incomplete { .. })));
    }

    fn ops_of(mut input: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(Parsed::Op(op, n)) = parse(input, &L) {
            out.push(format!("{op:?}"));
            input = &input[n..];
        }
        out
    }

    /// What the reference makes of a control line a read cut in two: what it
    /// held at the cut less the last byte if a CR was in it, then the later
    /// bytes without their CRs.
    #[test]
    fn control_line_cut_by_a_read() {
        let split = |line: &'static [u8], at: usize| -> Result<String, String> {
            let mut scratch = Vec::new();
            match parse_split(line, &L, Some(Cut { at, scratch: &mut scratch })) {
                Ok(Parsed::Op(op, _)) => Ok(format!("{op:?}")),
                Ok(other) => Ok(format!("{other:?}")),
                Err(e) => Err(e.to_string()),
            }
        };
        let uncut = |line: &'static [u8]| split(line, line.len() + 1);
        // The stray CR: uncut, the total size is `4\r`; cut before or after
        // the first CR, it is `4` and the payload is awaited.
        let hpub = b"HPUB foo*.bar\t\t4  4\r\r\n";
        assert!(uncut(hpub).is_err());
        for at in [hpub.len() - 3, hpub.len() - 2] {
            let got = split(hpub, at).expect("valid once cut");
            assert!(got.starts_with("AwaitingPayload"), "cut at {at}: {got}");
        }
        assert!(split(hpub, hpub.len() - 1).is_err(), "both CRs before the cut: `4\\r` again");
        // A CR before the cut drops the byte before the cut, not the LF's.
        let sub = b"SUB a\rb 12\n";
        let queue = Some(&b"b"[..]);
        assert_eq!(uncut(sub), Ok(format!("{:?}", Op::Sub { subject: b"a", queue, sid: b"1" })));
        assert_eq!(split(sub, 9), Ok(format!("{:?}", Op::Sub { subject: b"a", queue, sid: b"2" })));
        // No CR: the cut changes nothing, and no copy is made.
        assert_eq!(split(b"SUB a 12\n", 7), uncut(b"SUB a 12\n"));
        // The control-line limit counts what the reference holds.
        let long = [&b"SUB "[..], &[b'a'; 4095], b"\r\r\r\r"].concat();
        let long: &'static [u8] = Box::leak(long.into_boxed_slice());
        assert_eq!(split(long, 4099).map(|s| s.starts_with("Incomplete")), Ok(true));
        assert!(split(&long[..4098], 4097).is_ok(), "4094 bytes held");
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
            let (mut split_at, mut scratch) = (None, Vec::new());
            for c in cuts {
                buffered.extend_from_slice(&stream[prev..c]);
                prev = c;
                let mut first = true;
                loop {
                    let cut = split_at.filter(|_| first).map(|at| Cut { at, scratch: &mut scratch });
                    match parse_split(&buffered, &L, cut) {
                        Ok(Parsed::Op(op, n)) => {
                            got.push(format!("{op:?}"));
                            buffered.drain(..n);
                            (first, split_at) = (false, None);
                        }
                        Ok(Parsed::Incomplete { .. } | Parsed::AwaitingPayload { .. }) => break,
                        Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
                    }
                }
                if split_at.is_none() && arg_start(&buffered).is_some_and(|s| s < buffered.len()) {
                    split_at = Some(buffered.len());
                }
            }
            prop_assert_eq!(got, whole);
        }

        /// The one-pass argument split agrees with a plain two-scan one
        /// (each argument's start, then its end), at most 5 arguments.
        #[test]
        fn split_args_agrees_with_two_scans(
            line in prop::collection::vec(prop::sample::select(b" \t\r\nab1".to_vec()), 0..40),
            crlf in any::<bool>(),
        ) {
            let mut expected = Vec::new();
            let mut rest = &line[..];
            while let Some(start) = rest.iter().position(|&b| !is_arg_sep(b, crlf)) {
                rest = &rest[start..];
                let end = rest.iter().position(|&b| is_arg_sep(b, crlf)).unwrap_or(rest.len());
                expected.push(&rest[..end]);
                rest = &rest[end..];
            }
            let got = split_args(&line, crlf).map(|(a, n)| a[..n].to_vec());
            prop_assert_eq!(got, (expected.len() <= 5).then_some(expected));
        }

        /// Arbitrary bytes never panic the parser.
        #[test]
        fn never_panics(input in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&input, &L);
        }
    }
}
