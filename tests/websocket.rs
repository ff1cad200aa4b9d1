//! The websocket listener through the front door: every key of the
//! `websocket` block set in a real config file and its effect seen by a
//! client (raw frames, async-nats' `ws://` and `wss://` transports,
//! nats-py's), monitoring, the ports file, clustering and reload.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use common::certs::Pki;
use common::ws::{self, upgrade_request, WsClient};
use common::WAIT;
use futures_util::StreamExt;
use rnats::cli::FlagOverlay;
use rnats::launch::Server;
use rnats::options::Port;

/// A server from config text, clients on a random loopback port.
struct WsServer {
    /// Holds the config file for the server's life.
    dir: tempfile::TempDir,
    server: Server,
}

impl WsServer {
    async fn start(text: &str) -> WsServer {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("server.conf");
        std::fs::write(&conf, text).unwrap();
        let overlay =
            FlagOverlay { host: Some("127.0.0.1".into()), port: Some(Port::Random), ..FlagOverlay::default() };
        let loaded = rnats::conf::load(&conf, &overlay);
        assert!(!loaded.failed(false), "{}", loaded.render());
        let server = Server::start(loaded.options).await.expect("server starts");
        WsServer { dir, server }
    }

    fn ws(&self) -> SocketAddr {
        self.server.state().ws_addr().expect("a websocket listener")
    }

    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.ws().port())
    }

    async fn raw(&self, extra: &str) -> WsClient {
        ws::connect(self.ws(), &upgrade_request(extra)).await
    }
}

const PLAIN: &str = "websocket { listen: \"127.0.0.1:-1\", no_tls: true }\n";

/// The official Rust client's websocket test, `ws://` without TLS: pub/sub,
/// ten 1 MiB messages, request/reply.
#[tokio::test]
async fn async_nats_ws_core() {
    let s = WsServer::start(PLAIN).await;
    let client = async_nats::connect(s.url("ws")).await.expect("ws:// connects");
    let mut sub = client.subscribe("foo").await.unwrap();
    client.publish("foo", "hello".into()).await.unwrap();
    assert_eq!(sub.next().await.unwrap().payload, "hello");

    let payload = bytes::Bytes::from(vec![22; 1024 * 1024]);
    let mut sub = client.subscribe("big").await.unwrap().take(10);
    for _ in 0..10 {
        client.publish("big", payload.clone()).await.unwrap();
    }
    let mut n = 0;
    while let Some(msg) = tokio::time::timeout(WAIT, sub.next()).await.expect("in time") {
        assert_eq!(msg.payload, payload);
        n += 1;
    }
    assert_eq!(n, 10);

    let mut requests = client.subscribe("svc").await.unwrap();
    let responder = client.clone();
    tokio::spawn(async move {
        let r = requests.next().await.unwrap();
        responder.publish(r.reply.unwrap(), r.payload).await.unwrap();
    });
    let response = client.request("svc", "hello".into()).await.unwrap();
    assert_eq!(response.payload, "hello");

    // A TCP client and the websocket client see each other's messages.
    let tcp = async_nats::connect(format!("nats://{}", s.server.client_addr())).await.unwrap();
    let mut from_ws = tcp.subscribe("x.>").await.unwrap();
    tcp.flush().await.unwrap();
    client.publish("x.1", "over ws".into()).await.unwrap();
    assert_eq!(tokio::time::timeout(WAIT, from_ws.next()).await.unwrap().unwrap().payload, "over ws");
}

/// The official Rust client's `wss://` test: TLS, and the top-level user
/// and password.
#[tokio::test]
async fn async_nats_wss_with_user_and_password() {
    let pki = Pki::new();
    let conf = format!(
        "authorization {{ user: derek, password: porkchop, timeout: 1 }}\n\
         websocket {{ port: -1, host: 127.0.0.1, tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\" }} }}\n",
        pki.server.cert_file, pki.server.key_file, pki.ca_file
    );
    let s = WsServer::start(&conf).await;
    let url = format!("wss://localhost:{}", s.ws().port());
    let client = async_nats::ConnectOptions::new()
        .user_and_password("derek".into(), "porkchop".into())
        .add_root_certificates(PathBuf::from(&pki.ca_file))
        .connect(&url)
        .await
        .expect("wss:// connects");
    let mut sub = client.subscribe("foo").await.unwrap();
    client.publish("foo", "hello".into()).await.unwrap();
    assert_eq!(sub.next().await.unwrap().payload, "hello");

    let wrong = async_nats::ConnectOptions::new()
        .user_and_password("derek".into(), "nope".into())
        .add_root_certificates(PathBuf::from(&pki.ca_file))
        .connect(&url)
        .await;
    assert!(wrong.is_err(), "a wrong password is refused over wss too");
}

