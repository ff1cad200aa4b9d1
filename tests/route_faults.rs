//! Route faults against the binary: a peer server (played by a raw socket
//! speaking the route protocol) whose link is cut in the middle of an RMSG,
//! that stops reading, that sends garbage, and that comes back under the
//! same name. Through all of it the server's own clients are served and a
//! healthy subscriber loses nothing.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_rnats");

/// rnats with a cluster listener and a monitoring port.
fn start(cluster_extra: &str) -> rnats::tools::spawn::ServerProcess {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.conf");
    let text = format!("http_port: -1\ncluster {{\n  name: c\n  listen: \"127.0.0.1:-1\"\n  {cluster_extra}\n}}\n");
    std::fs::write(&conf, text).unwrap();
    let p =
        rnats::tools::spawn::Spawn::new(Path::new(BIN)).args(&["-c", conf.to_str().unwrap()]).log().start().unwrap();
    // The file is read at start; the directory can go.
    drop(dir);
    p
}

/// Another server, as far as rnats can tell: CONNECT and INFO on its route
/// port, PINGs answered while reading.
struct Peer {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Peer {
    /// Registers with rnats; also returns what rnats sent until the PONG
    /// (its INFO and the interest it sends a new route, `RS+ ...`).
    async fn connect(route: SocketAddr, id: &str) -> (Peer, String) {
        let s = TcpStream::connect(route).await.unwrap();
        let mut p = Peer { s, buf: Vec::new() };
        let hello = format!(
            "CONNECT {{\"echo\":true,\"verbose\":false,\"pedantic\":false,\"headers\":true,\"name\":\"{id}\",\"cluster\":\"c\"}}\r\n\
             INFO {{\"server_id\":\"{id}\",\"name\":\"peer-{id}\",\"cluster\":\"c\",\"host\":\"127.0.0.1\",\"port\":1,\"headers\":true}}\r\nPING\r\n"
        );
        p.send(hello.as_bytes()).await;
        let got = p.until("PONG\r\n").await;
        (p, got)
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).await.expect("write to rnats");
    }

    /// Reads until `needle` arrived (answering PINGs); returns what came.
    async fn until(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = String::from_utf8_lossy(&self.buf).into_owned();
            if let Some(i) = text.find(needle) {
                self.buf.drain(..i + needle.len());
                return text;
            }
            let mut chunk = [0u8; 8192];
            let left = deadline.saturating_duration_since(Instant::now());
            let n = tokio::time::timeout(left, self.s.read(&mut chunk))
                .await
                .unwrap_or_else(|_| panic!("{needle:?} never came; got {text:?}"))
                .expect("read");
            assert!(n > 0, "closed before {needle:?}; got {text:?}");
            if chunk[..n].windows(6).any(|w| w == b"PING\r\n") {
                self.send(b"PONG\r\n").await;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads until rnats closes the connection; returns what came.
    async fn until_closed(&mut self) -> String {
        let deadline = Instant::now() + WAIT;
        let mut chunk = [0u8; 8192];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.s.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return String::from_utf8_lossy(&self.buf).into_owned(),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => panic!("never closed; got {:?}", String::from_utf8_lossy(&self.buf)),
            }
        }
    }
}

/// The remote server ids `/routez` lists.
async fn routes(mon: &str) -> Vec<String> {
    let r = http::get_json(mon, "/routez").await;
    r["routes"]
        .as_array()
        .map_or(Vec::new(), |a| a.iter().filter_map(|r| r["remote_id"].as_str().map(str::to_string)).collect())
}

