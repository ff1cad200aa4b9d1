//! The websocket listener: accepts TCP connections, runs TLS (`wss://`)
//! and the HTTP upgrade within `handshake_timeout`, then hands the
//! connection to the session layer as a [`WsStream`].
//!
//! A request the handshake refuses gets nats-server's answer and the
//! connection stays open for another request, as Go's HTTP server keeps it
//! alive; one that does not parse gets Go's own `400` and is closed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, error};

use super::handshake::{self, Kind, Parsed, Verdict, WsMeta};
use super::stream::WsStream;
use crate::server::session::{self, Transport};
use crate::server::state::ServerState;

/// Back-off bounds after a failed accept (out of file descriptors and the like).
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// Request headers read at most (Go's server reads about as many).
const MAX_HEADERS: usize = 100;

/// Binds the websocket listener, when one is configured, and logs as
/// nats-server does; the ports file learns its URL.
pub async fn bind(server: &Arc<ServerState>) -> std::io::Result<Option<TcpListener>> {
    let snap = server.snapshot();
    let Some(w) = snap.opts.websocket.as_ref().filter(|w| w.enabled()) else { return Ok(None) };
    let port = w.port.bind_port();
    let listener = crate::server::bind::tcp_listener(&w.host, port)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("Unable to listen for websocket connections: {e}")))?;
    let addr = listener.local_addr()?;
    server.set_ws_addr(addr);
    let scheme = if w.tls.is_some() { "wss" } else { "ws" };
    tracing::info!("Listening for websocket clients on {scheme}://{}:{}", w.host, addr.port());
    if w.tls.is_none() {
        tracing::warn!("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
    }
    server.files().set_websocket(scheme, addr);
    Ok(Some(listener))
}

pub async fn accept_websockets(server: Arc<ServerState>, listener: TcpListener) {
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        tokio::select! {
            _ = server.stopped_accepting() => break,
            r = listener.accept() => match r {
                Ok((stream, addr)) => {
                    backoff = ACCEPT_BACKOFF_MIN;
                    let _ = stream.set_nodelay(true);
                    let addr = crate::server::bind::canonical(addr);
                    server.spawn(connection(server.clone(), stream, addr));
                }
                Err(e) => {
                    error!("Temporary Websocket Accept Error ({e}), sleeping {}ms", backoff.as_millis());
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                }
            }
        }
    }
    debug!("Websocket accept loop exiting..");
}

/// One accepted connection: TLS, then the upgrade, then the session.
async fn connection(server: Arc<ServerState>, stream: TcpStream, addr: SocketAddr) {
    let snap = server.snapshot();
    let Some(ws) = snap.websocket.clone() else { return };
    let deadline = tokio::time::Instant::now() + ws.settings.handshake_timeout;
    match ws.tls.clone() {
        None => {
            let upgraded = tokio::select! {
                r = tokio::time::timeout_at(deadline, upgrade(stream, addr, &ws.settings, false)) => r.ok().flatten(),
                _ = server.shutting_down() => None,
            };
            if let Some((stream, meta)) = upgraded {
                let max_payload = snap.opts.max_payload;
                drop(snap);
                start(server, stream, addr, meta, max_payload, None).await;
            }
        }
        Some(tls) => {
            let accepted = tokio::select! {
                r = tokio::time::timeout_at(deadline, crate::tls::accept(stream, &tls, &[])) => r,
                _ = server.shutting_down() => return,
            };
            let accepted = match accepted {
                Ok(Ok(a)) => a,
                Ok(Err(e)) => {
                    error!("websocket: http: TLS handshake error from {addr}: {}", e.go_text(None, None));
                    return;
                }
                Err(_) => {
                    debug!("websocket: http: TLS handshake error from {addr}: i/o timeout");
                    return;
                }
            };
            let stream = Box::new(accepted.stream);
            let upgraded = tokio::select! {
                r = tokio::time::timeout_at(deadline, upgrade(stream, addr, &ws.settings, true)) => r.ok().flatten(),
                _ = server.shutting_down() => None,
            };
            if let Some((stream, meta)) = upgraded {
                let max_payload = snap.opts.max_payload;
                drop(snap);
                start(server, stream, addr, meta, max_payload, Some(accepted.negotiated)).await;
            }
        }
    }
}

