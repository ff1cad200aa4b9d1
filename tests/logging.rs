//! The log sinks as operators see them, through the real binary: syslog
//! framing over UDP and TCP (compared with nats-server's when installed),
//! size rotation, SIGUSR1 reopen under traffic, a syslog target that is
//! down, and no secret in any sink at the highest trace level.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{reference_binary, skip_loudly};

const BIN: &str = env!("CARGO_BIN_EXE_rnats");

/// Upper bound for one wait in these tests (process start, a log line).
const WAIT: Duration = Duration::from_secs(15);

/// Polls `probe` until it yields a value; panics with `what` past `WAIT`.
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A server process on a random loopback port, stderr captured in a file.
struct Proc {
    child: Child,
    port: u16,
    stderr: PathBuf,
    /// Holds the stderr file and the ports file until the end.
    _dir: tempfile::TempDir,
}

impl Proc {
    fn start(bin: &Path, args: &[&str]) -> Proc {
        let dir = tempfile::tempdir().unwrap();
        let stderr = dir.path().join("stderr.txt");
        let ports = dir.path().join("ports");
        std::fs::create_dir(&ports).unwrap();
        let child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir"])
            .arg(&ports)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn server");
        let mut p = Proc { child, port: 0, stderr, _dir: dir };
        p.port = wait_for("the ports file", || {
            if let Ok(Some(status)) = p.child.try_wait() {
                panic!("server exited with {status}:\n{}", p.stderr_text());
            }
            let entry = std::fs::read_dir(&ports).ok()?.flatten().next()?;
            let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(entry.path()).ok()?).ok()?;
            json["nats"][0].as_str()?.rsplit(':').next()?.parse().ok()
        });
        p
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        rnats::signals::send(&format!("{name}={}", self.pid()), None).unwrap();
    }

    /// SIGTERM, then the exit code.
    fn stop(&mut self) -> i32 {
        self.signal("term");
        let status = wait_for("the server to exit", || self.child.try_wait().unwrap());
        status.code().unwrap_or(-1)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw NATS client over a blocking socket with a read timeout.
struct Raw {
    r: BufReader<TcpStream>,
    w: TcpStream,
    info: serde_json::Value,
}

impl Raw {
    fn connect(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let info = serde_json::from_str(line.trim_start_matches("INFO ").trim()).unwrap();
        Raw { r, w: s, info }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).unwrap();
    }

    /// Reads lines until one starts with `prefix` (or the server closes).
    fn read_until(&mut self, prefix: &str) -> String {
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            let n = self.r.read_line(&mut line).unwrap_or(0);
            seen.push_str(&line);
            if n == 0 || line.starts_with(prefix) {
                return seen;
            }
        }
    }

    /// A round trip: everything sent before has been processed (and traced).
    fn ping(&mut self) {
        self.send(b"PING\r\n");
        let seen = self.read_until("PONG");
        assert!(seen.ends_with("PONG\r\n"), "no PONG: {seen:?}");
    }
}

/// A syslog collector on a loopback port, fed by a background thread.
struct Collector {
    url: String,
    text: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
}

