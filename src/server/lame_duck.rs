//! Lame duck mode (SIGUSR2, `--signal ldm`): leave gracefully so that clients
//! move to other servers of the cluster without a stampede.
//!
//! As nats-server does it: stop accepting clients, tell every client (an
//! INFO with `"ldm":true`, on which the official clients raise their lame
//! duck event and prepare to reconnect elsewhere), wait the grace period,
//! then close the clients one by one spread over the rest of the lame duck
//! duration (at most a second apart), and finally shut down.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tracing::info;

use super::errors::CloseReason;
use super::state::ServerState;

/// Enters lame duck mode (once): stop accepting, wake every session so
/// that it tells its client, and tell the routes. Returns false if it
/// already was, or the server is stopping.
pub fn begin(state: &ServerState) -> bool {
    if !state.enter_lame_duck() {
        return false;
    }
    super::route::announce_lame_duck(state);
    state.system_event(super::system::link::SystemEvent::LameDuck);
    true
}

/// Runs lame duck mode to its end: when this returns, the caller shuts the
/// server down. Returns at once if lame duck mode already runs or the server
/// is stopping (then there is nothing more to do).
pub async fn run(state: Arc<ServerState>) -> bool {
    if state.is_shutting_down() || state.in_lame_duck() {
        return false;
    }
    info!("Entering lame duck mode, stop accepting new clients");
    begin(&state);
    let opts = state.snapshot().opts.clone();
    let clients = state.connections();
    if clients.is_empty() {
        return true;
    }
    // The sessions announce lame duck mode to their clients as they wake
    // (`begin` woke them); the grace period lets a whole cluster
    // enter lame duck mode before any client has to move.
    let grace = opts.lame_duck_grace_period;
    tokio::select! {
        _ = tokio::time::sleep(grace) => info!("Closing existing clients"),
        _ = state.shutting_down() => return true,
    }
    let spread = opts.lame_duck_duration.saturating_sub(grace).max(Duration::from_secs(1));
    let (interval, batch) = spacing(spread, clients.len());
    for (i, conn) in clients.iter().enumerate() {
        conn.close(CloseReason::ServerShutdown);
        if i + 1 == clients.len() || i % batch != 0 {
            continue;
        }
        // A random pause of at least half the interval, as the reference
        // does, so reconnections do not arrive in lockstep.
        let pause = {
            let nanos = interval.as_nanos().max(1) as u64;
            Duration::from_nanos(rand::rng().random_range(nanos / 2..=nanos))
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = state.shutting_down() => return true,
        }
    }
    true
}

/// The pause between two closes, and how many clients to close per pause,
/// to spread `n` closes over `spread`: at most one second apart; with more
/// clients than nanoseconds, in batches.
fn spacing(spread: Duration, n: usize) -> (Duration, usize) {
    let per_client = spread.as_nanos() / n.max(1) as u128;
    if per_client < 1 {
        let batch = (n as u128 / spread.as_nanos().max(1)).max(1) as usize;
        return (Duration::from_nanos(1), batch);
    }
    (Duration::from_nanos(per_client.min(1_000_000_000) as u64), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_caps_at_a_second() {
        assert_eq!(spacing(Duration::from_secs(110), 10), (Duration::from_secs(1), 1));
        assert_eq!(spacing(Duration::from_secs(10), 100), (Duration::from_millis(100), 1));
        assert_eq!(spacing(Duration::from_nanos(10), 100), (Duration::from_nanos(1), 10));
    }
}
