//! The session layer over an in-memory stream: no socket, no listener. Time
//! is tokio's paused clock where time is the subject, so the liveness rules
//! (pings, stale connections, auth timeout) and the fast-producer stall run
//! instantly and exactly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rnats::options::Options;
use rnats::server::session::serve_client;
use rnats::server::snapshot::Snapshot;
use rnats::server::state::ServerState;
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

    /// Reads one MSG and its payload; returns the MSG line.
    async fn msg(&mut self) -> String {
        let line = self.line().await;
        let size: usize = line.trim_end().rsplit(' ').next().and_then(|s| s.parse().ok()).expect("a MSG line");
        while self.buf.len() < size + 2 {
            let mut chunk = vec![0u8; 64 * 1024];
            let n = tokio::time::timeout(self.patience, self.io.read(&mut chunk))
                .await
                .expect("a payload in time")
                .expect("read");
            assert!(n > 0, "EOF inside a payload");
            self.buf.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(&self.buf[size..size + 2], b"\r\n");
        self.buf.drain(..size + 2);
        line
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
    // Counts the clients' own entries in `$G`: no system account imports.
    let server = state(|o| o.no_system_account = true);
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
    assert_eq!(server.global().sublist.count(), 1);
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
    assert_eq!(server.stats().stale_connections.load(std::sync::atomic::Ordering::Relaxed), 1);
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
    server.begin_shutdown();
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

/// `PUB s 65536` with its payload.
fn big_message() -> Vec<u8> {
    let mut m = b"PUB s 65536\r\n".to_vec();
    m.resize(m.len() + 65536, b'x');
    m.extend_from_slice(b"\r\n");
    m
}

/// A subscriber on `s` with sid `sid`, connected and confirmed.
async fn subscriber(server: &Arc<ServerState>, sid: u32) -> Peer {
    let mut peer = Peer::connect(server).await;
    peer.send(CONNECT).await;
    peer.send(format!("SUB s {sid}\r\nPING\r\n").as_bytes()).await;
    peer.expect(&["PONG\r\n"]).await;
    peer
}

/// The server side of the connection subscribed with `sid`.
fn connection_with_sid(server: &Arc<ServerState>, sid: &[u8]) -> Arc<rnats::server::conn::Connection> {
    let conns = server.connections();
    let found = conns.into_iter().find(|c| c.subscription(sid).is_some());
    found.expect("the subscriber's connection")
}

fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(std::sync::atomic::Ordering::Relaxed)
}

/// A subscriber that stops reading: once it is behind, its producer is
/// stalled (2 ms a read chunk here, one 64 KiB message per chunk) while a
/// subscriber that reads gets every message without waiting for the stall;
/// the stuck one is cut off after write_deadline, and the producer then runs
/// at full speed again. Time is the paused clock's.
#[tokio::test(start_paused = true)]
async fn a_stuck_subscriber_slows_its_producer_until_cut_off() {
    use rnats::server::errors::CloseReason;
    use rnats::server::stall::{STALL_MIN, STALL_TOTAL};
    let write_deadline = Duration::from_millis(40);
    let server = state(|o| {
        // Behind from 6 MiB on; 2 MiB more would take 64 stalled messages
        // (128 ms), so the write deadline comes first.
        o.max_pending = 8 << 20;
        o.write_deadline = write_deadline;
    });
    let _stuck = subscriber(&server, 1).await;
    let stuck = connection_with_sid(&server, b"1");
    let mut reader = subscriber(&server, 2).await;
    let mut publ = Peer::connect(&server).await;
    publ.send(CONNECT).await;
    let msg = big_message();

    let start = tokio::time::Instant::now();
    let mut stalled_from = None;
    let mut sent = 0;
    while stuck.close_reason().is_none() {
        assert!(sent < 1000, "the stuck subscriber is never cut off");
        let t = tokio::time::Instant::now();
        publ.send(&msg).await;
        assert_eq!(reader.msg().await, "MSG s 2 65536\r\n");
        // At most the stall of the message before (the producer is not read
        // meanwhile) stands between the publish and the delivery.
        assert!(t.elapsed() <= STALL_TOTAL, "message {sent} took {:?}", t.elapsed());
        if sent == 90 {
            assert_eq!(start.elapsed(), Duration::ZERO, "no stall before the subscriber is 6 MiB behind");
        }
        if stalled_from.is_none() && load(&stuck.stalls) > 0 {
            stalled_from = Some(sent);
        }
        sent += 1;
    }
    let first_stalled = stalled_from.expect("the producer was stalled");
    assert!(first_stalled >= 90, "stalls began at message {first_stalled}, before the subscriber was 6 MiB behind");
    assert_eq!(stuck.close_reason(), Some(CloseReason::SlowConsumerWriteDeadline));
    assert!(start.elapsed() >= write_deadline, "cut off after {:?}", start.elapsed());
    // One 2 ms stall a message until the 40 ms deadline.
    let stalls = load(&stuck.stalls);
    assert!((15..=25).contains(&stalls), "{stalls} stalls for {sent} messages");
    assert_eq!(load(&server.stats().stalled_clients), stalls);
    assert_eq!(load(&connection_with_sid(&server, b"2").stalls), 0, "the reader was never behind");

    // The stuck subscriber is gone: the producer runs at full speed again.
    let t = tokio::time::Instant::now();
    for _ in 0..50 {
        publ.send(&msg).await;
        assert_eq!(reader.msg().await, "MSG s 2 65536\r\n");
    }
    assert!(t.elapsed() < STALL_MIN, "50 messages took {:?}", t.elapsed());
    assert_eq!(load(&server.stats().stalled_clients), stalls);
}

/// `no_fast_producer_stall: true`: a subscriber that is behind misses
/// messages instead of slowing the producer down; the option reloads.
#[tokio::test(start_paused = true)]
async fn no_fast_producer_stall_skips_a_subscriber_that_is_behind() {
    use rnats::server::stall::STALL_MIN;
    let server = state(|o| {
        o.max_pending = 8 << 20;
        o.no_fast_producer_stall = true;
    });
    let _stuck = subscriber(&server, 1).await;
    let stuck = connection_with_sid(&server, b"1");
    let mut reader = subscriber(&server, 2).await;
    let mut publ = Peer::connect(&server).await;
    publ.send(CONNECT).await;
    let msg = big_message();
    let t = tokio::time::Instant::now();
    // 12.5 MiB, far over max_pending: without the skip it would be cut off.
    for _ in 0..200 {
        publ.send(&msg).await;
        assert_eq!(reader.msg().await, "MSG s 2 65536\r\n");
    }
    assert_eq!(t.elapsed(), Duration::ZERO, "the producer never waited");
    assert_eq!(stuck.close_reason(), None);
    assert!(stuck.outbound.pending() <= 7 << 20, "{} bytes owed", stuck.outbound.pending());
    assert_eq!(load(&stuck.stalls), 0);

    // Reloaded to stall: the same subscriber now holds the producer back.
    let mut opts = server.snapshot().opts.clone();
    opts.no_fast_producer_stall = false;
    server.install(Snapshot::compile(opts, server.generation() + 1, None).expect("compiles"));
    let t = tokio::time::Instant::now();
    for _ in 0..5 {
        publ.send(&msg).await;
        assert_eq!(reader.msg().await, "MSG s 2 65536\r\n");
    }
    publ.send(b"PING\r\n").await;
    publ.expect(&["PONG\r\n"]).await;
    assert_eq!(load(&stuck.stalls), 5);
    assert!(t.elapsed() >= 5 * STALL_MIN, "5 stalls took {:?}", t.elapsed());
}
