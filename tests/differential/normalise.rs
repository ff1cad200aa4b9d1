//! Server output → canonical text, one line per protocol op.
//!
//! What legitimately differs between two servers is normalised away: the
//! server's own PINGs (their timing is the server's), the INFO fields that
//! name the server or the Go toolchain (`server_id`, `port`, `go`,
//! `git_commit`, `xkey`, `api_lvl`, client ids, nonces), and the order of
//! copies of one message delivered to several subscriptions of the same
//! connection (nats-server walks a Go map there, so its order is random).

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use super::session::escape;

/// What one connection received, as recorded by the player.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    pub bytes: Vec<u8>,
    /// The server closed the connection during the session.
    pub closed: bool,
    /// A wait for the server (PONG, close) ran out of time.
    pub timed_out: bool,
}

/// One server → client op.
#[derive(Debug, PartialEq, Eq)]
pub enum Tok<'a> {
    /// The JSON of an `INFO <json> \r\n` line.
    Info(&'a [u8]),
    /// MSG or HMSG: the control line (without CRLF) and the payload.
    Msg { head: &'a [u8], subject: &'a [u8], reply: Option<&'a [u8]>, payload: &'a [u8] },
    /// Any other complete line, without its CRLF.
    Line(&'a [u8]),
    /// Bytes that do not form a complete op.
    Partial(&'a [u8]),
}

/// Splits server output into ops. Malformed output ends as a `Partial`.
pub fn tokenize(mut buf: &[u8]) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let Some(nl) = buf.windows(2).position(|w| w == b"\r\n") else {
            out.push(Tok::Partial(buf));
            break;
        };
        let line = &buf[..nl];
        let rest = &buf[nl + 2..];
        if line.starts_with(b"MSG ") || line.starts_with(b"HMSG ") {
            match message(line, rest) {
                Some((tok, used)) => {
                    out.push(tok);
                    buf = &rest[used..];
                }
                None => {
                    out.push(Tok::Partial(buf));
                    break;
                }
            }
            continue;
        }
        if line.starts_with(b"INFO ") && line.ends_with(b" ") {
            out.push(Tok::Info(&line[5..line.len() - 1]));
        } else {
            out.push(Tok::Line(line));
        }
        buf = rest;
    }
    out
}

/// A MSG/HMSG whose control line is `line` and whose payload starts `rest`.
fn message<'a>(line: &'a [u8], rest: &'a [u8]) -> Option<(Tok<'a>, usize)> {
    let args: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let headers = args[0] == b"HMSG";
    let fixed = if headers { 5 } else { 4 };
    let reply = match args.len() {
        n if n == fixed => None,
        n if n == fixed + 1 => Some(args[3]),
        _ => return None,
    };
    let size: usize = std::str::from_utf8(args[args.len() - 1]).ok()?.parse().ok()?;
    if rest.len() < size + 2 || &rest[size..size + 2] != b"\r\n" {
        return None;
    }
    Some((Tok::Msg { head: line, subject: args[1], reply, payload: &rest[..size] }, size + 2))
}

/// How many PONGs a connection has received (counted on op boundaries).
pub fn pongs(buf: &[u8]) -> usize {
    tokenize(buf).iter().filter(|t| matches!(t, Tok::Line(b"PONG"))).count()
}

/// Whether the INFO line has arrived.
pub fn has_info(buf: &[u8]) -> bool {
    buf.windows(2).any(|w| w == b"\r\n")
}

/// The canonical text of one connection's output.
pub fn render(rec: &Recorded) -> Vec<String> {
    let toks = tokenize(&rec.bytes);
    let mut lines: Vec<(Option<MsgKey>, String)> = Vec::new();
    for t in &toks {
        match t {
            Tok::Line(b"PING") => {}
            Tok::Info(json) => lines.push((None, format!("INFO {}", normalise_info(json)))),
            Tok::Msg { head, subject, reply, payload } => {
                let key = MsgKey {
                    headers: head.starts_with(b"H"),
                    subject: subject.to_vec(),
                    reply: reply.map(|r| r.to_vec()),
                    payload: payload.to_vec(),
                };
                lines.push((Some(key), format!("{} \"{}\"", escape(head), escape(payload))));
            }
            Tok::Line(l) => lines.push((None, escape(l))),
            Tok::Partial(p) => lines.push((None, format!("<PARTIAL \"{}\">", escape(p)))),
        }
    }
    // Copies of one message to several subscriptions of this connection come
    // in the reference's (random) map order: sort each such run.
    let mut i = 0;
    while i < lines.len() {
        let mut j = i + 1;
        if lines[i].0.is_some() {
            while j < lines.len() && lines[j].0 == lines[i].0 {
                j += 1;
            }
            lines[i..j].sort_by(|a, b| a.1.cmp(&b.1));
        }
        i = j;
    }
    let mut out: Vec<String> = lines.into_iter().map(|(_, l)| l).collect();
    if rec.closed {
        out.push("<EOF>".into());
    }
    if rec.timed_out {
        out.push("<TIMEOUT>".into());
    }
    out
}

#[derive(PartialEq, Eq, Debug)]
struct MsgKey {
    headers: bool,
    subject: Vec<u8>,
    reply: Option<Vec<u8>>,
    payload: Vec<u8>,
}

/// A JSON object with its keys in the order they came.
struct Ordered(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some(kv) = m.next_entry()? {
                    v.push(kv);
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// Fields whose values name this particular server process or its toolchain.
const SERVER_SPECIFIC: &[&str] = &["server_id", "port", "client_id", "nonce"];
/// Fields only the Go server has (toolchain, JetStream API level, auth-callout key).
const GO_ONLY: &[&str] = &["go", "git_commit", "xkey", "api_lvl"];

pub fn normalise_info(json: &[u8]) -> String {
    let Ok(Ordered(fields)) = serde_json::from_slice::<Ordered>(json) else {
        return format!("<unparsable {}>", escape(json));
    };
    let id = fields.iter().find(|(k, _)| k == "server_id").map(|(_, v)| v.clone());
    let mut parts = Vec::new();
    for (k, v) in &fields {
        if GO_ONLY.contains(&k.as_str()) {
            continue;
        }
        let shown = if SERVER_SPECIFIC.contains(&k.as_str()) {
            "<*>".to_string()
        } else if k == "server_name" && Some(v) == id.as_ref() {
            "<server_id>".to_string()
        } else {
            v.to_string()
        };
        parts.push(format!("{k:?}:{shown}"));
    }
    format!("{{{}}}", parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_and_sorts_copies() {
        let rec = Recorded {
            bytes: b"INFO {\"server_id\":\"N1\",\"server_name\":\"N1\",\"go\":\"x\",\"port\":1} \r\nPING\r\nMSG a 2 1\r\nx\r\nMSG a 1 1\r\nx\r\nHMSG b 3 r 2 4\r\n\r\nyz\r\nPONG\r\nMSG c 1 5\r\nab".to_vec(),
            closed: true,
            timed_out: false,
        };
        assert_eq!(
            render(&rec),
            vec![
                "INFO {\"server_id\":<*>,\"server_name\":<server_id>,\"port\":<*>}",
                "MSG a 1 1 \"x\"",
                "MSG a 2 1 \"x\"",
                "HMSG b 3 r 2 4 \"\\r\\nyz\"",
                "PONG",
                "<PARTIAL \"MSG c 1 5\\r\\nab\">",
                "<EOF>",
            ]
        );
        assert_eq!(pongs(b"MSG a 1 6\r\nPONG\r\n\r\nPONG\r\n"), 1);
    }
}
