//! The opening handshake (RFC 6455 §4.2), answered byte for byte as
//! nats-server 2.15 answers it: its checks in its order, its HTTP errors
//! (Go's `http.Error` for the handler's, Go's server's own for requests it
//! cannot parse), its `101 Switching Protocols`, and what the request tells
//! about the client (compression, masking, browser, address, cookies).

use std::net::IpAddr;

use base64::Engine;

use super::settings::WsSettings;
use crate::origin;
use crate::secret::Secret;

/// Longest request head read (Go's `DefaultMaxHeaderBytes` plus its slack).
pub const MAX_REQUEST: usize = (1 << 20) + 4096;

const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// What the handshake learned about the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WsMeta {
    /// permessage-deflate both ways.
    pub compress: bool,
    /// `Nats-No-Masking: true`: the client sends unmasked frames.
    pub no_masking: bool,
    /// A browser (`User-Agent: Mozilla/...`): frames are kept to 4 KiB.
    pub browser: bool,
    /// Safari: compressed messages are never fragmented.
    pub no_compressed_fragments: bool,
    /// `X-Forwarded-For`, when it is one IP address.
    pub client_ip: Option<IpAddr>,
    pub cookies: Cookies,
}

/// Values of the configured cookies, standing in for missing CONNECT fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cookies {
    pub jwt: Option<String>,
    pub user: Option<String>,
    pub pass: Option<Secret>,
    pub token: Option<Secret>,
}

/// The handshake's verdict on one request.
#[derive(Debug)]
pub enum Verdict {
    /// `101 Switching Protocols`: write `response` and speak websocket.
    Upgrade { response: Vec<u8>, meta: WsMeta, kind: Kind },
    /// Go's `http.Error` from the handler: `response` is the whole answer;
    /// the connection stays open for another request unless `close`.
    Refuse { response: Vec<u8>, reason: String, close: bool },
}

/// Who asked: a client, or (by the path) a leaf node or an MQTT client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Client,
    Leaf,
}

/// A request head that does not parse: Go's server answers it itself and
/// closes the connection.
pub fn malformed(missing_host: bool) -> Vec<u8> {
    let text = if missing_host { "400 Bad Request: missing required Host header" } else { "400 Bad Request" };
    format!("HTTP/1.1 {text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n{text}")
        .into_bytes()
}

/// The request head at the start of `buf`.
pub enum Parsed<'b, 'h> {
    Incomplete,
    /// Not HTTP/1.x (Go's own 400).
    Malformed,
    Complete {
        len: usize,
        request: httparse::Request<'h, 'b>,
    },
}

/// Parses a request head into `headers` (which bounds how many are read).
pub fn parse<'b, 'h>(buf: &'b [u8], headers: &'h mut [httparse::Header<'b>]) -> Parsed<'b, 'h> {
    let mut req = httparse::Request::new(headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => Parsed::Complete { len, request: req },
        Ok(httparse::Status::Partial) => Parsed::Incomplete,
        Err(_) => Parsed::Malformed,
    }
}

/// The first value of header `name` (Go's `Header.Get`).
fn get<'a>(req: &httparse::Request<'_, 'a>, name: &str) -> Option<&'a str> {
    req.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).and_then(|h| std::str::from_utf8(h.value).ok())
}

/// Every value of header `name`.
fn all<'a, 'r>(req: &'r httparse::Request<'_, 'a>, name: &'r str) -> impl Iterator<Item = &'a str> + 'r {
    req.headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .filter_map(|h| std::str::from_utf8(h.value).ok())
}

/// nats-server's `wsHeaderContains`: a comma-separated token of any value
/// of the header equals `value`, ignoring case.
fn contains_token(req: &httparse::Request<'_, '_>, name: &str, value: &str) -> bool {
    all(req, name).any(|v| v.split(',').any(|t| t.trim_matches([' ', '\t']).eq_ignore_ascii_case(value)))
}

/// Whether the client offers permessage-deflate (any parameter of any
/// offered extension, as nats-server looks).
fn offers_deflate(req: &httparse::Request<'_, '_>) -> bool {
    all(req, "Sec-WebSocket-Extensions").any(|list| {
        list.split(',')
            .any(|ext| ext.split(';').any(|p| p.trim_matches([' ', '\t']).eq_ignore_ascii_case("permessage-deflate")))
    })
}

/// `Sec-WebSocket-Accept` for a client's key.
pub fn accept_key(key: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key.as_bytes());
    ctx.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(ctx.finish().as_ref())
}

