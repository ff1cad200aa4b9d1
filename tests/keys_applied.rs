//! No config key is accepted and ignored. Generated from the key table:
//! every key that has a setter, in every block rnats implements, is written
//! with a value other than its default into a real file, loaded as the
//! server loads it, and the built options must differ from the same file
//! without the key. A setter that drops its value (as `tls {
//! handshake_first: true }` once did) fails here, whatever key it is.
//!
//! Keys without a setter are kept as written for `rnats check --dump` only;
//! in an implemented block each must be listed below with the reason rnats
//! has no use for it, so a new one cannot slip in unnoticed.

use std::path::Path;
use std::time::Duration;

use rnats::cli::FlagOverlay;
use rnats::conf::keys::{all_paths, lookup, support, KeyInfo, Support, Ty};
use rnats::options::Options;

const CERT: &str = "examples-conf/certs/server-cert.pem";
const KEY: &str = "examples-conf/certs/server-key.pem";
const CA: &str = "examples-conf/certs/ca.pem";

/// What a block needs to be valid on its own (a `tls` block needs a
/// certificate, a user a name) when `key` is the one tested inside it: keys
/// that exclude each other (a token and a user) are left out.
fn required(block: &str, key: &str) -> Vec<(&'static str, String)> {
    let q = |s: &str| format!("\"{s}\"");
    let tls = || vec![("cert_file", q(CERT)), ("key_file", q(KEY))];
    match (block, key) {
        ("tls" | "cluster.tls" | "websocket.tls" | "resolver_tls", "certs") => {
            vec![("certs", format!("[{{cert_file: {}, key_file: {}}}]", q(CERT), q(KEY)))]
        }
        ("tls" | "cluster.tls" | "websocket.tls" | "resolver_tls", _) => tls(),
        ("cluster", _) => vec![("port", "-1".into())],
        // Plain ws://, but with TLS when `no_tls` itself is tested.
        ("websocket", "no_tls") => {
            vec![("port", "-1".into()), ("tls", format!("{{cert_file: {}, key_file: {}}}", q(CERT), q(KEY)))]
        }
        ("websocket", "port" | "listen") => vec![("no_tls", "true".into())],
        ("websocket", _) => vec![("port", "-1".into()), ("no_tls", "true".into())],
        ("websocket.authorization", "user" | "password") => vec![("user", q("wu")), ("password", q("wp"))],
        ("websocket.authorization", "token") => vec![("token", q("wt"))],
        ("websocket.authorization", _) => vec![("user", q("wu")), ("password", q("wp"))],
        ("authorization" | "http_auth", "user" | "password") => vec![("user", q("u0")), ("password", q("p0"))],
        ("authorization" | "http_auth", "token") => vec![("token", q("t0"))],
        ("authorization.users", "nkey") => vec![("nkey", q(nkey()))],
        ("authorization.users", _) => vec![("user", q("u1")), ("password", q("p1"))],
        ("cluster.authorization", _) => vec![("user", q("ru")), ("password", q("rp"))],
        ("http_auth", _) => vec![("user", q("mu")), ("password", q("mp"))],
        // Accounts: the account is `A` (see `nest`); it exports what it imports.
        ("accounts.*.users", "nkey") => vec![("nkey", q(nkey()))],
        ("accounts.*.users", _) => vec![("user", q("a1")), ("password", q("p1"))],
        ("accounts.*", "imports") => vec![("exports", "[{stream: \">\"}, {service: \">\"}]".into())],
        ("accounts.*.imports", "service") => vec![("service", "{account: A, subject: \"a.b\"}".into())],
        ("accounts.*.imports", _) => vec![("stream", "{account: A, subject: \"a.b\"}".into())],
        ("accounts.*.imports.stream" | "accounts.*.imports.service", _) => {
            vec![("account", q("A")), ("subject", q("a.b"))]
        }
        ("accounts.*.exports", "response_type" | "threshold" | "latency") => vec![("service", q("svc.x"))],
        ("accounts.*.exports", "account_token_position") => vec![("service", q("svc.*"))],
        ("accounts.*.exports", "stream" | "service") => Vec::new(),
        ("accounts.*.exports", _) => vec![("stream", q("a.>"))],
        _ => Vec::new(),
    }
}

/// A user's public nkey, the same for every load of a run.
fn nkey() -> &'static str {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| nkeys::KeyPair::new_user().public_key())
}

