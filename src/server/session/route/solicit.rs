//! A route this server dialed: tracked, TLS first when `cluster.tls` is
//! set (the peer's certificate checked against the route's host), then the
//! session with the route role, which opens with this server's CONNECT.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tracing::error;

use super::accept::{give_up, new_route_conn, note_tls};
use super::run_route;
use crate::server::errors::CloseReason;
use crate::server::route::bounds;
use crate::server::route::info::RouteConnect;
use crate::server::route::link::{RouteLink, RouteType};
use crate::server::route::urls::RouteUrl;
use crate::server::session::retire::Retirement;
use crate::server::snapshot::Snapshot;
use crate::server::state::ServerState;

/// Serves a route this server dialed to `url`.
pub async fn serve_solicited(
    server: Arc<ServerState>,
    stream: TcpStream,
    url: RouteUrl,
    route_type: RouteType,
    gossip_mode: u8,
) {
    let Some(cluster) = server.cluster().cloned() else { return };
    let snap = server.snapshot();
    let addr = stream.peer_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let conn = new_route_conn(&server, addr);
    let link = RouteLink::new(conn.clone(), Some(url.clone()), route_type, gossip_mode);
    if !cluster.track(&link) {
        error!(
            "{} - Route to {} not made: {} route connections already",
            conn.log_prefix,
            url.redacted(),
            bounds::MAX_ROUTE_CONNECTIONS
        );
        return;
    }
    let retirement = Retirement::route(server.clone(), link.clone());
    let Some(tls) = snap.route_tls.clone() else {
        return run_route(server, link, retirement, snap, stream, true).await;
    };
    let local = stream.local_addr().ok();
    let name = tls_server_name(&snap, &url);
    match crate::tls::route::connect(stream, &tls, name).await {
        Ok((stream, negotiated)) => {
            note_tls(&conn, &negotiated);
            run_route(server, link, retirement, snap, Box::new(stream), true).await
        }
        Err(e) => {
            error!("{} - TLS route handshake error: {}", conn.log_prefix, e.go_text(local, Some(addr)));
            give_up(&server, &link, retirement, CloseReason::TlsHandshakeError);
        }
    }
}

/// The name a dialed route's certificate must carry: the URL's host, or
/// for an address, the first host name among the configured routes (as
/// nats-server does for routes learned by gossip, which come as addresses).
fn tls_server_name(snap: &Snapshot, url: &RouteUrl) -> ServerName<'static> {
    let host = if url.host.parse::<std::net::IpAddr>().is_ok() {
        snap.opts
            .cluster
            .as_ref()
            .and_then(|c| {
                c.routes
                    .iter()
                    .filter_map(|r| RouteUrl::parse(r).ok())
                    .find(|u| u.host.parse::<std::net::IpAddr>().is_err())
                    .map(|u| u.host)
            })
            .unwrap_or_else(|| url.host.clone())
    } else {
        url.host.clone()
    };
    ServerName::try_from(host).unwrap_or_else(|_| ServerName::try_from("localhost").expect("a valid name"))
}

/// The CONNECT for a route this server dialed, with the URL's credentials.
pub(super) fn route_connect_line(server: &ServerState, snap: &Snapshot, link: &RouteLink) -> Vec<u8> {
    let url = link.state().url.clone();
    let cluster = server.cluster();
    let name = cluster.map(|c| c.name()).unwrap_or_default();
    let connect = RouteConnect {
        echo: true,
        verbose: false,
        pedantic: false,
        user: url.as_ref().and_then(|u| u.user.as_deref()),
        pass: url.as_ref().and_then(|u| u.pass.as_ref()),
        tls_required: snap.route_tls.is_some(),
        headers: !snap.opts.no_header_support,
        name: server.id(),
        cluster: &name,
        cluster_dynamic: cluster.is_some_and(|c| c.is_dynamic()),
    };
    connect.to_line()
}
