//! The monitoring port of the `rnats` binary: its log lines, the ports
//! file, refusals at start, and the slow-consumer counter moving with the
//! `Slow Consumer Detected` log line.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::http::get_json;
use common::{Raw, WAIT};
use rnats::tools::spawn::Spawn;

fn rnats() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rnats"))
}

#[test]
fn logs_the_monitor_line_before_the_client_listener_and_lists_it_in_the_ports_file() {
    let p = Spawn::new(rnats()).args(&["-m", "-1"]).log().start().expect("starts");
    let url = p.monitor_url().expect("monitoring in the ports file");
    let log = p.wait_for_log("Server is ready", WAIT).expect("ready");
    let port = url.rsplit(':').next().unwrap();
    let monitor = log.find(&format!("[INF] Starting http monitor on 127.0.0.1:{port}\n")).expect("monitor line");
    let clients = log.find("[INF] Listening for client connections on").expect("client line");
    assert!(monitor < clients, "{log}");
}

#[test]
fn https_without_tls_and_both_ports_are_fatal() {
    for (args, fatal) in [
        (&["-ms", "-1"][..], "[FTL] Can't start monitoring: TLS cert and key required for HTTPS"),
        (
            &["-m", "-1", "-ms", "-1"][..],
            "[FTL] Can't start monitoring: can't specify both HTTP (-1) and HTTPs (-1) ports",
        ),
    ] {
        let out = std::process::Command::new(rnats())
            .args(["-a", "127.0.0.1", "-p", "-1"])
            .args(args)
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.lines().any(|l| l.ends_with(fatal)), "{fatal} in:\n{err}");
    }
}

/// Floods a subscriber that never reads until the server gives up on it;
/// returns once `/varz` counts `want` slow consumers.
async fn make_slow_consumer(addr: std::net::SocketAddr, mon: &str, want: u64) -> Raw {
    let mut stuck = Raw::connect(addr).await;
    stuck.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB flood 1\r\nPING\r\n").await;
    stuck.expect(b"PONG\r\n").await;
    let mut publisher = Raw::connect(addr).await;
    publisher.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n").await;
    let mut batch = Vec::new();
    for _ in 0..256 {
        batch.extend_from_slice(b"PUB flood 1000\r\n");
        batch.extend_from_slice(&[b'f'; 1000]);
        batch.extend_from_slice(b"\r\n");
    }
    // At most 64 MB, far past any loopback socket buffer plus max_pending.
    let deadline = Instant::now() + WAIT;
    for _ in 0..256 {
        if get_json(mon, "/varz").await["slow_consumers"].as_u64() == Some(want) {
            return stuck;
        }
        assert!(Instant::now() < deadline, "no slow consumer detected");
        publisher.send(&batch).await;
    }
    panic!("the subscriber was never cut off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_counter_and_log_line_move_together() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("slow.conf");
    std::fs::write(&conf, "max_payload: 4096\nmax_pending: 65536\n").unwrap();
    let p = Spawn::new(rnats()).args(&["-m", "-1", "-c", conf.to_str().unwrap()]).log().start().expect("starts");
    let mon = p.monitor_url().expect("monitoring");
    let count = |log: &str| log.matches("Slow Consumer Detected").count();
    assert_eq!(get_json(&mon, "/varz").await["slow_consumers"], 0);
    assert_eq!(count(&p.log_text()), 0);
    for n in 1..=2u64 {
        let _stuck = make_slow_consumer(p.addr, &mon, n).await;
        let line = "Slow Consumer Detected: MaxPending of 65536 Exceeded";
        let deadline = Instant::now() + WAIT;
        while count(&p.log_text()) < n as usize {
            assert!(Instant::now() < deadline, "log line missing:\n{}", p.log_text());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let log = p.log_text();
        assert_eq!(count(&log), n as usize, "one line per slow consumer:\n{log}");
        assert!(log.contains(line), "{log}");
        let v = get_json(&mon, "/varz").await;
        assert_eq!((v["slow_consumers"].as_u64(), v["slow_consumer_stats"]["clients"].as_u64()), (Some(n), Some(n)));
        // The closed record is written once the connection's task has
        // ended, a moment after the counter moved: wait for it.
        let deadline = Instant::now() + WAIT;
        loop {
            let closed = get_json(&mon, "/connz?state=closed&sort=reason").await;
            let slow = closed["connections"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["reason"] == "Slow Consumer (Pending Bytes)")
                .count();
            if slow == n as usize {
                break;
            }
            assert!(Instant::now() < deadline && slow < n as usize, "{closed:#}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