/// The INFO a websocket client gets: the websocket listener's host, port
/// and TLS, as nats-server 2.15 sends it.
#[tokio::test]
async fn info_describes_the_websocket_listener() {
    let s = WsServer::start(&format!("authorization {{ token: s3cret }}\n{PLAIN}")).await;
    let mut c = s.raw("").await;
    assert_eq!(c.status(), 101, "{}", c.response);
    let info = ws::info_json(&c.until(b"\r\n").await);
    assert_eq!(info["port"], s.ws().port());
    assert_eq!(info["host"], "127.0.0.1");
    assert_eq!(info["auth_required"], true);
    assert!(info.get("tls_required").is_none());
    assert!(info.get("connect_urls").is_none(), "no cluster, no URLs");
    c.send(b"CONNECT {\"auth_token\":\"s3cret\",\"verbose\":true}\r\nPING\r\n").await;
    assert_eq!(c.until(b"PONG\r\n").await, b"+OK\r\nPONG\r\n");
}

/// `tls` required unless `no_tls`, origins that parse, headers that leave
/// the upgrade alone, cookies for JWTs only in operator mode: the
/// reference's messages, with their positions.
#[test]
fn config_errors_are_the_references_and_positioned() {
    let cases = [
        ("websocket {\n  port: 8080\n}\n", "2:3", "websocket requires TLS configuration"),
        (
            "websocket {\n  port: 8080, no_tls: true\n  allowed_origins: [\"http://ok\", \"ftp://x\"]\n}\n",
            "3:34",
            "unable to parse allowed origin \"ftp://x\": allowed origins must be absolute URLs with http or https scheme",
        ),
        (
            "websocket {\n  port: 8080, no_tls: true\n  headers { \"Sec-WebSocket-Protocol\": x }\n}\n",
            "3:13",
            "websocket: invalid header \"Sec-WebSocket-Protocol\", \"Sec-WebSocket-\" prefix not allowed",
        ),
        (
            "websocket {\n  port: 8080, no_tls: true\n  headers { Upgrade: x }\n}\n",
            "3:13",
            "websocket: invalid header \"Upgrade\" not allowed",
        ),
        (
            "websocket {\n  port: 8080, no_tls: true\n  jwt_cookie: jwt\n}\n",
            "3:3",
            "trusted operators or trusted keys configuration is required for JWT authentication via cookie \"jwt\"",
        ),
        (
            "authorization { users: [{user: a, password: b}] }\nwebsocket {\n  port: 8080, no_tls: true\n  authorization { user: x, password: y }\n}\n",
            "4:19",
            "websocket authentication username not compatible with presence of users/nkeys",
        ),
        (
            "authorization { users: [{user: a, password: b}] }\nwebsocket {\n  port: 8080, no_tls: true\n  no_auth_user: zed\n}\n",
            "4:3",
            "no_auth_user: \"zed\" not present as user or nkey in authorization block or account configuration",
        ),
        (
            "websocket {\n  port: 8080, no_tls: true\n  handshake_timeout: 1.5\n}\n",
            "3:22",
            "error parsing handshake timeout: unsupported type float64",
        ),
    ];
    for (text, at, message) in cases {
        let loaded = rnats::conf::load_str("ws.conf", text);
        let rendered = loaded.render();
        assert!(loaded.failed(false), "{text}\n{rendered}");
        assert!(rendered.contains(message), "{text}\nwants {message}\n{rendered}");
        assert!(rendered.contains(&format!("ws.conf:{at}")), "{text}\nwants ws.conf:{at}\n{rendered}");
    }
    // A block without a port opens nothing and needs nothing.
    assert!(!rnats::conf::load_str("ws.conf", "websocket { compression: true }\n").failed(false));
}

