//! Connections for the micro-benchmarks in `benches/`: the hot-path
//! functions that take a connection, measured without a server or a socket.

use std::sync::Arc;

use super::{ConnKind, Connection};
use crate::server::account::{Account, GLOBAL_ACCOUNT};
use crate::server::stats::ServerStats;

/// A client connection in an account of its own, never served.
pub fn client(cid: u64) -> Arc<Connection> {
    let account = Arc::new(Account::new(GLOBAL_ACCOUNT));
    let addr = ([127, 0, 0, 1], 4222).into();
    Arc::new(Connection::new(cid, ConnKind::Client, addr, account, Arc::new(ServerStats::default())))
}
