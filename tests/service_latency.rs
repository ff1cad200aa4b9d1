//! Latency samples of service exports with `latency`, against the
//! reference: the same config run by nats-server and by rnats; a client of
//! B requests A's services through imports while a client of A listens on
//! the latency subjects. Compared: which requests are sampled, each
//! sample's subject, status and keys (in order), with ids, times and
//! durations normalised; and that `total >= service`.

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
    users: [{user: a, password: a}]
    exports: [
      {service: "svc.all", latency: {sampling: 100%, subject: "lat.all"}}
      {service: "svc.hdr", latency: {sampling: headers, subject: "lat.hdr"}}
      {service: "svc.none", latency: "lat.none"}
      {service: "svc.plain"}
    ]
  }
  B {
    users: [{user: b, password: b}]
    imports: [
      {service: {account: A, subject: "svc.all"}}
      {service: {account: A, subject: "svc.hdr"}}
      {service: {account: A, subject: "svc.none"}, share: true}
      {service: {account: A, subject: "svc.plain"}}
    ]
  }
}
"#;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const DEADLINE: Duration = Duration::from_secs(5);

fn traced() -> async_nats::HeaderMap {
    let mut h = async_nats::HeaderMap::new();
    h.insert("traceparent", TRACEPARENT);
    h.insert("tracestate", "k=v");
    h
}

/// A responder in A answering every request of `subject` with "ok".
async fn serve(a: &async_nats::Client, subject: &str) {
    let mut sub = a.subscribe(subject.to_string()).await.expect("subscribe");
    let a = a.clone();
    tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            if let Some(reply) = m.reply {
                let _ = a.publish(reply, "ok".into()).await;
            }
        }
    });
}

/// Waits until the server has taken everything `client` sent so far (its
/// SUBs are in place for other connections' requests): a message to a
/// fresh inbox of its own comes back. async-nats's `flush` only writes.
async fn settled(client: &async_nats::Client) {
    let probe = client.new_inbox();
    let mut sub = client.subscribe(probe.clone()).await.expect("subscribe");
    client.publish(probe, "probe".into()).await.expect("publish");
    tokio::time::timeout(DEADLINE, sub.next()).await.expect("the probe came back").expect("open");
}

/// The samples `count` requests' worth of traffic produce, in order.
async fn samples(sub: &mut async_nats::Subscriber, count: usize) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    while out.len() < count {
        let m = tokio::time::timeout(DEADLINE, sub.next()).await.expect("a latency sample").expect("subscription open");
        out.push((m.subject.to_string(), serde_json::from_slice(&m.payload).expect("sample is JSON")));
    }
    out
}

/// The scenario: one request of each kind; returns the samples.
async fn scenario(p: &ServerProcess) -> Vec<(String, Value)> {
    let a = login(p, "a").await;
    let b = login(p, "b").await;
    let mut lat = a.subscribe("lat.>").await.expect("subscribe");
    serve(&a, "svc.all").await;
    serve(&a, "svc.hdr").await;
    serve(&a, "svc.plain").await;
    settled(&a).await;
    // Answered, sampled at 100 %.
    b.request("svc.all", "x".into()).await.expect("svc.all answered");
    // Headers sampling: not without a trace header, yes with one.
    b.request("svc.hdr", "x".into()).await.expect("svc.hdr answered");
    b.request_with_headers("svc.hdr", traced(), "x".into()).await.expect("svc.hdr answered");
    // Without latency: nothing.
    b.request("svc.plain", "x".into()).await.expect("svc.plain answered");
    // No responder: 503, with the requester's details (share).
    assert!(b.request("svc.none", "x".into()).await.is_err(), "no responder for svc.none");
    // No reply subject: 400.
    b.publish("svc.all", "x".into()).await.expect("publish");
    b.flush().await.expect("flush");
    let got = samples(&mut lat, 4).await;
    // Nothing more: a last sampled request's sample comes next.
    b.request("svc.all", "x".into()).await.expect("svc.all answered");
    let last = samples(&mut lat, 1).await;
    assert_eq!(last[0].0, "lat.all", "no sample beyond the expected ones");
    got
}

/// The sample with volatile values replaced by their kind.
fn normalise(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, val)| {
                    let val = match k.as_str() {
                        "id" | "timestamp" | "start" | "rtt" | "service" | "system" | "total" | "ver" => {
                            Value::String(format!("<{}>", kind(val)))
                        }
                        _ => normalise(val),
                    };
                    (k.clone(), val)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalise).collect()),
        other => other.clone(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Number(_) => "number",
        Value::String(_) => "string",
        _ => "other",
    }
}

