//! The part of a connection that other tasks touch: its outbound buffer and
//! close state, its subscriptions, its counters and what it said about itself.
//! The connection's own session task holds everything else privately.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;
use tracing::info;

use arc_swap::ArcSwap;

#[doc(hidden)]
pub mod bench;
mod subscription;
mod subscriptions;

pub use subscription::{InternalSink, ShadowOf, Subscription, Take, Via};
use subscriptions::BySid;
pub use subscriptions::Subscribed;

use super::account::{Account, InterestPeer};
use super::auth::Identity;
use super::errors::CloseReason;
use super::outbound::{Outbound, Pushed};
use super::responses::ReplyGrants;
use super::stats::{ServerStats, Traffic};

/// Stream-import shadows by the sid of the subscription they serve.
type ShadowsBySid = HashMap<Box<[u8]>, Vec<Arc<Subscription>>>;

/// What is at the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnKind {
    Client,
    /// Another server of the cluster.
    Route,
}

/// An address as nats-server puts it before a `/` in a log prefix: IPv6 in
/// brackets.
trait IpText {
    fn ip_text(&self) -> String;
}

impl IpText for std::net::IpAddr {
    fn ip_text(&self) -> String {
        match self {
            std::net::IpAddr::V4(v4) => v4.to_string(),
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        }
    }
}

/// What the client told us about itself, for monitoring and logs.
#[derive(Debug, Default, Clone)]
pub struct ClientMeta {
    pub name: String,
    pub lang: String,
    pub version: String,
    pub user: String,
    pub rtt: Option<Duration>,
    /// The TLS session, for `/connz` (`tls_version`, `tls_cipher_suite`).
    pub tls: Option<TlsInfo>,
}

/// What a TLS connection negotiated, as `/connz` shows it.
#[derive(Debug, Default, Clone)]
pub struct TlsInfo {
    /// `1.2` or `1.3`.
    pub version: String,
    /// Go's name of the cipher suite.
    pub cipher_suite: String,
    /// TLS before INFO (`handshake_first`).
    pub tls_first: bool,
}

