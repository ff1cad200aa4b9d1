//! The files a running server keeps for other programs: the pid file (for
//! `--signal`, systemd, init scripts) and the ports file (for test harnesses
//! that start the server on a random port). Written at start, moved when a
//! reload changes their location, removed at exit.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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

    /// Writes `<dir>/<exe>_<pid>.ports`, as nats-server does, so harnesses
    /// that start the server on a random port (`-p -1`) can find it.
    /// `cluster`: the route listener's host and address, when clustered.
    pub fn set_ports_dir(
        &self,
        dir: Option<&str>,
        host: &str,
        client: SocketAddr,
        cluster: Option<(&str, SocketAddr)>,
    ) -> io::Result<()> {
        let mut w = self.written.lock().unwrap_or_else(|e| e.into_inner());
        let new = match dir {
            Some(dir) => Some(write_ports_file(Path::new(dir), host, client.port(), w.monitoring.as_deref(), cluster)?),
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

fn write_ports_file(
    dir: &Path,
    host: &str,
    port: u16,
    monitoring: Option<&str>,
    cluster: Option<(&str, SocketAddr)>,
) -> io::Result<PathBuf> {
    let exe = std::env::args()
        .next()
        .and_then(|a| Path::new(&a).file_name().map(|f| f.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "rnats".into());
    let path = dir.join(format!("{exe}_{}.ports", std::process::id()));
    let local =
        |h: &str| if h == "0.0.0.0" || h == "::" || h.is_empty() { "127.0.0.1".to_string() } else { h.to_string() };
    let mut body = serde_json::json!({ "nats": [format!("nats://{}:{port}", local(host))] });
    if let Some(url) = monitoring {
        body["monitoring"] = serde_json::json!([url]);
    }
    if let Some((chost, caddr)) = cluster {
        body["cluster"] = serde_json::json!([format!("nats://{}:{}", local(chost), caddr.port())]);
    }
    std::fs::write(&path, body.to_string())
        .map_err(|e| io::Error::new(e.kind(), format!("Error writing ports file ({}): {e}", path.display())))?;
    Ok(path)
}
