//! Reloads operators can see: a refused reload shows in `/varz` and
//! `/healthz` of the running binary (nats-server only logs it), every
//! reload reports what it did to client connections, and a dry run
//! predicts exactly that against the live connections, changing nothing.

mod common;

use std::path::Path;

use common::http::get;
use common::reloadable::Reloadable;
use common::*;
use rnats::reload::Outcome;
use rnats::tools::spawn::Spawn;
use serde_json::Value;

/// The binary, reloaded by SIGHUP: refused, then applied.
#[tokio::test]
async fn a_refused_reload_shows_in_varz_and_healthz_until_one_applies() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("server.conf");
    std::fs::write(&conf, "server_name: one\nhttp: \"127.0.0.1:-1\"\n").unwrap();
    let p =
        Spawn::new(Path::new(env!("CARGO_BIN_EXE_rnats"))).args(&["-c", conf.to_str().unwrap()]).log().start().unwrap();
    let base = p.monitor_url().expect("a monitoring port");
    // No reload yet: no record, healthy however asked.
    assert!(get(&base, "/varz").await.json().get("reload").is_none());
    assert_eq!(get(&base, "/healthz?reload=true").await.status, 200);

    // A rename needs a restart: refused.
    std::fs::write(&conf, "server_name: two\nhttp: \"127.0.0.1:-1\"\n").unwrap();
    p.signal(rustix::process::Signal::HUP).unwrap();
    let reload = varz_reload_until(&base, "refused").await;
    assert_eq!(reload["trigger"], "signal");
    let reason = reload["reasons"][0].as_str().unwrap();
    assert!(reason.contains("server_name: old=one, new=two"), "{reload}");
    // Still serving on the old configuration: healthy by default...
    let plain = get(&base, "/healthz").await;
    assert_eq!((plain.status, plain.json()), (200, serde_json::json!({"status": "ok"})));
    // ...degraded with details...
    let details = get(&base, "/healthz?details=true").await;
    assert_eq!(details.status, 200);
    let warning = &details.json()["warnings"][0];
    assert_eq!(warning["type"], "RELOAD");
    assert!(warning["error"].as_str().unwrap().contains("(signal) was refused: "), "{warning}");
    // ...and failing for a probe that asks about reloads.
    let probe = get(&base, "/healthz?reload=true").await;
    assert_eq!(probe.status, 503);
    assert_eq!(probe.json()["status"], "unavailable");
    assert!(probe.json()["error"].as_str().unwrap().contains("server_name: old=one, new=two"));
    let probe = get(&base, "/healthz?reload=true&details=true").await;
    assert_eq!((probe.status, probe.json()["errors"][0]["type"].clone()), (503, Value::from("RELOAD")));
    assert_eq!(get(&base, "/healthz?reload=maybe").await.status, 400);

    // Fixed: the next reload applies, and the probe passes again.
    std::fs::write(&conf, "server_name: one\nhttp: \"127.0.0.1:-1\"\ndebug: true\n").unwrap();
    p.signal(rustix::process::Signal::HUP).unwrap();
    let reload = varz_reload_until(&base, "applied").await;
    assert_eq!(reload["changes"], serde_json::json!(["Reloaded: debug = true"]));
    assert_eq!(reload["config_digest"], get(&base, "/varz").await.json()["config_digest"]);
    assert_eq!(get(&base, "/healthz?reload=true").await.status, 200);
}

async fn varz_reload_until(base: &str, outcome: &str) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let varz = get(base, "/varz").await.json();
        if varz["reload"]["outcome"] == outcome {
            return varz["reload"].clone();
        }
        assert!(std::time::Instant::now() < deadline, "no {outcome} reload in /varz: {varz}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn conf(a_perms: &str, b_users: &str, b_limits: &str) -> String {
    format!(
        r#"
accounts {{
  A {{ users: [{{user: a, password: a {a_perms}}}, {{user: same, password: same}}] }}
  B {{
    users: [{b_users}]
    {b_limits}
  }}
}}
"#
    )
}

async fn round_trip(raw: &mut Raw, bytes: &str) -> String {
    raw.send(format!("{bytes}PING\r\n").as_bytes()).await;
    String::from_utf8_lossy(&raw.read_until_pongs(1).await.0).into_owned()
}

