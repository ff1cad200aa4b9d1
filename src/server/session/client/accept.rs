//! A client's accept and handshake: the connection registered (or refused
//! at `max_connections`), INFO in clear text, then TLS when the client
//! port has it (or TLS first, or a websocket client whose TLS and upgrade
//! the websocket listener did); then the session runs with the client role.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio_util::either::Either;
use tracing::{debug, error};

use super::ClientState;
use crate::server::conn::{ConnKind, Connection, TlsInfo};
use crate::server::errors::*;
use crate::server::session::lifecycle::{run_session, Session};
use crate::server::session::retire::Retirement;
use crate::server::session::Transport;
use crate::server::state::ServerState;

/// Serves one accepted client connection until it closes.
pub async fn serve_client<S: Transport>(server: Arc<ServerState>, stream: S, addr: SocketAddr) {
    serve(server, stream, addr, None).await
}

/// Serves a client that came in over the websocket listener (TLS and the
/// upgrade done): the same session, with the websocket block's INFO,
/// credentials and timers.
pub async fn serve_websocket_client<S: Transport>(
    server: Arc<ServerState>,
    stream: S,
    addr: SocketAddr,
    meta: crate::websocket::WsMeta,
    tls: Option<crate::tls::Negotiated>,
) {
    serve(server, stream, addr, Some(Box::new((meta, tls)))).await
}

/// What the handshake leads to: a plain session, run inline, or a TLS or
/// websocket one, boxed. Returned once per connection and moved straight
/// into the session, so the size of its plain variant costs nothing.
#[allow(clippy::large_enum_variant)]
enum Next<S> {
    Plain(Session<ClientState>, S),
    Boxed(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>),
}

/// The plain-TCP session runs inline; TLS, websocket and their handshakes
/// are boxed, so a plain connection's task is not sized for a TLS stream's
/// state it never has (every idle connection holds its task for life).
async fn serve<S: Transport>(
    server: Arc<ServerState>,
    stream: S,
    addr: SocketAddr,
    // Boxed: this argument stays in the future for the session's life.
    websocket: Option<Box<(crate::websocket::WsMeta, Option<crate::tls::Negotiated>)>>,
) {
    // The handshake is its own future, over before the session starts: its
    // locals (the snapshot, the INFO closure, the nonce...) then share the
    // task's memory with the session's instead of adding to it (760 bytes
    // of every idle connection's task when the session ran inside it).
    // Scoped, so the handshake's result (the session before it runs) is
    // not kept beside the running session.
    let run = {
        let Some(next) = handshake(server, stream, addr, websocket).await else { return };
        match next {
            Next::Plain(session, stream) => Either::Left(run_session(session, stream, Vec::new())),
            Next::Boxed(session) => Either::Right(session),
        }
    };
    run.await
}

