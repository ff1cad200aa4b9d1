//! The client session state machine over in-memory streams: two clients of
//! one server send random sequences of protocol ops (CONNECT variants,
//! PUB/HPUB/SUB/UNSUB/PING/PONG, raw bytes, writes split anywhere), read
//! their output or not, and let time pass (tokio's paused clock: pings,
//! auth timeouts and write deadlines fire). Invariants, checked after every
//! step and at the end:
//! - no connection owes its peer more than its `max_pending` (every byte
//!   queued counts: PONG, +OK, -ERR, INFO, messages);
//! - once both peers hang up, every session ends and the server is empty:
//!   no connection listed, no subscription left in the index.
#![no_main]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rnats::options::{Options, User};
use rnats::server::snapshot::Snapshot;
use rnats::server::state::ServerState;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

const SUBJECTS: &[&str] = &["a", "a.b", "a.*", ">", "a.>", "_INBOX.r1", "b", "bad..subj", "*", "a.b.c.d.e.f"];
const CONNECTS: &[&str] = &[
    "{}",
    "{\"verbose\":true}",
    "{\"pedantic\":true,\"verbose\":true}",
    "{\"headers\":true,\"no_responders\":true,\"protocol\":1}",
    "{\"echo\":false}",
    "{\"user\":\"u\",\"pass\":\"p\"}",
    "{\"user\":\"u\",\"pass\":\"wrong\"}",
    "{\"protocol\":2}",
    "{\"lang\":\"x\",\"name\":\"n\",\"headers\":false}",
    "null",
    "{\"verbose\":",
];

/// Reads bytes one at a time from the fuzz input.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn pick<'s>(&mut self, from: &[&'s str]) -> &'s str {
        from[self.byte().unwrap_or(0) as usize % from.len()]
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        b
    }
}

fn server(variant: u8) -> Arc<ServerState> {
    let mut opts = Options {
        max_pending: 4096,
        max_payload: 1024,
        max_control_line: 256,
        max_subscriptions: if variant & 1 == 1 { 4 } else { 0 },
        ping_interval: Duration::from_millis(200),
        ping_max: 2,
        write_deadline: Duration::from_millis(300),
        ..Options::default()
    };
    if variant & 2 == 2 {
        opts.authorization.users = vec![User { user: Some("u".into()), password: Some("p".into()), ..User::default() }];
    }
    opts.authorization.timeout = Duration::from_millis(500);
    let snap = Snapshot::compile(opts, 1, None).expect("compiles");
    ServerState::new(snap, "NFUZZ".into(), "fuzz".into())
}

/// An op built from the input (valid more often than random bytes are).
fn op(inp: &mut Input<'_>) -> Vec<u8> {
    let kind = inp.byte().unwrap_or(0);
    let subject = inp.pick(SUBJECTS);
    let sid = inp.byte().unwrap_or(1) % 8;
    let size = inp.byte().unwrap_or(0) as usize * 8;
    match kind % 10 {
        0 => format!("CONNECT {}\r\n", inp.pick(CONNECTS)).into_bytes(),
        1 => format!("SUB {subject} {sid}\r\n").into_bytes(),
        2 => format!("SUB {subject} q{} {sid}\r\n", sid % 2).into_bytes(),
        3 => format!("UNSUB {sid} {}\r\n", size % 3).into_bytes(),
        4 | 5 => {
            let mut v = format!("PUB {subject} {size}\r\n").into_bytes();
            v.extend(std::iter::repeat_n(b'x', size));
            v.extend_from_slice(b"\r\n");
            v
        }
        6 => {
            let hdr = b"NATS/1.0\r\nA: b\r\n\r\n";
            let mut v = format!("HPUB {subject} _INBOX.r1 {} {}\r\n", hdr.len(), hdr.len() + size).into_bytes();
            v.extend_from_slice(hdr);
            v.extend(std::iter::repeat_n(b'y', size));
            v.extend_from_slice(b"\r\n");
            v
        }
        7 => b"PING\r\n".repeat(size / 8 + 1),
        8 => b"PONG\r\n".to_vec(),
        _ => format!("PUB {subject} _INBOX.r1 0\r\n\r\n").into_bytes(),
    }
}

fn check_bounds(server: &ServerState) {
    for conn in server.connections() {
        let (pending, max) = (conn.outbound.pending(), conn.outbound.max_pending());
        assert!(pending <= max, "cid {} owes {pending} bytes, max_pending {max}", conn.cid);
    }
}

async fn settle() {
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let variant = inp.byte().unwrap_or(0);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("runtime");
    rt.block_on(async {
        let server = server(variant);
        let mut peers: Vec<Option<DuplexStream>> = Vec::new();
        let mut tasks = Vec::new();
        for port in [40001u16, 40002] {
            // A small pipe: a peer that does not read soon makes the
            // server's writes wait, so output really queues up.
            let (ours, theirs) = tokio::io::duplex(512);
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            tasks.push(tokio::spawn(rnats::server::session::serve_client(server.clone(), theirs, addr)));
            peers.push(Some(ours));
        }
        let mut steps = 0;
        while let Some(tag) = inp.byte() {
            steps += 1;
            if steps > 200 {
                break;
            }
            let who = usize::from(tag >> 7);
            let Some(io) = peers[who].as_mut() else { continue };
            match tag % 8 {
                0 | 1 | 2 => {
                    let bytes = op(&mut inp);
                    let _ = tokio::time::timeout(Duration::from_millis(50), io.write_all(&bytes)).await;
                }
                3 => {
                    let n = inp.byte().unwrap_or(0) as usize;
                    let raw = inp.bytes(n).to_vec();
                    let _ = tokio::time::timeout(Duration::from_millis(50), io.write_all(&raw)).await;
                }
                4 => {
                    // The peer reads what is there.
                    let mut buf = vec![0u8; 4096];
                    let _ = tokio::time::timeout(Duration::from_millis(1), io.read(&mut buf)).await;
                }
                5 => {
                    let ms = u64::from(inp.byte().unwrap_or(0)) * 4;
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                6 => peers[who] = None,
                _ => {
                    // One op split across writes at an arbitrary point.
                    let bytes = op(&mut inp);
                    let cut = inp.byte().unwrap_or(0) as usize % (bytes.len() + 1);
                    for part in [&bytes[..cut], &bytes[cut..]] {
                        let _ = tokio::time::timeout(Duration::from_millis(50), io.write_all(part)).await;
                        settle().await;
                    }
                }
            }
            settle().await;
            check_bounds(&server);
        }
        drop(peers);
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(60), task)
                .await
                .expect("a session outlived its peer")
                .expect("a session panicked");
        }
        assert_eq!(server.num_clients(), 0, "a connection is still listed");
        assert_eq!(server.global().sublist.count(), 0, "a subscription outlived its connection");
    });
});
