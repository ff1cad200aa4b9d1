//! A raw protocol connection over plain TCP, TLS or websocket, and the
//! progress bar the scenarios draw.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use super::config::{Config, Res};
use super::tls::server_name;
use super::ws::WsTransport;

pub(super) fn addr(url: &str) -> Res<SocketAddr> {
    let hostport = url.trim_start_matches("nats://");
    hostport
        .to_socket_addrs()
        .map_err(|e| format!("bad --url {url}: {e}"))?
        .next()
        .ok_or_else(|| format!("bad --url {url}"))
}

/// A progress bar on stderr, redrawn at most five times a second.
pub(super) struct Bar {
    label: String,
    total: u64,
    last: Instant,
    on: bool,
}

impl Bar {
    pub(super) fn new(on: bool, label: &str, total: u64) -> Bar {
        Bar { label: label.to_string(), total: total.max(1), last: Instant::now(), on }
    }
    pub(super) fn set(&mut self, done: u64) {
        if !self.on || self.last.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.last = Instant::now();
        let pct = (done.min(self.total) * 100 / self.total) as usize;
        let filled = pct * 30 / 100;
        eprint!("\r{:<8} [{}{}] {pct:>3}%", self.label, "=".repeat(filled), " ".repeat(30 - filled));
    }
    pub(super) fn done(&self) {
        if self.on {
            eprint!("\r{}\r", " ".repeat(50));
        }
    }
}

/// A raw protocol connection.
pub(super) struct Conn {
    pub(super) stream: Transport,
    pub(super) buf: Vec<u8>,
    /// Start of unparsed data in `buf`.
    pub(super) pos: usize,
}

impl Conn {
    pub(super) fn open(addr: SocketAddr) -> Res<Conn> {
        Conn::open_with(addr, "{\"verbose\":false,\"pedantic\":false,\"headers\":false,\"name\":\"rnats-bench\"}")
    }

    /// Logged in as `user` (password the same), with headers on, as the
    /// clients' responders connect.
    pub(super) fn open_as(addr: SocketAddr, user: &str) -> Res<Conn> {
        let connect = format!(
            "{{\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"user\":\"{user}\",\"pass\":\"{user}\",\"name\":\"rnats-bench\"}}"
        );
        Conn::open_with(addr, &connect)
    }

    /// Connects and sends `CONNECT {connect}`.
    fn open_with(addr: SocketAddr, connect: &str) -> Res<Conn> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
        let mut c = Conn { stream: Transport::Plain(stream), buf: Vec::with_capacity(1 << 20), pos: 0 };
        c.line()?; // INFO
        c.send(format!("CONNECT {connect}\r\n").as_bytes())?;
        Ok(c)
    }

    /// Over TLS when the config has a client side, else plain.
    pub(super) fn dial(cfg: &Config, a: SocketAddr) -> Res<Conn> {
        if let Some(deflate) = cfg.websocket {
            return Conn::open_ws(a, deflate);
        }
        match &cfg.tls {
            Some(tls) => Conn::open_tls(a, tls, server_name(&cfg.url)?),
            None => Conn::open(a),
        }
    }

    pub(super) fn send(&mut self, bytes: &[u8]) -> Res<()> {
        self.stream.write_all(bytes).map_err(|e| format!("write: {e}"))
    }

    pub(super) fn fill(&mut self) -> Res<()> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > self.buf.capacity() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let len = self.buf.len();
        if self.buf.capacity() - len < 64 * 1024 {
            self.buf.reserve(256 * 1024);
        }
        let cap = self.buf.capacity();
        self.buf.resize(cap, 0);
        let n = self.stream.read(&mut self.buf[len..]).map_err(|e| format!("read: {e}"));
        self.buf.truncate(len + *n.as_ref().unwrap_or(&0));
        match n? {
            0 => Err("server closed the connection".into()),
            _ => Ok(()),
        }
    }

    pub(super) fn line(&mut self) -> Res<String> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.pos..]) {
                let line = String::from_utf8_lossy(&self.buf[self.pos..self.pos + i + 1]).into_owned();
                self.pos += i + 1;
                return Ok(line);
            }
            self.fill()?;
        }
    }

    /// Sends PING and reads until PONG: everything sent before is processed.
    pub(super) fn sync(&mut self) -> Res<()> {
        self.send(b"PING\r\n")?;
        loop {
            let l = self.line()?;
            if l.starts_with("PONG") {
                return Ok(());
            }
            if l.starts_with("-ERR") {
                return Err(l.trim().to_string());
            }
        }
    }

    /// Reads until `n` MSGs have arrived; calls `each` with every payload.
    pub(super) fn count_msgs(&mut self, n: u64, mut each: impl FnMut(&[u8])) -> Res<()> {
        let mut got = 0;
        while got < n {
            let Some(nl) = memchr::memchr(b'\n', &self.buf[self.pos..]) else {
                self.fill()?;
                continue;
            };
            let line = &self.buf[self.pos..self.pos + nl];
            if line.starts_with(b"MSG ") || line.starts_with(b"HMSG ") {
                let size = line
                    .rsplit(|&b| b == b' ')
                    .next()
                    .and_then(|s| std::str::from_utf8(s.strip_suffix(b"\r").unwrap_or(s)).ok())
                    .and_then(|s| s.parse::<usize>().ok())
                    .ok_or("bad MSG line")?;
                // `fill` may move the unread bytes to the front: offsets are
                // relative to `pos` and recomputed after it.
                while self.buf.len() - self.pos < nl + 1 + size + 2 {
                    self.fill()?;
                }
                let start = self.pos + nl + 1;
                each(&self.buf[start..start + size]);
                self.pos = start + size + 2;
                got += 1;
            } else if line.starts_with(b"PING") {
                self.pos += nl + 1;
                self.send(b"PONG\r\n")?;
            } else if line.starts_with(b"-ERR") {
                return Err(String::from_utf8_lossy(line).into_owned());
            } else {
                self.pos += nl + 1;
            }
        }
        Ok(())
    }
}