/// Every alias of every key reaches the same option.
#[test]
fn aliases() {
    let text = "ws {\n listen: \"127.0.0.1:-1\"\n no_tls: true\n allow_origin: \"http://a\"\n compress: true\n\
                authentication { username: u, pass: p, timeout: 3 }\n handshake_timeout: \"250ms\"\n\
                ping_interval: \"5s\"\n user_cookie: uc\n pass_cookie: pc\n token_cookie: tc\n\
                headers { X-A: b }\n advertise: \"h:1\"\n same_origin: true\n}\n";
    let loaded = rnats::conf::load_str("ws.conf", text);
    assert!(!loaded.failed(false), "{}", loaded.render());
    let w = loaded.options.websocket.expect("the block");
    assert_eq!((w.host.as_str(), w.port), ("127.0.0.1", Port::Random));
    assert!(w.no_tls && w.compression && w.same_origin);
    assert_eq!(w.allowed_origins, ["http://a"]);
    let a = w.authorization.unwrap();
    assert_eq!(
        (a.user.as_deref(), a.password.as_ref().map(|p| p.expose()), a.timeout),
        (Some("u"), Some("p"), Some(Duration::from_secs(3)))
    );
    assert_eq!(w.handshake_timeout, Some(Duration::from_millis(250)));
    assert_eq!(w.ping_interval, Some(Duration::from_secs(5)));
    assert_eq!(
        (w.user_cookie.as_deref(), w.pass_cookie.as_deref(), w.token_cookie.as_deref()),
        (Some("uc"), Some("pc"), Some("tc"))
    );
    assert_eq!(w.headers.get("X-A").map(String::as_str), Some("b"));
    assert_eq!(w.advertise.as_deref(), Some("h:1"));
    for alias in ["allowed_origin", "allow_origins", "origins", "origin"] {
        let loaded = rnats::conf::load_str(
            "ws.conf",
            &format!("websocket {{ port: 1, no_tls: true, {alias}: [\"http://x\"] }}"),
        );
        assert_eq!(loaded.options.websocket.unwrap().allowed_origins, ["http://x"], "{alias}");
    }
    let loaded =
        rnats::conf::load_str("ws.conf", "websocket { port: 1, no_tls: true, net: \"::1\", handshake_timeout: 2 }");
    let w = loaded.options.websocket.unwrap();
    assert_eq!((w.host.as_str(), w.handshake_timeout), ("::1", Some(Duration::from_secs(2))));
}

/// `allowed_origins` and `same_origin`: checked only when the request has
/// an Origin, 403 otherwise.
#[tokio::test]
async fn origins() {
    let s = WsServer::start(
        "websocket { listen: \"127.0.0.1:-1\", no_tls: true, allowed_origins: [\"https://app.example\"] }\n",
    )
    .await;
    assert_eq!(s.raw("").await.status(), 101, "no Origin, nothing to check");
    assert_eq!(s.raw("Origin: https://app.example\r\n").await.status(), 101);
    let refused = s.raw("Origin: http://app.example\r\n").await;
    assert_eq!(refused.status(), 403, "{}", refused.response);
    assert!(refused.response.contains("Sec-Websocket-Version: 13\r\n"));

    let same = WsServer::start("websocket { listen: \"127.0.0.1:-1\", no_tls: true, same_origin: true }\n").await;
    let host = format!("Host: 127.0.0.1:{}", same.ws().port());
    let req = |origin: &str| upgrade_request(&format!("Origin: {origin}\r\n")).replace("Host: 127.0.0.1", &host);
    assert_eq!(ws::connect(same.ws(), &req(&format!("http://127.0.0.1:{}", same.ws().port()))).await.status(), 101);
    assert_eq!(ws::connect(same.ws(), &req("http://127.0.0.1:1")).await.status(), 403);
}

