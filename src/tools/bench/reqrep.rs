//! Request/reply: a responder thread answering every request, and a
//! requester timing each round trip. Shared by `reqrep`, `service` (through
//! a service import), `churn` (a fresh inbox per request) and `steady`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::config::{Config, Latency, Outcome, Res};
use super::conn::{Bar, Conn};

/// A message on this subject ends every responder (they all subscribe it).
pub(super) const STOP: &str = "_bench.stop";

/// Answers requests on `c` (already subscribed) with a 2-byte reply until
/// `limit` are answered or a message arrives on [`STOP`]; returns how many.
pub(super) fn spawn_responder(mut c: Conn, limit: u64) -> JoinHandle<Res<u64>> {
    std::thread::spawn(move || -> Res<u64> {
        let mut answered = 0;
        while answered < limit {
            let l = c.line()?;
            let (fields, headers) = if let Some(rest) = l.strip_prefix("MSG ") {
                (rest, false)
            } else if let Some(rest) = l.strip_prefix("HMSG ") {
                (rest, true)
            } else {
                continue;
            };
            // MSG subject sid [reply] size; HMSG subject sid [reply] hdr total.
            let parts: Vec<&str> = fields.split_whitespace().collect();
            let size: usize = parts.last().and_then(|s| s.parse().ok()).ok_or("bad size")?;
            while c.buf.len() < c.pos + size + 2 {
                c.fill()?;
            }
            c.pos += size + 2;
            if parts.first() == Some(&STOP) {
                break;
            }
            let reply = match (headers, parts.len()) {
                (false, 4) | (true, 5) => parts[2],
                _ => return Err(format!("request without reply: {}", l.trim())),
            };
            c.send(format!("PUB {reply} 2\r\nok\r\n").as_bytes())?;
            answered += 1;
        }
        Ok(answered)
    })
}

/// A responder subscribed to `subject` (in queue group `queue` if given)
/// and to [`STOP`], ready when this returns.
pub(super) fn responder(mut c: Conn, subject: &str, queue: Option<&str>, limit: u64) -> Res<JoinHandle<Res<u64>>> {
    let q = queue.map(|q| format!(" {q}")).unwrap_or_default();
    c.send(format!("SUB {subject}{q} 1\r\nSUB {STOP} 2\r\n").as_bytes())?;
    c.sync()?;
    Ok(spawn_responder(c, limit))
}

/// How the requester asks.
pub(super) struct Ask<'a> {
    pub name: &'a str,
    pub subject: &'a str,
    /// Every request subscribes a fresh inbox that unsubscribes itself after
    /// one message (`SUB`, `UNSUB sid 1`, `PUB` in one write, as the
    /// clients' old-style request does); otherwise one standing inbox.
    pub fresh_inbox: bool,
}

/// `n` sequential requests on `req`; the outcome with their latencies.
pub(super) fn requests(cfg: &Config, mut req: Conn, ask: &Ask, n: u64) -> Res<Outcome> {
    let size = cfg.size;
    let payload = "x".repeat(size);
    if !ask.fresh_inbox {
        req.send(b"SUB bench.inbox 1\r\n")?;
    }
    req.sync()?;
    let standing = format!("PUB {} bench.inbox {size}\r\n{payload}\r\n", ask.subject);
    let mut lat = Vec::with_capacity(n as usize);
    let mut bar = Bar::new(cfg.progress, ask.name, n);
    let mut line = String::new();
    let t = Instant::now();
    for i in 0..n {
        bar.set(i);
        let s = Instant::now();
        if ask.fresh_inbox {
            use std::fmt::Write as _;
            line.clear();
            let sid = i + 10;
            let _ = write!(
                line,
                "SUB _INBOX.bench.{i} {sid}\r\nUNSUB {sid} 1\r\nPUB {} _INBOX.bench.{i} {size}\r\n{payload}\r\n",
                ask.subject
            );
            req.send(line.as_bytes())?;
        } else {
            req.send(standing.as_bytes())?;
        }
        req.count_msgs(1, |_| {})?;
        lat.push(s.elapsed().as_secs_f64() * 1e6);
    }
    let d = t.elapsed();
    bar.done();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    Ok(Outcome {
        scenario: ask.name.into(),
        msgs_per_sec: Some(n as f64 / d.as_secs_f64().max(1e-9)),
        latency_us: Some(Latency { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), max: lat[lat.len() - 1] }),
        seconds: d.as_secs_f64(),
        ..Default::default()
    })
}

/// `reqrep`: one responder, one requester, one standing inbox.
pub(super) fn scenario_reqrep(cfg: &Config, a: SocketAddr) -> Res<Outcome> {
    let server = responder(Conn::open(a)?, "bench.svc", None, cfg.requests)?;
    let o =
        requests(cfg, Conn::open(a)?, &Ask { name: "reqrep", subject: "bench.svc", fresh_inbox: false }, cfg.requests)?;
    server.join().map_err(|_| "responder panicked")??;
    Ok(o)
}

/// Other traffic while a scenario runs: a publisher over 16 subjects at a
/// steady pace (about `per_ms` messages a millisecond) and a `>`-style
/// subscriber reading them, until dropped.
pub(super) struct Background {
    stop: Arc<AtomicBool>,
    publisher: Option<JoinHandle<Res<()>>>,
    reader: Option<JoinHandle<Res<()>>>,
}

impl Background {
    pub(super) fn start(a: SocketAddr, per_ms: usize) -> Res<Background> {
        let mut sub = Conn::open(a)?;
        sub.send(b"SUB bench.bg.> 1\r\n")?;
        sub.sync()?;
        let mut publ = Conn::open(a)?;
        publ.sync()?;
        let stop = Arc::new(AtomicBool::new(false));
        let batch: Vec<u8> = (0..per_ms)
            .flat_map(|i| format!("PUB bench.bg.{} 16\r\n{}\r\n", i % 16, "x".repeat(16)).into_bytes())
            .collect();
        let stopped = stop.clone();
        let publisher = std::thread::spawn(move || -> Res<()> {
            while !stopped.load(Ordering::Relaxed) {
                publ.send(&batch)?;
                std::thread::sleep(Duration::from_millis(1));
            }
            publ.send(b"PUB bench.bg.end 3\r\nEND\r\n")?;
            publ.sync()
        });
        let reader = std::thread::spawn(move || -> Res<()> {
            let mut end = false;
            while !end {
                sub.count_msgs(1, |pl| end = pl == b"END")?;
            }
            Ok(())
        });
        Ok(Background { stop, publisher: Some(publisher), reader: Some(reader) })
    }

    /// Stops the publisher and waits for the reader to see its last message.
    pub(super) fn finish(mut self) -> Res<()> {
        self.stop.store(true, Ordering::Relaxed);
        for h in [self.publisher.take(), self.reader.take()].into_iter().flatten() {
            h.join().map_err(|_| "background traffic panicked")??;
        }
        Ok(())
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// `churn`: request/reply with a fresh inbox per request (subscribed and
/// auto-unsubscribed each time) while other traffic runs: every request
/// changes the account's subscriptions under the other publisher.
pub(super) fn scenario_churn(cfg: &Config, a: SocketAddr) -> Res<Outcome> {
    let bg = Background::start(a, 32)?;
    let server = responder(Conn::open(a)?, "bench.svc", None, cfg.requests)?;
    let o =
        requests(cfg, Conn::open(a)?, &Ask { name: "churn", subject: "bench.svc", fresh_inbox: true }, cfg.requests)?;
    server.join().map_err(|_| "responder panicked")??;
    bg.finish()?;
    Ok(o)
}
