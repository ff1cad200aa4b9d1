//! The system account across a mixed cluster: rnats and the reference
//! nats-server routed together, from the same accounts file. A
//! `$SYS.REQ.SERVER.PING` from a client on either server gets one answer
//! per server, and client events of one server reach system subscribers on
//! the other (`RS+ SYS …` and `RMSG SYS …` both ways).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use common::{reference_binary, skip_loudly};
use futures_util::StreamExt;
use rnats::tools::spawn::{ServerProcess, Spawn};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_rnats");
const MESH_WAIT: Duration = Duration::from_secs(15);

const CONF: &str = r#"
system_account: SYS
accounts {
  SYS { users: [{user: sys, password: sys}], exports: [{service: "$SYS.DEBUG.SUBSCRIBERS"}] }
  A {
    users: [{user: a, password: a}]
    imports: [{service: {account: SYS, subject: "$SYS.DEBUG.SUBSCRIBERS"}}]
  }
}
"#;

fn start(bin: &Path, conf: &str, name: &str, seed: Option<String>) -> ServerProcess {
    let mut args = vec!["-c", conf, "-n", name, "--cluster_name", "C1", "--cluster", "nats://127.0.0.1:-1"];
    let seed = seed.unwrap_or_default();
    if !seed.is_empty() {
        args.extend(["--routes", seed.as_str()]);
    }
    Spawn::new(bin).args(&args).log().start().expect("server starts")
}

async fn user(p: &ServerProcess, user: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
        .connect(format!("nats://{}", p.addr))
        .await
        .expect("client connects")
}

