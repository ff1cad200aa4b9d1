//! The cluster side of a server: its name, the route listener's address,
//! the route connections (every live one, and the registered one to each
//! remote server), the client and websocket URLs the cluster advertises,
//! and what closed routes counted. No task of its own: the route sessions
//! and the cluster walks in [`super`] change it through these methods.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use tracing::info;

use super::bounds;
use super::link::RouteLink;
use super::urls::ConnectUrls;
use crate::options::Options;
use crate::server::stats::Traffic;

/// The cluster side of a server.
pub struct Cluster {
    /// The cluster name, and whether it was generated (a generated name
    /// gives way to a configured one, or to a larger generated one).
    name: Mutex<(String, bool)>,
    /// Where the route listener is bound.
    listen: OnceLock<SocketAddr>,
    /// Route connections. A std mutex: taken on route start, registration
    /// and close, and by walks (gossip, reload, monitoring), never per
    /// message and never across an `.await`. Taken before any link's lock.
    registry: Mutex<Registry>,
    /// The client URLs advertised to clients (`connect_urls`).
    urls: Mutex<ConnectUrls>,
    /// The websocket URLs advertised to websocket clients (their
    /// `connect_urls`, the cluster's `ws_connect_urls`). Same lock rules.
    ws_urls: Mutex<ConnectUrls>,
    /// Set once this server announced lame duck mode to its peers.
    lame_duck: AtomicBool,
    /// What closed route connections received and sent (`/varz` totals);
    /// a std mutex, taken once per route close and per `/varz`.
    closed: Mutex<Traffic>,
    /// Route connections closed as stale (`stale_connection_stats.routes`).
    pub stale_routes: std::sync::atomic::AtomicU64,
    /// Gossip dials in flight (see [`super::bounds::DialSlot`]).
    pub(super) gossip_dials: Arc<AtomicUsize>,
}

#[derive(Default)]
pub(super) struct Registry {
    /// The registered route to each remote server, by server id.
    pub(super) by_id: HashMap<String, Arc<RouteLink>>,
    /// Every live route connection, registered or not, by rid.
    pub(super) all: HashMap<u64, Arc<RouteLink>>,
}

impl Cluster {
    /// The cluster of a server configured with a `cluster` block.
    pub fn new(opts: &Options) -> Option<Cluster> {
        let c = opts.cluster.as_ref()?;
        let (name, dynamic) = match c.name.as_deref().filter(|n| !n.is_empty()) {
            Some(n) => (n.to_string(), false),
            None => (generated_name(), true),
        };
        Some(Cluster {
            name: Mutex::new((name, dynamic)),
            listen: OnceLock::new(),
            registry: Mutex::new(Registry::default()),
            urls: Mutex::new(ConnectUrls::default()),
            ws_urls: Mutex::new(ConnectUrls::default()),
            lame_duck: AtomicBool::new(false),
            closed: Mutex::new(Default::default()),
            stale_routes: std::sync::atomic::AtomicU64::new(0),
            gossip_dials: Arc::new(AtomicUsize::new(0)),
        })
    }

    pub(super) fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn urls(&self) -> MutexGuard<'_, ConnectUrls> {
        self.urls.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn ws_urls(&self) -> MutexGuard<'_, ConnectUrls> {
        self.ws_urls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `connect_urls` for websocket clients (`ws_connect_urls` in `/varz`).
    pub fn ws_connect_urls(&self) -> Vec<String> {
        self.ws_urls().list()
    }

    /// The other servers' websocket URLs only.
    pub fn remote_ws_connect_urls(&self) -> Vec<String> {
        self.ws_urls().remote_only()
    }

    /// Adds (or withdraws) a peer's client and websocket URLs; whether
    /// clients must be told.
    pub(super) fn update_urls(&self, urls: &[String], ws_urls: &[String], add: bool) -> bool {
        let apply = |set: &mut ConnectUrls, list: &[String]| {
            !list.is_empty() && if add { set.add(list) } else { set.remove(list) }
        };
        let a = apply(&mut self.urls(), urls);
        let b = apply(&mut self.ws_urls(), ws_urls);
        a || b
    }

    pub fn name(&self) -> String {
        self.name.lock().unwrap_or_else(|e| e.into_inner()).0.clone()
    }

    pub fn is_dynamic(&self) -> bool {
        self.name.lock().unwrap_or_else(|e| e.into_inner()).1
    }

    /// Takes `name` as the cluster name (`dynamic`: it is itself generated).
    pub fn set_name(&self, name: &str, dynamic: bool) {
        {
            let mut n = self.name.lock().unwrap_or_else(|e| e.into_inner());
            if n.0 == name && n.1 == dynamic {
                return;
            }
            *n = (name.to_string(), dynamic);
        }
        info!("Cluster name updated to {name}");
    }

    /// The address routes connect to (port 0 before the listener is bound).
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen.get().copied()
    }

    /// A new route connection exists (registered later, or never); false
    /// when [`bounds::MAX_ROUTE_CONNECTIONS`] already do, and it must go.
    pub fn track(&self, link: &Arc<RouteLink>) -> bool {
        let mut reg = self.registry();
        if reg.all.len() >= bounds::MAX_ROUTE_CONNECTIONS {
            return false;
        }
        reg.all.insert(link.conn.cid, link.clone());
        true
    }

    /// Every live route connection.
    pub fn links(&self) -> Vec<Arc<RouteLink>> {
        let mut v: Vec<_> = self.registry().all.values().cloned().collect();
        v.sort_by_key(|l| l.conn.cid);
        v
    }

    /// The registered routes, one per remote server.
    pub fn registered(&self) -> Vec<Arc<RouteLink>> {
        let mut v: Vec<_> = self.registry().by_id.values().cloned().collect();
        v.sort_by_key(|l| l.conn.cid);
        v
    }

    pub fn is_connected_to(&self, server_id: &str) -> bool {
        self.registry().by_id.contains_key(server_id)
    }

    /// `connect_urls` for clients: empty until a peer's URLs are known.
    pub fn client_connect_urls(&self) -> Vec<String> {
        self.urls().list()
    }

    /// The other servers' client URLs only.
    pub fn remote_connect_urls(&self) -> Vec<String> {
        self.urls().remote_only()
    }

    pub fn own_connect_urls(&self) -> Vec<String> {
        self.urls().own().to_vec()
    }

    /// The traffic of route connections that closed.
    pub fn closed_traffic(&self) -> Traffic {
        *self.closed.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn in_lame_duck(&self) -> bool {
        self.lame_duck.load(Ordering::Acquire)
    }

    /// Marks lame duck mode as announced to the peers; false if it was.
    pub fn mark_lame_duck(&self) -> bool {
        !self.lame_duck.swap(true, Ordering::AcqRel)
    }

    /// Records where the route listener is bound (once, at start).
    pub fn set_listen_addr(&self, addr: SocketAddr) {
        let _ = self.listen.set(addr);
    }

    /// Adds a closed route connection's traffic to the totals.
    pub fn add_closed_traffic(&self, t: Traffic) {
        *self.closed.lock().unwrap_or_else(|e| e.into_inner()) += t;
    }
}

/// A 22-character name, as nats-server generates one (a NUID).
fn generated_name() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (0..22).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect()
}
