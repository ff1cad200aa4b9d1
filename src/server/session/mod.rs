//! A connection's session: its whole life, from the accepted socket to the
//! close, over any [`Transport`] (TCP, TLS, websocket, in-memory streams).
//!
//! One lifecycle for every role ([`lifecycle`]): accept → handshake (INFO,
//! TLS, and for a route CONNECT) → serve → retire. Two tasks serve a
//! connection: the session reads, parses and acts on every op of a read
//! chunk ([`read_loop`]), and the writer task ([`crate::server::outbound`])
//! drains the outbound buffer, so a publisher never waits on a subscriber's
//! socket. Retirement is a drop guard ([`retire`]), so every exit path, a
//! panic included, unlists the connection and removes its subscriptions.
//!
//! What the ops mean depends on the session's role ([`role::Role`]): a
//! client ([`client`]) or a route, another server of the cluster
//! ([`route`]). The loop, the timers ([`ping`]), the limits and the
//! snapshot handling ([`core`]) are the same for both.

pub mod client;
pub(crate) mod core;
#[cfg(test)]
mod footprint;
pub mod lifecycle;
pub mod ping;
mod read_loop;
mod retire;
pub mod role;
pub mod route;
pub mod trace;
pub mod transport;

use crate::server::errors::CloseReason;

pub use client::accept::{serve_client, serve_websocket_client};
pub use transport::Transport;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Accepted,
    InfoSent,
    Authenticated,
    Closing(CloseReason),
}
