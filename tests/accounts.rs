//! Accounts from a config file, compared with the reference nats-server:
//! the same file and the same raw-protocol conversation on both servers,
//! and the same normalised transcript back (isolation, stream imports with
//! prefix and `to`, mappings, service imports with their `_R_` replies and
//! `Nats-Request-Info` header, response types and thresholds, no responders,
//! limits, cluster-scoped mappings in exporters).

mod common;

use std::net::SocketAddr;

use common::frames::{normalise, reply_subject};
use common::{reference_binary, skip_loudly, Raw, Reference, TestServer};

const CONF: &str = r#"
accounts {
  A {
    users: [{user: a, password: a}, {user: a2, password: a2}]
    exports: [
      {stream: "ev.>"}
      {stream: "priv.>", accounts: [B]}
      {stream: "w.*.*"}
      {service: "svc.>"}
      {service: "stream.svc", response_type: stream}
      {service: "nobody.svc"}
      {service: "chain.>"}
    ]
    mappings: {
      "lit.src": "lit.dst"
      "wc.*.*": "wc.{{wildcard(2)}}.{{wildcard(1)}}"
    }
  }
  B {
    users: [{user: b, password: b}]
    imports: [
      {stream: {account: A, subject: "ev.>"}, prefix: "from_a"}
      {stream: {account: A, subject: "priv.>"}}
      {stream: {account: A, subject: "w.*.*"}, to: "wm.{{wildcard(2)}}.{{wildcard(1)}}"}
      {service: {account: A, subject: "svc.one"}}
      {service: {account: A, subject: "svc.two"}, to: "ask.two"}
      {service: {account: A, subject: "stream.svc"}, to: "b.stream"}
      {service: {account: A, subject: "nobody.svc"}}
      {service: {account: A, subject: "chain.>"}}
    ]
    exports: [{service: "chain.>"}]
  }
  C {
    users: [{user: c, password: c}]
    imports: [
      {service: {account: A, subject: "svc.>"}, share: true}
      {service: {account: B, subject: "chain.>"}}
    ]
  }
  L {
    users: [{user: l, password: l}]
    limits: {max_connections: 2, max_subscriptions: 2, max_payload: 10}
  }
}
"#;

/// Runs `scenario` against rnats and the reference, each started from `conf`,
/// and asserts the transcripts are equal; returns rnats's.
macro_rules! compare {
    ($conf:expr, $scenario:ident) => {{
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accounts.conf");
        std::fs::write(&path, $conf).unwrap();
        let path = path.to_str().unwrap().to_string();
        let rnats = TestServer::from_conf(&path).await;
        let ours = $scenario(rnats.addr()).await;
        if reference_binary().is_none() {
            skip_loudly(stringify!($scenario));
            return;
        }
        let reference = Reference::start(&["-c", &path]).expect("reference starts");
        let theirs = $scenario(reference.addr).await;
        assert_eq!(ours, theirs, "rnats (left) and nats-server (right) differ");
        ours
    }};
}

/// A client logged in as `user` (password = name), headers on, protocol 0
/// (no asynchronous INFO in the transcript).
async fn login(addr: SocketAddr, user: &str, extra: &str) -> Raw {
    let mut raw = Raw::connect(addr).await;
    let connect = format!(
        "CONNECT {{\"user\":\"{user}\",\"pass\":\"{user}\",\"verbose\":false,\"pedantic\":false,\"headers\":true{extra}}}\r\nPING\r\n"
    );
    raw.send(connect.as_bytes()).await;
    let (bytes, eof) = raw.read_until_pongs(1).await;
    assert!(!eof, "{user} logged in: {}", String::from_utf8_lossy(&bytes));
    raw
}

/// Sends `bytes` and a PING; returns everything up to the PONG.
async fn step(raw: &mut Raw, bytes: &str) -> Vec<u8> {
    raw.send(format!("{bytes}PING\r\n").as_bytes()).await;
    raw.read_until_pongs(1).await.0
}

