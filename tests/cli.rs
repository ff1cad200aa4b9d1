//! The `rnats` binary as operators and test harnesses use it: nats-server's
//! flags, the log lines harnesses read, pid and ports files, signals, exit codes.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_rnats");

/// A server process whose log goes to a file we can read.
struct Proc(rnats::tools::spawn::ServerProcess);

impl Proc {
    fn start(bin: &Path, args: &[&str]) -> Proc {
        let p = rnats::tools::spawn::Spawn::exact(bin).args(args).start().expect("server starts");
        let p = Proc(p);
        p.wait_for_log("Server is ready");
        p
    }

    fn log_text(&self) -> String {
        self.0.log_text()
    }

    fn wait_for_log(&self, needle: &str) -> String {
        match self.0.wait_for_log(needle, WAIT) {
            Some(text) => text,
            None => panic!("log never showed {needle:?}:\n{}", self.log_text()),
        }
    }

    /// The client port, read from the "Listening for client connections" line,
    /// the way the official clients' harnesses find it.
    fn port(&self) -> u16 {
        self.0.addr.port()
    }

    fn wait_exit(&mut self) -> i32 {
        self.0.wait_exit(WAIT * 2).expect("server exits in time")
    }

    fn signal(&self, sig: rustix::process::Signal) {
        self.0.signal(sig).expect("signal sent");
    }

    fn pid(&self) -> u32 {
        self.0.pid()
    }
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).stdin(Stdio::null()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test]
async fn random_port_logs_ports_file_and_sigterm() {
    let ports_dir = tempfile::tempdir().unwrap();
    let pid_file = ports_dir.path().join("rnats.pid");
    let mut p = Proc::start(
        Path::new(BIN),
        &[
            "-a",
            "127.0.0.1",
            "-p",
            "-1",
            "--ports_file_dir",
            ports_dir.path().to_str().unwrap(),
            "-P",
            pid_file.to_str().unwrap(),
        ],
    );
    let port = p.port();
    assert_ne!(port, 0);
    // The pid and ports files are written once every listener is up, a
    // moment after the client port's log line: wait for them.
    let read_when_there = |path: &Path| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            // Complete: the pid file ends its line, the ports file is JSON.
            match std::fs::read_to_string(path) {
                Ok(text) if text.ends_with('\n') || serde_json::from_str::<serde_json::Value>(&text).is_ok() => {
                    return text
                }
                _ => assert!(std::time::Instant::now() < deadline, "{} never appeared", path.display()),
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    };
    let pid: u32 = read_when_there(&pid_file).trim().parse().unwrap();
    assert_eq!(pid, p.pid());
    let ports_file = ports_dir.path().join(format!("rnats_{pid}.ports"));
    let ports: serde_json::Value = serde_json::from_str(&read_when_there(&ports_file)).unwrap();
    assert_eq!(ports["nats"][0], format!("nats://127.0.0.1:{port}"));

    let client = async_nats::connect(format!("127.0.0.1:{port}")).await.unwrap();
    client.flush().await.unwrap();
    let log = p.log_text();
    assert!(log.lines().any(|l| l.ends_with("[INF] Server is ready") && l.starts_with(&format!("[{pid}] "))), "{log}");

    rnats::signals::send("term", Some(pid_file.to_str().unwrap())).unwrap();
    assert_eq!(p.wait_exit(), 0);
    let log = p.log_text();
    assert!(log.contains("Trapped \"terminated\" signal"), "{log}");
    assert!(log.contains("Server Exiting.."), "{log}");
    assert!(!ports_file.exists(), "ports file removed on exit");
}

#[tokio::test]
async fn sigint_stops_with_exit_zero_and_go_style_flags() {
    let mut p = Proc::start(Path::new(BIN), &["--addr=127.0.0.1", "-port=-1", "-DV", "--name=alpha", "-T=false"]);
    let port = p.port();
    let log = p.log_text();
    let first = log.lines().next().unwrap();
    assert!(first.starts_with(&format!("[{}] [INF] ", p.pid())), "-T=false drops the timestamp: {first}");
    assert!(log.contains("Name:     alpha"));
    let mut raw = Raw::connect(format!("127.0.0.1:{port}").parse().unwrap()).await;
    assert_eq!(raw.info_json()["server_name"], "alpha");
    raw.send(b"PING\r\n").await;
    raw.expect(b"PONG\r\n").await;
    p.wait_for_log("[DBG]");
    rnats::signals::send(&format!("quit={}", p.pid()), None).unwrap();
    assert_eq!(p.wait_exit(), 0);
    assert!(p.log_text().contains("Trapped \"interrupt\" signal"));
}

/// Client test harnesses start `nats-server` from PATH; a symlink to rnats
/// with that name must work the same way.
#[tokio::test]
async fn works_as_nats_server_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("nats-server");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let p = Proc::start(&link, &["-p", "-1", "-a", "127.0.0.1", "--ports_file_dir", dir.path().to_str().unwrap()]);
    let port = p.port();
    let ports_file = dir.path().join(format!("nats-server_{}.ports", p.pid()));
    assert!(ports_file.exists(), "ports file named after the executable");
    let version = std::process::Command::new(&link).arg("--version").output().unwrap();
    let want = format!("nats-server: v{}\n", rnats::options::COMPAT_VERSION);
    assert_eq!(String::from_utf8_lossy(&version.stdout), want, "nats-server's own version line");
    let c = async_nats::connect(format!("127.0.0.1:{port}")).await.unwrap();
    let mut sub = c.subscribe("x").await.unwrap();
    c.publish("x", "y".into()).await.unwrap();
    use futures_util::StreamExt;
    let m = tokio::time::timeout(WAIT, sub.next()).await.unwrap().unwrap();
    assert_eq!(m.payload, "y");
}

