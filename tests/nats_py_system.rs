//! The nats CLI's system requests played by the official Python client
//! (nats-py), against rnats and nats-server started on the same config:
//! `nats server list` and `server ping` (`$SYS.REQ.SERVER.PING`, every
//! answer collected), `server info` (`$SYS.REQ.SERVER.PING.VARZ` with a
//! `server_name` filter), and `account info` (`$SYS.REQ.USER.INFO` and
//! `$SYS.REQ.ACCOUNT.<acc>.INFO`). The answers must have the same shape:
//! the same key paths with the same JSON types.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_rnats");

const CONF: &str = r#"
server_name: S1
system_account: SYS
accounts {
  SYS { users: [{user: sys, password: sys}] }
  A { users: [{user: a, password: a}] }
}
"#;

/// Prints one line per request: its name and the sorted key paths (with
/// types) of every answer, values left out.
const CLI: &str = r#"
import asyncio, json, sys
import nats

def paths(v, at=""):
    if isinstance(v, dict):
        out = [at + "{}"]
        for k, x in v.items():
            out += paths(x, at + "." + k)
        return out
    if isinstance(v, list):
        return [at + "[]"] + (paths(v[0], at + "[0]") if v else [])
    return [at + ":" + type(v).__name__.replace("int", "num").replace("float", "num")]

async def collect(nc, subject, body=b"", wait=1.0):
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish(subject, body, reply=inbox)
    answers = []
    try:
        while True:
            msg = await sub.next_msg(timeout=wait)
            answers.append(json.loads(msg.data))
            wait = 0.5
    except Exception:
        pass
    await sub.unsubscribe()
    return answers

async def main(url):
    sys_nc = await nats.connect(url, user="sys", password="sys")
    a_nc = await nats.connect(url, user="a", password="a")
    out = {}
    out["server list"] = await collect(sys_nc, "$SYS.REQ.SERVER.PING")
    out["server ping"] = await collect(sys_nc, "$SYS.REQ.SERVER.PING.IDZ")
    out["server info"] = await collect(sys_nc, "$SYS.REQ.SERVER.PING.VARZ", b'{"server_name":"S1"}')
    out["account info (user)"] = await collect(a_nc, "$SYS.REQ.USER.INFO")
    out["account info (sys)"] = await collect(sys_nc, "$SYS.REQ.ACCOUNT.A.INFO")
    for name, answers in out.items():
        shape = sorted(set(p for a in answers for p in paths(a)))
        print(name, len(answers), json.dumps(shape))
    await sys_nc.close()
    await a_nc.close()

asyncio.run(main(sys.argv[1]))
"#;

fn have_nats_py() -> bool {
    let have = Command::new("python3").args(["-c", "import nats"]).output().is_ok_and(|o| o.status.success());
    if !have && std::env::var_os("RNATS_REQUIRE_REFERENCE").is_some() {
        panic!("nats-py is required in CI (pip install nats-py)");
    }
    have
}

fn cli(port: u16) -> Vec<String> {
    let url = format!("nats://127.0.0.1:{port}");
    let out = Command::new("timeout").args(["30", "python3", "-c", CLI, &url]).output().expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!text.is_empty(), "no output\n{}", String::from_utf8_lossy(&out.stderr));
    text.lines().map(str::to_string).collect()
}

/// Keys of `/varz` that only one of the two servers has (rnats's own
/// additions, Go runtime figures) are not the CLI's business.
fn without_server_specific(line: &str) -> String {
    let Some((head, json)) = line.split_once(" [") else { return line.to_string() };
    let paths: Vec<String> = serde_json::from_str(&format!("[{json}")).unwrap_or_default();
    let kept: Vec<String> =
        paths.into_iter().filter(|p| !p.starts_with(".data.") || p.matches('.').count() <= 2).collect();
    format!("{head} {kept:?}")
}

#[test]
fn the_clis_system_requests_get_the_same_shape_from_both_servers() {
    if !have_nats_py() {
        return skip_loudly("nats_py_system (nats-py not installed)");
    }
    let Some(reference) = reference_binary() else { return skip_loudly("nats_py_system") };
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("sys.conf");
    std::fs::write(&conf, CONF).expect("config");
    let conf = conf.to_string_lossy().into_owned();
    let ours = rnats::tools::spawn::Spawn::new(Path::new(BIN)).args(&["-c", &conf]).log().start().expect("rnats");
    let theirs = rnats::tools::spawn::Spawn::new(&reference).args(&["-c", &conf]).start().expect("nats-server");
    let (want, got) = (cli(theirs.addr.port()), cli(ours.addr.port()));
    assert_eq!(want.len(), got.len());
    for (w, g) in want.iter().zip(&got) {
        if w.starts_with("server info") {
            // `/varz` itself is compared key by key by the monitor's tests.
            assert_eq!(w.split(' ').take(3).collect::<Vec<_>>(), g.split(' ').take(3).collect::<Vec<_>>());
            continue;
        }
        assert_eq!(without_server_specific(w), without_server_specific(g), "\nreference: {w}\nrnats:     {g}");
    }
}
