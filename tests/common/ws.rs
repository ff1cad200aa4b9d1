//! A raw websocket client for tests: the upgrade request as written, masked
//! frames out, frames in (inflated with flate2 directly when compressed, so
//! rnats' own codec is not checking itself), every read bounded.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::WAIT;

pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// `GET / HTTP/1.1` with the headers an upgrade needs, plus `extra`
/// (each line ending in CRLF).
pub fn upgrade_request(extra: &str) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub struct WsClient {
    io: Box<dyn Io>,
    buf: Vec<u8>,
    /// The answer to the upgrade request (head only).
    pub response: String,
    /// Unmasked frames when the server agreed to `Nats-No-Masking`.
    pub no_masking: bool,
    /// Bytes of NATS protocol received and not yet taken.
    pub nats: Vec<u8>,
}

/// Sends `request` on `addr`; returns the answer's head and the client.
pub async fn connect(addr: SocketAddr, request: &str) -> WsClient {
    let io = TcpStream::connect(addr).await.expect("connect to websocket port");
    connect_over(Box::new(io), request).await
}

pub async fn connect_over(mut io: Box<dyn Io>, request: &str) -> WsClient {
    io.write_all(request.as_bytes()).await.expect("send upgrade");
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, io.read(&mut chunk)).await.expect("answer in time").expect("read");
        assert!(n > 0, "closed before answering: {:?}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    };
    let response = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let no_masking = response.contains("Nats-No-Masking: true");
    WsClient { io, buf: buf[head_end..].to_vec(), response, no_masking, nats: Vec::new() }
}

impl WsClient {
    pub fn status(&self) -> u16 {
        self.response.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    /// Sends one frame (masked unless no-masking was agreed).
    pub async fn send_frame(&mut self, b0: u8, payload: &[u8]) {
        let masked = !self.no_masking;
        let mut f = vec![b0];
        let mask_bit = if masked { 0x80 } else { 0 };
        match payload.len() {
            n if n <= 125 => f.push(mask_bit | n as u8),
            n if n < 65536 => {
                f.push(mask_bit | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(mask_bit | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        if masked {
            let key: [u8; 4] = rand::random();
            f.extend_from_slice(&key);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            f.extend_from_slice(payload);
        }
        self.io.write_all(&f).await.expect("send frame");
    }

    /// Bytes as they are, for frames a test builds itself.
    pub async fn write_raw(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.expect("send");
    }

    /// NATS protocol bytes in one binary frame.
    pub async fn send(&mut self, nats: &[u8]) {
        self.send_frame(0x82, nats).await;
    }

    /// NATS protocol bytes as one compressed message (raw deflate, sync
    /// flush, tail removed, as RFC 7692 sends it).
    pub async fn send_compressed(&mut self, nats: &[u8]) {
        let mut c = flate2::Compress::new(flate2::Compression::default(), false);
        let mut out = Vec::with_capacity(nats.len() + 64);
        c.compress_vec(nats, &mut out, flate2::FlushCompress::Sync).expect("deflate");
        assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
        out.truncate(out.len() - 4);
        self.send_frame(0xc2, &out).await;
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16384];
        match tokio::time::timeout(WAIT, self.io.read(&mut chunk)).await.expect("frame in time") {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// The next frame: its first byte and payload; `None` once closed.
    pub async fn frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 2 {
                let (len, at) = match self.buf[1] & 0x7f {
                    126 if self.buf.len() >= 4 => (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4),
                    127 if self.buf.len() >= 10 => {
                        (u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize, 10)
                    }
                    126 | 127 => (usize::MAX, 0),
                    n => (n as usize, 2),
                };
                assert_eq!(self.buf[1] & 0x80, 0, "the server does not mask");
                if len != usize::MAX && self.buf.len() >= at + len {
                    let b0 = self.buf[0];
                    let payload = self.buf[at..at + len].to_vec();
                    self.buf.drain(..at + len);
                    return Some((b0, payload));
                }
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// Data frames until `needle` has arrived in the NATS stream (messages
    /// inflated when compressed); returns everything up to and including it.
    pub async fn until(&mut self, needle: &[u8]) -> Vec<u8> {
        let mut message: Vec<u8> = Vec::new();
        let mut compressed = false;
        loop {
            if let Some(i) = self.nats.windows(needle.len()).position(|w| w == needle) {
                return self.nats.drain(..i + needle.len()).collect();
            }
            let Some((b0, payload)) = self.frame().await else {
                panic!(
                    "closed before {:?}; got {:?}",
                    String::from_utf8_lossy(needle),
                    String::from_utf8_lossy(&self.nats)
                )
            };
            match b0 & 0x0f {
                1 | 2 => {
                    compressed = b0 & 0x40 != 0;
                    message = payload;
                }
                0 => message.extend_from_slice(&payload),
                _ => continue, // control frames are not NATS data
            }
            if b0 & 0x80 != 0 {
                let data = if compressed { inflate(&message) } else { std::mem::take(&mut message) };
                self.nats.extend_from_slice(&data);
            }
        }
    }

    /// Reads until the server closes; returns the close frame's payload.
    pub async fn close_frame(&mut self) -> Option<Vec<u8>> {
        while let Some((b0, payload)) = self.frame().await {
            if b0 == 0x88 {
                return Some(payload);
            }
        }
        None
    }

    /// Whether the server closed the connection within `within`.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let mut chunk = [0u8; 1024];
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.io.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    /// CONNECT (with `connect` JSON) and a PING/PONG round trip.
    pub async fn handshake_nats(&mut self, connect: &str) -> String {
        let info = String::from_utf8(self.until(b"\r\n").await).unwrap();
        self.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes()).await;
        self.until(b"PONG\r\n").await;
        info
    }
}

/// One permessage-deflate message, inflated.
pub fn inflate(compressed: &[u8]) -> Vec<u8> {
    let mut d = flate2::Decompress::new(false);
    let mut input = compressed.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut out = Vec::with_capacity(input.len() * 4 + 64);
    loop {
        let before = d.total_in() as usize;
        d.decompress_vec(&input[before..], &mut out, flate2::FlushDecompress::Sync).expect("inflate");
        if d.total_in() as usize == input.len() && out.len() < out.capacity() {
            return out;
        }
        out.reserve(out.capacity().max(1024));
    }
}

/// The INFO JSON of an `INFO {...}` line.
pub fn info_json(line: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(line);
    let json = text.trim().strip_prefix("INFO ").expect("an INFO line");
    serde_json::from_str(json).expect("INFO JSON")
}
