//! Clustering: routes to the other servers of a cluster, spoken the way
//! nats-server 2.15 speaks them, so rnats and nats-server share one mesh.
//!
//! - [`start`] binds the route listener and dials the configured routes
//!   ([`dial`]); each connection is a session with the route role
//!   (`session::route`), parsed by [`proto`].
//! - A route is *registered* when the peer's INFO arrives (never on
//!   CONNECT: a pooling nats-server opens a second connection for `$SYS`
//!   and refuses it itself once it reads our INFO). The first connection to
//!   a server wins; a later one is a duplicate and is closed.
//! - On registration the newcomer's INFO is forwarded to the other routes
//!   (gossip), so every server dials every other and the cluster becomes a
//!   full mesh; its client URLs join `connect_urls` and clients that take
//!   asynchronous INFO are told.
//! - Interest crosses routes as `RS+`/`RS-` (kept per account, see
//!   [`crate::server::account`]); messages as `RMSG`/`HMSG`, one per route
//!   per message, one hop only (see [`crate::server::deliver`]).
//!
//! rnats keeps one connection per server (a "no pool" route in nats-server
//! terms), uncompressed, and says so in its INFO.

pub mod bounds;
pub mod cluster;
pub mod dial;
pub mod info;
pub mod link;
pub mod proto;
pub mod timing;
pub mod urls;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tracing::{debug, error, info, warn};

use super::errors::CloseReason;
use super::snapshot::Snapshot;
use super::state::ServerState;
use crate::options::{Options, Port, COMPAT_VERSION};
use cluster::Cluster;
use info::{PeerInfo, RouteInfo, ROUTE_PROTO};
use link::{RouteLink, RouteType};
use urls::{join_host_port, RouteUrl};

/// Gossip modes of nats-server's route INFO (`gossip_mode`).
pub const GOSSIP_DEFAULT: u8 = 0;
pub const GOSSIP_DISABLED: u8 = 1;
pub const GOSSIP_OVERRIDE: u8 = 2;

fn cluster_of(server: &ServerState) -> Option<&Arc<Cluster>> {
    server.cluster()
}

/// The client URLs of this server itself, as nats-server's
/// `getClientConnectURLs`: `client_advertise`, else the listen host and
/// port, with the wildcard expanded to the host's global addresses.
pub fn own_client_urls(opts: &Options, client_port: u16) -> Vec<String> {
    crate::server::interfaces::connect_urls(opts.client_advertise.as_deref(), &opts.host, client_port)
}

/// The URLs websocket clients of the cluster are told about: `advertise`,
/// else the listen host (resolved as the client URLs are).
pub fn own_websocket_urls(w: &crate::options::Websocket, port: u16) -> Vec<String> {
    crate::server::interfaces::connect_urls(w.advertise.as_deref(), &w.host, port)
}

/// The INFO this server sends on routes.
pub fn route_info(server: &ServerState, snap: &Snapshot, ldm: bool) -> RouteInfo {
    let opts = &snap.opts;
    let c = opts.cluster.as_ref();
    let cluster = cluster_of(server);
    let port = cluster.and_then(|c| c.listen_addr()).map_or(0, |a| a.port());
    let mut host = c.map_or_else(String::new, |c| c.host.clone());
    let (mut port, mut ip) = (port, String::new());
    if let Some(adv) = c.and_then(|c| c.advertise.as_deref()).filter(|a| !a.is_empty()) {
        let (h, p) = urls::split_host_port(adv).unwrap_or_else(|| (adv.to_string(), port));
        ip = format!("nats-route://{}/", join_host_port(&h, p));
        host = h;
        port = p;
    }
    let mut info = RouteInfo {
        server_id: server.id().to_string(),
        server_name: server.name().to_string(),
        version: COMPAT_VERSION.to_string(),
        proto: ROUTE_PROTO,
        go: format!("rnats {}", env!("CARGO_PKG_VERSION")),
        host,
        port,
        headers: !opts.no_header_support,
        auth_required: c.and_then(|c| c.authorization.as_ref()).is_some_and(|a| a.user.is_some()),
        tls_required: snap.route_tls.is_some(),
        tls_verify: snap.route_tls.is_some(),
        max_payload: opts.max_payload,
        ip,
        cluster: cluster.map(|c| c.name()).unwrap_or_default(),
        cluster_dynamic: cluster.is_some_and(|c| c.is_dynamic()),
        connect_urls: Vec::new(),
        ldm,
        ..RouteInfo::default()
    };
    if !c.is_some_and(|c| c.no_advertise) {
        info.connect_urls = cluster.map(|c| c.own_connect_urls()).unwrap_or_default();
        info.ws_connect_urls = cluster.map(|c| c.ws_urls().own().to_vec()).unwrap_or_default();
    }
    info.set_permissions(opts.route_permissions().as_ref());
    info
}

