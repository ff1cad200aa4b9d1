//! Operator mode in rnats beyond the login checks (those are compared with
//! the reference in tests/jwt_reference.rs): account limits from the
//! account JWT, an expiring user JWT on a live connection, a directory
//! resolver whose account JWT is replaced and re-read (tightening a live
//! connection), revocation of a live user, and the URL resolver against a
//! local HTTP server.

mod common;

use std::time::Duration;

use common::reloadable::Reloadable;
use common::Raw;
use jiff::Timestamp;
use nkeys::KeyPair;
use rnats::server::jwt::{AccountClaims, Claim, OperatorClaims, UserClaims};

fn b64url(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

struct Keys {
    operator: KeyPair,
    account: KeyPair,
}

impl Keys {
    fn new() -> Keys {
        Keys { operator: KeyPair::new_operator(), account: KeyPair::new_account() }
    }

    fn operator_jwt(&self) -> String {
        OperatorClaims::new(&self.operator.public_key()).encode(&self.operator).unwrap()
    }

    /// The account's JWT after `edit`, issued at `iat` (updates must be newer).
    fn account_jwt(&self, iat: i64, edit: impl FnOnce(&mut AccountClaims)) -> String {
        let mut a = AccountClaims::new(&self.account.public_key());
        a.data.name = "ACC".into();
        edit(&mut a);
        a.encode_at(&self.operator, iat).unwrap()
    }

    fn user(&self, edit: impl FnOnce(&mut UserClaims)) -> (String, KeyPair) {
        let key = KeyPair::new_user();
        let mut u = UserClaims::new(&key.public_key());
        u.data.name = "u".into();
        edit(&mut u);
        (u.encode_at(&self.account, Timestamp::now().as_second() - 5).unwrap(), key)
    }
}

/// Logs in with `jwt`, signing the nonce with `key`; returns the client
/// after the login's PONG.
async fn login(addr: std::net::SocketAddr, jwt: &str, key: &KeyPair) -> Raw {
    let mut c = Raw::connect(addr).await;
    let nonce = c.info_json()["nonce"].as_str().expect("nonce in INFO").to_string();
    let sig = b64url(&key.sign(nonce.as_bytes()).unwrap());
    let connect = serde_json::json!({"verbose": false, "jwt": jwt, "sig": sig, "protocol": 1});
    c.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes()).await;
    c.expect(b"PONG\r\n").await;
    c
}

/// Publishes `payload` and returns what came back up to the PONG (or the close).
async fn publish(c: &mut Raw, payload: &str) -> String {
    c.send(format!("PUB x {}\r\n{payload}\r\nPING\r\n", payload.len()).as_bytes()).await;
    let (got, _) = c.read_until_pongs(1).await;
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn account_limits_expiry_and_directory_updates() {
    let k = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::now().as_second();
    let account_file = dir.path().join(format!("{}.jwt", k.account.public_key()));
    std::fs::write(&account_file, k.account_jwt(now - 10, |_| {})).unwrap();
    let conf = format!(
        "operator: {}\nresolver: {{ type: full, dir: {:?} }}\n",
        k.operator_jwt(),
        dir.path().to_str().unwrap()
    );
    let server = Reloadable::start(&conf).await;
    let (jwt, key) = k.user(|_| {});
    let mut live = login(server.addr(), &jwt, &key).await;
    assert!(!publish(&mut live, "123456789").await.contains("-ERR"));

    // An expiring user JWT: closed with the reference's error.
    let (expiring, ekey) = k.user(|u| u.data.expires = Timestamp::now().as_second() + 2);
    let mut short = login(server.addr(), &expiring, &ekey).await;
    let closed = short.expect_close().await;
    assert!(String::from_utf8_lossy(&closed).contains("-ERR 'User Authentication Expired'"), "{closed:?}");

    // The account JWT on disk tightens `payload`; a reload re-reads it and
    // the live connection is refused a 9-byte publish.
    std::fs::write(&account_file, k.account_jwt(now - 5, |a| a.nats.limits.nats.payload = 8)).unwrap();
    server.rewrite(&conf).await;
    let got = publish(&mut live, "123456789").await;
    assert!(got.contains("-ERR 'Maximum Payload Violation'"), "{got}");

    // Revoking a user closes its live connection.
    let (jwt, key) = k.user(|_| {});
    let mut live = login(server.addr(), &jwt, &key).await;
    let user_key = key.public_key();
    let revoked = k.account_jwt(now, |a| {
        a.nats.limits.nats.payload = 8;
        a.nats.revocations.revoke(&user_key, Timestamp::now().as_second());
    });
    std::fs::write(&account_file, revoked).unwrap();
    server.rewrite(&conf).await;
    let closed = live.expect_close().await;
    assert!(String::from_utf8_lossy(&closed).contains("-ERR 'User Authentication Revoked'"), "{closed:?}");
}

/// An account server's answer to one `GET /jwt/v1/accounts/<key>`, read
/// whole first (closing a socket with unread bytes resets it, and the
/// server's read of the answer would fail); `None` when no request line.
fn account_server_response(mut reader: impl std::io::BufRead, accounts: &[(String, String)]) -> Option<String> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 0) && header.trim_end() != "" {
        header.clear();
    }
    let path = line.split_whitespace().nth(1).unwrap_or_default();
    Some(match accounts.iter().find(|(k, _)| path == format!("/jwt/v1/accounts/{k}")) {
        Some((_, jwt)) => format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{jwt}", jwt.len()),
        None => "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string(),
    })
}