/// An operator JWT valid alone: its account server becomes the resolver.
fn operator_with_account_server() -> String {
    use rnats::server::jwt::{Claim, OperatorClaims};
    let key = nkeys::KeyPair::new_operator();
    let mut op = OperatorClaims::new(&key.public_key());
    op.nats.account_server_url = "http://127.0.0.1:9/jwt/v1".into();
    op.encode(&key).unwrap()
}

/// Keys with a setter that can never take effect, and why: the block's
/// rules refuse every file that sets them, as nats-server's do.
const NEVER_VALID: &[(&str, &str)] = &[
    (
        "accounts.*.imports.stream.account",
        "the file has one account to import from; tests/config_accounts.rs dumps imports between two",
    ),
    (
        "accounts.*.imports.service.account",
        "the file has one account to import from; tests/config_accounts.rs dumps imports between two",
    ),
    ("cluster.authorization.users", "cluster authorization does not allow multiple users (nats-server refuses it)"),
    ("cluster.authorization.token", "cluster authorization does not support tokens (nats-server refuses it)"),
    (
        "websocket.jwt_cookie",
        "JWTs come with trusted operators (issue 26, operator mode); without them nats-server refuses it too",
    ),
];

/// Keys with no setter in implemented blocks, and why nothing reads them.
const KEPT_FOR_THE_DUMP: &[(&str, &str)] = &[
    ("accounts.*.msg_trace", "message tracing is not implemented; the destination is checked only"),
    ("tls.verify_cert_and_check_known_urls", "gateways and leaf nodes only (nats-server refuses it elsewhere)"),
    ("tls.connection_rate_limit", "leaf nodes only in nats-server"),
    ("tls.cert_store", "the Windows certificate store; rnats reads PEM files"),
    ("tls.cert_match_by", "the Windows certificate store"),
    ("tls.cert_match", "the Windows certificate store"),
    ("tls.ca_certs_match", "the Windows certificate store"),
    ("tls.cert_match_skip_invalid", "the Windows certificate store"),
    ("tls.certs.cert_file", "read by the `certs` setter as a pair"),
    ("tls.certs.key_file", "read by the `certs` setter as a pair"),
    ("cluster.accounts", "pinned accounts need route pooling, which rnats does not do (one route per peer)"),
];

