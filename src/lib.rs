//! rnats: a NATS message broker, a drop-in for nats-server 2.x.
//!
//! Two flows shape the crate:
//!
//! * configuration: command line ([`cli`]) → [`options::Options`] → an
//!   `ArcSwap` snapshot inside the running [`server`];
//! * messages: socket → [`server::proto`] → [`server::sublist`] →
//!   [`server::outbound`] buffers → socket.

pub mod bench;
pub mod check;
pub mod cli;
pub mod conf;
pub mod logging;
pub mod options;
pub mod passwd;
pub mod server;
pub mod signals;
pub mod tls;
