//! `/varz`: the server, its configuration and its totals, with nats-server
//! 2.15's field names, order, types and units (durations in nanoseconds,
//! timeouts in seconds, times in RFC 3339). Built fresh for every request
//! from the current configuration snapshot, so a reload shows at once.
//!
//! Totals are sums over connections (see [`crate::server::stats`]): live
//! client connections plus what closed ones counted, plus routes once
//! clustering reports them.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde::Serialize;

use super::gotime::{rfc3339_nano, uptime};
use super::process::Usage;
use crate::options::COMPAT_VERSION;
use crate::server::last_reload::LastReloadJson;
use crate::server::route::cluster::Cluster;
use crate::server::route::urls::RouteUrl;
use crate::server::state::ServerState;
use crate::server::stats::Traffic;

/// The reply (nats-server's `Varz`; fields it omits when empty and rnats
/// never has, such as `tags`, are left out).
#[derive(Debug, Serialize)]
pub struct Varz {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i32,
    pub go: String,
    pub host: String,
    pub port: u16,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ws_connect_urls: Vec<String>,
    pub max_connections: usize,
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub max_subscriptions: usize,
    /// Nanoseconds.
    pub ping_interval: u64,
    pub ping_max: u32,
    pub http_host: String,
    pub http_port: i64,
    pub http_base_path: String,
    pub https_port: i64,
    /// Seconds.
    pub auth_timeout: f64,
    pub max_control_line: usize,
    pub max_payload: usize,
    pub max_pending: usize,
    pub cluster: ClusterVarz,
    pub gateway: Empty,
    pub leaf: Empty,
    pub mqtt: Empty,
    pub websocket: WebsocketVarz,
    pub jetstream: Empty,
    /// Seconds.
    pub tls_timeout: f64,
    /// Nanoseconds.
    pub write_deadline: u64,
    pub start: String,
    pub now: String,
    pub uptime: String,
    pub mem: u64,
    pub cores: usize,
    pub gomaxprocs: usize,
    pub cpu: f64,
    pub connections: usize,
    pub total_connections: u64,
    pub routes: usize,
    pub remotes: usize,
    pub leafnodes: usize,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub in_client_msgs: u64,
    pub in_client_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub out_client_msgs: u64,
    pub out_client_bytes: u64,
    pub slow_consumers: u64,
    pub stale_connections: u64,
    pub stalled_clients: u64,
    pub subscriptions: u64,
    pub http_req_stats: BTreeMap<&'static str, u64>,
    pub config_load_time: String,
    pub config_digest: String,
    /// Operator mode: the operator JWTs, and their claims decoded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trusted_operators_jwt: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trusted_operators_claim: Vec<crate::server::jwt::OperatorClaims>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_account: Option<String>,
    /// Logins refused because their account is not in
    /// `resolver_pinned_accounts` (omitted when none, as nats-server).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub pinned_account_fails: u64,
    pub slow_consumer_stats: ByKind,
    pub stale_connection_stats: ByKind,
    pub disk_io_wait_stats: DiskIoWaitStats,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert_not_after: Option<String>,
    /// rnats only: how the last reload ended (Go clients ignore unknown
    /// keys), so a refused reload is visible where operators look.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload: Option<LastReloadJson>,
}

/// A feature's object that nats-server prints as `{}` when the feature is
/// off (Go never omits a struct value).
#[derive(Debug, Default, Serialize)]
pub struct Empty {}

/// `/varz` `cluster` (nats-server's `ClusterOptsVarz`); `{}` without one.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterVarz {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub addr: String,
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub cluster_port: u16,
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub auth_timeout: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub tls_timeout: f64,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    /// As configured; `-1` (no pooling) shows as `-1`, as in nats-server.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub pool_size: i64,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub write_deadline: u64,
}

/// `/varz` `websocket` (nats-server's `WebsocketOptsVarz`): the block as
/// configured; `{}` without one.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WebsocketVarz {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// As configured (`-1` for a random port), as nats-server reports it
    /// until its listener replaced it: the bound port.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub port: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub advertise: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub no_auth_user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub jwt_cookie: String,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub handshake_timeout: u64,
    /// Seconds.
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub auth_timeout: f64,
    #[serde(skip_serializing_if = "is_false")]
    pub no_tls: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_map: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tls_pinned_certs: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub same_origin: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub compression: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert_not_after: Option<String>,
}