/// `headers` go into the 101 answer; `compression` is agreed only with a
/// client that offers it, and then both directions are compressed.
#[tokio::test]
async fn headers_and_compression() {
    let s = WsServer::start(
        "websocket { listen: \"127.0.0.1:-1\", no_tls: true, compression: true, headers { Strict-Transport-Security: \"max-age=31536000\" } }\n",
    )
    .await;
    let plain = s.raw("").await;
    assert!(plain.response.contains("Strict-Transport-Security: max-age=31536000\r\n"), "{}", plain.response);
    assert!(!plain.response.contains("Sec-WebSocket-Extensions"));

    let mut c = s.raw("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n").await;
    assert!(c.response.contains(
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"
    ));
    let (b0, _) = c.frame().await.expect("INFO");
    assert_eq!(b0, 0xc2, "the INFO is compressed: FIN, RSV1, binary");
    c.send_compressed(b"CONNECT {\"verbose\":false}\r\nSUB big 1\r\nPING\r\n").await;
    c.until(b"PONG\r\n").await;
    let payload = "0123456789".repeat(10_000);
    let mut publish = format!("PUB big {}\r\n{payload}\r\n", payload.len()).into_bytes();
    publish.extend_from_slice(b"PING\r\n");
    c.send_compressed(&publish).await;
    let got = c.until(b"PONG\r\n").await;
    let expected = format!("MSG big 1 {}\r\n{payload}\r\nPONG\r\n", payload.len());
    assert_eq!(String::from_utf8(got).unwrap(), expected);

    // Without compression configured, an offer gets a plain connection.
    let s = WsServer::start(PLAIN).await;
    let mut c = s.raw("Sec-WebSocket-Extensions: permessage-deflate\r\n").await;
    assert!(!c.response.contains("Extensions"));
    assert_eq!(c.frame().await.unwrap().0, 0x82);
}

/// A compressed frame on a connection that did not agree to compression is
/// a protocol error, closed with 1002 and the reference's text.
#[tokio::test]
async fn protocol_errors_close_with_1002() {
    let s = WsServer::start(PLAIN).await;
    let mut c = s.raw("").await;
    c.until(b"\r\n").await;
    c.send_frame(0xc2, b"x").await;
    let close = c.close_frame().await.expect("a close frame");
    assert_eq!(close, b"\x03\xeacompressed frame received without negotiated permessage-deflate");

    // Control frames: a ping is answered with its payload; a close is echoed.
    let mut c = s.raw("").await;
    c.until(b"\r\n").await;
    c.send_frame(0x89, b"are you there").await;
    assert_eq!(c.frame().await.unwrap(), (0x8a, b"are you there".to_vec()));
    c.send_frame(0x88, b"\x03\xe8done").await;
    assert_eq!(c.close_frame().await.unwrap(), b"\x03\xe8done");
}

/// `Nats-No-Masking: true`: the client may send unmasked frames.
#[tokio::test]
async fn no_masking() {
    let s = WsServer::start(PLAIN).await;
    let mut c = s.raw("Nats-No-Masking: true\r\n").await;
    assert!(c.no_masking, "{}", c.response);
    c.handshake_nats("{\"verbose\":false}").await;
    c.send(b"SUB a 1\r\nPUB a 2\r\nhi\r\nPING\r\n").await;
    assert_eq!(c.until(b"PONG\r\n").await, b"MSG a 1 2\r\nhi\r\nPONG\r\n");
}

/// A browser's frames are at most 4 KiB.
#[tokio::test]
async fn browsers_get_4k_frames() {
    let s = WsServer::start(PLAIN).await;
    let mut c = s.raw("User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0\r\n").await;
    c.handshake_nats("{}").await;
    let payload = vec![b'b'; 20_000];
    c.send(b"SUB a 1\r\n").await;
    c.send(&[format!("PUB a {}\r\n", payload.len()).as_bytes(), &payload, b"\r\n"].concat()).await;
    let mut total = 0;
    while total < payload.len() {
        let (b0, p) = c.frame().await.expect("frames");
        assert_eq!(b0, 0x82);
        assert!(p.len() <= 4096, "{}", p.len());
        total += p.len();
    }
}

