//! A session's pings: how often the peer is pinged, the early first ping
//! that measures the round trip, the stale-connection close when too many
//! go unanswered, and the RTT a PONG measures.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;
use tracing::debug;

use super::core::Core;
use crate::options::FIRST_PING_INTERVAL;
use crate::server::conn::ConnKind;
use crate::server::errors::{CloseReason, ERR_STALE_CONNECTION};
use crate::server::route::timing;

/// A route's first ping (nats-server's `firstPingInterval`).
const ROUTE_FIRST_PING: Duration = Duration::from_secs(1);

impl Core {
    /// How often this connection is pinged (routes: at most every 30s).
    pub(super) fn ping_interval(&self) -> Duration {
        match self.conn.kind {
            ConnKind::Client if self.conn.websocket => {
                let ws = self.snap.websocket.as_ref().and_then(|w| w.settings.ping_interval);
                ws.unwrap_or(self.snap.opts.ping_interval)
            }
            ConnKind::Client => self.snap.opts.ping_interval,
            ConnKind::Route => timing::ping_interval(&self.snap),
        }
    }

    /// The first ping comes early, to measure the round trip: 2s for a
    /// client, 1s plus up to 20% for a route (as nats-server does).
    pub(super) fn first_ping(&self) -> Duration {
        let interval = self.ping_interval();
        match self.conn.kind {
            ConnKind::Client => FIRST_PING_INTERVAL.min(interval),
            ConnKind::Route => {
                let d = ROUTE_FIRST_PING.min(interval);
                d + Duration::from_millis(rand::random_range(0..=d.as_millis() as u64 / 5))
            }
        }
    }

    /// The ping timer fired: ping the peer, or close it as stale when too
    /// many pings went unanswered.
    pub(super) fn on_ping_timer(&mut self) -> Result<(), CloseReason> {
        // Skip the ping while a client is sending: it is evidently alive.
        // The first one always goes, to measure the RTT. Routes are pinged
        // regardless, as nats-server does.
        let client = self.conn.kind == ConnKind::Client;
        if client && self.pings.rtt_measured && self.last_read.elapsed() < self.ping_interval() {
            return Ok(());
        }
        let ping_max = match self.conn.kind {
            ConnKind::Client => self.snap.opts.ping_max,
            ConnKind::Route => timing::ping_max(&self.snap),
        };
        if self.pings.out + 1 > ping_max {
            debug!("{} - Stale Client Connection - Closing", self.conn.log_prefix);
            let counter = match (&self.conn.kind, self.server.cluster()) {
                (ConnKind::Route, Some(cluster)) => &cluster.stale_routes,
                _ => &self.server.stats().stale_connections,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            self.send_err(ERR_STALE_CONNECTION);
            return Err(CloseReason::StaleConnection);
        }
        self.pings.out += 1;
        self.pings.sent_at = Some(Instant::now());
        self.send(b"PING\r\n");
        Ok(())
    }

    /// The peer answered a PING.
    pub fn on_pong(&mut self) {
        self.pings.out = 0;
        if let Some(sent) = self.pings.sent_at.take() {
            self.conn.meta.lock().unwrap_or_else(|e| e.into_inner()).rtt = Some(sent.elapsed());
            self.pings.rtt_measured = true;
        }
    }
}
