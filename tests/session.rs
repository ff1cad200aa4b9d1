//! The session layer over an in-memory stream: no socket, no listener. Time
//! is tokio's paused clock where time is the subject, so the liveness rules
//! (pings, stale connections, auth timeout) run instantly and exactly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rnats::options::Options;
use rnats::server::session::serve_client;
use rnats::server::snapshot::Snapshot;
use rnats::server::ServerState;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

fn state(configure: impl FnOnce(&mut Options)) -> Arc<ServerState> {
    let mut opts = Options::default();
    configure(&mut opts);
    ServerState::new(Snapshot::compile(opts, 1, None).expect("compiles"), "NTEST".into(), "test".into())
}

/// One in-memory client of `server`, with its session running.
struct Peer {
    io: DuplexStream,
    buf: Vec<u8>,
    /// The longest wait for a line or EOF: seconds in real time, longer where
    /// the test runs on the paused clock and waits for server timers.
    patience: Duration,
}

impl Peer {
    async fn connect(server: &Arc<ServerState>) -> Peer {
        let (ours, theirs) = tokio::io::duplex(1 << 16);
        let addr: SocketAddr = ([127, 0, 0, 1], 40000).into();
        tokio::spawn(serve_client(server.clone(), theirs, addr));
        let mut peer = Peer { io: ours, buf: Vec::new(), patience: Duration::from_secs(10) };
        let info = peer.line().await;
        assert!(info.starts_with("INFO {") && info.ends_with("} \r\n"), "{info:?}");
        peer
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.expect("write");
    }

    /// The next line; panics on EOF.
    async fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return String::from_utf8_lossy(&line).into_owned();
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(self.patience, self.io.read(&mut chunk))
                .await
                .expect("a line in time")
                .expect("read");
            assert!(n > 0, "EOF while waiting for a line; have {:?}", String::from_utf8_lossy(&self.buf));
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn expect(&mut self, lines: &[&str]) {
        for want in lines {
            assert_eq!(self.line().await, *want);
        }
    }

    async fn expect_eof(&mut self) {
        let mut rest = Vec::new();
        tokio::time::timeout(self.patience, self.io.read_to_end(&mut rest)).await.expect("EOF in time").expect("read");
        assert!(self.buf.is_empty() && rest.is_empty(), "unexpected bytes before EOF: {:?}", rest);
    }
}

const CONNECT: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";
/// A protocol-1 client gets an INFO after its first PONG.
const CONNECT_PROTO1: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\n";

#[tokio::test]
async fn pub_sub_across_two_sessions() {
    let server = state(|_| {});
    let mut sub = Peer::connect(&server).await;
    let mut publ = Peer::connect(&server).await;
    sub.send(CONNECT).await;
    sub.send(b"SUB foo.* 7\r\nPING\r\n").await;
    sub.expect(&["PONG\r\n"]).await;
    publ.send(CONNECT).await;
    publ.send(b"PUB foo.bar reply 5\r\nhello\r\nPING\r\n").await;
    publ.expect(&["PONG\r\n"]).await;
    sub.expect(&["MSG foo.bar 7 reply 5\r\n", "hello\r\n"]).await;
    assert_eq!(server.num_clients(), 2);
    assert_eq!(server.global.sublist.count(), 1);
}

#[tokio::test]
async fn a_new_snapshot_reaches_a_live_session() {
    let server = state(|_| {});
    let mut peer = Peer::connect(&server).await;
    peer.send(CONNECT).await;
    peer.send(b"PUB a 10\r\n0123456789\r\nPING\r\n").await;
    peer.expect(&["PONG\r\n"]).await;

    let mut opts = server.snapshot().opts.clone();
    opts.max_payload = 4;
    server.install(Snapshot::compile(opts, server.generation() + 1, None).expect("compiles"));
    peer.send(b"PUB a 10\r\n0123456789\r\n").await;
    peer.expect(&["-ERR 'Maximum Payload Violation'\r\n"]).await;
    peer.expect_eof().await;
}

