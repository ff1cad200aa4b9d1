//! Limits and liveness: ping/pong, stale connections, auth timeout and
//! violations, max_connections, max_subscriptions, graceful shutdown.

mod common;

use std::time::Duration;

use common::*;

const C: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_connection_after_ping_max_unanswered_pings() {
    let s = TestServer::with(|o| {
        o.ping_interval = Duration::from_millis(100);
        o.ping_max = 2;
    })
    .await;
    let mut answering = Raw::connect(s.addr()).await;
    answering.send(C).await;
    // The one that answers survives several intervals, concurrently.
    let survivor = tokio::spawn(async move {
        for _ in 0..5 {
            answering.expect(b"PING\r\n").await;
            answering.send(b"PONG\r\n").await;
        }
        answering.send(b"PING\r\n").await;
        let (bytes, closed) = answering.drain(Duration::from_millis(50)).await;
        assert!(!closed && String::from_utf8_lossy(&bytes).contains("PONG"));
    });
    let mut silent = Raw::connect(s.addr()).await;
    silent.send(C).await;
    silent.expect(b"PING\r\n").await;
    silent.expect(b"PING\r\n").await;
    silent.expect(b"-ERR 'Stale Connection'\r\n").await;
    silent.expect_close().await;
    survivor.await.unwrap();
    assert_eq!(s.server.state().stats().stale_connections.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[tokio::test]
async fn auth_timeout_and_violations() {
    let s = TestServer::with(|o| {
        o.authorization.user = Some("derek".into());
        o.authorization.password = Some("s3cr3t".into());
        o.authorization.timeout = Duration::from_millis(200);
    })
    .await;
    let mut idle = Raw::connect(s.addr()).await;
    assert_eq!(idle.info_json()["auth_required"], true);
    idle.expect(b"-ERR 'Authentication Timeout'\r\n").await;
    idle.expect_close().await;

    let mut wrong = Raw::connect(s.addr()).await;
    wrong.send(b"CONNECT {\"verbose\":false,\"user\":\"derek\",\"pass\":\"nope\"}\r\n").await;
    wrong.expect(b"-ERR 'Authorization Violation'\r\n").await;
    wrong.expect_close().await;

    let mut early = Raw::connect(s.addr()).await;
    early.send(b"SUB foo 1\r\n").await;
    early.expect(b"-ERR 'Authorization Violation'\r\n").await;
    early.expect_close().await;

    let mut right = Raw::connect(s.addr()).await;
    right.send(b"CONNECT {\"verbose\":true,\"user\":\"derek\",\"pass\":\"s3cr3t\"}\r\nPING\r\n").await;
    right.expect(b"+OK\r\nPONG\r\n").await;

    // async-nats ignores credentials written in the URL, so they are passed
    // through its options.
    let client = async_nats::ConnectOptions::with_user_and_password("derek".into(), "s3cr3t".into())
        .connect(s.url())
        .await
        .expect("right credentials connect");
    client.flush().await.unwrap();
    let bad = async_nats::ConnectOptions::with_user_and_password("derek".into(), "x".into()).connect(s.url());
    let err = tokio::time::timeout(WAIT, bad).await.expect("answer in time").expect_err("a wrong password is refused");
    assert_eq!(err.kind(), async_nats::ConnectErrorKind::AuthorizationViolation);
}

#[tokio::test]
async fn token_auth() {
    let s = TestServer::with(|o| o.authorization.token = Some("t0ken".into())).await;
    let c = async_nats::ConnectOptions::with_token("t0ken".into()).connect(s.url()).await.expect("token accepted");
    c.flush().await.unwrap();
    let mut raw = Raw::connect(s.addr()).await;
    raw.send(b"CONNECT {\"verbose\":false,\"auth_token\":\"t0ke\"}\r\n").await;
    raw.expect(b"-ERR 'Authorization Violation'\r\n").await;
    raw.expect_close().await;
}

#[tokio::test]
async fn max_connections() {
    let s = TestServer::with(|o| o.max_connections = 2).await;
    let mut a = Raw::connect(s.addr()).await;
    let mut b = Raw::connect(s.addr()).await;
    let mut third = Raw::connect(s.addr()).await;
    third.expect(b"-ERR 'maximum connections exceeded'\r\n").await;
    third.expect_close().await;
    a.send(b"PING\r\n").await;
    a.expect(b"PONG\r\n").await;
    use tokio::io::AsyncWriteExt;
    b.stream.shutdown().await.unwrap();
    drop(b);
    wait_until("the closed connection is deregistered", || s.server.state().num_clients() == 1).await;
    let mut again = Raw::connect(s.addr()).await;
    again.send(b"PING\r\n").await;
    again.expect(b"PONG\r\n").await;
}

#[tokio::test]
async fn max_subscriptions() {
    let s = TestServer::with(|o| o.max_subscriptions = 2).await;
    let mut c = Raw::connect(s.addr()).await;
    c.send(C).await;
    c.send(b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nPING\r\n").await;
    c.expect(b"-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n").await;
    c.send(b"PUB a 1\r\nx\r\nPUB c 1\r\ny\r\nPING\r\n").await;
    c.expect(b"MSG a 1 1\r\nx\r\nPONG\r\n").await;
}

/// On shutdown every connection gets what was already queued for it, then EOF.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_flushes_pending_output() {
    let s = TestServer::start().await;
    let mut sub = Raw::connect(s.addr()).await;
    sub.send(C).await;
    sub.send(b"SUB drain 1\r\nPING\r\n").await;
    sub.expect(b"PONG\r\n").await;
    let mut publisher = Raw::connect(s.addr()).await;
    publisher.send(C).await;
    let mut script = Vec::new();
    for i in 0..1000 {
        script.extend_from_slice(format!("PUB drain 6\r\nm{i:05}\r\n").as_bytes());
    }
    script.extend_from_slice(b"PING\r\n");
    publisher.send(&script).await;
    publisher.expect(b"PONG\r\n").await;
    s.server.shutdown().await;
    let mut expected = Vec::new();
    for i in 0..1000 {
        expected.extend_from_slice(format!("MSG drain 1 6\r\nm{i:05}\r\n").as_bytes());
    }
    sub.expect(&expected).await;
    sub.expect_close().await;
    publisher.expect_close().await;
    assert!(tokio::net::TcpStream::connect(s.addr()).await.is_err(), "listener closed");
}