/// Binds the route listener, logs as nats-server does, and starts accepting
/// routes and dialing the configured ones.
pub async fn start(server: &Arc<ServerState>) -> std::io::Result<()> {
    let Some(cluster) = cluster_of(server).cloned() else { return Ok(()) };
    let snap = server.snapshot();
    let Some(c) = snap.opts.cluster.clone() else { return Ok(()) };
    server.accounts().track_interest(snap.route_perms.clone());
    server.accounts().set_import(snap.route_perms.clone());
    {
        let own = own_client_urls(&snap.opts, server.client_addr().port());
        cluster.urls().set_own(own);
        if let (Some(w), Some(addr)) = (&snap.opts.websocket, server.ws_addr()) {
            cluster.ws_urls().set_own(own_websocket_urls(w, addr.port()));
        }
    }
    info!("Cluster name is {}", cluster.name());
    if cluster.is_dynamic() {
        warn!("Cluster name was dynamically generated, consider setting one");
    }
    let port = c.port.bind_port();
    let listener = crate::server::bind::tcp_listener(&c.host, port).await.map_err(|e| {
        let shown = match c.port {
            Port::Fixed(p) => p.to_string(),
            Port::Random => "-1".into(),
        };
        std::io::Error::new(e.kind(), format!("Error listening on router port: {shown} - {e}"))
    })?;
    let addr = listener.local_addr()?;
    cluster.set_listen_addr(addr);
    info!("Listening for route connections on {}", join_host_port(&c.host, addr.port()));
    if let Some(tls) = &c.tls {
        if tls.insecure {
            warn!("TLS certificate chain and hostname of solicited routes will not be verified. DO NOT USE IN PRODUCTION!");
        }
    }
    if let Some(mode) = c.compression.as_deref().filter(|m| !matches!(*m, "off" | "accept" | "disabled" | "false")) {
        warn!("Route compression {mode:?} is not supported by rnats: routes stay uncompressed");
    }
    server.spawn(dial::accept_routes(server.clone(), listener));
    for text in &c.routes {
        match RouteUrl::parse(text) {
            Ok(url) => dial::spawn_connect(server, url, RouteType::Explicit, true, GOSSIP_DEFAULT),
            Err(e) => error!("Error parsing route URL: {e}"),
        }
    }
    Ok(())
}

/// Whether `url` is still one of the configured routes.
pub fn route_still_valid(snap: &Snapshot, url: &RouteUrl) -> bool {
    let Some(c) = &snap.opts.cluster else { return false };
    c.routes.iter().filter_map(|r| RouteUrl::parse(r).ok()).any(|r| r.same(url))
}

/// nats-server's `hasThisRouteConfigured`: the peer's `host:port` (or the
/// host of its `ip` with that port) is a configured route.
fn has_route_configured(snap: &Snapshot, info: &PeerInfo) -> bool {
    let Some(c) = &snap.opts.cluster else { return false };
    let one = join_host_port(&info.host, info.port).to_ascii_lowercase();
    let two = RouteUrl::parse(&info.ip).ok().map(|u| join_host_port(&u.host, info.port).to_ascii_lowercase());
    c.routes
        .iter()
        .filter_map(|r| RouteUrl::parse(r).ok())
        .map(|r| r.host_port().to_ascii_lowercase())
        .any(|hp| hp == one || two.as_deref() == Some(hp.as_str()))
}

/// Outcome of registering a route.
#[derive(Debug, PartialEq, Eq)]
pub enum Registration {
    Added,
    /// Another connection to that server registered first: close this one.
    Duplicate,
    /// The server is stopping.
    Refused,
}

