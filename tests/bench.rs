//! `rnats bench` works end to end (small counts; it measures, tests do not).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rnats");

/// An rnats process on a random port, killed and reaped on drop.
struct Served {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(BIN)
        .args(["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", dir.path().to_str().unwrap()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut served = Served { child, port: 0, _dir: dir };
    let deadline = Instant::now() + common::WAIT;
    loop {
        let ports = std::fs::read_dir(served._dir.path()).ok().and_then(|mut d| d.next()).and_then(|e| e.ok());
        if let Some(text) = ports.and_then(|e| std::fs::read_to_string(e.path()).ok()) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                served.port = v["nats"][0].as_str().unwrap().rsplit(':').next().unwrap().parse().unwrap();
                return served;
            }
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_scenario_runs_and_reports_json() {
    let server = serve();
    let out = Command::new(BIN)
        .args([
            "bench",
            "--url",
            &format!("127.0.0.1:{}", server.port),
            "--msgs",
            "20000",
            "--requests",
            "200",
            "--conns",
            "200",
            "--json",
        ])
        .output()
        .unwrap();
    drop(server);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = results.as_array().unwrap().iter().map(|r| r["scenario"].as_str().unwrap()).collect();
    assert_eq!(names, ["pub", "pubsub", "fanout", "queue", "reqrep", "large", "idle"]);
    for r in results.as_array().unwrap().iter().filter(|r| r["scenario"] != "idle") {
        let measured =
            ["msgs_per_sec", "mb_per_sec", "bytes_per_conn"].iter().any(|k| r[*k].as_f64().is_some_and(|v| v > 0.0));
        assert!(measured, "{r}");
    }
    let lat = &results[4]["latency_us"];
    assert!(lat["p50"].as_f64().unwrap() <= lat["p99"].as_f64().unwrap());
}

/// Memory per idle connection, on a fresh server (as `--compare` runs it).
#[test]
fn idle_memory_is_measured() {
    let server = serve();
    let out = Command::new(BIN)
        .args(["bench", "--url", &format!("127.0.0.1:{}", server.port), "--conns", "2000", "--json", "idle"])
        .output()
        .unwrap();
    drop(server);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let per_conn = r[0]["bytes_per_conn"].as_f64().unwrap();
    assert!(per_conn > 0.0 && per_conn < 1_000_000.0, "{per_conn}");
}

#[test]
fn usage_errors() {
    let out = Command::new(BIN).args(["bench", "--msgs", "many"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN).args(["bench", "nosuch"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn compare_runs_both_servers() {
    if common::reference_binary().is_none() {
        common::skip_loudly("compare_runs_both_servers");
        return;
    }
    let out = Command::new(BIN)
        .args(["bench", "--compare", "--rounds", "1", "--msgs", "5000", "--json", "pubsub", "queue"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for r in v["results"].as_array().unwrap() {
        assert!(r["rnats"].as_f64().unwrap() > 0.0 && r["nats_server"].as_f64().unwrap() > 0.0, "{r}");
    }
}