/// Values to try for a key, most likely to be valid first. The test needs
/// one that loads without errors and changes the options.
fn candidates(path: &str, k: &KeyInfo) -> Vec<String> {
    let q = |s: &str| format!("\"{s}\"");
    let name = path.rsplit('.').next().unwrap_or(path);
    // Keys whose values have rules beyond their type.
    let special: Option<Vec<String>> = match (path, name) {
        ("websocket.compression", _) => Some(vec!["true".into(), "false".into()]),
        (_, "handshake_timeout") => Some(vec![q("7s"), "7".into()]),
        ("websocket.authorization.timeout", _) => Some(vec!["7".into()]),
        ("websocket.headers", _) => Some(vec![format!("{{X-Test: {}}}", q("yes"))]),
        (_, "allowed_origins") => Some(vec![format!("[{}]", q("https://example.com")), q("https://example.com")]),
        ("accounts", _) => Some(vec!["[A, B]".into(), "{A: {}}".into()]),
        ("accounts.*.nkey", _) => Some(vec![q(&nkeys::KeyPair::new_account().public_key())]),
        ("mappings" | "accounts.*.mappings", _) => {
            Some(vec!["{a: b}".into(), "{a: [{destination: b, weight: 50}]}".into()])
        }
        ("accounts.*.exports.accounts", _) => Some(vec!["[A]".into()]),
        ("accounts.*.exports.account_token_position", _) => Some(vec!["2".into()]),
        ("accounts.*.exports.latency", _) => {
            Some(vec![q("lat.x"), format!("{{sampling: 50, subject: {}}}", q("lat.x"))])
        }
        ("accounts.*.exports.response_type", _) => Some(vec![q("stream"), q("chunked")]),
        ("accounts.*.exports.threshold", _) => Some(vec![q("5s")]),
        (_, "prefix") => Some(vec![q("pre")]),
        ("operator", _) => Some(vec![q(&operator_with_account_server())]),
        ("trusted", _) => Some(vec![q(&nkeys::KeyPair::new_operator().public_key())]),
        ("resolver", _) => {
            Some(vec![q("MEMORY"), q("URL(\"http://127.0.0.1:9/\")"), "{type: full, dir: \".\"}".into()])
        }
        ("resolver_preload", _) => {
            use rnats::server::jwt::{AccountClaims, Claim};
            let account = nkeys::KeyPair::new_account().public_key();
            let jwt = AccountClaims::new(&account).encode(&nkeys::KeyPair::new_operator()).unwrap();
            Some(vec![format!("{{{account}: {}}}", q(&jwt))])
        }
        _ => None,
    };
    let special = special.or(match name {
        // The same files by another path: cert and key must stay a pair.
        "cert_file" => Some(vec![q(&format!("./{CERT}"))]),
        "key_file" => Some(vec![q(&format!("./{KEY}"))]),
        "ca_file" => Some(vec![q(CA)]),
        "nkey" => Some(vec![q(&nkeys::KeyPair::new_user().public_key())]),
        "user" | "password" | "token" => Some(vec![q("x-value")]),
        "remote_syslog" => Some(vec![q("udp://127.0.0.1:5514")]),
        "no_auth_user" => Some(vec![q("u1")]),
        "cipher_suites" => Some(vec!["[\"TLS_AES_128_GCM_SHA256\"]".into()]),
        "curve_preferences" => Some(vec!["[\"X25519\"]".into()]),
        "pinned_certs" => Some(vec![format!("[{}]", q(&"ab".repeat(32)))]),
        "handshake_first" => Some(vec!["true".into(), q("auto"), q("300ms")]),
        "compression" => Some(vec![q("s2_fast"), "true".into()]),
        "publish" | "subscribe" => Some(vec![q("a.b"), "[\"a.b\", \"c\"]".into()]),
        "allow_responses" => Some(vec!["true".into(), "{max: 3}".into()]),
        "certs" => Some(vec![format!("[{{cert_file: {}, key_file: {}}}]", q(&format!("./{CERT}")), q(KEY))]),
        "routes" => Some(vec!["[\"nats-route://127.0.0.1:7244\"]".into()]),
        "allowed_connection_types" => Some(vec!["[\"STANDARD\"]".into()]),
        "users" => Some(vec!["[{user: x, password: y}]".into()]),
        "server_name" | "name" => Some(vec![q("key-test")]),
        _ => None,
    });
    if let Some(v) = special {
        return v;
    }
    match k.ty {
        Ty::Bool => vec!["true".into(), "false".into()],
        Ty::Int { min, max } => {
            let v: Vec<String> =
                [7i64, 3].iter().filter(|n| (*min..=*max).contains(n)).map(|n| n.to_string()).collect();
            if v.is_empty() {
                vec![min.to_string()]
            } else {
                v
            }
        }
        Ty::Size { .. } => vec!["7".into(), "2KB".into(), "123456789".into()],
        Ty::StorageSize => vec!["7".into()],
        Ty::Str => vec![q("x-value")],
        Ty::Strings | Ty::StrArray => vec!["[\"a.b\"]".into(), q("a.b")],
        Ty::Duration | Ty::DurationStr => vec![q("7s"), q("45s")],
        Ty::Seconds => vec!["7".into(), q("7s")],
        Ty::Port => vec!["7777".into(), "-1".into()],
        Ty::Listen => vec![q("127.0.0.2:7777"), "7777".into()],
        Ty::OneOf(values) => values.iter().map(|v| q(v)).collect(),
        // A block: one of its own keys makes it appear, with what it requires.
        Ty::Block(_) | Ty::Custom(_) | Ty::MapOf(_) | Ty::Blocks(_) => {
            let list = matches!(k.ty, Ty::Blocks(_));
            let mut out = Vec::new();
            for (inner_path, inner) in all_paths() {
                let Some(inner_name) = inner_path.strip_prefix(path).and_then(|r| r.strip_prefix('.')) else {
                    continue;
                };
                if inner_name.contains('.') || !inner.applied || matches!(inner.ty, Ty::Block(_) | Ty::Blocks(_)) {
                    continue;
                }
                for v in candidates(&inner_path, &inner).into_iter().take(1) {
                    let mut body: Vec<String> = required(path, inner_name)
                        .into_iter()
                        .filter(|(k, _)| *k != inner_name)
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect();
                    body.push(format!("{inner_name}: {v}"));
                    let map = format!("{{{}}}", body.join(", "));
                    out.push(if list { format!("[{map}]") } else { map });
                }
            }
            out.push("true".into());
            out
        }
    }
}

