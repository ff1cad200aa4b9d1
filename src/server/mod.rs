//! The running server: listener, connections, subscription index and shared state.
//!
//! Data flow: socket → [`proto`] parser → [`sublist`] match → each subscriber's
//! [`outbound`] buffer → its socket. Options are read through an `ArcSwap`
//! snapshot so a reload can replace them without stopping anything.

pub mod auth;
pub mod client;
pub mod errors;
pub mod info;
pub mod outbound;
pub mod permissions;
pub mod proto;
pub mod stats;
pub mod subject;
pub mod sublist;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info};

use crate::options::{Options, COMPAT_VERSION};
use auth::AuthIndex;
use client::{ClientShared, Subscription};
use info::Info;
use stats::ServerStats;
use sublist::Sublist;

/// How long a graceful stop waits for connections to flush and close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// State shared by every task of one server.
pub struct ServerInner {
    /// The current options. Readers `load()` a snapshot; a reload `store()`s.
    pub opts: ArcSwap<Options>,
    /// Credentials and compiled permissions for the current options.
    pub auth: ArcSwap<AuthIndex>,
    /// Bounds concurrent bcrypt checks, so a connection storm leaves CPU for
    /// message traffic.
    pub bcrypt_slots: Arc<tokio::sync::Semaphore>,
    pub id: String,
    pub name: String,
    pub sublist: Sublist<Subscription>,
    pub clients: Mutex<HashMap<u64, Arc<ClientShared>>>,
    pub next_cid: AtomicU64,
    pub stats: Arc<ServerStats>,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
    pub start: SystemTime,
    /// The address clients connect to, known once the listener is bound.
    client_addr: OnceLock<SocketAddr>,
}

impl ServerInner {
    /// The INFO a new client receives.
    pub fn client_info(&self, cid: u64, addr: SocketAddr, nonce: Option<&str>) -> Info {
        let opts = self.opts.load();
        let port = self.client_addr.get().map_or(0, |a| a.port());
        Info {
            server_id: self.id.clone(),
            server_name: self.name.clone(),
            version: COMPAT_VERSION.to_string(),
            proto: 1,
            go: format!("rnats {}", env!("CARGO_PKG_VERSION")),
            host: opts.host.clone(),
            port,
            headers: !opts.no_header_support,
            auth_required: self.auth.load().required(),
            max_payload: opts.max_payload,
            client_id: cid,
            client_ip: addr.ip().to_string(),
            nonce: nonce.unwrap_or_default().to_string(),
            ..Info::default()
        }
    }

    pub fn num_clients(&self) -> usize {
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// A started server. Dropping it does not stop it; call [`Server::shutdown`].
pub struct Server {
    inner: Arc<ServerInner>,
    addr: SocketAddr,
    ports_file: Option<PathBuf>,
}

impl Server {
    /// Binds the client listener and starts accepting connections.
    pub async fn start(opts: Options) -> io::Result<Server> {
        Server::start_with(opts, None, &[]).await
    }

    /// [`Server::start`], logging the config file and its warnings after the
    /// banner, where nats-server logs them.
    pub async fn start_with(opts: Options, config_file: Option<&str>, warnings: &[String]) -> io::Result<Server> {
        opts.validate().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let id = nkeys::KeyPair::new_server().public_key();
        let name = opts.server_name.clone().unwrap_or_else(|| id.clone());
        info!("Starting rnats");
        info!("  Version:  {} (nats-server {} compatible)", env!("CARGO_PKG_VERSION"), COMPAT_VERSION);
        info!("  Name:     {name}");
        info!("  ID:       {id}");
        if let Some(file) = config_file {
            info!("Using configuration file: {file}");
        }
        for w in warnings {
            tracing::warn!("{w}");
        }

        let listener = TcpListener::bind((opts.host.as_str(), opts.port.bind_port())).await.map_err(|e| {
            io::Error::new(e.kind(), format!("Error listening on port: {}:{}, {e}", opts.host, opts.port.bind_port()))
        })?;
        let addr = listener.local_addr()?;
        let pid_file = opts.pid_file.clone();
        let ports_dir = opts.ports_file_dir.clone();
        let host = opts.host.clone();

        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let inner = Arc::new(ServerInner {
            auth: ArcSwap::from_pointee(AuthIndex::new(&opts)),
            bcrypt_slots: Arc::new(tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1))),
            opts: ArcSwap::from_pointee(opts),
            id,
            name,
            sublist: Sublist::new(),
            clients: Mutex::new(HashMap::new()),
            // Ids 1-4 are internal clients in nats-server; keeping the same
            // first id makes logs and /connz line up between the two.
            next_cid: AtomicU64::new(5),
            stats: Arc::new(ServerStats::default()),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            start: SystemTime::now(),
            client_addr: OnceLock::new(),
        });
        let _ = inner.client_addr.set(addr);

        if let Some(pid_file) = pid_file {
            std::fs::write(&pid_file, std::process::id().to_string())
                .map_err(|e| io::Error::new(e.kind(), format!("Could not write pidfile: {e}")))?;
        }
        info!("Listening for client connections on {}:{}", host, addr.port());
        let ports_file = match ports_dir {
            Some(dir) => Some(write_ports_file(&dir, &host, addr.port())?),
            None => None,
        };
        info!("Server is ready");

        inner.tracker.spawn(accept_loop(inner.clone(), listener));
        Ok(Server { inner, addr, ports_file })
    }

    /// The address the client listener is bound to.
    pub fn client_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn inner(&self) -> &Arc<ServerInner> {
        &self.inner
    }

    /// Stops accepting, lets every connection flush its pending output, closes
    /// them, and waits (bounded) for all tasks to end.
    pub async fn shutdown(&self) {
        info!("Initiating Shutdown...");
        self.inner.shutdown.cancel();
        self.inner.tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.inner.tracker.wait()).await.is_err() {
            error!("Timed out waiting for connections to close");
        }
        if let Some(p) = &self.ports_file {
            let _ = std::fs::remove_file(p);
        }
        info!("Server Exiting..");
    }
}

async fn accept_loop(inner: Arc<ServerInner>, listener: TcpListener) {
    let mut backoff = Duration::from_millis(10);
    loop {
        tokio::select! {
            _ = inner.shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok((stream, addr)) => {
                    backoff = Duration::from_millis(10);
                    inner.tracker.spawn(client::run(inner.clone(), stream, addr));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    error!("Temporary Client Accept Error ({e}), sleeping {}ms", backoff.as_millis());
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
    debug!("Client accept loop exiting..");
}

/// `<dir>/<exe>_<pid>.ports`, as nats-server writes it, so harnesses that start
/// the server on a random port (`-p -1`) can find it.
fn write_ports_file(dir: &str, host: &str, port: u16) -> io::Result<PathBuf> {
    let exe = std::env::args()
        .next()
        .and_then(|a| std::path::Path::new(&a).file_name().map(|f| f.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "rnats".into());
    let path = PathBuf::from(dir).join(format!("{exe}_{}.ports", std::process::id()));
    let host = if host == "0.0.0.0" || host == "::" { "127.0.0.1" } else { host };
    let body = serde_json::json!({ "nats": [format!("nats://{host}:{port}")] });
    std::fs::write(&path, body.to_string())
        .map_err(|e| io::Error::new(e.kind(), format!("Error writing ports file ({}): {e}", path.display())))?;
    Ok(path)
}
