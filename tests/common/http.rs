//! A minimal HTTP/1.1 client for the monitoring tests: one request per
//! connection (`Connection: close`), over TCP or any stream (HTTPS), every
//! step under the test timeout. Enough to see status, headers and body
//! exactly as the server sent them.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::WAIT;

#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    /// Names lowercased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("JSON ({e}): {}", self.text()))
    }
}

/// `GET` on the monitoring port at `base` (`http://127.0.0.1:PORT`).
pub async fn get(base: &str, path: &str) -> HttpReply {
    request(base, "GET", path, &[]).await
}

/// A JSON document from a 200 reply.
pub async fn get_json(base: &str, path: &str) -> serde_json::Value {
    let r = get(base, path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

pub fn addr_of(base: &str) -> SocketAddr {
    base.rsplit("//").next().expect("host:port").parse().expect("monitor address")
}

pub async fn request(base: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> HttpReply {
    let tcp =
        tokio::time::timeout(WAIT, TcpStream::connect(addr_of(base))).await.expect("connect in time").expect("connect");
    exchange(tcp, method, path, headers).await
}

/// One request and its reply over `stream`.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> HttpReply {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    tokio::time::timeout(WAIT, stream.write_all(req.as_bytes())).await.expect("write in time").expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await.expect("reply in time").expect("read");
    parse(&raw, method == "HEAD")
}

fn parse(raw: &[u8], head: bool) -> HttpReply {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let head_text = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if head {
        body.clear();
    } else if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body);
    }
    HttpReply { status, headers, body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else { return out };
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[nl + 2 + size + 2..];
    }
}