async fn wait_routes(mon: &str, want: &[&str]) {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = routes(mon).await;
        if now == want {
            return;
        }
        assert!(Instant::now() < deadline, "routes {now:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The peer's link is cut after half of an RMSG's payload: the route
/// closes, nothing of the half message reaches the subscriber, and the
/// same server (same name and id) is taken back and delivers again.
#[tokio::test]
async fn a_link_cut_in_the_middle_of_an_rmsg_then_the_same_server_returns() {
    let p = start("");
    let mon = p.monitor_url().unwrap();
    let route = p.cluster_addr().expect("route port");
    let client = async_nats::connect(p.addr.to_string()).await.unwrap();
    let mut sub = client.subscribe("a").await.unwrap();
    // async-nats's flush only writes: a message round trip shows the SUB is
    // in, so the new route is told about it.
    client.publish("a", "ready".into()).await.unwrap();
    let m = tokio::time::timeout(WAIT, sub.next()).await.expect("in time").expect("a message");
    assert_eq!(&m.payload[..], b"ready");

    let (mut peer, got) = Peer::connect(route, "NPEER1").await;
    assert!(got.contains("RS+ $G a\r\n"), "{got:?}");
    wait_routes(&mon, &["NPEER1"]).await;
    peer.send(b"RMSG $G a 10\r\nhello").await;
    peer.s.shutdown().await.unwrap();
    drop(peer);
    wait_routes(&mon, &[]).await;

    // Nothing half-delivered: the next message is the first one seen.
    client.publish("a", "after".into()).await.unwrap();
    let m = tokio::time::timeout(WAIT, sub.next()).await.expect("in time").expect("a message");
    assert_eq!(&m.payload[..], b"after");

    // The same server restarts: taken back under the same id and name.
    let (mut again, got) = Peer::connect(route, "NPEER1").await;
    assert!(got.contains("RS+ $G a\r\n"), "{got:?}");
    wait_routes(&mon, &["NPEER1"]).await;
    again.send(b"RMSG $G a 2\r\nok\r\nPING\r\n").await;
    again.until("PONG\r\n").await;
    let m = tokio::time::timeout(WAIT, sub.next()).await.expect("in time").expect("a message");
    assert_eq!(&m.payload[..], b"ok");
    let log = p.log_text();
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(log.matches("Route connection created").count(), 2, "{log}");
}

/// A peer that registers interest in everything and then stops reading:
/// once rnats' writes to it block for `cluster.write_deadline`, the route
/// is cut as a slow consumer; the local subscriber got every message, in
/// order, the whole time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_is_cut_after_the_write_deadline() {
    let p = start("write_deadline: \"500ms\"");
    let mon = p.monitor_url().unwrap();
    let route = p.cluster_addr().expect("route port");
    let (mut peer, _) = Peer::connect(route, "NSTUCK").await;
    peer.send(b"RS+ $G >\r\nPING\r\n").await;
    peer.until("PONG\r\n").await;
    wait_routes(&mon, &["NSTUCK"]).await;
    // From here on the peer reads nothing.

    let url = p.addr.to_string();
    let subscriber = async_nats::connect(&url).await.unwrap();
    let mut sub = subscriber.subscribe("load").await.unwrap();
    subscriber.flush().await.unwrap();
    let publisher = async_nats::connect(&url).await.unwrap();
    let payload = bytes::Bytes::from(vec![b'x'; 1024]);
    let mut sent = 0u64;
    let mut received = 0u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut cut = false;
    while Instant::now() < deadline {
        for _ in 0..500 {
            let mut p = payload.to_vec();
            p[..8].copy_from_slice(&sent.to_be_bytes());
            publisher.publish("load", p.into()).await.unwrap();
            sent += 1;
        }
        publisher.flush().await.unwrap();
        // The subscriber keeps up, in order.
        while received < sent {
            let m = tokio::time::timeout(WAIT, sub.next()).await.expect("the subscriber is served").expect("open");
            assert_eq!(u64::from_be_bytes(m.payload[..8].try_into().unwrap()), received, "in order, none lost");
            received += 1;
        }
        if routes(&mon).await.is_empty() {
            cut = true;
            break;
        }
    }
    assert!(cut, "the route was never cut ({sent} messages sent)");
    let log = p.wait_for_log("Slow Consumer Detected: WriteDeadline of 500ms exceeded", WAIT);
    assert!(log.is_some(), "{}", p.log_text());
    drop(peer);
}

/// Garbage from a peer: rnats answers as nats-server does and closes that
/// route only; its clients are untouched, and the peer can come back.
#[tokio::test]
async fn a_peer_sending_garbage_is_closed_and_can_come_back() {
    let p = start("");
    let mon = p.monitor_url().unwrap();
    let route = p.cluster_addr().expect("route port");
    let client = async_nats::connect(p.addr.to_string()).await.unwrap();
    let mut sub = client.subscribe("g").await.unwrap();
    client.flush().await.unwrap();

    let (mut peer, _) = Peer::connect(route, "NGARB").await;
    wait_routes(&mon, &["NGARB"]).await;
    peer.send(b"\x00\xffGARBAGE 1 2 3\r\n").await;
    let got = peer.until_closed().await;
    assert!(got.contains("-ERR 'Unknown Protocol Operation'"), "{got:?}");
    wait_routes(&mon, &[]).await;

    // A message that would need an RMSG with a bad size is refused the same way.
    let (mut bad, _) = Peer::connect(route, "NGARB").await;
    bad.send(b"RMSG $G g notanumber\r\n").await;
    bad.until_closed().await;
    wait_routes(&mon, &[]).await;

    client.publish("g", "still here".into()).await.unwrap();
    let m = tokio::time::timeout(WAIT, sub.next()).await.expect("in time").expect("a message");
    assert_eq!(&m.payload[..], b"still here");

    let (_back, got) = Peer::connect(route, "NGARB").await;
    assert!(got.contains("RS+ $G g\r\n"), "{got:?}");
    wait_routes(&mon, &["NGARB"]).await;
    let log = p.log_text();
    assert!(!log.contains("panicked"), "{log}");
}
