//! The state every task of one server shares: the current configuration
//! snapshot, the client registry, the closed-connection ring, the cluster,
//! and the tokens that stop accepting and stop the server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;

use super::accounts::{AccountRegistry, ServerAccount};
use super::adoption::{self, ConnectionCounts, Effect};
use super::closed::{ClosedConn, ClosedRing};
use super::conn::{ConnKind, Connection};
use super::errors::CloseReason;
use super::files;
use super::info::Info;
use super::last_reload::LastReload;
use super::route::cluster::Cluster;
use super::route::urls;
use super::snapshot::Snapshot;
use super::stats::{ServerStats, Traffic};
use super::system::link::{ReloadRequest, SystemEvent};
use crate::options::COMPAT_VERSION;

impl super::operator::Server for ServerState {
    fn accounts(&self) -> &AccountRegistry {
        &self.accounts
    }

    fn wake_all(&self) {
        ServerState::wake_all(self)
    }

    fn resolver_preload(&self) -> std::collections::BTreeMap<String, String> {
        self.snapshot().opts.operator.resolver_preload.clone()
    }
}

/// State shared by every task of one server.
pub struct ServerState {
    /// The current configuration. Sessions `load` it when they notice a new
    /// generation; only [`ServerState::install`] stores.
    snapshot: ArcSwap<Snapshot>,
    /// The current snapshot's generation, readable with one relaxed load so
    /// sessions can check for a new snapshot once per read chunk for free.
    generation: AtomicU64,
    /// The server's id and name, fixed for its life (INFO, monitoring, the
    /// route handshake).
    id: String,
    name: String,
    /// Every account (`$G` included), kept across reloads.
    accounts: AccountRegistry,
    /// Live client connections by id, and what the closed ones counted. A
    /// std mutex, taken on connect, disconnect and by whole-server walks
    /// (reload, monitoring), never per message and never across an `.await`.
    clients: Mutex<Clients>,
    /// Recently closed client connections, for `/connz?state=closed`.
    closed: ClosedRing,
    next_cid: AtomicU64,
    /// Server-wide counters, shared with every connection (which counts
    /// into them) by a clone of the `Arc`.
    stats: Arc<ServerStats>,
    /// Bounds concurrent bcrypt checks, so a connection storm leaves CPU for
    /// message traffic.
    bcrypt_slots: Arc<tokio::sync::Semaphore>,
    /// Cancelled once to stop the server; only [`ServerState::begin_shutdown`]
    /// does, so `accepting` (its child) always stops with it.
    shutdown: CancellationToken,
    /// Cancelled to stop accepting clients (lame duck mode, shutdown): a
    /// child of `shutdown`.
    accepting: CancellationToken,
    /// Set once lame duck mode starts; sessions announce it to their client
    /// when they see it. Read at a wakeup, never per message.
    lame_duck: AtomicBool,
    tracker: TaskTracker,
    /// When the server started (`/varz` start and uptime).
    start: SystemTime,
    /// The address clients connect to, known once the listener is bound.
    client_addr: OnceLock<SocketAddr>,
    /// The websocket listener's address, once it is bound.
    ws_addr: OnceLock<SocketAddr>,
    /// The pid and ports files.
    files: files::ProcessFiles,
    /// The cluster (routes), when configured; fixed at start.
    cluster: Option<Arc<Cluster>>,
    /// Which client connections a reload still waits for.
    adoptions: adoption::Adoptions,
    /// The last reload's outcome. A watch channel: the reloader writes it
    /// once per reload, readers (monitoring, the system account's reload
    /// event) borrow it or wait for the next one.
    last_reload: tokio::sync::watch::Sender<Option<Arc<LastReload>>>,
    /// Where sessions tell the system task about clients (set once it
    /// runs; no system account, no events).
    system_events: OnceLock<tokio::sync::mpsc::UnboundedSender<SystemEvent>>,
    /// What a system `RELOAD` request runs (the binary's reloader).
    reload_request: OnceLock<Arc<dyn ReloadRequest>>,
    /// Operator mode (JWT accounts and users), when configured; fixed at start.
    operator: Option<Arc<super::operator::OperatorMode>>,
}

