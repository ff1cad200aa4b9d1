//! Syslog sinks, framed as Go's `log/syslog` frames them for nats-server.
//!
//! - `syslog: true` / `-s`: the local daemon, facility DAEMON, through the
//!   first of `/dev/log`, `/var/run/syslog`, `/var/run/log` that accepts a
//!   datagram or stream connection (Go's order).
//! - `remote_syslog` / `-r`: `udp://host:port`, `tcp://host:port`,
//!   `unix:///path` (facility 0, as nats-server ends up with), and
//!   `syslog://host[:port]`, which nats-server refuses
//!   (`error invalid network type: "syslog"`) and rnats takes as UDP, port 514
//!   by default, the usual meaning of that scheme. Any other scheme is
//!   refused with nats-server's message.
//!
//! A target that is down or slow never holds the server up: every socket has
//! a one-second connect and write timeout, and this code runs on the log
//! writer thread only. A line that cannot be sent (after one reconnect, as Go
//! retries) is written to stderr instead, never lost; the first such line of
//! an outage comes with one warning, and while the target stays down rnats
//! retries at growing intervals (0.5 s doubling to 10 s) rather than on
//! every line. When it is back, a notice says how many lines went to stderr.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::time::{Duration, Instant};

use super::format::{Formatter, FrameStyle};
use super::record::{Record, Severity};
use super::stream::StreamOut;

/// Where Go's `log/syslog` looks for the local daemon.
const LOCAL_PATHS: [&str; 3] = ["/dev/log", "/var/run/syslog", "/var/run/log"];
const IO_TIMEOUT: Duration = Duration::from_secs(1);
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(10);
const FACILITY_KERN: u8 = 0;
const FACILITY_DAEMON: u8 = 3;

pub use crate::options::SyslogTarget as Target;

impl Target {
    /// Checks what can be checked without sending: the host name resolves.
    /// Whether the daemon listens is a runtime matter (see the module doc).
    pub fn check(&self) -> Result<(), String> {
        match self {
            Target::Udp(addr) | Target::Tcp(addr) => match addr.to_socket_addrs().map(|mut a| a.next()) {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err(format!("error connecting to syslog: {self}: no address found")),
                Err(e) => Err(format!("error connecting to syslog: {self}: {e}")),
            },
            Target::Local | Target::Unix(_) => Ok(()),
        }
    }

    fn style(&self) -> FrameStyle {
        match self {
            Target::Udp(_) | Target::Tcp(_) => FrameStyle::Network,
            // Go formats for a local daemon whenever the network is unix.
            Target::Local | Target::Unix(_) => FrameStyle::Local,
        }
    }

    fn facility(&self) -> u8 {
        match self {
            Target::Local => FACILITY_DAEMON,
            _ => FACILITY_KERN,
        }
    }

    fn connect(&self) -> io::Result<Conn> {
        match self {
            Target::Local => {
                let mut last = None;
                for path in LOCAL_PATHS {
                    match connect_unix(path.as_ref()) {
                        Ok(c) => return Ok(c),
                        Err(e) => last = Some(e),
                    }
                }
                let e = last.map(|e| e.to_string()).unwrap_or_default();
                Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no syslog socket at {} ({e})", LOCAL_PATHS.join(", ")),
                ))
            }
            Target::Unix(path) => connect_unix(path),
            Target::Udp(addr) => {
                let mut last = None;
                for a in addr.to_socket_addrs()? {
                    let local: SocketAddr = if a.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
                    let attempt = UdpSocket::bind(local).and_then(|s| s.connect(a).map(|()| s));
                    match attempt {
                        Ok(s) => return Ok(Conn::Udp(s)),
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address found")))
            }
            Target::Tcp(addr) => {
                let mut last = None;
                for a in addr.to_socket_addrs()? {
                    match TcpStream::connect_timeout(&a, IO_TIMEOUT) {
                        Ok(s) => {
                            s.set_write_timeout(Some(IO_TIMEOUT))?;
                            let _ = s.set_nodelay(true);
                            return Ok(Conn::Tcp(s));
                        }
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address found")))
            }
        }
    }
}

/// A unix socket of either kind: datagram first, as Go tries the local
/// daemon, then stream. (For `unix://` Go dials a stream only, so it fails
/// on a datagram socket such as `/dev/log`; rnats takes both.)
fn connect_unix(path: &std::path::Path) -> io::Result<Conn> {
    let dgram = UnixDatagram::unbound().and_then(|s| s.connect(path).map(|()| s));
    if let Ok(s) = dgram {
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        return Ok(Conn::Dgram(s));
    }
    let s = UnixStream::connect(path)?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(Conn::Stream(s))
}

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Stream(UnixStream),
    Dgram(UnixDatagram),
}

impl Conn {
    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        match self {
            Conn::Udp(s) => s.send(frame).map(drop),
            Conn::Dgram(s) => s.send(frame).map(drop),
            Conn::Tcp(s) => s.write_all(frame),
            Conn::Stream(s) => s.write_all(frame),
        }
    }
}

