//! Protocol traces (`-V`) in nats-server's shape: `<<- [SUB foo 1]` for what
//! came in, `->> [PONG]` for what went out, the payload on a line of its own,
//! and never a password, token, signature or JWT.

use crate::secret::REDACTED;
use crate::server::proto::Op;
use crate::server::route::proto::RouteOp;

/// Logs an inbound op.
pub fn trace_in(prefix: &str, op: &Op<'_>) {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let text = match op {
        Op::Connect(json) => format!("CONNECT {}", redact_connect(json)),
        Op::Pub(p) => {
            let verb = if p.header_len.is_some() { "HPUB" } else { "PUB" };
            let reply = p.reply.map(|r| format!(" {}", s(r))).unwrap_or_default();
            let hdr = p.header_len.map(|h| format!(" {h}")).unwrap_or_default();
            format!("{verb} {}{reply}{hdr} {}", s(p.subject), p.payload.len())
        }
        Op::Sub { subject, queue, sid } => match queue {
            Some(q) => format!("SUB {} {} {}", s(subject), s(q), s(sid)),
            None => format!("SUB {} {}", s(subject), s(sid)),
        },
        Op::Unsub { sid, max } => match max {
            Some(m) => format!("UNSUB {} {m}", s(sid)),
            None => format!("UNSUB {}", s(sid)),
        },
        Op::Ping => "PING".into(),
        Op::Pong => "PONG".into(),
        Op::Info => "INFO".into(),
        Op::Ok => "+OK".into(),
        Op::Err(t) => format!("-ERR {}", s(t)),
    };
    tracing::trace!("{prefix} - <<- [{text}]");
    if let Op::Pub(p) = op {
        if !p.payload.is_empty() {
            tracing::trace!("{prefix} - <<- MSG_PAYLOAD: [{}]", crate::logging::traced_payload(p.payload));
        }
    }
}

/// Logs protocol bytes the server sends (one op, CRLF-terminated).
pub fn trace_out(prefix: &str, bytes: &[u8]) {
    let line = String::from_utf8_lossy(bytes);
    tracing::trace!("{prefix} - ->> [{}]", line.trim_end());
}

/// Logs a message queued to a client (`->> [MSG foo 1 5]`) and its
/// payload, as nats-server's `deliverMsg` traces every delivery.
pub fn trace_msg_out(prefix: &str, line: &crate::server::outbound::MsgLine<'_>, payload: &[u8]) {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut text =
        format!("{} {} {} ", if line.header_size.is_some() { "HMSG" } else { "MSG" }, s(line.subject), s(line.sid));
    if let Some(reply) = line.reply {
        text.push_str(&s(reply));
        text.push(' ');
    }
    if let Some(h) = line.header_size {
        text.push_str(&s(h));
        text.push(' ');
    }
    text.push_str(&s(line.size));
    trace_delivery(prefix, &text, payload);
}

/// Logs a message queued to a route, as written on it (`->> [RMSG $G foo
/// | q 5]`, `HMSG` with headers), and its payload.
pub fn trace_routed_out<'q>(
    prefix: &str,
    account: &[u8],
    subject: &[u8],
    reply: Option<&[u8]>,
    queues: impl Iterator<Item = &'q [u8]>,
    header_len: Option<usize>,
    payload: &[u8],
) {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let verb = if header_len.is_some() { "HMSG" } else { "RMSG" };
    let mut text = format!("{verb} {} {} ", s(account), s(subject));
    let queues: Vec<String> = queues.map(s).collect();
    match (reply, queues.is_empty()) {
        (Some(r), false) => text.push_str(&format!("+ {} ", s(r))),
        (None, false) => text.push_str("| "),
        (Some(r), true) => text.push_str(&format!("{} ", s(r))),
        (None, true) => {}
    }
    for q in &queues {
        text.push_str(q);
        text.push(' ');
    }
    if let Some(h) = header_len {
        text.push_str(&format!("{h} "));
    }
    text.push_str(&payload.len().to_string());
    trace_delivery(prefix, &text, payload);
}

fn trace_delivery(prefix: &str, line: &str, payload: &[u8]) {
    tracing::trace!("{prefix} - ->> [{line}]");
    if !payload.is_empty() {
        tracing::trace!("{prefix} - ->> MSG_PAYLOAD: [{}]", crate::logging::traced_payload(payload));
    }
}

/// [`trace_out`] for bytes queued outside a session (interest and gossip
/// sent to routes), each line on its own, when tracing is on.
pub fn trace_out_if_enabled(prefix: &str, bytes: &[u8]) {
    if tracing::enabled!(tracing::Level::TRACE) {
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            trace_out(prefix, line);
        }
    }
}

/// The CONNECT JSON with its secrets replaced by `[REDACTED]`.
pub fn redact_connect(json: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(mut map)) => {
            for key in ["pass", "auth_token", "sig", "jwt"] {
                if let Some(v) = map.get_mut(key) {
                    *v = serde_json::Value::String(REDACTED.into());
                }
            }
            serde_json::Value::Object(map).to_string()
        }
        _ => "[unparsable]".into(),
    }
}

/// `-V` for what a route sent.
pub fn trace_route_in(prefix: &str, op: &RouteOp<'_>) {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let text = match op {
        RouteOp::Connect(json) => format!("CONNECT {}", super::trace::redact_connect(json)),
        RouteOp::Info(json) => format!("INFO {}", s(json)),
        RouteOp::Ping => "PING".into(),
        RouteOp::Pong => "PONG".into(),
        RouteOp::Ok => "+OK".into(),
        RouteOp::Err(t) => format!("-ERR {}", s(t)),
        RouteOp::Sub { args, leaf } => format!("{} {}", if *leaf { "LS+" } else { "RS+" }, s(args)),
        RouteOp::Unsub { args, leaf } => format!("{} {}", if *leaf { "LS-" } else { "RS-" }, s(args)),
        RouteOp::Msg(m) => {
            let verb = match (m.origin.is_some(), m.header_len.is_some()) {
                (true, _) => "LMSG",
                (false, true) => "HMSG",
                (false, false) => "RMSG",
            };
            let mut t = format!("{verb} {} {}", s(m.account), s(m.subject));
            if !m.queues.is_empty() {
                t += if m.reply.is_some() { " +" } else { " |" };
            }
            if let Some(r) = m.reply {
                t += &format!(" {}", s(r));
            }
            if !m.queues.is_empty() {
                t += &format!(" {}", s(m.queues));
            }
            if let Some(h) = m.header_len {
                t += &format!(" {h}");
            }
            t + &format!(" {}", m.payload.len())
        }
    };
    tracing::trace!("{prefix} - <<- [{text}]");
    if let RouteOp::Msg(m) = op {
        if !m.payload.is_empty() {
            tracing::trace!("{prefix} - <<- MSG_PAYLOAD: [{}]", crate::logging::traced_payload(m.payload));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_the_trace() {
        let t = redact_connect(br#"{"user":"a","pass":"hunter2","auth_token":"t0k","sig":"s1g","jwt":"eyJ"}"#);
        for secret in ["hunter2", "t0k", "s1g", "eyJ"] {
            assert!(!t.contains(secret), "{t}");
        }
        assert!(t.contains("\"user\":\"a\""));
        assert_eq!(redact_connect(b"{not json"), "[unparsable]");
    }
}
