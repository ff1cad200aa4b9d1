//! One client connection: the read loop that parses ops and acts on them.
//!
//! Each connection has two tasks. This one owns the read half: it reads a chunk,
//! parses every complete op in it without copying, and for each PUB appends the
//! message to each matching subscriber's outbound buffer. Subscribers touched in
//! the chunk are woken once at its end, so their writers send a whole batch in
//! one syscall. The other task ([`super::outbound::write_loop`]) owns the write
//! half. A publisher therefore never waits on a subscriber's socket.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Buf, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info};

use super::auth::new_nonce;
use super::errors::*;
use super::info::ConnectOpts;
use super::outbound::{write_loop, Outbound, Pushed};
use super::permissions::CompiledPermissions;
use super::proto::{self, Limits, Op, ParseError, Parsed, Publish};
use super::stats::ServerStats;
use super::subject::{is_valid_literal_subject, is_valid_subject};
use super::sublist::MatchCache;
use super::sublist::Sublist;
use super::ServerInner;
use crate::options::{Options, FIRST_PING_INTERVAL};

/// Read buffer sizes: start small so idle connections stay cheap, grow while
/// reads fill the buffer, as nats-server does (512 B to 64 KiB).
const MIN_READ: usize = 512;
const MAX_READ: usize = 64 * 1024;

/// A subscription, shared by the owning connection (its `subs` map), the
/// sublist, and any match results cached by publishers.
#[derive(Debug)]
pub struct Subscription {
    pub client: Arc<ClientShared>,
    pub subject: Box<[u8]>,
    pub queue: Option<Box<[u8]>>,
    pub sid: Box<[u8]>,
    /// Auto-unsubscribe after this many messages; 0 means no limit.
    max: AtomicU64,
    delivered: AtomicU64,
    /// Set when removed, so publishers holding a cached result skip it.
    removed: AtomicBool,
    /// For a wildcard subscription overlapping the owner's subscribe deny
    /// list: messages matching it are not delivered.
    deny_filter: Option<Arc<Sublist<()>>>,
}

impl Subscription {
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }
}

/// The part of a connection that other connections touch.
#[derive(Debug)]
pub struct ClientShared {
    pub cid: u64,
    pub addr: SocketAddr,
    pub start: SystemTime,
    /// `"<ip>:<port> - cid:<n>"`, the prefix of every log line about it.
    pub log_prefix: String,
    /// Outbound bytes. A std mutex: held only to append or swap, never across
    /// an `.await`, so contention stays at a few hundred nanoseconds.
    pub out: Mutex<Outbound>,
    /// Wakes the writer task; `Notify` keeps a permit, so no wakeup is lost.
    pub wake: Notify,
    /// Hard close: stops both tasks at once (slow consumer, write error).
    pub cancel: CancellationToken,
    close_reason: AtomicU8,
    hard_closed: AtomicBool,
    /// Whether the client said `headers:true`; read by publishers.
    headers: AtomicBool,
    /// Set while the client sits in some publisher's flush list.
    flush_queued: AtomicBool,
    pub max_pending: usize,
    pub subs: Mutex<HashMap<Box<[u8]>, Arc<Subscription>>>,
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    pub meta: Mutex<ClientMeta>,
    stats: Arc<ServerStats>,
    /// Reply subjects of requests this client received, which it may publish
    /// to under `allow_responses`; only kept when that permission is on.
    replies: Mutex<HashMap<Box<[u8]>, ReplyGrant>>,
    tracks_replies: AtomicBool,
    /// `allow_responses.expires` in nanoseconds (0 = no limit), for pruning.
    reply_ttl_nanos: AtomicU64,
}

/// One reply subject a client may answer: since when, and how many replies sent.
#[derive(Debug, Clone, Copy)]
struct ReplyGrant {
    since: Instant,
    sent: i64,
}

/// Tracked reply subjects per client, at most (expired ones go first).
const MAX_TRACKED_REPLIES: usize = 4096;

/// What the client told us about itself, for monitoring and logs.
#[derive(Debug, Default, Clone)]
pub struct ClientMeta {
    pub name: String,
    pub lang: String,
    pub version: String,
    pub user: String,
    pub rtt: Option<Duration>,
}

