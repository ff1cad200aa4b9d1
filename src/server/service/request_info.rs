//! The `Nats-Request-Info` header a responder gets with every request that
//! crossed a service import (design §1.3, §4.2 step 4).
//!
//! nats-server marshals its `ClientInfo` with `encoding/json` and sets it as
//! a header: the request's own header is kept (status line included), an
//! existing `Nats-Request-Info` is removed, and the new one is appended:
//!
//! ```text
//! NATS/1.0\r\nK: v\r\nNats-Request-Info: {"acc":"B","rtt":1234}\r\n\r\n
//! ```
//!
//! Without `share` the info is the requester's account and round-trip time;
//! with it, the full client info, keys in `ClientInfo`'s declaration order
//! and empty ones left out (Go's `omitempty`). rnats writes the JSON by hand
//! into the caller's reused buffer: no serde and no allocation per request.
//!
//! Better than the reference: every `Nats-Request-Info` line of the request
//! is removed, whatever its case (nats-server removes only the first
//! exact-case one, so a requester could plant a second one, or a lower-case
//! one that clients canonicalise, ahead of the server's).

/// The header's name, as nats-server writes it.
pub const REQUEST_INFO_HEADER: &[u8] = b"Nats-Request-Info";
const STATUS_LINE: &[u8] = b"NATS/1.0";

/// nats-server's `ClientInfo` (events.go), borrowed from the caller. Empty
/// strings, empty lists and zero numbers are left out, as Go's `omitempty`
/// leaves them out.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientInfo<'a> {
    /// The connection's start as Go marshals a `time.Time` (RFC 3339 with
    /// nanoseconds, trailing zeros trimmed); the caller formats it once per
    /// connection.
    pub start: &'a str,
    pub host: &'a str,
    /// The client id (`cid`).
    pub id: u64,
    pub acc: &'a str,
    /// The account a chained request passed through.
    pub svc: &'a str,
    pub user: &'a str,
    pub name: &'a str,
    pub lang: &'a str,
    pub ver: &'a str,
    /// Round-trip time in nanoseconds (Go's `time.Duration`).
    pub rtt_nanos: u64,
    /// The server's *name*.
    pub server: &'a str,
    pub cluster: &'a str,
    pub alts: &'a [String],
    pub stop: &'a str,
    pub jwt: &'a str,
    pub issuer_key: &'a str,
    pub name_tag: &'a str,
    pub tags: &'a [String],
    /// `Client`, `Leafnode`, ...
    pub kind: &'a str,
    /// `nats`, `websocket`, `mqtt`.
    pub client_type: &'a str,
    /// The MQTT client id.
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub reply: &'a str,
}

