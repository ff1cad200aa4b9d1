//! How much a route peer can make this server hold. Everything a remote
//! server sends that lands in a map or a task list is bounded here, so a
//! broken or hostile peer (or anyone reaching the route port) cannot grow
//! the server without limit. nats-server bounds none of these.
//!
//! Each bound is far above what a real cluster needs; unit tests build with
//! small ones (`cfg(test)`), so the same code is exercised at the edge.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Route connections at once, registered or not (accepted sockets that
/// have not sent INFO yet count): a cluster is a few dozen servers.
pub const MAX_ROUTE_CONNECTIONS: usize = if cfg!(test) { 4 } else { 1024 };

/// Servers being dialed at once because a peer told of them (gossip).
pub const MAX_GOSSIP_DIALS: usize = if cfg!(test) { 2 } else { 256 };

/// Remote interest (`RS+` entries) one route may hold. A peer's interest
/// is its clients' subscriptions; past this the route is closed rather
/// than let interest be dropped silently.
pub const MAX_ROUTE_SUBSCRIPTIONS: usize = if cfg!(test) { 16 } else { 1 << 22 };

/// Client URLs kept from one peer's INFO (a server has a handful).
pub const MAX_PEER_CONNECT_URLS: usize = if cfg!(test) { 4 } else { 128 };

/// A place among the gossip dials in flight; freed when dropped (the dial
/// task ended, connected or not).
pub struct DialSlot(Arc<AtomicUsize>);

impl DialSlot {
    /// A slot, unless [`MAX_GOSSIP_DIALS`] are taken.
    pub fn take(in_flight: &Arc<AtomicUsize>) -> Option<DialSlot> {
        let taken =
            in_flight.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < MAX_GOSSIP_DIALS).then_some(n + 1));
        taken.is_ok().then(|| DialSlot(in_flight.clone()))
    }
}