impl WebsocketVarz {
    fn of(server: &ServerState, snap: &crate::server::snapshot::Snapshot) -> WebsocketVarz {
        let Some(w) = snap.opts.websocket.as_ref() else { return WebsocketVarz::default() };
        let port = match (w.port, server.ws_addr()) {
            (_, Some(addr)) => i64::from(addr.port()),
            (crate::options::Port::Fixed(p), None) => i64::from(p),
            (crate::options::Port::Random, None) => -1,
        };
        let tls = w.tls.as_ref();
        WebsocketVarz {
            host: w.host.clone(),
            port,
            advertise: w.advertise.clone().unwrap_or_default(),
            no_auth_user: w.no_auth_user.clone().unwrap_or_default(),
            jwt_cookie: w.jwt_cookie.clone().unwrap_or_default(),
            handshake_timeout: w.handshake_timeout.map_or(0, |d| d.as_nanos() as u64),
            auth_timeout: w.authorization.as_ref().and_then(|a| a.timeout).map_or(0.0, |d| d.as_secs_f64()),
            no_tls: w.no_tls,
            tls_map: tls.is_some_and(|t| t.verify_and_map),
            tls_pinned_certs: tls.map(|t| t.pinned_certs.clone()).unwrap_or_default(),
            same_origin: w.same_origin,
            allowed_origins: w.allowed_origins.clone(),
            compression: w.compression,
            tls_cert_not_after: snap
                .websocket
                .as_ref()
                .and_then(|r| r.tls.as_ref())
                .and_then(|t| t.cert_not_after)
                .map(rfc3339_nano),
        }
    }
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

/// Slow consumers and stale connections by kind of connection.
#[derive(Debug, Default, Serialize, Clone, Copy)]
pub struct ByKind {
    pub clients: u64,
    pub routes: u64,
    pub gateways: u64,
    pub leafs: u64,
}

/// nats-server's JetStream disk semaphore figures; always zero in rnats.
#[derive(Debug, Default, Serialize)]
pub struct DiskIoWaitStats {
    pub waiters: i64,
    pub waits: u64,
    pub wait_time: u64,
    pub max_wait_time: u64,
}

fn is_false(v: &bool) -> bool {
    !*v
}
fn is_zero_u16(v: &u16) -> bool {
    *v == 0
}
fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}
fn is_zero_usize(v: &usize) -> bool {
    *v == 0
}
fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

/// What the monitor itself contributes: its request counters and the
/// process figures.
pub struct MonitorFigures {
    pub http_req_stats: BTreeMap<&'static str, u64>,
    pub usage: Usage,
}