/// While the target is unreachable.
struct Outage {
    retry_at: Instant,
    backoff: Duration,
    /// Lines written to stderr instead.
    diverted: u64,
}

pub struct SyslogOut {
    target: Target,
    conn: Option<Conn>,
    outage: Option<Outage>,
    fallback: StreamOut,
    frame: Vec<u8>,
}

fn too_big(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::MSGSIZE.raw_os_error())
}

impl SyslogOut {
    pub fn new(target: Target, fallback: StreamOut) -> SyslogOut {
        SyslogOut { target, conn: None, outage: None, fallback, frame: Vec::with_capacity(256) }
    }

    /// Sends once on the current connection and, failing that, once on a new
    /// one (Go's `writeAndRetry`).
    fn send_frame(&mut self) -> io::Result<()> {
        if let Some(conn) = &mut self.conn {
            match conn.send(&self.frame) {
                Ok(()) => return Ok(()),
                Err(e) if too_big(&e) => return Err(e),
                Err(_) => self.conn = None,
            }
        }
        let mut conn = self.target.connect()?;
        let sent = conn.send(&self.frame);
        self.conn = Some(conn);
        sent
    }

    fn send(&mut self, rec: &Record, message: &str, fmt: &Formatter) -> io::Result<()> {
        self.frame.clear();
        fmt.syslog_frame(&mut self.frame, self.target.style(), self.target.facility(), rec, message);
        self.send_frame()
    }

    pub fn write(&mut self, rec: &Record, message: &str, fmt: &Formatter) {
        if let Some(outage) = &mut self.outage {
            if Instant::now() < outage.retry_at {
                outage.diverted += 1;
                self.fallback.write(rec, message, fmt);
                return;
            }
        }
        match self.send(rec, message, fmt) {
            Ok(()) => {
                if let Some(outage) = self.outage.take() {
                    let back = Record::now(
                        Severity::Info,
                        format!(
                            "Syslog {} is reachable again; {} log lines were written to stderr meanwhile",
                            self.target, outage.diverted
                        ),
                    );
                    self.fallback.write(&back, &back.message, fmt);
                    let _ = self.send(&back, &back.message, fmt);
                }
            }
            // Too long for one datagram: this line only goes to stderr.
            Err(e) if too_big(&e) => self.fallback.write(rec, message, fmt),
            Err(e) => {
                let now = Instant::now();
                match &mut self.outage {
                    Some(outage) => {
                        outage.backoff = (outage.backoff * 2).min(RETRY_MAX);
                        outage.retry_at = now + outage.backoff;
                        outage.diverted += 1;
                    }
                    None => {
                        let warning = Record::now(
                            Severity::Warn,
                            format!(
                                "Cannot send log lines to syslog {} ({e}); writing them to stderr until it is \
                                 reachable again",
                                self.target
                            ),
                        );
                        self.fallback.write(&warning, &warning.message, fmt);
                        self.outage = Some(Outage { retry_at: now + RETRY_FIRST, backoff: RETRY_FIRST, diverted: 1 });
                    }
                }
                self.fallback.write(rec, message, fmt);
            }
        }
    }

