//! The route protocol and the route session over in-memory streams: a peer
//! server sends random sequences of route ops (CONNECT and INFO variants,
//! gossip, lame duck, RS+/RS-/LS+ with known and unknown accounts and queue
//! weights, RMSG/HMSG/LMSG with right and wrong sizes, PING/PONG, -ERR, raw
//! bytes, writes split anywhere) to a server that also has a local client
//! subscribed, so routed messages are delivered. Invariants:
//! - no connection owes its peer more than its `max_pending`;
//! - once the peer and the client hang up, every session ends, no route is
//!   tracked and no subscription (local or remote) is left in the index.
#![no_main]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rnats::options::{Cluster, Options};
use rnats::server::snapshot::Snapshot;
use rnats::server::state::ServerState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ACCOUNTS: &[&str] = &["$G", "$G", "$SYS", "ACC", "B", "$G"];
const SUBJECTS: &[&str] = &["a", "a.b", "a.*", ">", "_INBOX.x", "b..c", "q"];
const INFOS: &[&str] = &[
    // The first INFO of this peer (registers it).
    "{\"server_id\":\"NPEER\",\"name\":\"peer\",\"cluster\":\"c\",\"host\":\"127.0.0.1\",\"port\":7001,\"headers\":true,\"connect_urls\":[\"127.0.0.1:5001\"]}",
    // Lame duck, from the same peer.
    "{\"server_id\":\"NPEER\",\"ldm\":true}",
    // Gossip about another server (dialed on loopback, refused at once).
    "{\"server_id\":\"NOTHER\",\"name\":\"o\",\"cluster\":\"c\",\"ip\":\"nats-route://127.0.0.1:1/\",\"port\":1}",
    // A conflicting cluster name, a duplicate name, a pinned account.
    "{\"server_id\":\"NPEER2\",\"name\":\"peer\",\"cluster\":\"other\"}",
    "{\"server_id\":\"NPEER\",\"route_account\":\"ACC\"}",
    "{\"server_id\":\"NFUZZ\",\"name\":\"self\"}",
    "{\"gateway\":\"g\"}",
    "{\"connect_urls\":[\"127.0.0.1:5002\",\"127.0.0.1:5003\",\"127.0.0.1:5004\",\"127.0.0.1:5005\"],\"server_id\":\"NPEER\"}",
    "not json",
];
const CONNECTS: &[&str] = &[
    "{\"echo\":true,\"verbose\":false,\"pedantic\":false,\"headers\":true,\"name\":\"NPEER\",\"cluster\":\"c\"}",
    "{\"lang\":\"go\",\"name\":\"client\"}",
    "{\"gateway\":\"g\",\"name\":\"x\"}",
    "{\"cluster\":\"other\",\"name\":\"NPEER\"}",
    "{}",
];

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

fn server() -> Arc<ServerState> {
    let opts = Options {
        max_pending: 4096,
        max_payload: 1024,
        write_deadline: Duration::from_millis(300),
        cluster: Some(Cluster { name: Some("c".into()), ..Cluster::default() }),
        ..Options::default()
    };
    let snap = Snapshot::compile(opts, 1, None).expect("compiles");
    ServerState::new(snap, "NFUZZ".into(), "fuzz".into())
}

fn op(inp: &mut Input<'_>) -> Vec<u8> {
    let kind = inp.byte().unwrap_or(0);
    let acc = inp.pick(ACCOUNTS);
    let subject = inp.pick(SUBJECTS);
    let n = inp.byte().unwrap_or(0) as usize;
    let size = n * 4;
    // Sometimes the declared size is wrong.
    let declared = if n % 7 == 3 { size + 1 } else { size };
    match kind % 12 {
        0 => format!("CONNECT {}\r\n", inp.pick(CONNECTS)).into_bytes(),
        1 | 2 => format!("INFO {}\r\n", inp.pick(INFOS)).into_bytes(),
        3 => format!("RS+ {acc} {subject}\r\n").into_bytes(),
        4 => format!("RS+ {acc} {subject} qg {}\r\n", n % 5).into_bytes(),
        5 => format!("RS- {acc} {subject}{}\r\n", if n % 2 == 0 { "" } else { " qg" }).into_bytes(),
        6 | 7 => {
            let mut v = match n % 4 {
                0 => format!("RMSG {acc} {subject} {declared}\r\n"),
                1 => format!("RMSG {acc} {subject} reply {declared}\r\n"),
                2 => format!("RMSG {acc} {subject} + reply qg {declared}\r\n"),
                _ => format!("RMSG {acc} {subject} | qg {declared}\r\n"),
            }
            .into_bytes();
            v.extend(std::iter::repeat_n(b'x', size));
            v.extend_from_slice(b"\r\n");
            v
        }
        8 => {
            let hdr = b"NATS/1.0\r\n\r\n";
            let mut v = format!("HMSG {acc} {subject} {} {}\r\n", hdr.len(), hdr.len() + size).into_bytes();
            v.extend_from_slice(hdr);
            v.extend(std::iter::repeat_n(b'y', size));
            v.extend_from_slice(b"\r\n");
            v
        }
        9 => format!("LS+ cl {acc} {subject}\r\n").into_bytes(),
        10 => b"PING\r\n".repeat(n / 16 + 1),
        _ => match n % 3 {
            0 => b"PONG\r\n".to_vec(),
            1 => b"-ERR 'Unknown Protocol Operation'\r\n".to_vec(),
            _ => b"+OK\r\n".to_vec(),
        },
    }
}