/// The config text with `value` at `path` (or without the key when `None`),
/// every enclosing block holding what it needs to be valid.
fn config_text(path: &str, value: Option<&str>) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    let mut text = String::new();
    // No-auth user and cluster routes need context outside their block.
    if parts == ["no_auth_user"] || parts == ["websocket", "no_auth_user"] {
        text.push_str("authorization { users: [{user: u1, password: p1}] }\n");
    }
    // The system account must name an account of the file.
    if parts == ["system_account"] {
        text.push_str("accounts { \"x-value\": {} }\n");
    }
    // A required key under test at the top of its block.
    if parts.len() == 1 && value.is_none() {
        return text;
    }
    text + &nest(&parts, 0, value)
}

fn nest(parts: &[&str], depth: usize, value: Option<&str>) -> String {
    // `accounts.*`: the account is named `A`.
    let here = if parts[depth] == "*" { "A" } else { parts[depth] };
    let block = parts[..depth + 1].join(".");
    if depth + 1 == parts.len() {
        return value.map_or(String::new(), |v| format!("{here}: {v}\n"));
    }
    let next = parts[depth + 1];
    let mut body = String::new();
    let mut required_next = None;
    for (k, v) in required(&block, next) {
        if k == next {
            required_next = Some(v);
        } else {
            body.push_str(&format!("{k}: {v}\n"));
        }
    }
    // A required key under test: its baseline is the required value.
    let inner_value = match (value, &required_next) {
        (None, Some(v)) if depth + 2 == parts.len() => Some(v.as_str()),
        _ => value,
    };
    body.push_str(&nest(parts, depth + 1, inner_value));
    let is_list = lookup(&block).is_some_and(|k| matches!(k.ty, Ty::Blocks(_)));
    if is_list {
        format!("{here}: [\n{{\n{body}}}\n]\n")
    } else {
        format!("{here} {{\n{body}}}\n")
    }
}

fn load(dir: &Path, name: &str, text: &str) -> Result<Options, String> {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    let loaded = rnats::conf::load(&file, &FlagOverlay::default());
    if loaded.failed(false) {
        return Err(loaded.render());
    }
    Ok(loaded.options)
}

/// Whether every block on the way to `path` is one rnats implements, and
/// builds into the options (not only checked, as keys of an ignored or
/// refused feature are).
fn lands_in_options(path: &str) -> bool {
    support(path) == Some(Support::Implemented)
}

#[test]
fn every_key_with_a_setter_changes_the_options() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut tested = Vec::new();
    for (path, k) in all_paths() {
        if !k.applied || !lands_in_options(&path) {
            continue;
        }
        if NEVER_VALID.iter().any(|(p, _)| path == *p || path.starts_with(&format!("{p}."))) {
            continue;
        }
        let base = config_text(&path, None);
        let baseline = match load(dir.path(), "base.conf", &base) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{path}: the file without the key does not load:\n{base}\n{e}"));
                continue;
            }
        };
        // Every value that loads must be applied: one dropped value (as
        // `true` was for `handshake_first` while `auto` worked) fails the
        // key. A boolean's two values must give two different results (one
        // of them is its default).
        let mut outcomes = Vec::new();
        let mut dropped = Vec::new();
        let mut refused = Vec::new();
        // The value a block requires is the baseline's: not a candidate.
        let (parent, name) = path.rsplit_once('.').unwrap_or(("", &path));
        let baseline_value = required(parent, name).into_iter().find(|(k, _)| *k == name).map(|(_, v)| v);
        for value in candidates(&path, &k) {
            if baseline_value.as_deref() == Some(value.as_str()) {
                continue;
            }
            let text = config_text(&path, Some(&value));
            match load(dir.path(), "with.conf", &text) {
                Ok(opts) => {
                    if opts == baseline && !matches!(k.ty, Ty::Bool) {
                        dropped.push(format!("`{value}`"));
                    }
                    outcomes.push(opts);
                }
                Err(e) => refused.push(format!("`{value}`: {}", e.lines().next().unwrap_or_default())),
            }
        }
        let bool_ok = !matches!(k.ty, Ty::Bool) || (outcomes.len() == 2 && outcomes[0] != outcomes[1]);
        if outcomes.is_empty() {
            failures.push(format!("{path}: no value loads: {}", refused.join("; ")));
        } else if !dropped.is_empty() || !bool_ok {
            failures.push(format!("{path}: accepted and ignored: {}", dropped.join(", ")));
        } else {
            tested.push(path);
        }
    }
    assert!(failures.is_empty(), "{} key(s):\n{}", failures.len(), failures.join("\n"));
    // The table really was walked: the top level, TLS, cluster, users, permissions.
    for must in [
        "max_pending",
        "tls.handshake_first",
        "cluster.tls.handshake_first",
        "authorization.users.nkey",
        "websocket.compression",
        "websocket.tls.cert_file",
        "websocket.authorization.token",
    ] {
        assert!(tested.iter().any(|p| p == must), "{must} not tested; tested: {tested:?}");
    }
    assert!(tested.len() > 80, "only {} keys tested", tested.len());
}

