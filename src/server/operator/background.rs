//! What operator mode runs beside the sessions, started once the server
//! listens: a directory resolver's lookups in the cluster and the sweep of
//! its expired files.

use std::sync::Arc;

use super::cluster_fetch::ClusterFetch;
use crate::server::state::ServerState;

/// Starts what operator mode runs beside the sessions: a directory
/// resolver's lookups in the cluster (over the system account) and the
/// sweep of its expired files (nats-server's expiration tracker, every
/// half `ttl` or minute). Logs which directory it manages, as nats-server.
pub fn start(server: &Arc<ServerState>) {
    let Some(op) = server.operator().cloned() else { return };
    let Some(store) = op.resolver.store() else { return };
    if let Some(account) = server.accounts().system() {
        if let Some(fetch) = ClusterFetch::start(server, account) {
            let _ = op.cluster.set(fetch);
        }
    }
    let which = if op.resolver.is_full() { "all" } else { "some" };
    tracing::info!("Managing {which} jwt in exclusive directory {}", store.dir().display());
    let every = store.sweep_interval();
    let state = server.clone();
    server.spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = state.shutting_down() => return,
                _ = tick.tick() => {}
            }
            let op = op.clone();
            let now = tokio::time::Instant::now();
            let swept = tokio::task::spawn_blocking(move || op.resolver.store().map(|s| s.sweep(now)));
            for key in swept.await.ok().flatten().unwrap_or_default() {
                tracing::debug!("DirResolver - Account {key:?} expired");
            }
        }
    });
}
