//! The `ws` scenarios: pub/sub 1:1 with both connections over websocket,
//! as browsers and the clients' websocket transports connect: the HTTP
//! upgrade, then every write one masked binary frame (as RFC 6455 requires
//! of clients), server frames decoded on read. `ws-deflate` offers
//! permessage-deflate as well, so the server compresses what it sends;
//! the client sends uncompressed frames, which the RFC allows. With
//! `--compare` both servers get the same `websocket` block from a config
//! file made for the run.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::conf_file::ConfFile;
use super::config::Res;

/// The scenarios that need a websocket listener on the server.
pub const WS_SCENARIOS: &[&str] = &["ws", "ws-deflate"];

/// A client websocket over TCP, as a byte stream.
pub(super) struct WsTransport {
    tcp: TcpStream,
    /// Frame bytes read and not yet decoded: `raw[start..filled]`.
    raw: Vec<u8>,
    start: usize,
    filled: usize,
    /// The current frame ends its message.
    fin_seen: bool,
    /// Payload bytes of the current frame still unread.
    remaining: usize,
    /// The current message is compressed; its payload is collected here
    /// and inflated once complete into `inflated`.
    compressed: bool,
    message: Vec<u8>,
    inflated: Vec<u8>,
    inflated_pos: usize,
    inflater: flate2::Decompress,
    /// A write's frame: header, then the masked payload.
    out: Vec<u8>,
    mask: [u8; 4],
}

impl WsTransport {
    /// Connects and upgrades; `deflate`: offer permessage-deflate.
    pub(super) fn connect(a: SocketAddr, deflate: bool) -> Res<WsTransport> {
        let mut tcp = TcpStream::connect(a).map_err(|e| format!("connect {a}: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
        let ext = if deflate { "Sec-WebSocket-Extensions: permessage-deflate\r\n" } else { "" };
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {a}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n"
        );
        tcp.write_all(request.as_bytes()).map_err(|e| format!("upgrade: {e}"))?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        // Byte by byte up to the blank line: the frames after it stay unread.
        while !head.ends_with(b"\r\n\r\n") {
            match tcp.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return Err(format!("{a}: no answer to the websocket upgrade")),
            }
            if head.len() > 64 * 1024 {
                return Err(format!("{a}: the upgrade answer is too long"));
            }
        }
        let text = String::from_utf8_lossy(&head);
        if !text.starts_with("HTTP/1.1 101") {
            return Err(format!("{a}: websocket upgrade refused: {}", text.lines().next().unwrap_or("")));
        }
        if deflate && !text.contains("permessage-deflate") {
            return Err(format!("{a}: the server did not agree to permessage-deflate"));
        }
        Ok(WsTransport {
            tcp,
            raw: vec![0; 256 * 1024],
            start: 0,
            filled: 0,
            fin_seen: false,
            remaining: 0,
            compressed: false,
            message: Vec::new(),
            inflated: Vec::new(),
            inflated_pos: 0,
            inflater: flate2::Decompress::new(false),
            out: Vec::new(),
            mask: rand::random(),
        })
    }

    pub(super) fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Reads more frame bytes into `raw`.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.raw.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
        }
        if self.filled == self.raw.len() {
            self.raw.resize(self.raw.len() * 2, 0);
        }
        let n = self.tcp.read(&mut self.raw[self.filled..])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.filled += n;
        Ok(())
    }

    fn inflate_message(&mut self) -> io::Result<()> {
        self.message.extend_from_slice(&[0, 0, 0xff, 0xff]);
        self.inflater.reset(false);
        self.inflated.clear();
        self.inflated_pos = 0;
        let mut at = 0;
        loop {
            self.inflated.reserve(self.message.len() * 4 + 1024);
            let before = self.inflater.total_in();
            self.inflater
                .decompress_vec(&self.message[at..], &mut self.inflated, flate2::FlushDecompress::Sync)
                .map_err(io::Error::other)?;
            at += (self.inflater.total_in() - before) as usize;
            if at == self.message.len() && self.inflated.len() < self.inflated.capacity() {
                self.message.clear();
                return Ok(());
            }
        }
    }
}

