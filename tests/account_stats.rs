//! `/accstatz` counts what an account's connections did over the server's
//! life, closed connections included, and its slow consumers per account:
//! the same config file and the same traffic on rnats and nats-server give
//! the same figures.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::http::get;
use common::processes::{login, start};
use common::{login_as, reference_binary, skip_loudly};
use futures_util::StreamExt;
use rnats::tools::spawn::ServerProcess;
use serde_json::Value;

/// A's users trade a few messages and leave; B's slow subscriber never reads
/// (a small `max_pending` closes it soon).
const CONF: &str = r#"
http_port: -1
max_pending: 1MB
max_payload: 64KB
accounts {
  A { users: [{user: a, password: a}] }
  B { users: [{user: b, password: b}, {user: slow, password: slow}] }
}
"#;

const PAYLOAD: &[u8] = b"hello";
const MESSAGES: usize = 3;

/// `/accstatz?unused=1` as a map from account name to its row.
async fn accstatz(p: &ServerProcess) -> Vec<(String, Value)> {
    let base = p.monitor_url().expect("monitoring port in the ports file");
    let v = get(&base, "/accstatz?unused=1").await.json();
    let rows = v["account_statz"].as_array().cloned().unwrap_or_default();
    rows.into_iter().map(|r| (r["acc"].as_str().unwrap_or_default().to_string(), r)).collect()
}

async fn row(p: &ServerProcess, acc: &str) -> Value {
    accstatz(p).await.into_iter().find(|(n, _)| n == acc).map(|(_, r)| r).unwrap_or(Value::Null)
}

/// Polls `acc`'s row until `done` holds for it (the server settles a closed
/// connection after its socket is gone), within a deadline.
async fn row_when(p: &ServerProcess, acc: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = row(p, acc).await;
        if done(&r) || Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A's traffic, then B's slow consumer; returns A's and B's rows once every
/// connection of theirs has closed.
async fn play(p: &ServerProcess) -> (Value, Value) {
    let sub_client = login(p, "a").await;
    let pub_client = login(p, "a").await;
    let mut sub = sub_client.subscribe("x").await.expect("subscribe");
    // The subscription is in place once a message of the subscriber's own
    // comes back.
    sub_client.publish("x", "ready".into()).await.expect("publish");
    let first = tokio::time::timeout(Duration::from_secs(5), sub.next()).await.expect("in time").expect("message");
    assert_eq!(&first.payload[..], b"ready");
    for _ in 0..MESSAGES {
        pub_client.publish("x", PAYLOAD.into()).await.expect("publish");
    }
    for _ in 0..MESSAGES {
        let m = tokio::time::timeout(Duration::from_secs(5), sub.next()).await.expect("in time").expect("message");
        assert_eq!(&m.payload[..], PAYLOAD);
    }
    drop(sub);
    drop(sub_client);
    drop(pub_client);
    let a = row_when(p, "A", |r| r["conns"] == 0).await;

    let mut slow = login_as(p.addr, "slow").await;
    slow.send(b"SUB flood 1\r\nPING\r\n").await;
    slow.expect(b"PONG\r\n").await;
    let publisher = login(p, "b").await;
    let chunk = vec![b'z'; 32 * 1024];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut b = Value::Null;
    // Publishes until the server closes the subscriber that never reads.
    for _ in 0..2_000 {
        for _ in 0..16 {
            publisher.publish("flood", chunk.clone().into()).await.expect("publish");
        }
        publisher.flush().await.expect("flush");
        b = row(p, "B").await;
        if b["slow_consumers"].as_u64().unwrap_or(0) > 0 || Instant::now() > deadline {
            break;
        }
    }
    drop(slow);
    drop(publisher);
    let b = if b["slow_consumers"].as_u64().unwrap_or(0) > 0 { row_when(p, "B", |r| r["conns"] == 0).await } else { b };
    (a, b)
}

/// What is compared: connections, and A's traffic exactly; B's slow
/// consumers (how much B queued before the close depends on the sockets).
fn figures(a: &Value, b: &Value) -> Value {
    serde_json::json!({
        "A": {"conns": a["conns"], "total_conns": a["total_conns"], "sent": a["sent"], "received": a["received"], "slow_consumers": a["slow_consumers"]},
        "B": {"conns": b["conns"], "slow_consumers": b["slow_consumers"]},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accstatz_keeps_closed_connections_and_slow_consumers_per_account() {
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("accounts.conf");
    std::fs::write(&conf, CONF).expect("config written");

    let ours = start(Path::new(env!("CARGO_BIN_EXE_rnats")), &conf);
    let (a, b) = play(&ours).await;
    let got = figures(&a, &b);
    let ready = 1 + MESSAGES as u64;
    let bytes = "ready".len() as u64 + (MESSAGES * PAYLOAD.len()) as u64;
    assert_eq!(got["A"]["received"]["msgs"], ready, "{got:#}");
    assert_eq!(got["A"]["received"]["bytes"], bytes, "{got:#}");
    assert_eq!(got["A"]["sent"]["msgs"], ready, "{got:#}");
    assert_eq!(got["A"]["sent"]["bytes"], bytes, "{got:#}");
    assert_eq!(got["A"]["conns"], 0, "{got:#}");
    assert_eq!(got["B"]["slow_consumers"], 1, "{got:#}");
    assert_eq!(got["B"]["conns"], 0, "{got:#}");

    let Some(reference) = reference_binary() else {
        return skip_loudly("accstatz_keeps_closed_connections_and_slow_consumers_per_account (reference half)");
    };
    let theirs = start(&reference, &conf);
    let (a, b) = play(&theirs).await;
    assert_eq!(got, figures(&a, &b), "rnats (left) and nats-server (right) differ");
}