impl Collector {
    fn udp(scheme: &str) -> Collector {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let url = format!("{scheme}://{}", sock.local_addr().unwrap());
        let (text, stop) = (Arc::new(Mutex::new(String::new())), Arc::new(AtomicBool::new(false)));
        let (t, s) = (text.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            let deadline = Instant::now() + Duration::from_secs(120);
            while !s.load(Ordering::Relaxed) && Instant::now() < deadline {
                if let Ok(n) = sock.recv(&mut buf) {
                    let frame = String::from_utf8_lossy(&buf[..n]).into_owned();
                    // One datagram, one frame, ending in exactly one newline.
                    assert!(frame.ends_with('\n') && !frame[..frame.len() - 1].contains('\n'), "{frame:?}");
                    t.lock().unwrap().push_str(&frame);
                }
            }
        });
        Collector { url, text, stop }
    }

    fn tcp() -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("tcp://{}", listener.local_addr().unwrap());
        Collector::tcp_on(listener, url)
    }

    fn tcp_on(listener: TcpListener, url: String) -> Collector {
        listener.set_nonblocking(true).unwrap();
        let (text, stop) = (Arc::new(Mutex::new(String::new())), Arc::new(AtomicBool::new(false)));
        let (t, s) = (text.clone(), stop.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !s.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        let (t, s) = (t.clone(), s.clone());
                        std::thread::spawn(move || {
                            conn.set_nonblocking(false).unwrap();
                            conn.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
                            let mut buf = [0u8; 65536];
                            while !s.load(Ordering::Relaxed) && Instant::now() < deadline {
                                match conn.read(&mut buf) {
                                    Ok(0) => break,
                                    Ok(n) => t.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n])),
                                    Err(_) => continue,
                                }
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Collector { url, text, stop }
    }

    fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    fn wait_for(&self, needle: &str) -> String {
        wait_for(&format!("{needle:?} at the syslog collector"), || {
            let t = self.text();
            t.contains(needle).then_some(t)
        })
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One syslog frame, split into Go's `<PRI>TIME HOST TAG[PID]: MSG`.
#[derive(Debug)]
struct Frame {
    pri: u8,
    time: String,
    host: String,
    tag: String,
    pid: u32,
    msg: String,
}

fn not_a_frame<T>(line: &str) -> T {
    panic!("not a syslog frame: {line:?}")
}

fn parse_frame(line: &str) -> Frame {
    let rest = line.strip_prefix('<').unwrap_or_else(|| not_a_frame(line));
    let (pri, rest) = rest.split_once('>').unwrap_or_else(|| not_a_frame(line));
    let (time, rest) = rest.split_once(' ').unwrap_or_else(|| not_a_frame(line));
    let (host, rest) = rest.split_once(' ').unwrap_or_else(|| not_a_frame(line));
    let (tag, rest) = rest.split_once('[').unwrap_or_else(|| not_a_frame(line));
    let (pid, msg) = rest.split_once("]: ").unwrap_or_else(|| not_a_frame(line));
    // RFC 3339 at second resolution: 2006-01-02T15:04:05Z or ...+07:00.
    let t = time.as_bytes();
    let shape_ok = (time.len() == 20 && time.ends_with('Z') || time.len() == 25)
        && t[4] == b'-'
        && t[7] == b'-'
        && t[10] == b'T'
        && t[13] == b':'
        && t[16] == b':';
    assert!(shape_ok, "time {time:?} in {line:?}");
    Frame {
        pri: pri.parse().unwrap_or_else(|_| not_a_frame(line)),
        time: time.into(),
        host: host.into(),
        tag: tag.into(),
        pid: pid.parse().unwrap_or_else(|_| not_a_frame(line)),
        msg: msg.into(),
    }
}

fn frames(text: &str) -> Vec<Frame> {
    text.lines().map(parse_frame).collect()
}

/// Starts `bin` logging to a new collector of `kind`, waits for the ready
/// line, stops it and returns (pid, frames) once `Server Exiting..` arrived.
fn run_against_collector(bin: &Path, kind: &str) -> (u32, Vec<Frame>) {
    let collector = match kind {
        "tcp" => Collector::tcp(),
        scheme => Collector::udp(scheme),
    };
    let mut p = Proc::start(bin, &["-D", "-r", &collector.url]);
    collector.wait_for("Server is ready");
    assert_eq!(p.stop(), 0);
    let text = collector.wait_for("Server Exiting..");
    assert!(p.stderr_text().is_empty(), "nothing on stderr while syslog works: {}", p.stderr_text());
    (p.pid(), frames(&text))
}

/// The lines both servers write, with identical text.
const COMMON_LINES: [&str; 4] =
    ["Server is ready", "Trapped \"terminated\" signal", "Initiating Shutdown...", "Server Exiting.."];

#[test]
fn syslog_framing_over_udp_and_tcp_matches_nats_server() {
    let reference = reference_binary();
    if reference.is_none() {
        skip_loudly("syslog_framing_over_udp_and_tcp_matches_nats_server (comparison part)");
    }
    for kind in ["udp", "tcp", "syslog"] {
        let (pid, ours) = run_against_collector(Path::new(BIN), kind);
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
        for f in &ours {
            assert_eq!((f.pid, f.tag.as_str(), f.host.as_str()), (pid, "rnats", host.as_str()), "{kind}: {f:?}");
        }
        let by_msg: BTreeMap<&str, &Frame> = ours.iter().map(|f| (f.msg.as_str(), f)).collect();
        for line in COMMON_LINES {
            assert_eq!(by_msg.get(line).map(|f| f.pri), Some(5), "{kind}: {line} at NOTICE");
        }
        assert_eq!(by_msg.get("Client accept loop exiting..").map(|f| f.pri), Some(7), "{kind}: debug at DEBUG");
        // `syslog://` is rnats's own (nats-server refuses it).
        let Some(reference) = reference.as_deref().filter(|_| kind != "syslog") else { continue };
        let (ref_pid, theirs) = run_against_collector(reference, kind);
        let normalise = |f: &Frame, pid: u32| {
            assert_eq!(f.pid, pid);
            // Same machine, same clock zone: same host and time shape.
            format!("<{}>{} {} TAG[PID]: {}", f.pri, f.time.len(), f.host, f.msg)
        };
        for line in COMMON_LINES {
            let a = ours.iter().find(|f| f.msg == line).map(|f| normalise(f, pid));
            let b = theirs.iter().find(|f| f.msg == line).map(|f| normalise(f, ref_pid));
            assert!(a.is_some() && a == b, "{kind}: rnats {a:?} vs nats-server {b:?}");
        }
        assert_eq!(theirs[0].tag, "nats-server", "the tag is the executable name");
    }
}

/// Reads every log file in `dir` whose name starts with `base`, sorted.
fn log_files(dir: &Path, base: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(base))
        .map(|n| {
            let text = std::fs::read_to_string(dir.join(&n)).unwrap();
            (n, text)
        })
        .collect();
    files.sort();
    files
}

/// Every line is a whole nats-server log line.
fn assert_whole_lines(name: &str, text: &str, pid: u32) {
    assert!(text.is_empty() || text.ends_with('\n'), "{name} ends mid-line");
    for line in text.lines() {
        let rest = line.strip_prefix(&format!("[{pid}] ")).unwrap_or_else(|| panic!("{name}: {line:?}"));
        let b = rest.as_bytes();
        assert!(b.len() > 33 && b[4] == b'/' && b[10] == b' ' && b[19] == b'.' && b[27] == b'[', "{name}: {line:?}");
    }
}

/// Counts each `MSG_PAYLOAD: ["<tag>NNNNN"]` trace across `texts`.
fn payload_counts<'a>(texts: impl Iterator<Item = &'a str>, tag: char) -> BTreeMap<u32, usize> {
    let mut counts = BTreeMap::new();
    let needle = format!("MSG_PAYLOAD: [\"{tag}");
    for text in texts {
        for line in text.lines() {
            if let Some(i) = line.find(&needle) {
                let digits = &line[i + needle.len()..i + needle.len() + 5];
                *counts.entry(digits.parse::<u32>().unwrap()).or_insert(0) += 1;
            }
        }
    }
    counts
}

