//! The end of a session, whatever its role: a guard made as soon as the
//! connection is known to the server, dropped however the session ends (its
//! normal close, an early return, or a panic unwinding its task). Dropping
//! it takes the connection out of every list and index it is in: the client
//! registry (its counters join the totals of closed connections and it is
//! recorded for `/connz?state=closed`), its subscriptions, and for a route
//! the cluster's registry and the interest sent to it. So a panic in one
//! session closes that one connection and leaves the server as if the peer
//! had disconnected, with an error naming the connection.
//!
//! The guard is dropped after the session's [`Core`](super::core::Core) (declared before
//! it), whose fan-out wakes the subscribers it queued messages for, so no
//! message of a half-finished read chunk waits for a wakeup that never comes.

use std::sync::Arc;

use tracing::{debug, error};

use crate::server::account::GLOBAL_ACCOUNT;
use crate::server::conn::Connection;
use crate::server::errors::CloseReason;
use crate::server::route::link::RouteLink;
use crate::server::state::ServerState;

/// What else a retired connection is unlisted from, by role.
enum Role {
    Client,
    Route(Arc<RouteLink>),
}

/// Retires its connection when dropped. See the module docs.
pub(crate) struct Retirement {
    server: Arc<ServerState>,
    conn: Arc<Connection>,
    role: Role,
}

impl Retirement {
    /// For a client connection, made right after it was registered (or
    /// refused at the limit: a refused one is recorded as closed too).
    pub fn client(server: Arc<ServerState>, conn: Arc<Connection>) -> Retirement {
        Retirement { server, conn, role: Role::Client }
    }

    /// For a route, made right after the cluster started tracking it.
    pub fn route(server: Arc<ServerState>, link: Arc<RouteLink>) -> Retirement {
        Retirement { server, conn: link.conn.clone(), role: Role::Route(link) }
    }
}