/// nats-server's `getClientInfo(detailed)` for a client connection: the
/// account and round-trip time, and with `detailed` the connection's
/// details and this server's name. `use_info` runs while the connection's
/// meta lock is held: a per-connection lock, uncontended (its writers are
/// its session and monitoring), taken only for requests through imports.
pub fn with_client_info<R>(
    conn: &crate::server::conn::Connection,
    account: &str,
    detailed: bool,
    server: &str,
    use_info: impl FnOnce(&ClientInfo<'_>) -> R,
) -> R {
    let meta = conn.meta.lock().unwrap_or_else(|e| e.into_inner());
    let rtt = meta.rtt.map_or(0, |d| d.as_nanos().min(u128::from(u64::MAX)) as u64);
    if !detailed {
        return use_info(&ClientInfo::brief(account, rtt));
    }
    let start = crate::server::clock::rfc3339_nano(conn.start);
    let host = conn.addr.ip().to_string();
    use_info(&ClientInfo {
        start: &start,
        host: &host,
        id: conn.cid,
        acc: account,
        user: &meta.user,
        name: &meta.name,
        lang: &meta.lang,
        ver: &meta.version,
        rtt_nanos: rtt,
        server,
        kind: "Client",
        client_type: if conn.websocket { "websocket" } else { "nats" },
        ..ClientInfo::default()
    })
}

impl<'a> ClientInfo<'a> {
    /// What a responder learns without `share`: the account and the rtt.
    pub fn brief(acc: &'a str, rtt_nanos: u64) -> ClientInfo<'a> {
        ClientInfo { acc, rtt_nanos, ..ClientInfo::default() }
    }

    /// Appends the JSON object, exactly as Go's `json.Marshal` writes it.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut obj = JsonObject { out, first: true };
        obj.str("start", self.start);
        obj.str("host", self.host);
        obj.num("id", self.id);
        obj.str("acc", self.acc);
        obj.str("svc", self.svc);
        obj.str("user", self.user);
        obj.str("name", self.name);
        obj.str("lang", self.lang);
        obj.str("ver", self.ver);
        obj.num("rtt", self.rtt_nanos);
        obj.str("server", self.server);
        obj.str("cluster", self.cluster);
        obj.list("alts", self.alts);
        obj.str("stop", self.stop);
        obj.str("jwt", self.jwt);
        obj.str("issuer_key", self.issuer_key);
        obj.str("name_tag", self.name_tag);
        obj.list("tags", self.tags);
        obj.str("kind", self.kind);
        obj.str("client_type", self.client_type);
        obj.str("client_id", self.client_id);
        obj.str("nonce", self.nonce);
        obj.str("reply", self.reply);
        obj.out.push(b'}');
    }
}

/// Writes object members, leaving out empty ones.
struct JsonObject<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl JsonObject<'_> {
    fn key(&mut self, key: &str) {
        self.out.push(if self.first { b'{' } else { b',' });
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn str(&mut self, key: &str, value: &str) {
        if !value.is_empty() {
            self.key(key);
            write_go_string(value, self.out);
        }
    }

    fn num(&mut self, key: &str, value: u64) {
        if value != 0 {
            self.key(key);
            self.out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        }
    }

    fn list(&mut self, key: &str, values: &[String]) {
        if !values.is_empty() {
            self.key(key);
            for (i, v) in values.iter().enumerate() {
                self.out.push(if i == 0 { b'[' } else { b',' });
                write_go_string(v, self.out);
            }
            self.out.push(b']');
        }
    }
}

/// Appends `s` as a JSON string the way Go's `encoding/json` writes it:
/// `"` and `\` escaped, `\b \f \n \r \t` short, other control characters
/// as `\u00XX`, and the HTML-sensitive `<`, `>`, `&` as well as U+2028 and
/// U+2029 as `\uXXXX`.
pub fn write_go_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut plain_from = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            b'<' => Some(b"\\u003c"),
            b'>' => Some(b"\\u003e"),
            b'&' => Some(b"\\u0026"),
            // U+2028 and U+2029 are E2 80 A8 / E2 80 A9 in UTF-8.
            0xe2 if bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xa8 | 0xa9)) => {
                Some(if bytes[i + 2] == 0xa8 { b"\\u2028" } else { b"\\u2029" })
            }
            _ => None,
        };
        let control = b < 0x20 && escape.is_none();
        if escape.is_none() && !control {
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[plain_from..i]);
        match escape {
            Some(e) => {
                out.extend_from_slice(e);
                i += if e.len() == 6 && e[2] == b'2' { 3 } else { 1 };
            }
            None => {
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
                i += 1;
            }
        }
        plain_from = i;
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