#[test]
fn help_version_and_errors() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("-p, --port <port>"));
    let (code, out, _) = run(&["-v"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("rnats: v"), "{out}");
    // Harnesses that parse either program's line find a version in it.
    let field = |prefix: &str| out.split(prefix).nth(1).and_then(|v| v.split_whitespace().next()).map(str::to_owned);
    assert_eq!(field("rnats: v").as_deref(), Some(env!("CARGO_PKG_VERSION")), "{out}");
    assert_eq!(field("nats-server: v").as_deref(), Some(rnats::options::COMPAT_VERSION), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    let (code, out2, _) = run(&["version"]);
    assert_eq!((code, out2), (0, out));

    let (code, _, err) = run(&["-bogus"]);
    assert_eq!(code, 1);
    assert!(err.contains("flag provided but not defined: -bogus"), "{err}");
    let (code, _, err) = run(&["-p", "abc"]);
    assert_eq!(code, 1);
    assert!(err.contains("invalid value \"abc\" for flag -p"), "{err}");
    let (code, _, err) = run(&["-T", "false"]);
    assert_eq!(code, 1);
    assert!(err.contains("unrecognized command: \"false\""), "{err}");
    let (code, _, err) = run(&["-t"]);
    assert_eq!(code, 1);
    assert!(err.contains("must specify [-c, --config] option"), "{err}");
    let (code, _, err) = run(&["--tls"]);
    assert_eq!(code, 1);
    assert!(err.contains("TLS Server certificate must be present and valid"), "{err}");
    let (code, _, err) = run(&["--routes", "nats://127.0.0.1:1"]);
    assert_eq!(code, 1);
    assert!(err.contains("solicited routes require cluster capabilities, e.g. --cluster"), "{err}");
    let (code, _, err) = run(&["--signal", "bogus=1"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown signal \"bogus\""), "{err}");
}

#[test]
fn port_in_use_is_a_clear_error() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let mut child = Command::new(BIN)
        .args(["-a", "127.0.0.1", "-p", &port])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "should exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(err.contains("[FTL]") && err.contains(&format!("Error listening on port: 127.0.0.1:{port}")), "{err}");
}

/// `-V` traces protocol ops and never logs a secret.
#[tokio::test]
async fn trace_logs_ops_without_secrets() {
    let mut p = Proc::start(Path::new(BIN), &["-a", "127.0.0.1", "-p", "-1", "-V", "--user", "u", "--pass", "hunter2"]);
    let port = p.port();
    let mut raw = Raw::connect(format!("127.0.0.1:{port}").parse().unwrap()).await;
    raw.send(
        b"CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"hunter2\"}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n",
    )
    .await;
    raw.expect(b"MSG foo 1 2\r\nhi\r\nPONG\r\n").await;
    let log = p.wait_for_log("->> [PONG]");
    assert!(log.contains("<<- [SUB foo 1]"), "{log}");
    assert!(log.contains("<<- [PUB foo 2]"), "{log}");
    assert!(log.contains("<<- MSG_PAYLOAD: [\"hi\"]"), "{log}");
    assert!(log.contains("\"pass\":\"[REDACTED]\""), "{log}");
    let mut bad = Raw::connect(format!("127.0.0.1:{port}").parse().unwrap()).await;
    bad.send(b"CONNECT {\"user\":\"u\",\"pass\":\"wrong-secret\"}\r\n").await;
    bad.expect_close().await;
    let log = p.wait_for_log("authentication error");
    assert!(!log.contains("hunter2") && !log.contains("wrong-secret"), "no secret in the log:\n{log}");
    p.signal(rustix::process::Signal::KILL);
    p.wait_exit();
}

/// Permission violations and failed logins are logged with the client's
/// address and user, never with a password.
#[tokio::test]
async fn violations_are_logged() {
    let mut p = Proc::start(Path::new(BIN), &["-c", "examples-conf/permissions.conf", "-p", "-1", "-a", "127.0.0.1"]);
    let port = p.port();
    let mut alice = Raw::connect(format!("127.0.0.1:{port}").parse().unwrap()).await;
    alice.send(b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"bar\"}\r\nPUB req.c 1\r\nx\r\nSUB req.a 7\r\nPING\r\n").await;
    alice.expect(b"-ERR 'Permissions Violation for Publish to \"req.c\"'\r\n").await;
    let mut bob = Raw::connect(format!("127.0.0.1:{port}").parse().unwrap()).await;
    bob.send(b"CONNECT {\"user\":\"bob\",\"pass\":\"not-bobs-password\"}\r\n").await;
    bob.expect_close().await;
    let log = p.wait_for_log("authentication error");
    assert!(log.contains("\"$G/user:alice\" - Publish Violation - Subject \"req.c\""), "{log}");
    assert!(log.contains("\"$G/user:alice\" - Subscription Violation - Subject \"req.a\", SID 7"), "{log}");
    assert!(log.contains("authentication error - User \"bob\""), "{log}");
    assert!(log.contains("127.0.0.1:"), "the client's address is logged");
    assert!(!log.contains("not-bobs-password") && !log.contains("\"bar\""), "no secret in the log:\n{log}");
    p.signal(rustix::process::Signal::KILL);
    p.wait_exit();
}
