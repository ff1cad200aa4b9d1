//! Accepting a route another server opened: tracked unless the server has
//! all the route connections it takes, TLS first when `cluster.tls` is set,
//! then the session with the route role. Also what opening a route takes
//! on either side: its connection, its TLS record, giving up on it.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tracing::{debug, error, info};

use super::run_route;
use crate::server::conn::{ConnKind, Connection, TlsInfo};
use crate::server::errors::CloseReason;
use crate::server::route::link::{RouteLink, RouteType};
use crate::server::route::{self, bounds};
use crate::server::session::retire::Retirement;
use crate::server::session::Transport;
use crate::server::state::ServerState;

/// Serves a route connection another server opened.
pub async fn serve_accepted(server: Arc<ServerState>, stream: TcpStream, addr: SocketAddr) {
    let snap = server.snapshot();
    let Some((link, retirement)) = track(&server, addr) else { return };
    let conn = link.conn.clone();
    let Some(tls) = snap.route_tls.clone() else {
        return run_route(server, link, retirement, snap, stream, false).await;
    };
    // Route TLS: the handshake comes first, before INFO.
    let local = stream.local_addr().ok();
    match crate::tls::accept(stream, &tls.server, &[]).await {
        Ok(accepted) => {
            note_tls(&conn, &accepted.negotiated);
            run_route(server, link, retirement, snap, Box::new(accepted.stream), false).await
        }
        Err(e) => {
            error!("{} - TLS route handshake error: {}", conn.log_prefix, e.go_text(local, Some(addr)));
            give_up(&server, &link, retirement, CloseReason::TlsHandshakeError);
        }
    }
}

/// Serves a route connection another server opened over any stream,
/// without TLS: the route role driven directly (tests, fuzzing).
pub async fn serve_accepted_stream<T: Transport>(server: Arc<ServerState>, stream: T, addr: SocketAddr) {
    let snap = server.snapshot();
    let Some((link, retirement)) = track(&server, addr) else { return };
    run_route(server, link, retirement, snap, stream, false).await
}

/// A new accepted route connection, tracked (with its retirement), unless
/// the server has all the route connections it takes.
fn track(server: &Arc<ServerState>, addr: SocketAddr) -> Option<(Arc<RouteLink>, Retirement)> {
    let cluster = server.cluster().cloned()?;
    let conn = new_route_conn(server, addr);
    let link = RouteLink::new(conn.clone(), None, RouteType::Implicit, route::GOSSIP_DEFAULT);
    if !cluster.track(&link) {
        error!(
            "{} - Route connection refused: {} route connections already",
            conn.log_prefix,
            bounds::MAX_ROUTE_CONNECTIONS
        );
        return None;
    }
    Some((link.clone(), Retirement::route(server.clone(), link)))
}

pub(super) fn new_route_conn(server: &Arc<ServerState>, addr: SocketAddr) -> Arc<Connection> {
    let cid = server.next_cid();
    Arc::new(Connection::new(cid, ConnKind::Route, addr, server.global().clone(), server.stats().clone()))
}

pub(super) fn note_tls(conn: &Connection, negotiated: &crate::tls::Negotiated) {
    debug!("{} - TLS handshake complete", conn.log_prefix);
    debug!("{} - {}", conn.log_prefix, negotiated.log_line());
    conn.meta.lock().unwrap_or_else(|e| e.into_inner()).tls = Some(TlsInfo {
        version: negotiated.version.clone(),
        cipher_suite: negotiated.cipher_suite.clone(),
        tls_first: true,
    });
}

/// A route that never got to its protocol (TLS failed): closed, maybe redialed.
pub(super) fn give_up(server: &Arc<ServerState>, link: &Arc<RouteLink>, retirement: Retirement, reason: CloseReason) {
    link.conn.close_now(reason);
    info!("{} - Router connection closed: {}", link.conn.log_prefix, reason.as_str());
    drop(retirement);
    route::reconnect_if_due(server, link);
}