/// Appends the header a responder gets: the request's header `existing`
/// (empty when the request has none) with its status line and its lines
/// other than `Nats-Request-Info`, then `Nats-Request-Info: <info>` and the
/// blank line. Returns the header's length (what HMSG announces).
pub fn write_request_header(existing: &[u8], info: &ClientInfo<'_>, out: &mut Vec<u8>) -> usize {
    let begin = out.len();
    let mut lines = HeaderLines { rest: existing };
    match lines.next() {
        Some(status) if status.starts_with(STATUS_LINE) => out.extend_from_slice(status),
        _ => out.extend_from_slice(STATUS_LINE),
    }
    out.extend_from_slice(b"\r\n");
    for line in lines {
        if line.is_empty() || is_request_info(line) {
            continue;
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(REQUEST_INFO_HEADER);
    out.extend_from_slice(b": ");
    info.write_json(out);
    out.extend_from_slice(b"\r\n\r\n");
    out.len() - begin
}

/// The value of the first `Nats-Request-Info` line of a header (any case),
/// for a request that already crossed an import.
pub fn find_request_info(header: &[u8]) -> Option<&[u8]> {
    let mut lines = HeaderLines { rest: header };
    lines.next()?;
    lines.find(|l| is_request_info(l)).map(|l| l[REQUEST_INFO_HEADER.len() + 1..].trim_ascii_start())
}

/// The info of a request that already crossed an import, as nats-server
/// reads it back (`json.Unmarshal` into `ClientInfo`: unknown keys dropped)
/// to pass it on with `svc` set. Owned, since JSON escapes must be undone;
/// only chained imports take this path.
#[derive(Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct ReceivedClientInfo {
    pub start: String,
    pub host: String,
    pub id: u64,
    pub acc: String,
    pub svc: String,
    pub user: String,
    pub name: String,
    pub lang: String,
    pub ver: String,
    pub rtt: u64,
    pub server: String,
    pub cluster: String,
    pub alts: Vec<String>,
    pub stop: String,
    pub jwt: String,
    pub issuer_key: String,
    pub name_tag: String,
    pub tags: Vec<String>,
    pub kind: String,
    pub client_type: String,
    pub client_id: String,
    pub nonce: String,
    pub reply: String,
}

impl ReceivedClientInfo {
    /// The info in a request's header, if it has one that parses.
    pub fn from_header(header: &[u8]) -> Option<ReceivedClientInfo> {
        serde_json::from_slice(find_request_info(header)?).ok()
    }

    /// The info to write again (set `svc` on the result for the next hop).
    pub fn as_info(&self) -> ClientInfo<'_> {
        ClientInfo {
            start: &self.start,
            host: &self.host,
            id: self.id,
            acc: &self.acc,
            svc: &self.svc,
            user: &self.user,
            name: &self.name,
            lang: &self.lang,
            ver: &self.ver,
            rtt_nanos: self.rtt,
            server: &self.server,
            cluster: &self.cluster,
            alts: &self.alts,
            stop: &self.stop,
            jwt: &self.jwt,
            issuer_key: &self.issuer_key,
            name_tag: &self.name_tag,
            tags: &self.tags,
            kind: &self.kind,
            client_type: &self.client_type,
            client_id: &self.client_id,
            nonce: &self.nonce,
            reply: &self.reply,
        }
    }
}

/// `Nats-Request-Info:` at the start of a header line, in any case.
fn is_request_info(line: &[u8]) -> bool {
    line.len() > REQUEST_INFO_HEADER.len()
        && line[REQUEST_INFO_HEADER.len()] == b':'
        && line[..REQUEST_INFO_HEADER.len()].eq_ignore_ascii_case(REQUEST_INFO_HEADER)
}

/// The `\r\n`-separated lines of a header block (the last one may lack
/// its terminator).
struct HeaderLines<'h> {
    rest: &'h [u8],
}

impl<'h> Iterator for HeaderLines<'h> {
    type Item = &'h [u8];

