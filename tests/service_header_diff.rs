//! Differential test of the `Nats-Request-Info` header that responders get
//! across a service import: the reference nats-server delivers requests from
//! two importing accounts (one with `share: true`, with names that need Go's
//! JSON escaping); rnats's writer (`server::service::request_info`) fed the
//! same facts must produce the same header, byte for byte. The facts only the
//! server knows (start time, client id, rtt, server name) are read back from
//! the reference's own header.

mod common;

use common::{reference_binary, skip_loudly, Raw};
use rnats::server::service::request_info::{write_request_header, ClientInfo};
use serde_json::Value;

const CONF: &str = r#"
server_name: "srv<&>"
accounts {
  A {
    users: [{user: a, password: a}]
    exports: [ {service: "svc.>"} ]
  }
  B {
    users: [{user: b, password: b}]
    imports: [ {service: {account: A, subject: "svc.>"}} ]
  }
  C {
    users: [{user: "c<\"x>", password: c}]
    imports: [ {service: {account: A, subject: "svc.>"}, share: true} ]
  }
}
"#;

async fn login(addr: std::net::SocketAddr, connect: &str) -> Raw {
    let mut raw = Raw::connect(addr).await;
    raw.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes()).await;
    let (bytes, closed) = raw.read_until_pongs(1).await;
    assert!(!closed, "{}", String::from_utf8_lossy(&bytes));
    raw
}

/// Sends `publish` from `requester`, then returns the header of the HMSG
/// the responder gets.
async fn request_header(requester: &mut Raw, responder: &mut Raw, publish: &[u8]) -> Vec<u8> {
    requester.send(publish).await;
    requester.send(b"PING\r\n").await;
    requester.read_until_pongs(1).await;
    responder.send(b"PING\r\n").await;
    let (bytes, _) = responder.read_until_pongs(1).await;
    let line_end = bytes.windows(2).position(|w| w == b"\r\n").expect("a line");
    let line = String::from_utf8_lossy(&bytes[..line_end]).into_owned();
    assert!(line.starts_with("HMSG "), "{line}: {}", String::from_utf8_lossy(&bytes));
    let sizes: Vec<usize> = line.split(' ').rev().take(2).map(|n| n.parse().expect("size")).collect();
    let header_len = sizes[1];
    bytes[line_end + 2..line_end + 2 + header_len].to_vec()
}

/// The JSON value of the header's `Nats-Request-Info`.
fn info_of(header: &[u8]) -> Value {
    let text = String::from_utf8_lossy(header);
    let line = text.lines().find_map(|l| l.strip_prefix("Nats-Request-Info: ")).expect("request info");
    serde_json::from_str(line).expect("json")
}

#[tokio::test]
async fn request_info_header_matches_the_reference() {
    let Some(bin) = reference_binary() else {
        skip_loudly("request_info_header_matches_the_reference");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("svc.conf");
    std::fs::write(&conf, CONF).expect("config");
    let process = rnats::tools::spawn::Spawn::new(&bin)
        .args(&["-c", conf.to_str().expect("path")])
        .start()
        .expect("reference starts");
    let addr = process.addr;
    let base = r#""verbose":false,"pedantic":false,"headers":true,"protocol":1,"no_responders":true"#;
    let mut a = login(addr, &format!(r#"{{{base},"user":"a","pass":"a"}}"#)).await;
    let mut b = login(addr, &format!(r#"{{{base},"user":"b","pass":"b"}}"#)).await;
    let name = "req\\u0001\\b\\f\\t<c>&";
    let mut c =
        login(addr, &format!(r#"{{{base},"user":"c<\"x>","pass":"c","name":"{name}","lang":"py","version":"1.2"}}"#))
            .await;
    a.send(b"SUB svc.> 1\r\nPING\r\n").await;
    a.read_until_pongs(1).await;

    // Brief form, with the requester's own header and a planted info line.
    let own = b"NATS/1.0\r\nNats-Request-Info: {\"acc\":\"SYS\"}\r\nK: v\r\n\r\n";
    let mut publish = format!("HPUB svc.hdr _INBOX.b.1 {} {}\r\n", own.len(), own.len() + 3).into_bytes();
    publish.extend_from_slice(own);
    publish.extend_from_slice(b"req\r\n");
    let theirs = request_header(&mut b, &mut a, &publish).await;
    let rtt = info_of(&theirs)["rtt"].as_u64().unwrap_or(0);
    let mut ours = Vec::new();
    write_request_header(own, &ClientInfo::brief("B", rtt), &mut ours);
    assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));

    // No header, no reply.
    let theirs = request_header(&mut b, &mut a, b"PUB svc.noreply 3\r\nreq\r\n").await;
    let rtt = info_of(&theirs)["rtt"].as_u64().unwrap_or(0);
    ours.clear();
    write_request_header(b"", &ClientInfo::brief("B", rtt), &mut ours);
    assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));

    // share: true, every string escaped as Go escapes it.
    let theirs = request_header(&mut c, &mut a, b"PUB svc.shared _INBOX.c.1 3\r\nreq\r\n").await;
    let seen = info_of(&theirs);
    let text = |k: &str| seen[k].as_str().unwrap_or_default().to_string();
    let (start, server) = (text("start"), text("server"));
    let info = ClientInfo {
        start: &start,
        host: "127.0.0.1",
        id: seen["id"].as_u64().unwrap_or(0),
        acc: "C",
        user: "c<\"x>",
        name: "req\u{1}\u{8}\u{c}\t<c>&",
        lang: "py",
        ver: "1.2",
        rtt_nanos: seen["rtt"].as_u64().unwrap_or(0),
        server: &server,
        kind: "Client",
        client_type: "nats",
        ..ClientInfo::default()
    };
    assert_eq!(server, "srv<&>");
    ours.clear();
    write_request_header(b"", &info, &mut ours);
    assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
}
