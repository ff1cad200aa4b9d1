//! The route protocol parser: what another server sends on a route.
//!
//! Separate from the client parser ([`crate::server::proto`]) so the client
//! path keeps its verb table and its speed; like it, it is zero-copy and
//! stateless (handed what is buffered, it returns one op and the bytes it
//! used, or how many bytes it needs).
//!
//! Verbs, case-insensitive as in nats-server: `RS+`/`RS-` (interest), `LS+`/
//! `LS-` (a leaf node's interest, with its origin cluster), `RMSG`/`HMSG`/
//! `LMSG` (messages), `INFO`, `CONNECT`, `PING`, `PONG`, `+OK`, `-ERR`.
//! Anything else is `-ERR 'Unknown Protocol Operation'` and a close.
//! Malformed message arguments close the route without an `-ERR`, with
//! nats-server's log text (`processRoutedMsgArgs Bad or Missing Size: …`).
//!
//! nats-server applies no control-line or payload limit to routes; a
//! stateless parser must hold a whole op, so both are bounded here by
//! generous [`RouteLimits`].

use memchr::memchr;

use crate::server::proto::parse_size;

/// Bounds on what one route op may buffer.
#[derive(Debug, Clone, Copy)]
pub struct RouteLimits {
    pub max_control_line: usize,
    pub max_payload: usize,
}

