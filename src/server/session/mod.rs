//! A connection's session: its whole life, from the accepted socket to the
//! close, over any [`Transport`] (TCP now; TLS and in-memory streams too).
//!
//! Life cycle: accepted → INFO sent (in clear text, before any TLS upgrade)
//! → authenticated → closing with a reason. Two tasks serve a connection:
//! this one reads, parses and acts on every op of a read chunk, and the
//! writer task ([`crate::server::outbound`]) drains the outbound buffer. A
//! publisher therefore never waits on a subscriber's socket.
//!
//! What the connection's ops mean depends on its role: a client today, a
//! route (another server) with clustering. The loop, the timers, the limits
//! and the snapshot handling are the same for both.

pub mod client;
mod retire;
pub mod route;
pub mod trace;
pub mod transport;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::{debug, error};

use super::conn::{ConnKind, Connection, TlsInfo};
use super::deliver::Fanout;
use super::errors::*;
use super::outbound::WriteEnd;
use super::proto::{self, Limits, Op, ParseError, Parsed};
use super::route::proto::{RouteLimits, RouteParsed};
use super::snapshot::Snapshot;
use super::state::ServerState;
use crate::options::FIRST_PING_INTERVAL;
use client::ClientState;
use retire::Retirement;
pub use transport::Transport;

/// Read sizes, as nats-server sizes its read buffer: start at 512 bytes,
/// double after a read that fills it (up to 64 KiB), halve (down to 64
/// bytes) after each short read once more than two reads in a row used
/// less than half of it. Reads never take more than the current size, so
/// the read boundaries, which some of the reference's answers depend on,
/// fall where its own do.
const START_READ: usize = 512;
const MIN_READ: usize = 64;
const MAX_READ: usize = 64 * 1024;
const SHORTS_TO_SHRINK: u32 = 2;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Accepted,
    InfoSent,
    Authenticated,
    Closing(CloseReason),
}

/// What a connection's ops mean. One per session, held by its task: the
/// size difference costs nothing, boxing the client would cost an
/// indirection on every client op.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Role {
    Client(ClientState),
    Route(route::RouteState),
}

/// The session state every role uses.
pub(crate) struct Core {
    pub server: Arc<ServerState>,
    pub conn: Arc<Connection>,
    /// The configuration this session currently runs under.
    pub snap: Arc<Snapshot>,
    pub limits: Limits,
    pub fanout: Fanout,
    pub phase: Phase,
    /// Whether the peer must authenticate before anything else.
    pub auth_required: bool,
    /// How long it has to (a route: `cluster.authorization.timeout`).
    pub auth_timeout: Duration,
    /// `-V`: log every protocol op, as nats-server's trace does.
    pub trace: bool,
    pings_out: u32,
    ping_sent_at: Option<Instant>,
    /// A PING of ours was answered, so `meta.rtt` is a measurement (before
    /// that it is CONNECT's estimate).
    rtt_measured: bool,
    last_read: Instant,
}

impl Core {
    fn new(server: Arc<ServerState>, conn: Arc<Connection>, snap: Arc<Snapshot>) -> Core {
        let ws_timeout = snap.websocket.as_ref().and_then(|w| w.settings.auth_timeout).filter(|_| conn.websocket);
        conn.outbound.set_max_pending(max_pending_for(conn.kind, &snap));
        Core {
            limits: limits_for(conn.kind, &snap),
            auth_required: snap.auth_for(conn.websocket).required(),
            auth_timeout: ws_timeout.unwrap_or(snap.opts.authorization.timeout),
            trace: snap.opts.trace,
            server,
            conn,
            snap,
            fanout: Fanout::default(),
            phase: Phase::InfoSent,
            pings_out: 0,
            ping_sent_at: None,
            rtt_measured: false,
            last_read: Instant::now(),
        }
    }

    /// Queues protocol bytes for the peer; the writer is woken at the end of
    /// the read chunk.
    pub fn send(&mut self, bytes: &[u8]) {
        if self.trace {
            trace::trace_out(&self.conn.log_prefix, bytes);
        }
        if self.conn.queue_proto(bytes) {
            let conn = self.conn.clone();
            self.fanout.wake_later(&conn);
        }
    }

    pub fn send_err(&mut self, text: &str) {
        self.send(&err_line(text));
    }

    /// Ends a read chunk (or a timer event): wakes every connection written
    /// to, and settles the counters.
    pub fn finish_batch(&mut self) {
        self.fanout.finish_batch(&self.conn);
    }

