//! The start of a client connection on a TLS listener, as nats-server's
//! `createClientEx` orders it: INFO in clear text then the handshake, or TLS
//! first (optionally falling back to INFO for clients that wait for it), or
//! with `allow_non_tls` TLS only for clients whose first byte opens a TLS
//! record. Logs nats-server's lines (`Starting TLS client connection
//! handshake`, `TLS handshake complete`, `TLS version 1.3, cipher suite …`,
//! `TLS handshake error: …`, `TLS handshake timeout`) with the connection's
//! prefix.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_rustls::server::TlsStream;
use tracing::{debug, error};

use super::accept::{accept, looks_like_tls, read_first_bytes, HandshakeError};
use super::config::ServerTls;
use super::negotiated::Negotiated;

/// How many bytes nats-server reads to detect a TLS-first client, and to
/// sniff TLS from plain text with `allow_non_tls`.
const TLS_FIRST_PROBE: usize = 4;
const NON_TLS_SNIFF: usize = 6;

/// Who is connecting, for log lines and Go's I/O error texts.
#[derive(Debug, Clone)]
pub struct Peer<'a> {
    /// nats-server's connection prefix, e.g. `127.0.0.1:51234 - cid:5`.
    pub log_prefix: &'a str,
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
}

/// A connection ready for the NATS protocol.
pub enum Established<S> {
    /// TLS is up; INFO has been sent (in clear before the handshake, or
    /// through TLS after it when `tls_first`). Boxed: a TLS session is
    /// large, and this value moves into the connection task.
    Tls { stream: Box<TlsStream<S>>, negotiated: Negotiated, tls_first: bool },
    /// `allow_non_tls` and the client speaks plain text: INFO has been sent;
    /// `pending` are bytes already read from the client, to be parsed first.
    Plain { stream: S, pending: Vec<u8> },
}

impl<S> std::fmt::Debug for Established<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Established::Tls { negotiated, tls_first, .. } => {
                f.debug_struct("Tls").field("negotiated", negotiated).field("tls_first", tls_first).finish()
            }
            Established::Plain { pending, .. } => f.debug_struct("Plain").field("pending", pending).finish(),
        }
    }
}

/// Why the connection ends before the protocol starts. Already logged.
#[derive(Debug)]
pub enum EstablishError {
    /// The handshake failed; close reason `TLS Handshake Failure`.
    Handshake(HandshakeError),
    /// INFO could not be written; close reason `Write Error`.
    Write(io::Error),
}

/// Runs the connection's TLS start-up. `info(tls_required)` renders the INFO
/// line (with its trailing ` \r\n`) with the given `tls_required` value: it
/// is `true` for TLS-first clients and `!allow_non_tls` otherwise, as in
/// nats-server.
pub async fn establish<S, F>(
    mut stream: S,
    tls: &ServerTls,
    allow_non_tls: bool,
    info: F,
    peer: &Peer<'_>,
) -> Result<Established<S>, EstablishError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn(bool) -> Vec<u8>,
{
    let prefix = peer.log_prefix;
    let mut tls_first = tls.handshake_first;
    let mut pre = Vec::new();
    if !tls_first {
        write_info(&mut stream, &info(!allow_non_tls)).await?;
    } else if let Some(delay) = tls.handshake_first_fallback {
        // A TLS-first client sends its hello at once; a client that waits
        // for INFO sends nothing, and gets INFO after the delay.
        pre = read_first_bytes(&mut stream, TLS_FIRST_PROBE, delay).await.map_err(EstablishError::Write)?;
        if pre.is_empty() {
            write_info(&mut stream, &info(!allow_non_tls)).await?;
            tls_first = false;
        }
    }
    let mut tls_required = true;
    if !tls_first && allow_non_tls {
        pre = read_first_bytes(&mut stream, NON_TLS_SNIFF, tls.timeout).await.map_err(EstablishError::Write)?;
        tls_required = looks_like_tls(&pre);
    }
    if !tls_required {
        return Ok(Established::Plain { stream, pending: pre });
    }

    debug!("{prefix} - Starting TLS client connection handshake");
    let mut accepted = match accept(stream, tls, &pre).await {
        Ok(a) => a,
        Err(e) => {
            log_failure(&e, peer);
            return Err(EstablishError::Handshake(e));
        }
    };
    if tls_first {
        write_info(&mut accepted.stream, &info(true)).await?;
    }
    debug!("{prefix} - TLS handshake complete");
    debug!("{prefix} - {}", accepted.negotiated.log_line());
    Ok(Established::Tls { stream: Box::new(accepted.stream), negotiated: accepted.negotiated, tls_first })
}

async fn write_info<W: AsyncWrite + Unpin>(w: &mut W, info: &[u8]) -> Result<(), EstablishError> {
    w.write_all(info).await.map_err(EstablishError::Write)?;
    w.flush().await.map_err(EstablishError::Write)
}

/// nats-server's lines for a failed handshake: probes (timeouts, plain
/// text) at debug level, everything else as an error.
fn log_failure(e: &HandshakeError, peer: &Peer<'_>) {
    let prefix = peer.log_prefix;
    if let HandshakeError::NotPinned(why) = e {
        debug!("{prefix} - {}", why.debug_line());
    }
    let text = e.go_text(peer.local, peer.remote);
    if e.is_probe() {
        debug!("{prefix} - TLS handshake error: {text}");
    } else {
        error!("{prefix} - TLS handshake error: {text}");
    }
    if matches!(e, HandshakeError::Timeout) {
        debug!("{prefix} - TLS handshake timeout");
    }
}