/// A one-thread HTTP server answering `GET <prefix><key>` with the JWT of
/// `accounts` (404 otherwise), as an account server does.
fn account_server(accounts: Vec<(String, String)>) -> std::net::SocketAddr {
    use std::io::{BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some(response) = account_server_response(BufReader::new(&stream), &accounts) else { continue };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    addr
}

#[tokio::test]
async fn url_resolver_fetches_accounts_from_an_account_server() {
    let k = Keys::new();
    let now = Timestamp::now().as_second();
    let http = account_server(vec![(k.account.public_key(), k.account_jwt(now - 10, |_| {}))]);
    let conf = format!("operator: {}\nresolver: URL(\"http://{http}/jwt/v1/accounts/\")\n", k.operator_jwt());
    let server = Reloadable::start(&conf).await;
    let (jwt, key) = k.user(|_| {});
    let mut c = login(server.addr(), &jwt, &key).await;
    assert!(!publish(&mut c, "hello").await.contains("-ERR"));
    // An account the server does not know: refused.
    let stranger = KeyPair::new_account();
    let ukey = KeyPair::new_user();
    let token = UserClaims::new(&ukey.public_key()).encode(&stranger).unwrap();
    let mut c = Raw::connect(server.addr()).await;
    let nonce = c.info_json()["nonce"].as_str().unwrap().to_string();
    let sig = b64url(&ukey.sign(nonce.as_bytes()).unwrap());
    c.send(format!("CONNECT {}\r\nPING\r\n", serde_json::json!({"jwt": token, "sig": sig})).as_bytes()).await;
    let closed = c.expect_close().await;
    assert!(String::from_utf8_lossy(&closed).contains("-ERR 'Authorization Violation'"), "{closed:?}");
}

// The official Rust client's own operator-mode tests (async-nats
// `tests/jwt_tests.rs` and two of `tests/client_tests.rs`), against rnats
// with the client's own `jwt.conf`, `token.conf` and `TestUser.creds`
// (copied to tests/fixtures/jwt and tests/fixtures/async-nats).

const JWT_CONF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt/async-nats-jwt.conf");
const TOKEN_CONF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/async-nats/token.conf");
const CREDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt/async-nats-TestUser.creds");

#[tokio::test]
async fn async_nats_jwt_auth() {
    let s = common::TestServer::from_conf(JWT_CONF).await;
    let nc = async_nats::ConnectOptions::with_credentials_file(CREDS).await.unwrap().connect(s.url()).await.unwrap();
    nc.publish("hello", "world".into()).await.unwrap();
    nc.flush().await.unwrap();
}

#[tokio::test]
async fn async_nats_jwt_auth_builder() {
    let s = common::TestServer::from_conf(JWT_CONF).await;
    let nc = async_nats::ConnectOptions::new().credentials_file(CREDS).await.unwrap().connect(s.url()).await.unwrap();
    nc.publish("hello", "world".into()).await.unwrap();
    nc.flush().await.unwrap();
}

/// Publishes on `test` until the subscriber sees a message (the client may
/// be reconnecting to the next server), within the test's bound.
async fn round_trip(client: &async_nats::Client, sub: &mut async_nats::Subscriber) {
    use futures_util::StreamExt;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let _ = client.publish("test", "data".into()).await;
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(250), sub.next()).await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "no message through the servers");
    }
}