    /// After a read chunk: waits (bounded) for the subscribers it found
    /// behind, so a fast producer slows down to what they can take.
    async fn stall_for_slow_subscribers(&mut self) {
        if !self.fanout.stalls.is_empty() {
            let max_pending = self.snap.opts.max_pending;
            self.fanout.stalls.wait(&self.conn, &self.server.stats, max_pending).await;
        }
    }

    /// Who this client may be (websocket clients have their own index).
    pub fn auth(&self) -> &super::auth::AuthIndex {
        self.snap.auth_for(self.conn.websocket)
    }

    /// Whether the peer must still authenticate before anything but CONNECT.
    fn awaiting_auth(&self) -> bool {
        self.auth_required && self.phase != Phase::Authenticated
    }

    /// Adopts the server's newest snapshot, if there is a newer one. Returns
    /// the previous one when it changed.
    fn take_new_snapshot(&mut self) -> Option<Arc<Snapshot>> {
        if self.server.generation() == self.snap.generation {
            return None;
        }
        let new = self.server.snapshot();
        if new.generation == self.snap.generation {
            return None;
        }
        // Whether HPUB is accepted was settled by the CONNECT, not the config.
        self.limits = Limits { headers: self.limits.headers, ..limits_for(self.conn.kind, &new) };
        self.conn.outbound.set_max_pending(max_pending_for(self.conn.kind, &new));
        self.trace = new.opts.trace;
        Some(std::mem::replace(&mut self.snap, new))
    }

    fn on_parse_error(&mut self, e: ParseError) -> CloseReason {
        error!("{} - {}", self.conn.log_prefix, e);
        match e {
            ParseError::UnknownOp { .. } => {
                self.send_err(ERR_UNKNOWN_OP);
                // nats-server closes every parse error as a protocol violation.
                CloseReason::ProtocolViolation
            }
            ParseError::MaxControlLine => {
                self.send_err(ERR_MAX_CONTROL_LINE);
                CloseReason::MaxControlLineExceeded
            }
            ParseError::MaxPayload { .. } => {
                self.send_err(ERR_MAX_PAYLOAD);
                CloseReason::MaxPayloadExceeded
            }
            ParseError::BadArgs { .. } | ParseError::HeadersNotSupported => CloseReason::ProtocolViolation,
        }
    }

    /// How often this connection is pinged (routes: at most every 30s).
    fn ping_interval(&self) -> Duration {
        match self.conn.kind {
            ConnKind::Client if self.conn.websocket => {
                let ws = self.snap.websocket.as_ref().and_then(|w| w.settings.ping_interval);
                ws.unwrap_or(self.snap.opts.ping_interval)
            }
            ConnKind::Client => self.snap.opts.ping_interval,
            ConnKind::Route => crate::server::route::timing::ping_interval(&self.snap),
        }
    }

    /// The first ping comes early, to measure the round trip: 2s for a
    /// client, 1s plus up to 20% for a route (as nats-server does).
    fn first_ping(&self) -> Duration {
        let interval = self.ping_interval();
        match self.conn.kind {
            ConnKind::Client => FIRST_PING_INTERVAL.min(interval),
            ConnKind::Route => {
                let d = ROUTE_FIRST_PING.min(interval);
                d + Duration::from_millis(rand::random_range(0..=d.as_millis() as u64 / 5))
            }
        }
    }

    /// The ping timer fired: ping the peer, or close it as stale when too
    /// many pings went unanswered.
    fn on_ping_timer(&mut self) -> Result<(), CloseReason> {
        // Skip the ping while a client is sending: it is evidently alive.
        // The first one always goes, to measure the RTT. Routes are pinged
        // regardless, as nats-server does.
        let client = self.conn.kind == ConnKind::Client;
        if client && self.rtt_measured && self.last_read.elapsed() < self.ping_interval() {
            return Ok(());
        }
        let ping_max = match self.conn.kind {
            ConnKind::Client => self.snap.opts.ping_max,
            ConnKind::Route => crate::server::route::timing::ping_max(&self.snap),
        };
        if self.pings_out + 1 > ping_max {
            debug!("{} - Stale Client Connection - Closing", self.conn.log_prefix);
            let counter = match (&self.conn.kind, &self.server.cluster) {
                (ConnKind::Route, Some(cluster)) => &cluster.stale_routes,
                _ => &self.server.stats.stale_connections,
            };
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.send_err(ERR_STALE_CONNECTION);
            return Err(CloseReason::StaleConnection);
        }
        self.pings_out += 1;
        self.ping_sent_at = Some(Instant::now());
        self.send(b"PING\r\n");
        Ok(())
    }