#[tokio::test(start_paused = true)]
async fn unanswered_pings_close_a_stale_connection() {
    let server = state(|o| {
        o.ping_interval = Duration::from_secs(60);
        o.ping_max = 2;
    });
    let mut peer = Peer::connect(&server).await;
    peer.patience = Duration::from_secs(600);
    peer.send(CONNECT).await;
    let start = tokio::time::Instant::now();
    // The first ping comes early (to measure the RTT), then every interval.
    peer.expect(&["PING\r\n"]).await;
    assert_eq!(start.elapsed().as_secs(), 2);
    peer.expect(&["PING\r\n"]).await;
    assert_eq!(start.elapsed().as_secs(), 62);
    peer.expect(&["-ERR 'Stale Connection'\r\n"]).await;
    assert_eq!(start.elapsed().as_secs(), 122);
    peer.expect_eof().await;
    assert_eq!(server.stats.stale_connections.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn a_pong_keeps_the_connection_alive() {
    let server = state(|o| o.ping_interval = Duration::from_secs(60));
    let mut peer = Peer::connect(&server).await;
    peer.patience = Duration::from_secs(600);
    peer.send(CONNECT_PROTO1).await;
    for _ in 0..5 {
        peer.expect(&["PING\r\n"]).await;
        peer.send(b"PONG\r\n").await;
    }
    peer.send(b"PING\r\n").await;
    // The async INFO that follows the first PONG for a protocol-1 client.
    peer.expect(&["PONG\r\n"]).await;
    assert!(peer.line().await.starts_with("INFO {\"server_id\":\"NTEST\""));
}

#[tokio::test(start_paused = true)]
async fn no_connect_within_the_auth_timeout() {
    let server = state(|o| {
        o.authorization.token = Some("secret".into());
        o.authorization.timeout = Duration::from_secs(1);
    });
    let mut peer = Peer::connect(&server).await;
    let start = tokio::time::Instant::now();
    peer.expect(&["-ERR 'Authentication Timeout'\r\n"]).await;
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    peer.expect_eof().await;
}

#[tokio::test]
async fn shutdown_closes_every_session() {
    let server = state(|_| {});
    let mut a = Peer::connect(&server).await;
    a.send(CONNECT).await;
    a.send(b"PING\r\n").await;
    a.expect(&["PONG\r\n"]).await;
    server.shutdown.cancel();
    a.expect_eof().await;
}

#[tokio::test(start_paused = true)]
async fn allow_responses_expire() {
    use rnats::options::{Permissions, ResponsePermission, SubjectPermission, User};
    let server = state(|o| {
        let svc_perms = Permissions {
            subscribe: Some(SubjectPermission { allow: vec!["req".into()], deny: vec![] }),
            allow_responses: Some(ResponsePermission { max: 5, expires: Duration::from_millis(300) }),
            ..Permissions::default()
        };
        o.authorization.users = vec![
            User {
                user: Some("svc".into()),
                password: Some("s".into()),
                permissions: Some(svc_perms),
                ..User::default()
            },
            User { user: Some("cli".into()), password: Some("c".into()), ..User::default() },
        ];
    });
    let mut svc = Peer::connect(&server).await;
    svc.send(
        b"CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"svc\",\"pass\":\"s\"}\r\nSUB req 1\r\nPING\r\n",
    )
    .await;
    svc.expect(&["PONG\r\n"]).await;
    let mut cli = Peer::connect(&server).await;
    cli.send(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"cli\",\"pass\":\"c\"}\r\n").await;
    cli.send(b"SUB inbox.> 9\r\nPUB req inbox.1 1\r\nq\r\nPING\r\n").await;
    cli.expect(&["PONG\r\n"]).await;
    svc.expect(&["MSG req 1 inbox.1 1\r\n", "q\r\n"]).await;

    tokio::time::advance(Duration::from_millis(299)).await;
    svc.send(b"PUB inbox.1 2\r\nr1\r\nPING\r\n").await;
    svc.expect(&["PONG\r\n"]).await;
    cli.expect(&["MSG inbox.1 9 2\r\n", "r1\r\n"]).await;

    tokio::time::advance(Duration::from_millis(2)).await;
    svc.send(b"PUB inbox.1 4\r\nlate\r\nPING\r\n").await;
    svc.expect(&["-ERR 'Permissions Violation for Publish to \"inbox.1\"'\r\n", "PONG\r\n"]).await;
}
