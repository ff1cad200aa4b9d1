//! What monitoring shows of the cluster: clustering's
//! [`RouteSource`](crate::monitor::routez::RouteSource) behind `/routez`
//! (one entry per route connection, nats-server's field names) and the
//! `cluster` object, route counters and `connect_urls` of `/varz`. Read per
//! request, off the message path.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use super::link::RouteType;
use super::urls::RouteUrl;
use super::Cluster;
use crate::monitor::connz::SubDetail;
use crate::monitor::gotime::{rfc3339_from_nanos, rfc3339_nano, rtt, unix_nanos, uptime};
use crate::monitor::query::Subs;
use crate::monitor::routez::{RouteInfo, RouteSource, SubjectPermission};
use crate::monitor::varz::ClusterVarz;
use crate::server::stats::Traffic;
use crate::server::ServerState;

/// The cluster as monitoring sees it. Holds the server weakly: the server
/// owns it (through its route source).
pub struct ClusterMonitor {
    server: Weak<ServerState>,
    cluster: Arc<Cluster>,
}

impl ClusterMonitor {
    pub fn new(server: &Arc<ServerState>, cluster: Arc<Cluster>) -> ClusterMonitor {
        ClusterMonitor { server: Arc::downgrade(server), cluster }
    }
}

fn permission(p: Option<&crate::options::SubjectPermission>) -> Option<SubjectPermission> {
    p.map(|p| SubjectPermission { allow: p.allow.clone(), deny: p.deny.clone() })
}

impl RouteSource for ClusterMonitor {
    fn routes(&self, subs: Subs, now: SystemTime) -> Vec<RouteInfo> {
        let now_nanos = unix_nanos(now);
        let (import, export) = self.permissions();
        self.cluster
            .links()
            .into_iter()
            .filter_map(|l| {
                let st = l.state().clone();
                // Registered routes only: a connection still in its handshake,
                // or a duplicate about to close, is not a route yet.
                if !st.registered {
                    return None;
                }
                let conn = &l.conn;
                let (subscriptions, list, detail) = {
                    let held = conn.subs.lock().unwrap_or_else(|e| e.into_inner());
                    let n = held.len() as u32;
                    let mut list = Vec::new();
                    let mut detail = Vec::new();
                    match subs {
                        Subs::None => {}
                        Subs::List => {
                            list.extend(held.values().map(|s| String::from_utf8_lossy(&s.subject).into_owned()))
                        }
                        Subs::Detail => detail.extend(held.values().map(|s| SubDetail {
                            account: String::new(),
                            account_tag: String::new(),
                            subject: String::from_utf8_lossy(&s.subject).into_owned(),
                            queue:
                                s.queue.as_deref().map(|q| String::from_utf8_lossy(q).into_owned()).unwrap_or_default(),
                            sid: format!("R {}", String::from_utf8_lossy(&s.sid)),
                            msgs: s.delivered(),
                            max: 0,
                            cid: conn.cid,
                        })),
                    }
                    (n, list, detail)
                };
                let traffic = conn.traffic();
                let start = unix_nanos(conn.start);
                let last = unix_nanos(l.last_activity());
                let measured = conn.meta.lock().unwrap_or_else(|e| e.into_inner()).rtt;
                Some(RouteInfo {
                    rid: conn.cid,
                    remote_id: st.remote_id,
                    remote_name: st.remote_name,
                    did_solicit: st.did_solicit,
                    is_configured: st.route_type == RouteType::Explicit,
                    ip: conn.addr.ip().to_string(),
                    port: conn.addr.port(),
                    start: rfc3339_nano(conn.start),
                    last_activity: rfc3339_from_nanos(last),
                    rtt: rtt(measured),
                    uptime: uptime(Duration::from_nanos(now_nanos.saturating_sub(start))),
                    idle: uptime(Duration::from_nanos(now_nanos.saturating_sub(last))),
                    import: import.clone(),
                    export: export.clone(),
                    pending_size: conn.outbound.pending() as u64,
                    in_msgs: traffic.in_msgs,
                    out_msgs: traffic.out_msgs,
                    in_bytes: traffic.in_bytes,
                    out_bytes: traffic.out_bytes,
                    subscriptions,
                    subscriptions_list: list,
                    subscriptions_list_detail: detail,
                    account: String::new(),
                    // As nats-server shows a peer that does not negotiate
                    // compression: rnats routes are never compressed.
                    compression: "not supported".into(),
                })
            })
            .collect()
    }

    fn remotes(&self) -> usize {
        self.cluster.registered().len()
    }

    fn traffic(&self) -> Traffic {
        let mut t = self.cluster.closed_traffic();
        for l in self.cluster.links() {
            t += l.conn.traffic();
        }
        t
    }

    fn stale_connections(&self) -> u64 {
        self.cluster.stale_routes.load(Ordering::Relaxed)
    }

    fn cluster(&self) -> ClusterVarz {
        let Some(server) = self.server.upgrade() else { return ClusterVarz::default() };
        let snap = server.snapshot();
        let Some(c) = snap.opts.cluster.as_ref() else { return ClusterVarz::default() };
        ClusterVarz {
            name: self.cluster.name(),
            addr: c.host.clone(),
            cluster_port: self.cluster.listen_addr().map_or(0, |a| a.port()),
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

    fn permissions(&self) -> (Option<SubjectPermission>, Option<SubjectPermission>) {
        let Some(server) = self.server.upgrade() else { return (None, None) };
        let snap = server.snapshot();
        let perms = snap.opts.route_permissions();
        let perms = perms.as_ref();
        (permission(perms.and_then(|p| p.publish.as_ref())), permission(perms.and_then(|p| p.subscribe.as_ref())))
    }

    fn connect_urls(&self) -> Vec<String> {
        self.cluster.client_connect_urls()
    }
}