impl Drop for Retirement {
    fn drop(&mut self) {
        let conn = &self.conn;
        if std::thread::panicking() {
            error!("{} - Internal error: the session failed; closing this connection only", conn.log_prefix);
            conn.close_now(CloseReason::InternalError);
        } else if !conn.is_closing() {
            // Every normal path sets its reason first; this is the backstop.
            conn.close(CloseReason::ClientClosed);
        }
        match &self.role {
            Role::Client => {
                // The subscriptions are still listed while the closed-ring
                // record is taken, as `/connz?state=closed&subs=1` shows them.
                self.server.retire(conn);
                conn.remove_all_subscriptions();
            }
            Role::Route(link) => {
                let n = conn.num_subs();
                if n > 0 {
                    debug!("{} - Removing {n} subscriptions for account \"{GLOBAL_ACCOUNT}\"", conn.log_prefix);
                }
                conn.remove_all_subscriptions();
                crate::server::route::unregister(&self.server, link);
                if std::thread::panicking() && tokio::runtime::Handle::try_current().is_ok() {
                    // The normal path redials after its writer finished; a
                    // failed session still gets its route back.
                    crate::server::route::reconnect_if_due(&self.server, link);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    use crate::logging::capture::Lines;

    use crate::monitor::Monitor;
    use crate::options::Options;
    use crate::server::session::serve_client;
    use crate::server::snapshot::Snapshot;
    use crate::server::state::ServerState;

    async fn read_until(io: &mut DuplexStream, want: &[u8]) -> Vec<u8> {
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        while !got.windows(want.len()).any(|w| w == want) {
            let n = tokio::time::timeout(std::time::Duration::from_secs(5), io.read(&mut chunk))
                .await
                .expect("in time")
                .expect("read");
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
        }
        got
    }

    /// A client with two subscriptions, one message received; its session
    /// task is returned.
    async fn client(server: &Arc<ServerState>, port: u16) -> (DuplexStream, tokio::task::JoinHandle<()>) {
        let (mut io, theirs) = tokio::io::duplex(1 << 16);
        let task = tokio::spawn(serve_client(server.clone(), theirs, SocketAddr::from(([127, 0, 0, 1], port))));
        let script = format!(
            "CONNECT {{\"verbose\":false,\"name\":\"c\"}}\r\nSUB a.{port} 1\r\nSUB b.{port} q 2\r\nPUB a.{port} 2\r\nhi\r\nPING\r\n"
        );
        io.write_all(script.as_bytes()).await.unwrap();
        let got = read_until(&mut io, b"PONG\r\n").await;
        let msg = format!("MSG a.{port} 1 2\r\n");
        assert!(got.windows(msg.len()).any(|w| w == msg.as_bytes()), "{}", String::from_utf8_lossy(&got));
        (io, task)
    }

    /// `/connz?state=closed` with the fields that differ between any two
    /// connections (ids, ports, times, reason) taken out.
    fn comparable(mut c: serde_json::Value) -> serde_json::Value {
        let subs = c["subscriptions_list"].as_array().map_or(0, |a| a.len());
        c["subscriptions_list"] = subs.into();
        for k in ["cid", "port", "start", "last_activity", "stop", "reason", "rtt", "uptime", "idle"] {
            c.as_object_mut().unwrap().remove(k);
        }
        c
    }

    async fn json(monitor: &Monitor, path: &str, query: &str) -> serde_json::Value {
        let reply = monitor.answer(path, Some(query), None).await;
        serde_json::from_slice(&reply.body).unwrap()
    }

    /// A panic in one session (injected with the test-only subject below)
    /// closes that connection only, logs an error with its id, and leaves
    /// the registry, the subscription index, `/connz` and `/varz` exactly
    /// as a client that disconnected leaves them.
    #[tokio::test]
    async fn a_panicking_session_is_retired_like_a_disconnected_client() {
        let (lines, _log) = Lines::capture();
        // No system account: its imports would be entries in `$G`.
        let opts = Options { no_system_account: true, ..Options::default() };
        let snap = Snapshot::compile(opts, 1, None).unwrap();
        let server = ServerState::new(snap, "NTEST".into(), "test".into());
        let monitor = Monitor::new(server.clone(), None);

        let (mut panics, panic_task) = client(&server, 40001).await;
        let (leaves, leave_task) = client(&server, 40002).await;
        let (mut stays, _stay_task) = client(&server, 40003).await;
        assert_eq!(server.num_clients(), 3);
        assert_eq!(server.global().sublist.count(), 6);

        panics.write_all(super::super::client::INJECTED_PANIC).await.unwrap();
        assert!(panic_task.await.expect_err("the session panicked").is_panic());
        drop(leaves);
        leave_task.await.unwrap();
        // The peer of the failed session sees its connection closed.
        let rest = read_until(&mut panics, b"\0never").await;
        assert!(!rest.windows(3).any(|w| w == b"MSG"), "{}", String::from_utf8_lossy(&rest));

        // The third client is untouched, and messages still flow to it.
        stays.write_all(b"PUB a.40003 3\r\nwho\r\nPING\r\n").await.unwrap();
        let got = read_until(&mut stays, b"PONG\r\n").await;
        assert!(got.windows(16).any(|w| w == b"MSG a.40003 1 3\r"), "{}", String::from_utf8_lossy(&got));

        assert_eq!(server.num_clients(), 1, "both are out of the registry");
        assert_eq!(server.global().sublist.count(), 2, "both left their subscriptions behind in the index");
        let closed = json(&monitor, "/connz", "state=closed&subs=1").await;
        let closed = closed["connections"].as_array().unwrap().clone();
        assert_eq!(closed.len(), 2, "{closed:?}");
        let (failed, left) = (&closed[0], &closed[1]);
        assert_eq!(failed["port"], 40001);
        assert_eq!(failed["reason"], "Internal Error");
        assert_eq!(left["reason"], "Client Closed");
        assert_eq!(comparable(failed.clone()), comparable(left.clone()), "the same record otherwise");
        let varz = json(&monitor, "/varz", "").await;
        assert_eq!(varz["connections"], 1);
        assert_eq!(varz["total_connections"], 3);
        assert_eq!(varz["subscriptions"], 2);
        let open = json(&monitor, "/connz", "").await;
        assert_eq!(open["num_connections"], 1);

        let log = lines.text();
        assert!(
            log.contains(
                "ERROR 127.0.0.1:40001 - cid:5 - Internal error: the session failed; closing this connection only"
            ),
            "{log}"
        );
        assert!(!log.contains("cid:6 - Internal error") && !log.contains("cid:7 - Internal error"), "{log}");
    }
}
