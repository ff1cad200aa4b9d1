//! A small HTTP GET client for the monitoring port: hyper's HTTP/1.1 client
//! connection (one request per connection, `Connection: close`), driven by a
//! single-threaded tokio runtime per request so `rnats top`'s poller thread
//! can stay blocking; every step under the timeout.
//!
//! For HTTPS (`-ms`) the TLS handshake is completed first, so that a
//! certificate problem is reported as such rather than as a failed request.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{ACCEPT, CONNECTION, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The largest response accepted: a `/connz` of 1024 connections with their
/// subscription lists is a few MB; this bounds a misbehaving peer.
pub const MAX_BODY: usize = 64 << 20;

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
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| HttpError::Io { url: url.clone(), source })?;
        let resp = runtime.block_on(self.fetch(path, &url))?;
        if resp.code != 200 {
            let text = String::from_utf8_lossy(&resp.body);
            let message: String = text.lines().next().unwrap_or("").chars().take(200).collect();
            return Err(HttpError::Status { url, code: resp.code, message });
        }
        Ok(resp.body)
    }

    async fn fetch(&self, path: &str, url: &str) -> Result<Response, HttpError> {
        let tcp = self.connect().await.map_err(|source| HttpError::Connect { url: url.to_string(), source })?;
        let authority = self.endpoint.authority();
        let exchanged = match self.endpoint.scheme {
            Scheme::Http => exchange(tcp, &authority, path, self.timeout).await,
            Scheme::Https => exchange(self.handshake(tcp, url).await?, &authority, path, self.timeout).await,
        };
        exchanged.map_err(|e| match e {
            ExchangeError::Io(source) => HttpError::Io { url: url.to_string(), source },
            ExchangeError::Malformed(what) => HttpError::Malformed { url: url.to_string(), what },
        })
    }

    /// Completes the TLS handshake on `tcp` (within the timeout).
    async fn handshake(
        &self,
        tcp: TcpStream,
        url: &str,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, HttpError> {
        let tls_err = |error: String, hint| HttpError::Tls { url: url.to_string(), error, hint };
        let config =
            self.tls.clone().ok_or_else(|| tls_err("no TLS configuration for an https endpoint".into(), None))?;
        let name = super::tls::server_name(&self.endpoint.host).map_err(|e| tls_err(e, None))?;
        let handshake = TlsConnector::from(config).connect(name, tcp);
        match tokio::time::timeout(self.timeout, handshake).await {
            Ok(Ok(stream)) => Ok(stream),
            // rustls reports its own failures as InvalidData wrapping a
            // rustls::Error; anything else is the socket's.
            Ok(Err(e)) => Err(match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                Some(tls) => tls_err(tls.to_string(), super::tls::hint(tls)),
                None if e.kind() == io::ErrorKind::UnexpectedEof => {
                    tls_err("the server closed the connection".into(), Some("is this the HTTPS port?"))
                }
                None => HttpError::Io { url: url.to_string(), source: e },
            }),
            Err(_) => Err(HttpError::Io { url: url.to_string(), source: timed_out("the TLS handshake") }),
        }
    }

    /// The first address of the host that accepts, each tried within the timeout.
    async fn connect(&self) -> io::Result<TcpStream> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name resolves to no address");
        for addr in tokio::net::lookup_host((self.endpoint.host.as_str(), self.endpoint.port)).await? {
            match tokio::time::timeout(self.timeout, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => return Ok(s),
                Ok(Err(e)) => last = e,
                Err(_) => last = timed_out("connecting"),
            }
        }
        Err(last)
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
}

#[derive(Debug)]
pub enum ExchangeError {
    Io(io::Error),
    Malformed(String),
}

impl From<hyper::Error> for ExchangeError {
    fn from(e: hyper::Error) -> Self {
        // A socket error underneath is the socket's; the rest is what the
        // peer sent (or failed to send: a message cut short).
        let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<io::Error>() {
                return ExchangeError::Io(io::Error::new(io.kind(), io.to_string()));
            }
            source = s.source();
        }
        ExchangeError::Malformed(e.to_string())
    }
}

/// Sends one GET on `stream` and reads the whole response, each of the two
/// within `timeout`.
pub async fn exchange<S>(stream: S, authority: &str, path: &str, timeout: Duration) -> Result<Response, ExchangeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let within = |what: &'static str| move |_| ExchangeError::Io(timed_out(what));
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // The connection's reads and writes: ends with the response (the server
    // closes), or when this request is dropped.
    let driver = tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header(HOST, authority)
        .header(USER_AGENT, concat!("rnats-top/", env!("CARGO_PKG_VERSION")))
        .header(ACCEPT, "application/json")
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| ExchangeError::Malformed(format!("request for {path:?}: {e}")))?;
    let response =
        tokio::time::timeout(timeout, sender.send_request(request)).await.map_err(within("the response"))??;
    let code = response.status().as_u16();
    let collected = tokio::time::timeout(timeout, Limited::new(response.into_body(), MAX_BODY).collect())
        .await
        .map_err(within("reading the body"))?;
    driver.abort();
    let body = match collected {
        Ok(c) => c.to_bytes().to_vec(),
        Err(e) => match e.downcast::<hyper::Error>() {
            Ok(h) => return Err(ExchangeError::from(*h)),
            // Limited's error: the body is too large.
            Err(other) => return Err(ExchangeError::Malformed(format!("body: {other} (limit {MAX_BODY} bytes)"))),
        },
    };
    Ok(Response { code, body })
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    /// Serves `raw` as the reply to one request on a local port; returns the
    /// reply as parsed and the request as received.
    fn serve(raw: &'static [u8]) -> (Result<Response, ExchangeError>, String) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(raw);
            String::from_utf8_lossy(&request).into_owned()
        });
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let reply = runtime.block_on(async {
            let tcp = TcpStream::connect(addr).await.expect("connect");
            exchange(tcp, "[::1]:8222", "/connz?limit=5", Duration::from_secs(10)).await
        });
        (reply, server.join().expect("server thread"))
    }

    #[test]
    fn content_length_body() {
        let (r, _) = serve(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
        let r = r.expect("parses");
        assert_eq!((r.code, r.body.as_slice()), (200, &b"{}"[..]));
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{\"a\"\r\nA\r\n:12345678}\r\n0\r\nX-Trailer: y\r\n\r\n";
        let r = serve(raw).0.expect("parses");
        assert_eq!(String::from_utf8_lossy(&r.body), "{\"a\":12345678}");
    }

    #[test]
    fn body_to_eof_without_length() {
        let r =
            serve(b"HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n\r\n404 page not found\n").0.expect("parses");
        assert_eq!((r.code, r.body.as_slice()), (404, &b"404 page not found\n"[..]));
    }

    #[test]
    fn bad_responses_are_errors_not_panics() {
        for raw in [
            &b""[..],
            b"garbage\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
        ] {
            assert!(serve(raw).0.is_err(), "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn request_names_host_and_closes() {
        let (r, req) = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        r.expect("exchange");
        let lower = req.to_ascii_lowercase();
        assert!(req.starts_with("GET /connz?limit=5 HTTP/1.1\r\n"), "{req}");
        assert!(lower.contains("\r\nhost: [::1]:8222\r\n"), "{req}");
        assert!(lower.contains("\r\nconnection: close\r\n") && req.ends_with("\r\n\r\n"), "{req}");
        let e = Endpoint { scheme: Scheme::Http, host: "::1".into(), port: 8222 };
        assert_eq!(e.url(), "http://[::1]:8222");
    }
}