    fn next(&mut self) -> Option<&'h [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        match memchr::memmem::find(self.rest, b"\r\n") {
            Some(end) => {
                let line = &self.rest[..end];
                self.rest = &self.rest[end + 2..];
                Some(line)
            }
            None => Some(std::mem::take(&mut self.rest)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(existing: &[u8], info: &ClientInfo<'_>) -> String {
        let mut out = b"prior".to_vec();
        let n = write_request_header(existing, info, &mut out);
        assert_eq!(n, out.len() - 5);
        String::from_utf8(out[5..].to_vec()).expect("utf8")
    }

    #[test]
    fn brief_form_without_a_request_header() {
        // [service_import]: HMSG svc.one 1 _R_.<PRE6>.<RND6> 57 60, with an
        // rtt of 6 digits.
        let h = header(b"", &ClientInfo::brief("B", 289_451));
        assert_eq!(h, "NATS/1.0\r\nNats-Request-Info: {\"acc\":\"B\",\"rtt\":289451}\r\n\r\n");
        assert_eq!(h.len(), 57);
    }

    #[test]
    fn the_requests_own_lines_come_first() {
        // [service_import]: HMSG svc.hdr 1 _R_.<PRE6>.<RND6> 63 66.
        let h = header(b"NATS/1.0\r\nK: v\r\n\r\n", &ClientInfo::brief("B", 289_451));
        assert_eq!(h, "NATS/1.0\r\nK: v\r\nNats-Request-Info: {\"acc\":\"B\",\"rtt\":289451}\r\n\r\n");
        assert_eq!(h.len(), 63);
    }

    #[test]
    fn the_status_line_is_kept() {
        // Observed: `NATS/1.0 503 x` survives the import.
        let h = header(b"NATS/1.0 503 x\r\nK: v\r\n\r\n", &ClientInfo::brief("B", 289_451));
        assert_eq!(h, "NATS/1.0 503 x\r\nK: v\r\nNats-Request-Info: {\"acc\":\"B\",\"rtt\":289451}\r\n\r\n");
        // An empty header block is like none.
        let h = header(b"NATS/1.0\r\n\r\n", &ClientInfo::brief("B", 289_451));
        assert_eq!(h, "NATS/1.0\r\nNats-Request-Info: {\"acc\":\"B\",\"rtt\":289451}\r\n\r\n");
    }

    #[test]
    fn every_planted_request_info_goes() {
        let planted = b"NATS/1.0\r\nnats-request-info: x\r\nNats-Request-Info: {\"acc\":\"SYS\"}\r\nK: v\r\nNats-Request-Infos: keep\r\n\r\n";
        let h = header(planted, &ClientInfo::brief("B", 1));
        assert_eq!(
            h,
            "NATS/1.0\r\nK: v\r\nNats-Request-Infos: keep\r\nNats-Request-Info: {\"acc\":\"B\",\"rtt\":1}\r\n\r\n"
        );
    }

    #[test]
    fn zero_rtt_is_left_out() {
        assert_eq!(header(b"", &ClientInfo::brief("B", 0)), "NATS/1.0\r\nNats-Request-Info: {\"acc\":\"B\"}\r\n\r\n");
    }

    #[test]
    fn share_form_in_the_references_order() {
        // Observed with share: true, byte for byte (user and name chosen to
        // exercise Go's escaping).
        let info = ClientInfo {
            start: "2026-12-07T15:22:38.727093866Z",
            host: "127.0.0.1",
            id: 10,
            acc: "C",
            user: "c<\"x>",
            name: "req\u{1}\u{8}\u{c}\t<c>&",
            lang: "py",
            ver: "1.2",
            rtt_nanos: 301_528,
            server: "srv<&>",
            kind: "Client",
            client_type: "nats",
            ..ClientInfo::default()
        };
        let mut json = Vec::new();
        info.write_json(&mut json);
        let expected = r#"{"start":"2026-12-07T15:22:38.727093866Z","host":"127.0.0.1","id":10,"acc":"C","user":"c\u003c\"x\u003e","name":"req\u0001\b\f\t\u003cc\u003e\u0026","lang":"py","ver":"1.2","rtt":301528,"server":"srv\u003c\u0026\u003e","kind":"Client","client_type":"nats"}"#;
        assert_eq!(String::from_utf8(json).expect("utf8"), expected);
        // [service_import]'s shape: 293 header bytes with a 36-byte server
        // id as the server name, a 30-byte start and a 6-digit rtt.
        let transcript = ClientInfo {
            start: "2026-12-07T15:22:38.727093866Z",
            user: "c",
            name: "requester-c",
            lang: "python3",
            ver: "9.9.9",
            id: 11,
            server: "NCXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
            ..info
        };
        assert_eq!(transcript.server.len(), 56);
        assert_eq!(header(b"", &transcript).len(), 293);
    }

    #[test]
    fn every_key_in_order() {
        let alts = vec!["a".to_string(), "b".to_string()];
        let tags = vec!["t:1".to_string()];
        let info = ClientInfo {
            start: "s",
            host: "h",
            id: 1,
            acc: "A",
            svc: "S",
            user: "u",
            name: "n",
            lang: "l",
            ver: "v",
            rtt_nanos: 2,
            server: "srv",
            cluster: "c",
            alts: &alts,
            stop: "st",
            jwt: "j",
            issuer_key: "ik",
            name_tag: "nt",
            tags: &tags,
            kind: "Client",
            client_type: "nats",
            client_id: "ci",
            nonce: "no",
            reply: "r",
        };
        let mut json = Vec::new();
        info.write_json(&mut json);
        let keys: Vec<String> = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&json)
            .expect("valid json")
            .keys()
            .cloned()
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys.len(), 23);
        let text = String::from_utf8(json).expect("utf8");
        let order = [
            "start",
            "host",
            "id",
            "acc",
            "svc",
            "user",
            "name",
            "lang",
            "ver",
            "rtt",
            "server",
            "cluster",
            "alts",
            "stop",
            "jwt",
            "issuer_key",
            "name_tag",
            "tags",
            "kind",
            "client_type",
            "client_id",
            "nonce",
            "reply",
        ];
        let positions: Vec<usize> =
            order.iter().map(|k| text.find(&format!("\"{k}\":")).expect("key present")).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.contains(r#""alts":["a","b"]"#) && text.contains(r#""tags":["t:1"]"#));
    }