#[derive(Debug)]
pub struct Connection {
    pub cid: u64,
    pub kind: ConnKind,
    /// A client that came in over the websocket listener.
    pub websocket: bool,
    pub addr: SocketAddr,
    pub start: SystemTime,
    /// `"<ip>:<port> - cid:<n>"`, the prefix of every log line about it.
    pub log_prefix: String,
    /// The account the connection is in: `$G` until a login puts it in
    /// another. Loaded on SUB/UNSUB and by monitoring; the session keeps
    /// its own copy for publishing.
    account: ArcSwap<Account<Subscription>>,
    /// Whether the connection is counted in its account's clients.
    counted: AtomicBool,
    /// Bytes owed to the peer, and the connection's close state.
    pub outbound: Outbound,
    /// Wakes the session task: the connection is closing, or a new config
    /// snapshot is in place. `Notify` keeps a permit, so none is lost.
    pub events: Notify,
    /// Subscriptions by sid (a route's: by `account subject [queue]`).
    /// Taken by the owner (SUB/UNSUB, RS+/RS-), by whoever removes a
    /// subscription (auto-unsubscribe reached during delivery), and by
    /// monitoring; never across an `.await`. Changed only through the
    /// methods below, which keep it and the account's index in step.
    /// Hashed with foldhash, not SipHash (a sid lookup 16 ns -> 7 ns, the
    /// `sid_hashers` benchmarks): the sids are the client's own, so one
    /// that crafts colliding sids slows down its own lookups.
    subs: Mutex<HashSet<BySid, foldhash::fast::RandomState>>,
    /// Stream imports' shadow subscriptions (in the exporters' indexes) by
    /// the sid of the subscription they serve. Taken on SUB/UNSUB and close
    /// of an importing client only.
    shadows: Mutex<ShadowsBySid>,
    /// Whether the client said `headers:true`; read by publishers.
    headers: AtomicBool,
    /// Set while the connection sits in some publisher's flush list, so one
    /// read chunk wakes it once however many messages it got.
    flush_queued: AtomicBool,
    /// Incoming totals, folded in once per read chunk by the owner.
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    /// Fast-producer stalls charged to this connection as the subscriber
    /// that was behind (`/connz` `stalls`). Added to by the stalled
    /// producers, once per stall, never per message.
    pub stalls: AtomicU64,
    /// When the connection last published, subscribed or was sent messages
    /// (Unix nanoseconds, `/connz` `last_activity`); stored once per read
    /// chunk by the publisher, never per message.
    last_activity: AtomicU64,
    /// The owner's match cache as `/subsz` reports it, published once per
    /// read chunk that published something.
    pub match_cache: MatchCacheStats,
    pub meta: Mutex<ClientMeta>,
    /// Who the client authenticated as, for a reload's dry run to predict
    /// what a configuration would do to it. Written by its session at login
    /// and after each reload, read by dry runs: never on the message path.
    pub identity: Mutex<Option<Identity>>,
    /// Reply subjects it may answer under `allow_responses`.
    pub replies: ReplyGrants,
    /// The generation of the snapshot the session has adopted (credentials
    /// and permissions re-checked); a reload waits on it, once per reload.
    pub adopted_generation: AtomicU64,
    /// The generation a reload waits for this connection to adopt, 0 when
    /// none does (the count a reload awaits is kept in `adoption.rs`).
    pub awaited_generation: AtomicU64,
    /// Set once a client takes asynchronous INFO updates (protocol 1, first
    /// PONG sent): cluster changes are then pushed to it.
    pub info_updates: AtomicBool,
    /// A system `LDM` request asked this one client to move elsewhere, as
    /// lame duck mode asks every client. Read at a wakeup only.
    ldm_requested: AtomicBool,
    stats: Arc<ServerStats>,
}

impl Connection {
    pub fn new(
        cid: u64,
        kind: ConnKind,
        addr: SocketAddr,
        account: Arc<Account<Subscription>>,
        stats: Arc<ServerStats>,
    ) -> Connection {
        let tag = match kind {
            ConnKind::Client => "cid",
            ConnKind::Route => "rid",
        };
        Connection {
            cid,
            kind,
            websocket: false,
            addr,
            start: SystemTime::now(),
            log_prefix: format!("{addr} - {tag}:{cid}"),
            account: ArcSwap::new(account),
            counted: AtomicBool::new(false),
            outbound: Outbound::default(),
            events: Notify::new(),
            subs: Mutex::new(HashSet::default()),
            shadows: Mutex::new(HashMap::new()),
            headers: AtomicBool::new(false),
            flush_queued: AtomicBool::new(false),
            in_msgs: AtomicU64::new(0),
            in_bytes: AtomicU64::new(0),
            stalls: AtomicU64::new(0),
            last_activity: AtomicU64::new(crate::server::clock::unix_nanos(SystemTime::now())),
            match_cache: MatchCacheStats::default(),
            meta: Mutex::new(ClientMeta::default()),
            identity: Mutex::new(None),
            replies: ReplyGrants::default(),
            adopted_generation: AtomicU64::new(0),
            awaited_generation: AtomicU64::new(0),
            info_updates: AtomicBool::new(false),
            ldm_requested: AtomicBool::new(false),
            stats,
        }
    }

    /// Marks a client as a websocket client: its log lines say `wid`, and
    /// the address a proxy forwarded for (`X-Forwarded-For`) comes first,
    /// as in nats-server.
    pub fn into_websocket(mut self, forwarded_for: Option<std::net::IpAddr>) -> Connection {
        self.websocket = true;
        self.log_prefix = match forwarded_for {
            Some(ip) => format!("{}/{} - wid:{}", ip.ip_text(), self.addr, self.cid),
            None => format!("{} - wid:{}", self.addr, self.cid),
        };
        self
    }

