//! The system account's server side: the subscriptions nats-server's
//! `events.go` makes (`$SYS.REQ.…` requests), the task that answers them,
//! and how it publishes (replies and, later, events) into the accounts.
//!
//! Requests reach the task through [`Via::Internal`] subscriptions in the
//! system account's index: the publisher's delivery copies the message into
//! a bounded queue ([`Inbox`]) and goes on, never waiting (a full queue
//! drops the request, counted and logged, as nats-server's ipqueues warn).
//! The task answers from the same functions the monitoring port uses,
//! reached through [`MonitorData`] (the monitor sits above the server), and
//! publishes with its own [`Fanout`], as a client of the system account
//! would: locally, to routes, and back through service imports' `_R_`
//! replies.

mod claims;
pub mod control;
mod debug_subscribers;
pub mod encoding;
pub mod events;
pub mod filters;
pub mod heartbeat;
pub mod imports;
pub mod info;
pub mod link;
mod payloads;
mod reload;
mod remote_servers;
mod requests;
#[cfg(test)]
mod tests;
mod user_info;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::accounts::ServerAccount;
use super::conn::{ConnKind, Connection, InternalSink, Subscription, Via};
use super::deliver::{Fanout, Message, Publisher};
use super::outbound::WhenBehind;
use super::service::sample_link::AccountMessage;
use super::state::ServerState;

/// Requests waiting for the system task; beyond this they are dropped.
const INBOX_CAPACITY: usize = 8192;
/// At most one warning about dropped requests this often.
const DROP_WARN_EVERY: Duration = Duration::from_secs(60);

/// What the system task reads from the monitoring layer: the documents of
/// the HTTP endpoints, compact, built by the same code.
pub trait MonitorData: Send + Sync {
    /// The document of `endpoint` (`varz`, `connz`, `subsz`, `routez`,
    /// `healthz`, `accountz`, `accstatz`, `gatewayz`, `leafz`, `jsz`,
    /// `raftz`, `ipqueuesz`) for the query `options`: its HTTP status and
    /// body, or the text of the 400 the port would answer.
    fn document(&self, endpoint: &str, options: &[(String, String)]) -> Result<(u16, Vec<u8>), String>;
    /// The `/accountz?acc=NAME` detail object, or `None` when no such account.
    fn account_detail(&self, name: &str) -> Option<Vec<u8>>;
    /// `/accstatz` for the accounts `names` only (all when empty); `None`
    /// when that lists no account.
    fn account_statz(&self, names: &[String], include_unused: bool) -> Option<Vec<u8>>;
    /// One account's `/accstatz` entry, connections or not.
    fn account_stat(&self, name: &str) -> Option<Vec<u8>>;
}

/// One request copied out of a publish.
struct Incoming {
    handler: u16,
    subject: Box<[u8]>,
    reply: Option<Box<[u8]>>,
    /// The header block (`NATS/1.0…\r\n\r\n`), when the message has one.
    header: Option<Box<[u8]>>,
    body: Box<[u8]>,
}

/// The queue in front of the system task, and what it dropped.
#[derive(Debug)]
pub struct Inbox {
    tx: mpsc::Sender<Incoming>,
    dropped: AtomicU64,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming").field("subject", &String::from_utf8_lossy(&self.subject)).finish()
    }
}

