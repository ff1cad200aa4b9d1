//! The soak's client roles: publishers, responders, requesters, the user
//! whose permissions flip, churned users, and connections that come back.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{payload, Client, OnMsg};
use super::tally::Counters;

/// Keeps a connection until `until` is set (or the server closes it).
pub(super) async fn hold(client: Client, until: Arc<AtomicBool>) {
    while !until.load(Ordering::Acquire) && !client.is_closed() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A connection that comes back when its server goes away (killed peers).
pub(super) async fn resilient(
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
pub(super) async fn publisher(at: SocketAddr, p: u64, start: Instant, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
    publish(at, p, start, &stop, &counters).await;
    counters.publishers_done.fetch_add(1, Ordering::AcqRel);
}

pub(super) async fn publish(at: SocketAddr, p: u64, start: Instant, stop: &AtomicBool, counters: &Counters) {
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
pub(super) async fn responder(at: SocketAddr, stop: Arc<AtomicBool>) {
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
pub(super) async fn requester(at: SocketAddr, id: u64, healthy: bool, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
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
pub(super) async fn flipper(at: SocketAddr, stop: Arc<AtomicBool>) {
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
pub(super) async fn churner(at: SocketAddr, id: u64, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
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