    /// The peer answered a PING.
    pub fn on_pong(&mut self) {
        self.pings_out = 0;
        if let Some(sent) = self.ping_sent_at.take() {
            self.conn.meta.lock().unwrap_or_else(|e| e.into_inner()).rtt = Some(sent.elapsed());
            self.rtt_measured = true;
        }
    }
}

/// A route's first ping (nats-server's `firstPingInterval`).
const ROUTE_FIRST_PING: Duration = Duration::from_secs(1);

/// The parser's bounds for a connection of this kind. Routes get generous
/// ones: nats-server applies no limit to them at all.
fn limits_for(kind: ConnKind, snap: &Snapshot) -> Limits {
    match kind {
        ConnKind::Client => snap.client_limits(),
        ConnKind::Route => Limits {
            max_control_line: crate::server::route::proto::ROUTE_MAX_CONTROL_LINE.max(snap.opts.max_control_line),
            max_payload: crate::server::route::proto::ROUTE_MAX_PAYLOAD.max(snap.opts.max_payload),
            headers: !snap.opts.no_header_support,
        },
    }
}

/// The most a connection may owe its peer. A route carries a whole
/// server's traffic to another: it is never bounded below nats-server's
/// default (which bounds routes by time only, `write_deadline`).
fn max_pending_for(kind: ConnKind, snap: &Snapshot) -> usize {
    match kind {
        ConnKind::Client => snap.opts.max_pending,
        ConnKind::Route => snap.opts.max_pending.max(crate::options::DEFAULT_MAX_PENDING),
    }
}

/// Serves one accepted client connection until it closes.
pub async fn serve_client<S: Transport>(server: Arc<ServerState>, stream: S, addr: SocketAddr) {
    serve(server, stream, addr, None).await
}

/// Serves a client that came in over the websocket listener (TLS and the
/// upgrade done): the same session, with the websocket block's INFO,
/// credentials and timers.
pub async fn serve_websocket_client<S: Transport>(
    server: Arc<ServerState>,
    stream: S,
    addr: SocketAddr,
    meta: crate::websocket::WsMeta,
    tls: Option<crate::tls::Negotiated>,
) {
    serve(server, stream, addr, Some((meta, tls))).await
}