/// Longest route control line accepted (nats-server has none; a subject
/// plus a long list of queue groups fits easily).
pub const ROUTE_MAX_CONTROL_LINE: usize = 1024 * 1024;
/// Largest routed payload accepted, unless the local `max_payload` is
/// larger (nats-server does not check payloads from routes).
pub const ROUTE_MAX_PAYLOAD: usize = 64 * 1024 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum RouteOp<'a> {
    Connect(&'a [u8]),
    Info(&'a [u8]),
    Ping,
    Pong,
    Ok,
    Err(&'a [u8]),
    /// `RS+`/`LS+`: the arguments after the verb (CR removed).
    Sub {
        args: &'a [u8],
        leaf: bool,
    },
    /// `RS-`/`LS-`.
    Unsub {
        args: &'a [u8],
        leaf: bool,
    },
    Msg(RoutedMsg<'a>),
}

/// An `RMSG`, `HMSG` or `LMSG`.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct RoutedMsg<'a> {
    /// `LMSG`: the leaf node cluster the message came from.
    pub origin: Option<&'a [u8]>,
    pub account: &'a [u8],
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// The queue groups to deliver to, separated by blanks (empty: none).
    pub queues: &'a [u8],
    /// Size of the header block at the start of `payload`.
    pub header_len: Option<usize>,
    pub payload: &'a [u8],
    /// The sizes as the peer wrote them (deliveries to clients repeat them).
    pub size_text: &'a [u8],
    pub header_text: &'a [u8],
}

#[derive(Debug)]
pub enum RouteParsed<'a> {
    Op(RouteOp<'a>, usize),
    Incomplete { need: usize },
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteParseError {
    /// Answered with `-ERR 'Unknown Protocol Operation'`, then close.
    #[error("Router parser ERROR, state=0, i={offset}: proto='{snippet}...'")]
    UnknownOp { offset: usize, snippet: String },
    /// The line (or what has arrived of it) is over the bound.
    #[error("Router parser ERROR: control line exceeds {0} bytes")]
    ControlLine(usize),
    /// The payload is over the bound.
    #[error("Router parser ERROR: payload of {size} bytes exceeds {max}")]
    Payload { size: usize, max: usize },
    /// Closed without an `-ERR`, as the reference does; the text is logged.
    #[error("{0}")]
    BadArgs(String),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Verb {
    RsPlus,
    RsMinus,
    LsPlus,
    LsMinus,
    Rmsg,
    Hmsg,
    Lmsg,
    Info,
    Connect,
    Ping,
    Pong,
    PlusOk,
    MinusErr,
}

const VERBS: &[(&[u8], Verb)] = &[
    (b"RS+", Verb::RsPlus),
    (b"RS-", Verb::RsMinus),
    (b"LS+", Verb::LsPlus),
    (b"LS-", Verb::LsMinus),
    (b"RMSG", Verb::Rmsg),
    (b"HMSG", Verb::Hmsg),
    (b"LMSG", Verb::Lmsg),
    (b"INFO", Verb::Info),
    (b"CONNECT", Verb::Connect),
    (b"PING", Verb::Ping),
    (b"PONG", Verb::Pong),
    (b"+OK", Verb::PlusOk),
    (b"-ERR", Verb::MinusErr),
];

const LONGEST_VERB: usize = 7;
const SNIPPET: usize = 32;

fn unknown(buf: &[u8], offset: usize) -> RouteParseError {
    let end = (offset + SNIPPET).min(buf.len());
    let start = offset.min(end);
    RouteParseError::UnknownOp { offset, snippet: format!("{:?}", String::from_utf8_lossy(&buf[start..end])) }
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The verb at the start of `buf`, and its length; `Ok(None)`: incomplete.
fn verb(buf: &[u8]) -> Result<Option<(Verb, usize)>, RouteParseError> {
    let window = &buf[..buf.len().min(LONGEST_VERB + 1)];
    match window.iter().position(|&b| is_blank(b)) {
        Some(end) => {
            let word = &window[..end];
            VERBS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(word))
                .map(|&(_, v)| Some((v, end)))
                .ok_or_else(|| unknown(buf, 0))
        }
        None if window.len() <= LONGEST_VERB => {
            let prefix_of_some = VERBS
                .iter()
                .any(|(name, _)| name.len() >= window.len() && name[..window.len()].eq_ignore_ascii_case(window));
            if prefix_of_some {
                Ok(None)
            } else {
                Err(unknown(buf, 0))
            }
        }
        None => Err(unknown(buf, 0)),
    }
}

/// Argument positions on a line: the first few, the last three, and how many.
struct ArgScan {
    first: [(usize, usize); 6],
    last: [(usize, usize); 3],
    count: usize,
}

impl ArgScan {
    fn new(line: &[u8]) -> ArgScan {
        let mut scan = ArgScan { first: [(0, 0); 6], last: [(0, 0); 3], count: 0 };
        let mut start = None;
        for (i, &b) in line.iter().enumerate().chain(std::iter::once((line.len(), &b' '))) {
            match (is_blank(b), start) {
                (true, Some(s)) => {
                    scan.push((s, i));
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
        scan
    }

    fn push(&mut self, span: (usize, usize)) {
        if self.count < self.first.len() {
            self.first[self.count] = span;
        }
        self.last = [self.last[1], self.last[2], span];
        self.count += 1;
    }

    /// The `i`-th argument (only the first six are kept).
    fn get<'a>(&self, line: &'a [u8], i: usize) -> &'a [u8] {
        let (s, e) = self.first[i];
        &line[s..e]
    }

    /// The `k`-th argument from the end (0 = last, at most 2).
    fn nth_last<'a>(&self, line: &'a [u8], k: usize) -> &'a [u8] {
        let (s, e) = self.last[2 - k];
        &line[s..e]
    }

    /// The text from the start of argument `from` up to, and without, the
    /// last `skip_tail` arguments (1 or 2); empty if nothing is in between.
    fn span<'a>(&self, line: &'a [u8], from: usize, skip_tail: usize) -> &'a [u8] {
        if from + skip_tail >= self.count {
            return &[];
        }
        let start = self.first[from].0;
        let end = self.last[2 - skip_tail].1;
        &line[start..end]
    }

    /// The arguments as nats-server prints them in errors: `[a b c]`.
    fn go_list(&self, line: &[u8]) -> String {
        let words: Vec<String> = line
            .split(|&b| is_blank(b))
            .filter(|w| !w.is_empty())
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        format!("[{}]", words.join(" "))
    }
}

fn size(s: &[u8]) -> Option<usize> {
    parse_size(s)
}

/// Parses one op from the start of `buf`.
pub fn parse<'a>(buf: &'a [u8], limits: &RouteLimits) -> Result<RouteParsed<'a>, RouteParseError> {
    let Some((verb, verb_len)) = verb(buf)? else {
        return Ok(RouteParsed::Incomplete { need: buf.len() + 1 });
    };
    let Some(nl) = memchr(b'\n', &buf[verb_len..]).map(|i| i + verb_len) else {
        if buf.len() > limits.max_control_line {
            return Err(RouteParseError::ControlLine(limits.max_control_line));
        }
        return Ok(RouteParsed::Incomplete { need: buf.len() + 1 });
    };
    let consumed = nl + 1;
    let mut line = &buf[verb_len..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    let start = line.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(line.len());
    let line = &line[start..];
    if line.len() > limits.max_control_line {
        return Err(RouteParseError::ControlLine(limits.max_control_line));
    }
    let op = match verb {
        Verb::Ping => RouteOp::Ping,
        Verb::Pong => RouteOp::Pong,
        Verb::PlusOk => RouteOp::Ok,
        Verb::MinusErr => RouteOp::Err(line),
        Verb::Info => RouteOp::Info(line),
        Verb::Connect => RouteOp::Connect(line),
        Verb::RsPlus => RouteOp::Sub { args: line, leaf: false },
        Verb::LsPlus => RouteOp::Sub { args: line, leaf: true },
        Verb::RsMinus => RouteOp::Unsub { args: line, leaf: false },
        Verb::LsMinus => RouteOp::Unsub { args: line, leaf: true },
        Verb::Rmsg | Verb::Hmsg | Verb::Lmsg => {
            let args = message_args(verb, line)?;
            let total = args.size;
            let max = limits.max_payload;
            if total > max {
                return Err(RouteParseError::Payload { size: total, max });
            }
            let end = consumed + total;
            if buf.len() < end + 2 {
                if let Some(extra) = buf.len().checked_sub(end) {
                    if extra >= 1 && buf[end] != b'\r' {
                        return Err(unknown(buf, end));
                    }
                }
                return Ok(RouteParsed::Incomplete { need: end + 2 });
            }
            if &buf[end..end + 2] != b"\r\n" {
                let at = if buf[end] == b'\r' { end + 1 } else { end };
                return Err(unknown(buf, at));
            }
            let msg = RoutedMsg {
                origin: args.origin,
                account: args.account,
                subject: args.subject,
                reply: args.reply,
                queues: args.queues,
                header_len: args.header_len,
                payload: &buf[consumed..end],
                size_text: args.size_text,
                header_text: args.header_text,
            };
            return Ok(RouteParsed::Op(RouteOp::Msg(msg), end + 2));
        }
    };
    Ok(RouteParsed::Op(op, consumed))
}

