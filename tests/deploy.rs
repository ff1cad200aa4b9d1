//! The deployment files and the systemd integration, tested through the
//! built binary: sd_notify messages in order, the container's default config,
//! the Dockerfile's shape (no Docker engine here), the systemd unit through
//! `systemd-analyze verify`, and the logrotate snippet through logrotate.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);
const RNATS: &str = env!("CARGO_BIN_EXE_rnats");

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_file(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A child process killed on drop, so a failed assertion leaves nothing running.
struct Proc(Child);

impl Proc {
    fn spawn(cmd: &mut Command) -> Proc {
        Proc(cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("rnats starts"))
    }

    fn signal(&self, sig: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.0.id() as i32).expect("pid");
        rustix::process::kill_process(pid, sig).expect("signal delivered");
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "rnats did not exit in time");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The client address from the ports file rnats writes into `dir`, if any yet.
fn ports_file_addr(dir: &Path) -> Option<SocketAddr> {
    let entry = std::fs::read_dir(dir).ok()?.flatten().find(|e| e.file_name().to_string_lossy().ends_with(".ports"))?;
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(entry.path()).ok()?).ok()?;
    json["nats"][0].as_str()?.trim_start_matches("nats://").parse().ok()
}

fn wait_ports_file(dir: &Path, proc: &mut Proc) -> SocketAddr {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(addr) = ports_file_addr(dir) {
            return addr;
        }
        if let Some(status) = proc.0.try_wait().expect("try_wait") {
            panic!("rnats exited before listening: {status}");
        }
        assert!(Instant::now() < deadline, "no ports file in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Connects and reads the INFO line: proof the client port accepts.
fn expect_info(addr: SocketAddr) {
    let stream = TcpStream::connect_timeout(&addr, WAIT).expect("client port accepts");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).expect("INFO line");
    assert!(line.starts_with("INFO {"), "{line:?}");
}

fn recv(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 1024];
    let n = sock.recv(&mut buf).expect("a notification in time");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Prints a loud notice for a test that needs a tool this machine lacks.
fn skip_loudly(test: &str, tool: &str, install: &str) {
    eprintln!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !! SKIPPED {test}: `{tool}` is not installed ({install}).\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

#[test]
fn sd_notify_ready_after_listening_then_stopping_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind notify socket");
    sock.set_read_timeout(Some(WAIT)).expect("timeout");
    let ports = dir.path().join("ports");
    std::fs::create_dir(&ports).expect("ports dir");

    let mut server = Proc::spawn(
        Command::new(RNATS)
            .args(["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir"])
            .arg(&ports)
            .env("NOTIFY_SOCKET", &sock_path),
    );

    assert_eq!(recv(&sock), "READY=1", "the first notification");
    // READY=1 promises a listening server: the port is known and accepts now,
    // with no retry.
    let addr = ports_file_addr(&ports).expect("ports file written before READY=1");
    expect_info(addr);

    server.signal(rustix::process::Signal::TERM);
    assert_eq!(recv(&sock), "STOPPING=1", "the notification after SIGTERM");
    assert!(server.wait_exit().success());
    sock.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 64];
    assert!(sock.recv(&mut buf).is_err(), "nothing after STOPPING=1");
}

/// Around a reload (by SIGHUP here; --watch and requests take the same
/// path) systemd hears RELOADING=1 with a timestamp, then READY=1, even when
/// the reload fails.
#[test]
fn sd_notify_reloading_then_ready_around_a_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind notify socket");
    sock.set_read_timeout(Some(WAIT)).expect("timeout");
    let conf = dir.path().join("s.conf");
    std::fs::write(&conf, "max_payload: 1MB").unwrap();
    let server = rnats::tools::spawn::Spawn::new(Path::new(RNATS))
        .args(&["-c", conf.to_str().unwrap()])
        .env("NOTIFY_SOCKET", &sock_path)
        .start()
        .expect("rnats starts");
    assert_eq!(recv(&sock), "READY=1");
    for text in ["max_payload: 2KB", "max_payload: {"] {
        std::fs::write(&conf, text).unwrap();
        server.signal(rustix::process::Signal::HUP).expect("signal");
        let reloading = recv(&sock);
        assert!(reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="), "{reloading:?}");
        assert_eq!(recv(&sock), "READY=1", "after the reload of {text:?}");
    }
}

#[test]
fn sd_notify_unset_means_silent() {
    // No NOTIFY_SOCKET: the server starts and stops as before.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Proc::spawn(
        Command::new(RNATS)
            .args(["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir"])
            .arg(dir.path())
            .env_remove("NOTIFY_SOCKET"),
    );
    expect_info(wait_ports_file(dir.path(), &mut server));
    server.signal(rustix::process::Signal::TERM);
    assert!(server.wait_exit().success());
}

