//! The monitoring port's router and query parser: any path, query string
//! and `Authorization` header, on servers with and without a base path and
//! `http_auth`, over a server with live clients and subscriptions. Every
//! request gets one of nats-server's statuses; a 200 from a JSON endpoint is
//! JSON (or JSONP around it); a redirect points at the clean path; a
//! refused credential never reaches an endpoint.
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use rnats::monitor::Monitor;
use rnats::options::{HttpAuth, Options};
use rnats::server::snapshot::Snapshot;
use rnats::server::state::ServerState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct World {
    rt: tokio::runtime::Runtime,
    monitors: Vec<Monitor>,
    _peers: Vec<tokio::io::DuplexStream>,
}

fn server(auth: Option<HttpAuth>) -> Arc<ServerState> {
    let opts = Options { http_auth: auth, ..Options::default() };
    let snap = Snapshot::compile(opts, 1, None).expect("compiles");
    ServerState::new(snap, "NFUZZ".into(), "fuzz".into())
}

/// Clients with subscriptions (plain, queue, wildcard), so /connz and
/// /subsz have rows to sort, filter and page through.
async fn populate(server: &Arc<ServerState>, peers: &mut Vec<tokio::io::DuplexStream>) {
    for i in 0..3u16 {
        let (mut ours, theirs) = tokio::io::duplex(1 << 16);
        let addr: SocketAddr = ([127, 0, 0, 1], 40000 + i).into();
        tokio::spawn(rnats::server::session::serve_client(server.clone(), theirs, addr));
        let script = format!(
            "CONNECT {{\"name\":\"c{i}\",\"lang\":\"fuzz\",\"verbose\":false}}\r\nSUB a.{i} 1\r\nSUB a.* q 2\r\n\
             SUB > 3\r\nPUB a.{i} 2\r\nhi\r\nPING\r\n"
        );
        ours.write_all(script.as_bytes()).await.expect("write");
        // Until the PONG: the session has taken every op.
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        while !got.windows(6).any(|w| w == b"PONG\r\n") {
            let n = ours.read(&mut chunk).await.expect("read");
            assert!(n > 0, "session closed");
            got.extend_from_slice(&chunk[..n]);
        }
        peers.push(ours);
    }
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let token = HttpAuth { token: Some("s3cret".into()), ..HttpAuth::default() };
        let (monitors, peers) = rt.block_on(async {
            let plain = server(None);
            let guarded = server(Some(token));
            let mut peers = Vec::new();
            populate(&plain, &mut peers).await;
            let monitors = vec![
                Monitor::new(plain.clone(), None),
                Monitor::new(plain, Some("/mon/")),
                Monitor::new(guarded, None),
            ];
            (monitors, peers)
        });
        World { rt, monitors, _peers: peers }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let w = world();
    let monitor = &w.monitors[pick as usize % w.monitors.len()];
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.splitn(3, '\n');
    let target = match (parts.next().unwrap_or_default(), parts.next()) {
        (path, Some(query)) => format!("{path}?{query}"),
        (path, None) => path.to_string(),
    };
    let auth = parts.next().map(str::as_bytes);
    // Only what hyper would hand over as a request target.
    let Ok(uri) = target.parse::<hyper::Uri>() else { return };
    let (path, query) = (uri.path(), uri.query());
    let reply = w.rt.block_on(monitor.answer(path, query, auth));
    let status = reply.status.as_u16();
    assert!(matches!(status, 200 | 307 | 400 | 401 | 404), "status {status} for {path:?} {query:?}");
    match status {
        307 => {
            let response = reply.clone().into_response();
            let location = response.headers().get("location").expect("a redirect has a location");
            // The path is escaped; the query is repeated as sent (as Go does).
            let location = location.as_bytes();
            assert!(location.starts_with(b"/"), "{location:?}");
            let path = location.split(|&b| b == b'?').next().unwrap_or_default();
            assert!(path.iter().all(|b| b.is_ascii_graphic()), "unescaped path in {location:?}");
        }
        401 => assert!(auth != Some(b"Bearer s3cret".as_slice()), "the right token was refused"),
        200 if reply.json => {
            let body = &reply.body[..];
            if reply.content_type == "application/json" {
                serde_json::from_slice::<serde_json::Value>(body).expect("a JSON endpoint answers JSON");
            } else {
                // JSONP: callback(...)
                let open = body.iter().position(|&b| b == b'(').expect("JSONP");
                assert!(body.ends_with(b")"), "JSONP closes");
                serde_json::from_slice::<serde_json::Value>(&body[open + 1..body.len() - 1]).expect("JSON inside");
            }
        }
        _ => {}
    }
});
