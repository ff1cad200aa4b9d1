//! Lame duck mode: clients are told (the official clients' lame duck event
//! fires), new connections are refused, existing ones are closed after the
//! grace period, and the server shuts down (exit code 0 for the binary).

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rnats::launch::Server;
use rnats::options::{Options, Port};

/// An async-nats client whose events (lame duck, disconnect) are collected.
async fn watched_client(url: &str) -> (async_nats::Client, tokio::sync::mpsc::UnboundedReceiver<async_nats::Event>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::new()
        .max_reconnects(0)
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(event);
            }
        })
        .connect(url)
        .await
        .expect("client connects");
    client.flush().await.unwrap();
    (client, rx)
}

async fn wait_event(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<async_nats::Event>,
    want: impl Fn(&async_nats::Event) -> bool,
    within: Duration,
) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let event = tokio::time::timeout_at(deadline, rx.recv()).await.expect("the event in time").expect("events");
        if want(&event) {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_are_told_then_closed_and_new_ones_refused() {
    let opts = Options {
        host: "127.0.0.1".into(),
        port: Port::Random,
        lame_duck_duration: Duration::from_secs(3),
        lame_duck_grace_period: Duration::from_millis(400),
        ..Options::default()
    };
    let server = Server::start(opts).await.unwrap();
    let url = format!("nats://{}", server.client_addr());
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(watched_client(&url).await);
    }
    // A protocol-0 raw client gets no asynchronous INFO, only the close.
    let mut raw = Raw::connect(server.client_addr()).await;
    raw.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n").await;
    raw.expect(b"PONG\r\n").await;

    let state = Arc::clone(server.state());
    let started = tokio::time::Instant::now();
    let ldm = tokio::spawn(rnats::server::lame_duck::run(state));
    for (_, events) in &mut clients {
        wait_event(events, |e| matches!(e, async_nats::Event::LameDuckMode), WAIT).await;
    }
    // The listener is closed: a new connection is refused.
    wait_until("the client port refuses", || std::net::TcpStream::connect(server.client_addr()).is_err()).await;
    // After the grace period every client is closed...
    for (_, events) in &mut clients {
        wait_event(events, |e| matches!(e, async_nats::Event::Disconnected), WAIT).await;
    }
    // The closes are spread at random over the lame duck duration: the
    // server's first PING (2 s after connecting) may come before this one's.
    let seen = String::from_utf8_lossy(&raw.expect_close().await).replace("PING\r\n", "");
    assert_eq!(seen, "", "the protocol-0 client sees no INFO, only the close");
    assert!(started.elapsed() >= Duration::from_millis(400), "not before the grace period");
    // ...and lame duck mode ends, for the caller to shut down.
    assert!(tokio::time::timeout(WAIT, ldm).await.expect("lame duck mode ends").unwrap());
    server.shutdown().await;
}

#[tokio::test]
async fn without_clients_it_ends_at_once() {
    let opts = Options { host: "127.0.0.1".into(), port: Port::Random, ..Options::default() };
    let server = Server::start(opts).await.unwrap();
    // The default grace period is 10 s: nothing waits for it.
    let done = tokio::time::timeout(Duration::from_secs(2), rnats::server::lame_duck::run(server.state().clone()));
    assert!(done.await.expect("ends without waiting the grace period"));
    assert!(!rnats::server::lame_duck::run(server.state().clone()).await, "once only");
}

/// The binary: SIGUSR2 (here through `rnats --signal ldm=PID`), a client told
/// and closed, SIGTERM ignored meanwhile, the reference's log lines, exit 0.
#[test]
fn the_binary_enters_lame_duck_mode_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ldm.conf");
    std::fs::write(&conf, "lame_duck_duration: 30s\nlame_duck_grace_period: 1s\n").unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_rnats"));
    let mut p = rnats::tools::spawn::Spawn::new(bin).args(&["-c", conf.to_str().unwrap()]).log().start().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut raw = rt.block_on(async {
        let mut raw = Raw::connect(p.addr).await;
        raw.send(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\nPING\r\n").await;
        raw.expect(b"PONG\r\n").await;
        assert!(raw.read_line().await.starts_with("INFO "), "the INFO after the first PONG");
        raw
    });
    let status = std::process::Command::new(bin).args(["--signal", &format!("ldm={}", p.pid())]).status().unwrap();
    assert!(status.success());
    rt.block_on(async {
        let info = raw.read_line().await;
        assert!(info.starts_with("INFO {") && info.contains("\"ldm\":true"), "{info}");
    });
    // Ignored while in lame duck mode, as nats-server does.
    p.signal(rustix::process::Signal::TERM).unwrap();
    rt.block_on(async { assert_eq!(raw.expect_close().await, b"") });
    assert_eq!(p.wait_exit(WAIT * 2), Some(0));
    let log = p.log_text();
    let order = [
        "Entering lame duck mode, stop accepting new clients",
        "Trapped \"terminated\" signal",
        "Closing existing clients",
        "Initiating Shutdown...",
        "Server Exiting..",
    ];
    let positions: Vec<Option<usize>> = order.iter().map(|l| log.find(l)).collect();
    assert!(positions.iter().all(Option::is_some), "{log}");
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "in order:\n{log}");
}

#[test]
fn limits_are_checked_with_positions() {
    let loaded = rnats::conf::load_str("ldm.conf", "lame_duck_duration: 30s\nlame_duck_grace_period: 45s\n");
    let text = loaded.render();
    assert!(loaded.failed(false), "{text}");
    assert!(
        text.contains("lame duck grace period (45s) should be strictly lower than lame duck duration (30s)"),
        "{text}"
    );
    assert!(text.contains("ldm.conf:2:1"), "{text}");
    let loaded = rnats::conf::load_str("ldm.conf", "lame_duck_duration: 10s\n");
    assert!(loaded.failed(false) && loaded.render().contains("at least 30s"), "{}", loaded.render());
}
