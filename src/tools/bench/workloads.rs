//! Workloads beyond one subject: `many` (one publisher over 10 000
//! subjects, wildcard subscribers) and `subs` (the rate of subscribing a
//! million distinct subjects, and the server's memory per subscription).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::config::{Config, Outcome, Res};
use super::conn::{Bar, Conn};
use super::memory::{pid_listening_on, rss_bytes};

/// Distinct subjects the `many` publisher cycles through.
const SUBJECTS: usize = 10_000;

/// `many`: `bench.many.0` … `bench.many.9999` in turn, to two wildcard
/// subscribers (`bench.many.*` and `bench.>`), each getting every message.
/// A server that caches matches per subject sees 10 000 of them.
pub(super) fn scenario_many(cfg: &Config, a: SocketAddr) -> Res<Outcome> {
    let patterns = ["bench.many.*", "bench.>"];
    let cycles = cfg.msgs.div_ceil(SUBJECTS as u64).max(1);
    let total = cycles * SUBJECTS as u64;
    let seen: Arc<Vec<AtomicU64>> = Arc::new(patterns.iter().map(|_| AtomicU64::new(0)).collect());
    let mut readers = Vec::new();
    for (i, pattern) in patterns.iter().enumerate() {
        let mut s = Conn::open(a)?;
        s.send(format!("SUB {pattern} 1\r\n").as_bytes())?;
        s.sync()?;
        let seen = seen.clone();
        readers.push(std::thread::spawn(move || -> Res<()> {
            let mut got = 0;
            while got < total {
                let k = (total - got).min(256);
                s.count_msgs(k, |_| {})?;
                got += k;
                seen[i].store(got, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    let payload = "x".repeat(cfg.size);
    let cycle: Vec<u8> =
        (0..SUBJECTS).flat_map(|i| format!("PUB bench.many.{i} {}\r\n{payload}\r\n", cfg.size).into_bytes()).collect();
    // At most 32 MiB ahead of the slower reader, as the other scenarios.
    let window = (32 * 1024 * 1024 / (cycle.len() / SUBJECTS)) as u64;
    let mut p = Conn::open(a)?;
    p.sync()?;
    let mut bar = Bar::new(cfg.progress, "many", total);
    let t = Instant::now();
    for c in 0..cycles {
        let sent = c * SUBJECTS as u64;
        let deadline = Instant::now() + Duration::from_secs(60);
        while sent.saturating_sub(seen.iter().map(|s| s.load(Ordering::Relaxed)).min().unwrap_or(0)) > window {
            if Instant::now() > deadline {
                return Err("many: the subscribers stopped reading".into());
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        p.send(&cycle)?;
        bar.set(sent);
    }
    bar.done();
    p.sync()?;
    for r in readers {
        r.join().map_err(|_| "reader panicked")??;
    }
    let d = t.elapsed();
    let delivered = total * patterns.len() as u64;
    Ok(Outcome {
        scenario: "many".into(),
        msgs_per_sec: Some(delivered as f64 / d.as_secs_f64().max(1e-9)),
        seconds: d.as_secs_f64(),
        ..Default::default()
    })
}

/// `subs`: `--subscriptions` distinct subjects (`bench.subs.N`) subscribed
/// over 10 connections, written in large batches; the rate, and the growth
/// of the server's resident memory per subscription (on a fresh server).
pub(super) fn scenario_subs(cfg: &Config, a: SocketAddr) -> Res<Outcome> {
    const CONNS: u64 = 10;
    let pid = cfg
        .server_pid
        .or_else(|| pid_listening_on(a))
        .ok_or("subs: cannot find the server process (use --server-pid)")?;
    let total = cfg.subscriptions.max(CONNS);
    let per_conn = total / CONNS;
    let mut conns = Vec::new();
    for _ in 0..CONNS {
        let mut c = Conn::open(a)?;
        c.sync()?;
        conns.push(c);
    }
    let before = rss_bytes(pid).ok_or("subs: cannot read the server's memory")?;
    let t = Instant::now();
    let writers: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(k, mut c)| {
            std::thread::spawn(move || -> Res<Conn> {
                let mut batch = String::with_capacity(256 * 1024);
                let first = k as u64 * per_conn;
                for i in first..first + per_conn {
                    use std::fmt::Write as _;
                    let _ = write!(batch, "SUB bench.subs.{i} {}\r\n", i - first + 1);
                    if batch.len() > 250 * 1024 {
                        c.send(batch.as_bytes())?;
                        batch.clear();
                    }
                }
                c.send(batch.as_bytes())?;
                c.sync()?;
                Ok(c)
            })
        })
        .collect();
    let mut conns = Vec::new();
    for w in writers {
        conns.push(w.join().map_err(|_| "subscriber panicked")??);
    }
    let d = t.elapsed();
    let after = rss_bytes(pid).ok_or("subs: cannot read the server's memory")?;
    drop(conns);
    let n = per_conn * CONNS;
    Ok(Outcome {
        scenario: "subs".into(),
        msgs_per_sec: Some(n as f64 / d.as_secs_f64().max(1e-9)),
        bytes_per_sub: Some(after.saturating_sub(before) as f64 / n as f64),
        seconds: d.as_secs_f64(),
        ..Default::default()
    })
}
