//! One route connection as the rest of the server sees it: the connection
//! (outbound buffer, subscriptions, counters) and what is known about the
//! other end, and whether to dial it again when it closes.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use super::urls::RouteUrl;
use crate::server::conn::Connection;

/// How a route came to be dialed (nats-server's `RouteType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteType {
    /// In `cluster.routes` (or `--routes`): dialed until it answers, and
    /// again whenever it drops.
    Explicit,
    /// Learned by gossip, or accepted: dialed `connect_retries` + 1 times.
    Implicit,
}

/// What is known about a route's other end; changes under the link's lock.
#[derive(Debug, Clone)]
pub struct LinkState {
    pub did_solicit: bool,
    pub route_type: RouteType,
    /// Where to dial it again (from the config, the gossip, or the peer's
    /// INFO `host:port`).
    pub url: Option<RouteUrl>,
    /// Take over the redialing of a duplicate connection that was closed.
    pub retry: bool,
    /// Never dial again (route to self, removed by reload, refused).
    pub no_reconnect: bool,
    /// From CONNECT (`name`), then INFO (`server_id`).
    pub remote_id: String,
    pub remote_name: String,
    /// The peer's client URLs (from its INFO).
    pub connect_urls: Vec<String>,
    /// The peer's websocket URLs (from its INFO).
    pub ws_connect_urls: Vec<String>,
    /// Registered as the route to `remote_id`.
    pub registered: bool,
    /// The gossip mode a gossip INFO asked for when it made us dial.
    pub gossip_mode: u8,
}

pub struct RouteLink {
    pub conn: Arc<Connection>,
    state: Mutex<LinkState>,
    /// Unix nanoseconds of the last read, for `/routez` `last_activity`
    /// (written once per read chunk by the session).
    last_activity: AtomicI64,
}

impl RouteLink {
    pub fn new(conn: Arc<Connection>, url: Option<RouteUrl>, route_type: RouteType, gossip_mode: u8) -> Arc<RouteLink> {
        let did_solicit = url.is_some();
        Arc::new(RouteLink {
            conn,
            state: Mutex::new(LinkState {
                did_solicit,
                route_type,
                url,
                retry: false,
                no_reconnect: false,
                remote_id: String::new(),
                remote_name: String::new(),
                connect_urls: Vec::new(),
                ws_connect_urls: Vec::new(),
                registered: false,
                gossip_mode,
            }),
            last_activity: AtomicI64::new(unix_nanos(SystemTime::now())),
        })
    }

    /// The link's state; a std mutex, held for a few field reads or writes,
    /// never across an `.await`, never while taking the cluster registry.
    pub fn state(&self) -> MutexGuard<'_, LinkState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn touch(&self) {
        self.last_activity.store(unix_nanos(SystemTime::now()), Ordering::Relaxed);
    }

    pub fn last_activity(&self) -> SystemTime {
        let nanos = self.last_activity.load(Ordering::Relaxed);
        UNIX_EPOCH + std::time::Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
    }

    /// `<ip>:<port> - rid:<n>`, and ` - Remote: <name>` once the peer's INFO
    /// named it (as nats-server's route log lines are tagged at close).
    pub fn remote_suffix(&self) -> String {
        let name = self.state().remote_name.clone();
        if name.is_empty() {
            String::new()
        } else {
            format!(" - Remote: {name}")
        }
    }
}

impl std::fmt::Debug for RouteLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteLink").field("rid", &self.conn.cid).field("state", &*self.state()).finish()
    }
}

fn unix_nanos(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}
