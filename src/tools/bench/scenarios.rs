//! The scenarios: publishers and subscribers on blocking threads, with the
//! publisher kept within a window of its slowest reader.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::accounts::ACCOUNT_SCENARIOS;
use super::config::{Config, Outcome, Res, EXTRA_SCENARIOS, SCENARIOS};
use super::conn::{addr, Bar, Conn};
use super::memory::{pid_listening_on, rss_bytes};
use super::tls::TLS_SCENARIOS;
use super::ws::WS_SCENARIOS;
use super::{accounts, reqrep, steady, workloads};

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
pub(super) fn fan(
    cfg: &Config,
    a: SocketAddr,
    subs: usize,
    queue: Option<&str>,
    size: usize,
    name: &str,
) -> Res<Outcome> {
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
        let to = cfg.publish_to.as_deref().unwrap_or(&cfg.subject);
        publish_paced(&mut p, to, size, total, Some(&progress), &mut Bar::new(cfg.progress, name, total))?;
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
        "reqrep" => reqrep::scenario_reqrep(cfg, a),
        "churn" => reqrep::scenario_churn(cfg, a),
        "service" => accounts::scenario_service(cfg, a),
        "mapped" => {
            // Published to bench.in.x, which the accounts config maps to
            // the subscriber's bench.out.x.
            let run = Config { subject: "bench.out.x".into(), publish_to: Some("bench.in.x".into()), ..cfg.clone() };
            fan(&run, a, 1, None, cfg.size, "mapped")
        }
        "filtered" => accounts::scenario_filtered(cfg, a),
        "many" => workloads::scenario_many(cfg, a),
        "subs" => workloads::scenario_subs(cfg, a),
        "steady" => steady::scenario_steady(cfg, a),
        "flood" => scenario_flood(cfg, a),
        "idle" => scenario_idle(cfg, a),
        "tls" => scenario_tls(cfg, a),
        "ws" | "ws-deflate" => {
            let over_ws = Config { websocket: Some(name == "ws-deflate"), ..cfg.clone() };
            fan(&over_ws, a, 1, None, cfg.size, name)
        }
        other => Err(format!(
            "unknown scenario `{other}` (known: {}, {}, {}, {}, {})",
            SCENARIOS.join(", "),
            EXTRA_SCENARIOS.join(", "),
            ACCOUNT_SCENARIOS.join(", "),
            TLS_SCENARIOS.join(", "),
            WS_SCENARIOS.join(", ")
        )),
    }
}
