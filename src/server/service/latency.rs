//! Latency samples of service exports with `latency` (nats-server's
//! `ServiceLatency`, accounts.go): which requests are sampled
//! ([`should_sample`]), what a sampled request remembers ([`Tracking`],
//! kept in its response entry), and the `io.nats.server.metric.v1.service_latency`
//! message sent into the exporting account on the export's latency subject
//! when the exchange ends: 200 answered, 400 no reply subject, 503 no
//! responder, 504 no answer within the response threshold, 408 the
//! requester stopped listening first (see `reply_watch`).
//!
//! Only sampled requests pay: an import without `latency` costs the
//! message path one branch, and an unsampled request one random number.
//! The sample's JSON is written on the responder's session (sampled
//! requests only) and published by the system task, as nats-server sends
//! it through its internal send queue; without a system account no sample
//! is sent (nats-server: `ErrNoSysAccount`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::request_info::with_client_info;
use super::response_table::{Tracked, Unanswered};
use super::sample_link::{event_id, AccountMessage, SampleLink};
use crate::server::account_config::LatencyConfig;
use crate::server::clock::rfc3339_nano;
use crate::server::conn::{ConnKind, Connection};

/// The sample's event type.
const SERVICE_LATENCY_TYPE: &str = "io.nats.server.metric.v1.service_latency";

/// What a sampled request remembers until its exchange ends.
#[derive(Debug)]
pub struct Tracking {
    samples: SampleLink,
    /// Where the sample goes: the exporting account, on this subject.
    exporter: Box<str>,
    subject: Arc<str>,
    /// The requester's connection, its account's name, and whether the
    /// import shares its details.
    requester: Arc<Connection>,
    requester_account: Box<str>,
    share: bool,
    server: Arc<str>,
    /// When the request crossed the import.
    at: Instant,
    at_wall: SystemTime,
    /// The tracing headers that made the request sampled, as a JSON object.
    header: Option<Vec<u8>>,
}

/// How an exchange ended, for the sample's `status` and `description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Answered,
    Not(Unanswered),
}

impl Ending {
    fn status(self) -> (u16, &'static str) {
        match self {
            Ending::Answered => (200, ""),
            Ending::Not(Unanswered::NoReply) => (400, "Bad Request"),
            Ending::Not(Unanswered::NoResponder) => (503, "Service Unavailable"),
            Ending::Not(Unanswered::Timeout) => (504, "Service Timeout"),
            Ending::Not(Unanswered::InterestLost) => (408, "Request Timeout"),
        }
    }
}

impl Tracked for Tracking {
    fn unanswered(&self, why: Unanswered) {
        self.report(Ending::Not(why), None);
    }
}

impl Tracking {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: &LatencyConfig,
        samples: &SampleLink,
        exporter: &str,
        requester: &Arc<Connection>,
        requester_account: &str,
        share: bool,
        server: &Arc<str>,
        header: Option<Vec<u8>>,
    ) -> Tracking {
        Tracking {
            samples: samples.clone(),
            exporter: exporter.into(),
            subject: config.subject.clone(),
            requester: requester.clone(),
            requester_account: requester_account.into(),
            share,
            server: server.clone(),
            at: Instant::now(),
            at_wall: SystemTime::now(),
            header,
        }
    }

    /// Sends the sample of this exchange into the exporter: `responder` is
    /// the connection that answered (`Answered` only; a route's, whose
    /// details live on another server, is left out).
    pub fn report(&self, ending: Ending, responder: Option<&Connection>) {
        let now = Instant::now();
        let (status, description) = ending.status();
        let requestor_rtt = rtt_of(&self.requester);
        let responder = responder.filter(|c| c.kind == ConnKind::Client);
        let responder_rtt = responder.map_or(Duration::ZERO, rtt_of);
        let mut out = Vec::with_capacity(700);
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(SERVICE_LATENCY_TYPE.as_bytes());
        out.extend_from_slice(b"\",\"id\":\"");
        out.extend_from_slice(event_id().as_bytes());
        out.extend_from_slice(b"\",\"timestamp\":\"");
        out.extend_from_slice(rfc3339_nano(SystemTime::now()).as_bytes());
        out.extend_from_slice(format!("\",\"status\":{status}").as_bytes());
        if !description.is_empty() {
            out.extend_from_slice(format!(",\"description\":\"{description}\"").as_bytes());
        }
        out.extend_from_slice(b",\"requestor\":");
        write_client(&self.requester, &self.requester_account, self.share, &self.server, &mut out);
        if let Some(responder) = responder {
            out.extend_from_slice(b",\"responder\":");
            write_client(responder, &responder.account().name, true, &self.server, &mut out);
        }
        if let Some(header) = &self.header {
            out.extend_from_slice(b",\"header\":");
            out.extend_from_slice(header);
        }
        // The exchange as the requester saw it began one rtt earlier.
        let start = self.at_wall.checked_sub(requestor_rtt).unwrap_or(self.at_wall);
        let (service, system, total) = match ending {
            Ending::Answered => {
                let service_rtt = now.saturating_duration_since(self.at);
                let system = if responder_rtt.is_zero() { Duration::ZERO } else { now.elapsed() };
                (service_rtt.saturating_sub(responder_rtt), system, requestor_rtt + service_rtt + system)
            }
            Ending::Not(_) => (Duration::ZERO, Duration::ZERO, Duration::ZERO),
        };
        out.extend_from_slice(
            format!(
                ",\"start\":\"{}\",\"service\":{},\"system\":{},\"total\":{}}}",
                rfc3339_nano(start),
                nanos(service),
                nanos(system),
                nanos(total)
            )
            .as_bytes(),
        );
        self.samples.send(AccountMessage {
            account: self.exporter.clone(),
            subject: self.subject.as_ref().into(),
            payload: out,
        });
    }
}