/// Go's `http.Error(w, http.StatusText(status), status)` after nats-server
/// set `Sec-Websocket-Version: 13`; `close`: the request asked for it, and
/// Go says so.
pub fn http_error(http10: bool, status: u16, date: &str, close: bool) -> Vec<u8> {
    let text = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Internal Server Error",
    };
    let proto = if http10 { "HTTP/1.0" } else { "HTTP/1.1" };
    format!(
        "{proto} {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\n\
         X-Content-Type-Options: nosniff\r\nDate: {date}\r\nContent-Length: {}\r\n{}\r\n{text}\n",
        text.len() + 1,
        if close && !http10 { "Connection: close\r\n" } else { "" },
    )
    .into_bytes()
}

/// The `Date` header's value now (RFC 9110 IMF-fixdate).
pub fn http_date() -> String {
    jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Go's `http.Request.Cookies`: every `name=value` pair of every `Cookie`
/// header, quotes around a value removed; pairs with an invalid name skipped.
fn cookies<'a>(req: &httparse::Request<'_, 'a>) -> Vec<(&'a str, &'a str)> {
    let mut out = Vec::new();
    for line in all(req, "Cookie") {
        for part in line.split(';') {
            let part = part.trim_matches(' ');
            let Some((name, value)) = part.split_once('=') else { continue };
            let valid_name =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
            if !valid_name {
                continue;
            }
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            if value.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b';' && b != b'\\') {
                out.push((name, value));
            }
        }
    }
    out
}

/// nats-server's `checkOrigin`: nothing to check without an `Origin` (or
/// `Sec-WebSocket-Origin`) header; otherwise the same origin and/or one of
/// the allowed ones.
fn check_origin(req: &httparse::Request<'_, '_>, s: &WsSettings, tls: bool) -> Result<(), String> {
    if !s.same_origin && s.allowed_origins.is_empty() {
        return Ok(());
    }
    let Some(origin) = get(req, "Origin").filter(|o| !o.is_empty()).or(get(req, "Sec-WebSocket-Origin")) else {
        return Ok(());
    };
    if origin.is_empty() {
        return Ok(());
    }
    let (scheme, host) = origin::parse_request_uri(origin)?;
    let (oh, op) = origin::host_and_port(scheme == "https", &host)?;
    if s.same_origin {
        let (rh, rp) = origin::host_and_port(tls, get(req, "Host").unwrap_or(""))?;
        let rs = if tls { "https" } else { "http" };
        if oh != rh || op != rp || !scheme.eq_ignore_ascii_case(rs) {
            return Err("not same origin".into());
        }
    }
    if !s.allowed_origins.is_empty()
        && !s.allowed_origins.iter().any(|a| a.host == oh && a.scheme == scheme && a.port == op)
    {
        return Err("not in the allowed list".into());
    }
    Ok(())
}

