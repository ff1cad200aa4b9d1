//! Server-wide counters (the numbers `/varz` reports). Connections add to them
//! once per read chunk, not per message, to keep atomics off the hot path.

use std::sync::atomic::AtomicU64;

#[derive(Debug, Default)]
pub struct ServerStats {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    pub out_msgs: AtomicU64,
    pub out_bytes: AtomicU64,
    pub slow_consumers: AtomicU64,
    pub stale_connections: AtomicU64,
    pub total_connections: AtomicU64,
    /// Fast-producer stalls, server-wide (`/varz` `stalled_clients`: despite
    /// its name, nats-server counts stall events, not distinct clients).
    /// Added to once per stall, never per message.
    pub stalled_clients: AtomicU64,
}
