//! `steady`: the server's resident memory under a steady mixed load for
//! `--duration`: 45 connections, fan-out at four message sizes and
//! request/reply through a queue group of responders, all at fixed rates,
//! so both servers do the same work and only their memory differs.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::config::{Config, Outcome, Res};
use super::conn::Conn;
use super::memory::{pid_listening_on, rss_bytes};
use super::reqrep::{responder, STOP};

/// Payload size and messages per millisecond of each publisher.
const PUBLISHERS: [(usize, usize); 4] = [(16, 8), (256, 4), (1024, 2), (4096, 1)];
/// Subscribers of each publisher's subject.
const FAN: usize = 7;
const RESPONDERS: usize = 4;
const REQUESTERS: usize = 9;

type Worker = JoinHandle<Res<()>>;

fn join_all(hs: Vec<Worker>) -> Res<()> {
    for h in hs {
        h.join().map_err(|_| "steady: a worker panicked")??;
    }
    Ok(())
}

/// A subscriber reading until a message `END`.
fn reader(a: SocketAddr, subject: &str) -> Res<Worker> {
    let mut s = Conn::open(a)?;
    s.send(format!("SUB {subject} 1\r\n").as_bytes())?;
    s.sync()?;
    Ok(std::thread::spawn(move || -> Res<()> {
        let mut end = false;
        while !end {
            s.count_msgs(1, |pl| end = pl == b"END")?;
        }
        Ok(())
    }))
}

/// A publisher writing `per_ms` messages of `size` bytes each millisecond
/// until `stop`, then `END`.
fn publisher(a: SocketAddr, subject: String, size: usize, per_ms: usize, stop: Arc<AtomicBool>) -> Res<Worker> {
    let mut p = Conn::open(a)?;
    p.sync()?;
    let batch = format!("PUB {subject} {size}\r\n{}\r\n", "x".repeat(size)).repeat(per_ms);
    Ok(std::thread::spawn(move || -> Res<()> {
        while !stop.load(Ordering::Relaxed) {
            p.send(batch.as_bytes())?;
            std::thread::sleep(Duration::from_millis(1));
        }
        p.send(format!("PUB {subject} 3\r\nEND\r\n").as_bytes())?;
        p.sync()
    }))
}

/// A requester asking one request at a time, a millisecond apart, until `stop`.
fn requester(a: SocketAddr, k: usize, stop: Arc<AtomicBool>) -> Res<Worker> {
    let mut r = Conn::open(a)?;
    r.send(format!("SUB bench.steady.inbox.{k} 1\r\n").as_bytes())?;
    r.sync()?;
    let ask = format!("PUB bench.steady.svc bench.steady.inbox.{k} 100\r\n{}\r\n", "x".repeat(100));
    Ok(std::thread::spawn(move || -> Res<()> {
        while !stop.load(Ordering::Relaxed) {
            r.send(ask.as_bytes())?;
            r.count_msgs(1, |_| {})?;
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }))
}

pub(super) fn scenario_steady(cfg: &Config, a: SocketAddr) -> Res<Outcome> {
    let pid = cfg
        .server_pid
        .or_else(|| pid_listening_on(a))
        .ok_or("steady: cannot find the server process (use --server-pid)")?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for k in 0..PUBLISHERS.len() {
        for _ in 0..FAN {
            readers.push(reader(a, &format!("bench.steady.{k}"))?);
        }
    }
    let mut responders = Vec::new();
    for _ in 0..RESPONDERS {
        responders.push(responder(Conn::open(a)?, "bench.steady.svc", Some("steady"), u64::MAX)?);
    }
    let mut workers = Vec::new();
    for (k, (size, per_ms)) in PUBLISHERS.iter().enumerate() {
        workers.push(publisher(a, format!("bench.steady.{k}"), *size, *per_ms, stop.clone())?);
    }
    for k in 0..REQUESTERS {
        workers.push(requester(a, k, stop.clone())?);
    }
    let t = Instant::now();
    let mut rss = 0;
    while t.elapsed() < cfg.duration {
        std::thread::sleep(Duration::from_millis(250).min(cfg.duration.saturating_sub(t.elapsed())));
        if cfg.progress {
            eprint!("\rsteady   {:>4.0}s RSS {:>6.1} MB", t.elapsed().as_secs_f64(), rss as f64 / 1e6);
        }
        rss = rss_bytes(pid).ok_or("steady: cannot read the server's memory")?;
    }
    if cfg.progress {
        eprint!("\r{}\r", " ".repeat(40));
    }
    stop.store(true, Ordering::Relaxed);
    let d = t.elapsed();
    join_all(workers)?;
    join_all(readers)?;
    let mut stopper = Conn::open(a)?;
    stopper.send(format!("PUB {STOP} 0\r\n\r\n").as_bytes())?;
    stopper.sync()?;
    for r in responders {
        r.join().map_err(|_| "steady: a responder panicked")??;
    }
    Ok(Outcome {
        scenario: "steady".into(),
        rss_bytes: Some(rss as f64),
        seconds: d.as_secs_f64(),
        ..Default::default()
    })
}