impl ServerState {
    /// The shared state of a server that runs `snapshot` (validated options),
    /// before any listener exists. Sessions can be served on it directly,
    /// which is how tests drive one over an in-memory stream.
    pub fn new(snapshot: Snapshot, id: String, name: String) -> Arc<ServerState> {
        let shutdown = CancellationToken::new();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cluster = Cluster::new(&snapshot.opts).map(Arc::new);
        let closed = ClosedRing::new(snapshot.opts.max_closed_clients);
        let stats = Arc::new(ServerStats::default());
        let accounts = AccountRegistry::new(&snapshot.opts, stats.clone(), &name);
        let operator = super::operator::OperatorMode::new(&snapshot.opts);
        Arc::new(ServerState {
            generation: AtomicU64::new(snapshot.generation),
            snapshot: ArcSwap::from_pointee(snapshot),
            id,
            name,
            accounts,
            clients: Mutex::new(Clients::default()),
            closed,
            // Ids 1-4 are internal clients in nats-server; keeping the same
            // first id makes logs and /connz line up between the two.
            next_cid: AtomicU64::new(5),
            stats,
            bcrypt_slots: Arc::new(tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1))),
            accepting: shutdown.child_token(),
            shutdown,
            lame_duck: AtomicBool::new(false),
            tracker: TaskTracker::new(),
            start: SystemTime::now(),
            client_addr: OnceLock::new(),
            ws_addr: OnceLock::new(),
            files: files::ProcessFiles::default(),
            cluster,
            adoptions: adoption::Adoptions::default(),
            last_reload: tokio::sync::watch::Sender::new(None),
            system_events: OnceLock::new(),
            reload_request: OnceLock::new(),
            operator,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server-wide counters; a connection keeps a clone of the `Arc`.
    pub fn stats(&self) -> &Arc<ServerStats> {
        &self.stats
    }

    /// When the server started.
    pub fn started_at(&self) -> SystemTime {
        self.start
    }

    /// The pid and ports files.
    pub fn files(&self) -> &files::ProcessFiles {
        &self.files
    }

    /// The cluster (routes), when configured.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }

    /// Stops the server: accepting stops with it, and every task waiting on
    /// [`ServerState::shutting_down`] wakes.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// Resolves once the server is stopping.
    pub fn shutting_down(&self) -> WaitForCancellationFuture<'_> {
        self.shutdown.cancelled()
    }

    /// [`ServerState::shutting_down`] for a task that cannot borrow the
    /// state for as long as it waits.
    pub fn shutting_down_owned(&self) -> WaitForCancellationFutureOwned {
        self.shutdown.clone().cancelled_owned()
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Makes `snapshot` current (its generation must be the next one) and
    /// wakes every connection so that it adopts it promptly; returns the
    /// wait for the client connections to have done so.
    pub fn install(&self, snapshot: Snapshot) -> adoption::Awaiting<'_> {
        let generation = snapshot.generation;
        // Accounts first: a session adopting the snapshot finds its
        // account's new rules (and a new account) already in place.
        self.accounts.sync(&snapshot.opts);
        self.snapshot.store(Arc::new(snapshot));
        self.generation.store(generation, Ordering::Release);
        let mut awaiting = self.adoptions.awaiting(generation);
        // One pass: each connection is marked and woken while its lines
        // are in cache.
        for conn in self.connections() {
            conn.events.notify_one();
            awaiting.expect(conn);
        }
        if let Some(cluster) = &self.cluster {
            for link in cluster.links() {
                link.conn.events.notify_one();
            }
        }
        awaiting
    }