async fn serve<S: Transport>(
    server: Arc<ServerState>,
    mut stream: S,
    addr: SocketAddr,
    websocket: Option<(crate::websocket::WsMeta, Option<crate::tls::Negotiated>)>,
) {
    let snap = server.snapshot();
    let cid = server.next_cid();
    let mut conn = Connection::new(cid, ConnKind::Client, addr, server.global.clone(), server.stats.clone());
    if let Some((meta, _)) = &websocket {
        conn = conn.into_websocket(meta.client_ip);
    }
    let conn = Arc::new(conn);
    stream.bind(&conn);
    let nonce = snap.auth_for(conn.websocket).needs_nonce().then(super::auth::new_nonce);
    server.stats.total_connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let admitted = server.register(&conn, snap.opts.max_connections);
    // From here on, however this session ends (a panic included), the
    // connection is retired once, when this guard is dropped.
    let retirement = Retirement::client(server.clone(), conn.clone());
    let info = |tls_required: bool| {
        let mut info = server.client_connect_info(&snap, &conn, nonce.as_deref());
        if !conn.websocket {
            info.tls_required = tls_required;
        }
        info.to_line()
    };
    let deadline = snap.opts.write_deadline;
    if !admitted {
        // The reference's answer: INFO (in clear), then the error, then close.
        error!("{} - {}", conn.log_prefix, ERR_MAX_CONNECTIONS);
        conn.close_now(CloseReason::MaxConnectionsExceeded);
        let _ = tokio::time::timeout(deadline, stream.write_all(&info(false))).await;
        let _ = tokio::time::timeout(deadline, stream.write_all(&err_line(ERR_MAX_CONNECTIONS))).await;
        let _ = tokio::time::timeout(deadline, stream.shutdown()).await;
        return;
    }
    if let Some((meta, tls)) = websocket {
        // TLS, if any, was done by the websocket listener.
        if let Some(negotiated) = &tls {
            let tls_info = TlsInfo {
                version: negotiated.version.clone(),
                cipher_suite: negotiated.cipher_suite.clone(),
                tls_first: false,
            };
            conn.meta.lock().unwrap_or_else(|e| e.into_inner()).tls = Some(tls_info);
        }
        let sent = tokio::time::timeout(deadline, async {
            stream.write_all(&info(false)).await?;
            stream.flush().await
        });
        if !matches!(sent.await, Ok(Ok(()))) {
            conn.close_now(CloseReason::WriteError);
            return;
        }
        let mut client = ClientState::new(nonce, tls);
        client.set_cookies(meta.cookies);
        let session = Session { server: server.clone(), conn, snap: snap.clone(), client, retirement };
        return run_session(session, stream, Vec::new()).await;
    }
    let Some(tls) = snap.tls.clone() else {
        // INFO goes out in clear text before anything else.
        if !matches!(tokio::time::timeout(deadline, stream.write_all(&info(false))).await, Ok(Ok(()))) {
            conn.close_now(CloseReason::WriteError);
            return;
        }
        let client = ClientState::new(nonce, None);
        let session = Session { server: server.clone(), conn, snap: snap.clone(), client, retirement };
        return run_session(session, stream, Vec::new()).await;
    };
    // TLS: INFO in clear text and then the handshake (or the handshake first),
    // bounded by the tls timeout; the stream is split only afterwards.
    let peer = crate::tls::Peer { log_prefix: &conn.log_prefix, local: None, remote: Some(addr) };
    let established = crate::tls::establish(stream, &tls, snap.opts.allow_non_tls, info, &peer).await;
    match established {
        Ok(crate::tls::Established::Tls { stream, negotiated, tls_first }) => {
            let tls_info = TlsInfo {
                version: negotiated.version.clone(),
                cipher_suite: negotiated.cipher_suite.clone(),
                tls_first,
            };
            conn.meta.lock().unwrap_or_else(|e| e.into_inner()).tls = Some(tls_info);
            let client = ClientState::new(nonce, Some(negotiated));
            let session = Session { server: server.clone(), conn, snap: snap.clone(), client, retirement };
            run_session(session, stream, Vec::new()).await
        }
        Ok(crate::tls::Established::Plain { stream, pending }) => {
            let client = ClientState::new(nonce, None);
            let session = Session { server: server.clone(), conn, snap: snap.clone(), client, retirement };
            run_session(session, stream, pending).await
        }
        Err(e) => {
            let reason = match e {
                crate::tls::EstablishError::Handshake(_) => CloseReason::TlsHandshakeError,
                crate::tls::EstablishError::Write(_) => CloseReason::WriteError,
            };
            conn.close_now(reason);
            drop(retirement);
            debug!("{} - Client connection closed: {}", conn.log_prefix, reason.as_str());
        }
    }
}

/// A client connection past INFO, with what its session starts from.
struct Session {
    server: Arc<ServerState>,
    conn: Arc<Connection>,
    snap: Arc<Snapshot>,
    client: ClientState,
    retirement: Retirement,
}

/// The connection after INFO (and TLS): the writer task, the read loop with
/// the client role, and the close. `pending` are bytes already read from the
/// peer (a plain client on a TLS port with `allow_non_tls`), parsed first.
async fn run_session<T: Transport>(session: Session, stream: T, pending: Vec<u8>) {
    // Declared before the core: on a panic the core is dropped first (its
    // fan-out wakes the subscribers it queued for), then the guard retires.
    let Session { server, conn, snap, client, retirement } = session;
    debug!("{} - Client connection created", conn.log_prefix);
    let (rd, wr) = stream.split();
    let writer = server.tracker.spawn(run_writer(server.clone(), conn.clone(), wr));
    server.adoptions.adopted(&conn, snap.generation);
    if server.generation() != snap.generation {
        // A reload installed since the snapshot was taken, maybe before the
        // connection was registered and could be woken: adopt it at once.
        conn.events.notify_one();
    }
    let mut core = Core::new(server.clone(), conn.clone(), snap);
    let mut role = Role::Client(client);
    let reason = read_loop(&mut core, &mut role, rd, pending).await;
    core.phase = Phase::Closing(reason);
    conn.close(reason);
    // Counters settled first: retiring moves them into the server's totals
    // and the closed-connection ring, with the subscriptions still listed.
    core.finish_batch();
    drop(retirement);
    let _ = writer.await;
    let reason = conn.close_reason().unwrap_or(reason);
    debug!("{} - Client connection closed: {}", conn.log_prefix, reason.as_str());
}

