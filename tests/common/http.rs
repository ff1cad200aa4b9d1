//! The monitoring tests' HTTP/1.1 client, hyper's: one request per
//! connection (`Connection: close`), over TCP or any stream (HTTPS), every
//! step under the test timeout; status, headers and the decoded body.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
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

/// One request and its reply over `stream`, by hyper's HTTP/1.1 client.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> HttpReply {
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("HTTP/1.1 handshake");
    // Drives the socket until the reply is read (the server then closes).
    let driver = tokio::spawn(connection);
    let mut req =
        hyper::Request::builder().method(method).uri(path).header("Host", "localhost").header("Connection", "close");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Empty::<Bytes>::new()).expect("request");
    let reply = tokio::time::timeout(WAIT, sender.send_request(req)).await.expect("reply in time").expect("reply");
    let status = reply.status().as_u16();
    let headers = reply
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).trim().to_string()))
        .collect();
    let body = tokio::time::timeout(WAIT, reply.into_body().collect()).await.expect("body in time").expect("body");
    driver.abort();
    HttpReply { status, headers, body: body.to_bytes().to_vec() }
}