/// A connection's transport: plain TCP, or rustls over it.
pub(super) enum Transport {
    Plain(TcpStream),
    /// Boxed: the rustls state is large and the plain case is the common one.
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    /// Websocket frames over TCP (the `ws` scenarios).
    Ws(Box<WsTransport>),
}

impl Transport {
    /// The TCP socket underneath (for its read timeout).
    pub(super) fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(s) => s.get_ref(),
            Transport::Ws(s) => s.tcp(),
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
            Transport::Ws(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
            Transport::Ws(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
            Transport::Ws(s) => s.flush(),
        }
    }
}

impl Conn {
    /// Connects over TLS: reads INFO in clear text, completes the handshake
    /// (bounded by the socket timeouts), then sends CONNECT through it.
    pub(super) fn open_tls(a: SocketAddr, config: &Arc<ClientConfig>, name: ServerName<'static>) -> Res<Conn> {
        let stream = TcpStream::connect(a).map_err(|e| format!("connect {a}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
        let mut c = Conn { stream: Transport::Plain(stream), buf: Vec::with_capacity(1 << 20), pos: 0 };
        let info = c.line()?;
        if !info.contains("\"tls_required\":true") {
            return Err(format!("{a}: the server does not offer TLS (its INFO has no tls_required)"));
        }
        // The server sends nothing after INFO until the client's hello, so
        // the buffer holds exactly the INFO line.
        let Transport::Plain(mut tcp) = c.stream else {
            return Err("internal: TLS over TLS".into());
        };
        let mut tls = ClientConnection::new(config.clone(), name).map_err(|e| e.to_string())?;
        while tls.is_handshaking() {
            tls.complete_io(&mut tcp).map_err(|e| format!("{a}: TLS handshake: {e}"))?;
        }
        c.stream = Transport::Tls(Box::new(StreamOwned::new(tls, tcp)));
        c.send(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":true,\"headers\":false,\"name\":\"rnats-bench\"}\r\n",
        )?;
        Ok(c)
    }
}

impl Conn {
    /// Connects over websocket and sends CONNECT through it.
    pub(super) fn open_ws(a: SocketAddr, deflate: bool) -> Res<Conn> {
        let ws = WsTransport::connect(a, deflate)?;
        let mut c = Conn { stream: Transport::Ws(Box::new(ws)), buf: Vec::with_capacity(1 << 20), pos: 0 };
        c.line()?; // INFO
        c.send(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":false,\"name\":\"rnats-bench\"}\r\n")?;
        Ok(c)
    }
}