impl Drop for DialSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_slots_are_bounded_and_freed() {
        let n = Arc::new(AtomicUsize::new(0));
        let slots: Vec<DialSlot> = (0..MAX_GOSSIP_DIALS).map(|_| DialSlot::take(&n).expect("a slot")).collect();
        assert!(DialSlot::take(&n).is_none());
        drop(slots);
        assert_eq!(n.load(Ordering::Acquire), 0);
        assert!(DialSlot::take(&n).is_some());
    }

    /// A route session over an in-memory stream, as a peer dialed it:
    /// registered by the peer's CONNECT and INFO, answered with a PONG.
    mod session {
        use std::net::SocketAddr;
        use std::sync::Arc;

        use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

        use super::super::*;
        use crate::logging::capture::Lines;
        use crate::options::{Cluster, Options};
        use crate::server::session::route::serve_accepted_stream;
        use crate::server::snapshot::Snapshot;
        use crate::server::state::ServerState;

        fn server() -> Arc<ServerState> {
            let cluster = Cluster { name: Some("c".into()), ..Cluster::default() };
            // No system account: its imports would be entries in `$G`.
            let opts = Options { cluster: Some(cluster), no_system_account: true, ..Options::default() };
            ServerState::new(Snapshot::compile(opts, 1, None).unwrap(), "NHERE".into(), "here".into())
        }

        async fn until(io: &mut DuplexStream, want: &[u8]) -> (Vec<u8>, bool) {
            let mut got = Vec::new();
            let mut chunk = [0u8; 4096];
            while !got.windows(want.len()).any(|w| w == want) {
                let n = tokio::time::timeout(std::time::Duration::from_secs(5), io.read(&mut chunk))
                    .await
                    .expect("in time")
                    .unwrap_or(0);
                if n == 0 {
                    return (got, true);
                }
                got.extend_from_slice(&chunk[..n]);
            }
            (got, false)
        }

        /// A registered route from a peer whose INFO lists `urls` client URLs.
        async fn peer(
            server: &Arc<ServerState>,
            port: u16,
            urls: usize,
        ) -> (DuplexStream, tokio::task::JoinHandle<()>) {
            let (mut io, theirs) = tokio::io::duplex(1 << 16);
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let task = tokio::spawn(serve_accepted_stream(server.clone(), theirs, addr));
            let urls: Vec<String> = (0..urls).map(|i| format!("\"127.0.0.1:{}\"", 5000 + i)).collect();
            let script = format!(
                "CONNECT {{\"echo\":true,\"verbose\":false,\"pedantic\":false,\"headers\":true,\"name\":\"NP{port}\",\"cluster\":\"c\"}}\r\n\
                 INFO {{\"server_id\":\"NP{port}\",\"name\":\"p{port}\",\"cluster\":\"c\",\"host\":\"127.0.0.1\",\"port\":{port},\"headers\":true,\"connect_urls\":[{}]}}\r\nPING\r\n",
                urls.join(",")
            );
            io.write_all(script.as_bytes()).await.unwrap();
            let (got, eof) = until(&mut io, b"PONG\r\n").await;
            assert!(!eof, "{}", String::from_utf8_lossy(&got));
            (io, task)
        }

        #[tokio::test]
        async fn a_route_holds_a_bounded_interest_then_is_closed() {
            let (lines, _log) = Lines::capture();
            let s = server();
            let (mut io, task) = peer(&s, 7001, 0).await;
            let mut subs = String::new();
            for i in 0..MAX_ROUTE_SUBSCRIPTIONS {
                subs += &format!("RS+ $G s.{i}\r\n");
            }
            io.write_all(format!("{subs}PING\r\n").as_bytes()).await.unwrap();
            assert!(!until(&mut io, b"PONG\r\n").await.1);
            assert_eq!(s.global().sublist.count(), MAX_ROUTE_SUBSCRIPTIONS as u64);
            // A known key again is no new entry.
            io.write_all(b"RS+ $G s.0\r\nPING\r\n").await.unwrap();
            assert!(!until(&mut io, b"PONG\r\n").await.1);
            io.write_all(b"RS+ $G one.too.many\r\nPING\r\n").await.unwrap();
            let (got, eof) = until(&mut io, b"PONG\r\n").await;
            assert!(eof, "closed: {}", String::from_utf8_lossy(&got));
            task.await.unwrap();
            assert_eq!(s.global().sublist.count(), 0, "its interest went with it");
            assert_eq!(lines.count("subscriptions; closing it"), 1, "{}", lines.text());
        }

        /// Interest in accounts this server does not have is held nowhere:
        /// each `RS+` is refused with nats-server's error line and the
        /// route stays up.
        #[tokio::test]
        async fn unknown_accounts_are_held_nowhere() {
            let (lines, _log) = Lines::capture();
            let s = server();
            let (mut io, _task) = peer(&s, 7002, 0).await;
            let mut subs = String::new();
            for i in 0..100 {
                subs += &format!("RS+ ACC{i} s\r\nRS+ ACC{i} t\r\n");
            }
            io.write_all(format!("{subs}PING\r\n").as_bytes()).await.unwrap();
            assert!(!until(&mut io, b"PONG\r\n").await.1, "the route stays up");
            assert_eq!(lines.count("Unknown account"), 200, "{}", lines.text());
            assert_eq!(s.global().sublist.count(), 0);
        }

        #[tokio::test]
        async fn a_peer_s_client_urls_are_bounded() {
            let (lines, _log) = Lines::capture();
            let s = server();
            let (_io, _task) = peer(&s, 7003, 100).await;
            let cluster = s.cluster().unwrap();
            assert_eq!(cluster.remote_connect_urls().len(), MAX_PEER_CONNECT_URLS);
            assert_eq!(lines.count("client URLs; keeping the first"), 1, "{}", lines.text());
        }

        /// Found by fuzzing: a CONNECT after the INFO that registered the
        /// route renamed it, so its close left it registered under the old
        /// id (and a later route from that server was a "duplicate").
        #[tokio::test]
        async fn a_late_connect_does_not_leave_the_route_registered() {
            let s = server();
            let (mut io, task) = peer(&s, 7004, 0).await;
            let cluster = s.cluster().unwrap();
            assert_eq!(cluster.registered().len(), 1);
            io.write_all(b"CONNECT {\"name\":\"renamed\",\"cluster\":\"c\"}\r\nPING\r\n").await.unwrap();
            assert!(!until(&mut io, b"PONG\r\n").await.1);
            drop(io);
            task.await.unwrap();
            assert!(cluster.registered().is_empty(), "still registered after its close");
            assert!(cluster.links().is_empty());
            // The same server comes back and is taken.
            let (_io, _task) = peer(&s, 7004, 0).await;
            assert_eq!(cluster.registered().len(), 1);
        }

        #[tokio::test]
        async fn route_connections_are_bounded() {
            let (lines, _log) = Lines::capture();
            let s = server();
            let mut kept = Vec::new();
            for i in 0..MAX_ROUTE_CONNECTIONS as u16 {
                kept.push(peer(&s, 7100 + i, 0).await);
            }
            // One more: refused at once, its stream closed.
            let (mut io, theirs) = tokio::io::duplex(1 << 10);
            serve_accepted_stream(s.clone(), theirs, SocketAddr::from(([127, 0, 0, 1], 7999))).await;
            let mut byte = [0u8; 1];
            assert_eq!(io.read(&mut byte).await.unwrap(), 0);
            assert_eq!(lines.count("Route connection refused"), 1, "{}", lines.text());
            assert_eq!(s.cluster().unwrap().links().len(), MAX_ROUTE_CONNECTIONS);
            // A place frees up when one goes.
            let (io0, task0) = kept.remove(0);
            drop(io0);
            task0.await.unwrap();
            kept.push(peer(&s, 7200, 0).await);
        }
    }
}