fn check_bounds(server: &ServerState) {
    let routes = server.cluster().map(|c| c.links()).unwrap_or_default();
    let conns = server.connections().into_iter().chain(routes.into_iter().map(|l| l.conn.clone()));
    for conn in conns {
        let (pending, max) = (conn.outbound.pending(), conn.outbound.max_pending());
        assert!(pending <= max, "{} owes {pending} bytes, max_pending {max}", conn.log_prefix);
    }
}

async fn settle() {
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
}

/// Dials go to loopback only: gossip in raw bytes could name any host.
fn only_loopback(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    text.match_indices("://").all(|(i, _)| text[i + 3..].starts_with("127.0.0.1:"))
}

fuzz_target!(|data: &[u8]| {
    if !only_loopback(data) {
        return;
    }
    let mut inp = Input(data);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("runtime");
    rt.block_on(async {
        let server = server();
        // A local client with interest, so routed messages are delivered.
        let (mut client, theirs) = tokio::io::duplex(1 << 16);
        let caddr = SocketAddr::from(([127, 0, 0, 1], 40000));
        let client_task = tokio::spawn(rnats::server::session::serve_client(server.clone(), theirs, caddr));
        client.write_all(b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB > 1\r\nSUB a q 2\r\n").await.unwrap();
        settle().await;

        let (peer, theirs) = tokio::io::duplex(512);
        let paddr = SocketAddr::from(([127, 0, 0, 1], 7001));
        let route_task =
            tokio::spawn(rnats::server::session::route::serve_accepted_stream(server.clone(), theirs, paddr));
        let mut peer = Some(peer);
        let mut steps = 0;
        while let Some(tag) = inp.byte() {
            steps += 1;
            if steps > 200 {
                break;
            }
            match tag % 8 {
                0..=3 => {
                    if let Some(io) = peer.as_mut() {
                        let bytes = op(&mut inp);
                        let _ = tokio::time::timeout(Duration::from_millis(50), io.write_all(&bytes)).await;
                    }
                }
                4 => {
                    if let Some(io) = peer.as_mut() {
                        let n = inp.byte().unwrap_or(0) as usize;
                        let raw = inp.bytes(n).to_vec();
                        let _ = tokio::time::timeout(Duration::from_millis(50), io.write_all(&raw)).await;
                    }
                }
                5 => {
                    let mut buf = vec![0u8; 4096];
                    if tag & 0x80 == 0 {
                        if let Some(io) = peer.as_mut() {
                            let _ = tokio::time::timeout(Duration::from_millis(1), io.read(&mut buf)).await;
                        }
                    } else {
                        let _ = tokio::time::timeout(Duration::from_millis(1), client.read(&mut buf)).await;
                    }
                }
                6 => {
                    let ms = u64::from(inp.byte().unwrap_or(0)) * 8;
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                _ => {
                    if let Some(io) = peer.as_mut() {
                        let bytes = op(&mut inp);
                        let cut = inp.byte().unwrap_or(0) as usize % (bytes.len() + 1);
                        for part in [&bytes[..cut], &bytes[cut..]] {
                            let _ = tokio::time::timeout(Duration::from_millis(50), io.write_all(part)).await;
                            settle().await;
                        }
                    }
                }
            }
            settle().await;
            check_bounds(&server);
        }
        drop(peer);
        tokio::time::timeout(Duration::from_secs(60), route_task)
            .await
            .expect("the route session outlived its peer")
            .expect("the route session panicked");
        // Gossip dials end (refused on loopback) or stop with the server.
        server.begin_shutdown();
        let cluster = server.cluster().expect("cluster");
        assert!(cluster.registered().is_empty(), "a route is still registered");
        drop(client);
        tokio::time::timeout(Duration::from_secs(60), client_task)
            .await
            .expect("the client session outlived its peer")
            .expect("the client session panicked");
        // Dialed gossip routes (if any connected) end with the shutdown.
        server.tracker().close();
        let _ = tokio::time::timeout(Duration::from_secs(60), server.tracker().wait()).await;
        assert!(cluster.links().is_empty(), "a route connection is still tracked");
        assert_eq!(server.global().sublist.count(), 0, "interest outlived its connection");
    });
});