/// `authorization` in the block: websocket clients use its credentials (and
/// its timeout), TCP clients the top-level ones.
#[tokio::test]
async fn the_blocks_own_authorization() {
    let s = WsServer::start(
        "authorization { user: tcp, password: t }\n\
         websocket { listen: \"127.0.0.1:-1\", no_tls: true, authorization { user: wsu, password: w, timeout: 0.3 } }\n",
    )
    .await;
    let mut c = s.raw("").await;
    let info = ws::info_json(&c.until(b"\r\n").await);
    assert_eq!(info["auth_required"], true);
    c.send(b"CONNECT {\"user\":\"wsu\",\"pass\":\"w\"}\r\nPING\r\n").await;
    c.until(b"PONG\r\n").await;

    let mut c = s.raw("").await;
    c.until(b"\r\n").await;
    c.send(b"CONNECT {\"user\":\"tcp\",\"pass\":\"t\"}\r\n").await;
    assert_eq!(c.until(b"\r\n").await, b"-ERR 'Authorization Violation'\r\n");
    assert_eq!(c.close_frame().await.unwrap(), b"\x03\xf0Authentication Failure");

    // The block's timeout (0.3s), not the top-level one (2s).
    let mut c = s.raw("").await;
    c.until(b"\r\n").await;
    let started = std::time::Instant::now();
    assert_eq!(c.until(b"\r\n").await, b"-ERR 'Authentication Timeout'\r\n");
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
    assert_eq!(c.close_frame().await.unwrap(), b"\x03\xf0Authentication Timeout");

    let tcp = async_nats::ConnectOptions::new()
        .user_and_password("wsu".into(), "w".into())
        .connect(format!("nats://{}", s.server.client_addr()))
        .await;
    assert!(tcp.is_err(), "the block's user is for websocket clients only");
}

/// `no_auth_user` of the block, and cookies standing in for credentials.
#[tokio::test]
async fn no_auth_user_and_cookies() {
    let s = WsServer::start(
        "authorization { users: [\n  {user: alice, password: a, permissions: {publish: \"alice.>\"}}\n  {user: bob, password: b}\n] }\n\
         websocket { listen: \"127.0.0.1:-1\", no_tls: true, no_auth_user: alice, user_cookie: u, pass_cookie: p }\n",
    )
    .await;
    // No credentials at all: alice, whose permissions apply.
    let mut c = s.raw("").await;
    c.handshake_nats("{\"verbose\":false}").await;
    c.send(b"PUB bob.x 1\r\nx\r\nPING\r\n").await;
    assert_eq!(c.until(b"PONG\r\n").await, b"-ERR 'Permissions Violation for Publish to \"bob.x\"'\r\nPONG\r\n");

    // Cookies: bob, with nothing in the CONNECT.
    let mut c = s.raw("Cookie: theme=dark; u=bob; p=b\r\n").await;
    c.handshake_nats("{\"verbose\":false}").await;
    c.send(b"PUB bob.x 1\r\nx\r\nPING\r\n").await;
    assert_eq!(c.until(b"PONG\r\n").await, b"PONG\r\n");

    // A wrong cookie password is a wrong password.
    let mut c = s.raw("Cookie: u=bob; p=nope\r\n").await;
    c.until(b"\r\n").await;
    c.send(b"CONNECT {}\r\n").await;
    assert_eq!(c.until(b"\r\n").await, b"-ERR 'Authorization Violation'\r\n");

    // The TCP port has no no_auth_user.
    assert!(async_nats::connect(format!("nats://{}", s.server.client_addr())).await.is_err());
}

/// `token_cookie`: the cookie is the token.
#[tokio::test]
async fn token_cookie() {
    let s = WsServer::start(
        "authorization { token: t0k }\nwebsocket { listen: \"127.0.0.1:-1\", no_tls: true, token_cookie: nats_token }\n",
    )
    .await;
    let mut c = s.raw("Cookie: nats_token=t0k\r\n").await;
    c.handshake_nats("{}").await;
    let mut c = s.raw("Cookie: nats_token=wrong\r\n").await;
    c.until(b"\r\n").await;
    c.send(b"CONNECT {}\r\n").await;
    assert_eq!(c.until(b"\r\n").await, b"-ERR 'Authorization Violation'\r\n");
}