impl ClientShared {
    fn new(cid: u64, addr: SocketAddr, max_pending: usize, stats: Arc<ServerStats>) -> Self {
        ClientShared {
            cid,
            addr,
            start: SystemTime::now(),
            log_prefix: format!("{addr} - cid:{cid}"),
            out: Mutex::new(Outbound::default()),
            wake: Notify::new(),
            cancel: CancellationToken::new(),
            close_reason: AtomicU8::new(0),
            hard_closed: AtomicBool::new(false),
            headers: AtomicBool::new(false),
            flush_queued: AtomicBool::new(false),
            max_pending,
            subs: Mutex::new(HashMap::new()),
            in_msgs: AtomicU64::new(0),
            in_bytes: AtomicU64::new(0),
            meta: Mutex::new(ClientMeta::default()),
            stats,
            replies: Mutex::new(HashMap::new()),
            tracks_replies: AtomicBool::new(false),
            reply_ttl_nanos: AtomicU64::new(0),
        }
    }

    pub fn is_closing(&self) -> bool {
        self.close_reason.load(Ordering::Acquire) != 0
    }

    pub fn is_hard_closed(&self) -> bool {
        self.hard_closed.load(Ordering::Acquire)
    }

    pub fn close_reason(&self) -> Option<CloseReason> {
        CloseReason::from_u8(self.close_reason.load(Ordering::Acquire))
    }

