//! The system account against the reference: the same config (accounts
//! `SYS`, `A`, `B`, `system_account: SYS`, as
//! tests/fixtures/reference/sys_account.conf) run by nats-server and by
//! rnats as processes; each `$SYS.REQ.…` request of design §3 is sent by
//! the same user to both, and the replies are compared after normalising
//! what differs by nature (ids, times, counters, Go's runtime figures).

mod common;

use std::path::Path;
use std::time::Duration;

use common::processes::{login, start};
use common::{reference_binary, skip_loudly};
use futures_util::StreamExt;
use rnats::tools::spawn::ServerProcess;
use serde_json::Value;

const CONF: &str = r#"
server_name: S1
system_account: SYS
accounts {
  SYS { users: [{user: sys, password: sys}] }
  A {
    users: [
      {user: a, password: a}
      {user: ap, password: ap, permissions: {publish: {allow: ["x.>", "$SYS.REQ.USER.INFO"], deny: ["x.no"]}, subscribe: ["_INBOX.>", "y.>"], allow_responses: true}}
    ]
  }
  B { users: [{user: b, password: b}] }
}
"#;

/// How long a server that should stay silent is given to answer anyway.
const SILENCE: Duration = Duration::from_millis(400);
/// Upper bound for the first answer.
const FIRST: Duration = Duration::from_secs(3);

/// Keys whose values differ between any two runs.
const VOLATILE: &[&str] = &[
    "id",
    "time",
    "seq",
    "now",
    "start",
    "mem",
    "cores",
    "cpu",
    "gomaxprocs",
    "total_connections",
    "server_id",
    "timestamp",
    "update_time",
    "uptime",
    "rtt",
    "last_activity",
    "idle",
    "port",
    "ip",
    "in_msgs",
    "out_msgs",
    "in_bytes",
    "out_bytes",
    "msgs",
    "bytes",
    "num_cache",
    "num_inserts",
    "num_matches",
    "cache_hit_rate",
    "max_fanout",
    "avg_fanout",
    "num_removes",
    "cid",
    "subscriptions",
    "num_subscriptions",
    "sublist_stats",
];

fn normalise(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if VOLATILE.contains(&k.as_str()) && !val.is_object() && !val.is_array() || k == "sublist_stats" {
                    *val = Value::String(format!("<{k}>"));
                } else if let ("allow" | "deny", Value::Array(subjects)) = (k.as_str(), &mut *val) {
                    // nats-server lists a user's permissions by walking a
                    // sublist, whose levels are Go maps: the order is random
                    // from run to run (client.go publicPermissions).
                    subjects.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                } else {
                    normalise(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise),
        _ => {}
    }
}

/// The keys of an object in order, recursively for objects within.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Array(
            map.iter()
                .map(|(k, val)| if val.is_object() { serde_json::json!({ k: shape(val) }) } else { k.clone().into() })
                .collect(),
        ),
        _ => Value::Null,
    }
}

fn write_conf() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("sys.conf"), CONF).expect("config written");
    dir
}

/// Every answer to `subject` with `body`: the first within [`FIRST`], then
/// any more within [`SILENCE`].
async fn ask(client: &async_nats::Client, subject: &str, body: &str) -> Vec<Value> {
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await.expect("subscribe");
    client.publish_with_reply(subject.to_string(), inbox, body.to_string().into()).await.expect("publish");
    let mut out = Vec::new();
    let mut wait = FIRST;
    while let Ok(Some(msg)) = tokio::time::timeout(wait, sub.next()).await {
        let v = match serde_json::from_slice::<Value>(&msg.payload) {
            Ok(v) => v,
            Err(_) => serde_json::json!({ "status": msg.status.map(|s| s.as_u16()) }),
        };
        out.push(v);
        wait = SILENCE;
    }
    out
}