async fn connect_to_all(opts: async_nats::ConnectOptions, servers: &[common::TestServer]) -> async_nats::Client {
    let addrs: Vec<async_nats::ServerAddr> = servers.iter().map(|s| s.url().parse().unwrap()).collect();
    opts.connect(addrs.as_slice()).await.unwrap()
}

#[tokio::test]
async fn async_nats_jwt_reconnect() {
    let mut servers = vec![
        common::TestServer::from_conf(JWT_CONF).await,
        common::TestServer::from_conf(JWT_CONF).await,
        common::TestServer::from_conf(JWT_CONF).await,
    ];
    let opts = async_nats::ConnectOptions::with_credentials_file(CREDS).await.unwrap();
    let client = connect_to_all(opts, &servers).await;
    let mut sub = client.subscribe("test").await.unwrap();
    while !servers.is_empty() {
        round_trip(&client, &mut sub).await;
        let gone = servers.remove(0);
        gone.server.shutdown().await;
    }
}

#[tokio::test]
async fn async_nats_multiple_auth_methods() {
    let mut servers = vec![
        common::TestServer::start().await,
        common::TestServer::from_conf(JWT_CONF).await,
        common::TestServer::from_conf(TOKEN_CONF).await,
    ];
    let opts = async_nats::ConnectOptions::new()
        .user_and_password("js".into(), "js".into())
        .token("s3cr3t".into())
        .credentials_file(CREDS)
        .await
        .unwrap();
    let client = connect_to_all(opts, &servers).await;
    let mut sub = client.subscribe("test").await.unwrap();
    while !servers.is_empty() {
        round_trip(&client, &mut sub).await;
        let gone = servers.remove(0);
        gone.server.shutdown().await;
    }
}

#[tokio::test]
async fn async_nats_custom_auth_callback_jwt() {
    let s = common::TestServer::from_conf(JWT_CONF).await;
    async_nats::ConnectOptions::with_auth_callback(move |nonce| async move {
        let mut auth = async_nats::Auth::new();
        auth.jwt = Some(
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.".to_owned()
                + "eyJqdGkiOiJMN1dBT1hJU0tPSUZNM1QyNEhMQ09ENzJRT1czQkNVWEdETjRKVU1SSUtHTlQ3RzdZVFRRIiwiaWF0IjoxNjUxNzkwOTgyLCJpc3MiOiJBRFRRUzdaQ0ZWSk5XNTcyNkdPWVhXNVRTQ1pGTklRU0hLMlpHWVVCQ0Q1RDc3T1ROTE9PS1pPWiIsIm5hbWUiOiJUZXN0V"
                + "XNlciIsInN1YiI6IlVBRkhHNkZVRDJVVTRTREZWQUZVTDVMREZPMlhNNFdZTTc2VU5YVFBKWUpLN0VFTVlSQkhUMlZFIiwibmF0cyI6eyJwdWIiOnt9LCJzdWIiOnt9LCJzdWJzIjotMSwiZGF0YSI6LTEsInBheWxvYWQiOi0xLCJ0eXBlIjoidXNlciIsInZlcnNpb24iOjJ9fQ."
                + "bp2-Jsy33l4ayF7Ku1MNdJby4WiMKUrG-rSVYGBusAtV3xP4EdCa-zhSNUaBVIL3uYPPCQYCEoM1pCUdOnoJBg",
        );
        let key_pair = nkeys::KeyPair::from_seed("SUACH75SWCM5D2JMJM6EKLR2WDARVGZT4QC6LX3AGHSWOMVAKERABBBRWM").unwrap();
        auth.signature = Some(key_pair.sign(&nonce).map_err(async_nats::AuthError::new)?);
        Ok(auth)
    })
    .connect(s.url())
    .await
    .unwrap();
}