/// Registers the connection and sends INFO (and does TLS); returns the
/// session to run, or `None` when the connection was refused or failed.
async fn handshake<S: Transport>(
    server: Arc<ServerState>,
    mut stream: S,
    addr: SocketAddr,
    websocket: Option<Box<(crate::websocket::WsMeta, Option<crate::tls::Negotiated>)>>,
) -> Option<Next<S>> {
    let snap = server.snapshot();
    let cid = server.next_cid();
    let mut conn = Connection::new(cid, ConnKind::Client, addr, server.global().clone(), server.stats().clone());
    if let Some(ws) = &websocket {
        conn = conn.into_websocket(ws.0.client_ip);
    }
    let conn = Arc::new(conn);
    stream.bind(&conn);
    let nonce = snap.auth_for(conn.websocket).needs_nonce().then(crate::server::auth::new_nonce);
    server.stats().total_connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let admitted = server.register(&conn, snap.opts.max_connections);
    // From here on, however this session ends (a panic included), the
    // connection is retired once, when this guard is dropped.
    let retirement = Retirement::client(server.clone(), conn.clone());
    let info = |tls_required: bool| {
        let mut info = server.client_connect_info(&snap, &conn, nonce.as_deref());
        if !conn.websocket {
            info.tls_required = tls_required;
        }
        info.to_line()
    };
    let deadline = snap.opts.write_deadline;
    if !admitted {
        // The reference's answer: INFO (in clear), then the error, then close.
        error!("{} - {}", conn.log_prefix, ERR_MAX_CONNECTIONS);
        conn.close_now(CloseReason::MaxConnectionsExceeded);
        let _ = tokio::time::timeout(deadline, stream.write_all(&info(false))).await;
        let _ = tokio::time::timeout(deadline, stream.write_all(&err_line(ERR_MAX_CONNECTIONS))).await;
        let _ = tokio::time::timeout(deadline, stream.shutdown()).await;
        return None;
    }
    if let Some(ws) = websocket {
        let (meta, tls) = *ws;
        // TLS, if any, was done by the websocket listener.
        if let Some(negotiated) = &tls {
            let tls_info = TlsInfo {
                version: negotiated.version.clone(),
                cipher_suite: negotiated.cipher_suite.clone(),
                tls_first: false,
            };
            conn.meta.lock().unwrap_or_else(|e| e.into_inner()).tls = Some(tls_info);
        }
        let sent = tokio::time::timeout(deadline, async {
            stream.write_all(&info(false)).await?;
            stream.flush().await
        });
        if !matches!(sent.await, Ok(Ok(()))) {
            conn.close_now(CloseReason::WriteError);
            return None;
        }
        let mut client = ClientState::new(nonce, tls, server.global().clone());
        client.set_cookies(meta.cookies);
        let session = Session { server: server.clone(), conn, snap: snap.clone(), role: client, retirement };
        return Some(Next::Boxed(Box::pin(run_session(session, stream, Vec::new()))));
    }
    let Some(tls) = snap.tls.clone() else {
        // INFO goes out in clear text before anything else.
        if !matches!(tokio::time::timeout(deadline, stream.write_all(&info(false))).await, Ok(Ok(()))) {
            conn.close_now(CloseReason::WriteError);
            return None;
        }
        let client = ClientState::new(nonce, None, server.global().clone());
        let session = Session { server: server.clone(), conn, snap: snap.clone(), role: client, retirement };
        return Some(Next::Plain(session, stream));
    };
    // TLS: INFO in clear text and then the handshake (or the handshake first),
    // bounded by the tls timeout; the stream is split only afterwards.
    let peer = crate::tls::Peer { log_prefix: &conn.log_prefix, local: None, remote: Some(addr) };
    let established = Box::pin(crate::tls::establish(stream, &tls, snap.opts.allow_non_tls, info, &peer)).await;
    match established {
        Ok(crate::tls::Established::Tls { stream, negotiated, tls_first }) => {
            let tls_info = TlsInfo {
                version: negotiated.version.clone(),
                cipher_suite: negotiated.cipher_suite.clone(),
                tls_first,
            };
            conn.meta.lock().unwrap_or_else(|e| e.into_inner()).tls = Some(tls_info);
            let client = ClientState::new(nonce, Some(negotiated), server.global().clone());
            let session = Session { server: server.clone(), conn, snap: snap.clone(), role: client, retirement };
            Some(Next::Boxed(Box::pin(run_session(session, stream, Vec::new()))))
        }
        Ok(crate::tls::Established::Plain { stream, pending }) => {
            let client = ClientState::new(nonce, None, server.global().clone());
            let session = Session { server: server.clone(), conn, snap: snap.clone(), role: client, retirement };
            Some(Next::Boxed(Box::pin(run_session(session, stream, pending))))
        }
        Err(e) => {
            let reason = match e {
                crate::tls::EstablishError::Handshake(_) => CloseReason::TlsHandshakeError,
                crate::tls::EstablishError::Write(_) => CloseReason::WriteError,
            };
            conn.close_now(reason);
            drop(retirement);
            debug!("{} - Client connection closed: {}", conn.log_prefix, reason.as_str());
            None
        }
    }
}