/// A message line's arguments, before its payload is attached.
struct RoutedMsgArgs<'a> {
    origin: Option<&'a [u8]>,
    account: &'a [u8],
    subject: &'a [u8],
    reply: Option<&'a [u8]>,
    queues: &'a [u8],
    header_len: Option<usize>,
    size: usize,
    size_text: &'a [u8],
    header_text: &'a [u8],
}

/// Reads the arguments of `RMSG`/`HMSG`/`LMSG` as nats-server does
/// (`processRoutedMsgArgs`, `processRoutedHeaderMsgArgs`,
/// `processRoutedOriginClusterMsgArgs`).
fn message_args<'a>(verb: Verb, line: &'a [u8]) -> Result<RoutedMsgArgs<'a>, RouteParseError> {
    let scan = ArgScan::new(line);
    let n = scan.count;
    let (ctx, fixed, has_header) = match verb {
        Verb::Rmsg => ("processRoutedMsgArgs", 0, false),
        Verb::Hmsg => ("processRoutedHeaderMsgArgs", 0, true),
        _ => ("processRoutedOriginClusterMsgArgs", 1, true),
    };
    let sizes = if has_header { 2 } else { 1 };
    let bad = |what: &str, shown: String| RouteParseError::BadArgs(format!("{ctx} {what}: '{shown}'"));
    if n < fixed + 2 + sizes {
        return Err(bad("Parse Error", scan.go_list(line)));
    }
    let origin = (fixed == 1).then(|| scan.get(line, 0));
    let account = scan.get(line, fixed);
    let subject = scan.get(line, fixed + 1);
    let after = fixed + 2;
    let (reply, queues) = match n - after - sizes {
        0 => (None, &[][..]),
        1 => (Some(scan.get(line, after)), &[][..]),
        _ => {
            let indicator = scan.get(line, after);
            let reply = match indicator {
                b"+" => Some(scan.get(line, after + 1)),
                b"|" => None,
                _ => {
                    return Err(bad("Bad or Missing Reply Indicator", String::from_utf8_lossy(indicator).into_owned()))
                }
            };
            let first_queue = after + 1 + usize::from(reply.is_some());
            (reply, scan.span(line, first_queue, sizes))
        }
    };
    let total_text = scan.nth_last(line, 0);
    let total = size(total_text);
    let header_text = if has_header { scan.nth_last(line, 1) } else { &[][..] };
    let header_len = if has_header {
        let h = size(header_text);
        match h {
            Some(h) => Some(h),
            None => return Err(bad("Bad or Missing Header Size", String::from_utf8_lossy(line).into_owned())),
        }
    } else {
        None
    };
    let Some(total) = total else {
        return Err(bad("Bad or Missing Size", scan.go_list(line)));
    };
    if let Some(h) = header_len {
        if h > total {
            return Err(bad("Header Size larger then TotalSize", String::from_utf8_lossy(line).into_owned()));
        }
    }
    // LMSG always carries a header size; 0 means no headers.
    let header_len = header_len.filter(|&h| !(verb == Verb::Lmsg && h == 0));
    Ok(RoutedMsgArgs {
        origin,
        account,
        subject,
        reply,
        queues,
        header_len,
        size: total,
        size_text: total_text,
        header_text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: RouteLimits = RouteLimits { max_control_line: 4096, max_payload: 1 << 20 };

    fn one(input: &[u8]) -> RouteOp<'_> {
        match parse(input, &L).expect("parse") {
            RouteParsed::Op(op, n) => {
                assert_eq!(n, input.len(), "whole input used: {:?}", String::from_utf8_lossy(input));
                op
            }
            RouteParsed::Incomplete { .. } => panic!("incomplete: {:?}", String::from_utf8_lossy(input)),
        }
    }

    fn msg(input: &[u8]) -> RoutedMsg<'_> {
        match one(input) {
            RouteOp::Msg(m) => m,
            other => panic!("{other:?}"),
        }
    }

    fn err(input: &[u8]) -> RouteParseError {
        parse(input, &L).expect_err("should fail")
    }

    #[test]
    fn control_ops() {
        assert_eq!(one(b"PING\r\n"), RouteOp::Ping);
        assert_eq!(one(b"pong\r\n"), RouteOp::Pong);
        assert_eq!(one(b"+OK\r\n"), RouteOp::Ok);
        assert_eq!(one(b"-ERR 'x y'\r\n"), RouteOp::Err(b"'x y'"));
        assert_eq!(one(b"INFO {\"a\":1} \r\n"), RouteOp::Info(b"{\"a\":1} "));
        assert_eq!(one(b"CONNECT {}\r\n"), RouteOp::Connect(b"{}"));
        assert_eq!(one(b"RS+ $G foo\r\n"), RouteOp::Sub { args: b"$G foo", leaf: false });
        assert_eq!(one(b"rs+ $G bar q1 2\r\n"), RouteOp::Sub { args: b"$G bar q1 2", leaf: false });
        assert_eq!(one(b"RS- $G bar q1\r\n"), RouteOp::Unsub { args: b"$G bar q1", leaf: false });
        assert_eq!(one(b"LS+ C2 $G foo\r\n"), RouteOp::Sub { args: b"C2 $G foo", leaf: true });
    }

    /// The forms nats-server 2.15 sends (captured on the wire).
    #[test]
    fn messages() {
        let m = msg(b"RMSG $G fwd 5\r\nhello\r\n");
        assert_eq!(
            (m.account, m.subject, m.reply, m.queues, m.header_len, m.payload),
            (&b"$G"[..], &b"fwd"[..], None, &b""[..], None, &b"hello"[..])
        );
        let m = msg(b"RMSG $G fwd rep.1 5\r\nhello\r\n");
        assert_eq!(m.reply, Some(&b"rep.1"[..]));
        let m = msg(b"HMSG $G fwd 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n");
        assert_eq!((m.header_len, m.payload.len()), (Some(18), 23));
        let m = msg(b"HMSG $G fwd rep.2 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n");
        assert_eq!((m.reply, m.header_len), (Some(&b"rep.2"[..]), Some(18)));
        let m = msg(b"RMSG $G qfwd | qg qg2 2\r\nqq\r\n");
        assert_eq!((m.reply, m.queues), (None, &b"qg qg2"[..]));
        let m = msg(b"RMSG $G qfwd + rep.3 qg qg2 2\r\nqq\r\n");
        assert_eq!((m.reply, m.queues), (Some(&b"rep.3"[..]), &b"qg qg2"[..]));
        let m = msg(b"HMSG $G q + r qg 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        assert_eq!((m.reply, m.queues, m.header_len), (Some(&b"r"[..]), &b"qg"[..], Some(12)));
        let m = msg(b"RMSG\t$G\tfoo\t|\tq1\t2\r\nqu\r\n");
        assert_eq!(m.queues, b"q1");
        let m = msg(b"LMSG C2 $G foo 0 2\r\nhi\r\n");
        assert_eq!((m.origin, m.header_len), (Some(&b"C2"[..]), None));
        let m = msg(b"LMSG C2 $G foo + r q 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        assert_eq!(
            (m.origin, m.reply, m.queues, m.header_len),
            (Some(&b"C2"[..]), Some(&b"r"[..]), &b"q"[..], Some(12))
        );
        let m = msg(b"RMSG $G foo 0\r\n\r\n");
        assert_eq!(m.payload, b"");
    }

    #[test]
    fn errors_as_the_reference_logs_them() {
        assert_eq!(
            err(b"RMSG $G foo x\r\n"),
            RouteParseError::BadArgs("processRoutedMsgArgs Bad or Missing Size: '[$G foo x]'".into())
        );
        assert_eq!(err(b"RMSG $G\r\n"), RouteParseError::BadArgs("processRoutedMsgArgs Parse Error: '[$G]'".into()));
        assert_eq!(
            err(b"RMSG $G foo ? q 2\r\n"),
            RouteParseError::BadArgs("processRoutedMsgArgs Bad or Missing Reply Indicator: '?'".into())
        );
        assert!(matches!(err(b"HMSG $G foo 5 3\r\n"), RouteParseError::BadArgs(t) if t.contains("Header Size larger")));
        assert!(matches!(err(b"BOGUS foo\r\n"), RouteParseError::UnknownOp { offset: 0, .. }));
        assert!(matches!(err(b"PUB foo 1\r\n"), RouteParseError::UnknownOp { .. }), "client verbs are not route verbs");
        assert!(matches!(err(b"RMSG $G foo 3\r\nhello\r\n"), RouteParseError::UnknownOp { .. }));
        assert!(matches!(err(b"XYZXYZXYZ"), RouteParseError::UnknownOp { .. }), "no newline needed");
        assert!(matches!(parse(b"RM", &L), Ok(RouteParsed::Incomplete { .. })));
        assert!(matches!(parse(b"RMSG $G foo 5\r\nhel", &L), Ok(RouteParsed::Incomplete { need: 22 })));
        let long = [b"RS+ $G ".as_slice(), &[b'a'; 5000]].concat();
        assert_eq!(err(&long), RouteParseError::ControlLine(4096));
        assert!(matches!(err(b"RMSG $G foo 2000000\r\n"), RouteParseError::Payload { .. }));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse(&input, &L);
        }

        #[test]
        fn split_invariance(cut in 0usize..120) {
            let stream: &[u8] = b"RS+ $G foo\r\nRMSG $G foo + r q1 q2 5\r\nhello\r\nHMSG $G foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n";
            let cut = cut.min(stream.len());
            let mut buf = stream[..cut].to_vec();
            let mut got = Vec::new();
            let mut fed = cut;
            loop {
                match parse(&buf, &L) {
                    Ok(RouteParsed::Op(op, n)) => { got.push(format!("{op:?}")); buf.drain(..n); }
                    Ok(RouteParsed::Incomplete { .. }) if fed < stream.len() => { buf.push(stream[fed]); fed += 1; }
                    Ok(RouteParsed::Incomplete { .. }) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            proptest::prop_assert_eq!(got.len(), 4);
        }
    }
}
