//! The official Python client (nats-py) over TLS, against rnats and against
//! nats-server with the same config files: server TLS, `handshake_first`
//! and mutual TLS, each with a client that should get in and clients that
//! should not. Both servers must give every client the same verdict, and a
//! client that gets in must round-trip a message.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_rnats");

/// Connects with the options named on the command line, round-trips one
/// message, prints `ok` or `refused <exception>`.
const CLIENT: &str = r#"
import asyncio, ssl, sys
import nats

async def main(url, ca, cert, key, first):
    ctx = None
    if ca != "-":
        ctx = ssl.create_default_context(cafile=ca)
        if cert != "-":
            ctx.load_cert_chain(cert, key)
    elif url.startswith("tls://"):
        ctx = ssl.create_default_context()
    opts = dict(connect_timeout=3, max_reconnect_attempts=0, allow_reconnect=False)
    if ctx is not None:
        opts["tls"] = ctx
    if first == "first":
        opts["tls_handshake_first"] = True

    async def quiet(_e):
        pass

    try:
        nc = await nats.connect(url, error_cb=quiet, **opts)
        sub = await nc.subscribe("py.tls")
        await nc.publish("py.tls", b"over tls")
        msg = await sub.next_msg(timeout=3)
        assert msg.data == b"over tls", msg.data
        await nc.close()
    except Exception as e:
        print("refused", type(e).__name__)
        return
    print("ok")

asyncio.run(main(*sys.argv[1:]))
"#;

fn certs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples-conf/certs")
}

fn have_nats_py() -> bool {
    let have = Command::new("python3").args(["-c", "import nats"]).output().is_ok_and(|o| o.status.success());
    if !have && std::env::var_os("RNATS_REQUIRE_REFERENCE").is_some() {
        panic!("nats-py is required in CI (pip install nats-py)");
    }
    have
}

/// A client: how it connects, and what it presents.
struct Client {
    what: &'static str,
    scheme: &'static str,
    trust_ca: bool,
    client_cert: bool,
    handshake_first: bool,
}

const fn client(what: &'static str, scheme: &'static str, trust_ca: bool, cert: bool, first: bool) -> Client {
    Client { what, scheme, trust_ca, client_cert: cert, handshake_first: first }
}

/// What nats-py gets from the server at `port` (`ok` or `refused <why>`).
fn verdict(port: u16, c: &Client) -> String {
    let certs = certs();
    let path = |f: &str| certs.join(f).to_string_lossy().into_owned();
    let (ca, cert, key) = match (c.trust_ca, c.client_cert) {
        (true, true) => (path("ca.pem"), path("client-cert.pem"), path("client-key.pem")),
        (true, false) => (path("ca.pem"), "-".into(), "-".into()),
        _ => ("-".into(), "-".into(), "-".into()),
    };
    let url = format!("{}://127.0.0.1:{port}", c.scheme);
    let first = if c.handshake_first { "first" } else { "-" };
    let out = Command::new("timeout")
        .args(["20", "python3", "-c", CLIENT, &url, &ca, &cert, &key, first])
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!text.is_empty(), "{}: no verdict\n{}", c.what, String::from_utf8_lossy(&out.stderr));
    text
}

/// Each client's verdict from rnats and from nats-server, both started on
/// `conf` (the same file); the verdicts must agree and match `expected`.
fn compare(conf_text: &str, clients: &[(Client, bool)]) {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("tls.conf");
    std::fs::write(&conf, conf_text.replace("CERTS", &certs().to_string_lossy())).unwrap();
    let conf_arg = conf.to_string_lossy().into_owned();
    let ours = rnats::tools::spawn::Spawn::new(Path::new(BIN)).args(&["-c", &conf_arg]).log().start().unwrap();
    let reference = reference_binary();
    let theirs =
        reference.as_ref().map(|r| rnats::tools::spawn::Spawn::new(r).args(&["-c", &conf_arg]).start().unwrap());
    for (c, should_get_in) in clients {
        let ours_says = verdict(ours.addr.port(), c);
        assert_eq!(ours_says == "ok", *should_get_in, "rnats, {}: {ours_says}\n{}", c.what, ours.log_text());
        if let Some(theirs) = &theirs {
            let theirs_says = verdict(theirs.addr.port(), c);
            assert_eq!(
                ours_says == "ok",
                theirs_says == "ok",
                "{}: rnats {ours_says}, nats-server {theirs_says}",
                c.what
            );
        }
    }
    if theirs.is_none() {
        skip_loudly("nats_py_tls: the nats-server half of the comparison");
    }
}

#[test]
fn server_tls_from_a_config_file() {
    if !have_nats_py() {
        return skip_loudly("server_tls_from_a_config_file (nats-py not installed)");
    }
    let conf = "tls {\n  cert_file: \"CERTS/server-cert.pem\"\n  key_file: \"CERTS/server-key.pem\"\n  timeout: 2\n}\n";
    compare(
        conf,
        &[
            (client("tls:// trusting the CA", "tls", true, false, false), true),
            (client("nats:// upgraded to TLS on INFO", "nats", true, false, false), true),
            (client("tls:// not trusting the CA", "tls", false, false, false), false),
            (client("plain nats:// without TLS", "nats", false, false, false), false),
        ],
    );
}

#[test]
fn handshake_first_from_a_config_file() {
    if !have_nats_py() {
        return skip_loudly("handshake_first_from_a_config_file (nats-py not installed)");
    }
    let conf = "tls {\n  cert_file: \"CERTS/server-cert.pem\"\n  key_file: \"CERTS/server-key.pem\"\n  handshake_first: true\n  timeout: 2\n}\n";
    compare(
        conf,
        &[
            (client("TLS first", "tls", true, false, true), true),
            (client("INFO first (waits for an INFO that never comes)", "tls", true, false, false), false),
        ],
    );
}

#[test]
fn mutual_tls_from_a_config_file() {
    if !have_nats_py() {
        return skip_loudly("mutual_tls_from_a_config_file (nats-py not installed)");
    }
    let conf = "tls {\n  cert_file: \"CERTS/server-cert.pem\"\n  key_file: \"CERTS/server-key.pem\"\n  ca_file: \"CERTS/ca.pem\"\n  verify: true\n  timeout: 2\n}\n";
    compare(
        conf,
        &[
            (client("with a client certificate", "tls", true, true, false), true),
            (client("without a client certificate", "tls", true, false, false), false),
        ],
    );
}
