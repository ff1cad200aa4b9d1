//! Getting route connections: the route listener, and dialing routes with
//! nats-server's cadence and log lines.
//!
//! - Configured (explicit) routes are dialed until they answer, every
//!   second (`connect_backoff`: doubling up to 30s); the first attempt's
//!   error is logged at ERR, later ones at DBG, and at ERR again every
//!   `connect_error_reports` attempts.
//! - Routes learned by gossip (implicit) get `connect_retries` + 1
//!   attempts, one second apart.
//! - A route that was up and dropped is dialed again after 1s plus up to
//!   100ms (explicit) or up to 100ms (implicit), each error at ERR every
//!   `reconnect_error_reports` attempts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, error};

use super::bounds::DialSlot;
use super::link::RouteType;
use super::urls::RouteUrl;
use crate::server::session;
use crate::server::state::ServerState;

/// nats-server's `DEFAULT_ROUTE_CONNECT`: the delay between attempts.
pub const ROUTE_CONNECT_DELAY: Duration = Duration::from_secs(1);
/// `routeConnectMaxDelay`: the cap with `connect_backoff`.
pub const ROUTE_CONNECT_MAX_DELAY: Duration = Duration::from_secs(30);
/// `DEFAULT_ROUTE_DIAL`: how long one dial may take.
pub const ROUTE_DIAL_TIMEOUT: Duration = Duration::from_secs(1);
/// `DEFAULT_ROUTE_RECONNECT`: the extra delay before redialing a configured route.
pub const ROUTE_RECONNECT_DELAY: Duration = Duration::from_secs(1);

const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Accepts route connections until the server stops.
pub async fn accept_routes(server: Arc<ServerState>, listener: TcpListener) {
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        tokio::select! {
            _ = server.shutting_down() => break,
            r = listener.accept() => match r {
                Ok((stream, addr)) => {
                    backoff = ACCEPT_BACKOFF_MIN;
                    let _ = stream.set_nodelay(true);
                    let addr = crate::server::bind::canonical(addr);
                    server.spawn(session::route::serve_accepted(server.clone(), stream, addr));
                }
                Err(e) => {
                    error!("Temporary Route Accept Error ({e}), sleeping {}ms", backoff.as_millis());
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                }
            }
        }
    }
    debug!("Route accept loop exiting..");
}

/// Starts dialing `url` on its own task.
pub fn spawn_connect(server: &Arc<ServerState>, url: RouteUrl, route_type: RouteType, first: bool, gossip_mode: u8) {
    let s = server.clone();
    server.spawn(connect_to_route(s, url, route_type, first, gossip_mode, Duration::ZERO, None));
}

/// Dials a route that dropped again, after nats-server's delay.
/// [`spawn_connect`] for a server a peer told of, holding its gossip slot
/// until the dial is over (connected, or given up).
pub fn spawn_gossip_connect(server: &Arc<ServerState>, url: RouteUrl, gossip_mode: u8, slot: DialSlot) {
    let s = server.clone();
    let dial = connect_to_route(s, url, RouteType::Implicit, true, gossip_mode, Duration::ZERO, Some(slot));
    server.spawn(dial);
}

pub fn spawn_reconnect(server: &Arc<ServerState>, url: RouteUrl, route_type: RouteType) {
    let mut delay = Duration::from_millis(rand::random_range(0..100));
    if route_type == RouteType::Explicit {
        delay += ROUTE_RECONNECT_DELAY;
    }
    let s = server.clone();
    server.spawn(connect_to_route(s, url, route_type, false, 0, delay, None));
}

