//! Hostile input never takes rnats down: config files built to exhaust the
//! stack, clients that never read what they are sent. Each test is the
//! regression test of a crash or unbounded growth found on an earlier rnats.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_rnats");

/// A stray quote on one line, then nesting: the quote misled the bracket
/// scan that guarded pest, and the walk over pest's tree overflowed the
/// stack ("has overflowed its stack", abort).
fn stray_quote_then_nesting(levels: usize) -> String {
    format!("a: x\"\nb: {}{}\n", "[".repeat(levels), "]".repeat(levels))
}

#[test]
fn check_refuses_a_stack_exhausting_file_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("deep.conf");
    std::fs::write(&conf, stray_quote_then_nesting(16_000)).unwrap();
    let out = Command::new(BIN).args(["check", conf.to_str().unwrap()]).stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}{stderr}");
    assert_eq!(out.status.code(), Some(1), "refused, not killed by a signal: {}", &all[..all.len().min(400)]);
    assert!(all.contains("error[too-deep]: nesting deeper than 64 levels"), "{}", &all[..all.len().min(400)]);
    assert!(all.contains("deep.conf:2:68"), "points at the 65th bracket: {}", &all[..all.len().min(400)]);
}

/// A running server sent SIGHUP after its file was replaced by one nested
/// 4 000 levels deep: the reload is refused, the server keeps serving.
#[tokio::test]
async fn sighup_with_a_stack_exhausting_file_is_refused_and_the_server_serves_on() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("s.conf");
    std::fs::write(&conf, "max_payload: 1MB\n").unwrap();
    let p = rnats::spawn::Spawn::new(Path::new(BIN)).args(&["-c", conf.to_str().unwrap()]).log().start().unwrap();
    let client = async_nats::connect(p.addr.to_string()).await.unwrap();
    let mut sub = client.subscribe("still").await.unwrap();
    client.flush().await.unwrap();

    std::fs::write(&conf, stray_quote_then_nesting(4_000)).unwrap();
    p.signal(rustix::process::Signal::HUP).unwrap();
    let log = p.wait_for_log("Failed to reload server configuration", WAIT).unwrap_or_else(|| p.log_text());
    assert!(log.contains("nesting deeper than 64 levels"), "{}", tail(&log));

    // The same connection still works, and new ones are accepted.
    use futures_util::StreamExt;
    client.publish("still", "here".into()).await.unwrap();
    let msg = tokio::time::timeout(WAIT, sub.next()).await.expect("delivered").expect("open");
    assert_eq!(&msg.payload[..], b"here");
    let other = async_nats::connect(p.addr.to_string()).await.expect("a new client connects");
    other.flush().await.unwrap();

    // A valid file reloads afterwards: nothing was half-applied.
    std::fs::write(&conf, "max_payload: 2KB\n").unwrap();
    p.signal(rustix::process::Signal::HUP).unwrap();
    let log = p.wait_for_log("Reloaded: max_payload = 2048", WAIT).unwrap_or_else(|| p.log_text());
    assert!(log.contains("Reloaded: max_payload = 2048"), "{}", tail(&log));
}

/// The end of a log, without the kilobytes of brackets a diagnostic quotes.
fn tail(log: &str) -> String {
    log.lines().rev().take(20).map(|l| &l[..l.len().min(200)]).collect::<Vec<_>>().join("\n")
}

/// Secrets are a type whose `Debug` and `Display` redact: printing any
/// structure that holds one (a user, the options, a client's CONNECT, a
/// route's CONNECT or URL) never shows it. Before, `User` derived `Debug`
/// with the plain-text password and only the log scrubber hid it.
#[test]
fn printing_a_structure_never_shows_its_secrets() {
    use rnats::options::{HttpAuth, Options, User};
    let secrets = ["pw-hunter2", "tok-s3cr3t", "http-pw-9", "http-tok-7", "route-pw-5"];
    let mut o = Options::default();
    o.authorization.users =
        vec![User { user: Some("alice".into()), password: Some(secrets[0].into()), ..User::default() }];
    o.authorization.token = Some(secrets[1].into());
    o.http_auth = Some(HttpAuth { user: Some("ops".into()), password: Some(secrets[2].into()), token: None });
    let monitor_token = HttpAuth { token: Some(secrets[3].into()), ..HttpAuth::default() };
    let url = rnats::server::route::urls::RouteUrl::parse(&format!("nats-route://r:{}@127.0.0.1:4248", secrets[4]))
        .expect("a route URL");
    let mut connect = rnats::server::info::ConnectOpts::default();
    connect.apply_json(br#"{"user":"alice","pass":"pw-hunter2","auth_token":"tok-s3cr3t"}"#).expect("CONNECT");
    let peer: rnats::server::route::info::PeerConnect =
        serde_json::from_str(r#"{"user":"r","pass":"route-pw-5"}"#).expect("route CONNECT");
    let shown = [
        format!("{o:?}"),
        format!("{o:#?}"),
        format!("{:?}", o.authorization.users[0]),
        format!("{monitor_token:?}"),
        format!("{url:?} {url}"),
        format!("{connect:?}"),
        format!("{peer:?}"),
        serde_json::to_string(&o).unwrap(),
    ]
    .join("\n");
    for s in secrets {
        assert!(!shown.contains(s), "{s} printed:\n{shown}");
    }
    assert!(shown.contains("alice") && shown.contains("[REDACTED]"), "{shown}");
    // The values are all there to use.
    assert_eq!(o.authorization.users[0].password.as_ref().map(|p| p.expose()), Some("pw-hunter2"));
}
