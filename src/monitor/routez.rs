//! `/routez`, and the seam between monitoring and clustering: the
//! [`RouteSource`] clustering registers with
//! [`ServerState::set_route_source`](crate::server::ServerState::set_route_source).
//! Until it does, there are no routes: `num_routes` 0 and `routes: []`, as
//! nats-server without a cluster.

use std::time::SystemTime;

use serde::Serialize;

use super::connz::SubDetail;
use super::gotime::rfc3339_nano;
use super::query::Subs;
use super::varz::ClusterVarz;
use crate::server::stats::Traffic;
use crate::server::ServerState;

/// What clustering tells monitoring. Called per request, off the message
/// path; implementations take their own locks briefly.
pub trait RouteSource: Send + Sync {
    /// The route connections now, as `/routez` lists them, with their
    /// subscriptions as `subs` asks (`subscriptions_list` or
    /// `subscriptions_list_detail`). `now` is the reply's time, for `uptime`
    /// and `idle`.
    fn routes(&self, subs: Subs, now: SystemTime) -> Vec<RouteInfo>;
    /// Distinct remote servers (`/varz` `remotes`).
    fn remotes(&self) -> usize;
    /// Messages and bytes over route connections since start, closed ones
    /// included (`/varz` adds them to `in_msgs`, `out_msgs`, ...).
    fn traffic(&self) -> Traffic;
    /// Route connections closed as stale.
    fn stale_connections(&self) -> u64 {
        0
    }
    /// `/varz` `cluster`.
    fn cluster(&self) -> ClusterVarz;
    /// The cluster's permissions (`/routez` `import` and `export`).
    fn permissions(&self) -> (Option<SubjectPermission>, Option<SubjectPermission>) {
        (None, None)
    }
    /// URLs clients can use to reach the cluster (`/varz` `connect_urls`).
    fn connect_urls(&self) -> Vec<String> {
        Vec::new()
    }
}

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
    let (routes, (import, export)) = match server.route_source() {
        Some(source) => (source.routes(subs, now), source.permissions()),
        None => (Vec::new(), (None, None)),
    };
    Routez {
        server_id: server.id.clone(),
        server_name: server.name.clone(),
        now: rfc3339_nano(now),
        import,
        export,
        num_routes: routes.len(),
        routes,
    }
}