/// Registers `link` as the route to the server `info` describes (its first
/// INFO): gossip to the other routes, client URLs, the local interest.
/// `raw` is the INFO as received, with `ip` filled in, for the gossip.
pub fn register(
    server: &Arc<ServerState>,
    link: &Arc<RouteLink>,
    info: &PeerInfo,
    raw: &serde_json::Map<String, serde_json::Value>,
) -> Registration {
    let Some(cluster) = cluster_of(server) else { return Registration::Refused };
    let snap = server.snapshot();
    let mut reg = cluster.registry();
    if server.is_shutting_down() {
        return Registration::Refused;
    }
    if let Some(existing) = reg.by_id.get(&info.server_id).cloned() {
        drop(reg);
        handle_duplicate(&existing, link);
        return Registration::Duplicate;
    }
    reg.by_id.insert(info.server_id.clone(), link.clone());
    let newcomer = {
        let mut st = link.state();
        st.registered = true;
        st.connect_urls = bounded_urls(link, "client", info.connect_urls.clone().unwrap_or_default());
        st.ws_connect_urls = bounded_urls(link, "websocket", info.ws_connect_urls.clone().unwrap_or_default());
        st.clone()
    };
    if reg.by_id.len() > 1 {
        let others: Vec<Arc<RouteLink>> = reg.by_id.values().filter(|l| !Arc::ptr_eq(l, link)).cloned().collect();
        forward_new_route_info(&others, &newcomer, info, raw);
    }
    drop(reg);
    let no_advertise = snap.opts.cluster.as_ref().is_some_and(|c| c.no_advertise);
    if !no_advertise && cluster.update_urls(&newcomer.connect_urls, &newcomer.ws_connect_urls, true) {
        push_client_info(server);
    }
    server.accounts().add_route(link.conn.clone());
    debug!("{} - Sent local subscriptions to route", link.conn.log_prefix);
    Registration::Added
}

/// nats-server's `handleDuplicateRoute`: the connection that stays takes
/// over the duty to redial (so a configured route is not forgotten), and
/// the duplicate is closed without redialing.
/// A peer's advertised URLs, kept up to [`bounds::MAX_PEER_CONNECT_URLS`]:
/// the peer decides how many it sends.
fn bounded_urls(link: &RouteLink, what: &str, mut urls: Vec<String>) -> Vec<String> {
    if urls.len() > bounds::MAX_PEER_CONNECT_URLS {
        warn!(
            "{} - Route sent {} {what} URLs; keeping the first {}",
            link.conn.log_prefix,
            urls.len(),
            bounds::MAX_PEER_CONNECT_URLS
        );
        urls.truncate(bounds::MAX_PEER_CONNECT_URLS);
    }
    urls
}

fn handle_duplicate(existing: &Arc<RouteLink>, dup: &Arc<RouteLink>) {
    let (did_solicit, url, route_type) = {
        let mut d = dup.state();
        d.no_reconnect = true;
        (d.did_solicit, d.url.clone(), d.route_type)
    };
    let mut e = existing.state();
    if did_solicit && !e.did_solicit {
        e.did_solicit = true;
        e.url = url;
    }
    if route_type == RouteType::Explicit {
        e.route_type = RouteType::Explicit;
    }
    e.retry = true;
}

/// nats-server's `forwardNewRouteInfoToKnownServers`: tells the other
/// routes about the newcomer so they dial it, with the gossip mode the
/// reference puts in each copy.
fn forward_new_route_info(
    others: &[Arc<RouteLink>],
    newcomer: &link::LinkState,
    info: &PeerInfo,
    raw: &serde_json::Map<String, serde_json::Value>,
) {
    let from_gossip = newcomer.did_solicit && newcomer.route_type == RouteType::Implicit;
    if (from_gossip && newcomer.gossip_mode != GOSSIP_OVERRIDE) || info.gossip_mode == GOSSIP_DISABLED {
        return;
    }
    let mut json = raw.clone();
    json.remove("nonce");
    let line_for = |mode: u8| {
        let mut j = json.clone();
        if mode == GOSSIP_DEFAULT {
            j.remove("gossip_mode");
        } else {
            j.insert("gossip_mode".into(), mode.into());
        }
        let mut line = b"INFO ".to_vec();
        serde_json::to_writer(&mut line, &j).unwrap_or_default();
        line.extend_from_slice(b"\r\n");
        line
    };
    for r in others {
        let r_type = r.state().route_type;
        let mode = if (!newcomer.did_solicit && r_type == RouteType::Explicit)
            || (newcomer.did_solicit && newcomer.route_type == RouteType::Explicit)
        {
            GOSSIP_OVERRIDE
        } else if !newcomer.did_solicit {
            GOSSIP_DISABLED
        } else {
            GOSSIP_DEFAULT
        };
        let line = line_for(mode);
        crate::server::session::trace::trace_out_if_enabled(&r.conn.log_prefix, &line);
        if r.conn.queue_proto(&line) {
            r.conn.outbound.wake_writer();
        }
    }
}

