//! `rnats bench soak`: a long run under hostile conditions, to show that
//! nothing grows and nothing healthy is lost. A three-server cluster (the
//! third one the reference nats-server when installed), thousands of client
//! connections doing pub/sub, queue groups and request/reply, a reload every
//! few seconds that adds and removes users and changes permissions, clients
//! that disconnect and come back, and the two other servers killed with
//! SIGKILL and restarted in turn. Server A, which is never killed, is the
//! one measured.
//!
//! Every interval it prints what happened since the last line: messages
//! sent and delivered to healthy subscribers (subscribers on A, of
//! publishers on A: nothing is ever cut between them, so none may be lost),
//! deliveries across the cluster (lost while a peer is down, reported
//! apart), requests and their p99 latency, A's resident memory and open
//! descriptors, the other servers' memory, reloads and kills so far.
//!
//! Clients speak the protocol over plain sockets (the library has no client).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

use crate::spawn::{ServerProcess, Spawn};

pub const USAGE: &str = "\
Usage: rnats bench soak [--duration 30m] [--conns N] [--interval 10s]
                        [--reload-every 5s] [--kill-every 60s] [--no-reference] [--json]

Runs a three-server cluster (rnats A and B, and the reference nats-server as
C when installed) under load for --duration: --conns client connections
(mostly idle subscribers; publishers, queue members, responders and
requesters; some reconnecting all the time), a reload of A and B every
--reload-every that adds and removes users and changes a permission, and B
and C killed with SIGKILL and restarted in turn every --kill-every.

Prints, every --interval: messages sent and delivered to healthy subscribers
(on A, from publishers on A) and how many of those were lost (expect 0),
cross-server deliveries, requests and their p99 latency, A's RSS and open
descriptors, B's and C's RSS, reloads and kills so far.
";

#[derive(Debug, Clone)]
struct Args {
    duration: Duration,
    conns: usize,
    interval: Duration,
    reload_every: Duration,
    kill_every: Duration,
    reference: bool,
    json: bool,
}

fn duration(text: Option<&String>, what: &str) -> Result<Duration, String> {
    let t = text.ok_or_else(|| format!("{what} takes a duration (30s, 5m)"))?;
    crate::gotext::parse_go_duration(t).map_err(|e| format!("{what}: {e}"))
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        duration: Duration::from_secs(1800),
        conns: 2000,
        interval: Duration::from_secs(10),
        reload_every: Duration::from_secs(5),
        kill_every: Duration::from_secs(60),
        reference: true,
        json: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.trim_start_matches('-') {
            "duration" => a.duration = duration(it.next(), "--duration")?,
            "conns" => {
                a.conns = it.next().and_then(|s| s.parse().ok()).ok_or("--conns takes a number")?;
            }
            "interval" => a.interval = duration(it.next(), "--interval")?.max(Duration::from_millis(500)),
            "reload-every" => a.reload_every = duration(it.next(), "--reload-every")?,
            "kill-every" => a.kill_every = duration(it.next(), "--kill-every")?,
            "no-reference" => a.reference = false,
            "json" => a.json = true,
            "h" | "help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    a.conns = a.conns.max(40);
    Ok(a)
}

pub fn run(args: &[String]) -> u8 {
    let args = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("rnats bench soak: {e}");
            }
            eprint!("{USAGE}");
            return 2;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rnats bench soak: {e}");
            return 1;
        }
    };
    match rt.block_on(soak(args)) {
        Ok(report) => {
            let lost = report.healthy_lost + report.healthy_out_of_order;
            if lost > 0 || report.healthy_request_failures > 0 {
                eprintln!("rnats bench soak: healthy traffic lost messages or requests");
                1
            } else {
                0
            }
        }
        Err(e) => {
            eprintln!("rnats bench soak: {e}");
            1
        }
    }
}

// ------------------------------------------------------------------ cluster

/// A free loopback port (bound, then released for the server to take).
fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// One server of the cluster: its binary, files and ports, and the process
/// while it runs.
struct Node {
    name: &'static str,
    bin: PathBuf,
    conf: PathBuf,
    users: PathBuf,
    client: SocketAddr,
    process: Option<ServerProcess>,
}

