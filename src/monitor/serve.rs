//! The monitoring listener: accepts connections (completing the TLS
//! handshake on the HTTPS port), serves HTTP/1.1 with keep-alive through
//! hyper, and on shutdown stops accepting and lets requests in flight
//! finish. Like nats-server: headers must arrive within 5 seconds, and
//! there is no write timeout (a large `/connz` may take its time).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, error};

use super::Monitor;

/// nats-server's `ReadHeaderTimeout`.
const READ_HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on an HTTPS client's handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(2);
/// Back-off bounds after a failed accept.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

pub async fn serve(monitor: Arc<Monitor>, listener: TcpListener, tls: Option<Arc<ServerConfig>>) {
    let graceful = GracefulShutdown::new();
    let tracker = monitor.server.tracker().clone();
    let tls = tls.map(TlsAcceptor::from);
    let mut backoff = BACKOFF_MIN;
    loop {
        let stream = tokio::select! {
            _ = monitor.server.shutting_down() => break,
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    error!("monitoring: accept error ({e}), sleeping {}ms", backoff.as_millis());
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            }
        };
        backoff = BACKOFF_MIN;
        let _ = stream.set_nodelay(true);
        let watcher = graceful.watcher();
        let monitor = monitor.clone();
        let tls = tls.clone();
        tracker.spawn(async move {
            match tls {
                None => serve_connection(monitor, TokioIo::new(stream), watcher).await,
                Some(acceptor) => match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => serve_connection(monitor, TokioIo::new(tls), watcher).await,
                    Ok(Err(e)) => debug!("monitoring: TLS handshake failed: {e}"),
                    Err(_) => debug!("monitoring: TLS handshake timed out"),
                },
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}

async fn serve_connection<S>(monitor: Arc<Monitor>, io: TokioIo<S>, watcher: hyper_util::server::graceful::Watcher)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let monitor = monitor.clone();
        async move { Ok::<_, Infallible>(monitor.handle(req).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(READ_HEADER_TIMEOUT)
        // Header names as Go writes them (`Content-Type`), for byte-level diffs.
        .title_case_headers(true)
        .serve_connection(io, service);
    if let Err(e) = watcher.watch(conn).await {
        debug!("monitoring: connection ended: {e}");
    }
}