/// A peer told us about another server (gossip): dial it unless it is us,
/// already connected, or configured (dialed anyway).
pub fn process_implicit_route(server: &Arc<ServerState>, info: &PeerInfo) {
    let Some(cluster) = cluster_of(server) else { return };
    if info.server_id == server.id() || cluster.is_connected_to(&info.server_id) {
        return;
    }
    let snap = server.snapshot();
    if has_route_configured(&snap, info) {
        return;
    }
    if !info.route_account.is_empty() {
        // A pinned-account route: rnats does not pool.
        return;
    }
    let url = match RouteUrl::parse(&info.ip) {
        Ok(u) => u,
        Err(e) => {
            error!("Error parsing URL from INFO: {e}");
            return;
        }
    };
    let url = if info.auth_required {
        let auth = snap.opts.cluster.as_ref().and_then(|c| c.authorization.as_ref());
        url.with_credentials(auth.and_then(|a| a.user.clone()), auth.and_then(|a| a.password.clone()))
    } else {
        url
    };
    // A peer telling of server after server cannot make this one dial
    // them all at once.
    let Some(slot) = bounds::DialSlot::take(&cluster.gossip_dials) else {
        warn!(
            "Not connecting to gossiped route {:?}: {} gossip dials already in progress",
            url.redacted(),
            bounds::MAX_GOSSIP_DIALS
        );
        return;
    };
    dial::spawn_gossip_connect(server, url, info.gossip_mode, slot);
}

/// A peer announced lame duck mode: its client URLs are no longer offered.
pub fn peer_in_lame_duck(server: &Arc<ServerState>, link: &Arc<RouteLink>) {
    let Some(cluster) = cluster_of(server) else { return };
    let (urls, ws_urls) = {
        let mut st = link.state();
        (std::mem::take(&mut st.connect_urls), std::mem::take(&mut st.ws_connect_urls))
    };
    let no_advertise = server.snapshot().opts.cluster.as_ref().is_some_and(|c| c.no_advertise);
    if !no_advertise && cluster.update_urls(&urls, &ws_urls, false) {
        push_client_info(server);
    }
}

/// A dynamic cluster name was replaced: the other routes were made under
/// the old name and must be made again (nats-server's `removeAllRoutesExcept`).
pub fn remove_all_routes_except(server: &Arc<ServerState>, remote_id: &str) {
    let Some(cluster) = cluster_of(server) else { return };
    for l in cluster.links() {
        let id = l.state().remote_id.clone();
        if id != remote_id {
            l.conn.close(CloseReason::ClusterNameConflict);
        }
    }
}

/// A route connection ended: unregister it and withdraw its client URLs
/// (then [`reconnect_if_due`]).
pub fn unregister(server: &Arc<ServerState>, link: &Arc<RouteLink>) {
    let Some(cluster) = cluster_of(server) else { return };
    let (registered_here, (urls, ws_urls)) = {
        let mut reg = cluster.registry();
        if reg.all.remove(&link.conn.cid).is_some() {
            cluster.add_closed_traffic(link.conn.traffic());
        }
        // Found by the link itself, not by the id it says it has now: a
        // peer could have made it change since (found by fuzzing).
        let id = reg.by_id.iter().find(|(_, l)| Arc::ptr_eq(l, link)).map(|(id, _)| id.clone());
        let here = id.is_some();
        if let Some(id) = id {
            reg.by_id.remove(&id);
        }
        let urls = if here {
            let mut st = link.state();
            (std::mem::take(&mut st.connect_urls), std::mem::take(&mut st.ws_connect_urls))
        } else {
            Default::default()
        };
        (here, urls)
    };
    if registered_here {
        server.accounts().remove_route(&*link.conn);
        let no_advertise = server.snapshot().opts.cluster.as_ref().is_some_and(|c| c.no_advertise);
        if !no_advertise && cluster.update_urls(&urls, &ws_urls, false) {
            push_client_info(server);
        }
    }
}

