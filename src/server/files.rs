//! The files a running server keeps for other programs: the pid file (for
//! `--signal`, systemd, init scripts) and the ports file (for test harnesses
//! that start the server on a random port). Written at start, moved when a
//! reload changes their location, removed at exit.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::interfaces::listener_urls;
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
    /// The monitoring listener (`http` or `https`, and where it is bound),
    /// listed in the ports file.
    monitoring: Option<(&'static str, SocketAddr)>,
    /// The websocket listener (`ws` or `wss`, and where it is bound).
    websocket: Option<(&'static str, SocketAddr)>,
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

    /// The monitoring listener the ports file lists; set before the ports
    /// file is first written.
    pub fn set_monitoring(&self, scheme: &'static str, addr: SocketAddr) {
        self.written.lock().unwrap_or_else(|e| e.into_inner()).monitoring = Some((scheme, addr));
    }

    /// The websocket listener's URL the ports file lists; set before the
    /// ports file is first written.
    pub fn set_websocket(&self, scheme: &'static str, addr: SocketAddr) {
        self.written.lock().unwrap_or_else(|e| e.into_inner()).websocket = Some((scheme, addr));
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
                // nats-server's `Ports`, its fields in its order; each
                // listener's URLs as its `formatURL` writes them.
                let client_scheme = if opts.tls.is_some() && !opts.allow_non_tls { "tls" } else { "nats" };
                let mut body = Ports { nats: listener_urls(client_scheme, client), ..Ports::default() };
                if let Some((scheme, addr)) = w.monitoring {
                    body.monitoring = listener_urls(scheme, addr);
                }
                if let (Some(c), Some(addr)) = (&opts.cluster, cluster) {
                    let scheme = if c.tls.is_some() { "tls" } else { "nats" };
                    body.cluster = listener_urls(scheme, addr);
                }
                if let Some((scheme, addr)) = w.websocket {
                    body.websocket = listener_urls(scheme, addr);
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

/// nats-server's `Ports` document, fields in its order.
#[derive(Debug, Default, serde::Serialize)]
struct Ports {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    nats: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    monitoring: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cluster: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    websocket: Vec<String>,
}

fn write_ports_file(dir: &Path, body: &Ports) -> io::Result<PathBuf> {
    let exe = std::env::args()
        .next()
        .and_then(|a| Path::new(&a).file_name().map(|f| f.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "rnats".into());
    let path = dir.join(format!("{exe}_{}.ports", std::process::id()));
    std::fs::write(&path, serde_json::to_string(body).unwrap_or_default())
        .map_err(|e| io::Error::new(e.kind(), format!("Error writing ports file ({}): {e}", path.display())))?;
    Ok(path)
}
