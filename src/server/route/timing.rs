//! How a route's connection is timed: its ping interval and the pings it
//! may miss, and how long one write may take. The cluster block's settings,
//! else the server's.

use std::time::Duration;

use crate::server::snapshot::Snapshot;

/// How often a route is pinged: `cluster.ping_interval`, else the server's,
/// at most 30s (nats-server's `routeMaxPingInterval`).
pub fn ping_interval(snap: &Snapshot) -> Duration {
    let c = snap.opts.cluster.as_ref();
    let d = c.and_then(|c| c.ping_interval).unwrap_or(snap.opts.ping_interval);
    d.min(ROUTE_MAX_PING_INTERVAL)
}

pub const ROUTE_MAX_PING_INTERVAL: Duration = Duration::from_secs(30);

/// How long one write to a route may take: `cluster.write_deadline`, else
/// the top-level `write_deadline` (nats-server's order).
pub fn write_deadline(snap: &Snapshot) -> Duration {
    snap.opts.cluster.as_ref().and_then(|c| c.write_deadline).unwrap_or(snap.opts.write_deadline)
}

pub fn ping_max(snap: &Snapshot) -> u32 {
    snap.opts.cluster.as_ref().and_then(|c| c.ping_max).filter(|&m| m > 0).unwrap_or(snap.opts.ping_max)
}
