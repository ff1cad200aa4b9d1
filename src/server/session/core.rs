//! The session state every role uses ([`Core`]): the connection, the
//! snapshot the session runs under, its parser limits, its fan-out batch,
//! where it is in its life, and its pings.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::trace;
use super::Phase;
use crate::server::auth::AuthIndex;
use crate::server::conn::{ConnKind, Connection};
use crate::server::deliver::Fanout;
use crate::server::errors::err_line;
use crate::server::proto::Limits;
use crate::server::route::proto::{ROUTE_MAX_CONTROL_LINE, ROUTE_MAX_PAYLOAD};
use crate::server::snapshot::Snapshot;
use crate::server::state::ServerState;

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
    pub(super) pings: Pings,
    /// When the peer last sent something.
    pub(super) last_read: Instant,
    /// When the peer's credentials expire (a user JWT's `exp`, or the end
    /// of its connect window): the session closes then.
    pub expiry: Option<Expiry>,
}

/// A deadline for the credentials, and what to log when it passes.
#[derive(Debug, Clone, PartialEq)]
pub struct Expiry {
    pub at: tokio::time::Instant,
    /// The debug line after the log prefix.
    pub line: String,
    /// The `-ERR` sent: the user's JWT or the account's expired.
    pub error: &'static str,
}

impl Core {
    pub(super) fn new(server: Arc<ServerState>, conn: Arc<Connection>, snap: Arc<Snapshot>) -> Core {
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
            pings: Pings::default(),
            last_read: Instant::now(),
            expiry: None,
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
    pub(super) async fn stall_for_slow_subscribers(&mut self) {
        if !self.fanout.stalls.is_empty() {
            let max_pending = self.snap.opts.max_pending;
            // Boxed: only a chunk that found a subscriber behind pays for
            // it, and the session's future stays small (see `footprint.rs`).
            Box::pin(self.fanout.stalls.wait(&self.conn, self.server.stats(), max_pending)).await;
        }
    }

    /// Who this client may be (websocket clients have their own index).
    pub fn auth(&self) -> &AuthIndex {
        self.snap.auth_for(self.conn.websocket)
    }

    /// Whether the peer must still authenticate before anything but CONNECT.
    pub(super) fn awaiting_auth(&self) -> bool {
        self.auth_required && self.phase != Phase::Authenticated
    }

    /// Adopts the server's newest snapshot, if there is a newer one. Returns
    /// the previous one when it changed.
    pub(super) fn take_new_snapshot(&mut self) -> Option<Arc<Snapshot>> {
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
}

/// The ping state of one session (see `ping.rs`).
#[derive(Debug, Default)]
pub(crate) struct Pings {
    /// Pings sent and not answered yet.
    pub(super) out: u32,
    pub(super) sent_at: Option<Instant>,
    /// A PING of ours was answered, so `meta.rtt` is a measurement (before
    /// that it is CONNECT's estimate).
    pub(super) rtt_measured: bool,
}

/// The parser's bounds for a connection of this kind. Routes get generous
/// ones: nats-server applies no limit to them at all.
fn limits_for(kind: ConnKind, snap: &Snapshot) -> Limits {
    match kind {
        ConnKind::Client => snap.client_limits(),
        ConnKind::Route => Limits {
            max_control_line: ROUTE_MAX_CONTROL_LINE.max(snap.opts.max_control_line),
            max_payload: ROUTE_MAX_PAYLOAD.max(snap.opts.max_payload),
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