impl Node {
    fn start(&mut self) -> Result<(), String> {
        let p = Spawn::exact(&self.bin)
            .args(&["-c", self.conf.to_str().unwrap_or_default()])
            .start()
            .map_err(|e| format!("{} did not start: {e}", self.name))?;
        self.process = Some(p);
        Ok(())
    }

    /// SIGKILL (dropping the process kills it).
    fn kill(&mut self) {
        self.process = None;
    }

    fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.pid())
    }
}

/// The users file every server includes: healthy users whose permissions
/// never change, churned users added and removed, and one user whose
/// permissions flip each round.
fn users_file(round: u64) -> String {
    let mut t = String::from("authorization { users = [\n");
    t.push_str("  {user: healthy, password: h}\n");
    t.push_str("  {user: cross, password: c}\n");
    let flip = if round.is_multiple_of(2) { "\"flip.a.>\"" } else { "\"flip.b.>\"" };
    t.push_str(&format!("  {{user: flip, password: f, permissions: {{publish: [{flip}, \"_INBOX.>\"]}}}}\n"));
    // Churned users: a window of names moving with the rounds.
    for i in round..round + 8 {
        t.push_str(&format!("  {{user: churn{i}, password: c{i}}}\n"));
    }
    t.push_str("] }\n");
    t
}

fn server_conf(client: u16, route: u16, routes: &[u16], http: Option<u16>, name: &str, users: &Path) -> String {
    let routes: Vec<String> = routes.iter().map(|p| format!("\"nats-route://127.0.0.1:{p}\"")).collect();
    let mut t = format!(
        "server_name: {name}\nlisten: 127.0.0.1:{client}\ninclude \"{}\"\n\
         cluster {{\n  name: soak\n  listen: 127.0.0.1:{route}\n  routes: [{}]\n}}\n",
        // Relative: nats-server joins even an absolute include to the
        // including file's directory.
        users.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        routes.join(", ")
    );
    if let Some(h) = http {
        t.push_str(&format!("http: 127.0.0.1:{h}\n"));
    }
    t
}

// ------------------------------------------------------------------ clients

/// A client connection over a plain socket: CONNECT, then a reader task
/// that answers PINGs and hands every MSG to `on_msg`.
struct Client {
    w: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    closed: Arc<AtomicBool>,
    /// The reader task, which holds the socket: stopped when the client is
    /// dropped, so a dropped client really disconnects.
    reader: tokio::task::AbortHandle,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

type OnMsg = Arc<dyn Fn(&str, &[u8]) + Send + Sync>;

impl Client {
    async fn connect(
        addr: SocketAddr,
        user: &str,
        pass: &str,
        subs: &[(&str, Option<&str>)],
        on_msg: OnMsg,
    ) -> std::io::Result<Client> {
        let s = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
            .await
            .map_err(|_| std::io::Error::other("connect timed out"))??;
        let _ = s.set_nodelay(true);
        let (r, mut w) = s.into_split();
        let mut r = BufReader::new(r);
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(5), r.read_line(&mut line))
            .await
            .map_err(|_| std::io::Error::other("no INFO"))??;
        let mut hello = format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"user\":\"{user}\",\"pass\":\"{pass}\",\"protocol\":1}}\r\n"
        );
        for (i, (subject, queue)) in subs.iter().enumerate() {
            match queue {
                Some(q) => hello.push_str(&format!("SUB {subject} {q} {}\r\n", i + 1)),
                None => hello.push_str(&format!("SUB {subject} {}\r\n", i + 1)),
            }
        }
        hello.push_str("PING\r\n");
        w.write_all(hello.as_bytes()).await?;
        // Until the PONG: logged in, subscriptions in place.
        loop {
            line.clear();
            let n = tokio::time::timeout(Duration::from_secs(5), r.read_line(&mut line))
                .await
                .map_err(|_| std::io::Error::other("no PONG"))??;
            if n == 0 || line.starts_with("-ERR") {
                return Err(std::io::Error::other(format!("refused: {}", line.trim())));
            }
            if line == "PONG\r\n" {
                break;
            }
        }
        let w = Arc::new(tokio::sync::Mutex::new(w));
        let closed = Arc::new(AtomicBool::new(false));
        let (rw, rc) = (w.clone(), closed.clone());
        let reader = tokio::spawn(async move {
            let _ = read_loop(r, rw, on_msg).await;
            rc.store(true, Ordering::Release);
        })
        .abort_handle();
        Ok(Client { w, closed, reader })
    }

    async fn send(&self, bytes: &[u8]) -> bool {
        if self.closed.load(Ordering::Acquire) {
            return false;
        }
        let mut w = self.w.lock().await;
        matches!(tokio::time::timeout(Duration::from_secs(5), w.write_all(bytes)).await, Ok(Ok(())))
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

async fn read_loop(
    mut r: BufReader<tokio::net::tcp::OwnedReadHalf>,
    w: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    on_msg: OnMsg,
) -> std::io::Result<()> {
    let mut line = String::new();
    let mut payload = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        if line.starts_with("MSG ") {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let size: usize = parts.last().and_then(|s| s.parse().ok()).unwrap_or(0);
            payload.resize(size + 2, 0);
            r.read_exact(&mut payload).await?;
            let subject = parts.get(1).copied().unwrap_or_default();
            on_msg(subject, &payload[..size]);
        } else if line.starts_with("PING") {
            w.lock().await.write_all(b"PONG\r\n").await?;
        }
    }
}