#[test]
fn docker_default_config_checks_and_serves() {
    let conf = repo_file("deploy/nats-server.conf");
    let out = Command::new(RNATS).arg("check").arg("--strict").arg(&conf).output().expect("rnats check runs");
    assert!(
        out.status.success(),
        "rnats check --strict deploy/nats-server.conf:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = read("deploy/nats-server.conf");
    assert!(text.lines().any(|l| l.trim() == "port: 4222"), "clients on 4222 as the official image");
    assert!(text.lines().any(|l| l.trim() == "monitor_port: 8222"), "monitoring on 8222 as the official image");

    // The same file, on loopback and OS-picked ports (-m -1 as nats-server
    // takes it, so the test never binds 8222 once monitoring lands).
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Proc::spawn(
        Command::new(RNATS)
            .arg("--config")
            .arg(&conf)
            .args(["-a", "127.0.0.1", "-p", "-1", "-m", "-1", "--ports_file_dir"])
            .arg(dir.path()),
    );
    expect_info(wait_ports_file(dir.path(), &mut server));
    server.signal(rustix::process::Signal::TERM);
    assert!(server.wait_exit().success());
}

/// The Dockerfile's instructions, continuation lines joined.
fn dockerfile_instructions() -> Vec<(String, String)> {
    let text = read("Dockerfile");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        current.push_str(t.trim_end_matches('\\'));
        current.push(' ');
        if !t.ends_with('\\') {
            let (op, rest) = current.trim().split_once(' ').unwrap_or((current.trim(), ""));
            out.push((op.to_ascii_uppercase(), rest.trim().to_string()));
            current.clear();
        }
    }
    out
}

/// Whether a path is sent to the Docker daemon under `.dockerignore`: the
/// last matching pattern wins, a pattern matches a path or any parent, `*`
/// matches one path segment (the subset of Docker's rules the file uses).
fn docker_context_includes(ignore: &str, path: &str) -> bool {
    fn matches(pattern: &str, path: &str) -> bool {
        let pattern = pattern.trim_end_matches('/');
        let segs: Vec<&str> = path.split('/').collect();
        (1..=segs.len()).any(|n| {
            let prefix: Vec<&str> = segs[..n].to_vec();
            let pat: Vec<&str> = pattern.split('/').collect();
            pat.len() == prefix.len() && pat.iter().zip(&prefix).all(|(p, s)| *p == "*" || p == s)
        })
    }
    let mut included = true;
    for line in ignore.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        match line.strip_prefix('!') {
            Some(p) if matches(p, path) => included = true,
            None if matches(line, path) => included = false,
            _ => {}
        }
    }
    included
}

#[test]
fn dockerfile_shape() {
    let ins = dockerfile_instructions();
    let froms: Vec<usize> = ins.iter().enumerate().filter(|(_, (op, _))| op == "FROM").map(|(i, _)| i).collect();
    assert_eq!(froms.len(), 2, "multi-stage: a build stage and a runtime stage");
    assert!(ins[froms[0]].1.ends_with(" AS build"), "{:?}", ins[froms[0]]);
    let build = &ins[froms[0]..froms[1]];
    let runtime = &ins[froms[1]..];
    let get = |stage: &[(String, String)], op: &str| -> Vec<String> {
        stage.iter().filter(|(o, _)| o == op).map(|(_, a)| a.clone()).collect()
    };

    let run = get(build, "RUN").join(" ");
    assert!(run.contains("cargo build --release --locked --bin rnats"), "{run}");
    assert!(run.contains("/out/rnats"), "{run}");
    assert!(!get(runtime, "RUN").iter().any(|r| r.contains("cargo")), "no toolchain in the final image");

    let user = get(runtime, "USER");
    assert_eq!(user.len(), 1, "the runtime stage sets its user");
    let uid = user[0].split(':').next().unwrap_or_default();
    assert!(uid != "root" && uid != "0" && !uid.is_empty(), "non-root user, got {uid:?}");

    let mut exposed: Vec<String> =
        get(runtime, "EXPOSE").iter().flat_map(|e| e.split_whitespace().map(String::from)).collect();
    exposed.sort();
    assert_eq!(exposed, ["4222", "6222", "8222"]);

    let entry: Vec<String> = serde_json::from_str(&get(runtime, "ENTRYPOINT")[0]).expect("exec-form ENTRYPOINT");
    assert_eq!(entry, ["/usr/local/bin/rnats"]);
    let cmd: Vec<String> = serde_json::from_str(&get(runtime, "CMD")[0]).expect("exec-form CMD");
    assert_eq!(cmd[0], "--config");

    // The config CMD names is the one copied in from the repository, and the
    // build context carries it and everything cargo needs.
    let ignore = read(".dockerignore");
    let copies = get(runtime, "COPY");
    let conf_copy = copies.iter().find(|c| !c.starts_with("--from")).expect("a COPY from the context");
    let (src, dst) = conf_copy.split_once(' ').expect("COPY SRC DST");
    assert_eq!(dst, cmd[1], "CMD --config names the copied file");
    assert!(repo_file(src).is_file(), "{src} exists");
    for needed in [src, "Cargo.toml", "Cargo.lock", "src/main.rs", "src/lib.rs", "grammar/nats.pest", "benches/core.rs"]
    {
        assert!(repo_file(needed).exists(), "{needed} exists");
        assert!(docker_context_includes(&ignore, needed), ".dockerignore keeps {needed}");
    }
    for heavy in ["target/debug/rnats", ".git/HEAD", "fuzz/Cargo.toml", "tests/deploy.rs"] {
        assert!(!docker_context_includes(&ignore, heavy), ".dockerignore drops {heavy}");
    }
}