fn publish(raw: &mut Raw, tag: char, range: std::ops::RangeInclusive<u32>) {
    let mut batch = Vec::new();
    for i in range {
        batch.extend_from_slice(format!("PUB traced 6\r\n{tag}{i:05}\r\n").as_bytes());
    }
    raw.send(&batch);
    raw.ping();
}

/// Runs a traced server on `conf`, publishes `count` messages, stops it and
/// returns the log files.
fn rotate_run(conf_extra: &str, count: u32) -> (u32, Vec<(String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let conf = dir.path().join("r.conf");
    let log = logs.join("r.log");
    std::fs::write(&conf, format!("log_file: {log:?}\nlogfile_size_limit: 4000\ntrace: true\n{conf_extra}\n")).unwrap();
    let mut p = Proc::start(Path::new(BIN), &["-c", conf.to_str().unwrap()]);
    let mut raw = Raw::connect(p.port);
    raw.send(b"CONNECT {\"verbose\":false}\r\n");
    publish(&mut raw, 'm', 1..=count);
    assert_eq!(p.stop(), 0);
    (p.pid(), log_files(&logs, "r.log"))
}

#[test]
fn size_rotation_keeps_max_files_and_every_line_once() {
    let (pid, files) = rotate_run("logfile_max_num: 3", 300);
    assert_eq!(
        files.len(),
        3,
        "the current file and two backups: {:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert_eq!(files[0].0, "r.log");
    for (name, text) in &files {
        assert_whole_lines(name, text, pid);
        if name != "r.log" {
            let stamp = name.strip_prefix("r.log.").unwrap();
            assert!(stamp.len() == 29 && stamp.bytes().filter(|b| *b == b'.').count() == 6, "{name}");
        }
        // A file passes the limit by one line at most.
        let last = text.lines().last().unwrap_or_default().len() + 1;
        assert!(text.len() <= 4000 + last, "{name}: {} bytes", text.len());
    }
    let current = &files[0].1;
    assert!(current.lines().next().unwrap().contains("[INF] Rotated log, backup saved as \""), "{current}");
    assert!(current.contains("Server Exiting.."), "the last line is in the current file");
    // What is left is the newest lines, each exactly once, none missing.
    let counts = payload_counts(files.iter().map(|f| f.1.as_str()), 'm');
    assert!(counts.values().all(|n| *n == 1), "a line twice: {counts:?}");
    let first = *counts.keys().next().unwrap();
    assert_eq!(counts.keys().copied().collect::<Vec<_>>(), (first..=300).collect::<Vec<_>>());
    assert!(first > 1, "older lines were pruned");

    // Without a maximum every backup stays, so every line is there once.
    let (pid, files) = rotate_run("", 300);
    assert!(files.len() > 5, "{} files", files.len());
    for (name, text) in &files {
        assert_whole_lines(name, text, pid);
    }
    let counts = payload_counts(files.iter().map(|f| f.1.as_str()), 'm');
    assert_eq!(counts.len(), 300);
    assert!(counts.values().all(|n| *n == 1));
}

#[test]
fn sigusr1_reopen_after_rename_under_traced_traffic_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("t.log");
    let moved = dir.path().join("t.log.1");
    let mut p = Proc::start(Path::new(BIN), &["-V", "-l", log.to_str().unwrap()]);
    // A publisher that keeps tracing traffic going until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let (port, stop) = (p.port, stop.clone());
        std::thread::spawn(move || {
            let mut raw = Raw::connect(port);
            raw.send(b"CONNECT {\"verbose\":false}\r\n");
            let mut sent = 0;
            let deadline = Instant::now() + WAIT;
            // At most 20k messages: their 40k trace lines fit in the log
            // queue's budget, so none may be dropped even if the writer
            // thread is starved for a while on a busy machine.
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline && sent < 20_000 {
                publish(&mut raw, 'r', sent + 1..=sent + 50);
                sent += 50;
            }
            sent
        })
    };
    wait_for("traffic in the first file", || {
        std::fs::read_to_string(&log).ok()?.contains("MSG_PAYLOAD: [\"r00200\"]").then_some(())
    });
    std::fs::rename(&log, &moved).unwrap();
    p.signal("reopen");
    wait_for("traffic in the new file", || {
        let text = std::fs::read_to_string(&log).ok()?;
        (text.matches("MSG_PAYLOAD").count() > 100).then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    let sent = publisher.join().unwrap();
    assert_eq!(p.stop(), 0);
    let old = std::fs::read_to_string(&moved).unwrap();
    let new = std::fs::read_to_string(&log).unwrap();
    assert_whole_lines("old", &old, p.pid());
    assert_whole_lines("new", &new, p.pid());
    assert!(old.contains("[INF] Trapped \"user defined signal 1\" signal"), "{}", &old[old.len() - 500..]);
    assert!(new.lines().next().unwrap().ends_with("[INF] File log re-opened"), "first line of the new file");
    assert!(new.contains("Server Exiting.."));
    let counts = payload_counts([old.as_str(), new.as_str()].into_iter(), 'r');
    assert_eq!(counts.len() as u32, sent, "every traced message, in one file or the other");
    assert!(counts.values().all(|n| *n == 1), "no line twice");
}

#[test]
fn a_down_syslog_target_does_not_stop_the_server() {
    // A port that was free a moment ago: nothing listens there.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("tcp://{addr}");
    let mut p = Proc::start(Path::new(BIN), &["-D", "-r", &url]);
    // Clients are served while every log line goes to stderr instead.
    for _ in 0..3 {
        let mut raw = Raw::connect(p.port);
        raw.send(b"CONNECT {\"verbose\":false}\r\nSUB s 1\r\nPUB s 2\r\nok\r\n");
        raw.ping();
    }
    let err = wait_for("the ready line on stderr", || {
        let t = p.stderr_text();
        t.contains("[INF] Server is ready").then_some(t)
    });
    assert_eq!(err.matches(&format!("Cannot send log lines to syslog {url}")).count(), 1, "one warning:\n{err}");
    // The target comes back: lines reach it again (retried as lines come).
    let Ok(listener) = TcpListener::bind(addr) else {
        return; // The port was taken meanwhile; the rest cannot be checked.
    };
    let collector = Collector::tcp_on(listener, url.clone());
    let back = wait_for("lines at the restored target", || {
        Raw::connect(p.port).ping();
        let t = collector.text();
        t.contains("reachable again").then_some(t)
    });
    let back = frames(&back);
    assert!(back.iter().any(|f| f.msg.contains("log lines were written to stderr meanwhile")), "{back:?}");
    assert_eq!(p.stop(), 0);
    collector.wait_for("Server Exiting..");
}

/// A collector that accepts and never reads: once the socket buffers are
/// full every write would block. Clients must be served all along (each
/// round trip is bounded by the client's read timeout), and the writer must
/// give up on the stalled connection (it reconnects, so a second connection
/// arrives) rather than wait on it. When the collector then goes away, the
/// lines go to stderr.
#[test]
fn a_stalled_syslog_target_never_holds_the_server_up() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let acceptor = {
        let (held, stop) = (held.clone(), stop.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((conn, _)) => held.lock().unwrap().push(conn),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        })
    };
    let mut p = Proc::start(Path::new(BIN), &["-V", "-r", &url]);
    let mut raw = Raw::connect(p.port);
    raw.send(b"CONNECT {\"verbose\":false}\r\n");
    // Long trace lines fill the collector's socket buffers quickly.
    let payload = "x".repeat(60_000);
    let batch: Vec<u8> = (0..10).flat_map(|_| format!("PUB stalled 60000\r\n{payload}\r\n").into_bytes()).collect();
    let mut slowest = Duration::ZERO;
    let deadline = Instant::now() + WAIT * 2;
    let mut batches = 0;
    // The writer's socket times out after a second; keep traffic going
    // until it has, bounded in time and volume.
    while held.lock().unwrap().len() < 2 && batches < 100_000 && Instant::now() < deadline {
        let t = Instant::now();
        raw.send(&batch);
        raw.ping();
        slowest = slowest.max(t.elapsed());
        batches += 1;
    }
    assert!(held.lock().unwrap().len() >= 2, "the writer never gave up on the stalled connection ({batches} batches)");
    assert!(slowest < Duration::from_secs(5), "a round trip took {slowest:?}");
    // The collector goes away for good: what is still queued, and the
    // shutdown lines, end up on stderr instead.
    stop.store(true, Ordering::Relaxed);
    acceptor.join().unwrap();
    held.lock().unwrap().clear();
    assert_eq!(p.stop(), 0);
    let err = p.stderr_text();
    assert!(err.contains(&format!("Cannot send log lines to syslog {url}")), "{}", &err[..err.len().min(2000)]);
    assert!(err.contains("[INF] Server Exiting.."), "{}", &err[err.len().saturating_sub(2000)..]);
}