/// The transcript lines sorted: deliveries of one message to several
/// subscriptions come in index order, which differs between servers.
fn sorted(bytes: &[u8]) -> String {
    let mut lines: Vec<String> = normalise(bytes).lines().map(str::to_string).collect();
    lines.sort();
    lines.join("\n")
}

async fn streams_mappings_and_isolation(addr: SocketAddr) -> String {
    let mut a_sub = login(addr, "a", "").await;
    step(&mut a_sub, "SUB ev.> 1\r\nSUB lit.> 2\r\nSUB wc.> 3\r\nSUB x 4\r\n").await;
    let mut b_sub = login(addr, "b", "").await;
    step(&mut b_sub, "SUB from_a.ev.> 1\r\nSUB priv.> 2\r\nSUB ev.> 3\r\nSUB > 4\r\nSUB wm.two.* 5\r\nSUB x 6\r\n")
        .await;
    let mut a_pub = login(addr, "a2", "").await;
    let published = "PUB ev.x 2\r\nhi\r\nPUB priv.y r 2\r\nhi\r\nPUB lit.src 1\r\nl\r\nPUB wc.a.b 1\r\nw\r\n\
                     PUB w.one.two 1\r\n1\r\nPUB w.two.one 1\r\n2\r\nPUB x 1\r\na\r\n";
    let a_pub_out = step(&mut a_pub, published).await;
    let mut b_pub = login(addr, "b", "").await;
    let b_pub_out = step(&mut b_pub, "PUB ev.own 1\r\nz\r\nPUB from_a.ev.fake 1\r\nf\r\n").await;
    let a = step(&mut a_sub, "").await;
    let b = step(&mut b_sub, "").await;
    format!(
        "A pub:\n{}\nB pub:\n{}\nA sub:\n{}\nB sub:\n{}",
        sorted(&a_pub_out),
        sorted(&b_pub_out),
        sorted(&a),
        sorted(&b)
    )
}

#[tokio::test]
async fn stream_imports_mappings_and_isolation_as_the_reference() {
    let transcript = compare!(CONF, streams_mappings_and_isolation);
    // What the comparison rests on, spelled out.
    assert!(transcript.contains("MSG from_a.ev.x 1 hi"), "{transcript}");
    assert!(transcript.contains("MSG priv.y 2 r hi"), "{transcript}");
    assert!(transcript.contains("MSG wm.two.one 5 1"), "{transcript}");
    assert!(transcript.contains("MSG lit.dst 2 l"), "{transcript}");
    assert!(transcript.contains("MSG wc.b.a 3 w"), "{transcript}");
    assert!(!transcript.contains("MSG x 6"), "nothing crosses accounts but imports: {transcript}");
}

async fn service_requests(addr: SocketAddr) -> String {
    let mut responder = login(addr, "a", "").await;
    step(&mut responder, "SUB svc.> 1\r\nSUB stream.svc 2\r\n").await;
    let mut requester = login(addr, "b", ",\"no_responders\":true").await;
    step(&mut requester, "SUB _INBOX.b.> 9\r\n").await;
    let mut out = String::new();

    // A single response: the first passes, the second is dropped.
    step(&mut requester, "PUB svc.one _INBOX.b.1 2\r\nhi\r\n").await;
    let request = step(&mut responder, "").await;
    out += &format!("request:\n{}", normalise(&request));
    let reply = reply_subject(&request).expect("a _R_ reply");
    step(&mut responder, &format!("PUB {reply} 3\r\nyes\r\nPUB {reply} 4\r\nyes2\r\n")).await;
    out += &format!("responses:\n{}", normalise(&step(&mut requester, "").await));

    // Through `to`, with the requester's own header kept.
    step(&mut requester, "HPUB ask.two _INBOX.b.2 18 20\r\nNATS/1.0\r\nK: v\r\n\r\nhi\r\n").await;
    out += &format!("renamed:\n{}", normalise(&step(&mut responder, "").await));

    // A stream response: every reply passes until an empty one.
    step(&mut requester, "PUB b.stream _INBOX.b.3 2\r\nhi\r\n").await;
    let request = step(&mut responder, "").await;
    let reply = reply_subject(&request).expect("a _R_ reply");
    step(
        &mut responder,
        &format!("PUB {reply} 1\r\n1\r\nPUB {reply} 1\r\n2\r\nPUB {reply} 0\r\n\r\nPUB {reply} 1\r\n3\r\n"),
    )
    .await;
    out += &format!("stream:\n{}", normalise(&step(&mut requester, "").await));

    // Nobody serves the exported subject: 503 to the requester.
    out += &format!("nobody:\n{}", normalise(&step(&mut requester, "PUB nobody.svc _INBOX.b.4 2\r\nhi\r\n").await));
    out
}