    /// The address the client listener is bound to (port 0 before).
    pub fn client_addr(&self) -> SocketAddr {
        self.client_addr.get().copied().unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    pub fn in_lame_duck(&self) -> bool {
        self.lame_duck.load(Ordering::Acquire)
    }

    /// Enters lame duck mode (once): stop accepting, and wake every
    /// session so that it tells its client. Returns false if it already
    /// was, or the server is stopping. The routes are told by the lame duck
    /// module, which calls this.
    pub fn enter_lame_duck(&self) -> bool {
        if self.shutdown.is_cancelled() || self.lame_duck.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.accepting.cancel();
        for conn in self.connections() {
            conn.events.notify_one();
        }
        true
    }

    /// Records where the client listener is bound (once, at start).
    pub fn set_client_addr(&self, addr: SocketAddr) {
        let _ = self.client_addr.set(addr);
    }

    /// The global account `$G`.
    pub fn global(&self) -> &Arc<ServerAccount> {
        self.accounts.global()
    }

    /// Where the system task hears about clients (once, at start).
    pub fn set_system_events(&self, tx: tokio::sync::mpsc::UnboundedSender<SystemEvent>) {
        let _ = self.system_events.set(tx);
    }

    /// Hands the server what a system `RELOAD` request runs (once).
    pub fn set_reload_request(&self, reloader: Arc<dyn ReloadRequest>) {
        let _ = self.reload_request.set(reloader);
    }

    pub fn reload_request(&self) -> Option<Arc<dyn ReloadRequest>> {
        self.reload_request.get().cloned()
    }

    /// Tells the system task about a client, when it runs; never waits.
    pub fn system_event(&self, event: SystemEvent) {
        if let Some(tx) = self.system_events.get() {
            let _ = tx.send(event);
        }
    }

    /// The system account's name, when the server runs one.
    pub fn system_account(&self) -> Option<String> {
        self.accounts.system().map(|a| a.name.to_string())
    }

    pub fn accounts(&self) -> &AccountRegistry {
        &self.accounts
    }

    /// The recently closed client connections (`/connz?state=closed`).
    pub fn closed(&self) -> &ClosedRing {
        &self.closed
    }

    pub fn next_cid(&self) -> u64 {
        self.next_cid.fetch_add(1, Ordering::Relaxed)
    }

    /// Runs `task` as one of the server's tasks: a graceful stop waits for
    /// it (see [`ServerState::wait_for_tasks`]).
    pub fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(task)
    }

    /// The tracker of the server's tasks, for a component that spawns its
    /// own from a clone of it (monitoring's connections).
    pub fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    /// Takes no more tasks and waits up to `grace` for the running ones;
    /// false if some were still running then.
    pub async fn wait_for_tasks(&self, grace: std::time::Duration) -> bool {
        self.tracker.close();
        tokio::time::timeout(grace, self.tracker.wait()).await.is_ok()
    }