/// Answers one parsed request, as nats-server's `wsUpgrade`.
pub fn answer(req: &httparse::Request<'_, '_>, s: &WsSettings, tls: bool) -> Verdict {
    let http10 = req.version == Some(0);
    let wants_close = contains_token(req, "Connection", "close");
    let refuse = |status: u16, reason: &str| Verdict::Refuse {
        response: http_error(http10, status, &http_date(), wants_close),
        reason: reason.to_string(),
        close: http10 || wants_close,
    };
    let path = req.path.unwrap_or("/");
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let kind = if path.ends_with("/leafnode") {
        Kind::Leaf
    } else if path.ends_with("/mqtt") {
        // rnats has no MQTT listener, so its websocket endpoint is never on.
        return refuse(404, "mqtt websocket endpoint not enabled");
    } else {
        Kind::Client
    };
    if req.method != Some("GET") {
        return refuse(405, "request method must be GET");
    }
    if get(req, "Host").is_none_or(str::is_empty) {
        return refuse(400, "'Host' missing in request");
    }
    if !contains_token(req, "Upgrade", "websocket") {
        return refuse(400, "invalid value for header 'Upgrade'");
    }
    if !contains_token(req, "Connection", "Upgrade") {
        return refuse(400, "invalid value for header 'Connection'");
    }
    let key = match get(req, "Sec-WebSocket-Key") {
        Some(k) if !k.is_empty() => k,
        _ => return refuse(400, "key missing"),
    };
    if !base64::engine::general_purpose::STANDARD.decode(key).is_ok_and(|d| d.len() == 16) {
        return refuse(400, "invalid websocket key");
    }
    if !contains_token(req, "Sec-WebSocket-Version", "13") {
        return refuse(400, "invalid version");
    }
    if let Err(e) = check_origin(req, s, tls) {
        return refuse(403, &format!("origin not allowed: {e}"));
    }
    let compress = s.compression && offers_deflate(req);
    let no_masking = get(req, "Nats-No-Masking") == Some("true");
    let mut response = Vec::with_capacity(256);
    response.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
    );
    response.extend_from_slice(accept_key(key).as_bytes());
    response.extend_from_slice(b"\r\n");
    if compress {
        response.extend_from_slice(
            b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n",
        );
    }
    if no_masking {
        response.extend_from_slice(b"Nats-No-Masking: true\r\n");
    }
    response.extend_from_slice(s.raw_headers.as_bytes());
    response.extend_from_slice(b"\r\n");

    let mut meta = WsMeta { compress, no_masking, ..WsMeta::default() };
    meta.client_ip = all(req, "X-Forwarded-For").next().and_then(|ip| ip.parse().ok());
    if kind == Kind::Client {
        if let Some(ua) = get(req, "User-Agent").filter(|ua| ua.starts_with("Mozilla/")) {
            meta.browser = true;
            meta.no_compressed_fragments = compress && ua.contains("Version/") && ua.contains("Safari/");
        }
        for (name, value) in cookies(req) {
            let named = |cookie: &Option<String>| cookie.as_deref() == Some(name);
            let c = &mut meta.cookies;
            if named(&s.jwt_cookie) {
                c.jwt = Some(value.to_string());
            } else if named(&s.user_cookie) {
                c.user = Some(value.to_string());
            } else if named(&s.pass_cookie) {
                c.pass = Some(Secret::from(value));
            } else if named(&s.token_cookie) {
                c.token = Some(Secret::from(value));
            }
        }
    }
    Verdict::Upgrade { response, meta, kind }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Websocket;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn settings(configure: impl FnOnce(&mut Websocket)) -> WsSettings {
        let mut w = Websocket { no_tls: true, ..Websocket::default() };
        configure(&mut w);
        WsSettings::new(&w)
    }

    fn run(text: &str, s: &WsSettings, tls: bool) -> Verdict {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        match parse(text.as_bytes(), &mut headers) {
            Parsed::Complete { request, .. } => answer(&request, s, tls),
            _ => panic!("does not parse: {text:?}"),
        }
    }

    fn upgrade(extra: &str) -> String {
        format!(
            "GET / HTTP/1.1\r\nHost: h:8080\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        )
    }

    fn refused(v: Verdict) -> (u16, String) {
        match v {
            Verdict::Refuse { response, reason, .. } => {
                let text = String::from_utf8(response).unwrap();
                (text[9..12].parse().unwrap(), reason)
            }
            Verdict::Upgrade { .. } => panic!("upgraded"),
        }
    }

    fn upgraded(v: Verdict) -> (String, WsMeta) {
        match v {
            Verdict::Upgrade { response, meta, .. } => (String::from_utf8(response).unwrap(), meta),
            Verdict::Refuse { reason, .. } => panic!("refused: {reason}"),
        }
    }

    #[test]
    fn the_rfc_example_key() {
        assert_eq!(accept_key(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn refusals_in_the_reference_order() {
        let s = settings(|_| {});
        let cases = [
            ("POST / HTTP/1.1\r\nHost: h\r\n\r\n", 405, "request method must be GET"),
            ("GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "invalid value for header 'Upgrade'"),
            ("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\n\r\n", 400, "invalid value for header 'Connection'"),
            ("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", 400, "key missing"),
            (
                "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Key: abc\r\n\r\n",
                400,
                "invalid websocket key",
            ),
            (
                "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
                400,
                "invalid version",
            ),
            ("GET /mqtt HTTP/1.1\r\nHost: h\r\n\r\n", 404, "mqtt websocket endpoint not enabled"),
        ];
        for (text, status, reason) in cases {
            assert_eq!(refused(run(text, &s, false)), (status, reason.to_string()), "{text:?}");
        }
    }

    #[test]
    fn the_error_answer_is_go_http_error() {
        let r = String::from_utf8(http_error(false, 405, "Mon, 07 Dec 2026 02:26:08 GMT", false)).unwrap();
        assert_eq!(
            r,
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\n\
             X-Content-Type-Options: nosniff\r\nDate: Mon, 07 Dec 2026 02:26:08 GMT\r\nContent-Length: 19\r\n\r\nMethod Not Allowed\n"
        );
        assert_eq!(http_date().len(), "Mon, 07 Dec 2026 02:26:08 GMT".len());
        assert!(http_date().ends_with(" GMT"));
    }

    #[test]
    fn the_switching_protocols_answer() {
        let s = settings(|w| {
            w.compression = true;
            w.headers.insert("Strict-Transport-Security".into(), "max-age=1".into());
        });
        let (r, meta) = upgraded(run(
            &upgrade(
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nNats-No-Masking: true\r\n",
            ),
            &s,
            false,
        ));
        assert_eq!(
            r,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
             Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\
             Nats-No-Masking: true\r\nStrict-Transport-Security: max-age=1\r\n\r\n"
        );
        assert!(meta.compress && meta.no_masking && !meta.browser);
        // Without compression configured, an offer is not taken.
        let (r, meta) =
            upgraded(run(&upgrade("Sec-WebSocket-Extensions: permessage-deflate\r\n"), &settings(|_| {}), false));
        assert!(!r.contains("Extensions") && !meta.compress);
    }

    #[test]
    fn origins_are_checked_only_when_sent() {
        let s = settings(|w| w.allowed_origins = vec!["https://app.example".into(), "http://h:8080".into()]);
        upgraded(run(&upgrade(""), &s, false));
        upgraded(run(&upgrade("Origin: https://APP.example:443\r\n"), &s, false));
        upgraded(run(&upgrade("Sec-WebSocket-Origin: http://h:8080\r\n"), &s, false));
        assert_eq!(
            refused(run(&upgrade("Origin: http://app.example\r\n"), &s, false)),
            (403, "origin not allowed: not in the allowed list".into())
        );
        assert_eq!(
            refused(run(&upgrade("Origin: nope\r\n"), &s, false)),
            (403, r#"origin not allowed: parse "nope": invalid URI for request"#.into())
        );
        let same = settings(|w| w.same_origin = true);
        upgraded(run(&upgrade("Origin: http://h:8080\r\n"), &same, false));
        upgraded(run(&upgrade("Origin: https://h:8080\r\n"), &same, true));
        assert_eq!(
            refused(run(&upgrade("Origin: http://h:8081\r\n"), &same, false)).1,
            "origin not allowed: not same origin"
        );
        assert_eq!(
            refused(run(&upgrade("Origin: http://h:8080\r\n"), &same, true)).1,
            "origin not allowed: not same origin"
        );
    }

    #[test]
    fn what_the_request_tells_about_the_client() {
        let s = settings(|w| {
            w.compression = true;
            w.user_cookie = Some("u".into());
            w.pass_cookie = Some("p".into());
            w.token_cookie = Some("t".into());
            w.jwt_cookie = Some("j".into());
        });
        let (_, meta) = upgraded(run(
            &upgrade(
                "User-Agent: Mozilla/5.0 (Macintosh) Version/17.0 Safari/605\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\
                 X-Forwarded-For: 10.1.2.3\r\nCookie: other=1; u=alice; p=\"s3cret\"\r\nCookie: t=tok; j=jwt\r\n",
            ),
            &s,
            false,
        ));
        assert!(meta.browser && meta.no_compressed_fragments);
        assert_eq!(meta.client_ip, Some("10.1.2.3".parse().unwrap()));
        assert_eq!(
            meta.cookies,
            Cookies {
                jwt: Some("jwt".into()),
                user: Some("alice".into()),
                pass: Some("s3cret".into()),
                token: Some("tok".into())
            }
        );
        // A list of addresses is not one address: nats-server ignores it.
        let (_, meta) =
            upgraded(run(&upgrade("X-Forwarded-For: 10.1.2.3, 10.0.0.1\r\nUser-Agent: curl/8\r\n"), &s, false));
        assert_eq!(meta.client_ip, None);
        assert!(!meta.browser);
    }

    #[test]
    fn unparsable_requests_get_go_servers_own_answer() {
        let mut headers = [httparse::EMPTY_HEADER; 8];
        assert!(matches!(parse(b"garbage\r\n\r\n", &mut headers), Parsed::Malformed));
        let mut headers = [httparse::EMPTY_HEADER; 8];
        assert!(matches!(parse(b"GET / HTTP/1.1\r\nHost: x", &mut headers), Parsed::Incomplete));
        assert_eq!(
            String::from_utf8(malformed(true)).unwrap(),
            "HTTP/1.1 400 Bad Request: missing required Host header\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Connection: close\r\n\r\n400 Bad Request: missing required Host header"
        );
    }
}