fn check_durations(samples: &[(String, Value)]) {
    for (subject, s) in samples {
        let (service, total) = (s["service"].as_u64(), s["total"].as_u64());
        assert!(service.is_some() && total.is_some(), "{subject}: durations are numbers: {s}");
        assert!(total >= service, "{subject}: total >= service: {s}");
        if s["status"] == 200 {
            assert!(total > Some(0), "{subject}: an answered request took time: {s}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_samples_match_the_reference() {
    let Some(reference) = reference_binary() else {
        return skip_loudly("latency_samples_match_the_reference");
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("lat.conf");
    std::fs::write(&conf, CONF).expect("config written");
    let theirs = scenario(&start(&reference, &conf)).await;
    let ours = scenario(&start(Path::new(env!("CARGO_BIN_EXE_rnats")), &conf)).await;
    check_durations(&theirs);
    check_durations(&ours);
    let statuses: Vec<(String, Value)> = ours.iter().map(|(s, v)| (s.clone(), v["status"].clone())).collect();
    assert_eq!(
        statuses,
        [("lat.all", 200), ("lat.hdr", 200), ("lat.none", 503), ("lat.all", 400)]
            .map(|(s, c)| (s.to_string(), Value::from(c)))
    );
    let norm = |list: &[(String, Value)]| -> Vec<(String, String)> {
        list.iter().map(|(s, v)| (s.clone(), normalise(v).to_string())).collect()
    };
    let (theirs, ours) = (norm(&theirs), norm(&ours));
    for (t, o) in theirs.iter().zip(&ours) {
        assert_eq!(t, o, "\nreference: {t:?}\nrnats:     {o:?}");
    }
    assert_eq!(theirs.len(), ours.len());
}

/// Sampling at 100 % samples every request; `headers` exactly those that
/// carry a sampled trace header (no statistics: both are certain).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_and_header_sampling_pick_exactly_their_requests() {
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("lat.conf");
    std::fs::write(&conf, CONF).expect("config written");
    let p = start(Path::new(env!("CARGO_BIN_EXE_rnats")), &conf);
    let a = login(&p, "a").await;
    let b = login(&p, "b").await;
    let mut lat = a.subscribe("lat.>").await.expect("subscribe");
    serve(&a, "svc.all").await;
    serve(&a, "svc.hdr").await;
    settled(&a).await;
    for i in 0..20 {
        b.request("svc.all", "x".into()).await.expect("answered");
        if i % 2 == 0 {
            b.request_with_headers("svc.hdr", traced(), "x".into()).await.expect("answered");
        } else {
            b.request("svc.hdr", "x".into()).await.expect("answered");
        }
    }
    let got = samples(&mut lat, 30).await;
    let all = got.iter().filter(|(s, _)| s == "lat.all").count();
    let hdr: Vec<&Value> = got.iter().filter(|(s, _)| s == "lat.hdr").map(|(_, v)| v).collect();
    assert_eq!((all, hdr.len()), (20, 10));
    assert!(hdr.iter().all(|v| v["header"]["Traceparent"][0] == TRACEPARENT));
    // Nothing more is on its way: the next sample is the marker's.
    b.request("svc.all", "x".into()).await.expect("answered");
    assert_eq!(samples(&mut lat, 1).await[0].0, "lat.all");
}

/// A requester that stops listening before the answer: its UNSUB, or its
/// connection closing, ends the exchange with a 408 sample at once, and
/// the late answer is dropped without another sample.
async fn requester_gone(p: &ServerProcess) -> Vec<(String, Value)> {
    let a = login(p, "a").await;
    let b = login(p, "b").await;
    let mut lat = a.subscribe("lat.>").await.expect("subscribe");
    let mut held = a.subscribe("svc.all").await.expect("subscribe");
    settled(&a).await;
    let mut got = Vec::new();
    for how in ["unsubscribe", "close"] {
        let requester = login(p, "b").await;
        let inbox = format!("_INBOX.gone.{how}");
        let mut sub = requester.subscribe(inbox.clone()).await.expect("subscribe");
        requester.publish_with_reply("svc.all", inbox, "x".into()).await.expect("publish");
        requester.flush().await.expect("flush");
        let request = tokio::time::timeout(DEADLINE, held.next()).await.expect("request held").expect("open");
        match how {
            "unsubscribe" => {
                sub.unsubscribe().await.expect("unsubscribe");
                requester.flush().await.expect("flush");
            }
            _ => {
                drop(sub);
                drop(requester);
            }
        }
        got.extend(samples(&mut lat, 1).await);
        // The late answer finds nobody: no sample.
        a.publish(request.reply.expect("a reply subject"), "late".into()).await.expect("publish");
        a.flush().await.expect("flush");
    }
    // The next sample is a marker's, not the late answers'. Answered here
    // rather than by `serve`, whose task would outlive the server and
    // reconnect to whichever server gets its port next.
    let mut marker = a.subscribe("svc.hdr").await.expect("subscribe");
    settled(&a).await;
    let asking = tokio::spawn(async move { b.request_with_headers("svc.hdr", traced(), "x".into()).await });
    let request = tokio::time::timeout(DEADLINE, marker.next()).await.expect("marker request").expect("open");
    a.publish(request.reply.expect("a reply subject"), "ok".into()).await.expect("publish");
    asking.await.expect("joined").expect("svc.hdr answered");
    assert_eq!(samples(&mut lat, 1).await[0].0, "lat.hdr", "no sample for a late answer");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requester_gone_before_the_answer_gets_a_408_as_in_the_reference() {
    let Some(reference) = reference_binary() else {
        return skip_loudly("a_requester_gone_before_the_answer_gets_a_408_as_in_the_reference");
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("lat.conf");
    std::fs::write(&conf, CONF).expect("config written");
    let theirs = requester_gone(&start(&reference, &conf)).await;
    let ours = requester_gone(&start(Path::new(env!("CARGO_BIN_EXE_rnats")), &conf)).await;
    let statuses: Vec<Value> = ours.iter().map(|(_, v)| v["status"].clone()).collect();
    assert_eq!(statuses, [408, 408]);
    let norm = |list: &[(String, Value)]| -> Vec<(String, String)> {
        list.iter().map(|(s, v)| (s.clone(), normalise(v).to_string())).collect()
    };
    assert_eq!(norm(&ours), norm(&theirs));
}