/// `allowed_connection_types`: WEBSOCKET users only over websocket,
/// STANDARD users only over TCP.
#[tokio::test]
async fn allowed_connection_types() {
    let s = WsServer::start(&format!(
        "authorization {{ users: [\n  {{user: browser, password: b, allowed_connection_types: [\"WEBSOCKET\"]}}\n  \
         {{user: backend, password: s, allowed_connection_types: [\"STANDARD\"]}}\n  {{user: any, password: a}}\n] }}\n{PLAIN}"
    ))
    .await;
    let ws_as = |user: &'static str, pass: &'static str| {
        let url = s.url("ws");
        async move {
            async_nats::ConnectOptions::new().user_and_password(user.into(), pass.into()).connect(url).await.is_ok()
        }
    };
    let tcp_as = |user: &'static str, pass: &'static str| {
        let url = format!("nats://{}", s.server.client_addr());
        async move {
            async_nats::ConnectOptions::new().user_and_password(user.into(), pass.into()).connect(url).await.is_ok()
        }
    };
    assert!(ws_as("browser", "b").await);
    assert!(!tcp_as("browser", "b").await);
    assert!(!ws_as("backend", "s").await);
    assert!(tcp_as("backend", "s").await);
    assert!(ws_as("any", "a").await && tcp_as("any", "a").await);
}