#[tokio::test]
async fn service_imports_as_the_reference() {
    let transcript = compare!(CONF, service_requests);
    assert!(
        transcript.contains("HMSG svc.one 1 _R_.PRE.RND [NATS/1.0|Nats-Request-Info: {\"acc\":\"B\",\"rtt\":N}||] hi"),
        "{transcript}"
    );
    assert!(transcript.contains("MSG _INBOX.b.1 9 yes\n"), "{transcript}");
    assert!(!transcript.contains("yes2"), "a single response passes once: {transcript}");
}

async fn shared_request_info(addr: SocketAddr) -> String {
    let mut responder = login(addr, "a", "").await;
    step(&mut responder, "SUB svc.> 1\r\n").await;
    let mut requester = login(addr, "c", ",\"name\":\"asker\",\"lang\":\"raw\",\"version\":\"1.0\"").await;
    step(&mut requester, "PUB svc.shared _INBOX.c.1 2\r\nhi\r\n").await;
    let request = normalise(&step(&mut responder, "").await);
    // The server's name and id differ between the two servers.
    request.split("\"server\":\"").next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn shared_imports_tell_the_requester_as_the_reference() {
    let transcript = compare!(CONF, shared_request_info);
    assert!(transcript.contains("\"acc\":\"C\",\"user\":\"c\",\"name\":\"asker\",\"lang\":\"raw\""), "{transcript}");
}

async fn account_limits(addr: SocketAddr) -> String {
    let mut out = String::new();
    let mut l1 = login(addr, "l", "").await;
    let _l2 = login(addr, "l", "").await;
    let mut l3 = Raw::connect(addr).await;
    l3.send(b"CONNECT {\"user\":\"l\",\"pass\":\"l\",\"verbose\":false}\r\nPING\r\n").await;
    out += &format!("third:\n{}", normalise(&l3.expect_close().await));
    out += &format!("subs:\n{}", normalise(&step(&mut l1, "SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n").await));
    l1.send(b"PUB a 11\r\n01234567890\r\n").await;
    out += &format!("payload:\n{}", normalise(&l1.expect_close().await));
    let mut announced = Raw::connect(addr).await;
    announced.send(b"CONNECT {\"user\":\"l\",\"pass\":\"l\",\"verbose\":false,\"protocol\":1}\r\nPING\r\n").await;
    let line = {
        announced.read_line().await;
        announced.read_line().await
    };
    let info: serde_json::Value = serde_json::from_str(&line[5..line.len() - 3]).expect("INFO after the PONG");
    out += &format!("announced max_payload {}\n", info["max_payload"]);
    out
}

#[tokio::test]
async fn account_limits_as_the_reference() {
    let transcript = compare!(CONF, account_limits);
    assert!(transcript.contains("-ERR 'maximum account active connections exceeded'"), "{transcript}");
    assert!(transcript.contains("-ERR 'maximum subscriptions exceeded'"), "{transcript}");
    assert!(transcript.contains("-ERR 'Maximum Payload Violation'"), "{transcript}");
    assert!(transcript.contains("announced max_payload 10"), "{transcript}");
}

async fn chained_and_forged(addr: SocketAddr) -> String {
    let mut responder = login(addr, "a", "").await;
    step(&mut responder, "SUB chain.> 1\r\nSUB svc.> 2\r\n").await;
    let mut c = login(addr, "c", "").await;
    let mut out = String::new();
    // C -> B -> A: two imports crossed.
    step(&mut c, "PUB chain.x _INBOX.c.1 2\r\nhi\r\n").await;
    out += &format!("chained:\n{}", normalise(&step(&mut responder, "").await));
    // A requester's own Nats-Request-Info is replaced, not believed.
    let mut b = login(addr, "b", "").await;
    let forged = "NATS/1.0\r\nNats-Request-Info: {\"acc\":\"X\"}\r\n\r\n";
    step(&mut b, &format!("HPUB svc.one _INBOX.b.9 {} {}\r\n{forged}hi\r\n", forged.len(), forged.len() + 2)).await;
    out += &format!("forged:\n{}", normalise(&step(&mut responder, "").await));
    out
}

#[tokio::test]
async fn chained_imports_and_forged_request_info_as_the_reference() {
    let transcript = compare!(CONF, chained_and_forged);
    assert!(transcript.contains("{\"acc\":\"C\",\"svc\":\"B\",\"rtt\":N}"), "{transcript}");
    assert!(
        transcript.contains("forged:\nHMSG svc.one 2 _R_.PRE.RND [NATS/1.0|Nats-Request-Info: {\"acc\":\"B\""),
        "{transcript}"
    );
}

const WEIGHTS: &str = r#"
mappings: {
  "w.lb": [{destination: "w.v1", weight: 80%}, {destination: "w.v2", weight: 20%}]
  "w.rem": [{destination: "w.rem.v1", weight: 30%}]
  "w.loss": [{destination: "w.loss", weight: 50%}]
}
"#;

/// Publishes 2000 messages on each weighted source and counts where they
/// arrived.
async fn weighted(addr: SocketAddr) -> std::collections::BTreeMap<String, u32> {
    const N: usize = 2000;
    let mut sub = Raw::connect(addr).await;
    sub.send(b"CONNECT {\"verbose\":false}\r\nSUB w.> 1\r\nPING\r\n").await;
    sub.expect(b"PONG\r\n").await;
    let mut publisher = Raw::connect(addr).await;
    let mut batch = String::from("CONNECT {\"verbose\":false}\r\n");
    for source in ["w.lb", "w.rem", "w.loss"] {
        for _ in 0..N {
            batch += &format!("PUB {source} 0\r\n\r\n");
        }
    }
    batch += "PING\r\n";
    publisher.send(batch.as_bytes()).await;
    publisher.read_until_pongs(1).await;
    sub.send(b"PING\r\n").await;
    let (bytes, _) = sub.read_until_pongs(1).await;
    let mut counts = std::collections::BTreeMap::new();
    for line in String::from_utf8_lossy(&bytes).lines().filter(|l| l.starts_with("MSG ")) {
        *counts.entry(line.split(' ').nth(1).unwrap_or_default().to_string()).or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn weighted_mappings_split_traffic_as_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.conf");
    std::fs::write(&path, WEIGHTS).unwrap();
    let path = path.to_str().unwrap().to_string();
    let rnats = TestServer::from_conf(&path).await;
    let mut servers = vec![("rnats", weighted(rnats.addr()).await)];
    let reference = reference_binary().map(|_| Reference::start(&["-c", &path]).expect("reference starts"));
    match &reference {
        Some(r) => servers.push(("nats-server", weighted(r.addr).await)),
        None => skip_loudly("weighted_mappings_split_traffic_as_the_reference"),
    }
    // 2000 draws each: within 5 points of the weight (a miss is 7+ sigma).
    let near = |got: u32, percent: u32| (got as i64 - (percent as i64 * 20)).abs() <= 100;
    for (name, c) in &servers {
        let n = |s: &str| c.get(s).copied().unwrap_or(0);
        assert!(near(n("w.v1"), 80) && near(n("w.v2"), 20), "{name}: {c:?}");
        assert!(near(n("w.rem.v1"), 30) && near(n("w.rem"), 70), "{name}: the remainder stays: {c:?}");
        assert!(near(n("w.loss"), 50), "{name}: the rest is dropped: {c:?}");
        assert_eq!(n("w.lb"), 0, "{name}: {c:?}");
    }
}

/// The exporter's mappings pick the destination scoped to this server's
/// cluster for a request that came through a service import, as the
/// publisher's own account does for what it publishes.
const CLUSTER_SCOPED: &str = r#"
cluster { name: east, listen: "127.0.0.1:-1" }
accounts {
  A {
    users: [{user: a, password: a}]
    exports: [{service: "svc.>"}]
    mappings: {
      "svc.q": [{destination: "svc.east", weight: 100%, cluster: east}, {destination: "svc.other", weight: 100%}]
    }
  }
  B {
    users: [{user: b, password: b}]
    imports: [{service: {account: A, subject: "svc.q"}}]
    mappings: {
      "b.q": [{destination: "b.east", weight: 100%, cluster: east}, {destination: "b.other", weight: 100%}]
    }
  }
}
"#;

async fn cluster_scoped(addr: SocketAddr) -> String {
    let mut responder = login(addr, "a", "").await;
    step(&mut responder, "SUB svc.east 1\r\nSUB svc.other 2\r\n").await;
    let mut b = login(addr, "b", "").await;
    step(&mut b, "SUB b.east 1\r\nSUB b.other 2\r\n").await;
    let mut requester = login(addr, "b", "").await;
    step(&mut requester, "PUB svc.q _INBOX.b.1 2\r\nhi\r\nPUB b.q 2\r\nhi\r\n").await;
    format!("exporter:\n{}\nimporter:\n{}", sorted(&step(&mut responder, "").await), sorted(&step(&mut b, "").await))
}

#[tokio::test]
async fn cluster_scoped_mappings_in_exporters_as_the_reference() {
    let transcript = compare!(CLUSTER_SCOPED, cluster_scoped);
    assert!(transcript.contains("HMSG svc.east 1 _R_.PRE.RND"), "{transcript}");
    assert!(transcript.contains("MSG b.east 1 hi"), "{transcript}");
    assert!(!transcript.contains("other"), "{transcript}");
}

/// A stream response's entry lives for the export's `response_threshold`:
/// nats-server sweeps it within one to two thresholds of the request.
const THRESHOLD: &str = r#"
accounts {
  A {
    users: [{user: a, password: a}]
    exports: [{service: "slow.svc", response_type: stream, response_threshold: "200ms"}]
  }
  B {
    users: [{user: b, password: b}]
    imports: [{service: {account: A, subject: "slow.svc"}}]
  }
}
"#;

async fn late_responses(addr: SocketAddr) -> String {
    let mut responder = login(addr, "a", "").await;
    step(&mut responder, "SUB slow.svc 1\r\n").await;
    let mut requester = login(addr, "b", "").await;
    step(&mut requester, "SUB _INBOX.b.> 9\r\n").await;
    step(&mut requester, "PUB slow.svc _INBOX.b.1 2\r\nhi\r\n").await;
    let request = step(&mut responder, "").await;
    let reply = reply_subject(&request).expect("a _R_ reply");
    step(&mut responder, &format!("PUB {reply} 3\r\none\r\nPUB {reply} 3\r\ntwo\r\n")).await;
    let in_time = normalise(&step(&mut requester, "").await);
    // Time is the subject here, and the servers are processes whose clocks
    // a test cannot pause: the late reply goes out well past both
    // thresholds (five of them).
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    step(&mut responder, &format!("PUB {reply} 4\r\nlate\r\n")).await;
    let late = normalise(&step(&mut requester, "").await);
    format!("in time:\n{in_time}\nlate:\n{late}")
}

#[tokio::test]
async fn response_thresholds_end_stream_responses_as_the_reference() {
    let transcript = compare!(THRESHOLD, late_responses);
    assert!(transcript.contains("MSG _INBOX.b.1 9 one"), "{transcript}");
    assert!(transcript.contains("MSG _INBOX.b.1 9 two"), "{transcript}");
    assert!(!transcript.contains("9 late"), "the late reply is dropped: {transcript}");
}