/// nats-server's `connectToRoute`: dial until connected (explicit) or out
/// of attempts (implicit), then serve the route on this task.
async fn connect_to_route(
    server: Arc<ServerState>,
    url: RouteUrl,
    route_type: RouteType,
    first_connect: bool,
    gossip_mode: u8,
    initial_delay: Duration,
    slot: Option<DialSlot>,
) {
    if !initial_delay.is_zero() && !pause(&server, initial_delay).await {
        return;
    }
    let mut delay = ROUTE_CONNECT_DELAY;
    let mut attempts: u64 = 0;
    loop {
        if server.is_shutting_down() {
            return;
        }
        let snap = server.snapshot();
        if route_type == RouteType::Explicit && !super::route_still_valid(&snap, &url) {
            debug!(
                "Not attempting to connect to explicit route {:?}, no longer part of configured routes",
                url.redacted()
            );
            return;
        }
        let host_port = url.host_port();
        let dialed = match resolve(&url).await {
            Ok(addr) => {
                debug!("Trying to connect to route on {host_port} ({addr})");
                match tokio::time::timeout(ROUTE_DIAL_TIMEOUT, TcpStream::connect(addr)).await {
                    Ok(Ok(stream)) => Ok(stream),
                    Ok(Err(e)) => Err(dial_error(&addr.to_string(), &e)),
                    Err(_) => Err(format!("dial tcp {addr}: i/o timeout")),
                }
            }
            Err(e) => Err(e),
        };
        match dialed {
            Ok(stream) => {
                let snap = server.snapshot();
                if route_type == RouteType::Explicit && !super::route_still_valid(&snap, &url) {
                    return;
                }
                let _ = stream.set_nodelay(true);
                // The dial is over: its gossip slot goes to the next one.
                drop(slot);
                session::route::serve_solicited(server, stream, url, route_type, gossip_mode).await;
                return;
            }
            Err(text) => {
                attempts += 1;
                if should_report(&snap.opts, first_connect, attempts) {
                    error!("Error trying to connect to route (attempt {attempts}): {text}");
                } else {
                    debug!("Error trying to connect to route (attempt {attempts}): {text}");
                }
                let cluster = snap.opts.cluster.as_ref();
                if route_type != RouteType::Explicit {
                    let retries = cluster.map_or(0, |c| c.connect_retries);
                    if retries <= 0 || attempts > retries as u64 {
                        return;
                    }
                }
                if !pause(&server, delay).await {
                    return;
                }
                if cluster.is_some_and(|c| c.connect_backoff) {
                    delay = (delay * 2).min(ROUTE_CONNECT_MAX_DELAY);
                }
            }
        }
    }
}

/// Sleeps unless the server stops first; false if it did.
async fn pause(server: &ServerState, d: Duration) -> bool {
    tokio::select! {
        _ = server.shutting_down() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

/// One address of the route's host, picked at random as nats-server does.
async fn resolve(url: &RouteUrl) -> Result<SocketAddr, String> {
    let host_port = url.host_port();
    let addrs: Vec<SocketAddr> = match tokio::net::lookup_host(&host_port).await {
        Ok(it) => it.collect(),
        Err(e) => return Err(format!("dial tcp: lookup {}: {}", url.host, go_io_text(&e))),
    };
    match addrs.len() {
        0 => Err(format!("dial tcp: lookup {}: no such host", url.host)),
        n => Ok(addrs[rand::random_range(0..n)]),
    }
}

/// Go's text for a failed dial: `dial tcp 127.0.0.1:1: connect: connection refused`.
fn dial_error(addr: &str, e: &std::io::Error) -> String {
    format!("dial tcp {addr}: connect: {}", go_io_text(e))
}

fn go_io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::TimedOut => "i/o timeout".into(),
        std::io::ErrorKind::HostUnreachable => "no route to host".into(),
        std::io::ErrorKind::NetworkUnreachable => "network is unreachable".into(),
        _ => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or_default().to_string();
            let mut chars = text.chars();
            chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
        }
    }
}

/// nats-server's `shouldReportConnectErr`.
fn should_report(opts: &crate::options::Options, first_connect: bool, attempts: u64) -> bool {
    let every = if first_connect { opts.connect_error_reports } else { opts.reconnect_error_reports };
    attempts == 1 || (every > 0 && attempts.is_multiple_of(every))
}