/// `ping_interval` of the block: websocket clients are pinged at it, TCP
/// clients at the server's.
#[tokio::test]
async fn ping_interval() {
    let s = WsServer::start("websocket { listen: \"127.0.0.1:-1\", no_tls: true, ping_interval: \"100ms\" }\n").await;
    let mut c = s.raw("").await;
    c.handshake_nats("{}").await;
    let started = std::time::Instant::now();
    // The first ping measures the RTT (at most 2s, or the interval).
    c.until(b"PING\r\n").await;
    c.send(b"PONG\r\n").await;
    c.until(b"PING\r\n").await;
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

/// `handshake_timeout`: a client that sends no request is closed.
#[tokio::test]
async fn handshake_timeout() {
    let s =
        WsServer::start("websocket { listen: \"127.0.0.1:-1\", no_tls: true, handshake_timeout: \"200ms\" }\n").await;
    let mut idle = tokio::net::TcpStream::connect(s.ws()).await.unwrap();
    let mut buf = [0u8; 16];
    let started = std::time::Instant::now();
    let n =
        tokio::time::timeout(WAIT, tokio::io::AsyncReadExt::read(&mut idle, &mut buf)).await.expect("closed in time");
    assert_eq!(n.unwrap_or(0), 0);
    assert!(started.elapsed() >= Duration::from_millis(150), "{:?}", started.elapsed());
}

/// The handshake's refusals, with Go's bodies, and the connection kept for
/// the next request.
#[tokio::test]
async fn handshake_refusals() {
    let s = WsServer::start(PLAIN).await;
    let cases = [
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", 405),
        ("GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n\r\n", 400),
        ("GET /mqtt HTTP/1.1\r\nHost: h\r\n\r\n", 404),
    ];
    for (request, status) in cases {
        let c = ws::connect(s.ws(), request).await;
        assert_eq!(c.status(), status, "{request:?}: {}", c.response);
    }
}

/// `/varz` has the `websocket` object, `/connz` says which connections
/// are websocket ones; the ports file lists the listener.
#[tokio::test]
async fn monitoring_and_ports_file() {
    let ports = tempfile::tempdir().unwrap();
    let s = WsServer::start(&format!(
        "http: \"127.0.0.1:-1\"\nports_file_dir: \"{}\"\n\
         websocket {{ listen: \"127.0.0.1:-1\", no_tls: true, compression: true, same_origin: true, \
         allowed_origins: [\"http://a.b\"], handshake_timeout: \"3s\", advertise: \"ws.example:443\", \
         authorization {{ timeout: 4 }} }}\n",
        ports.path().display()
    ))
    .await;
    let mut c = s.raw("").await;
    c.handshake_nats("{\"name\":\"over-ws\"}").await;
    let tcp = async_nats::connect(format!("nats://{}", s.server.client_addr())).await.unwrap();
    tcp.flush().await.unwrap();
    let base = s.server.monitor_url().unwrap().to_string();
    let varz = common::http::get_json(&base, "/varz").await;
    let w = &varz["websocket"];
    assert_eq!(w["host"], "127.0.0.1");
    assert_eq!(w["port"], s.ws().port());
    assert_eq!(w["advertise"], "ws.example:443");
    assert_eq!(w["no_tls"], true);
    assert_eq!(w["compression"], true);
    assert_eq!(w["same_origin"], true);
    assert_eq!(w["allowed_origins"], serde_json::json!(["http://a.b"]));
    assert_eq!(w["handshake_timeout"], 3_000_000_000u64);
    assert_eq!(w["auth_timeout"], 4.0);
    let connz = common::http::get_json(&base, "/connz").await;
    let conns = connz["connections"].as_array().unwrap();
    let types: Vec<(&str, &str)> =
        conns.iter().map(|c| (c["name"].as_str().unwrap_or(""), c["type"].as_str().unwrap_or(""))).collect();
    assert!(types.contains(&("over-ws", "websocket")), "{types:?}");
    assert!(types.iter().any(|(_, t)| *t == "nats"), "{types:?}");

    let file = std::fs::read_dir(ports.path()).unwrap().flatten().next().expect("a ports file").path();
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(json["websocket"], serde_json::json!([format!("ws://127.0.0.1:{}", s.ws().port())]));
    drop(s.dir);
}

/// Two servers in a cluster: each one's websocket clients learn the
/// other's websocket URL (its `advertise`) in `connect_urls`.
#[tokio::test]
async fn ws_connect_urls_are_gossiped() {
    let a = WsServer::start(
        "cluster { name: c, listen: \"127.0.0.1:-1\" }\n\
         websocket { listen: \"127.0.0.1:-1\", no_tls: true, advertise: \"a.example:8443\" }\n",
    )
    .await;
    let route = a.server.state().cluster().unwrap().listen_addr().unwrap();
    let b = WsServer::start(&format!(
        "cluster {{ name: c, listen: \"127.0.0.1:-1\", routes: [\"nats-route://{route}\"] }}\n\
         websocket {{ listen: \"127.0.0.1:-1\", no_tls: true, advertise: \"b.example:8443\" }}\n"
    ))
    .await;
    let mut c = b.raw("").await;
    let first = ws::info_json(&c.until(b"\r\n").await);
    c.send(b"CONNECT {\"protocol\":1}\r\nPING\r\n").await;
    c.until(b"PONG\r\n").await;
    let wanted = serde_json::json!(["b.example:8443", "a.example:8443"]);
    let mut seen = first["connect_urls"].clone();
    let deadline = std::time::Instant::now() + WAIT;
    while seen != wanted {
        assert!(std::time::Instant::now() < deadline, "connect_urls: {seen}");
        seen = ws::info_json(&c.until(b"\r\n").await)["connect_urls"].clone();
    }
    // TCP clients get the client URLs, not the websocket ones.
    let tcp = async_nats::connect(format!("nats://{}", b.server.client_addr())).await.unwrap();
    let urls = tcp.server_info().connect_urls;
    assert!(urls.iter().all(|u| !u.contains("example")), "{urls:?}");
    let varz_urls = a.server.state().cluster().unwrap().ws_connect_urls();
    common::wait_until("a learns b's websocket URL", || {
        a.server.state().cluster().unwrap().ws_connect_urls().contains(&"b.example:8443".to_string())
    })
    .await;
    drop(varz_urls);
}

/// Reload: a new certificate in the websocket `tls` block reaches new
/// handshakes; any other change is refused and changes nothing.
#[tokio::test]
async fn reload_applies_tls_and_refuses_the_rest() {
    use rnats::reload::{ConfigSource, Fingerprint, Outcome, Reloader, Trigger};
    let pki = Pki::new();
    let other = Pki::new();
    let conf_for = |p: &Pki, port: &str| {
        format!(
            "websocket {{ listen: \"127.0.0.1:{port}\", tls {{ cert_file: \"{}\", key_file: \"{}\" }} }}\n",
            p.server.cert_file, p.server.key_file
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("server.conf");
    std::fs::write(&conf, conf_for(&pki, "-1")).unwrap();
    let overlay = FlagOverlay { host: Some("127.0.0.1".into()), port: Some(Port::Random), ..FlagOverlay::default() };
    let source = ConfigSource { path: conf.clone(), overlay };
    let loaded = rnats::reload::load(&source);
    let fingerprint = Fingerprint::of(&loaded);
    let server = Server::start(loaded.options).await.unwrap();
    let reloader = Reloader::new(server.state().clone(), Some(source), fingerprint);
    let url = format!("wss://localhost:{}", server.state().ws_addr().unwrap().port());
    let connect_trusting = |ca: String| {
        let url = url.clone();
        async move { async_nats::ConnectOptions::new().add_root_certificates(PathBuf::from(ca)).connect(url).await }
    };
    assert!(connect_trusting(pki.ca_file.clone()).await.is_ok());

    std::fs::write(&conf, conf_for(&other, "-1")).unwrap();
    let outcome = reloader.reload(Trigger::Request).await;
    assert!(matches!(outcome, Outcome::Applied { .. }), "{outcome:?}");
    assert!(connect_trusting(other.ca_file.clone()).await.is_ok(), "the new certificate serves");
    assert!(connect_trusting(pki.ca_file.clone()).await.is_err(), "the old one is gone");

    std::fs::write(&conf, conf_for(&other, "0").replace("tls {", "compression: true, tls {")).unwrap();
    let Outcome::Refused { reasons } = reloader.reload(Trigger::Request).await else { panic!("refused") };
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("config reload not supported for websocket compression: old=false, new=true")),
        "{reasons:?}"
    );
}

/// `rnats check --diff` explains a websocket change before it is made.
#[test]
fn check_diff_explains_websocket_changes() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.conf");
    let new = dir.path().join("new.conf");
    std::fs::write(&old, PLAIN).unwrap();
    std::fs::write(&new, "websocket { listen: \"127.0.0.1:8443\", no_tls: true, same_origin: true }\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rnats"))
        .args(["check", "--diff"])
        .arg(&old)
        .arg(&new)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "a restart is needed: {text}");
    assert!(text.contains("websocket port"), "{text}");
    assert!(text.contains("websocket same_origin"), "{text}");
}