    /// The account the connection is in.
    pub fn account(&self) -> Arc<Account<Subscription>> {
        self.account.load_full()
    }

    /// Moves the connection into `account`, counted among its clients
    /// unless its `max_connections` is reached (then false, and nothing
    /// changes). Subscriptions must be gone (a later CONNECT drops them).
    pub fn enter_account(&self, account: Arc<Account<Subscription>>, max_connections: Option<u64>) -> bool {
        let current = self.account.load();
        let same = Arc::ptr_eq(&current, &account);
        if same && self.counted.load(Ordering::Acquire) {
            return true;
        }
        if !account.admit_client(max_connections) {
            return false;
        }
        if self.counted.swap(true, Ordering::AcqRel) {
            current.release_client();
        }
        if !same {
            self.account.store(account);
        }
        true
    }

    /// The connection is gone: its account counts it out.
    pub fn leave_account(&self) {
        if self.counted.swap(false, Ordering::AcqRel) {
            self.account.load().release_client();
        }
    }

    /// Takes what a CONNECT says about the client, for monitoring: its
    /// name, library and user, and a first RTT estimate (INFO sent to
    /// CONNECT read, as nats-server estimates it until a PING measures it).
    pub fn record_connect(&self, name: Option<&str>, lang: Option<&str>, version: Option<&str>, user: Option<&str>) {
        let now = SystemTime::now();
        let mut meta = self.meta.lock().unwrap_or_else(|e| e.into_inner());
        meta.name = name.unwrap_or_default().to_string();
        meta.lang = lang.unwrap_or_default().to_string();
        meta.version = version.unwrap_or_default().to_string();
        meta.user = user.unwrap_or_default().to_string();
        if meta.rtt.is_none() {
            meta.rtt = Some(now.duration_since(self.start).unwrap_or_default().max(Duration::from_nanos(1)));
        }
        drop(meta);
        self.touch(crate::server::clock::unix_nanos(now));
    }

    /// Notes activity at `unix_nanos` (see [`Connection::last_activity`]).
    pub fn touch(&self, unix_nanos: u64) {
        self.last_activity.store(unix_nanos, Ordering::Relaxed);
    }

    /// Unix nanoseconds of the last activity (the start until there is one).
    pub fn last_activity(&self) -> u64 {
        self.last_activity.load(Ordering::Relaxed)
    }

    /// What this connection received from its peer and was sent to it.
    pub fn traffic(&self) -> Traffic {
        let (out_msgs, out_bytes) = self.outbound.counters();
        Traffic {
            in_msgs: self.in_msgs.load(Ordering::Relaxed),
            in_bytes: self.in_bytes.load(Ordering::Relaxed),
            out_msgs,
            out_bytes,
        }
    }

    pub fn headers(&self) -> bool {
        self.headers.load(Ordering::Relaxed)
    }

    pub fn set_headers(&self, on: bool) {
        self.headers.store(on, Ordering::Relaxed);
    }

    /// Marks the connection as waiting for a wakeup at the end of the
    /// current read chunk; false if it already was.
    pub fn mark_flush_queued(&self) -> bool {
        // A load first: every delivery after the first of a chunk finds the
        // flag set, and a load leaves the line shared where a swap would
        // write it (a locked read-modify-write per delivery). Seeing it set
        // is as safe as the swap's answer was: had the owner's clear in
        // `flush` happened before our append (through the writer's wakeup
        // and the queue lock), this load would see the clear.
        !self.flush_queued.load(Ordering::Acquire) && !self.flush_queued.swap(true, Ordering::AcqRel)
    }

    /// Wakes the writer at the end of a read chunk.
    pub fn flush(&self) {
        // Clear before waking: a publisher that appends after the clear
        // queues its own wakeup; one that appended before is covered by ours.
        self.flush_queued.store(false, Ordering::Release);
        self.outbound.wake_writer();
    }

