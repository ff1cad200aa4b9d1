//! The soak's three servers: their configs, users files and processes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::tools::spawn::{ServerProcess, Spawn};

/// A free loopback port (bound, then released for the server to take).
pub(super) fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// One server of the cluster: its binary, files and ports, and the process
/// while it runs.
pub(super) struct Node {
    pub(super) name: &'static str,
    pub(super) bin: PathBuf,
    pub(super) conf: PathBuf,
    pub(super) users: PathBuf,
    pub(super) client: SocketAddr,
    pub(super) process: Option<ServerProcess>,
}

impl Node {
    pub(super) fn start(&mut self) -> Result<(), String> {
        let p = Spawn::exact(&self.bin)
            .args(&["-c", self.conf.to_str().unwrap_or_default()])
            .start()
            .map_err(|e| format!("{} did not start: {e}", self.name))?;
        self.process = Some(p);
        Ok(())
    }

    /// SIGKILL (dropping the process kills it).
    pub(super) fn kill(&mut self) {
        self.process = None;
    }

    pub(super) fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.pid())
    }
}

/// The users file every server includes: healthy users whose permissions
/// never change, churned users added and removed, and one user whose
/// permissions flip each round.
pub(super) fn users_file(round: u64) -> String {
    let mut t = String::from("authorization { users = [\n");
    t.push_str("  {user: healthy, password: h}\n");
    t.push_str("  {user: cross, password: c}\n");
    let flip = if round.is_multiple_of(2) { "\"flip.a.>\"" } else { "\"flip.b.>\"" };
    t.push_str(&format!("  {{user: flip, password: f, permissions: {{publish: [{flip}, \"_INBOX.>\"]}}}}\n"));
    // Churned users: a window of names moving with the rounds.
    for i in round..round + 8 {
        t.push_str(&format!("  {{user: churn{i}, password: c{i}}}\n"));
    }
    t.push_str("] }\n");
    t
}

pub(super) fn server_conf(
    client: u16,
    route: u16,
    routes: &[u16],
    http: Option<u16>,
    name: &str,
    users: &Path,
) -> String {
    let routes: Vec<String> = routes.iter().map(|p| format!("\"nats-route://127.0.0.1:{p}\"")).collect();
    let mut t = format!(
        "server_name: {name}\nlisten: 127.0.0.1:{client}\ninclude \"{}\"\n\
         cluster {{\n  name: soak\n  listen: 127.0.0.1:{route}\n  routes: [{}]\n}}\n",
        // Relative: nats-server joins even an absolute include to the
        // including file's directory.
        users.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        routes.join(", ")
    );
    if let Some(h) = http {
        t.push_str(&format!("http: 127.0.0.1:{h}\n"));
    }
    t
}

pub(super) fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("rnats-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

pub(super) async fn wait_routes(url: &str, n: usize, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(body) = http_get(url).await {
            if serde_json::from_str::<serde_json::Value>(&body)
                .is_ok_and(|v| v["num_routes"].as_u64() == Some(n as u64))
            {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!("the cluster did not form ({n} routes on A) within {within:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One GET through the tools' hyper client (`rnats top`'s); the body.
pub(super) async fn http_get(url: &str) -> std::io::Result<String> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (hostport, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let stream = TcpStream::connect(hostport).await?;
    let response = crate::tools::top::http::exchange(stream, hostport, &path, Duration::from_secs(5))
        .await
        .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    Ok(String::from_utf8_lossy(&response.body).into_owned())
}
