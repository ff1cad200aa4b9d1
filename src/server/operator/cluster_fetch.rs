//! A directory resolver's lookup of an account it does not hold, in the
//! cluster (nats-server's `Server.fetch`): `$SYS.REQ.ACCOUNT.<key>.CLAIMS.LOOKUP`
//! with a reply inbox of this server; every `full` resolver answers, with
//! the JWT or an empty message (not there). The first JWT wins; an empty
//! answer counts only once every server known has answered, or when no
//! other server is known. Nothing within the resolver's `timeout`:
//! `fetching jwt timed out`.
//!
//! The answers are taken straight off the publisher's delivery (an
//! internal subscription whose sink hands them to the waiting caller), so a
//! lookup waits for no task of this server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::server::accounts::ServerAccount;
use crate::server::conn::{ConnKind, Connection, InternalSink, Subscription, Via};
use crate::server::deliver::{Fanout, Message, Publisher};
use crate::server::outbound::WhenBehind;
use crate::server::proto::Publish;
use crate::server::state::ServerState;

/// nats-server's texts for a lookup without an answer.
pub const TIMED_OUT: &str = "fetching jwt timed out";
pub const NOT_FOUND: &str = "account jwt not found";

/// The start of this server's lookups' reply subjects.
pub fn inbox_prefix(server_id: &str) -> String {
    format!("$SYS._INBOX.{server_id}.LOOKUP.")
}

/// The lookups of one server.
pub struct ClusterFetch {
    /// For the number of other servers (weak: the server owns this).
    server: Weak<ServerState>,
    /// The system account, where the requests are published.
    account: Arc<ServerAccount>,
    /// The publisher of the requests and owner of the inbox subscription.
    conn: Arc<Connection>,
    /// `$SYS._INBOX.<server id>.LOOKUP.`: a lookup's reply subject is this
    /// and its number.
    prefix: String,
    next: AtomicU64,
    waiting: Arc<Waiting>,
}

/// The lookups waiting for answers, by number.
#[derive(Debug, Default)]
struct Waiting {
    /// A std Mutex: taken by the caller to add and remove its entry and by
    /// the delivery of an answer to hand it over; never held across a wait.
    calls: Mutex<HashMap<u64, Call>>,
}

#[derive(Debug)]
struct Call {
    /// Answers still expected before an empty one counts.
    expected: i64,
    /// Capacity one: the first answer that counts; later ones are dropped.
    answer: SyncSender<Vec<u8>>,
}

impl InternalSink for Waiting {
    fn deliver(&self, _handler: u16, _account: &Arc<ServerAccount>, msg: &Publish<'_>) {
        let subject = String::from_utf8_lossy(msg.subject);
        let Some(id) = subject.rsplit('.').next().and_then(|n| n.parse::<u64>().ok()) else { return };
        let body = match msg.header_len {
            Some(h) if h <= msg.payload.len() => &msg.payload[h..],
            _ => msg.payload,
        };
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let Some(call) = calls.get_mut(&id) else { return };
        call.expected -= 1;
        if body.is_empty() && call.expected > 0 {
            return;
        }
        let _ = call.answer.try_send(body.to_vec());
    }
}

impl ClusterFetch {
    /// Subscribes this server's lookup inbox in the system account.
    pub fn start(server: &Arc<ServerState>, account: Arc<ServerAccount>) -> Option<ClusterFetch> {
        let nowhere = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
        let conn = Arc::new(Connection::new(0, ConnKind::Client, nowhere, account.clone(), server.stats().clone()));
        let prefix = inbox_prefix(server.id());
        let waiting = Arc::new(Waiting::default());
        let sink: Arc<dyn InternalSink> = waiting.clone();
        let via = Via::Internal { sink, handler: 0, announce: true };
        let sub = Subscription::internal(conn.clone(), account.clone(), format!("{prefix}*").as_bytes(), via);
        if account.subscribe(&Arc::new(sub)).is_err() {
            tracing::error!("system account: cannot subscribe to {prefix}*");
            return None;
        }
        Some(ClusterFetch { server: Arc::downgrade(server), account, conn, prefix, next: AtomicU64::new(0), waiting })
    }

    /// Asks the cluster for the account's JWT and waits up to `timeout`.
    /// Blocking.
    pub fn fetch(&self, key: &str, timeout: Duration) -> Result<String, String> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = sync_channel(1);
        let others = self.server.upgrade().and_then(|s| s.cluster().map(|c| c.links().len())).unwrap_or(0);
        let call = Call { expected: i64::try_from(others).unwrap_or(i64::MAX), answer };
        self.waiting.calls.lock().unwrap_or_else(|e| e.into_inner()).insert(id, call);
        self.publish(&format!("$SYS.REQ.ACCOUNT.{key}.CLAIMS.LOOKUP"), &format!("{}{id}", self.prefix));
        let got = answered.recv_timeout(timeout);
        self.waiting.calls.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        match got {
            Ok(jwt) if jwt.is_empty() => Err(NOT_FOUND.into()),
            Ok(jwt) => Ok(String::from_utf8_lossy(&jwt).into_owned()),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => Err(TIMED_OUT.into()),
        }
    }

    /// An empty request, as a client of the system account would send it.
    fn publish(&self, subject: &str, reply: &str) {
        let msg = Message {
            subject: subject.as_bytes(),
            reply: Some(reply.as_bytes()),
            header_len: None,
            payload: b"",
            size_text: b"0",
            header_text: b"",
        };
        let mut fanout = Fanout::default();
        let from = Publisher { conn: &self.conn, echo: true, when_behind: WhenBehind::Queue };
        fanout.publish(&self.account, &msg, from);
        fanout.finish_batch(&self.conn);
    }
}