impl InternalSink for Inbox {
    fn deliver(&self, handler: u16, _account: &Arc<ServerAccount>, msg: &Message<'_>) {
        let (header, body) = match msg.header_len {
            Some(h) if h <= msg.payload.len() => (Some(msg.payload[..h].into()), &msg.payload[h..]),
            _ => (None, msg.payload),
        };
        let incoming = Incoming {
            handler,
            subject: msg.subject.into(),
            reply: msg.reply.map(Into::into),
            header,
            body: body.into(),
        };
        if self.tx.try_send(incoming).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Starts the system task, when the server has a system account.
pub fn start(server: &Arc<ServerState>, data: Arc<dyn MonitorData>) {
    let Some(account) = server.accounts().system() else { return };
    let (tx, rx) = mpsc::channel(INBOX_CAPACITY);
    // Unbounded: one event per connection change, sent by sessions that
    // must not wait; the task drains it ahead of requests.
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    server.set_system_events(events_tx);
    // Unbounded too: latency samples come from the responders' sessions,
    // one per sampled exchange, and must not wait.
    let (samples_tx, samples_rx) = mpsc::unbounded_channel();
    server.accounts().samples().set(samples_tx);
    let inbox = Arc::new(Inbox { tx, dropped: AtomicU64::new(0) });
    let nowhere = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
    // The system client: the owner of the task's subscriptions and the
    // publisher of its messages. Never registered as a client.
    let conn = Arc::new(Connection::new(0, ConnKind::Client, nowhere, account.clone(), server.stats().clone()));
    let claims = server.operator().map(|op| op.claim_routes(server.id())).unwrap_or_default();
    claims::start_pack_sync(server, account.clone());
    let table = requests::table(server.id(), &claims);
    let sink: Arc<dyn InternalSink> = inbox.clone();
    for (i, route) in table.iter().enumerate() {
        let via = Via::Internal { sink: sink.clone(), handler: i as u16, announce: route.announce };
        let sub = Subscription::internal(conn.clone(), account.clone(), route.subject.as_bytes(), via);
        let sub = Arc::new(sub.in_queue(route.queue.map(str::as_bytes)));
        if account.subscribe(&sub).is_err() {
            tracing::error!("system account: cannot subscribe to {}", route.subject);
        }
    }
    let task = SystemTask {
        server: server.clone(),
        data,
        account,
        conn,
        fanout: Fanout::default(),
        seq: 0,
        table,
        heartbeats: Default::default(),
        remotes: remote_servers::RemoteServers::new(tokio::time::Instant::now()),
        pending_counts: Default::default(),
    };
    server.spawn(task.run(rx, events_rx, samples_rx, inbox));
}

/// Sleeps until `at`, or forever without one.
async fn until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The task that answers the system account's requests.
pub(crate) struct SystemTask {
    server: Arc<ServerState>,
    data: Arc<dyn MonitorData>,
    account: Arc<ServerAccount>,
    conn: Arc<Connection>,
    fanout: Fanout,
    /// Messages this server sent internally (`seq` of `ServerInfo`); only
    /// this task writes it.
    seq: u64,
    table: Vec<requests::Route>,
    /// When each account's connections event repeats.
    heartbeats: heartbeat::Heartbeats,
    /// The other servers of the cluster heard from lately.
    remotes: remote_servers::RemoteServers,
    /// `$SYS.DEBUG.SUBSCRIBERS` counts waiting for the peers' parts.
    pending_counts: debug_subscribers::PendingCounts,
}

impl SystemTask {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Incoming>,
        mut events: mpsc::UnboundedReceiver<events::SystemEvent>,
        mut samples: mpsc::UnboundedReceiver<AccountMessage>,
        inbox: Arc<Inbox>,
    ) {
        let mut warned: Option<Instant> = None;
        let mut statsz_interval = events::STATSZ_FIRST;
        let statsz = tokio::time::sleep(statsz_interval);
        tokio::pin!(statsz);
        // Reloads recorded from now on (the one before start is history).
        let mut reloads = self.server.reloads();
        reloads.mark_unchanged();
        loop {
            tokio::select! {
                biased;
                _ = self.server.shutting_down() => {
                    self.server_state_event("SHUTDOWN");
                    return;
                }
                Some(event) = events.recv() => self.on_event(event),
                Some(sample) = samples.recv() => {
                    // An account a reload removed meanwhile gets nothing.
                    if let Some(account) = self.server.accounts().get(&sample.account) {
                        self.publish_internal(&account, sample.subject.as_bytes(), None, &sample.payload);
                    }
                }
                Ok(()) = reloads.changed() => {
                    let record = reloads.borrow_and_update().clone();
                    if let Some(record) = record {
                        self.reload_event(&record);
                    }
                }
                () = until(self.heartbeats.next()) => {
                    for account in self.heartbeats.due(tokio::time::Instant::now()) {
                        self.account_conns_changed(&account);
                    }
                }
                () = tokio::time::sleep_until(self.remotes.next_sweep()) => self.sweep_remote_servers(),
                () = until(self.pending_counts.next_deadline()) => self.expire_counts(),
                () = &mut statsz => {
                    self.statsz_tick();
                    statsz_interval = events::next_statsz_interval(statsz_interval);
                    statsz.as_mut().reset(tokio::time::Instant::now() + statsz_interval);
                }
                m = rx.recv() => match m {
                    Some(m) => self.answer(m),
                    None => return,
                },
            }
            let dropped = inbox.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 && warned.is_none_or(|at| at.elapsed() >= DROP_WARN_EVERY) {
                warned = Some(Instant::now());
                tracing::warn!("System request queue full: {dropped} requests dropped");
            }
        }
    }

    /// Publishes `payload` on `subject` in `account` as the system client:
    /// to local subscribers, routes, and through service imports.
    pub(crate) fn publish_internal(
        &mut self,
        account: &Arc<ServerAccount>,
        subject: &[u8],
        reply: Option<&[u8]>,
        payload: &[u8],
    ) {
        self.seq += 1;
        let mut size = itoa::Buffer::new();
        let msg = Message {
            subject,
            reply,
            header_len: None,
            payload,
            size_text: size.format(payload.len()).as_bytes(),
            header_text: b"",
        };
        // Echo off: the system client never hears itself (its own requests
        // to all servers, its own events), as nats-server's.
        let from = Publisher { conn: &self.conn, echo: false, when_behind: WhenBehind::Queue };
        self.fanout.publish(account, &msg, from);
        self.fanout.finish_batch(&self.conn);
        // Internal messages never stall: whoever is behind was queued anyway.
        self.fanout.stalls = Default::default();
    }

    /// [`SystemTask::publish_internal`] with a header block (`header`
    /// empty: none) before `body`.
    fn publish_with_header(&mut self, subject: &[u8], header: &[u8], body: &[u8]) {
        if header.is_empty() {
            return self.publish_system(subject, None, body);
        }
        self.seq += 1;
        let payload = [header, body].concat();
        let (mut size, mut hsize) = (itoa::Buffer::new(), itoa::Buffer::new());
        let msg = Message {
            subject,
            reply: None,
            header_len: Some(header.len()),
            payload: &payload,
            size_text: size.format(payload.len()).as_bytes(),
            header_text: hsize.format(header.len()).as_bytes(),
        };
        // Echo off: the system client never hears itself (its own requests
        // to all servers, its own events), as nats-server's.
        let from = Publisher { conn: &self.conn, echo: false, when_behind: WhenBehind::Queue };
        let account = self.account.clone();
        self.fanout.publish(&account, &msg, from);
        self.fanout.finish_batch(&self.conn);
        self.fanout.stalls = Default::default();
    }

    /// The system account's own publish.
    fn publish_system(&mut self, subject: &[u8], reply: Option<&[u8]>, payload: &[u8]) {
        let account = self.account.clone();
        self.publish_internal(&account, subject, reply, payload);
    }
}