    /// Resolves once the server stops accepting new connections (lame duck
    /// mode, or shutdown).
    pub fn stopped_accepting(&self) -> WaitForCancellationFuture<'_> {
        self.accepting.cancelled()
    }

    /// The slots that bound concurrent bcrypt checks.
    /// Wakes every connection to re-check itself against the current rules
    /// (an account's rules changed outside a reload: a claim update).
    pub fn wake_all(&self) {
        for conn in self.connections() {
            conn.events.notify_one();
        }
    }

    /// Operator mode's trust and resolver, when the server runs in it.
    pub fn operator(&self) -> Option<&Arc<super::operator::OperatorMode>> {
        self.operator.as_ref()
    }

    pub fn bcrypt_slots(&self) -> Arc<tokio::sync::Semaphore> {
        self.bcrypt_slots.clone()
    }

    /// `conn` now runs under the snapshot of `generation` (credentials and
    /// permissions re-checked), which did `effect` to it: a reload waiting
    /// for it is told.
    pub fn adopted(&self, conn: &Connection, generation: u64, effect: Effect) {
        self.adoptions.adopted(conn, generation, effect);
    }

    /// A new session of `conn` starts under the snapshot of `generation`.
    pub fn started(&self, conn: &Connection, generation: u64) {
        self.adoptions.started(conn, generation);
    }

    /// Records how a reload ended.
    pub fn record_reload(&self, record: LastReload) {
        self.last_reload.send_replace(Some(Arc::new(record)));
    }

    /// How the last reload ended, if there was one.
    pub fn last_reload(&self) -> Option<Arc<LastReload>> {
        self.last_reload.borrow().clone()
    }

    /// Each reload's outcome as it is recorded.
    pub fn reloads(&self) -> tokio::sync::watch::Receiver<Option<Arc<LastReload>>> {
        self.last_reload.subscribe()
    }

    /// What the snapshot of `generation` has done to clients so far.
    pub fn reload_effects(&self, generation: u64) -> ConnectionCounts {
        self.adoptions.counts(generation)
    }

    /// The websocket listener's address, when there is one.
    pub fn ws_addr(&self) -> Option<SocketAddr> {
        self.ws_addr.get().copied()
    }

    /// Records where the websocket listener is bound (once, at start).
    pub fn set_ws_addr(&self, addr: SocketAddr) {
        let _ = self.ws_addr.set(addr);
    }

    /// The INFO a client receives. A websocket client is told about the
    /// websocket listener (nats-server's `generateClientInfoJSON`): its host,
    /// port and TLS, and the websocket URLs of the cluster.
    pub fn client_info(&self, snap: &Snapshot, conn: &Connection, nonce: Option<&str>) -> Info {
        let mut info = self.nats_client_info(snap, conn.cid, conn.addr, nonce);
        if conn.websocket {
            let ws = snap.opts.websocket.as_ref();
            info.host = ws.map(|w| w.host.clone()).unwrap_or_default();
            info.port = self.ws_addr().map_or(0, |a| a.port());
            let tls = snap.websocket.as_ref().is_some_and(|w| w.tls.is_some());
            (info.tls_required, info.tls_available) = (tls, tls);
            info.tls_verify = ws.and_then(|w| w.tls.as_ref()).is_some_and(|t| t.verify || t.verify_and_map);
            info.auth_required = snap.auth_for(true).required();
            info.connect_urls = self.cluster.as_ref().map(|c| c.ws_connect_urls()).unwrap_or_default();
        }
        info
    }

    fn nats_client_info(&self, snap: &Snapshot, cid: u64, addr: SocketAddr, nonce: Option<&str>) -> Info {
        let opts = &snap.opts;
        let mut port = self.client_addr.get().map_or(0, |a| a.port());
        let mut host = opts.host.clone();
        // `client_advertise`: what clients are told to connect to.
        if let Some(adv) = opts.client_advertise.as_deref().filter(|a| !a.is_empty()) {
            match urls::split_host_port(adv) {
                Some((h, p)) => (host, port) = (h, p),
                None => host = adv.to_string(),
            }
        }
        Info {
            server_id: self.id.clone(),
            server_name: self.name.clone(),
            version: COMPAT_VERSION.to_string(),
            proto: 1,
            go: format!("rnats {}", env!("CARGO_PKG_VERSION")),
            host,
            port,
            headers: !opts.no_header_support,
            auth_required: snap.auth.required(),
            // `tls_required` is set per connection (TLS first or not).
            tls_verify: opts.tls.as_ref().is_some_and(|t| t.verify || t.verify_and_map),
            tls_available: snap.tls.is_some() && opts.allow_non_tls,
            max_payload: opts.max_payload,
            client_id: cid,
            client_ip: addr.ip().to_string(),
            nonce: nonce.unwrap_or_default().to_string(),
            cluster: self.cluster.as_ref().map(|c| c.name()),
            connect_urls: self.cluster.as_ref().map(|c| c.client_connect_urls()).unwrap_or_default(),
            ..Info::default()
        }
    }

    /// The INFO a client receives when it connects. With `no_auth_user` it
    /// needs no credentials, so this one says nothing of `auth_required`
    /// (nats-server's later INFOs do).
    pub fn client_connect_info(&self, snap: &Snapshot, conn: &Connection, nonce: Option<&str>) -> Info {
        let mut info = self.client_info(snap, conn, nonce);
        // nats-server's websocket clients are told `auth_required` as is.
        if !conn.websocket && snap.opts.no_auth_user.as_deref().is_some_and(|u| !u.is_empty()) {
            info.auth_required = false;
        }
        info
    }

    /// Adds a client to the registry unless `max_connections` (0 = no limit)
    /// are already connected.
    pub fn register(&self, conn: &Arc<Connection>, max_connections: usize) -> bool {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if max_connections > 0 && clients.live.len() >= max_connections {
            return false;
        }
        clients.live.insert(conn.cid, conn.clone());
        true
    }

    /// Takes a closing connection (its close reason set, its last read chunk
    /// settled) out of the live set: its counters join the totals of closed
    /// connections and it is recorded in the closed ring. Connections that
    /// were never registered (refused at the limit) are recorded too.
    pub fn retire(&self, conn: &Arc<Connection>) {
        let reason = conn.close_reason().unwrap_or(CloseReason::ClientClosed);
        let record = (conn.kind == ConnKind::Client).then(|| ClosedConn::of(conn, reason));
        conn.leave_account();
        {
            let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
            if clients.live.get(&conn.cid).is_some_and(|c| Arc::ptr_eq(c, conn)) {
                clients.live.remove(&conn.cid);
                clients.retired.add(conn);
                conn.account().add_closed_traffic(conn.traffic());
            }
        }
        self.adoptions.ended(conn);
        if let Some(record) = record {
            self.closed.push(record);
            self.system_event(SystemEvent::Disconnect(conn.clone(), reason));
        }
    }

    /// The live client connections, in no particular order.
    pub fn connections(&self) -> Vec<Arc<Connection>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).live.values().cloned().collect()
    }

    /// The live client connections with the totals of the closed ones, taken
    /// together: adding the live ones' counters to the totals gives the
    /// server's totals, each connection counted once.
    pub fn connections_and_retired(&self) -> (Vec<Arc<Connection>>, ClientTotals) {
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        (clients.live.values().cloned().collect(), clients.retired)
    }

    /// Each of `accounts`' traffic since the server started: its live
    /// connections' counters plus the totals of those that closed, read
    /// under the registry lock that [`ServerState::retire`] moves them
    /// under, so no connection is counted twice or not at all.
    pub fn account_traffic(&self, accounts: &[Arc<ServerAccount>]) -> Vec<Traffic> {
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        accounts
            .iter()
            .map(|account| {
                let mut traffic = account.closed_traffic();
                for conn in clients.live.values().filter(|c| Arc::ptr_eq(&c.account(), account)) {
                    traffic += conn.traffic();
                }
                traffic
            })
            .collect()
    }

    /// Everything client connections counted since the server started.
    pub fn client_totals(&self) -> ClientTotals {
        let (live, mut totals) = self.connections_and_retired();
        for conn in &live {
            totals.add(conn);
        }
        totals
    }

    pub fn num_clients(&self) -> usize {
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).live.len()
    }
}

/// The client registry: the live connections, and the totals of those that
/// closed, changed together under one lock so that a sum over both never
/// counts a connection twice or not at all.
#[derive(Default)]
struct Clients {
    live: HashMap<u64, Arc<Connection>>,
    retired: ClientTotals,
}

/// What client connections counted: traffic and match-cache hits.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ClientTotals {
    pub traffic: Traffic,
    pub cache_hits: u64,
}

impl ClientTotals {
    fn add(&mut self, conn: &Connection) {
        self.traffic += conn.traffic();
        self.cache_hits += conn.match_cache.hits.load(Ordering::Relaxed);
    }
}