/// Users removed, permissions narrowed, an account limit changed: the dry
/// run's counts are the reload's, and the dry run itself changes nothing.
#[tokio::test]
async fn a_dry_run_predicts_what_the_reload_then_does_and_changes_nothing() {
    let before = conf("", "{user: b, password: b}, {user: gone, password: gone}, {user: b2, password: b2}", "");
    let server = Reloadable::start(&before).await;
    let addr = server.addr();
    let mut narrowed = login_as(addr, "a").await;
    let mut unchanged = login_as(addr, "same").await;
    let mut gone = login_as(addr, "gone").await;
    let _b = login_as(addr, "b").await;
    let _b2 = login_as(addr, "b2").await;

    let after = conf(
        ", permissions: {publish: \"x\"}",
        "{user: b, password: b}, {user: b2, password: b2}",
        "limits: {max_payload: 100}",
    );
    std::fs::write(&server.conf, &after).unwrap();
    let dry = server.reloader.dry_run().await;
    assert_eq!(dry.outcome, "would_apply", "{dry:?}");
    let json = serde_json::to_value(&dry).unwrap();
    assert_eq!(json["connections"], serde_json::json!({"closed": 1, "rechecked": 3, "unchanged": 1}), "{json}");
    assert_eq!(json["accounts"]["A"], serde_json::json!({"closed": 0, "rechecked": 1, "unchanged": 1}));
    assert_eq!(json["accounts"]["B"], serde_json::json!({"closed": 1, "rechecked": 2, "unchanged": 0}));

    // Nothing changed: the narrowed user still publishes where it will not
    // be allowed to, and the removed one is still connected.
    assert_eq!(round_trip(&mut unchanged, "SUB y 1\r\n").await, "PONG\r\n");
    assert_eq!(round_trip(&mut narrowed, "PUB y 1\r\n1\r\n").await, "PONG\r\n");
    assert_eq!(round_trip(&mut unchanged, "").await, "MSG y 1 1\r\n1\r\nPONG\r\n");
    assert_eq!(round_trip(&mut gone, "").await, "PONG\r\n");
    assert!(server.server.state().last_reload().is_none(), "a dry run is not a reload");

    let outcome = server.reloader.reload(rnats::reload::Trigger::Request).await;
    let Outcome::Applied { connections, pending, .. } = outcome else { panic!("applied: {outcome:?}") };
    assert_eq!(pending, 0);
    assert_eq!(serde_json::to_value(connections).unwrap(), json["connections"]);
    let record = server.server.state().last_reload().unwrap();
    assert_eq!(record.connections, connections);
    // And it did what was predicted.
    assert_eq!(gone.expect_close().await, b"");
    let denied = round_trip(&mut narrowed, "PUB y 1\r\n1\r\n").await;
    assert!(denied.contains("Permissions Violation for Publish to \"y\""), "{denied}");

    // Nothing left to change: a dry run says so.
    let dry = server.reloader.dry_run().await;
    assert_eq!(dry.outcome, "unchanged");
    assert_eq!(dry.connections.closed + dry.connections.rechecked, 0, "{dry:?}");
}

/// A file the reload would refuse or cannot read: the dry run says why.
#[tokio::test]
async fn a_dry_run_reports_a_refusal_and_an_invalid_file() {
    let server = Reloadable::start("server_name: one\n").await;
    std::fs::write(&server.conf, "server_name: two\n").unwrap();
    let dry = server.reloader.dry_run().await;
    assert_eq!(dry.outcome, "refused");
    assert!(dry.reasons[0].contains("server_name: old=one, new=two"), "{dry:?}");
    std::fs::write(&server.conf, "server_name: {\n").unwrap();
    let dry = server.reloader.dry_run().await;
    assert_eq!(dry.outcome, "invalid");
    assert!(dry.reasons[0].contains("server.conf:"), "positioned: {dry:?}");
}

/// `rnats reload --pid`: SIGHUP, then the outcome from `/varz`, and an exit
/// status a deployment script can act on.
#[tokio::test]
async fn rnats_reload_by_signal_reports_the_outcome_and_exits_by_it() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("server.conf");
    let users = "authorization { users: [{user: a, password: a}, {user: b, password: b}] }";
    std::fs::write(&conf, format!("http: \"127.0.0.1:-1\"\n{users}\n")).unwrap();
    let p =
        Spawn::new(Path::new(env!("CARGO_BIN_EXE_rnats"))).args(&["-c", conf.to_str().unwrap()]).log().start().unwrap();
    let base = p.monitor_url().unwrap();
    let _a = login_as(p.addr, "a").await;
    let _b = login_as(p.addr, "b").await;
    let reload = |conf_text: &str| {
        std::fs::write(&conf, conf_text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rnats"))
            .args(["reload", "--pid", &p.pid().to_string(), "--monitor", &base, "--timeout", "10"])
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let one_user = "http: \"127.0.0.1:-1\"\nauthorization { users: [{user: a, password: a}] }\n";
    let (code, out) = reload(one_user);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("reload applied; client connections: 1 closed, 0 re-checked, 1 unchanged"), "{out}");
    assert!(out.contains("Reloaded: authorization users (removed: b)"), "{out}");
    let (code, out) = reload(one_user);
    assert_eq!(code, Some(2), "nothing changed: {out}");
    let (code, out) = reload("http: \"127.0.0.1:-1\"\nserver_name: renamed\n");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("reload refused") && out.contains("server_name"), "{out}");
}