#[test]
fn systemd_unit_verifies() {
    let unit = read("deploy/rnats.service");
    for line in [
        "Type=notify",
        "ExecReload=/bin/kill -s HUP $MAINPID",
        "ExecStop=/bin/kill -s SIGUSR2 $MAINPID",
        "TimeoutStopSec=150",
        "NotifyAccess=main",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit has {line:?}");
    }
    let families = unit.lines().find_map(|l| l.strip_prefix("RestrictAddressFamilies=")).expect("address families");
    assert!(families.split_whitespace().any(|f| f == "AF_UNIX"), "sd_notify needs AF_UNIX: {families}");

    if !have("systemd-analyze") {
        skip_loudly("systemd_unit_verifies", "systemd-analyze", "apt-get install systemd");
        return;
    }
    // verify insists the ExecStart binary exists: point it at the one built.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rnats.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/rnats", RNATS)).expect("write unit");
    let out = Command::new("systemd-analyze").arg("verify").arg(&path).output().expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Unknown keys and bad values are warnings with exit code 0: refuse them too.
    assert!(out.status.success() && stderr.trim().is_empty(), "systemd-analyze verify: {}\n{stderr}", out.status);
}

#[test]
fn logrotate_snippet_makes_rnats_reopen_its_log() {
    if !have("logrotate") {
        skip_loudly("logrotate_snippet_makes_rnats_reopen_its_log", "logrotate", "apt-get install logrotate");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("log");
    let run = dir.path().join("run");
    std::fs::create_dir(&logs).expect("log dir");
    std::fs::create_dir(&run).expect("run dir");
    let snippet = read("deploy/logrotate")
        .replace("/var/log/rnats", &logs.to_string_lossy())
        .replace("/run/rnats", &run.to_string_lossy());
    let conf = dir.path().join("logrotate.conf");
    std::fs::write(&conf, snippet).expect("write logrotate conf");

    let log = logs.join("rnats.log");
    let pid = run.join("rnats.pid");
    let mut server = Proc::spawn(
        Command::new(RNATS)
            .args(["-a", "127.0.0.1", "-p", "-1", "-l"])
            .arg(&log)
            .arg("--pid")
            .arg(&pid)
            .arg("--ports_file_dir")
            .arg(dir.path()),
    );
    expect_info(wait_ports_file(dir.path(), &mut server));
    let out = Command::new("logrotate")
        .arg("-f")
        .arg("-s")
        .arg(dir.path().join("state"))
        .arg(&conf)
        .output()
        .expect("logrotate runs");
    assert!(out.status.success(), "logrotate: {}", String::from_utf8_lossy(&out.stderr));

    let rotated = std::fs::read_to_string(logs.join("rnats.log.1")).expect("the old log, renamed");
    assert!(rotated.contains("Server is ready"), "{rotated}");
    // The server writes its reopen note into the new file (nats-server does too).
    let deadline = Instant::now() + WAIT;
    loop {
        let fresh = std::fs::read_to_string(&log).unwrap_or_default();
        if fresh.contains("File log re-opened") {
            assert!(!fresh.contains("Server is ready"), "the new file starts fresh: {fresh}");
            break;
        }
        assert!(Instant::now() < deadline, "no reopened log in time; have {fresh:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.signal(rustix::process::Signal::TERM);
    assert!(server.wait_exit().success());
}
