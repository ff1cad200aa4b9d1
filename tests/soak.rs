//! A short run of `rnats bench soak`: the three-server cluster forms (with
//! the reference nats-server as the third when installed), a peer is killed
//! and restarted, reloads run, and healthy subscribers lose nothing. The
//! long runs (30 minutes) are done by hand; their figures are in the README.

use std::process::{Command, Stdio};

#[test]
fn a_short_soak_loses_nothing_healthy() {
    let out = Command::new(env!("CARGO_BIN_EXE_rnats"))
        .args(["bench", "soak", "--duration", "7s", "--conns", "80", "--interval", "2s"])
        .args(["--reload-every", "1s", "--kill-every", "2s", "--json"])
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let json = stdout.lines().last().expect("the JSON report");
    let r: serde_json::Value = serde_json::from_str(json).expect("JSON");
    assert!(r["healthy_sent"].as_u64().unwrap() > 100, "{r}");
    assert_eq!(r["healthy_lost"], 0, "{r}");
    assert_eq!(r["healthy_out_of_order"], 0, "{r}");
    assert_eq!(r["healthy_request_failures"], 0, "{r}");
    assert_eq!(r["queue_delivered"], r["healthy_sent"], "each work item to exactly one member: {r}");
    assert!(r["reloads"].as_u64().unwrap() >= 3, "{r}");
    assert!(r["kills"].as_u64().unwrap() >= 1, "{r}");
    assert!(r["cross_delivered"].as_u64().unwrap() > 0, "{r}");
    assert!(r["rss_a_mib"].as_array().is_some_and(|a| !a.is_empty()), "{r}");
}
