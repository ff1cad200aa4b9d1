//! One session lifecycle for every role: accept → handshake → serve →
//! retire. The accept and handshake are per role (`client/accept.rs`,
//! `route/accept.rs`, `route/solicit.rs`); each hands a [`Session`] to
//! [`run_session`], which starts the writer, runs the read loop with the
//! role, and closes; the session's [`Retirement`] guard unlists the
//! connection however it ends, a panic included.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWrite;

use super::core::Core;
use super::read_loop::read_loop;
use super::retire::Retirement;
use super::role::Role;
use super::{Phase, Transport};
use crate::server::conn::{ConnKind, Connection};
use crate::server::errors::CloseReason;
use crate::server::outbound::WriteEnd;
use crate::server::route::timing;
use crate::server::snapshot::Snapshot;
use crate::server::state::ServerState;

/// A connection past its handshake, with what its session starts from.
pub(crate) struct Session<R: Role> {
    pub server: Arc<ServerState>,
    pub conn: Arc<Connection>,
    pub snap: Arc<Snapshot>,
    pub role: R,
    pub retirement: Retirement,
}

/// Serves a connection past its handshake: the writer task, the role's
/// opening, the read loop, and the close. `pending` are bytes already read
/// from the peer (a plain client on a TLS port with `allow_non_tls`),
/// parsed first.
pub(crate) async fn run_session<R: Role, T: Transport>(mut session: Session<R>, stream: T, pending: Vec<u8>) {
    // The role and the guard are used where they are, in `session`: moved
    // out into locals, they would be stored twice in this future, which
    // every connection holds for its life. The guard is declared before
    // the core: on a panic the core is dropped first (its fan-out wakes
    // the subscribers it queued for), then the guard retires.
    let conn = session.conn.clone();
    let (rd, wr) = stream.split();
    let writer = session.server.spawn(run_writer(session.server.clone(), conn.clone(), wr));
    session.server.started(&conn, session.snap.generation);
    if session.server.generation() != session.snap.generation {
        // A reload installed since the snapshot was taken, maybe before the
        // connection was registered and could be woken: adopt it at once.
        conn.events.notify_one();
    }
    let mut core = Core::new(session.server.clone(), conn.clone(), session.snap.clone());
    session.role.opened(&mut core);
    let reason = read_loop(&mut core, &mut session.role, rd, pending).await;
    core.phase = Phase::Closing(reason);
    conn.close(reason);
    // Counters settled first: retiring moves them into the server's (or
    // the cluster's) totals and the closed-connection ring, with the
    // subscriptions still listed.
    core.finish_batch();
    drop(session.retirement);
    let _ = writer.await;
    let reason = conn.close_reason().unwrap_or(reason);
    session.role.closed(&core, reason);
}

/// The writer task: drains the outbound buffer, and turns how it ended into
/// the connection's close reason.
async fn run_writer<W: AsyncWrite + Unpin>(server: Arc<ServerState>, conn: Arc<Connection>, wr: W) {
    // Asked before every write, so a reload applies to live connections;
    // worked out again only when the snapshot's generation moved (one load
    // of a counter that reloads write), not from a snapshot `Arc` cloned
    // per write, two read-modify-writes on a line every writer shares.
    // Both atomics are this task's own.
    let seen = AtomicU64::new(u64::MAX);
    let nanos = AtomicU64::new(0);
    let deadline = || {
        let generation = server.generation();
        if seen.load(Ordering::Relaxed) != generation {
            let snap = server.snapshot();
            let d = match conn.kind {
                ConnKind::Client => snap.opts.write_deadline,
                ConnKind::Route => timing::write_deadline(&snap),
            };
            nanos.store(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
            seen.store(snap.generation, Ordering::Relaxed);
        }
        Duration::from_nanos(nanos.load(Ordering::Relaxed))
    };
    let end = conn.outbound.write_loop(wr, deadline).await;
    match end {
        WriteEnd::Closed => {}
        WriteEnd::Error => conn.close_now(CloseReason::WriteError),
        WriteEnd::Deadline { bytes } => conn.slow_consumer_write_deadline(deadline(), bytes),
    }
}