    fn set_reason(&self, reason: CloseReason) -> bool {
        self.close_reason.compare_exchange(0, reason as u8, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Closes after the writer has flushed what is queued.
    pub fn close_graceful(&self, reason: CloseReason) {
        self.set_reason(reason);
        self.wake.notify_one();
    }

    /// Closes now, dropping queued output.
    pub fn close_hard(&self, reason: CloseReason) {
        self.set_reason(reason);
        self.hard_closed.store(true, Ordering::Release);
        self.out.lock().unwrap_or_else(|e| e.into_inner()).kill();
        self.cancel.cancel();
    }

    pub fn slow_consumer_pending(&self) {
        if self.set_reason(CloseReason::SlowConsumerPendingBytes) {
            self.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
            info!("{} - Slow Consumer Detected: MaxPending of {} Exceeded", self.log_prefix, self.max_pending);
        }
        self.close_hard(CloseReason::SlowConsumerPendingBytes);
    }

    pub fn slow_consumer_write_deadline(&self, deadline: Duration, bytes: usize) {
        if self.set_reason(CloseReason::SlowConsumerWriteDeadline) {
            self.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
            info!(
                "{} - Slow Consumer Detected: WriteDeadline of {} exceeded with 1 chunks of {} total bytes.",
                self.log_prefix,
                crate::options::format_duration(deadline),
                bytes
            );
        }
        self.close_hard(CloseReason::SlowConsumerWriteDeadline);
    }

    pub fn headers(&self) -> bool {
        self.headers.load(Ordering::Relaxed)
    }

    /// Records that this client received a request it may answer.
    fn grant_reply(&self, reply: &[u8]) {
        let ttl = Duration::from_nanos(self.reply_ttl_nanos.load(Ordering::Relaxed));
        let mut replies = self.replies.lock().unwrap_or_else(|e| e.into_inner());
        if replies.len() >= MAX_TRACKED_REPLIES {
            if !ttl.is_zero() {
                replies.retain(|_, g| g.since.elapsed() <= ttl);
            }
            if replies.len() >= MAX_TRACKED_REPLIES {
                let drop: Vec<Box<[u8]>> = replies.keys().take(MAX_TRACKED_REPLIES / 2).cloned().collect();
                for k in drop {
                    replies.remove(&k);
                }
            }
        }
        replies.insert(reply.into(), ReplyGrant { since: Instant::now(), sent: 0 });
    }

    fn push_proto(&self, bytes: &[u8]) {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).push_proto(bytes);
    }
}

/// Serves one accepted connection until it closes.
pub async fn run(server: Arc<ServerInner>, stream: TcpStream, addr: SocketAddr) {
    let opts = server.opts.load_full();
    let cid = server.next_cid.fetch_add(1, Ordering::Relaxed);
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let shared = Arc::new(ClientShared::new(cid, addr, opts.max_pending, server.stats.clone()));
    let nonce = server.auth.load().needs_nonce().then(new_nonce);
    shared.push_proto(&server.client_info(cid, addr, nonce.as_deref()).to_line());
    server.stats.total_connections.fetch_add(1, Ordering::Relaxed);

    let over_limit = {
        let mut clients = server.clients.lock().unwrap_or_else(|e| e.into_inner());
        let over = opts.max_connections > 0 && clients.len() >= opts.max_connections;
        if !over {
            clients.insert(cid, shared.clone());
        }
        over
    };
    let writer = server.tracker.spawn(write_loop(shared.clone(), wr, opts.write_deadline));
    if over_limit {
        error!("{} - {}", shared.log_prefix, ERR_MAX_CONNECTIONS);
        shared.push_proto(&err_line(ERR_MAX_CONNECTIONS));
        shared.close_graceful(CloseReason::MaxConnectionsExceeded);
        let _ = writer.await;
        return;
    }
    debug!("{} - Client connection created", shared.log_prefix);
    shared.wake.notify_one();

    let mut conn = Conn::new(server.clone(), shared.clone(), opts, nonce);
    let reason = conn.read_loop(rd).await;
    shared.close_graceful(reason);
    conn.cleanup();
    let _ = writer.await;
    let reason = shared.close_reason().unwrap_or(reason);
    debug!("{} - Client connection closed: {}", shared.log_prefix, reason.as_str());
}

/// The reader's private state.
struct Conn {
    server: Arc<ServerInner>,
    shared: Arc<ClientShared>,
    opts: Arc<Options>,
    limits: Limits,
    verbose: bool,
    pedantic: bool,
    echo: bool,
    headers: bool,
    no_responders: bool,
    protocol: i64,
    connected: bool,
    auth_required: bool,
    /// `-V`: log every protocol op, as nats-server's trace does.
    trace: bool,
    /// The nkey challenge sent in INFO, when nkey users exist.
    nonce: Option<String>,
    /// After CONNECT: the user's permissions (none means everything allowed).
    perms: Option<Arc<CompiledPermissions>>,
    /// `"$G/user:name"`, as nats-server tags violation log lines.
    user_tag: String,
    /// Publish permission results by subject (the rules are fixed per user).
    pub_allowed: HashMap<Box<[u8]>, bool>,
    connect_info_sent: bool,
    cache: MatchCache<Subscription>,
    /// Connections with output queued during this read chunk.
    flush: Vec<Arc<ClientShared>>,
    pings_out: u32,
    ping_sent_at: Option<Instant>,
    last_read: Instant,
    rng: u64,
    batch: Batch,
}

#[derive(Default)]
struct Batch {
    in_msgs: u64,
    in_bytes: u64,
    out_msgs: u64,
    out_bytes: u64,
}

impl Conn {
    fn new(server: Arc<ServerInner>, shared: Arc<ClientShared>, opts: Arc<Options>, nonce: Option<String>) -> Self {
        let defaults = ConnectOpts::default();
        Conn {
            limits: Limits { max_control_line: opts.max_control_line, max_payload: opts.max_payload },
            auth_required: server.auth.load().required(),
            trace: opts.trace,
            nonce,
            perms: None,
            user_tag: String::new(),
            pub_allowed: HashMap::new(),
            server,
            shared,
            opts,
            verbose: defaults.verbose,
            pedantic: defaults.pedantic,
            echo: defaults.echo,
            headers: false,
            no_responders: false,
            protocol: 0,
            connected: false,
            connect_info_sent: false,
            cache: MatchCache::default(),
            flush: Vec::new(),
            pings_out: 0,
            ping_sent_at: None,
            last_read: Instant::now(),
            rng: rand::random::<u64>() | 1,
            batch: Batch::default(),
        }
    }

