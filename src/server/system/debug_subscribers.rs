//! `$SYS.DEBUG.SUBSCRIBERS` (nats-server's events.go `debugSubscribers`,
//! `nsubsRequest`): the body is a subject, optionally a space and a queue
//! group; the answer is how many client subscriptions in the asker's
//! account match it, across the cluster. This server counts its own, asks
//! the peers with clients in the account (`$SYS.REQ.ACCOUNT.NSUBS`, with a
//! reply inbox of its own), and answers once they all did or after
//! [`WAIT_FOR_PEERS`].

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{Incoming, SystemTask};
use crate::server::accounts::ServerAccount;
use crate::server::conn::{ConnKind, Subscription, Via};
use crate::server::service::request_info::ReceivedClientInfo;
use crate::subject::{has_wildcard, is_subset_match};

/// How long the peers have to answer (nats-server's 500 ms).
pub const WAIT_FOR_PEERS: Duration = Duration::from_millis(500);

/// The subject the peers are asked on.
pub const NSUBS_REQUEST: &str = "$SYS.REQ.ACCOUNT.NSUBS";

/// The inbox the peers' counts come back to, `<n>` the request's number.
pub fn nsubs_inbox(server_id: &str) -> String {
    format!("$SYS._INBOX.{server_id}.NSUBS")
}

/// nats-server's `accNumSubsReq`; its queue is a Go `[]byte` (base64).
#[derive(Serialize, Deserialize)]
struct NumSubsRequest {
    acc: String,
    subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    queue: Option<String>,
}

/// A count waiting for the peers.
#[derive(Debug)]
pub struct PendingCount {
    reply: Box<[u8]>,
    count: i64,
    answers: usize,
    expected: usize,
    deadline: Instant,
}

/// The counts waiting for the peers, by request number.
#[derive(Debug, Default)]
pub struct PendingCounts {
    next: u64,
    waiting: HashMap<u64, PendingCount>,
}

impl PendingCounts {
    /// The earliest deadline, if a count waits.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.waiting.values().map(|p| p.deadline).min()
    }
}

/// The subject and the optional queue of a request body, split as
/// nats-server splits it (on single spaces, after trimming).
fn parse_body(body: &[u8]) -> (&[u8], Option<&[u8]>) {
    let body = body.trim_ascii();
    let mut args = body.split(|&b| b == b' ');
    let subject = args.next().unwrap_or_default();
    (subject, args.next())
}

/// Whether nats-server counts `sub`: a client's own subscription, or a
/// stream import's shadow of one (its owner is the importing client); not
/// a route's, nor the server's own entries.
fn is_client_subscription(sub: &Subscription) -> bool {
    sub.conn.kind == ConnKind::Client && matches!(sub.via.as_deref(), None | Some(Via::Shadow(_)))
}

/// The subscriptions of `account` matching `subject` (and `queue`, when
/// given), counted as nats-server's `totalSubs` and its wildcard path do.
pub fn count_subscribers(account: &ServerAccount, subject: &[u8], queue: Option<&[u8]>) -> i64 {
    let mut n = 0;
    if has_wildcard(subject) {
        // Every subscription whose subject lies within the pattern.
        account.sublist.for_each(|sub_subject, sub_queue, sub| {
            // A queue asked for: only its members (an empty one, as a Go
            // nil slice, also counts plain subscriptions).
            let queue_ok = queue.is_none_or(|q| sub_queue.unwrap_or_default() == q);
            if queue_ok && is_subset_match(sub_subject, subject) && is_client_subscription(sub) {
                n += 1;
            }
        });
        return n;
    }
    let found = account.sublist.match_subject(subject);
    if queue.is_none() {
        n += found.psubs.iter().filter(|s| is_client_subscription(s)).count() as i64;
    }
    for group in &found.qsubs {
        if queue.is_none_or(|q| &*group.name == q) {
            n += group.members.iter().filter(|s| is_client_subscription(s)).count() as i64;
        }
    }
    n
}