async fn start<S: Transport>(
    server: Arc<ServerState>,
    stream: S,
    addr: SocketAddr,
    meta: WsMeta,
    max_payload: usize,
    tls: Option<crate::tls::Negotiated>,
) {
    let stream = WsStream::new(stream, &meta, max_payload);
    session::serve_websocket_client(server, stream, addr, meta, tls).await;
}

/// Reads requests until one upgrades (or the client goes, or a request
/// cannot be parsed). Returns the stream, `101` written.
async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    addr: SocketAddr,
    settings: &super::settings::WsSettings,
    tls: bool,
) -> Option<(S, WsMeta)> {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    loop {
        // Read until a whole request head is in.
        let (used, verdict) = loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            match handshake::parse(&buf, &mut headers) {
                Parsed::Complete { len, request } => {
                    if request.version == Some(1)
                        && !request.headers.iter().any(|h| h.name.eq_ignore_ascii_case("Host"))
                    {
                        let _ = stream.write_all(&handshake::malformed(true)).await;
                        return None;
                    }
                    break (len, handshake::answer(&request, settings, tls));
                }
                Parsed::Malformed => {
                    let _ = stream.write_all(&handshake::malformed(false)).await;
                    return None;
                }
                Parsed::Incomplete => {}
            }
            if buf.len() >= handshake::MAX_REQUEST {
                let _ = stream.write_all(&handshake::malformed(false)).await;
                return None;
            }
            if buf.capacity() == buf.len() {
                buf.reserve(buf.len());
            }
            match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        };
        match verdict {
            Verdict::Refuse { response, reason, close } => {
                error!("{addr} - websocket handshake error: {reason}");
                if stream.write_all(&response).await.is_err() || close {
                    let _ = stream.shutdown().await;
                    return None;
                }
                buf.drain(..used);
            }
            Verdict::Upgrade { response, meta, kind } => {
                if buf.len() > used {
                    // The reference refuses a client that did not wait for the answer.
                    error!("{addr} - websocket handshake error: client sent data before handshake is complete");
                    return None;
                }
                if stream.write_all(&response).await.is_err() {
                    return None;
                }
                if kind == Kind::Leaf {
                    error!("Not configured to accept leaf node connections");
                    return None;
                }
                return Some((stream, meta));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Websocket;

    async fn talk(requests: &[u8], settings: &super::super::settings::WsSettings) -> (Vec<u8>, bool) {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        client.write_all(requests).await.unwrap();
        let settings = settings.clone();
        let task = tokio::spawn(async move { upgrade(server, addr, &settings, false).await.map(|(_, m)| m) });
        let upgraded = task.await.unwrap().is_some();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_millis(200), client.read_to_end(&mut out)).await;
        (out, upgraded)
    }

    fn settings() -> super::super::settings::WsSettings {
        super::super::settings::WsSettings::new(&Websocket { no_tls: true, ..Websocket::default() })
    }

    const UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

    #[tokio::test]
    async fn a_refused_request_keeps_the_connection_for_the_next() {
        let mut both = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n".to_vec();
        both.extend_from_slice(UPGRADE);
        let (out, upgraded) = talk(&both, &settings()).await;
        let text = String::from_utf8_lossy(&out);
        assert!(upgraded, "{text}");
        assert!(text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), "{text}");
        assert!(text.contains("HTTP/1.1 101 Switching Protocols\r\n"), "{text}");
    }

    #[tokio::test]
    async fn garbage_and_missing_hosts_get_gos_own_answer() {
        let (out, upgraded) = talk(b"garbage\r\n\r\n", &settings()).await;
        assert!(!upgraded);
        assert_eq!(out, handshake::malformed(false));
        let (out, _) = talk(b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", &settings()).await;
        assert_eq!(out, handshake::malformed(true));
        // HTTP/1.0 has no Host requirement: the handler refuses, and closes.
        let (out, upgraded) = talk(b"GET / HTTP/1.0\r\n\r\n", &settings()).await;
        assert!(!upgraded);
        assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.0 400 Bad Request\r\n"));
    }

    #[tokio::test]
    async fn data_before_the_answer_is_refused() {
        let mut early = UPGRADE.to_vec();
        early.extend_from_slice(&[0x82, 0x80, 0, 0, 0, 0]);
        let (out, upgraded) = talk(&early, &settings()).await;
        assert!(!upgraded && out.is_empty());
    }
}