/// The names of the servers that answer `subject` within a second.
async fn answering(client: &async_nats::Client, subject: &str) -> Vec<String> {
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await.expect("subscribe");
    client.publish_with_reply(subject.to_string(), inbox, "".into()).await.expect("publish");
    let mut names = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(Some(m)) = tokio::time::timeout_at(deadline, sub.next()).await {
        let v: Value = serde_json::from_slice(&m.payload).unwrap_or_default();
        let server = if v["server"].is_object() { &v["server"] } else { &v };
        names.push(server["name"].as_str().unwrap_or("?").to_string());
    }
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_is_answered_by_every_server_and_events_cross_the_routes() {
    let Some(reference) = reference_binary() else {
        return skip_loudly("a_ping_is_answered_by_every_server_and_events_cross_the_routes");
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("sys.conf");
    std::fs::write(&conf, CONF).expect("config");
    let conf = conf.to_str().expect("utf-8");
    let go = start(&reference, conf, "GO", None);
    let seed = format!("nats-route://{}", go.cluster_addr().expect("route port"));
    let rs = start(Path::new(BIN), conf, "RS", Some(seed));
    let both = vec!["GO".to_string(), "RS".to_string()];
    for (p, name) in [(&go, "GO"), (&rs, "RS")] {
        let sys = user(p, "sys").await;
        for subject in ["$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.IDZ", "$SYS.REQ.SERVER.PING.VARZ"] {
            let deadline = tokio::time::Instant::now() + MESH_WAIT;
            loop {
                let names = answering(&sys, subject).await;
                if names == both {
                    break;
                }
                // Each server answers once, never more.
                let distinct: BTreeSet<_> = names.iter().collect();
                assert_eq!(distinct.len(), names.len(), "{subject} from {name}: {names:?}");
                assert!(tokio::time::Instant::now() < deadline, "{subject} from {name}: only {names:?} answered");
            }
        }
    }
    // A client connecting on one server is announced to system users on the other.
    for (watch, connect, name) in [(&go, &rs, "RS"), (&rs, &go, "GO")] {
        let sys = user(watch, "sys").await;
        let mut events = sys.subscribe("$SYS.ACCOUNT.A.CONNECT").await.expect("subscribe");
        sys.flush().await.expect("flush");
        let deadline = tokio::time::Instant::now() + MESH_WAIT;
        let event = loop {
            // Until the subscription is known across the route.
            let a = user(connect, "a").await;
            a.flush().await.expect("flush");
            if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(500), events.next()).await {
                break serde_json::from_slice::<Value>(&m.payload).expect("json");
            }
            assert!(tokio::time::Instant::now() < deadline, "no CONNECT event from {name}");
        };
        assert_eq!(event["type"], "io.nats.server.advisory.v1.client_connect");
        assert_eq!(event["server"]["name"], name);
        assert_eq!(event["client"]["acc"], "A");
    }
}

/// Each answering server's name and `active_servers`, from a
/// `$SYS.REQ.SERVER.PING.STATSZ` answered within a second.
async fn active_servers(client: &async_nats::Client) -> BTreeMap<String, u64> {
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await.expect("subscribe");
    client.publish_with_reply("$SYS.REQ.SERVER.PING.STATSZ", inbox, "".into()).await.expect("publish");
    let mut seen = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(Some(m)) = tokio::time::timeout_at(deadline, sub.next()).await {
        let v: Value = serde_json::from_slice(&m.payload).unwrap_or_default();
        let name = v["server"]["name"].as_str().unwrap_or("?").to_string();
        seen.insert(name, v["statsz"]["active_servers"].as_u64().unwrap_or(0));
    }
    seen
}

/// The reference `GO` and rnats `RS` routed together from [`CONF`], once
/// both count each other in `active_servers`; with a system user of RS.
async fn counted_mesh(reference: &Path) -> (tempfile::TempDir, ServerProcess, ServerProcess, async_nats::Client) {
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("sys.conf");
    std::fs::write(&conf, CONF).expect("config");
    let conf = conf.to_str().expect("utf-8");
    let go = start(reference, conf, "GO", None);
    let seed = format!("nats-route://{}", go.cluster_addr().expect("route port"));
    let rs = start(Path::new(BIN), conf, "RS", Some(seed));
    let sys = user(&rs, "sys").await;
    let both: BTreeMap<String, u64> = [("GO".to_string(), 2), ("RS".to_string(), 2)].into();
    let deadline = tokio::time::Instant::now() + MESH_WAIT;
    loop {
        let seen = active_servers(&sys).await;
        if seen == both {
            return (dir, go, rs, sys);
        }
        assert!(tokio::time::Instant::now() < deadline, "active_servers never agreed: {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_servers_counts_the_peers_heard_from_and_drops_one_that_shut_down() {
    let Some(reference) = reference_binary() else {
        return skip_loudly("active_servers_counts_the_peers_heard_from_and_drops_one_that_shut_down");
    };
    // Both servers count each other once each has heard the other's STATSZ.
    let (_dir, go, _rs, sys) = counted_mesh(&reference).await;
    // The reference's clean shutdown announces itself: rnats drops it at once
    // (not after the 150 s orphan timeout).
    go.signal(rustix::process::Signal::TERM).expect("SIGTERM");
    let alone: BTreeMap<String, u64> = [("RS".to_string(), 1)].into();
    let deadline = tokio::time::Instant::now() + MESH_WAIT;
    loop {
        let seen = active_servers(&sys).await;
        if seen == alone {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "rnats still counts the peer: {seen:?}");
    }
}

/// `$SYS.DEBUG.SUBSCRIBERS` asked on either server counts the account's
/// subscribers on both: each server asks the other (`$SYS.REQ.ACCOUNT.NSUBS`)
/// once it knows the other has clients in the account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_subscribers_counts_across_the_cluster() {
    let Some(reference) = reference_binary() else {
        return skip_loudly("debug_subscribers_counts_across_the_cluster");
    };
    // The routes first: a server tells its peers about its clients in an
    // account when they connect (and again only every 30 s).
    let (_dir, go, rs, _sys) = counted_mesh(&reference).await;
    let (on_go, on_rs) = (user(&go, "a").await, user(&rs, "a").await);
    let _subs = [
        on_go.subscribe("foo").await.expect("subscribe"),
        on_go.subscribe("foo").await.expect("subscribe"),
        on_rs.subscribe("foo").await.expect("subscribe"),
        on_rs.queue_subscribe("foo", "q".into()).await.expect("subscribe"),
        on_go.queue_subscribe("foo", "q".into()).await.expect("subscribe"),
    ];
    for c in [&on_go, &on_rs] {
        c.flush().await.expect("flush");
    }
    for (client, name) in [(&on_go, "GO"), (&on_rs, "RS")] {
        let deadline = tokio::time::Instant::now() + MESH_WAIT;
        loop {
            let mut answers = Vec::new();
            for body in ["foo", "foo q", "f*"] {
                let answer = client.request("$SYS.DEBUG.SUBSCRIBERS", body.into()).await.expect("answer");
                answers.push(String::from_utf8_lossy(&answer.payload).into_owned());
            }
            if answers == ["5", "2", "0"] {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "asked on {name}: {answers:?}");
        }
    }
}