    async fn read_loop(&mut self, mut rd: tokio::net::tcp::OwnedReadHalf) -> CloseReason {
        let mut buf = BytesMut::with_capacity(MIN_READ);
        let mut read_size = MIN_READ;
        let first_ping = FIRST_PING_INTERVAL.min(self.opts.ping_interval);
        let ping = tokio::time::sleep(first_ping);
        tokio::pin!(ping);
        let auth_deadline = tokio::time::sleep(self.opts.authorization.timeout);
        tokio::pin!(auth_deadline);
        loop {
            if buf.capacity() - buf.len() < read_size / 2 {
                buf.reserve(read_size);
            }
            let cancel = self.shared.cancel.clone();
            let shutdown = self.server.shutdown.clone();
            let n = tokio::select! {
                biased;
                _ = cancel.cancelled() => return self.shared.close_reason().unwrap_or(CloseReason::ClientClosed),
                _ = shutdown.cancelled() => return CloseReason::ServerShutdown,
                r = rd.read_buf(&mut buf) => match r {
                    Ok(0) => return CloseReason::ClientClosed,
                    Ok(n) => n,
                    Err(_) => return CloseReason::ReadError,
                },
                _ = &mut ping => {
                    let interval = self.opts.ping_interval;
                    ping.as_mut().reset(tokio::time::Instant::now() + interval);
                    let r = self.on_ping_timer();
                    self.flush_batch();
                    match r {
                        Ok(()) => continue,
                        Err(reason) => return reason,
                    }
                }
                _ = &mut auth_deadline, if self.auth_required && !self.connected => {
                    debug!("{} - Authentication Timeout", self.shared.log_prefix);
                    self.send_err(ERR_AUTH_TIMEOUT);
                    self.flush_batch();
                    return CloseReason::AuthenticationTimeout;
                }
            };
            self.last_read = Instant::now();
            if n >= read_size && read_size < MAX_READ {
                read_size *= 2;
            } else if n < read_size / 4 && read_size > MIN_READ {
                read_size /= 2;
            }

            let mut pos = 0;
            let mut need = 0;
            let outcome = loop {
                match proto::parse(&buf[pos..], &self.limits) {
                    Ok(Parsed::Op(op, used)) => {
                        // CONNECT may wait for a bcrypt check off the async workers.
                        let r = match op {
                            Op::Connect(json) => {
                                if self.trace {
                                    trace_in(&self.shared.log_prefix, &op);
                                }
                                self.handle_connect(json).await
                            }
                            op => self.handle(op),
                        };
                        pos += used;
                        if let Err(reason) = r {
                            break Err(reason);
                        }
                    }
                    Ok(Parsed::Incomplete { need: n }) => {
                        need = n;
                        break Ok(());
                    }
                    Err(e) => break Err(self.on_parse_error(e)),
                }
            };
            buf.advance(pos);
            if need > buf.len() {
                buf.reserve(need - buf.len());
            }
            self.flush_batch();
            if let Err(reason) = outcome {
                return reason;
            }
        }
    }

    /// Wakes every connection written to during this chunk, once, and folds the
    /// chunk's counters into the shared statistics.
    fn flush_batch(&mut self) {
        for client in self.flush.drain(..) {
            // Clear before notifying: a publisher that appends after the clear
            // queues its own wakeup; one that appended before is covered by ours.
            client.flush_queued.store(false, Ordering::Release);
            client.wake.notify_one();
        }
        let b = std::mem::take(&mut self.batch);
        if b.in_msgs > 0 {
            self.shared.in_msgs.fetch_add(b.in_msgs, Ordering::Relaxed);
            self.shared.in_bytes.fetch_add(b.in_bytes, Ordering::Relaxed);
            self.server.stats.in_msgs.fetch_add(b.in_msgs, Ordering::Relaxed);
            self.server.stats.in_bytes.fetch_add(b.in_bytes, Ordering::Relaxed);
        }
        if b.out_msgs > 0 {
            self.server.stats.out_msgs.fetch_add(b.out_msgs, Ordering::Relaxed);
            self.server.stats.out_bytes.fetch_add(b.out_bytes, Ordering::Relaxed);
        }
    }