    /// Closes after the writer has sent what is queued.
    pub fn close(&self, reason: CloseReason) {
        self.outbound.close(reason, false);
        self.events.notify_one();
    }

    /// Asks this client, alone, to move to another server (a system `LDM`
    /// request): its session sends the lame duck INFO when it wakes.
    pub fn request_lame_duck(&self) {
        self.ldm_requested.store(true, Ordering::Release);
        self.events.notify_one();
    }

    /// Whether [`Connection::request_lame_duck`] was called.
    pub fn lame_duck_requested(&self) -> bool {
        self.ldm_requested.load(Ordering::Acquire)
    }

    /// Closes now, dropping queued output.
    pub fn close_now(&self, reason: CloseReason) {
        self.outbound.close(reason, true);
        self.events.notify_one();
    }

    pub fn close_reason(&self) -> Option<CloseReason> {
        self.outbound.close_reason()
    }

    pub fn is_closing(&self) -> bool {
        self.outbound.is_closing()
    }

    /// Counts a slow consumer: in the server's count for this kind of
    /// connection, and a client's also in its account's.
    fn count_slow_consumer(&self) {
        match self.kind {
            ConnKind::Route => self.stats.slow_consumer_routes.fetch_add(1, Ordering::Relaxed),
            _ => {
                self.account.load().count_slow_consumer();
                self.stats.slow_consumers.fetch_add(1, Ordering::Relaxed)
            }
        };
    }

    /// Queues protocol bytes for the peer (PONG, `+OK`, `-ERR`, INFO,
    /// RS+...); whoever queued them wakes the writer. Like a message, they
    /// count toward `max_pending`: past it the connection is closed as a
    /// slow consumer (nats-server's `queueOutbound`). Returns whether they
    /// were queued.
    pub fn queue_proto(&self, bytes: &[u8]) -> bool {
        match self.outbound.push_proto(bytes) {
            Pushed::Queued | Pushed::QueuedBehind => true,
            Pushed::SlowConsumer => {
                self.slow_consumer_pending();
                false
            }
            Pushed::Dropped | Pushed::Closed => false,
        }
    }

    /// Bytes queued for this connection went over its `max_pending`.
    pub fn slow_consumer_pending(&self) {
        if self.outbound.close(CloseReason::SlowConsumerPendingBytes, true) {
            self.count_slow_consumer();
            let max_pending = self.outbound.max_pending();
            info!("{} - Slow Consumer Detected: MaxPending of {} Exceeded", self.log_prefix, max_pending);
        }
        self.events.notify_one();
    }

    /// The writer could not finish a write within the write deadline.
    pub fn slow_consumer_write_deadline(&self, deadline: Duration, bytes: usize) {
        if self.outbound.close(CloseReason::SlowConsumerWriteDeadline, true) {
            self.count_slow_consumer();
            info!(
                "{} - Slow Consumer Detected: WriteDeadline of {} exceeded with 1 chunks of {} total bytes.",
                self.log_prefix,
                crate::options::format_duration(deadline),
                bytes
            );
        }
        self.events.notify_one();
    }
}

/// A connection's match cache, as its owner last published it: written by
/// the owner once per read chunk, read by `/subsz` (relaxed: monitoring
/// tolerates a value one chunk old).
#[derive(Debug, Default)]
pub struct MatchCacheStats {
    /// Publishes answered from the cache, since the connection started.
    pub hits: AtomicU64,
    /// Subjects cached now.
    pub entries: AtomicU64,
    /// Sum and largest of the cached results' sizes (plain subscribers plus
    /// queue groups), for the fan-out figures.
    pub fanout_sum: AtomicU64,
    pub fanout_max: AtomicU64,
}