    #[test]
    fn go_string_escapes() {
        let mut out = Vec::new();
        write_go_string("a\u{2028}b\u{2029}c\u{7f}é\u{1f}\\", &mut out);
        assert_eq!(String::from_utf8(out).expect("utf8"), "\"a\\u2028b\\u2029c\u{7f}é\\u001f\\\\\"");
    }

    #[test]
    fn a_chained_request_passes_its_info_on_with_svc() {
        let first = ClientInfo {
            start: "2026-12-07T15:22:38.727093866Z",
            id: 10,
            acc: "C",
            user: "c<\"x>",
            rtt_nanos: 5,
            kind: "Client",
            ..ClientInfo::default()
        };
        let mut hop1 = Vec::new();
        write_request_header(b"NATS/1.0\r\nK: v\r\n\r\n", &first, &mut hop1);
        let received = ReceivedClientInfo::from_header(&hop1).expect("parses");
        let mut next = received.as_info();
        next.svc = "B";
        let mut hop2 = Vec::new();
        write_request_header(&hop1, &next, &mut hop2);
        let expected = concat!(
            "NATS/1.0\r\nK: v\r\nNats-Request-Info: {\"start\":\"2026-12-07T15:22:38.727093866Z\",",
            "\"id\":10,\"acc\":\"C\",\"svc\":\"B\",\"user\":\"c\\u003c\\\"x\\u003e\",\"rtt\":5,\"kind\":\"Client\"}\r\n\r\n"
        );
        assert_eq!(String::from_utf8(hop2).expect("utf8"), expected);
        // Unknown keys are dropped, as Go's Unmarshal drops them.
        let odd = b"NATS/1.0\r\nNats-Request-Info: {\"acc\":\"X\",\"new_key\":[1]}\r\n\r\n";
        assert_eq!(ReceivedClientInfo::from_header(odd).map(|r| r.acc), Some("X".to_string()));
        assert_eq!(ReceivedClientInfo::from_header(b"NATS/1.0\r\nNats-Request-Info: nope\r\n\r\n"), None);
    }

    #[test]
    fn finds_the_incoming_request_info() {
        let h = b"NATS/1.0\r\nK: v\r\nnats-request-info:  {\"acc\":\"B\"}\r\n\r\n";
        assert_eq!(find_request_info(h), Some(&b"{\"acc\":\"B\"}"[..]));
        assert_eq!(find_request_info(b"NATS/1.0\r\nK: v\r\n\r\n"), None);
        assert_eq!(find_request_info(b""), None);
    }
}
