//! The system account's events and its KICK and LDM requests against the
//! reference: the same config run by nats-server and by rnats; a system
//! user watches `$SYS.ACCOUNT.>` and `CLIENT.AUTH.ERR` while a client
//! connects, one fails to log in, one is kicked, one is moved (LDM) and one
//! closes. The events must come in the same order with the same shapes
//! (normalised ids, times and counters).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{reference_binary, skip_loudly, Raw};
use futures_util::StreamExt;
use rnats::tools::spawn::{ServerProcess, Spawn};
use serde_json::Value;

const CONF: &str = r#"
server_name: S1
system_account: SYS
accounts {
  SYS { users: [{user: sys, password: sys}] }
  A { users: [{user: a, password: a}] }
  B { users: [{user: b, password: b}] }
}
"#;

const WAIT: Duration = Duration::from_secs(5);
/// After the event an action ends with, how long later ones may trail.
const TRAIL: Duration = Duration::from_millis(300);

const VOLATILE: &[&str] = &["id", "time", "seq", "timestamp", "start", "stop", "rtt", "host", "bytes", "msgs"];

fn normalise(v: &mut Value) {
    if let Value::Object(map) = v {
        for (k, val) in map.iter_mut() {
            if VOLATILE.contains(&k.as_str()) && !val.is_object() {
                *val = Value::String(format!("<{k}>"));
            } else {
                normalise(val);
            }
        }
    }
}

async fn login(p: &ServerProcess, user: &str, pass: &str) -> Result<async_nats::Client, String> {
    async_nats::ConnectOptions::with_user_and_password(user.into(), pass.into())
        .name(format!("app-{user}"))
        .connect(format!("nats://{}", p.addr))
        .await
        .map_err(|e| e.to_string())
}

/// Events until one on `last` arrived, then any within [`TRAIL`].
async fn events_until(sub: &mut async_nats::Subscriber, last: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut seen_last = false;
    loop {
        let wait = if seen_last { TRAIL } else { WAIT };
        let Ok(Some(m)) = tokio::time::timeout(wait, sub.next()).await else { break };
        // The watcher's own login: whether nats-server's event for it lands
        // after the watcher's subscription is a race in its send queue.
        if m.subject.as_str().starts_with("$SYS.ACCOUNT.SYS.") {
            continue;
        }
        let mut v: Value = serde_json::from_slice(&m.payload).unwrap_or(Value::Null);
        normalise(&mut v);
        seen_last |= m.subject.as_str() == last;
        out.push((m.subject.to_string(), v));
    }
    assert!(seen_last, "no event on {last}: {out:?}");
    out
}