/// A route hears this server's interest as `RS+`/`RS-` on its outbound.
impl InterestPeer for Connection {
    fn send_interest(&self, buf: &[u8]) {
        super::session::trace::trace_out_if_enabled(&self.log_prefix, buf);
        if self.queue_proto(buf) {
            self.outbound.wake_writer();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(addr: &str) -> Connection {
        let account = Arc::new(Account::new(crate::server::account::GLOBAL_ACCOUNT));
        Connection::new(7, ConnKind::Client, addr.parse().unwrap(), account, Arc::new(ServerStats::default()))
    }

    #[test]
    fn websocket_log_prefixes_as_nats_server_writes_them() {
        assert_eq!(conn("127.0.0.1:5000").log_prefix, "127.0.0.1:5000 - cid:7");
        let ws = conn("127.0.0.1:5000").into_websocket(None);
        assert!(ws.websocket);
        assert_eq!(ws.log_prefix, "127.0.0.1:5000 - wid:7");
        let ws = conn("127.0.0.1:5000").into_websocket(Some("10.1.2.3".parse().unwrap()));
        assert_eq!(ws.log_prefix, "10.1.2.3/127.0.0.1:5000 - wid:7");
        let ws = conn("[::1]:5000").into_websocket(Some("2001:db8::1".parse().unwrap()));
        assert_eq!(ws.log_prefix, "[2001:db8::1]/[::1]:5000 - wid:7");
    }

    fn shared(kind: ConnKind) -> Arc<Connection> {
        let account = Arc::new(Account::new(crate::server::account::GLOBAL_ACCOUNT));
        Arc::new(Connection::new(3, kind, "127.0.0.1:5000".parse().unwrap(), account, Arc::new(ServerStats::default())))
    }

    #[test]
    fn a_sid_in_use_keeps_its_first_subscription_and_a_bad_subject_is_refused() {
        let c = shared(ConnKind::Client);
        assert_eq!(c.subscribe(b"a", None, b"1", None), Subscribed::Added);
        assert_eq!(c.subscribe(b"b", None, b"1", None), Subscribed::AlreadyThere);
        assert_eq!(&*c.subscription(b"1").unwrap().subject, b"a");
        assert_eq!(c.subscribe(b"a..b", None, b"2", None), Subscribed::InvalidSubject);
        assert_eq!(c.num_subs(), 1);
        let sub = c.subscription(b"1").unwrap();
        c.remove_subscription(&sub);
        assert_eq!(c.num_subs(), 0);
        assert!(c.account().sublist.match_subject(b"a").psubs.is_empty());
    }

    #[test]
    fn route_interest_is_counted_reweighted_bounded_and_withdrawn() {
        let r = shared(ConnKind::Route);
        assert_eq!(r.subscribe_remote(&r.account(), b"$G foo", b"foo", None, 1, 2), Subscribed::Added);
        assert_eq!(r.subscribe_remote(&r.account(), b"$G foo", b"foo", None, 1, 2), Subscribed::AlreadyThere);
        assert_eq!(r.subscribe_remote(&r.account(), b"$G foo g", b"foo", Some(b"g"), 2, 2), Subscribed::Added);
        // A new weight for the group replaces its entry: the index's group
        // weight follows.
        assert_eq!(r.subscribe_remote(&r.account(), b"$G foo g", b"foo", Some(b"g"), 5, 2), Subscribed::Added);
        let matched = r.account().sublist.match_subject(b"foo");
        assert_eq!(matched.qsubs.len(), 1);
        assert_eq!(matched.qsubs[0].weight, 5);
        assert_eq!(r.subscribe_remote(&r.account(), b"$G bar", b"bar", None, 1, 2), Subscribed::TooMany);
        r.unsubscribe_remote(b"$G foo g");
        r.unsubscribe_remote(b"$G unknown");
        assert_eq!(r.num_subs(), 1);
        let left = r.account().sublist.match_subject(b"foo");
        assert_eq!((left.psubs.len(), left.qsubs.len()), (1, 0));
        r.remove_all_subscriptions();
        assert!(r.account().sublist.match_subject(b"foo").psubs.is_empty());
    }
}
