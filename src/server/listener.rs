//! The client listener: accepts connections and starts a session for each.
//! The connection cap (`max_connections`) is enforced by the session, which
//! must first send INFO and then the reference's `-ERR`.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tracing::{debug, error};

use super::session;
use super::state::ServerState;

/// Back-off bounds after a failed accept (out of file descriptors and the like).
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

pub async fn accept_clients(server: Arc<ServerState>, listener: TcpListener) {
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        tokio::select! {
            _ = server.stopped_accepting() => break,
            r = listener.accept() => match r {
                Ok((stream, addr)) => {
                    backoff = ACCEPT_BACKOFF_MIN;
                    let _ = stream.set_nodelay(true);
                    let addr = super::bind::canonical(addr);
                    server.spawn(session::serve_client(server.clone(), stream, addr));
                }
                Err(e) => {
                    // Keep serving the connections we have; try again shortly.
                    error!("Temporary Client Accept Error ({e}), sleeping {}ms", backoff.as_millis());
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                }
            }
        }
    }
    debug!("Client accept loop exiting..");
}