async fn scenario(p: &ServerProcess) -> Vec<String> {
    let sys = login(p, "sys", "sys").await.expect("sys logs in");
    let mut events = sys.subscribe("$SYS.ACCOUNT.>").await.expect("subscribe");
    let id = {
        let reply = sys.request("$SYS.REQ.SERVER.PING.IDZ", "".into()).await.expect("IDZ");
        serde_json::from_slice::<Value>(&reply.payload).expect("json")["id"].as_str().expect("id").to_string()
    };
    let mut auth_errors = sys.subscribe(format!("$SYS.SERVER.{id}.CLIENT.AUTH.ERR")).await.expect("subscribe");
    // A round trip: both subscriptions are in place.
    sys.request("$SYS.REQ.SERVER.PING.IDZ", "".into()).await.expect("IDZ");
    let mut log = Vec::new();
    let mut record = |what: &str, list: Vec<(String, Value)>| {
        for (subject, v) in list {
            log.push(format!("{what}: {} {v}", subject.replace(&id, "<ID>")));
        }
    };

    let a = login(p, "a", "a").await.expect("a logs in");
    record("connect a", events_until(&mut events, "$SYS.ACCOUNT.A.CONNECT").await);

    assert!(login(p, "a", "wrong").await.is_err(), "a wrong password is refused");
    let m = tokio::time::timeout(WAIT, auth_errors.next()).await.expect("AUTH.ERR").expect("message");
    let mut v: Value = serde_json::from_slice(&m.payload).expect("json");
    normalise(&mut v);
    record("bad password", vec![("CLIENT.AUTH.ERR".into(), v)]);
    record("bad password", events_until(&mut events, "$SYS.ACCOUNT.$G.DISCONNECT").await);

    // KICK: B's client is closed with reason Kicked. A raw client: one that
    // reconnects by itself (async-nats) would race its next login and
    // leaving against the steps below, differently on each server.
    let mut b = Raw::connect(p.addr).await;
    b.send(b"CONNECT {\"user\":\"b\",\"pass\":\"b\",\"name\":\"app-b\",\"lang\":\"rust\",\"version\":\"0.51.0\",\"verbose\":false}\r\nPING\r\n").await;
    b.expect(b"PONG\r\n").await;
    record("connect b", events_until(&mut events, "$SYS.ACCOUNT.B.CONNECT").await);
    let connz = sys.request("$SYS.REQ.ACCOUNT.B.CONNZ", "".into()).await.expect("CONNZ");
    let connz: Value = serde_json::from_slice(&connz.payload).expect("json");
    let cid = connz["data"]["connections"][0]["cid"].as_u64().expect("B's client");
    let kick = format!("$SYS.REQ.SERVER.{id}.KICK");
    let answer = sys.request(kick.clone(), format!("{{\"cid\":{cid}}}").into()).await.expect("KICK");
    let mut answer: Value = serde_json::from_slice(&answer.payload).expect("json");
    normalise(&mut answer);
    record("kick", vec![("reply".into(), answer)]);
    record("kick", events_until(&mut events, "$SYS.ACCOUNT.B.DISCONNECT").await);
    let unknown = sys.request(kick, r#"{"cid":99999}"#.into()).await.expect("KICK unknown");
    let mut unknown: Value = serde_json::from_slice(&unknown.payload).expect("json");
    normalise(&mut unknown);
    record("kick unknown", vec![("reply".into(), unknown)]);
    b.expect_close().await;

    // LDM: the client gets an INFO with "ldm":true and stays.
    let mut raw = Raw::connect(p.addr).await;
    raw.send(b"CONNECT {\"user\":\"b\",\"pass\":\"b\",\"protocol\":1,\"verbose\":false}\r\nPING\r\n").await;
    raw.expect(b"PONG\r\n").await;
    record("connect raw b", events_until(&mut events, "$SYS.ACCOUNT.B.CONNECT").await);
    let connz = sys.request("$SYS.REQ.ACCOUNT.B.CONNZ", "".into()).await.expect("CONNZ");
    let connz: Value = serde_json::from_slice(&connz.payload).expect("json");
    let cid = connz["data"]["connections"][0]["cid"].as_u64().expect("B's client");
    let ldm = sys.request(format!("$SYS.REQ.SERVER.{id}.LDM"), format!("{{\"cid\":{cid}}}").into()).await;
    let mut ldm: Value = serde_json::from_slice(&ldm.expect("LDM").payload).expect("json");
    normalise(&mut ldm);
    record("ldm", vec![("reply".into(), ldm)]);
    let mut lines = String::new();
    while !lines.contains("\"ldm\":true") {
        let line = raw.read_line().await;
        assert!(!line.is_empty(), "no lame duck INFO: {lines}");
        lines.push_str(&line);
    }
    record("ldm", vec![("INFO has ldm".into(), Value::Bool(true))]);

    drop(a);
    record("a closes", events_until(&mut events, "$SYS.ACCOUNT.A.DISCONNECT").await);
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_events_kick_and_ldm_as_the_reference() {
    let Some(reference) = reference_binary() else { return skip_loudly("client_events_kick_and_ldm_as_the_reference") };
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("sys.conf");
    std::fs::write(&conf, CONF).expect("config");
    let conf = conf.to_str().expect("utf-8");
    let theirs = Spawn::new(&reference).args(&["-c", conf]).start().expect("nats-server");
    let ours = Spawn::new(Path::new(env!("CARGO_BIN_EXE_rnats"))).args(&["-c", conf]).log().start().expect("rnats");
    // Within a step, nats-server's order of a closed client's
    // SERVER.CONNS and DISCONNECT depends on which of its goroutines runs
    // first (closeConnection sends one, teardownConn the other): compare
    // each step's events as a set (every line is prefixed by its step).
    let mut want = scenario(&theirs).await;
    let mut got = scenario(&ours).await;
    want.sort();
    got.sort();
    let differ: Vec<String> =
        want.iter().zip(&got).filter(|(w, g)| w != g).map(|(w, g)| format!("reference: {w}\nrnats:     {g}")).collect();
    assert!(differ.is_empty() && want.len() == got.len(), "{}\n\nall of rnats:\n{}", differ.join("\n"), got.join("\n"));
}

/// `RELOAD` on one server: the envelope's keys and the error code, after
/// writing `text` to its config file.
async fn reload_with(p: &ServerProcess, conf: &Path, text: &str) -> (Vec<String>, Option<u64>, String) {
    std::fs::write(conf, text).expect("config rewritten");
    let sys = login(p, "sys", "sys").await.expect("sys logs in");
    let idz = sys.request("$SYS.REQ.SERVER.PING.IDZ", "".into()).await.expect("IDZ");
    let id = serde_json::from_slice::<Value>(&idz.payload).expect("json")["id"].as_str().expect("id").to_string();
    let answer = sys.request(format!("$SYS.REQ.SERVER.{id}.RELOAD"), "".into()).await.expect("RELOAD");
    let v: Value = serde_json::from_slice(&answer.payload).expect("json");
    let keys = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    let text = v["error"]["description"].as_str().unwrap_or_default().to_string();
    (keys, v["error"]["code"].as_u64(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_requests_answer_as_the_reference() {
    let Some(reference) = reference_binary() else { return skip_loudly("reload_requests_answer_as_the_reference") };
    let dir = tempfile::tempdir().expect("temp dir");
    let (their_conf, our_conf) = (dir.path().join("theirs.conf"), dir.path().join("ours.conf"));
    std::fs::write(&their_conf, CONF).expect("config");
    std::fs::write(&our_conf, CONF).expect("config");
    let theirs =
        Spawn::new(&reference).args(&["-c", their_conf.to_str().expect("utf-8")]).start().expect("nats-server");
    let ours = Spawn::new(Path::new(env!("CARGO_BIN_EXE_rnats")))
        .args(&["-c", our_conf.to_str().expect("utf-8")])
        .log()
        .start()
        .expect("rnats");
    let new_password = CONF.replace("{user: b, password: b}", "{user: b, password: b2}");
    let new_name = new_password.replace("server_name: S1", "server_name: S2");
    for (what, text) in [("unchanged", CONF), ("a password changed", new_password.as_str()), ("renamed", &new_name)] {
        let want = reload_with(&theirs, &their_conf, text).await;
        let got = reload_with(&ours, &our_conf, text).await;
        assert_eq!((&want.0, want.1), (&got.0, got.1), "{what}: reference {want:?}, rnats {got:?}");
        if want.1.is_some() {
            assert!(got.2.contains("server_name"), "{what}: rnats names the key: {}", got.2);
        }
    }
}

/// The account connections heartbeat: 30 s after A's connect event, while
/// its client stays, both servers send A's `SERVER.CONNS` again, with the
/// same shape. (Real time: the two servers run side by side.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_connections_repeat_every_thirty_seconds() {
    let Some(reference) = reference_binary() else {
        return skip_loudly("account_connections_repeat_every_thirty_seconds");
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("sys.conf");
    std::fs::write(&conf, CONF).expect("config written");
    let start =
        |bin: &Path| Spawn::new(bin).args(&["-c", conf.to_str().expect("utf-8 path")]).start().expect("server starts");
    let (theirs, ours) = (start(&reference), start(Path::new(env!("CARGO_BIN_EXE_rnats"))));
    let heartbeat = |p: ServerProcess| async move {
        let sys = login(&p, "sys", "sys").await.expect("sys login");
        let mut sub = sys.subscribe("$SYS.ACCOUNT.A.SERVER.CONNS").await.expect("subscribe");
        sys.flush().await.expect("flush");
        let _a = login(&p, "a", "a").await.expect("a login");
        // The connect's event, then the heartbeat.
        next_event(&mut sub).await;
        let began = tokio::time::Instant::now();
        let beat = next_event(&mut sub).await;
        let gap = began.elapsed();
        let mut v: Value = serde_json::from_slice(&beat.payload).expect("JSON");
        assert_eq!(v["conns"], 1, "{v}");
        normalise(&mut v);
        (gap, v)
    };
    let ((their_gap, their_beat), (our_gap, our_beat)) = tokio::join!(heartbeat(theirs), heartbeat(ours));
    for gap in [their_gap, our_gap] {
        assert!(gap > Duration::from_secs(28) && gap < Duration::from_secs(33), "heartbeat after {gap:?}");
    }
    assert_eq!(our_beat, their_beat);
}

async fn next_event(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    let wait = tokio::time::timeout(Duration::from_secs(40), sub.next());
    wait.await.expect("an event").expect("subscription open")
}
