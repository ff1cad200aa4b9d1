//! `rnats reload` through the system account: the dry run predicts what the
//! reload then does to live clients, the reload publishes its record on
//! `$SYS.SERVER.<id>.RELOAD`, and a nats-server is reloaded but never sent
//! a dry run (it would ignore `dry_run` and reload for real).

mod common;

use std::path::Path;
use std::process::Command;

use common::{login_as, reference_binary, skip_loudly, WAIT};
use futures_util::StreamExt;
use rnats::tools::spawn::{ServerProcess, Spawn};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_rnats");

fn conf(a_users: &str) -> String {
    format!(
        "system_account: SYS\naccounts {{\n  SYS {{ users: [{{user: sys, password: sys}}] }}\n  A {{ users: [{a_users}] }}\n}}\n"
    )
}

/// Runs `rnats reload ARGS -s URL` as the system user.
fn reload(p: &ServerProcess, args: &[&str]) -> (Option<i32>, String) {
    let url = format!("nats://{}", p.addr);
    let out = Command::new(BIN)
        .args(["reload", "-s", &url, "--user", "sys", "--password", "sys", "--timeout", "3"])
        .args(args)
        .output()
        .expect("rnats reload runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_over_the_system_account_predicts_the_reload_and_its_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.conf");
    std::fs::write(&path, conf("{user: a, password: a}, {user: gone, password: gone}")).unwrap();
    let p = Spawn::new(Path::new(BIN)).args(&["-c", path.to_str().unwrap()]).log().start().unwrap();
    let watcher = async_nats::ConnectOptions::with_user_and_password("sys".into(), "sys".into())
        .connect(format!("nats://{}", p.addr))
        .await
        .unwrap();
    let mut events = watcher.subscribe("$SYS.SERVER.*.RELOAD").await.unwrap();
    // The subscription is in place once a request through the same
    // connection has been answered.
    watcher.request("$SYS.REQ.SERVER.PING.IDZ", "".into()).await.unwrap();
    let _a = login_as(p.addr, "a").await;
    let mut gone = login_as(p.addr, "gone").await;

    std::fs::write(&path, conf("{user: a, password: a}")).unwrap();
    let (code, dry) = reload(&p, &["--dry-run"]);
    assert_eq!(code, Some(0), "{dry}");
    // The watcher, the tool itself and `a` stay; `gone` would be closed.
    assert!(dry.contains("dry run would_apply; client connections: 1 closed, 0 re-checked, 3 unchanged"), "{dry}");
    assert!(dry.contains("account A: 1 closed, 0 re-checked, 1 unchanged"), "{dry}");
    // A dry run changes nothing and publishes no event.
    gone.send(b"PING\r\n").await;
    let (answer, _) = gone.read_until_pongs(1).await;
    assert!(answer.ends_with(b"PONG\r\n"), "still connected: {answer:?}");

    let (code, done) = reload(&p, &[]);
    assert_eq!(code, Some(0), "{done}");
    assert!(done.contains("reload applied; client connections: 1 closed, 0 re-checked, 3 unchanged"), "{done}");
    assert_eq!(gone.expect_close().await, b"");
    let event = tokio::time::timeout(WAIT, events.next()).await.expect("a reload event").unwrap();
    let event: Value = serde_json::from_slice(&event.payload).unwrap();
    assert_eq!(event["type"], "io.nats.rnats.advisory.v1.reload");
    assert_eq!((event["trigger"].clone(), event["outcome"].clone()), ("request".into(), "applied".into()));
    assert_eq!(event["connections"], serde_json::json!({"closed": 1, "rechecked": 0, "unchanged": 3}));
    assert!(event["server"]["id"].as_str().is_some_and(|id| !id.is_empty()), "{event}");

    // Nothing left to change: exit status 2.
    assert_eq!(reload(&p, &[]).0, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_server_is_reloaded_but_never_sent_a_dry_run() {
    let Some(reference) = reference_binary() else {
        return skip_loudly("nats_server_is_reloaded_but_never_sent_a_dry_run");
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.conf");
    std::fs::write(&path, conf("{user: a, password: a}")).unwrap();
    let p = Spawn::new(&reference).args(&["-c", path.to_str().unwrap()]).log().start().unwrap();
    let (code, out) = reload(&p, &["--dry-run"]);
    assert_eq!(code, Some(3), "no server could answer a dry run: {out}");
    assert!(out.contains("skipped: not rnats (nats-server would reload for real)"), "{out}");
    assert!(!p.log_text().contains("Reloaded server configuration"), "{}", p.log_text());
    let (code, out) = reload(&p, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(": reloaded"), "{out}");
    assert!(p.wait_for_log("Reloaded server configuration", WAIT).is_some(), "{}", p.log_text());
}