#[test]
fn local_syslog_without_a_daemon_falls_back_to_stderr() {
    if ["/dev/log", "/var/run/syslog", "/var/run/log"]
        .iter()
        .any(|p| std::fs::metadata(p).is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type())))
    {
        eprintln!("a local syslog daemon is running here; its output cannot be read by this test");
        return;
    }
    let mut p = Proc::start(Path::new(BIN), &["-s"]);
    Raw::connect(p.port).ping();
    assert_eq!(p.stop(), 0);
    let err = p.stderr_text();
    assert_eq!(err.matches("Cannot send log lines to syslog local syslog").count(), 1, "{err}");
    assert!(err.contains("[INF] Server is ready") && err.contains("[INF] Server Exiting.."), "{err}");
}

/// What the secrets test logs in with, and must never find in a sink.
struct Secrets {
    password: &'static str,
    wrong_password: &'static str,
    token: &'static str,
    wrong_token: &'static str,
    seed: String,
    public: String,
    jwt: &'static str,
    numeric_token: &'static str,
}

impl Secrets {
    fn all(&self) -> Vec<&str> {
        vec![
            self.password,
            self.wrong_password,
            self.token,
            self.wrong_token,
            &self.seed,
            self.jwt,
            self.numeric_token,
            // Pieces, in case one were cut.
            &self.jwt[..30],
            &self.jwt[self.jwt.len() - 30..],
            &self.token[..8],
            &self.password[..8],
        ]
    }
}

