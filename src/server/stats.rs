//! Server-wide counters (the numbers `/varz` reports).
//!
//! Message and byte totals are not kept here: each connection counts its own
//! (the publisher's `in_*` once per read chunk, each subscriber's `out_*` in
//! its outbound buffer, under the lock a delivery takes anyway), and `/varz`
//! adds them up with the totals of connections already gone. No counter is
//! shared by all connections on the message path. What stays here is rare
//! events, counted when they happen.

use std::sync::atomic::AtomicU64;

#[derive(Debug, Default)]
pub struct ServerStats {
    /// Client connections closed as slow consumers (pending bytes or write
    /// deadline).
    pub slow_consumers: AtomicU64,
    /// Route connections found slow, counted apart as nats-server's
    /// `slow_consumer_stats.routes` (`/varz` adds both for `slow_consumers`).
    pub slow_consumer_routes: AtomicU64,
    /// Connections closed for not answering pings.
    pub stale_connections: AtomicU64,
    /// Client connections accepted, whatever became of them.
    pub total_connections: AtomicU64,
    /// Fast-producer stalls, server-wide (`/varz` `stalled_clients`: despite
    /// its name, nats-server counts stall events, not distinct clients).
    /// Added to once per stall, never per message.
    pub stalled_clients: AtomicU64,
}

/// Messages and payload bytes in each direction, from one connection or
/// added up over many.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Traffic {
    /// Received from the peer.
    pub in_msgs: u64,
    pub in_bytes: u64,
    /// Sent (queued) to the peer.
    pub out_msgs: u64,
    pub out_bytes: u64,
}

impl std::ops::AddAssign for Traffic {
    fn add_assign(&mut self, o: Traffic) {
        self.in_msgs += o.in_msgs;
        self.in_bytes += o.in_bytes;
        self.out_msgs += o.out_msgs;
        self.out_bytes += o.out_bytes;
    }
}