/// nats-server's `client.reconnect()` for routes: a route this server
/// dialed (or took over from a duplicate) is dialed again, unless the
/// server is already connected to that peer, or it was itself.
pub fn reconnect_if_due(server: &Arc<ServerState>, link: &Arc<RouteLink>) {
    let Some(cluster) = cluster_of(server) else { return };
    let st = link.state().clone();
    if st.no_reconnect || server.is_shutting_down() {
        return;
    }
    let retry_implicit = st.retry || (st.did_solicit && st.route_type == RouteType::Implicit);
    if !(st.did_solicit || retry_implicit) {
        return;
    }
    let Some(url) = st.url.clone() else { return };
    if !st.remote_id.is_empty() {
        let kept = cluster.registry().by_id.get(&st.remote_id).cloned();
        if let Some(kept) = kept {
            if st.did_solicit {
                let mut k = kept.state();
                if !k.did_solicit || (st.route_type == RouteType::Explicit && k.route_type != RouteType::Explicit) {
                    k.url = Some(url.clone());
                }
                k.did_solicit = true;
                if st.route_type == RouteType::Explicit {
                    k.route_type = RouteType::Explicit;
                }
            }
            debug!("Not attempting reconnect for solicited route, already connected to {:?}", st.remote_id);
            return;
        }
    }
    if st.remote_id == server.id() {
        debug!("Detected route to self, ignoring {:?}", url.redacted());
        return;
    }
    if st.route_type != RouteType::Implicit || retry_implicit {
        debug!("Attempting reconnect for solicited route {:?}", url.redacted());
        dial::spawn_reconnect(server, url, st.route_type);
    }
}

/// Sends every client that takes asynchronous INFO a new INFO (the
/// cluster's client URLs changed).
pub fn push_client_info(server: &ServerState) {
    if server.is_shutting_down() {
        return;
    }
    let snap = server.snapshot();
    for conn in server.connections() {
        if !conn.info_updates.load(Ordering::Acquire) || conn.is_closing() {
            continue;
        }
        let mut info = server.client_info(&snap, &conn, None);
        if !conn.websocket {
            info.tls_required = snap.tls.is_some() && !snap.opts.allow_non_tls;
        }
        if conn.queue_proto(&info.to_line()) {
            conn.outbound.wake_writer();
        }
    }
}

/// Lame duck mode: tells every route (an INFO with `ldm:true`, so the
/// other servers stop offering this one to their clients). The clients of
/// this server are told by their sessions (`ClientState::on_lame_duck`).
pub fn announce_lame_duck(server: &ServerState) {
    let Some(cluster) = cluster_of(server) else { return };
    if !cluster.mark_lame_duck() {
        return;
    }
    let snap = server.snapshot();
    let line = route_info(server, &snap, true).to_line();
    for l in cluster.registered() {
        crate::server::session::trace::trace_out_if_enabled(&l.conn.log_prefix, &line);
        l.conn.queue_proto(&line);
        l.conn.outbound.wake_writer();
    }
}

/// A reload changed the cluster settings: routes removed from the
/// configuration are closed (and not dialed again), new ones dialed, a new
/// name taken, the announced interest filtered anew.
pub fn apply_reload(server: &Arc<ServerState>, old: &Options, new: &Options) {
    let Some(cluster) = cluster_of(server) else { return };
    let (Some(oc), Some(nc)) = (&old.cluster, &new.cluster) else { return };
    let parse = |list: &[String]| list.iter().filter_map(|r| RouteUrl::parse(r).ok()).collect::<Vec<_>>();
    let (old_routes, new_routes) = (parse(&oc.routes), parse(&nc.routes));
    let removed: Vec<&RouteUrl> = old_routes.iter().filter(|o| !new_routes.iter().any(|n| n.same(o))).collect();
    let added: Vec<&RouteUrl> = new_routes.iter().filter(|n| !old_routes.iter().any(|o| o.same(n))).collect();
    for gone in &removed {
        for l in cluster.links() {
            let matches = {
                let mut st = l.state();
                let hit = st.url.as_ref().is_some_and(|u| u.same(gone));
                if hit {
                    st.no_reconnect = true;
                }
                hit
            };
            if matches {
                l.conn.close(CloseReason::RouteRemoved);
                info!("Removed route {}", gone.redacted());
            }
        }
    }
    for url in added {
        dial::spawn_connect(server, url.clone(), RouteType::Explicit, true, GOSSIP_DEFAULT);
    }
    if let Some(name) = nc.name.as_deref().filter(|n| !n.is_empty()) {
        if name != cluster.name() || cluster.is_dynamic() {
            cluster.set_name(name, false);
        }
    }
    if old.client_advertise != new.client_advertise || old.host != new.host {
        let own = own_client_urls(new, server.client_addr().port());
        cluster.urls().set_own(own);
    }
    let snap = server.snapshot();
    server.accounts().set_import(snap.route_perms.clone());
    if old.route_permissions() != new.route_permissions() {
        // Interest was announced under the old permissions: make the routes
        // again so both sides exchange it under the new ones.
        for l in cluster.links() {
            l.conn.close(CloseReason::ClientClosed);
        }
    }
}