    fn queue_flush(&mut self, client: &Arc<ClientShared>) {
        if !client.flush_queued.swap(true, Ordering::AcqRel) {
            self.flush.push(client.clone());
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        if self.trace {
            let line = String::from_utf8_lossy(bytes);
            tracing::trace!("{} - ->> [{}]", self.shared.log_prefix, line.trim_end());
        }
        self.shared.push_proto(bytes);
        let me = self.shared.clone();
        self.queue_flush(&me);
    }

    fn send_err(&mut self, text: &str) {
        self.send(&err_line(text));
    }

    fn send_ok(&mut self) {
        if self.verbose {
            self.send(b"+OK\r\n");
        }
    }

    fn on_parse_error(&mut self, e: ParseError) -> CloseReason {
        error!("{} - {}", self.shared.log_prefix, e);
        match e {
            ParseError::UnknownOp { .. } => {
                self.send_err(ERR_UNKNOWN_OP);
                CloseReason::ParseError
            }
            ParseError::MaxControlLine => {
                self.send_err(ERR_MAX_CONTROL_LINE);
                CloseReason::MaxControlLineExceeded
            }
            ParseError::MaxPayload { .. } => {
                self.send_err(ERR_MAX_PAYLOAD);
                CloseReason::MaxPayloadExceeded
            }
            ParseError::BadArgs { .. } => CloseReason::ProtocolViolation,
        }
    }

    fn handle(&mut self, op: Op<'_>) -> Result<(), CloseReason> {
        if self.trace {
            trace_in(&self.shared.log_prefix, &op);
        }
        if self.auth_required && !self.connected && !matches!(op, Op::Connect(_)) {
            return Err(self.auth_violation(None));
        }
        match op {
            Op::Connect(_) => Ok(()),
            Op::Pub(p) => self.handle_pub(p),
            Op::Sub { subject, queue, sid } => {
                self.handle_sub(subject, queue, sid);
                Ok(())
            }
            Op::Unsub { sid, max } => {
                self.handle_unsub(sid, max);
                Ok(())
            }
            Op::Ping => {
                self.send(b"PONG\r\n");
                if self.connected && self.protocol >= 1 && !self.connect_info_sent {
                    // The reference follows the first PONG with an INFO that
                    // confirms the CONNECT was processed.
                    self.connect_info_sent = true;
                    let mut info = self.server.client_info(self.shared.cid, self.shared.addr, self.nonce.as_deref());
                    info.connect_info = true;
                    info.remote_account = "$G".into();
                    self.send(&info.to_line());
                }
                Ok(())
            }
            Op::Pong => {
                self.pings_out = 0;
                if let Some(sent) = self.ping_sent_at.take() {
                    self.shared.meta.lock().unwrap_or_else(|e| e.into_inner()).rtt = Some(sent.elapsed());
                }
                Ok(())
            }
            Op::Info | Op::Ok => Ok(()),
            Op::Err(text) => {
                error!("{} - Client Error {}", self.shared.log_prefix, String::from_utf8_lossy(text));
                Err(CloseReason::ClientClosed)
            }
        }
    }

    fn auth_violation(&mut self, user: Option<&str>) -> CloseReason {
        match user {
            Some(u) => error!("{} - authentication error - User {:?}", self.shared.log_prefix, u),
            None => error!("{} - authentication error", self.shared.log_prefix),
        }
        self.send_err(ERR_AUTH_VIOLATION);
        CloseReason::AuthenticationViolation
    }

    async fn handle_connect(&mut self, json: &[u8]) -> Result<(), CloseReason> {
        let c: ConnectOpts = match serde_json::from_slice(json) {
            Ok(c) => c,
            Err(e) => {
                // Not `e` itself: serde_json quotes the offending value, which
                // may be a password or token sent with the wrong type.
                error!("{} - invalid CONNECT JSON at line {}, column {}", self.shared.log_prefix, e.line(), e.column());
                return Err(CloseReason::ProtocolViolation);
            }
        };
        if !(0..=1).contains(&c.protocol) {
            error!("{} - {}", self.shared.log_prefix, ERR_INVALID_PROTOCOL);
            self.send_err(ERR_INVALID_PROTOCOL);
            return Err(CloseReason::BadClientProtocolVersion);
        }
        if c.no_responders && !c.headers {
            error!("{} - {}", self.shared.log_prefix, ERR_NO_RESPONDERS_NEEDS_HEADERS);
            self.send_err(ERR_NO_RESPONDERS_NEEDS_HEADERS);
            return Err(CloseReason::ProtocolViolation);
        }
        let index = self.server.auth.load_full();
        let identity = if !self.auth_required {
            Some(super::auth::Identity::default())
        } else if index.needs_blocking(&c) {
            let slots = self.server.bcrypt_slots.clone();
            let (creds, nonce) = (c.clone(), self.nonce.clone());
            let check = async move {
                let _slot = slots.acquire_owned().await.ok()?;
                tokio::task::spawn_blocking(move || index.authenticate(&creds, nonce.as_deref())).await.ok().flatten()
            };
            check.await
        } else {
            index.authenticate(&c, self.nonce.as_deref())
        };
        let Some(identity) = identity else {
            return Err(self.auth_violation(c.user.as_deref()));
        };
        if let Some(user) = &identity.user {
            self.user_tag = format!("\"$G/user:{user}\"");
        }
        if let Some(resp) = identity.permissions.as_ref().and_then(|p| p.responses.as_ref()) {
            let ttl = u64::try_from(resp.expires.as_nanos()).unwrap_or(u64::MAX);
            self.shared.reply_ttl_nanos.store(ttl, Ordering::Relaxed);
            self.shared.tracks_replies.store(true, Ordering::Relaxed);
        }
        self.perms = identity.permissions;
        self.verbose = c.verbose;
        self.pedantic = c.pedantic;
        self.echo = c.echo;
        self.protocol = c.protocol;
        self.headers = c.headers && !self.opts.no_header_support;
        self.no_responders = c.no_responders && self.headers;
        self.shared.headers.store(self.headers, Ordering::Relaxed);
        {
            let mut meta = self.shared.meta.lock().unwrap_or_else(|e| e.into_inner());
            meta.name = c.name.unwrap_or_default();
            meta.lang = c.lang.unwrap_or_default();
            meta.version = c.version.unwrap_or_default();
            meta.user = identity.user.unwrap_or_default();
        }
        self.connected = true;
        self.send_ok();
        Ok(())
    }

    fn handle_pub(&mut self, p: Publish<'_>) -> Result<(), CloseReason> {
        if p.header_len.is_some() && !self.headers {
            error!("{} - message headers not supported", self.shared.log_prefix);
            return Err(CloseReason::ProtocolViolation);
        }
        self.batch.in_msgs += 1;
        self.batch.in_bytes += p.payload.len() as u64;
        if self.pedantic && !is_valid_literal_subject(p.subject) {
            // The reference reports it and still delivers the message.
            self.send_err(ERR_INVALID_PUB_SUBJECT);
        }
        if !self.can_publish(p.subject) {
            error!(
                "{} - {} - Publish Violation - Subject {:?}",
                self.shared.log_prefix,
                self.user_tag,
                String::from_utf8_lossy(p.subject)
            );
            self.send_err(&format!("Permissions Violation for Publish to {:?}", String::from_utf8_lossy(p.subject)));
            return Ok(());
        }
        self.send_ok();
        let delivered = self.deliver(&p);
        if !delivered && self.no_responders {
            if let Some(reply) = p.reply {
                self.send_no_responders(p.subject, reply);
            }
        }
        Ok(())
    }

    /// Fans one message out: every plain subscriber, then one member of each
    /// queue group. Returns whether anyone got it.
    fn deliver(&mut self, p: &Publish<'_>) -> bool {
        let result = self.cache.get(&self.server.sublist, p.subject);
        let mut delivered = false;
        for sub in &result.psubs {
            delivered |= self.deliver_to(sub, p);
        }
        for group in &result.qsubs {
            let n = group.members.len();
            // A random start, then the first member able to take it.
            let start = (self.next_rand() % n as u64) as usize;
            for i in 0..n {
                if self.deliver_to(&group.members[(start + i) % n], p) {
                    delivered = true;
                    break;
                }
            }
        }
        delivered
    }

    fn deliver_to(&mut self, sub: &Arc<Subscription>, p: &Publish<'_>) -> bool {
        let client = &sub.client;
        if sub.removed.load(Ordering::Relaxed) || (!self.echo && Arc::ptr_eq(client, &self.shared)) {
            return false;
        }
        if let Some(deny) = &sub.deny_filter {
            if !deny.match_subject(p.subject).psubs.is_empty() {
                return false;
            }
        }
        let max = sub.max.load(Ordering::Relaxed);
        let n = sub.delivered.fetch_add(1, Ordering::Relaxed) + 1;
        if max > 0 && n > max {
            return false;
        }
        let (header_len, payload) = match p.header_len {
            Some(h) if !client.headers() => (None, &p.payload[h..]),
            h => (h, p.payload),
        };
        let pushed = client.out.lock().unwrap_or_else(|e| e.into_inner()).push_msg(
            p.subject,
            &sub.sid,
            p.reply,
            header_len,
            payload,
            client.max_pending,
        );
        match pushed {
            Pushed::Queued => {
                if let (Some(reply), true) = (p.reply, client.tracks_replies.load(Ordering::Relaxed)) {
                    client.grant_reply(reply);
                }
                self.batch.out_msgs += 1;
                self.batch.out_bytes += payload.len() as u64;
                let client = client.clone();
                self.queue_flush(&client);
            }
            Pushed::SlowConsumer => {
                client.slow_consumer_pending();
                return false;
            }
            Pushed::Closed => return false,
        }
        if max > 0 && n == max {
            self.server.remove_subscription(sub);
        }
        true
    }

    /// The 503 status a requester gets when nobody is subscribed: sent to the
    /// requester's own subscription on the reply subject, as the reference does.
    fn send_no_responders(&mut self, subject: &[u8], reply: &[u8]) {
        let result = self.server.sublist.match_subject(reply);
        let Some(sub) = result.psubs.iter().find(|s| Arc::ptr_eq(&s.client, &self.shared)) else {
            return;
        };
        let mut hdr = Vec::with_capacity(32 + subject.len());
        hdr.extend_from_slice(b"NATS/1.0 503\r\nNats-Subject: ");
        hdr.extend_from_slice(subject);
        hdr.extend_from_slice(b"\r\n\r\n");
        let pushed = self.shared.out.lock().unwrap_or_else(|e| e.into_inner()).push_msg(
            reply,
            &sub.sid,
            None,
            Some(hdr.len()),
            &hdr,
            usize::MAX,
        );
        if pushed == Pushed::Queued {
            let me = self.shared.clone();
            self.queue_flush(&me);
        }
    }

    /// The publish permission check, cached per subject; replies granted by
    /// `allow_responses` are checked (and counted) every time.
    fn can_publish(&mut self, subject: &[u8]) -> bool {
        let Some(perms) = self.perms.clone() else { return true };
        let allowed = match self.pub_allowed.get(subject) {
            Some(&a) => a,
            None => {
                let a = perms.publish.allows(subject);
                if self.pub_allowed.len() >= 256 {
                    self.pub_allowed.clear();
                }
                self.pub_allowed.insert(subject.into(), a);
                a
            }
        };
        if allowed {
            return true;
        }
        let Some(resp) = &perms.responses else { return false };
        let mut replies = self.shared.replies.lock().unwrap_or_else(|e| e.into_inner());
        let Some(grant) = replies.get_mut(subject) else { return false };
        grant.sent += 1;
        let over = resp.max > 0 && grant.sent > resp.max;
        let expired = !resp.expires.is_zero() && grant.since.elapsed() > resp.expires;
        if over || expired {
            replies.remove(subject);
            return false;
        }
        true
    }

    fn handle_sub(&mut self, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        let mut deny_filter = None;
        if let Some(perms) = self.perms.clone() {
            if !perms.subscribe.allows_sub(subject, queue) {
                let s = String::from_utf8_lossy(subject);
                let sid_text = String::from_utf8_lossy(sid);
                match queue {
                    Some(q) => {
                        let q = String::from_utf8_lossy(q);
                        error!(
                            "{} - {} - Subscription Violation - Subject {s:?}, Queue: {q:?}, SID {sid_text}",
                            self.shared.log_prefix, self.user_tag
                        );
                        self.send_err(&format!("Permissions Violation for Subscription to {s:?} using queue {q:?}"));
                    }
                    None => {
                        error!(
                            "{} - {} - Subscription Violation - Subject {s:?}, SID {sid_text}",
                            self.shared.log_prefix, self.user_tag
                        );
                        self.send_err(&format!("Permissions Violation for Subscription to {s:?}"));
                    }
                }
                return;
            }
            deny_filter = perms.subscribe.overlapping_denies(subject);
        }
        let max_subs = self.opts.max_subscriptions;
        if max_subs > 0 && self.shared.subs.lock().unwrap_or_else(|e| e.into_inner()).len() >= max_subs {
            error!("{} - {}", self.shared.log_prefix, ERR_MAX_SUBSCRIPTIONS);
            self.send_err(ERR_MAX_SUBSCRIPTIONS);
            return;
        }
        if !is_valid_subject(subject) {
            self.send_err(ERR_INVALID_SUBJECT);
            return;
        }
        // A sid already in use is ignored, as the reference does.
        if !self.shared.subs.lock().unwrap_or_else(|e| e.into_inner()).contains_key(sid) {
            let sub = Arc::new(Subscription {
                client: self.shared.clone(),
                subject: subject.into(),
                queue: queue.map(Into::into),
                sid: sid.into(),
                max: AtomicU64::new(0),
                delivered: AtomicU64::new(0),
                removed: AtomicBool::new(false),
                deny_filter,
            });
            if self.server.sublist.insert(subject, queue, sub.clone()).is_err() {
                self.send_err(ERR_INVALID_SUBJECT);
                return;
            }
            self.shared.subs.lock().unwrap_or_else(|e| e.into_inner()).insert(sid.into(), sub);
        }
        self.send_ok();
    }

    fn handle_unsub(&mut self, sid: &[u8], max: Option<u64>) {
        let sub = self.shared.subs.lock().unwrap_or_else(|e| e.into_inner()).get(sid).cloned();
        if let Some(sub) = sub {
            match max {
                Some(m) if m > sub.delivered() => sub.max.store(m, Ordering::Relaxed),
                _ => self.server.remove_subscription(&sub),
            }
        }
        self.send_ok();
    }

    fn on_ping_timer(&mut self) -> Result<(), CloseReason> {
        let rtt_known = self.shared.meta.lock().unwrap_or_else(|e| e.into_inner()).rtt.is_some();
        // Skip the ping while the client is sending: it is evidently alive.
        if rtt_known && self.last_read.elapsed() < self.opts.ping_interval {
            return Ok(());
        }
        if self.pings_out + 1 > self.opts.ping_max {
            debug!("{} - Stale Client Connection - Closing", self.shared.log_prefix);
            self.server.stats.stale_connections.fetch_add(1, Ordering::Relaxed);
            self.send_err(ERR_STALE_CONNECTION);
            return Err(CloseReason::StaleConnection);
        }
        self.pings_out += 1;
        self.ping_sent_at = Some(Instant::now());
        self.send(b"PING\r\n");
        Ok(())
    }

    fn next_rand(&mut self) -> u64 {
        // xorshift64: queue member choice needs speed, not cryptography.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// Drops every subscription of this connection and deregisters it.
    fn cleanup(&mut self) {
        let subs: Vec<Arc<Subscription>> =
            self.shared.subs.lock().unwrap_or_else(|e| e.into_inner()).drain().map(|(_, s)| s).collect();
        for sub in subs {
            if !sub.removed.swap(true, Ordering::AcqRel) {
                self.server.sublist.remove(&sub.subject, sub.queue.as_deref(), &sub);
            }
        }
        self.server.clients.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.shared.cid);
        self.flush_batch();
    }
}

/// Logs an inbound op the way nats-server traces it: `<<- [SUB foo 1]`, with
/// the payload on a line of its own and no password or token in the log.
fn trace_in(prefix: &str, op: &Op<'_>) {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let text = match op {
        Op::Connect(json) => format!("CONNECT {}", redact_connect(json)),
        Op::Pub(p) => {
            let verb = if p.header_len.is_some() { "HPUB" } else { "PUB" };
            let reply = p.reply.map(|r| format!(" {}", s(r))).unwrap_or_default();
            let hdr = p.header_len.map(|h| format!(" {h}")).unwrap_or_default();
            format!("{verb} {}{reply}{hdr} {}", s(p.subject), p.payload.len())
        }
        Op::Sub { subject, queue, sid } => match queue {
            Some(q) => format!("SUB {} {} {}", s(subject), s(q), s(sid)),
            None => format!("SUB {} {}", s(subject), s(sid)),
        },
        Op::Unsub { sid, max } => match max {
            Some(m) => format!("UNSUB {} {m}", s(sid)),
            None => format!("UNSUB {}", s(sid)),
        },
        Op::Ping => "PING".into(),
        Op::Pong => "PONG".into(),
        Op::Info => "INFO".into(),
        Op::Ok => "+OK".into(),
        Op::Err(t) => format!("-ERR {}", s(t)),
    };
    tracing::trace!("{prefix} - <<- [{text}]");
    if let Op::Pub(p) = op {
        tracing::trace!("{prefix} - <<- MSG_PAYLOAD: [{:?}]", String::from_utf8_lossy(p.payload));
    }
}

/// The CONNECT JSON with `pass` and `auth_token` replaced by `[REDACTED]`.
pub fn redact_connect(json: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(mut map)) => {
            for key in ["pass", "auth_token", "sig", "jwt"] {
                if let Some(v) = map.get_mut(key) {
                    *v = serde_json::Value::String("[REDACTED]".into());
                }
            }
            serde_json::Value::Object(map).to_string()
        }
        _ => "[unparsable]".into(),
    }
}

impl ServerInner {
    /// Removes one subscription (UNSUB, or its auto-unsubscribe limit reached).
    pub fn remove_subscription(&self, sub: &Arc<Subscription>) {
        if sub.removed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.sublist.remove(&sub.subject, sub.queue.as_deref(), sub);
        let mut subs = sub.client.subs.lock().unwrap_or_else(|e| e.into_inner());
        if subs.get(&sub.sid).is_some_and(|s| Arc::ptr_eq(s, sub)) {
            subs.remove(&sub.sid);
        }
    }
}
