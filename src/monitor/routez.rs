//! `/routez`: one entry per registered route connection, nats-server's
//! field names. Read per request, off the message path; without a cluster
//! there are no routes (`num_routes` 0 and `routes: []`, as nats-server).

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::connz::SubDetail;
use super::gotime::{rfc3339_from_nanos, rfc3339_nano, rtt, unix_nanos, uptime};
use super::query::Subs;
use crate::server::route::cluster::Cluster;
use crate::server::route::link::RouteType;
use crate::server::state::ServerState;

/// `allow`/`deny` lists, as nats-server's `SubjectPermission`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SubjectPermission {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

/// One route connection (nats-server's `RouteInfo`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RouteInfo {
    pub rid: u64,
    pub remote_id: String,
    pub remote_name: String,
    pub did_solicit: bool,
    pub is_configured: bool,
    pub ip: String,
    pub port: u16,
    pub start: String,
    pub last_activity: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rtt: String,
    pub uptime: String,
    pub idle: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<SubjectPermission>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<SubjectPermission>,
    pub pending_size: u64,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub subscriptions: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list_detail: Vec<SubDetail>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compression: String,
}

/// The reply.
#[derive(Debug, Serialize)]
pub struct Routez {
    pub server_id: String,
    pub server_name: String,
    pub now: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<SubjectPermission>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<SubjectPermission>,
    pub num_routes: usize,
    pub routes: Vec<RouteInfo>,
}

pub fn routez(server: &ServerState, subs: Subs) -> Routez {
    let now = SystemTime::now();
    let (routes, (import, export)) = match server.cluster().map(|c| &**c) {
        Some(cluster) => (route_rows(server, cluster, subs, now), permissions(server)),
        None => (Vec::new(), (None, None)),
    };
    Routez {
        server_id: server.id().to_string(),
        server_name: server.name().to_string(),
        now: rfc3339_nano(now),
        import,
        export,
        num_routes: routes.len(),
        routes,
    }
}

/// The registered route connections, with their subscriptions as `subs`
/// asks; `now` is the reply's time, for `uptime` and `idle`.
fn route_rows(server: &ServerState, cluster: &Cluster, subs: Subs, now: SystemTime) -> Vec<RouteInfo> {
    let now_nanos = unix_nanos(now);
    let (import, export) = permissions(server);
    cluster
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
                let held = conn.subscriptions();
                let n = held.len() as u32;
                let mut list = Vec::new();
                let mut detail = Vec::new();
                match subs {
                    Subs::None => {}
                    Subs::List => list.extend(held.iter().map(|s| String::from_utf8_lossy(&s.subject).into_owned())),
                    Subs::Detail => detail.extend(held.iter().map(|s| SubDetail {
                        account: String::new(),
                        account_tag: String::new(),
                        subject: String::from_utf8_lossy(&s.subject).into_owned(),
                        queue: s.queue.as_deref().map(|q| String::from_utf8_lossy(q).into_owned()).unwrap_or_default(),
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

/// The cluster's permissions (`/routez` `import` and `export`).
fn permissions(server: &ServerState) -> (Option<SubjectPermission>, Option<SubjectPermission>) {
    let snap = server.snapshot();
    let perms = snap.opts.route_permissions();
    let perms = perms.as_ref();
    (permission(perms.and_then(|p| p.publish.as_ref())), permission(perms.and_then(|p| p.subscribe.as_ref())))
}

fn permission(p: Option<&crate::options::SubjectPermission>) -> Option<SubjectPermission> {
    p.map(|p| SubjectPermission { allow: p.allow.clone(), deny: p.deny.clone() })
}
