//! What monitoring shows of the cluster: the data behind `/routez` (one
//! entry per route connection, nats-server's field names) and the `cluster`
//! object and route counters of `/varz`. Plain data, serialisable as
//! nats-server's JSON; the HTTP side formats times and serves it.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::link::RouteType;
use super::ServerState;

/// One route connection, as `/routez` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RouteSummary {
    pub rid: u64,
    pub remote_id: String,
    pub remote_name: String,
    pub did_solicit: bool,
    pub is_configured: bool,
    /// The peer's address (of this TCP connection).
    pub ip: String,
    pub port: u16,
    #[serde(skip)]
    pub start: SystemTime,
    #[serde(skip)]
    pub last_activity: SystemTime,
    /// Round trip of the last PING/PONG, once measured.
    #[serde(skip)]
    pub rtt: Option<Duration>,
    pub pending_size: usize,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    /// Remote subscriptions held for the peer (its interest).
    pub subscriptions: usize,
    /// Their subjects (`subs=1`); queue subscriptions as `subject queue`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list: Vec<String>,
    /// rnats never compresses routes: `"not supported"`, as nats-server
    /// shows a route that does not negotiate compression.
    pub compression: &'static str,
    /// Registered as the route to that server (an unregistered connection is
    /// still in its handshake, or a duplicate about to close).
    #[serde(skip)]
    pub registered: bool,
}

/// The `cluster` object of `/varz`, and the route counters beside it.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterSummary {
    pub name: String,
    pub addr: String,
    pub cluster_port: u16,
    /// Seconds, as nats-server reports them.
    pub auth_timeout: f64,
    pub tls_timeout: f64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
    /// Configured routes (`host:port`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// rnats keeps one connection per server: reported as -1 ("pooling
    /// disabled" in nats-server terms) whatever `pool_size` says.
    pub pool_size: i64,
    /// `/varz` `routes`: route connections.
    #[serde(skip)]
    pub routes: usize,
    /// `/varz` `remotes`: distinct servers routed to.
    #[serde(skip)]
    pub remotes: usize,
    /// `/varz` `connect_urls` (what clients are told).
    #[serde(skip)]
    pub connect_urls: Vec<String>,
}

impl ServerState {
    /// The route connections for `/routez` (registered ones; `with_subs`
    /// fills `subscriptions_list`), in rid order.
    pub fn routes_summary(&self, with_subs: bool) -> Vec<RouteSummary> {
        let Some(cluster) = &self.cluster else { return Vec::new() };
        cluster
            .links()
            .into_iter()
            .filter_map(|l| {
                let st = l.state().clone();
                if !st.registered {
                    return None;
                }
                let conn = &l.conn;
                let subs = conn.subs.lock().unwrap_or_else(|e| e.into_inner());
                let subscriptions = subs.len();
                let mut subscriptions_list: Vec<String> = if with_subs {
                    subs.values()
                        .map(|s| {
                            let subject = String::from_utf8_lossy(&s.subject).into_owned();
                            match &s.queue {
                                Some(q) => format!("{subject} {}", String::from_utf8_lossy(q)),
                                None => subject,
                            }
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                drop(subs);
                subscriptions_list.sort();
                let (out_msgs, out_bytes) = conn.outbound.counters();
                let rtt = conn.meta.lock().unwrap_or_else(|e| e.into_inner()).rtt;
                Some(RouteSummary {
                    rid: conn.cid,
                    remote_id: st.remote_id,
                    remote_name: st.remote_name,
                    did_solicit: st.did_solicit,
                    is_configured: st.route_type == RouteType::Explicit,
                    ip: conn.addr.ip().to_string(),
                    port: conn.addr.port(),
                    start: conn.start,
                    last_activity: l.last_activity(),
                    rtt,
                    pending_size: conn.outbound.pending(),
                    in_msgs: conn.in_msgs.load(Ordering::Relaxed),
                    out_msgs,
                    in_bytes: conn.in_bytes.load(Ordering::Relaxed),
                    out_bytes,
                    subscriptions,
                    subscriptions_list,
                    compression: "not supported",
                    registered: st.registered,
                })
            })
            .collect()
    }

    /// The `/varz` `cluster` object, or `None` without clustering (nats-server
    /// then shows `"cluster":{}`).
    pub fn cluster_summary(&self) -> Option<ClusterSummary> {
        let cluster = self.cluster.as_ref()?;
        let snap = self.snapshot();
        let c = snap.opts.cluster.as_ref()?;
        let routes = cluster.registered();
        Some(ClusterSummary {
            name: cluster.name(),
            addr: c.host.clone(),
            cluster_port: cluster.listen_addr().map_or(0, |a| a.port()),
            auth_timeout: c
                .authorization
                .as_ref()
                .map_or(crate::options::DEFAULT_AUTH_TIMEOUT, |a| a.timeout)
                .as_secs_f64(),
            tls_timeout: c.tls.as_ref().map_or(crate::options::DEFAULT_TLS_TIMEOUT, |t| t.timeout).as_secs_f64(),
            tls_required: snap.route_tls.is_some(),
            tls_verify: snap.route_tls.is_some(),
            urls: c.routes.iter().filter_map(|r| super::urls::RouteUrl::parse(r).ok()).map(|u| u.host_port()).collect(),
            pool_size: -1,
            routes: routes.len(),
            remotes: routes.len(),
            connect_urls: cluster.client_connect_urls(),
        })
    }
}