fn nanos(d: Duration) -> u64 {
    d.as_nanos().min(u128::from(u64::MAX)) as u64
}

fn rtt_of(conn: &Connection) -> Duration {
    // A per-connection lock, uncontended (its writers are its session and
    // monitoring), taken for sampled exchanges only.
    conn.meta.lock().unwrap_or_else(|e| e.into_inner()).rtt.unwrap_or_default()
}

/// nats-server's `getClientInfo(detailed)`: the account and rtt, and with
/// `detailed` the connection's details and this server's name.
fn write_client(conn: &Connection, account: &str, detailed: bool, server: &str, out: &mut Vec<u8>) {
    with_client_info(conn, account, detailed, server, |info| info.write_json(out));
}

/// Whether a request is sampled (nats-server's `shouldSample`): always at
/// 100 %, at `roll` (0..100) `<= sampling` otherwise, and else when its
/// tracing header asks (Uber, B3, W3C trace context). `Some(header)` when
/// sampled, with the tracing headers that asked as a JSON object.
pub fn should_sample(sampling: u8, roll: u32, header: &[u8]) -> Option<Option<Vec<u8>>> {
    if sampling >= 100 || (sampling > 0 && roll <= u32::from(sampling)) {
        return Some(None);
    }
    let fields = parse_header(header);
    if fields.is_empty() {
        return None;
    }
    let values =
        |key: &str| -> Vec<&str> { fields.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect() };
    let pick = |keys: &[&str], prefix: Option<&str>| -> Vec<u8> {
        header_json(
            fields.iter().filter(|(k, _)| keys.contains(&k.as_str()) || prefix.is_some_and(|p| k.starts_with(p))),
        )
    };
    const B3_KEYS: [&str; 4] = ["X-B3-Sampled", "X-B3-Traceid", "X-B3-Parentspanid", "X-B3-Spanid"];
    if let Some(id) = values("Uber-Trace-Id").first() {
        // `trace:span:parent:flags`, flags' low bit set.
        let tokens: Vec<&str> = id.split(':').collect();
        let flags = tokens.get(3).filter(|f| tokens.len() == 4 && (1..=2).contains(&f.len()));
        let sampled = flags.and_then(|f| u8::from_str_radix(f, 16).ok()).is_some_and(|v| v & 1 == 1);
        return sampled.then(|| Some(pick(&["Uber-Trace-Id"], Some("Uberctx-"))));
    }
    match values("X-B3-Sampled").first() {
        Some(&"1") => return Some(Some(pick(&B3_KEYS, None))),
        Some(&"0") => return None,
        _ => {}
    }
    if !values("X-B3-Traceid").is_empty() {
        return Some(Some(pick(&B3_KEYS, None)));
    }
    if let Some(b3) = values("B3").first() {
        let tokens: Vec<&str> = b3.split('-').collect();
        let denied = (tokens.len() > 2 && tokens[2] == "0") || (tokens.len() == 1 && tokens[0] == "0");
        return (!denied).then(|| Some(pick(&["B3"], None)));
    }
    if let Some(parent) = values("Traceparent").first() {
        // `version-trace-parent-flags`, flags a hex byte below 0x80 (Go's
        // ParseInt into 8 signed bits) with its low bit set.
        let tokens: Vec<&str> = parent.split('-').collect();
        let flags = tokens.get(3).filter(|f| tokens.len() == 4 && f.len() == 2);
        let sampled = flags.and_then(|f| i8::from_str_radix(f, 16).ok()).is_some_and(|v| v & 1 == 1);
        return sampled.then(|| Some(pick(&["Traceparent", "Tracestate"], None)));
    }
    None
}

