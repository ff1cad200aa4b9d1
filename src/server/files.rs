//! The files a running server keeps for other programs: the pid file (for
//! `--signal`, systemd, init scripts) and the ports file (for test harnesses
//! that start the server on a random port). Written at start, moved when a
//! reload changes their location, removed at exit.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::options::Options;

#[derive(Debug, Default)]
pub struct ProcessFiles {
    /// The files this process wrote, to move or remove them later. A std
    /// mutex: taken at start, on reload and at exit only.
    written: Mutex<Written>,
}

#[derive(Debug, Default)]
struct Written {
    pid: Option<PathBuf>,
    ports: Option<PathBuf>,
    /// The monitoring port's URL, listed in the ports file.
    monitoring: Option<String>,
    /// The websocket listener's URL (`ws://...` or `wss://...`).
    websocket: Option<String>,
}

impl ProcessFiles {
    /// Writes the pid file at `path` (or none), removing one written before
    /// at another path.
    pub fn set_pid_file(&self, path: Option<&str>) -> io::Result<()> {
        let mut w = self.written.lock().unwrap_or_else(|e| e.into_inner());
        let new = path.map(PathBuf::from);
        if let Some(p) = &new {
            std::fs::write(p, std::process::id().to_string())
                .map_err(|e| io::Error::new(e.kind(), format!("Could not write pidfile: {e}")))?;
        }
        if let Some(old) = w.pid.take().filter(|old| Some(old) != new.as_ref()) {
            let _ = std::fs::remove_file(old);
        }
        w.pid = new;
        Ok(())
    }

    /// The monitoring URL (`http://127.0.0.1:8222`) the ports file lists;
    /// set before the ports file is first written.
    pub fn set_monitoring_url(&self, url: String) {
        self.written.lock().unwrap_or_else(|e| e.into_inner()).monitoring = Some(url);
    }

    /// The websocket listener's URL the ports file lists; set before the
    /// ports file is first written.
    pub fn set_websocket_url(&self, scheme: &str, host: &str, addr: SocketAddr) {
        self.written.lock().unwrap_or_else(|e| e.into_inner()).websocket = Some(url(scheme, host, addr));
    }

    /// Writes `<dir>/<exe>_<pid>.ports`, as nats-server does, so harnesses
    /// that start the server on a random port (`-p -1`) can find it.
    /// `cluster`: the route listener's address, when clustered. URLs say
    /// `tls://` where TLS is required, as nats-server's do.
    pub fn set_ports_dir(
        &self,
        dir: Option<&str>,
        opts: &Options,
        client: SocketAddr,
        cluster: Option<SocketAddr>,
    ) -> io::Result<()> {
        let mut w = self.written.lock().unwrap_or_else(|e| e.into_inner());
        let new = match dir {
            Some(dir) => {
                let client_scheme = if opts.tls.is_some() && !opts.allow_non_tls { "tls" } else { "nats" };
                let mut body = serde_json::json!({ "nats": [url(client_scheme, &opts.host, client)] });
                if let Some(monitoring) = &w.monitoring {
                    body["monitoring"] = serde_json::json!([monitoring]);
                }
                if let (Some(c), Some(addr)) = (&opts.cluster, cluster) {
                    let scheme = if c.tls.is_some() { "tls" } else { "nats" };
                    body["cluster"] = serde_json::json!([url(scheme, &c.host, addr)]);
                }
                if let Some(websocket) = &w.websocket {
                    body["websocket"] = serde_json::json!([websocket]);
                }
                Some(write_ports_file(Path::new(dir), &body)?)
            }
            None => None,
        };
        if let Some(old) = w.ports.take().filter(|old| Some(old) != new.as_ref()) {
            let _ = std::fs::remove_file(old);
        }
        w.ports = new;
        Ok(())
    }

    /// Removes the ports file at exit (nats-server keeps the pid file).
    pub fn remove_ports_file(&self) {
        let mut w = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = w.ports.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// `scheme://host:port`, with a wildcard host written as 127.0.0.1.
fn url(scheme: &str, host: &str, addr: SocketAddr) -> String {
    let host = if host == "0.0.0.0" || host == "::" || host.is_empty() { "127.0.0.1" } else { host };
    format!("{scheme}://{host}:{}", addr.port())
}

fn write_ports_file(dir: &Path, body: &serde_json::Value) -> io::Result<PathBuf> {
    let exe = std::env::args()
        .next()
        .and_then(|a| Path::new(&a).file_name().map(|f| f.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "rnats".into());
    let path = dir.join(format!("{exe}_{}.ports", std::process::id()));
    std::fs::write(&path, body.to_string())
        .map_err(|e| io::Error::new(e.kind(), format!("Error writing ports file ({}): {e}", path.display())))?;
    Ok(path)
}