/// A message's payload: sequence number, send time (nanoseconds since
/// start), padding.
fn payload(seq: u64, start: Instant, size: usize) -> Vec<u8> {
    let mut p = vec![b'.'; size.max(16)];
    p[..8].copy_from_slice(&seq.to_be_bytes());
    p[8..16].copy_from_slice(&(start.elapsed().as_nanos() as u64).to_be_bytes());
    p
}

fn seq_of(p: &[u8]) -> Option<(u64, u64)> {
    Some((u64::from_be_bytes(p.get(..8)?.try_into().ok()?), u64::from_be_bytes(p.get(8..16)?.try_into().ok()?)))
}

// ------------------------------------------------------------------ counting

/// Healthy deliveries: per (subscriber, publisher) the next sequence
/// expected; a gap is a loss, an earlier number a duplicate or reorder.
#[derive(Default)]
struct Healthy {
    next: Mutex<HashMap<(usize, u64), u64>>,
    delivered: AtomicU64,
    lost: AtomicU64,
    out_of_order: AtomicU64,
}

impl Healthy {
    fn record(&self, sub: usize, publisher: u64, seq: u64) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let expected = next.entry((sub, publisher)).or_insert(0);
        if seq > *expected {
            self.lost.fetch_add(seq - *expected, Ordering::Relaxed);
        } else if seq < *expected {
            self.out_of_order.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *expected = seq + 1;
    }
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    cross_sent: AtomicU64,
    cross_delivered: AtomicU64,
    queue_delivered: AtomicU64,
    requests: AtomicU64,
    request_failures: AtomicU64,
    cross_request_failures: AtomicU64,
    reconnects: AtomicU64,
    reloads: AtomicU64,
    kills: AtomicU64,
    /// Publishers that have stopped (after the run), so the final count of
    /// what was sent is exact.
    publishers_done: AtomicU64,
    /// Request round trips this interval, in microseconds.
    latencies: Mutex<Vec<u64>>,
}

/// The run's outcome, printed as JSON with `--json`.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub seconds: f64,
    pub connections: usize,
    pub healthy_sent: u64,
    pub healthy_delivered: u64,
    pub healthy_lost: u64,
    pub healthy_out_of_order: u64,
    pub healthy_request_failures: u64,
    pub cross_sent: u64,
    pub cross_delivered: u64,
    pub cross_request_failures: u64,
    pub queue_delivered: u64,
    pub requests: u64,
    pub reconnects: u64,
    pub reloads: u64,
    pub kills: u64,
    /// A's RSS at each interval, in MiB.
    pub rss_a_mib: Vec<f64>,
    /// A's open descriptors at each interval.
    pub fds_a: Vec<usize>,
    /// p99 request latency at each interval, in milliseconds.
    pub p99_ms: Vec<f64>,
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn mib(pid: Option<u32>) -> f64 {
    pid.and_then(crate::bench::rss_bytes).map_or(0.0, |b| b as f64 / (1 << 20) as f64)
}

