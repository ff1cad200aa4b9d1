//! A small blocking HTTP/1.1 GET client for the monitoring port: one request
//! per connection (`Connection: close`), bodies sized by `Content-Length`,
//! chunked, or read to the end; every read and write under a timeout.
//!
//! The exchange is written over any `Read + Write` stream: plain TCP for
//! `-m`, or for HTTPS (`-ms`) a rustls client connection wrapped around the
//! same TCP stream, its handshake completed first so that a certificate
//! problem is reported as such rather than as a failed write.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// The largest response accepted: a `/connz` of 1024 connections with their
/// subscription lists is a few MB; this bounds a misbehaving peer.
pub const MAX_BODY: usize = 64 << 20;
const MAX_HEAD: usize = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// Where the monitoring endpoints are served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// `host:port`, with an IPv6 literal in brackets.
    pub fn authority(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub fn url(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        format!("{scheme}://{}", self.authority())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot reach {url}: {source}")]
    Connect { url: String, source: io::Error },
    #[error("{url}: {source}")]
    Io { url: String, source: io::Error },
    #[error("{url}: HTTP {code}: {message}")]
    Status { url: String, code: u16, message: String },
    #[error("{url}: malformed HTTP response: {what}")]
    Malformed { url: String, what: String },
    /// The TLS handshake failed; `hint` says what to try, when known.
    #[error("{url}: TLS handshake failed: {error}{}", hint.map(|h| format!(" ({h})")).unwrap_or_default())]
    Tls { url: String, error: String, hint: Option<&'static str> },
}

/// A response before its status is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub endpoint: Endpoint,
    /// Bound on connecting and on each read and write.
    pub timeout: Duration,
    /// For [`Scheme::Https`]: how to verify the server and what to present.
    pub tls: Option<Arc<ClientConfig>>,
}

impl Client {
    /// A client for an HTTP endpoint (an HTTPS one needs [`Client::https`]).
    pub fn new(endpoint: Endpoint, timeout: Duration) -> Client {
        Client { endpoint, timeout, tls: None }
    }

    /// A client for an HTTPS endpoint with the configuration from
    /// [`super::tls::client_config`].
    pub fn https(endpoint: Endpoint, timeout: Duration, tls: Arc<ClientConfig>) -> Client {
        Client { endpoint: Endpoint { scheme: Scheme::Https, ..endpoint }, timeout, tls: Some(tls) }
    }

    /// GETs `path` (with its query) and returns the body of a 200 reply.
    /// Any other status is an error carrying the first line of the body,
    /// where nats-server explains (`invalid sorting option: bogus`).
    pub fn get(&self, path: &str) -> Result<Vec<u8>, HttpError> {
        let url = format!("{}{path}", self.endpoint.url());
        let stream = self.connect().map_err(|source| HttpError::Connect { url: url.clone(), source })?;
        let io_err = |source| HttpError::Io { url: url.clone(), source };
        stream.set_read_timeout(Some(self.timeout)).map_err(io_err)?;
        stream.set_write_timeout(Some(self.timeout)).map_err(io_err)?;
        let authority = self.endpoint.authority();
        let exchanged = match self.endpoint.scheme {
            Scheme::Http => exchange(stream, &authority, path),
            Scheme::Https => exchange(self.handshake(stream, &url)?, &authority, path),
        };
        let resp = exchanged.map_err(|e| match e {
            ExchangeError::Io(source) => HttpError::Io { url: url.clone(), source },
            ExchangeError::Malformed(what) => HttpError::Malformed { url: url.clone(), what },
        })?;
        if resp.code != 200 {
            let text = String::from_utf8_lossy(&resp.body);
            let message: String = text.lines().next().unwrap_or("").chars().take(200).collect();
            return Err(HttpError::Status { url, code: resp.code, message });
        }
        Ok(resp.body)
    }

    /// Completes the TLS handshake on `tcp` (within the socket timeouts).
    fn handshake(&self, mut tcp: TcpStream, url: &str) -> Result<StreamOwned<ClientConnection, TcpStream>, HttpError> {
        let tls_err = |error: String, hint| HttpError::Tls { url: url.to_string(), error, hint };
        let config =
            self.tls.clone().ok_or_else(|| tls_err("no TLS configuration for an https endpoint".into(), None))?;
        let name = super::tls::server_name(&self.endpoint.host).map_err(|e| tls_err(e, None))?;
        let mut conn = ClientConnection::new(config, name).map_err(|e| tls_err(e.to_string(), None))?;
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut tcp) {
                // rustls reports its own failures as InvalidData wrapping
                // a rustls::Error; anything else is the socket's.
                return Err(match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                    Some(tls) => tls_err(tls.to_string(), super::tls::hint(tls)),
                    None if e.kind() == io::ErrorKind::UnexpectedEof => {
                        tls_err("the server closed the connection".into(), Some("is this the HTTPS port?"))
                    }
                    None => HttpError::Io { url: url.to_string(), source: e },
                });
            }
        }
        Ok(StreamOwned::new(conn, tcp))
    }

    fn connect(&self) -> io::Result<TcpStream> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name resolves to no address");
        for addr in (self.endpoint.host.as_str(), self.endpoint.port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

#[derive(Debug)]
pub enum ExchangeError {
    Io(io::Error),
    Malformed(String),
}

impl From<io::Error> for ExchangeError {
    fn from(e: io::Error) -> Self {
        ExchangeError::Io(e)
    }
}

fn malformed<T>(what: impl Into<String>) -> Result<T, ExchangeError> {
    Err(ExchangeError::Malformed(what.into()))
}

/// Sends one GET on `stream` and reads the whole response.
pub fn exchange<S: Read + Write>(mut stream: S, authority: &str, path: &str) -> Result<Response, ExchangeError> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: rnats-top/{}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    stream.write_all(request.as_bytes())?;
    stream.flush()?;
    read_response(&mut BufReader::new(stream))
}