impl Read for WsTransport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.inflated_pos < self.inflated.len() {
                let n = buf.len().min(self.inflated.len() - self.inflated_pos);
                buf[..n].copy_from_slice(&self.inflated[self.inflated_pos..self.inflated_pos + n]);
                self.inflated_pos += n;
                return Ok(n);
            }
            let avail = self.filled - self.start;
            if self.remaining > 0 {
                if avail == 0 {
                    self.fill()?;
                    continue;
                }
                let n = avail.min(self.remaining);
                if self.compressed {
                    self.message.extend_from_slice(&self.raw[self.start..self.start + n]);
                    self.start += n;
                    self.remaining -= n;
                    continue;
                }
                let n = n.min(buf.len());
                buf[..n].copy_from_slice(&self.raw[self.start..self.start + n]);
                self.start += n;
                self.remaining -= n;
                return Ok(n);
            }
            if self.compressed && !self.message.is_empty() && self.remaining == 0 && self.fin_seen {
                self.fin_seen = false;
                self.inflate_message()?;
                continue;
            }
            // A frame header: 2 bytes, then a 16- or 64-bit length.
            if avail < 2 {
                self.fill()?;
                continue;
            }
            let (b0, b1) = (self.raw[self.start], self.raw[self.start + 1]);
            let (len, size) = match b1 & 0x7f {
                126 if avail >= 4 => {
                    (u16::from_be_bytes([self.raw[self.start + 2], self.raw[self.start + 3]]) as usize, 4)
                }
                127 if avail >= 10 => {
                    let b: [u8; 8] = self.raw[self.start + 2..self.start + 10].try_into().unwrap_or_default();
                    (u64::from_be_bytes(b) as usize, 10)
                }
                126 | 127 => {
                    self.fill()?;
                    continue;
                }
                n => (n as usize, 2),
            };
            self.start += size;
            match b0 & 0x0f {
                0x08 => return Err(io::Error::other("the server closed the websocket")),
                0x09 | 0x0a => {
                    // Control frames: skipped (the server does not ping websockets).
                    while self.filled - self.start < len {
                        self.fill()?;
                    }
                    self.start += len;
                    continue;
                }
                op => {
                    if op != 0 {
                        self.compressed = b0 & 0x40 != 0;
                    }
                    self.fin_seen = b0 & 0x80 != 0;
                    self.remaining = len;
                    if len == 0 && self.compressed && self.fin_seen {
                        self.fin_seen = false;
                        self.inflate_message()?;
                    }
                }
            }
        }
    }
}

impl Write for WsTransport {
    /// One masked binary frame per write, all of `buf`.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.clear();
        self.out.push(0x82);
        match buf.len() {
            n if n <= 125 => self.out.push(0x80 | n as u8),
            n if n < 65536 => {
                self.out.push(0x80 | 126);
                self.out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                self.out.push(0x80 | 127);
                self.out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        self.out.extend_from_slice(&self.mask);
        let at = self.out.len();
        self.out.extend_from_slice(buf);
        let k = u32::from_ne_bytes(self.mask);
        let mut chunks = self.out[at..].chunks_exact_mut(4);
        for c in &mut chunks {
            let v = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) ^ k;
            c.copy_from_slice(&v.to_ne_bytes());
        }
        for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
            *b ^= self.mask[i];
        }
        self.tcp.write_all(&self.out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// A config file with a plain websocket listener on a random port, for
/// both servers (removed on drop).
pub fn fixture(compression: bool) -> Res<ConfFile> {
    ConfFile::write(
        "ws",
        &format!("websocket {{ listen: \"127.0.0.1:-1\", no_tls: true, compression: {compression} }}\n"),
    )
}