/// The requests compared, who sends them, and whether the whole reply is
/// compared (`true`) or only its shape.
fn requests(id_ref: &str) -> Vec<(&'static str, String, &'static str, bool)> {
    let mut r: Vec<(&'static str, String, &'static str, bool)> = vec![
        ("sys", "$SYS.REQ.SERVER.PING".into(), "", false),
        ("sys", "$SYS.REQ.SERVER.PING.IDZ".into(), "", true),
        ("sys", "$SYS.REQ.SERVER.PING.STATSZ".into(), "", false),
        ("sys", "$SYS.REQ.SERVER.PING.VARZ".into(), "", false),
        ("sys", "$SYS.REQ.SERVER.PING.SUBSZ".into(), "", false),
        ("sys", "$SYS.REQ.SERVER.PING.CONNZ".into(), "", false),
        ("sys", "$SYS.REQ.SERVER.PING.ROUTEZ".into(), "", true),
        ("sys", "$SYS.REQ.SERVER.PING.GATEWAYZ".into(), "", true),
        ("sys", "$SYS.REQ.SERVER.PING.LEAFZ".into(), "", true),
        ("sys", "$SYS.REQ.SERVER.PING.ACCOUNTZ".into(), "", false),
        ("sys", "$SYS.REQ.SERVER.PING.JSZ".into(), "", true),
        ("sys", "$SYS.REQ.SERVER.PING.HEALTHZ".into(), "", true),
        ("sys", "$SYS.REQ.SERVER.PING.RAFTZ".into(), "", true),
        ("sys", "$SYS.REQ.SERVER.PING.VARZ".into(), r#"{"server_name":"other"}"#, true),
        ("sys", "$SYS.REQ.SERVER.PING.VARZ".into(), r#"{"server_name":"S1"}"#, false),
        ("sys", "$SYS.REQ.SERVER.PING.VARZ".into(), "not json", true),
        ("sys", "$SYS.REQ.SERVER.PING.STATSZ".into(), r#"{"cluster":"nope"}"#, true),
        ("sys", "$SYS.REQ.SERVER.PING.HEALTHZ".into(), r#"{"js-enabled-only":true}"#, true),
        ("sys", "$SYS.REQ.ACCOUNT.A.LEAFZ".into(), "", true),
        ("sys", "$SYS.REQ.ACCOUNT.A.JSZ".into(), "", true),
        ("sys", "$SYS.REQ.ACCOUNT.A.CONNZ".into(), "", false),
        ("sys", "$SYS.REQ.ACCOUNT.A.SUBSZ".into(), "", false),
        ("sys", "$SYS.REQ.ACCOUNT.A.INFO".into(), "", false),
        ("sys", "$SYS.REQ.ACCOUNT.NOPE.INFO".into(), "", true),
        ("sys", "$SYS.REQ.ACCOUNT.A.STATZ".into(), "", true),
        ("sys", "$SYS.REQ.ACCOUNT.B.STATZ".into(), "", true),
        ("sys", "$SYS.REQ.ACCOUNT.B.STATZ".into(), r#"{"include_unused":true}"#, true),
        ("sys", "$SYS.REQ.ACCOUNT.PING.STATZ".into(), r#"{"accounts":["A"]}"#, true),
        ("sys", "$SYS.REQ.ACCOUNT.PING.CONNZ".into(), "", true),
        ("sys", "$SYS.REQ.ACCOUNT.A.CONNS".into(), "", true),
        ("sys", "$SYS.REQ.USER.INFO".into(), "", true),
        ("a", "$SYS.REQ.USER.INFO".into(), "", true),
        ("a", "$SYS.REQ.SERVER.PING.CONNZ".into(), "", false),
        ("a", "$SYS.REQ.ACCOUNT.PING.CONNZ".into(), "", false),
        ("a", "$SYS.REQ.ACCOUNT.PING.STATZ".into(), "", true),
        ("a", "$SYS.REQ.SERVER.PING".into(), "", true),
        ("ap", "$SYS.REQ.USER.INFO".into(), "", true),
    ];
    for x in ["IDZ", "STATSZ", "HEALTHZ", "ROUTEZ"] {
        r.push(("sys", format!("$SYS.REQ.SERVER.{id_ref}.{x}"), "", x != "STATSZ"));
    }
    r
}

/// Sends every request to one server; returns the normalised replies.
async fn run(p: &ServerProcess, id: &str) -> Vec<(String, Vec<Value>)> {
    let sys = login(p, "sys").await;
    let a = login(p, "a").await;
    let ap = login(p, "ap").await;
    // A client of A with a subscription, so A has figures to report.
    let _sub = a.subscribe("_INBOX.cli.>").await.expect("subscribe");
    // A round trip on each connection, so the server has seen every
    // client and subscription (a flush only writes).
    for c in [&sys, &a, &ap] {
        c.request("$SYS.REQ.USER.INFO", "".into()).await.expect("USER.INFO round trip");
    }
    let mut out = Vec::new();
    for (who, subject, body, _) in requests(id) {
        let client = match who {
            "sys" => &sys,
            "a" => &a,
            _ => &ap,
        };
        let mut replies = ask(client, &subject, body).await;
        replies.iter_mut().for_each(normalise);
        out.push((format!("{who} {} {body}", subject.replace(id, "<ID>")), replies));
    }
    out
}

async fn server_id(p: &ServerProcess) -> String {
    let sys = login(p, "sys").await;
    let idz = ask(&sys, "$SYS.REQ.SERVER.PING.IDZ", "").await;
    idz.first().and_then(|v| v["id"].as_str()).expect("IDZ answered").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_requests_answer_as_the_reference_does() {
    let Some(reference) = reference_binary() else {
        return skip_loudly("system_requests_answer_as_the_reference_does");
    };
    let dir = write_conf();
    let conf = dir.path().join("sys.conf");
    let theirs = start(&reference, &conf);
    let ours = start(Path::new(env!("CARGO_BIN_EXE_rnats")), &conf);
    let (their_id, our_id) = (server_id(&theirs).await, server_id(&ours).await);
    let expected = run(&theirs, &their_id).await;
    let got = run(&ours, &our_id).await;
    let full: Vec<bool> = requests("x").iter().map(|r| r.3).collect();
    let mut failures = Vec::new();
    for (((what, want), (_, have)), full) in expected.iter().zip(&got).zip(full) {
        let same = if full {
            want == have
        } else {
            want.len() == have.len() && want.iter().zip(have).all(|(w, h)| shape_of_reply(w) == shape_of_reply(h))
        };
        if !same {
            failures.push(format!("{what}\n  reference: {want:?}\n  rnats:     {have:?}"));
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

/// The envelope's and server object's keys in order, and the data's top
/// level keys as a set (documents are compared in depth by the monitor's
/// own differential tests).
fn shape_of_reply(v: &Value) -> Value {
    let mut top: Vec<Value> = Vec::new();
    if let Value::Object(map) = v {
        for (k, val) in map {
            match (k.as_str(), val) {
                ("data" | "statsz", Value::Object(d)) => {
                    // `/varz` keys rnats leaves out on purpose (README,
                    // and tests/monitor_diff.rs): Go build and JetStream facts.
                    let mut keys: Vec<&String> =
                        d.keys().filter(|k| !matches!(k.as_str(), "git_commit" | "feature_flags")).collect();
                    keys.sort();
                    top.push(serde_json::json!({ k: keys }));
                }
                (_, val) if val.is_object() => top.push(serde_json::json!({ k: shape(val) })),
                _ => top.push(k.clone().into()),
            }
        }
    }
    Value::Array(top)
}

/// The system account's own exports and its self-import, as
/// `$SYS.REQ.ACCOUNT.SYS.INFO` and `PING.ACCOUNTZ {"account":"SYS"}` list
/// them (design §1); exports compared as a set (nats-server lists them in
/// Go map order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_account_lists_its_exports_and_self_import() {
    let Some(reference) = reference_binary() else {
        return skip_loudly("the_system_account_lists_its_exports_and_self_import");
    };
    let dir = write_conf();
    let conf = dir.path().join("sys.conf");
    let rows = |p: ServerProcess| async move {
        let sys = login(&p, "sys").await;
        let mut out = Vec::new();
        for (subject, body, detail) in [
            ("$SYS.REQ.ACCOUNT.SYS.INFO", "", "/data"),
            ("$SYS.REQ.SERVER.PING.ACCOUNTZ", r#"{"account":"SYS"}"#, "/data/account_detail"),
        ] {
            let replies = ask(&sys, subject, body).await;
            let detail = replies.first().and_then(|r| r.pointer(detail)).cloned().unwrap_or_default();
            let mut exports: Vec<String> =
                detail["exports"].as_array().map(|e| e.iter().map(Value::to_string).collect()).unwrap_or_default();
            exports.sort();
            out.push((subject, exports, detail["imports"].clone(), detail["is_system"].clone()));
        }
        out
    };
    let theirs = rows(start(&reference, &conf)).await;
    let ours = rows(start(Path::new(env!("CARGO_BIN_EXE_rnats")), &conf)).await;
    assert_eq!(theirs[0].1.len(), 4, "the reference's exports: {:?}", theirs[0]);
    assert_eq!(ours, theirs);
}

/// `Accept-Encoding` on a `$SYS` request: the reply's `Content-Encoding`
/// and, decoded, the same document as the plain one (`snappy` and `s2`:
/// the snappy framing format; `gzip`; anything else `identity`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_replies_as_the_reference_sends_them() {
    use std::io::Read;
    let Some(reference) = reference_binary() else {
        return skip_loudly("compressed_replies_as_the_reference_sends_them");
    };
    let dir = write_conf();
    let conf = dir.path().join("sys.conf");
    let replies = |p: ServerProcess| async move {
        let sys = login(&p, "sys").await;
        let mut out = Vec::new();
        for asked in ["snappy", "s2", "gzip", "br"] {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Accept-Encoding", asked);
            let reply = tokio::time::timeout(
                FIRST,
                sys.request_with_headers("$SYS.REQ.SERVER.PING.HEALTHZ", headers, "".into()),
            )
            .await
            .expect("in time")
            .expect("answered");
            let encoding =
                reply.headers.as_ref().and_then(|h| h.get("Content-Encoding")).map(|v| v.as_str().to_string());
            let mut body = Vec::new();
            match encoding.as_deref() {
                Some("snappy") => {
                    snap::read::FrameDecoder::new(&reply.payload[..]).read_to_end(&mut body).expect("snappy stream")
                }
                Some("gzip") => flate2::read::GzDecoder::new(&reply.payload[..]).read_to_end(&mut body).expect("gzip"),
                _ => {
                    body = reply.payload.to_vec();
                    0
                }
            };
            let mut doc: Value = serde_json::from_slice(&body).expect("the decoded reply is JSON");
            normalise(&mut doc);
            out.push((asked, encoding, doc));
        }
        out
    };
    let theirs = replies(start(&reference, &conf)).await;
    let ours = replies(start(Path::new(env!("CARGO_BIN_EXE_rnats")), &conf)).await;
    assert_eq!(theirs[0].1.as_deref(), Some("snappy"));
    assert_eq!(ours, theirs);
}

/// Accounts that import the system account's `$SYS.DEBUG.SUBSCRIBERS`
/// (nats-server refuses the import unless the file exports it too: its
/// automatic export comes after the config's imports are checked).
const DEBUG_CONF: &str = r#"
port: -1
system_account: SYS
accounts {
  SYS { users: [{user: sys, password: sys}], exports: [{service: "$SYS.DEBUG.SUBSCRIBERS"}] }
  A {
    users: [{user: a, password: a}]
    imports: [{service: {account: SYS, subject: "$SYS.DEBUG.SUBSCRIBERS"}}]
  }
  B {
    users: [{user: b, password: b}]
    imports: [{service: {account: SYS, subject: "$SYS.DEBUG.SUBSCRIBERS"}}]
  }
}
"#;

/// `$SYS.DEBUG.SUBSCRIBERS`: the same counts, from an importing account
/// (its own subscriptions) and from a system user (the system account's),
/// for literal subjects, patterns and queue groups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_subscribers_counts_as_the_reference() {
    let Some(reference) = reference_binary() else {
        return skip_loudly("debug_subscribers_counts_as_the_reference");
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("debug.conf");
    std::fs::write(&conf, DEBUG_CONF).expect("config written");
    let counts = |p: ServerProcess| async move {
        let (a, b, sys) = (login(&p, "a").await, login(&p, "b").await, login(&p, "sys").await);
        let mut subs = Vec::new();
        for (subject, queue) in
            [("foo", None), ("foo", None), ("foo.*", None), ("foo.bar", Some("q")), ("foo.bar", Some("r"))]
        {
            subs.push(match queue {
                None => a.subscribe(subject).await,
                Some(q) => a.queue_subscribe(subject, q.to_string()).await,
            });
        }
        subs.push(b.subscribe("foo").await);
        subs.push(sys.subscribe("foo.>").await);
        for c in [&a, &b, &sys] {
            c.flush().await.expect("flush");
        }
        let mut out = Vec::new();
        for (who, client) in [("a", &a), ("b", &b), ("sys", &sys)] {
            for body in ["foo", "foo.bar", "foo.bar q", "  foo.bar r  ", "foo.*", "foo.>", "foo.* q", "bar", ""] {
                let answer = client.request("$SYS.DEBUG.SUBSCRIBERS", body.to_string().into()).await.expect("answer");
                out.push((who, body, String::from_utf8_lossy(&answer.payload).into_owned()));
            }
        }
        drop(subs);
        out
    };
    let theirs = counts(start(&reference, &conf)).await;
    let ours = counts(start(Path::new(env!("CARGO_BIN_EXE_rnats")), &conf)).await;
    assert!(theirs.contains(&("a", "foo.bar", "3".to_string())), "the reference's counts: {theirs:?}");
    assert_eq!(ours, theirs);
}
