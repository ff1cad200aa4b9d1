//! Starting and stopping a whole server: the client listener, then
//! monitoring, websocket and routes around the shared [`ServerState`], the
//! pid and ports files, and a bounded graceful stop. It sits above
//! [`crate::server`], [`crate::monitor`] and [`crate::websocket`], which do
//! not import it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tracing::{error, info};

use crate::options::{Options, COMPAT_VERSION};
use crate::server::route::urls::join_host_port;
use crate::server::snapshot::Snapshot;
use crate::server::state::ServerState;
use crate::server::{bind, listener, route};

/// How long a graceful stop waits for connections to flush and close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A started server. Dropping it does not stop it; call [`Server::shutdown`].
pub struct Server {
    state: Arc<ServerState>,
    addr: SocketAddr,
    /// The monitoring port's URL, when it is on.
    monitor_url: Option<String>,
}

impl Server {
    /// Binds the client listener and starts accepting connections.
    pub async fn start(opts: Options) -> io::Result<Server> {
        Server::start_with(opts, None, &[]).await
    }

    /// [`Server::start`] for a configuration read from a file (its name and
    /// digest), logging the file and its warnings after the banner, where
    /// nats-server logs them.
    pub async fn start_with(
        opts: Options,
        config_file: Option<(String, String)>,
        warnings: &[String],
    ) -> io::Result<Server> {
        opts.validate().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let id = nkeys::KeyPair::new_server().public_key();
        let name = opts.server_name.clone().unwrap_or_else(|| id.clone());
        info!("Starting rnats");
        info!("  Version:  {} (nats-server {} compatible)", env!("CARGO_PKG_VERSION"), COMPAT_VERSION);
        info!("  Name:     {name}");
        info!("  ID:       {id}");
        if let Some((file, digest)) = &config_file {
            info!("Using configuration file: {file} ({digest})");
        }
        for w in warnings {
            tracing::warn!("{w}");
        }

        let listener = bind::tcp_listener(&opts.host, opts.port.bind_port()).await.map_err(|e| {
            io::Error::new(e.kind(), format!("Error listening on port: {}:{}, {e}", opts.host, opts.port.bind_port()))
        })?;
        let addr = listener.local_addr()?;
        let host = opts.host.clone();
        let (pid_file, ports_dir) = (opts.pid_file.clone(), opts.ports_file_dir.clone());
        let snapshot = Snapshot::compile(opts, 1, config_file.map(|(_, digest)| digest))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let state = ServerState::new(snapshot, id, name);
        state.set_client_addr(addr);
        // Before the client listener's line, as nats-server: the monitoring
        // port is up first, to watch the server start.
        let monitor_url = crate::monitor::start(&state).await?;
        // The websocket listener before the client listener's line, as nats-server.
        let ws_listener = match crate::websocket::listener::bind(&state).await {
            Ok(l) => l,
            Err(e) => {
                state.begin_shutdown();
                return Err(e);
            }
        };
        if let Err(e) = state.files().set_pid_file(pid_file.as_deref()) {
            // The monitoring port may be serving already: stop it.
            state.begin_shutdown();
            return Err(e);
        }
        info!("Listening for client connections on {}", join_host_port(&host, addr.port()));
        if let Some(tls) = &state.snapshot().tls {
            // After the listener's line, as nats-server; handshake_first
            // without a fallback delay overrides allow_non_tls.
            let handshake_first_only = tls.handshake_first && tls.handshake_first_fallback.is_none();
            if state.snapshot().opts.allow_non_tls && !handshake_first_only {
                info!("TLS available for client connections");
            } else {
                info!("TLS required for client connections");
            }
            if handshake_first_only {
                tracing::warn!("Clients that are not using \"TLS Handshake First\" option will fail to connect");
            }
        }
        info!("Server is ready");
        // Routes after "Server is ready", as nats-server starts them (on a
        // goroutine of their own, once the client port is known); the
        // ports file once every listener is bound, as its `logPorts` waits.
        let mut files = route::start(&state).await;
        if files.is_ok() {
            let cluster_addr = state.cluster().and_then(|c| c.listen_addr());
            files = state.files().set_ports_dir(ports_dir.as_deref(), &state.snapshot().opts, addr, cluster_addr);
        }
        if let Err(e) = files {
            state.begin_shutdown();
            return Err(e);
        }

        // Its subscriptions are in place before the first client can ask.
        crate::server::system::start(&state, Arc::new(crate::monitor::system_data::SystemData::new(state.clone())));
        crate::server::operator::background::start(&state);
        state.spawn(listener::accept_clients(state.clone(), listener));
        state.spawn(sweep_responses(state.clone()));
        if let Some(ws) = ws_listener {
            state.spawn(crate::websocket::listener::accept_websockets(state.clone(), ws));
        }
        Ok(Server { state, addr, monitor_url })
    }

    /// The monitoring port's URL (`http://127.0.0.1:8222`), when it is on.
    pub fn monitor_url(&self) -> Option<&str> {
        self.monitor_url.as_deref()
    }

    /// The address the client listener is bound to.
    pub fn client_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &Arc<ServerState> {
        &self.state
    }

    /// Stops accepting, lets every connection flush its pending output, closes
    /// them, and waits (bounded) for all tasks to end.
    pub async fn shutdown(&self) {
        info!("Initiating Shutdown...");
        self.state.begin_shutdown();
        if !self.state.wait_for_tasks(SHUTDOWN_GRACE).await {
            error!("Timed out waiting for connections to close");
        }
        self.state.files().remove_ports_file();
        info!("Server Exiting..");
    }
}

/// How often pending service responses past their threshold are freed. A
/// response that arrives late is dropped anyway; this bounds memory.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Frees expired pending service responses until the server stops.
async fn sweep_responses(server: Arc<ServerState>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = server.shutting_down() => return,
            now = tick.tick() => {
                server.accounts().sweep_responses(now);
            }
        }
    }
}