/// nats-py over websocket: plain, compressed (aiohttp offering
/// permessage-deflate) and TLS.
#[tokio::test]
async fn nats_py_over_websocket() {
    let python_ok = std::process::Command::new("python3")
        .args(["-c", "import nats, aiohttp"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !python_ok {
        if std::env::var_os("RNATS_REQUIRE_REFERENCE").is_some() {
            panic!("nats-py with aiohttp is required (pip install nats-py aiohttp)");
        }
        eprintln!("\n!! SKIPPED nats_py_over_websocket: nats-py or aiohttp not installed\n");
        return;
    }
    let pki = Pki::new();
    let s = WsServer::start("websocket { listen: \"127.0.0.1:-1\", no_tls: true, compression: true }\n").await;
    let t = WsServer::start(&format!(
        "websocket {{ listen: \"127.0.0.1:-1\", tls {{ cert_file: \"{}\", key_file: \"{}\" }} }}\n",
        pki.server.cert_file, pki.server.key_file
    ))
    .await;
    let script = r#"
import asyncio, ssl, sys, aiohttp, nats
url, mode, ca = sys.argv[1], sys.argv[2], sys.argv[3]
negotiated = []
if mode == "compressed":
    original = aiohttp.ClientSession.ws_connect
    async def offering(self, *a, **kw):
        kw["compress"] = 15
        ws = await original(self, *a, **kw)
        negotiated.append(ws.compress)
        return ws
    aiohttp.ClientSession.ws_connect = offering
async def main():
    tls = None
    if mode == "tls":
        tls = ssl.create_default_context(cafile=ca)
    nc = await nats.connect(url, tls=tls)
    sub = await nc.subscribe("py.>")
    big = bytes(range(256)) * 400
    await nc.publish("py.big", big)
    msg = await sub.next_msg(timeout=5)
    assert msg.data == big, "payload"
    async def echo(m):
        await m.respond(b"re:" + m.data)
    await nc.subscribe("py.svc", cb=echo)
    r = await nc.request("py.svc", b"ping", timeout=5)
    assert r.data == b"re:ping", r.data
    await nc.close()
    if mode == "compressed":
        assert negotiated and negotiated[0] == 15, negotiated
    print("ok", mode)
asyncio.run(main())
"#;
    for (url, mode) in
        [(s.url("ws"), "plain"), (s.url("ws"), "compressed"), (format!("wss://localhost:{}", t.ws().port()), "tls")]
    {
        let ca = pki.ca_file.clone();
        let script = script.to_string();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("timeout")
                .args(["60", "python3", "-c", &script, &url, mode, &ca])
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(&format!("ok {mode}")), "{mode}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    }
}
