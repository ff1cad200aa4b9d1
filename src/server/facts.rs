//! A connection's observable state frozen at one instant: what monitoring
//! formats for a live connection, and what the server keeps of a closed one
//! (the closed-connection ring). Plain data, taken off the message path.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::clock::unix_nanos;
use super::conn::{ClientMeta, ConnKind, Connection, Subscription};
use super::stats::Traffic;

/// One connection at one instant.
#[derive(Debug, Clone)]
pub struct ConnFacts {
    pub cid: u64,
    pub kind: ConnKind,
    pub websocket: bool,
    pub addr: SocketAddr,
    /// Unix nanoseconds.
    pub start: u64,
    /// Unix nanoseconds of the last activity, never before `start`.
    pub last: u64,
    /// What the client said about itself (and its user).
    pub meta: ClientMeta,
    pub traffic: Traffic,
    pub pending_bytes: u64,
    pub stalls: u64,
    pub subscriptions: u32,
}

impl ConnFacts {
    /// Takes the connection's meta lock briefly.
    pub fn of(conn: &Connection) -> ConnFacts {
        let start = unix_nanos(conn.start);
        let meta = conn.meta.lock().unwrap_or_else(|e| e.into_inner()).clone();
        ConnFacts {
            cid: conn.cid,
            kind: conn.kind,
            websocket: conn.websocket,
            addr: conn.addr,
            start,
            last: conn.last_activity().max(start),
            meta,
            traffic: conn.traffic(),
            pending_bytes: conn.outbound.pending() as u64,
            stalls: conn.stalls.load(Ordering::Relaxed),
            subscriptions: conn.num_subs() as u32,
        }
    }
}

/// One subscription at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubFacts {
    pub subject: String,
    /// Empty when it is in no queue group.
    pub queue: String,
    pub sid: String,
    /// Messages delivered to it.
    pub msgs: u64,
    /// Its auto-unsubscribe limit, 0 for none.
    pub max: u64,
    pub cid: u64,
}

impl SubFacts {
    pub fn of(sub: &Subscription) -> SubFacts {
        SubFacts {
            subject: String::from_utf8_lossy(&sub.subject).into_owned(),
            queue: sub.queue.as_deref().map(|q| String::from_utf8_lossy(q).into_owned()).unwrap_or_default(),
            sid: String::from_utf8_lossy(&sub.sid).into_owned(),
            msgs: sub.delivered(),
            max: sub.max(),
            cid: sub.conn.cid,
        }
    }
}

/// A connection's subscriptions, in sid order (nats-server lists them in
/// map order, which is random; a stable order is easier to read and test).
pub fn subscriptions_of(conn: &Connection) -> Vec<Arc<Subscription>> {
    let mut subs = conn.subscriptions();
    subs.sort_by(|a, b| sid_order(&a.sid, &b.sid));
    subs
}

/// Numeric sids in numeric order, then the others bytewise.
pub fn sid_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let num = |s: &[u8]| std::str::from_utf8(s).ok().and_then(|s| s.parse::<u64>().ok());
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}