/// nats-py logs in with a creds file (the async-nats fixture) and a
/// message goes round through rnats.
#[tokio::test]
async fn nats_py_logs_in_with_creds() {
    let python_ok = std::process::Command::new("python3")
        .args(["-c", "import nats, nkeys"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !python_ok {
        eprintln!("\n!! SKIPPED nats_py_logs_in_with_creds: pip install nats-py nkeys\n");
        return;
    }
    let s = common::TestServer::from_conf(JWT_CONF).await;
    let script = r#"
import asyncio, sys, nats
async def main():
    nc = await nats.connect(sys.argv[1], user_credentials=sys.argv[2], allow_reconnect=False, connect_timeout=5)
    sub = await nc.subscribe("py.test")
    await nc.publish("py.test", b"hello")
    msg = await sub.next_msg(timeout=5)
    print(msg.data.decode())
    await nc.close()
asyncio.run(main())
"#;
    let url = s.url();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("timeout").args(["60", "python3", "-c", script, &url, CREDS]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "nats-py: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello");
}

/// A reload with a memory resolver: the new `resolver_preload` replaces the
/// old, and an account in use takes its new JWT (nats-server's reload
/// re-fetches every account): here a payload limit, felt by a live client.
#[tokio::test]
async fn reloaded_preloads_apply_to_accounts_in_use() {
    let k = Keys::new();
    let now = Timestamp::now().as_second();
    // One operator JWT: a reload may not change it.
    let op = k.operator_jwt();
    let conf = |jwt: String| {
        format!("operator: {}\nresolver: MEMORY\nresolver_preload: {{ {}: {jwt} }}\n", op, k.account.public_key())
    };
    let server = Reloadable::start(&conf(k.account_jwt(now - 10, |_| {}))).await;
    let (jwt, key) = k.user(|_| {});
    let mut live = login(server.addr(), &jwt, &key).await;
    assert!(!publish(&mut live, "123456789").await.contains("-ERR"));
    server.rewrite(&conf(k.account_jwt(now - 5, |a| a.nats.limits.nats.payload = 8))).await;
    let got = publish(&mut live, "123456789").await;
    assert!(got.contains("-ERR 'Maximum Payload Violation'"), "{got}");
}

/// An HTTPS account server (the certificate of `pki`, for `localhost`),
/// answering `GET /jwt/v1/accounts/<key>` as [`account_server`] does.
fn https_account_server(pki: &common::certs::Pki, accounts: Vec<(String, String)>) -> std::net::SocketAddr {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::{BufReader, Write};
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pki.server.cert_pem.as_bytes()).map(|c| c.unwrap()).collect();
    let key = PrivateKeyDer::from_pem_slice(pki.server.key_pem.as_bytes()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let config = std::sync::Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let Ok(conn) = rustls::ServerConnection::new(config.clone()) else { continue };
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let Some(response) = account_server_response(BufReader::new(&mut tls), &accounts) else { continue };
            let _ = tls.write_all(response.as_bytes());
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    addr
}

/// `resolver_tls`: the URL resolver fetches over HTTPS, trusting the CA of
/// `resolver_tls.ca_file`; without it an https account server is refused.
#[tokio::test]
async fn url_resolver_fetches_over_https_with_resolver_tls() {
    let pki = common::certs::Pki::new();
    let k = Keys::new();
    let now = Timestamp::now().as_second();
    let https = https_account_server(&pki, vec![(k.account.public_key(), k.account_jwt(now - 10, |_| {}))]);
    let url = format!("https://localhost:{}/jwt/v1/accounts/", https.port());
    let conf = format!(
        "operator: {}\nresolver: URL(\"{url}\")\nresolver_tls: {{ ca_file: {:?} }}\n",
        k.operator_jwt(),
        pki.ca_file
    );
    let server = Reloadable::start(&conf).await;
    let (jwt, key) = k.user(|_| {});
    let mut c = login(server.addr(), &jwt, &key).await;
    assert!(!publish(&mut c, "hello").await.contains("-ERR"));

    // Without resolver_tls, the account cannot be fetched: the login fails.
    let conf = format!("operator: {}\nresolver: URL(\"{url}\")\n", k.operator_jwt());
    let server = Reloadable::start(&conf).await;
    let mut c = Raw::connect(server.addr()).await;
    let nonce = c.info_json()["nonce"].as_str().unwrap().to_string();
    let sig = b64url(&key.sign(nonce.as_bytes()).unwrap());
    c.send(format!("CONNECT {}\r\nPING\r\n", serde_json::json!({"jwt": jwt, "sig": sig})).as_bytes()).await;
    let closed = c.expect_close().await;
    assert!(String::from_utf8_lossy(&closed).contains("-ERR 'Authorization Violation'"), "{closed:?}");
}