#[test]
fn keys_without_a_setter_in_implemented_blocks_are_accounted_for() {
    let mut unexplained = Vec::new();
    for (path, k) in all_paths() {
        if k.applied || !lands_in_options(&path) {
            continue;
        }
        // Parents of keys with setters: the block itself is applied through its keys.
        let inner = matches!(k.ty, Ty::Block(_) | Ty::Blocks(_));
        if inner {
            continue;
        }
        // `cluster.tls`, `websocket.tls` and `resolver_tls` are the same block as `tls`.
        let as_listed = ["cluster.", "websocket.", "resolver_"]
            .iter()
            .find_map(|parent| path.strip_prefix(parent).filter(|p| p.starts_with("tls.")))
            .unwrap_or(&path);
        if !KEPT_FOR_THE_DUMP.iter().any(|(p, _)| *p == as_listed) {
            unexplained.push(path);
        }
    }
    assert!(unexplained.is_empty(), "keys checked and kept for the dump only, with no reason given: {unexplained:?}");
    for (p, _) in KEPT_FOR_THE_DUMP {
        assert!(lookup(p).is_some_and(|k| !k.applied), "{p} is not a key without a setter");
    }
}

/// The key that was dropped: with the real file, `rnats check --dump`
/// shows it and the compiled TLS settings carry it.
#[test]
fn handshake_first_from_a_file_reaches_the_compiled_options() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("tls {{\n  cert_file: \"{CERT}\"\n  key_file: \"{KEY}\"\n  handshake_first: true\n}}\n");
    let opts = load(dir.path(), "hf.conf", &text).expect("loads");
    let tls = opts.tls.as_ref().expect("tls");
    assert!(tls.handshake_first && tls.handshake_first_fallback.is_none());
    let dump = serde_json::to_value(&opts).unwrap();
    assert_eq!(dump["tls"]["handshake_first"], serde_json::json!(true));
    let snap = rnats::server::snapshot::Snapshot::compile(opts, 1, None).expect("compiles");
    assert!(snap.tls.as_ref().expect("compiled tls").handshake_first);
}

/// End to end: `handshake_first: true` in a real file, the binary started
/// from it, and the official Rust client's TLS-first mode (its own test of
/// the option failed against rnats while the key was dropped). A client
/// that waits for INFO in clear gets none: the server waits for TLS, then
/// gives up after the block's timeout.
#[tokio::test]
async fn a_tls_first_client_connects_to_a_server_configured_by_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("tls-first.conf");
    let text = format!(
        "tls {{\n  cert_file: \"{CERT}\"\n  key_file: \"{KEY}\"\n  handshake_first: true\n  timeout: 0.5\n}}\n"
    );
    std::fs::write(&conf, text).unwrap();
    let p = rnats::tools::spawn::Spawn::new(Path::new(env!("CARGO_BIN_EXE_rnats")))
        .args(&["-c", conf.to_str().unwrap()])
        .log()
        .start()
        .expect("server starts");
    let port = p.addr.port();
    let connect = async_nats::ConnectOptions::new()
        .tls_first()
        .require_tls(true)
        .add_root_certificates(CA.into())
        .max_reconnects(0)
        .connect(format!("tls://localhost:{port}"));
    let client = tokio::time::timeout(Duration::from_secs(5), connect).await.expect("in time").expect("connects");
    let mut sub = client.subscribe("tls.first").await.unwrap();
    client.publish("tls.first", "over TLS".into()).await.unwrap();
    use futures_util::StreamExt;
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next()).await.expect("in time").expect("a message");
    assert_eq!(&msg.payload[..], b"over TLS");
    assert!(p.log_text().contains("TLS required for client connections"), "{}", p.log_text());

    // A plain client: no INFO in clear, closed after the TLS timeout.
    use tokio::io::AsyncReadExt;
    let mut plain = tokio::net::TcpStream::connect(p.addr).await.unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut got)).await.expect("closed in time");
    let _ = read;
    assert!(!got.starts_with(b"INFO"), "INFO sent in clear: {:?}", String::from_utf8_lossy(&got));
}
