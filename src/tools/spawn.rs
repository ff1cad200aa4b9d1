//! Server processes started by tests, `rnats bench --compare` and other
//! tools: rnats itself or the reference nats-server, on 127.0.0.1 with an
//! OS-chosen port (`-p -1`), found through the ports file nats-server writes.
//! The process is killed and reaped on drop, on every path.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a process may take to write its ports file.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How often files are polled while waiting for a process: often at first
/// (a server is up within milliseconds), then less.
const POLL_FIRST: Duration = Duration::from_millis(1);
const POLL: Duration = Duration::from_millis(20);

/// A started server process with its own scratch directory (ports file,
/// log file, configs a caller puts there).
pub struct ServerProcess {
    child: Child,
    /// The client address, from the ports file.
    pub addr: SocketAddr,
    dir: PathBuf,
    /// Where stderr goes when the process was started with [`Spawn::log`].
    log: Option<PathBuf>,
}

/// How to start a [`ServerProcess`].
pub struct Spawn<'a> {
    bin: &'a Path,
    args: Vec<String>,
    env: Vec<(String, std::ffi::OsString)>,
    log: bool,
    /// Only the caller's arguments; the port comes from the log line.
    exact: bool,
}

/// The line nats-server logs once clients can connect; the official clients'
/// test harnesses read the port from it.
pub const LISTENING: &str = "Listening for client connections on ";

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

fn scratch_dir() -> io::Result<PathBuf> {
    let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("rnats-spawn-{}-{n}-{:08x}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

impl<'a> Spawn<'a> {
    /// `bin -a 127.0.0.1 -p -1 --ports_file_dir DIR`, plus `args`.
    pub fn new(bin: &'a Path) -> Spawn<'a> {
        Spawn { bin, args: Vec::new(), env: Vec::new(), log: false, exact: false }
    }

    /// `bin` with only the caller's arguments and the log kept in a file;
    /// the process counts as started once it logs [`LISTENING`], and the port
    /// is read from that line, the way client test harnesses find it.
    pub fn exact(bin: &'a Path) -> Spawn<'a> {
        Spawn { bin, args: Vec::new(), env: Vec::new(), log: true, exact: true }
    }

    pub fn args<S: AsRef<str>>(mut self, args: &[S]) -> Spawn<'a> {
        self.args.extend(args.iter().map(|a| a.as_ref().to_string()));
        self
    }

    /// Sets an environment variable for the process.
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Spawn<'a> {
        self.env.push((key.to_string(), value.as_ref().to_os_string()));
        self
    }

    /// Keeps stderr (the log) in a file, for [`ServerProcess::log_text`].
    pub fn log(mut self) -> Spawn<'a> {
        self.log = true;
        self
    }

    /// Starts the process and waits (at most [`START_TIMEOUT`]) for its port.
    pub fn start(self) -> io::Result<ServerProcess> {
        let dir = scratch_dir()?;
        let log = self.log.then(|| dir.join("server.log"));
        let stderr = match &log {
            Some(path) => Stdio::from(std::fs::File::create(path)?),
            None => Stdio::null(),
        };
        let mut cmd = Command::new(self.bin);
        if !self.exact {
            cmd.args(["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir"]).arg(&dir);
        }
        let child = cmd
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("start {}: {e}", self.bin.display())))?;
        // Owned from here on, so a failed wait below still kills it (Drop).
        let mut p = ServerProcess { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), dir, log };
        let deadline = Instant::now() + START_TIMEOUT;
        let mut pause = POLL_FIRST;
        loop {
            let found = if self.exact { p.logged_addr() } else { p.ports_file_addr() };
            if let Some(addr) = found {
                p.addr = addr;
                return Ok(p);
            }
            if let Ok(Some(status)) = p.child.try_wait() {
                let log = p.log_text();
                return Err(io::Error::other(format!(
                    "{} exited with {status} before listening\n{log}",
                    self.bin.display()
                )));
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(io::ErrorKind::TimedOut, format!("{} did not start", self.bin.display())));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(POLL);
        }
    }
}