fn sign(seed: &str, nonce: &str) -> String {
    use base64::Engine as _;
    let kp = nkeys::KeyPair::from_seed(seed).unwrap();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(kp.sign(nonce.as_bytes()).unwrap())
}

/// Logs in every way the config allows, right and wrong; returns the
/// signatures sent, which must not be logged either.
fn logins(port: u16, s: &Secrets, token_mode: bool) -> Vec<String> {
    let mut sigs = Vec::new();
    let expect_ok = |connect: String| {
        let mut raw = Raw::connect(port);
        raw.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
        let seen = raw.read_until("PONG");
        assert!(seen.ends_with("PONG\r\n"), "{connect}: {seen:?}");
    };
    let expect_refused = |connect: String| {
        let mut raw = Raw::connect(port);
        raw.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
        let seen = raw.read_until("-ERR");
        assert!(!seen.contains("PONG"), "{connect} was accepted: {seen:?}");
    };
    if token_mode {
        expect_ok(format!(r#"{{"verbose":false,"auth_token":"{}"}}"#, s.token));
        expect_refused(format!(r#"{{"auth_token":"{}"}}"#, s.wrong_token));
        // A token with the wrong JSON type: the parse error must not echo it.
        expect_refused(format!(r#"{{"auth_token":{}}}"#, s.numeric_token));
        // A bearer JWT (rnats has no JWT auth; it must not be logged anyway).
        expect_refused(format!(r#"{{"jwt":"{}","auth_token":"{}"}}"#, s.jwt, s.wrong_token));
        // A CONNECT garbled into an unknown operation, which the parser
        // echoes (cut after 32 bytes, in the middle of the token).
        let mut raw = Raw::connect(port);
        raw.send(format!("CONNEKT {{\"auth_token\":\"{}\"}}\r\n", s.token).as_bytes());
        assert!(raw.read_until("-ERR").contains("Unknown Protocol Operation"));
    } else {
        expect_ok(format!(r#"{{"verbose":false,"user":"alice","pass":"{}"}}"#, s.password));
        expect_refused(format!(r#"{{"user":"alice","pass":"{}"}}"#, s.wrong_password));
        // nkey: sign the nonce from INFO.
        let mut raw = Raw::connect(port);
        let nonce = raw.info["nonce"].as_str().expect("INFO has a nonce").to_string();
        let sig = sign(&s.seed, &nonce);
        raw.send(
            format!("CONNECT {{\"verbose\":false,\"nkey\":\"{}\",\"sig\":\"{sig}\"}}\r\nPING\r\n", s.public).as_bytes(),
        );
        assert!(raw.read_until("PONG").ends_with("PONG\r\n"));
        sigs.push(sig);
        // The seed sent by mistake where the public key goes.
        expect_refused(format!(r#"{{"nkey":"{}","sig":"AAAA"}}"#, s.seed));
        // A user name that is in fact a JWT.
        expect_refused(format!(r#"{{"user":"{}","pass":"x"}}"#, s.jwt));
    }
    sigs
}

#[test]
fn no_secret_in_any_sink_at_trace_level() {
    let kp = nkeys::KeyPair::new_user();
    let s = Secrets {
        password: "pw-Secret-4f7a",
        wrong_password: "pw-Wrong-9c1e",
        token: "tok-Secret-2b8d",
        wrong_token: "tok-Wrong-7e3a",
        seed: kp.seed().unwrap(),
        public: kp.public_key(),
        jwt: "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJTRUNSRVQtSldULUJPRFkiLCJzdWIiOiJVQSJ9.c2lnbmF0dXJlLW9mLXRoZS1qd3Q",
        numeric_token: "98765432123",
    };
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.conf");
    std::fs::write(
        &users,
        format!(
            "authorization {{ users: [ {{user: alice, password: \"{}\"}}, {{nkey: {}}} ] }}\n",
            s.password, s.public
        ),
    )
    .unwrap();
    let token = dir.path().join("token.conf");
    std::fs::write(&token, format!("authorization {{ token: \"{}\" }}\n", s.token)).unwrap();

    for sink in ["stderr", "file", "udp", "tcp"] {
        for (conf, token_mode) in [(&users, false), (&token, true)] {
            let log = dir.path().join(format!("{sink}-{token_mode}.log"));
            let collector = match sink {
                "udp" => Some(Collector::udp("udp")),
                "tcp" => Some(Collector::tcp()),
                _ => None,
            };
            let mut args = vec!["-DVV".to_string(), "-c".into(), conf.to_str().unwrap().into()];
            match (sink, &collector) {
                ("file", _) => args.extend(["-l".into(), log.to_str().unwrap().into()]),
                (_, Some(c)) => args.extend(["-r".into(), c.url.clone()]),
                _ => {}
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut p = Proc::start(Path::new(BIN), &args);
            let sigs = logins(p.port, &s, token_mode);
            assert_eq!(p.stop(), 0);
            let text = match (sink, &collector) {
                ("file", _) => std::fs::read_to_string(&log).unwrap(),
                (_, Some(c)) => c.wait_for("Server Exiting.."),
                _ => p.stderr_text(),
            };
            // The traces are there (so the test looks at real output) ...
            assert!(text.contains("<<- [CONNECT {"), "{sink}: no CONNECT trace:\n{text}");
            assert!(text.contains("[REDACTED]"), "{sink}: nothing redacted:\n{text}");
            // ... and no secret is, in the sink or on stderr.
            let all = format!("{text}{}", p.stderr_text());
            for secret in s.all().into_iter().chain(sigs.iter().map(String::as_str)) {
                assert!(!all.contains(secret), "{sink} ({conf:?}): {secret:?} is logged:\n{all}");
            }
        }
    }
}

#[test]
fn logging_keys_in_a_config_file() {
    let loaded = rnats::conf::load_str(
        "l.conf",
        "trace_verbose: true\nlog_max_num: 4\nlog_size_limit: 1KB\nmax_traced_msg_len: 32\nremote_syslog: \"syslog://logs\"\n",
    );
    assert!(!loaded.failed(true), "{}", loaded.render());
    let o = &loaded.options;
    assert!(o.trace && o.trace_verbose, "trace_verbose implies trace, as in nats-server");
    assert_eq!((o.logfile_max_num, o.log_size_limit, o.max_traced_msg_len), (4, 1024, 32));
    let settings = rnats::logging::LogSettings::from_options(o);
    assert_eq!((settings.log_max_num, settings.remote_syslog.as_deref()), (4, Some("syslog://logs")));

    // An unusable remote_syslog is an error at its position, for `rnats check` and -t too.
    let loaded = rnats::conf::load_str("l.conf", "port: 4222\nremote_syslog: \"http://logs:514\"\n");
    assert!(loaded.failed(false));
    let text = loaded.render();
    assert!(text.contains("error invalid network type: \"http\"") && text.contains("l.conf:2:"), "{text}");
}