// ------------------------------------------------------------------ the run

async fn soak(args: Args) -> Result<Report, String> {
    let dir = tempfile_dir()?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let reference = if args.reference { crate::spawn::reference_binary() } else { None };
    let names = ["A", "B", "C"];
    let bins = [me.clone(), me.clone(), reference.clone().unwrap_or(me.clone())];
    let ports: Vec<(u16, u16)> =
        (0..3).map(|_| Ok((free_port()?, free_port()?))).collect::<std::io::Result<_>>().map_err(|e| e.to_string())?;
    let http = free_port().map_err(|e| e.to_string())?;
    let mut nodes = Vec::new();
    for i in 0..3 {
        let users = dir.join(format!("users-{}.conf", names[i]));
        std::fs::write(&users, users_file(0)).map_err(|e| e.to_string())?;
        let others: Vec<u16> = (0..3).filter(|&j| j != i).map(|j| ports[j].1).collect();
        let conf = dir.join(format!("{}.conf", names[i]));
        let text = server_conf(ports[i].0, ports[i].1, &others, (i == 0).then_some(http), names[i], &users);
        std::fs::write(&conf, text).map_err(|e| e.to_string())?;
        let client = SocketAddr::from(([127, 0, 0, 1], ports[i].0));
        nodes.push(Node { name: names[i], bin: bins[i].clone(), conf, users, client, process: None });
    }
    for n in &mut nodes {
        n.start()?;
    }
    eprintln!(
        "soak: A={} B={} C={} ({}), {} connections, {:?}; reload every {:?}, kill every {:?}",
        nodes[0].client,
        nodes[1].client,
        nodes[2].client,
        if reference.is_some() { "the reference nats-server" } else { "rnats: reference not installed" },
        args.conns,
        args.duration,
        args.reload_every,
        args.kill_every
    );
    // Routes up before traffic: A is connected to both.
    let routez = format!("http://127.0.0.1:{http}/routez");
    wait_routes(&routez, 2, Duration::from_secs(20)).await?;

    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    // Subscribers on A hang up only after the final count: publishers may
    // send once more after `stop`, and a subscriber gone by then would turn
    // those last messages into false losses.
    let hang_up = Arc::new(AtomicBool::new(false));
    let healthy = Arc::new(Healthy::default());
    let counters = Arc::new(Counters::default());
    let (a, b, c) = (nodes[0].client, nodes[1].client, nodes[2].client);
    let mut tasks = tokio::task::JoinSet::new();

    // Shares of the connections: healthy subscribers and publishers on A,
    // cross-server subscribers on B and C, queue members and responders on A,
    // requesters on A (healthy) and B, churning clients on A, idle ones on all.
    let n = args.conns;
    let (pubs, subs) = (10u64, (n / 20).clamp(4, 200));
    let queue_members = 10;
    let responders = 5;
    let (requesters, cross_requesters) = (10u64, 5u64);
    let churners = (n / 20).clamp(4, 100);
    let cross_subs = (n / 20).clamp(4, 200);
    let busy = pubs as usize
        + subs
        + queue_members
        + responders
        + (requesters + cross_requesters) as usize
        + churners
        + cross_subs;
    let idle = n.saturating_sub(busy);

    // Healthy subscribers: on A, all of A's publishers (`h.<pub>`).
    for s in 0..subs {
        let h = healthy.clone();
        let on: OnMsg = Arc::new(move |subject: &str, p: &[u8]| {
            let publisher = subject.rsplit('.').next().and_then(|x| x.parse().ok()).unwrap_or(0);
            if let Some((seq, _)) = seq_of(p) {
                h.record(s, publisher, seq);
            }
        });
        let client = Client::connect(a, "healthy", "h", &[("h.*", None)], on).await.map_err(|e| e.to_string())?;
        tasks.spawn(hold(client, hang_up.clone()));
    }
    // Cross-server subscribers (on B and C): deliveries counted apart.
    for s in 0..cross_subs {
        let counted = counters.clone();
        let on: OnMsg = Arc::new(move |_: &str, _: &[u8]| {
            counted.cross_delivered.fetch_add(1, Ordering::Relaxed);
        });
        let at = if s % 2 == 0 { b } else { c };
        tasks.spawn(resilient(at, "cross", "c", vec![("x.>".into(), None)], on, stop.clone(), counters.clone()));
    }
    // Queue members on A: each message to exactly one of them.
    for _ in 0..queue_members {
        let counters = counters.clone();
        let on: OnMsg = Arc::new(move |_: &str, _: &[u8]| {
            counters.queue_delivered.fetch_add(1, Ordering::Relaxed);
        });
        let client =
            Client::connect(a, "healthy", "h", &[("q.work", Some("workers"))], on).await.map_err(|e| e.to_string())?;
        tasks.spawn(hold(client, hang_up.clone()));
    }
    // Responders on A (a queue group): answer on the reply subject.
    for _ in 0..responders {
        tasks.spawn(responder(a, stop.clone()));
    }
    // Idle connections, spread over the three servers, reconnecting after kills.
    let idle_on = [a, b, c];
    for i in 0..idle {
        let at = idle_on[i % 3];
        let subject = format!("idle.{i}");
        let on: OnMsg = Arc::new(|_: &str, _: &[u8]| {});
        tasks.spawn(resilient(at, "cross", "c", vec![(subject, None)], on, stop.clone(), counters.clone()));
        if i % 200 == 199 {
            tokio::task::yield_now().await;
        }
    }
    // Publishers on A: healthy subjects, cross-server subjects, queue work.
    for p in 0..pubs {
        tasks.spawn(publisher(a, p, start, stop.clone(), counters.clone()));
    }
    // Requesters: on A (healthy) and on B (through the route).
    for r in 0..requesters {
        tasks.spawn(requester(a, r, true, stop.clone(), counters.clone()));
    }
    for r in 0..cross_requesters {
        tasks.spawn(requester(b, 100 + r, false, stop.clone(), counters.clone()));
    }
    // Churn: clients on A that log in as users a reload may remove, and go
    // and come back all the time.
    for ch in 0..churners {
        tasks.spawn(churner(a, ch as u64, stop.clone(), counters.clone()));
    }
    tasks.spawn(flipper(a, stop.clone()));

    let mut report = Report { connections: n, ..Report::default() };
    let mut next_reload = start + args.reload_every;
    let mut next_kill = start + args.kill_every;
    let mut next_line = start + args.interval;
    let mut round = 0u64;
    let mut victim = 1usize;
    let mut down: Option<(usize, Instant)> = None;
    // Totals at the previous line: sent, delivered, cross-server, requests.
    let mut last = [0u64; 4];
    let end = start + args.duration;
    println!(
        "{:>6} {:>10} {:>10} {:>6} {:>9} {:>8} {:>9} {:>8} {:>8} {:>6} {:>8} {:>8} {:>5} {:>5}",
        "secs",
        "sent",
        "delivered",
        "lost",
        "x-deliv",
        "reqs",
        "p99 ms",
        "A MiB",
        "A fds",
        "reconn",
        "B MiB",
        "C MiB",
        "rld",
        "kill"
    );
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    while Instant::now() < end {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = &mut interrupted => {
                eprintln!("soak: interrupted; stopping the cluster");
                break;
            }
        }
        let now = Instant::now();
        if !args.reload_every.is_zero() && now >= next_reload {
            next_reload += args.reload_every;
            round += 1;
            // A and B reload (C may be the reference: it reloads too).
            for node in nodes.iter_mut() {
                if std::fs::write(&node.users, users_file(round)).is_ok() {
                    if let Some(p) = &node.process {
                        let _ = p.signal(rustix::process::Signal::HUP);
                    }
                }
            }
            counters.reloads.fetch_add(1, Ordering::Relaxed);
        }
        if let Some((i, since)) = down {
            if now >= since + Duration::from_secs(3) {
                nodes[i].start()?;
                down = None;
            }
        } else if !args.kill_every.is_zero() && now >= next_kill {
            next_kill += args.kill_every;
            nodes[victim].kill();
            counters.kills.fetch_add(1, Ordering::Relaxed);
            down = Some((victim, now));
            victim = if victim == 1 { 2 } else { 1 };
        }
        if now >= next_line {
            next_line += args.interval;
            let now_totals = [
                counters.sent.load(Ordering::Relaxed),
                healthy.delivered.load(Ordering::Relaxed),
                counters.cross_delivered.load(Ordering::Relaxed),
                counters.requests.load(Ordering::Relaxed),
            ];
            let lat = std::mem::take(&mut *counters.latencies.lock().unwrap_or_else(|e| e.into_inner()));
            let p99 = percentile(lat, 0.99) as f64 / 1000.0;
            let a_pid = nodes[0].pid();
            let rss_a = mib(a_pid);
            let fds = a_pid.map_or(0, open_fds);
            report.rss_a_mib.push(rss_a);
            report.fds_a.push(fds);
            report.p99_ms.push(p99);
            println!(
                "{:>6.0} {:>10} {:>10} {:>6} {:>9} {:>8} {:>9.2} {:>8.1} {:>8} {:>6} {:>8.1} {:>8.1} {:>5} {:>5}",
                start.elapsed().as_secs_f64(),
                now_totals[0] - last[0],
                now_totals[1] - last[1],
                healthy.lost.load(Ordering::Relaxed) + healthy.out_of_order.load(Ordering::Relaxed),
                now_totals[2] - last[2],
                now_totals[3] - last[3],
                p99,
                rss_a,
                fds,
                counters.reconnects.load(Ordering::Relaxed),
                mib(nodes[1].pid()),
                mib(nodes[2].pid()),
                counters.reloads.load(Ordering::Relaxed),
                counters.kills.load(Ordering::Relaxed),
            );
            last = now_totals;
        }
    }
    if let Some((i, _)) = down {
        nodes[i].start()?;
    }
    // Publishers stop first and are waited for, so what was sent is final;
    // then in-flight messages get time to arrive before the last count.
    stop.store(true, Ordering::Release);
    let settle = Instant::now() + Duration::from_secs(5);
    while counters.publishers_done.load(Ordering::Acquire) < pubs && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent = counters.sent.load(Ordering::Relaxed);
    let expected = sent * subs as u64;
    let behind = || {
        healthy.delivered.load(Ordering::Relaxed) < expected || counters.queue_delivered.load(Ordering::Relaxed) < sent
    };
    let settle = Instant::now() + Duration::from_secs(5);
    while behind() && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered = healthy.delivered.load(Ordering::Relaxed);
    report.seconds = start.elapsed().as_secs_f64();
    report.healthy_sent = sent;
    report.healthy_delivered = delivered;
    // Gaps seen, plus whatever never arrived at the end.
    report.healthy_lost = healthy.lost.load(Ordering::Relaxed) + expected.saturating_sub(delivered);
    report.healthy_out_of_order = healthy.out_of_order.load(Ordering::Relaxed);
    report.healthy_request_failures = counters.request_failures.load(Ordering::Relaxed);
    report.cross_sent = counters.cross_sent.load(Ordering::Relaxed);
    report.cross_delivered = counters.cross_delivered.load(Ordering::Relaxed);
    report.cross_request_failures = counters.cross_request_failures.load(Ordering::Relaxed);
    report.queue_delivered = counters.queue_delivered.load(Ordering::Relaxed);
    report.requests = counters.requests.load(Ordering::Relaxed);
    report.reconnects = counters.reconnects.load(Ordering::Relaxed);
    report.reloads = counters.reloads.load(Ordering::Relaxed);
    report.kills = counters.kills.load(Ordering::Relaxed);
    hang_up.store(true, Ordering::Release);
    tasks.abort_all();
    println!(
        "healthy: {} published x {subs} subscribers, {} delivered, {} lost, {} out of order, {} failed requests; \
         cross-server: {} delivered, {} failed requests; queue: {} of {} work items; {} requests; \
         {} reconnects, {} reloads, {} kills",
        report.healthy_sent,
        report.healthy_delivered,
        report.healthy_lost,
        report.healthy_out_of_order,
        report.healthy_request_failures,
        report.cross_delivered,
        report.cross_request_failures,
        report.queue_delivered,
        report.healthy_sent,
        report.requests,
        report.reconnects,
        report.reloads,
        report.kills
    );
    if args.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    }
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(report)
}

fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("rnats-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

fn percentile(mut v: Vec<u64>, p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p) as usize]
}

async fn wait_routes(url: &str, n: usize, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(body) = http_get(url).await {
            if serde_json::from_str::<serde_json::Value>(&body)
                .is_ok_and(|v| v["num_routes"].as_u64() == Some(n as u64))
            {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!("the cluster did not form ({n} routes on A) within {within:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn http_get(url: &str) -> std::io::Result<String> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (hostport, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut s = TcpStream::connect(hostport).await?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .map_err(|_| std::io::Error::other("timeout"))??;
    let text = String::from_utf8_lossy(&out).into_owned();
    Ok(text.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_string()))
}

/// Keeps a connection until `until` is set (or the server closes it).
async fn hold(client: Client, until: Arc<AtomicBool>) {
    while !until.load(Ordering::Acquire) && !client.is_closed() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A connection that comes back when its server goes away (killed peers).
async fn resilient(
    at: SocketAddr,
    user: &'static str,
    pass: &'static str,
    subs: Vec<(String, Option<String>)>,
    on: OnMsg,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
) {
    let mut first = true;
    while !stop.load(Ordering::Acquire) {
        let s: Vec<(&str, Option<&str>)> = subs.iter().map(|(a, b)| (a.as_str(), b.as_deref())).collect();
        match Client::connect(at, user, pass, &s, on.clone()).await {
            Ok(client) => {
                if !first {
                    counters.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                first = false;
                hold(client, stop.clone()).await;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250 + rand::random_range(0..250))).await,
        }
    }
}

/// Publishes healthy messages (`h.<p>`, numbered), cross-server ones
/// (`x.<p>`) and queue work (`q.work`), about 100 a second of each.
async fn publisher(at: SocketAddr, p: u64, start: Instant, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
    publish(at, p, start, &stop, &counters).await;
    counters.publishers_done.fetch_add(1, Ordering::AcqRel);
}

async fn publish(at: SocketAddr, p: u64, start: Instant, stop: &AtomicBool, counters: &Counters) {
    let on: OnMsg = Arc::new(|_: &str, _: &[u8]| {});
    let Ok(client) = Client::connect(at, "healthy", "h", &[], on).await else { return };
    let mut seq = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while !stop.load(Ordering::Acquire) {
        tick.tick().await;
        let body = payload(seq, start, 128);
        let mut out = Vec::with_capacity(3 * (body.len() + 32));
        for subject in [format!("h.{p}"), format!("x.{p}"), "q.work".to_string()] {
            out.extend_from_slice(format!("PUB {subject} {}\r\n", body.len()).as_bytes());
            out.extend_from_slice(&body);
            out.extend_from_slice(b"\r\n");
        }
        if !client.send(&out).await {
            return;
        }
        seq += 1;
        counters.sent.fetch_add(1, Ordering::Relaxed);
        counters.cross_sent.fetch_add(1, Ordering::Relaxed);
    }
}

/// Answers `svc` requests (in the `svc` queue group) on A.
async fn responder(at: SocketAddr, stop: Arc<AtomicBool>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Vec<u8>)>();
    // The reply subject is on the MSG line: the callback only sees the
    // subject, so requests carry their reply subject in the payload.
    let on: OnMsg = Arc::new(move |_: &str, p: &[u8]| {
        if let Some(end) = p.iter().position(|&b| b == b' ') {
            let reply = String::from_utf8_lossy(&p[..end]).into_owned();
            let _ = tx.send((reply, p[end + 1..].to_vec()));
        }
    });
    let Ok(client) = Client::connect(at, "healthy", "h", &[("svc", Some("svc"))], on).await else { return };
    while !stop.load(Ordering::Acquire) {
        let Some((reply, body)) = rx.recv().await else { return };
        let mut out = format!("PUB {reply} {}\r\n", body.len()).into_bytes();
        out.extend_from_slice(&body);
        out.extend_from_slice(b"\r\n");
        if !client.send(&out).await {
            return;
        }
    }
}

/// Sends a request every 50 ms and times the answer. On A (`healthy`) a
/// request that gets no answer in 2 s is a failure; through the route, while
/// a peer is down, failures are expected and counted apart.
async fn requester(at: SocketAddr, id: u64, healthy: bool, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
    let inbox = format!("_INBOX.soak{id}");
    while !stop.load(Ordering::Acquire) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        let on: OnMsg = Arc::new(move |_: &str, p: &[u8]| {
            let _ = tx.send(p.to_vec());
        });
        let sub = format!("{inbox}.*");
        let Ok(client) = Client::connect(at, "healthy", "h", &[(&sub, None)], on).await else {
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        };
        let mut n = 0u64;
        while !stop.load(Ordering::Acquire) && !client.is_closed() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            n += 1;
            let reply = format!("{inbox}.{n}");
            let body = format!("{reply} {n}");
            let sent = Instant::now();
            let msg = format!("PUB svc {reply} {}\r\n{body}\r\n", body.len());
            if !client.send(msg.as_bytes()).await {
                break;
            }
            let answered = tokio::time::timeout(Duration::from_secs(2), async {
                while let Some(p) = rx.recv().await {
                    if p.ends_with(format!(" {n}").as_bytes()) || p == n.to_string().as_bytes() {
                        return true;
                    }
                }
                false
            })
            .await;
            counters.requests.fetch_add(1, Ordering::Relaxed);
            if matches!(answered, Ok(true)) {
                let us = sent.elapsed().as_micros() as u64;
                counters.latencies.lock().unwrap_or_else(|e| e.into_inner()).push(us);
            } else if healthy && !stop.load(Ordering::Acquire) {
                counters.request_failures.fetch_add(1, Ordering::Relaxed);
            } else {
                counters.cross_request_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Logs in as the user whose permissions each reload flips, and publishes
/// to both sides: one of the two is refused (`-ERR`, connection kept).
async fn flipper(at: SocketAddr, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Acquire) {
        let on: OnMsg = Arc::new(|_: &str, _: &[u8]| {});
        let Ok(client) = Client::connect(at, "flip", "f", &[], on).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        while !stop.load(Ordering::Acquire) && !client.is_closed() {
            if !client.send(b"PUB flip.a.x 1\r\na\r\nPUB flip.b.x 1\r\nb\r\n").await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Logs in as a churned user (who a later reload removes), publishes a
/// little, leaves, and comes back as a newer one.
async fn churner(at: SocketAddr, id: u64, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
    let mut round = 0u64;
    while !stop.load(Ordering::Acquire) {
        let n = counters.reloads.load(Ordering::Relaxed) + (id % 8);
        let (user, pass) = (format!("churn{n}"), format!("c{n}"));
        let on: OnMsg = Arc::new(|_: &str, _: &[u8]| {});
        if let Ok(client) = Client::connect(at, &user, &pass, &[("churn.>", None)], on).await {
            counters.reconnects.fetch_add(u64::from(round > 0), Ordering::Relaxed);
            let _ = client.send(b"PUB churn.x 2\r\nhi\r\nPUB flip.a.x 1\r\nx\r\n").await;
            tokio::time::sleep(Duration::from_millis(500 + rand::random_range(0..1500))).await;
        } else {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        round += 1;
    }
}