impl ServerProcess {
    fn ports_file_addr(&self) -> Option<SocketAddr> {
        // nats-server lists `tls://` when clients must use TLS.
        let url = self.ports_json()?["nats"][0].as_str()?.to_string();
        url.strip_prefix("nats://").or_else(|| url.strip_prefix("tls://")).unwrap_or(&url).parse().ok()
    }

    /// The monitoring URL from the ports file (`http://127.0.0.1:PORT`),
    /// when the process was started with `-m` and a ports file.
    pub fn monitor_url(&self) -> Option<String> {
        self.ports_json()?["monitoring"][0].as_str().map(str::to_string)
    }

    /// The route listener's address, from the ports file (`cluster`), for a
    /// server started with a cluster block or `--cluster`.
    pub fn cluster_addr(&self) -> Option<SocketAddr> {
        let v = self.ports_json()?;
        let url = v["cluster"][0].as_str()?;
        url.split_once("://").map_or(url, |(_, r)| r).parse().ok()
    }

    /// The websocket listener's address, from the ports file (`websocket`).
    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        let v = self.ports_json()?;
        let url = v["websocket"][0].as_str()?;
        url.split_once("://").map_or(url, |(_, r)| r).parse().ok()
    }

    /// The ports file, as written by the server.
    pub fn ports_json(&self) -> Option<serde_json::Value> {
        let entry = std::fs::read_dir(&self.dir)
            .ok()?
            .flatten()
            .find(|e| e.file_name().to_string_lossy().ends_with(".ports"))?;
        let text = std::fs::read_to_string(entry.path()).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn logged_addr(&self) -> Option<SocketAddr> {
        let text = self.log_text();
        let line = text.lines().find(|l| l.contains(LISTENING))?;
        let hostport = line.rsplit(LISTENING).next()?.trim();
        let port: u16 = hostport.rsplit(':').next()?.parse().ok()?;
        Some(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's scratch directory (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Everything logged so far (empty unless started with [`Spawn::log`]).
    pub fn log_text(&self) -> String {
        self.log.as_ref().and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default()
    }

    /// Waits until the log contains `needle`; returns the log, or `None`
    /// after `timeout`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.log_text();
            if text.contains(needle) {
                return Some(text);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }

    /// Sends a signal (`libc`-style number through rustix).
    pub fn signal(&self, sig: rustix::process::Signal) -> io::Result<()> {
        let pid =
            rustix::process::Pid::from_raw(self.child.id() as i32).ok_or_else(|| io::Error::other("invalid pid"))?;
        rustix::process::kill_process(pid, sig).map_err(io::Error::from)
    }

    /// Waits for the process to exit; its exit code, or `None` after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The reference nats-server: `NATS_SERVER_REF`, or `nats-server` on `PATH`
/// (checked to really be nats-server 2.x, not an rnats symlink). Looked up
/// once per process: the lookup runs `--version` on candidates. A pyenv shim
/// (a shell script that starts Python to find the real file) costs ~150 ms a
/// start, too much for tests that start one per session, so it is resolved
/// to the binary behind it.
pub fn reference_binary() -> Option<PathBuf> {
    static FOUND: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    FOUND.get_or_init(find_reference).clone()
}

fn find_reference() -> Option<PathBuf> {
    let found = reference_on_path()?;
    let is_script = std::fs::read(&found).is_ok_and(|b| b.starts_with(b"#!"));
    if !is_script {
        return Some(found);
    }
    let real = Command::new("pyenv")
        .args(["which", "nats-server"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|p| std::fs::read(p).is_ok_and(|b| !b.starts_with(b"#!")));
    Some(real.unwrap_or(found))
}

fn reference_on_path() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("NATS_SERVER_REF") {
        Some(p) => vec![p.into()],
        None => std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).map(|d| d.join("nats-server")).collect())
            .unwrap_or_default(),
    };
    candidates.into_iter().find(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).starts_with("nats-server: v2"))
    })
}