/// One line up to CRLF (or LF), without it; counts against `budget`.
fn read_line<R: BufRead>(r: &mut R, budget: &mut usize) -> Result<String, ExchangeError> {
    let mut line = Vec::new();
    let n = r.by_ref().take(*budget as u64 + 1).read_until(b'\n', &mut line)?;
    if n > *budget {
        return malformed("header section too large");
    }
    *budget -= n;
    if !line.ends_with(b"\n") {
        return Err(ExchangeError::Io(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-response")));
    }
    line.pop();
    if line.ends_with(b"\r") {
        line.pop();
    }
    String::from_utf8(line).or_else(|_| malformed("non-UTF-8 header line"))
}

/// Reads a response: status line, headers, body.
pub fn read_response<R: BufRead>(r: &mut R) -> Result<Response, ExchangeError> {
    let mut budget = MAX_HEAD;
    let status = read_line(r, &mut budget)?;
    let mut parts = status.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !version.starts_with("HTTP/1.") {
        return malformed(format!("status line {status:?}"));
    }
    let code: u16 = match code.parse() {
        Ok(c) if (100..600).contains(&c) => c,
        _ => return malformed(format!("status line {status:?}")),
    };
    let mut length = None;
    let mut chunked = false;
    loop {
        let line = read_line(r, &mut budget)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return malformed(format!("header line {line:?}"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            match value.parse::<usize>() {
                Ok(n) => length = Some(n),
                Err(_) => return malformed(format!("Content-Length {value:?}")),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.split(',').any(|v| v.trim().eq_ignore_ascii_case("chunked"));
        }
    }
    let body = if chunked {
        read_chunked(r)?
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return malformed(format!("body of {n} bytes is over the {MAX_BODY}-byte limit"));
        }
        let mut body = vec![0; n];
        r.read_exact(&mut body)?;
        body
    } else {
        let mut body = Vec::new();
        r.take(MAX_BODY as u64 + 1).read_to_end(&mut body)?;
        if body.len() > MAX_BODY {
            return malformed(format!("body over the {MAX_BODY}-byte limit"));
        }
        body
    };
    Ok(Response { code, body })
}

fn read_chunked<R: BufRead>(r: &mut R) -> Result<Vec<u8>, ExchangeError> {
    let mut body = Vec::new();
    let mut budget = MAX_HEAD;
    loop {
        let line = read_line(r, &mut budget)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size, 16) else {
            return malformed(format!("chunk size {line:?}"));
        };
        if size == 0 {
            // Trailer fields, then the empty line that ends the message.
            while !read_line(r, &mut budget)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return malformed(format!("body over the {MAX_BODY}-byte limit"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        if !read_line(r, &mut budget)?.is_empty() {
            return malformed("chunk not followed by CRLF");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Response, ExchangeError> {
        read_response(&mut io::Cursor::new(raw.as_bytes().to_vec()))
    }

    #[test]
    fn content_length_body() {
        let r = parse("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}trailing")
            .expect("parses");
        assert_eq!((r.code, r.body.as_slice()), (200, &b"{}"[..]));
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{\"a\"\r\nA\r\n:12345678}\r\n0\r\nX-Trailer: y\r\n\r\n";
        let r = parse(raw).expect("parses");
        assert_eq!(String::from_utf8_lossy(&r.body), "{\"a\":12345678}");
    }

    #[test]
    fn body_to_eof_without_length() {
        let r = parse("HTTP/1.0 404 Not Found\nContent-Type: text/plain\n\n404 page not found\n").expect("parses");
        assert_eq!((r.code, r.body.as_slice()), (404, &b"404 page not found\n"[..]));
    }

    #[test]
    fn bad_responses_are_errors_not_panics() {
        for raw in [
            "",
            "garbage\r\n\r\n",
            "HTTP/1.1 abc OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
        ] {
            assert!(parse(raw).is_err(), "{raw:?}");
        }
        let huge = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(matches!(parse(&huge), Err(ExchangeError::Malformed(_))));
    }

    #[test]
    fn request_names_host_and_closes() {
        struct Duplex {
            input: io::Cursor<Vec<u8>>,
            output: Vec<u8>,
        }
        impl Read for Duplex {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.input.read(buf)
            }
        }
        impl Write for Duplex {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.output.write(b)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut d =
            Duplex { input: io::Cursor::new(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()), output: vec![] };
        exchange(&mut d, "[::1]:8222", "/connz?limit=5").expect("exchange");
        let req = String::from_utf8_lossy(&d.output);
        assert!(req.starts_with("GET /connz?limit=5 HTTP/1.1\r\nHost: [::1]:8222\r\n"), "{req}");
        assert!(req.contains("\r\nConnection: close\r\n") && req.ends_with("\r\n\r\n"), "{req}");
        let e = Endpoint { scheme: Scheme::Http, host: "::1".into(), port: 8222 };
        assert_eq!(e.url(), "http://[::1]:8222");
    }
}
