//! Accounts across a reload: users moved to another account and accounts
//! removed are closed (without an error, as nats-server closes them);
//! every other connection keeps its subscriptions, its stream imports and
//! its in-flight service replies, and loses no message while the accounts
//! change under traffic.

mod common;

use std::time::Duration;

use common::reloadable::Reloadable;
use common::*;
use futures_util::StreamExt;
use rnats::reload::Outcome;

fn conf(extra_a: &str, b_users: &str, tail: &str) -> String {
    format!(
        r#"
accounts {{
  A {{
    users: [{{user: a, password: a}}, {{user: a2, password: a2}}]
    exports: [{{stream: "ev.>"}}, {{service: "svc.>"}}]
    {extra_a}
  }}
  B {{
    users: [{b_users}]
    imports: [
      {{stream: {{account: A, subject: "ev.>"}}, prefix: "from_a"}}
      {{service: {{account: A, subject: "svc.>"}}}}
    ]
  }}
  {tail}
}}
"#
    )
}

const B_USERS: &str = "{user: b, password: b}, {user: mover, password: mover}";
const C: &str = "C { users: [{user: c, password: c}] }";

async fn step(raw: &mut Raw, bytes: &str) -> String {
    raw.send(format!("{bytes}PING\r\n").as_bytes()).await;
    String::from_utf8_lossy(&raw.read_until_pongs(1).await.0).into_owned()
}