    pub fn flush(&mut self) {
        self.fallback.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn parse(url: &str) -> Result<Target, String> {
        Target::parse_remote(url)
    }

    #[test]
    fn schemes() {
        assert_eq!(parse("udp://127.0.0.1:514"), Ok(Target::Udp("127.0.0.1:514".into())));
        assert_eq!(parse("UDP://[::1]:5514/"), Ok(Target::Udp("[::1]:5514".into())));
        assert_eq!(parse("tcp://logs.example:6514"), Ok(Target::Tcp("logs.example:6514".into())));
        assert_eq!(parse("syslog://logs.example"), Ok(Target::Udp("logs.example:514".into())));
        assert_eq!(parse("syslog://[::1]"), Ok(Target::Udp("[::1]:514".into())));
        assert_eq!(parse("unix:///dev/log"), Ok(Target::Unix("/dev/log".into())));
    }

    #[test]
    fn refusals() {
        let e = parse("foo://x:1").unwrap_err();
        assert!(e.starts_with("error invalid network type: \"foo\""), "{e}");
        let e = parse("localhost:514").unwrap_err();
        assert!(e.starts_with("error invalid network type: \"localhost\""), "{e}");
        assert!(parse("udp://127.0.0.1").unwrap_err().contains("missing port"));
        assert!(parse("tcp://h:99999").unwrap_err().contains("invalid port"));
        assert!(parse("udp://").unwrap_err().contains("missing host"));
        assert!(parse("unix://").unwrap_err().contains("missing socket path"));
    }

    /// Collects what the fallback stderr would show.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn udp_frames_one_datagram_per_line() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let target = Target::Udp(rx.local_addr().unwrap().to_string());
        let mut out = SyslogOut::new(target, StreamOut::new(Box::new(Shared::default()), false));
        let fmt = Formatter::new();
        out.write(&Record::now(Severity::Debug, "hello"), "hello", &fmt);
        let mut buf = [0u8; 2048];
        let n = rx.recv(&mut buf).unwrap();
        let got = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(got.starts_with("<7>"), "{got}");
        assert!(got.ends_with(&format!("[{}]: hello\n", std::process::id())), "{got}");
    }

    #[test]
    fn unix_datagram_gets_the_local_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut out = SyslogOut::new(Target::Unix(path), StreamOut::new(Box::new(Shared::default()), false));
        out.write(&Record::now(Severity::Warn, "w"), "w", &Formatter::new());
        let mut buf = [0u8; 2048];
        let n = rx.recv(&mut buf).unwrap();
        let got = std::str::from_utf8(&buf[..n]).unwrap();
        // `<4>Nov 30 02:55:18 tag[pid]: w`: month name, no host.
        assert!(got.starts_with("<4>") && got.as_bytes()[6] == b' ', "{got}");
        assert!(got.ends_with(&format!("[{}]: w\n", std::process::id())), "{got}");
    }

    #[test]
    fn a_down_target_diverts_to_stderr_with_one_warning() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let seen = Shared::default();
        let target = Target::Tcp(format!("127.0.0.1:{port}"));
        let mut out = SyslogOut::new(target, StreamOut::new(Box::new(seen.clone()), false));
        let fmt = Formatter::new();
        for i in 0..5 {
            out.write(&Record::now(Severity::Info, format!("line {i}")), &format!("line {i}"), &fmt);
        }
        out.flush();
        let text = String::from_utf8(seen.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.matches("Cannot send log lines to syslog tcp://").count(), 1, "{text}");
        for i in 0..5 {
            assert!(text.contains(&format!("[INF] line {i}\n")), "{text}");
        }
        // Back up: the next attempt (after the retry delay) goes through.
        let listener = match std::net::TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => l,
            Err(_) => return, // the port was taken meanwhile; nothing more to check
        };
        out.outage.as_mut().unwrap().retry_at = Instant::now();
        out.write(&Record::now(Severity::Info, "after"), "after", &fmt);
        out.flush();
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("reachable again") {
            let n = io::Read::read(&mut conn, &mut buf).unwrap();
            assert!(n > 0, "closed early");
            got.extend_from_slice(&buf[..n]);
        }
        let got = String::from_utf8(got).unwrap();
        assert!(got.contains("]: after\n"), "{got}");
        assert!(got.contains("5 log lines were written to stderr meanwhile"), "{got}");
    }
}