/// The writer task: drains the outbound buffer, and turns how it ended into
/// the connection's close reason.
async fn run_writer<W: AsyncWrite + Unpin>(server: Arc<ServerState>, conn: Arc<Connection>, wr: W) {
    // Asked before every write, so a reload applies to live connections.
    let deadline = || {
        let snap = server.snapshot();
        match conn.kind {
            ConnKind::Client => snap.opts.write_deadline,
            ConnKind::Route => crate::server::route::timing::write_deadline(&snap),
        }
    };
    let end = conn.outbound.write_loop(wr, deadline).await;
    match end {
        WriteEnd::Closed => {}
        WriteEnd::Error => conn.close_now(CloseReason::WriteError),
        WriteEnd::Deadline { bytes } => conn.slow_consumer_write_deadline(deadline(), bytes),
    }
}

/// Reads and acts until the connection must close; returns why.
async fn read_loop<R: AsyncRead + Unpin>(core: &mut Core, role: &mut Role, mut rd: R, pending: Vec<u8>) -> CloseReason {
    let mut buf = BytesMut::with_capacity(START_READ.max(pending.len()));
    buf.extend_from_slice(&pending);
    let mut read_size = START_READ;
    let mut short_reads = 0;
    let mut ping_interval = core.ping_interval();
    let ping = tokio::time::sleep(core.first_ping());
    tokio::pin!(ping);
    let auth_deadline = tokio::time::sleep(core.auth_timeout);
    tokio::pin!(auth_deadline);
    let conn = core.conn.clone();
    // Made once, not at each turn of the loop: every session waits on this
    // one token, and registering with it (or leaving it) takes its lock.
    let shutdown = core.server.shutdown.clone();
    let shutdown = shutdown.cancelled();
    tokio::pin!(shutdown);
    // Bytes read before the session started are parsed before any read.
    let mut unparsed = !buf.is_empty();
    // Where the first read that ended inside the pending op's argument
    // ended, and room to assemble such an argument (rarely used).
    let mut split_at: Option<usize> = None;
    let mut split_arg = Vec::new();
    loop {
        if buf.capacity() - buf.len() < read_size {
            buf.reserve(read_size);
        }
        let awaiting_auth = core.awaiting_auth();
        let n = if std::mem::take(&mut unparsed) {
            buf.len()
        } else {
            // Never more than `read_size` at once, so reads end where the
            // reference's do.
            let mut room = (&mut buf).limit(read_size);
            tokio::select! {
                biased;
                _ = conn.events.notified() => {
                    if let Some(reason) = conn.close_reason() {
                        return reason;
                    }
                    if let Err(reason) = adopt_snapshot(core, role).await {
                        core.finish_batch();
                        return reason;
                    }
                    if core.ping_interval() != ping_interval {
                        ping_interval = core.ping_interval();
                        ping.as_mut().reset(tokio::time::Instant::now() + ping_interval);
                    }
                    if core.server.in_lame_duck() {
                        match role {
                            Role::Client(client) => client.on_lame_duck(core),
                            // Peers were told once, by the server (route::announce_lame_duck).
                            Role::Route(_) => {}
                        }
                    }
                    core.finish_batch();
                    continue;
                }
                _ = &mut shutdown => return CloseReason::ServerShutdown,
                r = rd.read_buf(&mut room) => match r {
                    Ok(0) => return CloseReason::ClientClosed,
                    Ok(n) => n,
                    Err(_) => return CloseReason::ReadError,
                },
                _ = &mut ping => {
                    ping_interval = core.ping_interval();
                    ping.as_mut().reset(tokio::time::Instant::now() + ping_interval);
                    let r = core.on_ping_timer();
                    core.finish_batch();
                    match r {
                        Ok(()) => continue,
                        Err(reason) => return reason,
                    }
                }
                _ = &mut auth_deadline, if awaiting_auth => {
                    debug!("{} - Authentication Timeout", conn.log_prefix);
                    core.send_err(ERR_AUTH_TIMEOUT);
                    core.finish_batch();
                    return CloseReason::AuthenticationTimeout;
                }
            }
        };
        core.last_read = Instant::now();
        if let Role::Route(r) = role {
            r.link.touch();
        }
        if n >= read_size {
            short_reads = 0;
        } else if n < read_size / 2 {
            short_reads += 1;
        }
        if n >= read_size && read_size < MAX_READ {
            read_size *= 2;
        } else if n < read_size && read_size > MIN_READ && short_reads > SHORTS_TO_SHRINK {
            read_size /= 2;
        }
        // A reload applies from the next chunk on, even if its wakeup has
        // not been handled yet.
        if let Err(reason) = adopt_snapshot(core, role).await {
            core.finish_batch();
            return reason;
        }

        let mut pos = 0;
        let mut need = 0;
        let outcome = loop {
            if pos < buf.len() && core.awaiting_auth() {
                if let Err(reason) = op_start(core, role, buf[pos]).await {
                    break Err(reason);
                }
            }
            if let Role::Route(r) = role {
                let limits = RouteLimits {
                    max_control_line: core.limits.max_control_line,
                    max_payload: core.limits.max_payload,
                };
                match crate::server::route::proto::parse(&buf[pos..], &limits) {
                    Ok(RouteParsed::Op(op, used)) => {
                        let result = r.on_op(core, op).await;
                        pos += used;
                        if let Err(reason) = result {
                            break Err(reason);
                        }
                        continue;
                    }
                    Ok(RouteParsed::Incomplete { need: n }) => {
                        need = n;
                        break Ok(());
                    }
                    Err(e) => break Err(route::on_parse_error(core, e)),
                }
            }
            // Only the op at the start of the buffer began in an earlier read.
            let cut = split_at.filter(|_| pos == 0).map(|at| proto::Cut { at, scratch: &mut split_arg });
            match proto::parse_split(&buf[pos..], &core.limits, cut) {
                Ok(Parsed::Op(op, used)) => {
                    let r = dispatch(core, role, op).await;
                    pos += used;
                    if let Err(reason) = r {
                        break Err(reason);
                    }
                }
                Ok(Parsed::Incomplete { need: n }) => {
                    need = n;
                    break Ok(());
                }
                Ok(Parsed::AwaitingPayload { subject, need: n }) => {
                    if let Role::Client(client) = role {
                        client.on_payload_pending(core, subject);
                    }
                    need = n;
                    break Ok(());
                }
                Err(e) => {
                    if let ParseError::UnknownOp { pub_subject, .. } = &e {
                        if let Role::Client(client) = role {
                            client.on_parse_error(core, pub_subject.as_deref());
                        }
                    }
                    break Err(core.on_parse_error(e));
                }
            }
        };
        buf.advance(pos);
        // The first read that ends inside an op's argument decides how the
        // reference assembles it (see `proto::Cut`).
        if pos > 0 {
            split_at = None;
        }
        if split_at.is_none() && outcome.is_ok() && proto::arg_start(&buf).is_some_and(|s| s < buf.len()) {
            split_at = Some(buf.len());
        }
        if need > buf.len() {
            buf.reserve(need - buf.len());
        }
        core.finish_batch();
        if let Err(reason) = outcome {
            return reason;
        }
        core.stall_for_slow_subscribers().await;
    }
}

/// The first byte of an op, while the peer must still authenticate.
async fn op_start(core: &mut Core, role: &mut Role, first: u8) -> Result<(), CloseReason> {
    match role {
        Role::Client(client) => client.on_op_start(core, first).await,
        // A route's CONNECT is checked when it is parsed whole.
        Role::Route(_) => Ok(()),
    }
}

async fn dispatch(core: &mut Core, role: &mut Role, op: Op<'_>) -> Result<(), CloseReason> {
    match role {
        Role::Client(client) => client.on_op(core, op).await,
        // Routes are parsed by the route parser (read_loop), never here.
        Role::Route(_) => Ok(()),
    }
}

/// Moves the session onto the server's newest snapshot, if there is one, and
/// lets the role apply what changed for it.
async fn adopt_snapshot(core: &mut Core, role: &mut Role) -> Result<(), CloseReason> {
    let Some(old) = core.take_new_snapshot() else { return Ok(()) };
    let r = match role {
        Role::Client(client) => client.on_new_snapshot(core, &old).await,
        Role::Route(route) => route.on_new_snapshot(core, &old).await,
    };
    core.server.adoptions.adopted(&core.conn, core.snap.generation);
    r
}