impl SystemTask {
    /// A `$SYS.DEBUG.SUBSCRIBERS` request: in the account the request came
    /// from (the import's `Nats-Request-Info`), or the system account's own.
    pub(super) fn debug_subscribers(&mut self, m: &Incoming) {
        let Some(reply) = m.reply.as_deref() else { return };
        let info = m.header.as_deref().and_then(ReceivedClientInfo::from_header);
        let account = match info {
            Some(info) if !info.svc.is_empty() => self.server.accounts().get(&info.svc),
            Some(info) if !info.acc.is_empty() => self.server.accounts().get(&info.acc),
            _ => Some(self.account.clone()),
        };
        let Some(account) = account else { return };
        let (subject, queue) = parse_body(&m.body);
        let count = count_subscribers(&account, subject, queue);
        let expected = self.remotes.with_clients_in(&account.name);
        if expected == 0 {
            return self.publish_system(reply, None, count.to_string().as_bytes());
        }
        let number = self.pending_counts.next;
        self.pending_counts.next += 1;
        let request = NumSubsRequest {
            acc: account.name.to_string(),
            subject: String::from_utf8_lossy(subject).into_owned(),
            queue: queue.map(|q| base64::engine::general_purpose::STANDARD.encode(q)),
        };
        let pending = PendingCount {
            reply: reply.into(),
            count,
            answers: 0,
            expected,
            deadline: Instant::now() + WAIT_FOR_PEERS,
        };
        self.pending_counts.waiting.insert(number, pending);
        let inbox = format!("{}.{number}", nsubs_inbox(self.server.id()));
        let body = serde_json::to_vec(&request).unwrap_or_default();
        self.publish_system(NSUBS_REQUEST.as_bytes(), Some(inbox.as_bytes()), &body);
    }

    /// A peer's `$SYS.REQ.ACCOUNT.NSUBS`: this server's count, when it has
    /// clients in the account (others stay silent, as nats-server's).
    pub(super) fn nsubs_request(&mut self, m: &Incoming) {
        let Some(reply) = m.reply.as_deref() else { return };
        let Ok(request) = serde_json::from_slice::<NumSubsRequest>(&m.body) else {
            tracing::error!("Error unmarshalling account nsubs request message");
            return;
        };
        let Some(account) = self.server.accounts().get(&request.acc) else { return };
        if account.num_clients() == 0 {
            return;
        }
        let queue = match request.queue.as_deref().map(|q| base64::engine::general_purpose::STANDARD.decode(q)) {
            Some(Ok(q)) => Some(q),
            Some(Err(_)) => return,
            None => None,
        };
        let count = count_subscribers(&account, request.subject.as_bytes(), queue.as_deref());
        let reply = reply.to_vec();
        self.publish_system(&reply, None, count.to_string().as_bytes());
    }

    /// A peer's count for request `<n>` of the inbox.
    pub(super) fn nsubs_reply(&mut self, m: &Incoming) {
        let number = std::str::from_utf8(&m.subject).ok().and_then(|s| s.rsplit('.').next()?.parse::<u64>().ok());
        let Some(pending) = number.and_then(|n| self.pending_counts.waiting.get_mut(&n)) else { return };
        if let Some(n) = std::str::from_utf8(&m.body).ok().and_then(|s| s.trim().parse::<i64>().ok()) {
            pending.count += n;
        }
        pending.answers += 1;
        if pending.answers >= pending.expected {
            let done = number.and_then(|n| self.pending_counts.waiting.remove(&n));
            if let Some(done) = done {
                self.publish_system(&done.reply, None, done.count.to_string().as_bytes());
            }
        }
    }

    /// Answers the counts whose peers did not all answer in time.
    pub(super) fn expire_counts(&mut self) {
        let now = Instant::now();
        let late: Vec<u64> =
            self.pending_counts.waiting.iter().filter(|(_, p)| p.deadline <= now).map(|(n, _)| *n).collect();
        for number in late {
            if let Some(done) = self.pending_counts.waiting.remove(&number) {
                self.publish_system(&done.reply, None, done.count.to_string().as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::server::conn::Connection;

    #[test]
    fn literal_and_wildcard_requests_count_as_nats_server_does() {
        let account = Arc::new(ServerAccount::new("A"));
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 1));
        let conn = Arc::new(Connection::new(1, ConnKind::Client, addr, account.clone(), Default::default()));
        let route = Arc::new(Connection::new(2, ConnKind::Route, addr, account.clone(), Default::default()));
        for (i, (subject, queue)) in
            [("foo", None), ("foo", None), ("foo.*", None), ("foo.bar", Some("q")), ("foo.bar", Some("r"))]
                .into_iter()
                .enumerate()
        {
            conn.subscribe(subject.as_bytes(), queue.map(str::as_bytes), i.to_string().as_bytes(), None);
        }
        // A route's interest is not a subscriber.
        route.subscribe(b"foo", None, b"1", None);
        let count = |body: &str| {
            let (subject, queue) = parse_body(body.as_bytes());
            count_subscribers(&account, subject, queue)
        };
        assert_eq!(count("foo"), 2);
        // A literal subject: every subscription it would reach.
        assert_eq!(count("foo.bar"), 3);
        assert_eq!(count("foo.bar q"), 1);
        assert_eq!(count(" foo.bar r \r\n"), 1);
        // A pattern: the subscriptions within it.
        assert_eq!(count("foo.*"), 3);
        assert_eq!(count("foo.>"), 3);
        assert_eq!(count(">"), 5);
        assert_eq!(count("foo.* q"), 1);
        assert_eq!(count("bar"), 0);
        assert_eq!(count(""), 0);
    }
}