fn changed_accounts(outcome: &Outcome) -> Vec<String> {
    let Outcome::Applied { changes, .. } = outcome else { panic!("the reload applied: {outcome:?}") };
    let mut lines: Vec<String> = changes.iter().filter(|c| c.account().is_some()).map(|c| c.reloaded_line()).collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn moved_users_and_removed_accounts_are_closed_the_rest_keep_working() {
    let server = Reloadable::start(&conf("", B_USERS, C)).await;
    let addr = server.addr();
    let mut a = login_as(addr, "a").await;
    let mut b = login_as(addr, "b").await;
    assert_eq!(step(&mut b, "SUB from_a.ev.> 1\r\n").await, "PONG\r\n");
    let mut mover = login_as(addr, "mover").await;
    let mut c = login_as(addr, "c").await;

    let moved = "{user: b, password: b}";
    let outcome = server
        .rewrite(&conf(
            "users: [{user: a, password: a}, {user: a2, password: a2}, {user: mover, password: mover}]\nmappings: {\"m.src\": \"m.dst\"}",
            moved,
            "D { users: [{user: d, password: d}] }",
        ))
        .await;
    let lines = changed_accounts(&outcome);
    assert!(lines.iter().any(|l| l.contains("account \"C\" removed")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("account \"D\" added")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("account \"B\" users: -mover")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("account \"A\" users: +mover; mappings: +m.src")), "{lines:?}");

    // Closed without an error, as nats-server closes them.
    assert_eq!(mover.expect_close().await, b"");
    assert_eq!(c.expect_close().await, b"");
    // B's subscription through its import is still there, untouched.
    assert_eq!(step(&mut a, "PUB ev.after 2\r\nok\r\n").await, "PONG\r\n");
    assert_eq!(step(&mut b, "").await, "MSG from_a.ev.after 1 2\r\nok\r\nPONG\r\n");
    // A's new mapping applies to the next publish.
    assert_eq!(step(&mut a, "SUB m.dst 5\r\nPUB m.src 1\r\nm\r\n").await, "MSG m.dst 5 1\r\nm\r\nPONG\r\n");
    // The moved user logs in to its new account.
    let mut moved_in = login_as(addr, "mover").await;
    assert_eq!(step(&mut moved_in, "SUB ev.> 1\r\n").await, "PONG\r\n");
    assert_eq!(step(&mut a, "PUB ev.x 1\r\nx\r\n").await, "PONG\r\n");
    assert_eq!(step(&mut moved_in, "").await, "MSG ev.x 1 1\r\nx\r\nPONG\r\n");
}

#[tokio::test]
async fn a_removed_stream_import_stops_at_once_and_an_added_one_starts() {
    let server = Reloadable::start(&conf("", B_USERS, "")).await;
    let addr = server.addr();
    let mut a = login_as(addr, "a").await;
    let mut b = login_as(addr, "b").await;
    step(&mut b, "SUB > 1\r\n").await;
    step(&mut a, "PUB ev.1 1\r\n1\r\n").await;
    assert_eq!(step(&mut b, "").await, "MSG from_a.ev.1 1 1\r\n1\r\nPONG\r\n");

    let without = conf("", B_USERS, "").replace("{stream: {account: A, subject: \"ev.>\"}, prefix: \"from_a\"}", "");
    let lines = changed_accounts(&server.rewrite(&without).await);
    assert_eq!(lines, ["Reloaded: accounts (account \"B\" imports: -A ev.>)"]);
    // B adopts the new rules at the PONG of this round trip at the latest.
    step(&mut b, "").await;
    step(&mut a, "PUB ev.2 1\r\n2\r\n").await;
    assert_eq!(step(&mut b, "PUB own 1\r\no\r\n").await, "MSG own 1 1\r\no\r\nPONG\r\n", "the import is gone");

    let renamed = conf("", B_USERS, "").replace("prefix: \"from_a\"", "prefix: \"again\"");
    server.rewrite(&renamed).await;
    step(&mut b, "").await;
    step(&mut a, "PUB ev.3 1\r\n3\r\n").await;
    assert_eq!(step(&mut b, "").await, "MSG again.ev.3 1 1\r\n3\r\nPONG\r\n", "the same SUB gets the new import");
}

#[tokio::test]
async fn an_account_limit_change_is_announced_and_applied() {
    let with_limit =
        |n: u32| conf("", B_USERS, "").replace("imports:", &format!("limits: {{max_payload: {n}}}\n    imports:"));
    let server = Reloadable::start(&with_limit(10)).await;
    let mut b = Raw::connect(server.addr()).await;
    b.send(b"CONNECT {\"user\":\"b\",\"pass\":\"b\",\"verbose\":false,\"protocol\":1}\r\nPING\r\n").await;
    b.expect(b"PONG\r\n").await;
    assert!(b.read_line().await.contains("\"max_payload\":10,"));
    server.rewrite(&with_limit(20)).await;
    let info = b.read_line().await;
    assert!(info.starts_with("INFO ") && info.contains("\"max_payload\":20,"), "{info}");
    assert_eq!(step(&mut b, "PUB x 15\r\n012345678901234\r\n").await, "PONG\r\n");
}

/// Messages from A reach B (through the import) and A while accounts,
/// mappings and unrelated users change ten times: none lost, none doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_connections_lose_nothing_while_accounts_reload_under_traffic() {
    const ROUNDS: u32 = 10;
    const PER_ROUND: u32 = 200;
    let variant = |i: u32| {
        let extra = if i.is_multiple_of(2) { "mappings: {\"m.src\": \"m.dst\"}" } else { "" };
        let users = if i.is_multiple_of(3) { B_USERS } else { "{user: b, password: b}" };
        let tail = if i % 2 == 1 { "D { users: [{user: d, password: d}] }" } else { C };
        conf(extra, users, tail)
    };
    let server = Reloadable::start(&variant(0)).await;
    let url = format!("nats://{}", server.addr());
    let connect =
        |u: &'static str| async_nats::ConnectOptions::with_user_and_password(u.into(), u.into()).connect(url.clone());
    let publisher = connect("a2").await.unwrap();
    let b = connect("b").await.unwrap();
    let a = connect("a").await.unwrap();
    let mut imported = b.subscribe("from_a.ev.>").await.unwrap();
    let mut own = a.subscribe("ev.>").await.unwrap();
    // Both SUBs are in once a probe (`ev.0`) reached both (async-nats's
    // flush only writes); late probes are skipped below.
    let deadline = tokio::time::Instant::now() + WAIT;
    let (mut b_ready, mut a_ready) = (false, false);
    while !(b_ready && a_ready) {
        assert!(tokio::time::Instant::now() < deadline, "the subscriptions never got a probe");
        publisher.publish("ev.0", "probe".into()).await.unwrap();
        publisher.flush().await.unwrap();
        let quick = Duration::from_millis(50);
        b_ready |= matches!(tokio::time::timeout(quick, imported.next()).await, Ok(Some(_)));
        a_ready |= matches!(tokio::time::timeout(quick, own.next()).await, Ok(Some(_)));
    }
    let mut seq = 0u32;
    for round in 1..=ROUNDS {
        // Half a round of traffic, the reload, the other half: the reload
        // lands between messages the subscribers are still receiving.
        for _ in 0..PER_ROUND / 2 {
            seq += 1;
            publisher.publish(format!("ev.{seq}"), seq.to_string().into()).await.unwrap();
        }
        let outcome = server.rewrite(&variant(round)).await;
        assert!(matches!(outcome, Outcome::Applied { .. }), "{outcome:?}");
        for _ in 0..PER_ROUND / 2 {
            seq += 1;
            publisher.publish(format!("ev.{seq}"), seq.to_string().into()).await.unwrap();
        }
    }
    publisher.flush().await.unwrap();
    for (name, sub, prefix) in [("B", &mut imported, "from_a.ev."), ("A", &mut own, "ev.")] {
        expect_in_order(sub, name, prefix, seq).await;
        assert!(tokio::time::timeout(Duration::from_millis(50), sub.next()).await.is_err(), "{name}: nothing extra");
    }
}