pub fn varz(server: &ServerState, figures: MonitorFigures) -> Varz {
    let snap = server.snapshot();
    let opts = &snap.opts;
    let now = SystemTime::now();
    let clients = server.client_totals();
    let cluster = server.cluster().map(|c| &**c);
    let route_traffic = cluster.map(route_traffic).unwrap_or_default();
    let route_stale = cluster.map_or(0, |c| c.stale_routes.load(Ordering::Relaxed));
    let route_slow = server.stats().slow_consumer_routes.load(Ordering::Relaxed);
    let client_slow = server.stats().slow_consumers.load(Ordering::Relaxed);
    let client_stale = server.stats().stale_connections.load(Ordering::Relaxed);
    let tls = snap.tls.as_deref();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let c = clients.traffic;
    Varz {
        server_id: server.id().to_string(),
        server_name: server.name().to_string(),
        version: COMPAT_VERSION.to_string(),
        proto: 1,
        go: format!("rnats {}", env!("CARGO_PKG_VERSION")),
        host: opts.host.clone(),
        port: server.client_addr().port(),
        auth_required: snap.auth.required(),
        tls_required: tls.is_some(),
        tls_verify: tls.is_some_and(|t| t.verify),
        connect_urls: cluster.map(|c| c.client_connect_urls()).unwrap_or_default(),
        ws_connect_urls: server.cluster().map(|c| c.ws_connect_urls()).unwrap_or_default(),
        max_connections: opts.max_connections,
        max_subscriptions: opts.max_subscriptions,
        ping_interval: opts.ping_interval.as_nanos() as u64,
        ping_max: opts.ping_max,
        http_host: opts.http_host.clone().unwrap_or_else(|| opts.host.clone()),
        http_port: opts.http_port.unwrap_or(0),
        http_base_path: opts.http_base_path.clone().unwrap_or_default(),
        https_port: opts.https_port.unwrap_or(0),
        auth_timeout: opts.authorization.timeout.as_secs_f64(),
        max_control_line: opts.max_control_line,
        max_payload: opts.max_payload,
        max_pending: opts.max_pending,
        cluster: cluster.map(|c| cluster_varz(server, c)).unwrap_or_default(),
        gateway: Empty {},
        leaf: Empty {},
        mqtt: Empty {},
        websocket: WebsocketVarz::of(server, &snap),
        jetstream: Empty {},
        tls_timeout: opts.tls.as_ref().map_or(crate::options::DEFAULT_TLS_TIMEOUT, |t| t.timeout).as_secs_f64(),
        write_deadline: opts.write_deadline.as_nanos() as u64,
        start: rfc3339_nano(server.started_at()),
        now: rfc3339_nano(now),
        uptime: uptime(now.duration_since(server.started_at()).unwrap_or_default()),
        mem: figures.usage.rss,
        cores,
        gomaxprocs: cores,
        cpu: figures.usage.cpu,
        connections: server.num_clients(),
        total_connections: server.stats().total_connections.load(Ordering::Relaxed),
        routes: cluster.map_or(0, |c| c.links().iter().filter(|l| l.state().registered).count()),
        remotes: cluster.map_or(0, |c| c.registered().len()),
        leafnodes: 0,
        in_msgs: c.in_msgs + route_traffic.in_msgs,
        in_bytes: c.in_bytes + route_traffic.in_bytes,
        in_client_msgs: c.in_msgs,
        in_client_bytes: c.in_bytes,
        out_msgs: c.out_msgs + route_traffic.out_msgs,
        out_bytes: c.out_bytes + route_traffic.out_bytes,
        out_client_msgs: c.out_msgs,
        out_client_bytes: c.out_bytes,
        slow_consumers: client_slow + route_slow,
        stale_connections: client_stale + route_stale,
        stalled_clients: server.stats().stalled_clients.load(Ordering::Relaxed),
        subscriptions: server.global().sublist.count(),
        http_req_stats: figures.http_req_stats,
        // The first configuration is the one the server started with.
        config_load_time: rfc3339_nano(if snap.generation <= 1 { server.started_at() } else { snap.loaded_at }),
        config_digest: snap.config_digest.clone().unwrap_or_default(),
        trusted_operators_jwt: opts.operator.operators.clone(),
        trusted_operators_claim: opts
            .operator
            .operators
            .iter()
            .filter_map(|jwt| crate::server::jwt::decode_operator(jwt).ok())
            .collect(),
        system_account: server.system_account(),
        pinned_account_fails: server.operator().map_or(0, |op| op.pinned_account_fails()),
        slow_consumer_stats: ByKind { clients: client_slow, routes: route_slow, ..ByKind::default() },
        stale_connection_stats: ByKind { clients: client_stale, routes: route_stale, ..ByKind::default() },
        disk_io_wait_stats: DiskIoWaitStats::default(),
        tls_cert_not_after: tls.and_then(|t| t.cert_not_after).map(rfc3339_nano),
        reload: server.last_reload().as_deref().map(LastReloadJson::from),
    }
}

/// Messages and bytes over route connections since start, closed ones
/// included (added to `in_msgs`, `out_msgs`, ...).
fn route_traffic(cluster: &Cluster) -> Traffic {
    let mut t = cluster.closed_traffic();
    for l in cluster.links() {
        t += l.conn.traffic();
    }
    t
}

/// `/varz` `cluster`.
fn cluster_varz(server: &ServerState, cluster: &Cluster) -> ClusterVarz {
    let snap = server.snapshot();
    let Some(c) = snap.opts.cluster.as_ref() else { return ClusterVarz::default() };
    ClusterVarz {
        name: cluster.name(),
        addr: c.host.clone(),
        cluster_port: cluster.listen_addr().map_or(0, |a| a.port()),
        auth_timeout: c
            .authorization
            .as_ref()
            .map_or(crate::options::DEFAULT_AUTH_TIMEOUT, |a| a.timeout)
            .as_secs_f64(),
        urls: c.routes.iter().filter_map(|r| RouteUrl::parse(r).ok()).map(|u| u.host_port()).collect(),
        tls_timeout: c.tls.as_ref().map_or(crate::options::DEFAULT_TLS_TIMEOUT, |t| t.timeout).as_secs_f64(),
        tls_required: snap.route_tls.is_some(),
        tls_verify: snap.route_tls.is_some(),
        // As configured (nats-server's default 3 when unset), as the
        // reference reports it; rnats itself keeps one connection per
        // server whatever it says.
        pool_size: c.pool_size.unwrap_or(3),
        write_deadline: 0,
    }
}
