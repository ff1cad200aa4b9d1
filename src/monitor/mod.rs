//! The HTTP monitoring port, as nats-server serves it and as operators'
//! tools read it (nats-top, the nats CLI, prometheus-nats-exporter,
//! Grafana): `/varz`, `/connz`, `/routez`, `/subsz`, `/healthz`, the
//! feature-off answers of `/gatewayz`, `/leafz`, `/jsz`, `/accountz`,
//! `/accstatz`, and `/` with links; plus rnats's `/metrics` (Prometheus
//! text, named as the exporter names it) and `/dashboard` (a live page).
//!
//! Layout: [`serve`] accepts (HTTP, or HTTPS with the `tls` block's
//! certificate) and runs hyper; [`router`] maps a request to an endpoint,
//! checks `http_auth`, counts it and wraps JSONP; one file per endpoint
//! builds its document from the server's state; [`gojson`] and [`gotime`]
//! write it byte for byte as Go does.
//!
//! Nothing here runs on the message path: documents are built per request
//! from counters connections keep for themselves (see
//! [`crate::server::stats`]).

pub(crate) mod absent;
pub(crate) mod account_directory;
pub mod account_rows;
pub(crate) mod accountz;
pub(crate) mod auth;
pub mod connz;
pub(crate) mod dashboard;
pub(crate) mod gojson;
pub mod gotime;
pub(crate) mod healthz;
pub(crate) mod metrics;
pub(crate) mod process;
pub(crate) mod query;
pub(crate) mod reply;
pub(crate) mod reqstats;
pub(crate) mod root;
pub(crate) mod router;
pub(crate) mod routez;
pub(crate) mod serve;
pub(crate) mod sublist_stats;
pub(crate) mod subsz;
pub mod system_data;
pub(crate) mod varz;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tracing::info;

use crate::server::state::ServerState;

/// What every monitoring request shares.
pub struct Monitor {
    pub server: Arc<ServerState>,
    /// The normalised `http_base_path`: "" or `/mon` (leading slash, no
    /// trailing one).
    pub base: String,
    pub stats: reqstats::ReqStats,
    cpu: process::CpuSampler,
    auth: auth::AuthCache,
}

impl Monitor {
    pub fn new(server: Arc<ServerState>, base_path: Option<&str>) -> Monitor {
        Monitor {
            server,
            base: normalise_base(base_path.unwrap_or_default()),
            stats: reqstats::ReqStats::default(),
            cpu: process::CpuSampler::default(),
            auth: auth::AuthCache::default(),
        }
    }
}

/// nats-server's base path handling: a leading `/`, cleaned (`mon/` →
/// `/mon`); `/` alone is no prefix.
pub fn normalise_base(base: &str) -> String {
    if base.is_empty() {
        return String::new();
    }
    let cleaned = router::clean_path(&format!("/{}", base.trim_start_matches('/')));
    cleaned.trim_end_matches('/').to_string()
}

/// Starts the monitoring port the configuration asks for, if any: binds it,
/// logs `Starting http monitor on <host>:<port>` (or `https`), and serves it
/// until the server shuts down. Returns its URL (for the ports file).
///
/// Refuses, as nats-server does, both an HTTP and an HTTPS port, and HTTPS
/// without a `tls` block.
pub async fn start(server: &Arc<ServerState>) -> io::Result<Option<String>> {
    let snap = server.snapshot();
    let opts = &snap.opts;
    let http = opts.http_port.filter(|p| *p != 0);
    let https = opts.https_port.filter(|p| *p != 0);
    let fail = |why: String| io::Error::new(io::ErrorKind::InvalidInput, format!("Can't start monitoring: {why}"));
    let (port, tls) = match (http, https) {
        (Some(h), Some(s)) => return Err(fail(format!("can't specify both HTTP ({h}) and HTTPs ({s}) ports"))),
        (None, None) => return Ok(None),
        (Some(p), None) => (p, None),
        (None, Some(p)) => match &snap.tls {
            Some(tls) => (p, Some(tls.https.clone())),
            None => return Err(fail("TLS cert and key required for HTTPS".into())),
        },
    };
    let host = opts.http_host.clone().unwrap_or_else(|| opts.host.clone());
    let bind_port = if port < 0 { 0 } else { port as u16 };
    let listener = crate::server::bind::tcp_listener(&host, bind_port).await.map_err(|e| {
        fail(format!("can't listen to the monitor port: listen tcp {}: {e}", join_host_port(&host, bind_port)))
    })?;
    let addr: SocketAddr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    server.files().set_monitoring(scheme, addr);
    info!("Starting {scheme} monitor on {}", join_host_port(&host, addr.port()));
    let monitor = Arc::new(Monitor::new(server.clone(), opts.http_base_path.as_deref()));
    server.spawn(serve::serve(monitor, listener, tls));
    let url_host = if host == "0.0.0.0" || host == "::" || host.is_empty() { "127.0.0.1" } else { host.as_str() };
    Ok(Some(format!("{scheme}://{}", join_host_port(url_host, addr.port()))))
}

/// Go's `net.JoinHostPort`: IPv6 literals in brackets.
fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base_paths_as_nats_server() {
        assert_eq!(super::normalise_base(""), "");
        assert_eq!(super::normalise_base("/"), "");
        assert_eq!(super::normalise_base("mon/"), "/mon");
        assert_eq!(super::normalise_base("/a//b/"), "/a/b");
    }
}
