//! Binding a listener as Go's `net.Listen("tcp", host:port)` does, for every
//! listener rnats has (clients, routes, monitoring, and those to come).
//!
//! The wildcard address (`0.0.0.0` or `::`) is one IPv6 socket that also
//! takes IPv4 (IPV6_V6ONLY off): nats-server on its default `0.0.0.0`
//! accepts `[::1]:4222` as well as `127.0.0.1:4222`, and clients that
//! resolve `localhost` to `::1` first rely on it. Where the host has no
//! IPv6, the IPv4 wildcard alone. Any other host is bound as written.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;

use super::interfaces::is_wildcard;

/// tokio's (and Go's Linux default) listen backlog.
const BACKLOG: i32 = 1024;

/// A listener on `host:port` (port 0: one the system picks).
pub async fn tcp_listener(host: &str, port: u16) -> io::Result<TcpListener> {
    if !is_wildcard(host) {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        return TcpListener::bind((host, port)).await;
    }
    match dual_stack(port) {
        Ok(listener) => Ok(listener),
        // In use is in use on IPv4 too; say so rather than half-listen.
        Err(e) if matches!(e.kind(), io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied) => Err(e),
        Err(_) => TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).await,
    }
}

/// `[::]:port` taking IPv4 too, with SO_REUSEADDR as Go's listeners have.
fn dual_stack(port: u16) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_only_v6(false)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// A peer's address as Go shows it: an IPv4 client of a dual-stack
/// listener as `127.0.0.1`, not `::ffff:127.0.0.1`.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A named address is bound as written. (The wildcard takes both
    /// families: tests/all_interfaces.rs checks it inside a network
    /// namespace of its own, where binding every address exposes nothing.)
    #[tokio::test]
    async fn named_addresses_as_written() {
        let one = tcp_listener("127.0.0.1", 0).await.expect("bind");
        assert_eq!(one.local_addr().unwrap().ip(), Ipv4Addr::LOCALHOST);
        let v6 = tcp_listener("::1", 0).await;
        assert!(v6.is_err() || v6.unwrap().local_addr().unwrap().ip() == Ipv6Addr::LOCALHOST);
        let bracketed = tcp_listener("[::1]", 0).await;
        assert!(bracketed.is_err() || bracketed.unwrap().local_addr().unwrap().ip() == Ipv6Addr::LOCALHOST);
        assert_eq!(canonical("[::ffff:127.0.0.1]:5".parse().unwrap()), "127.0.0.1:5".parse().unwrap());
    }
}