/// The header's fields, names in Go's canonical form (`Traceparent`,
/// `X-B3-Traceid`), values trimmed.
fn parse_header(header: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(header);
    text.split("\r\n")
        .skip(1)
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            Some((canonical(key.trim()), value.trim().to_string()))
        })
        .collect()
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: each dash-separated word
/// capitalised, the rest lower case.
fn canonical(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = true;
    for c in key.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() });
        upper = c == '-';
    }
    out
}

/// Go's `http.Header` as JSON: keys sorted, each with its values.
fn header_json<'a>(fields: impl Iterator<Item = &'a (String, String)>) -> Vec<u8> {
    let mut map: std::collections::BTreeMap<&str, Vec<&str>> = std::collections::BTreeMap::new();
    for (k, v) in fields {
        map.entry(k).or_default().push(v);
    }
    serde_json::to_vec(&map).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(lines: &[&str]) -> Vec<u8> {
        let mut h = b"NATS/1.0\r\n".to_vec();
        for l in lines {
            h.extend_from_slice(l.as_bytes());
            h.extend_from_slice(b"\r\n");
        }
        h.extend_from_slice(b"\r\n");
        h
    }

    fn sampled(sampling: u8, roll: u32, lines: &[&str]) -> Option<String> {
        should_sample(sampling, roll, &header(lines))
            .map(|h| h.map(|j| String::from_utf8(j).unwrap()).unwrap_or_default())
    }

    #[test]
    fn rates_sample_by_the_roll_and_headers_only_by_the_header() {
        assert_eq!(sampled(100, 99, &[]), Some(String::new()));
        assert_eq!(sampled(50, 50, &[]), Some(String::new()));
        assert_eq!(sampled(50, 51, &[]), None);
        assert_eq!(sampled(0, 0, &[]), None);
        assert_eq!(should_sample(0, 0, b""), None);
    }

    #[test]
    fn w3c_trace_context_samples_on_its_flag() {
        let on = "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            sampled(0, 0, &[on, "tracestate: x=1", "other: y"]).as_deref(),
            Some(r#"{"Traceparent":["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],"Tracestate":["x=1"]}"#)
        );
        assert_eq!(sampled(0, 0, &["traceparent: 00-4bf9-00f0-00"]), None);
        assert_eq!(sampled(0, 0, &["traceparent: 00-4bf9-00f0-81"]), None, "beyond Go's int8");
    }

    #[test]
    fn b3_and_uber_headers_follow_the_reference() {
        assert!(sampled(0, 0, &["X-B3-Sampled: 1"]).is_some());
        assert_eq!(sampled(0, 0, &["X-B3-Sampled: 0", "X-B3-TraceId: 80f1"]), None);
        assert_eq!(sampled(0, 0, &["x-b3-traceid: 80f1"]).as_deref(), Some(r#"{"X-B3-Traceid":["80f1"]}"#));
        assert!(sampled(0, 0, &["B3: 80f1-e457-1-05e3"]).is_some());
        assert_eq!(sampled(0, 0, &["B3: 80f1-e457-0"]), None);
        assert_eq!(sampled(0, 0, &["B3: 0"]), None);
        assert_eq!(
            sampled(0, 0, &["Uber-Trace-Id: 479f:5adb:479f:1", "uberctx-k: v"]).as_deref(),
            Some(r#"{"Uber-Trace-Id":["479f:5adb:479f:1"],"Uberctx-K":["v"]}"#)
        );
        assert_eq!(sampled(0, 0, &["Uber-Trace-Id: 479f:5adb:479f:2"]), None);
    }
}
