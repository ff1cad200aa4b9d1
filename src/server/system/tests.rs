//! The system task on a server without sockets, under tokio's paused
//! clock: when STATSZ goes out, and requests answered in order.

use std::sync::Arc;
use std::time::Duration;

use super::MonitorData;
use crate::options::Options;
use crate::server::conn::{ConnKind, Connection};
use crate::server::snapshot::Snapshot;
use crate::server::state::ServerState;

/// Monitoring documents that say nothing.
struct Blank;

impl MonitorData for Blank {
    fn document(&self, _: &str, _: &[(String, String)]) -> Result<(u16, Vec<u8>), String> {
        Ok((200, b"{}".to_vec()))
    }
    fn account_detail(&self, _: &str) -> Option<Vec<u8>> {
        None
    }
    fn account_statz(&self, _: &[String], _: bool) -> Option<Vec<u8>> {
        None
    }
    fn account_stat(&self, _: &str) -> Option<Vec<u8>> {
        None
    }
}

fn server() -> Arc<ServerState> {
    let snapshot = Snapshot::compile(Options::default(), 1, None).expect("default options compile");
    ServerState::new(snapshot, "NTEST".into(), "S1".into())
}

/// A client of the system account listening on `subject`.
fn listener(server: &ServerState, subject: &[u8]) -> Arc<Connection> {
    let account = server.accounts().system().expect("a system account by default");
    let addr = ([127, 0, 0, 1], 4222).into();
    let conn = Arc::new(Connection::new(99, ConnKind::Client, addr, account, server.stats().clone()));
    conn.subscribe(subject, None, b"1", None);
    conn
}

#[tokio::test(start_paused = true)]
async fn statsz_goes_out_at_a_quarter_second_then_doubling_to_every_ten() {
    let server = server();
    let watcher = listener(&server, b"$SYS.SERVER.*.STATSZ");
    super::start(&server, Arc::new(Blank));
    let start = tokio::time::Instant::now();
    let mut arrivals = Vec::new();
    let mut seen = 0;
    // Looks every 50 ms, 25 ms off the timer's own steps: each arrival is
    // seen in the step it happened in.
    tokio::time::sleep(Duration::from_millis(25)).await;
    while start.elapsed() < Duration::from_millis(36_000) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = watcher.outbound.counters().0;
        if now > seen {
            seen = now;
            arrivals.push(start.elapsed().as_millis() / 50 * 50);
        }
    }
    assert_eq!(arrivals, [250, 750, 1750, 3750, 7750, 15750, 25750, 35750]);
    server.begin_shutdown();
}

#[tokio::test(start_paused = true)]
async fn a_standalone_server_sends_no_statsz_nobody_listens_to() {
    let server = server();
    let other = listener(&server, b"$SYS.ACCOUNT.>");
    super::start(&server, Arc::new(Blank));
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(other.outbound.counters().0, 0);
    server.begin_shutdown();
}

#[test]
fn the_registry_makes_the_system_account_unless_told_not_to() {
    use crate::server::accounts::AccountRegistry;
    use crate::server::stats::ServerStats;
    let stats = Arc::new(ServerStats::default());
    let registry = AccountRegistry::new(&Options::default(), stats.clone(), "S1");
    assert_eq!(registry.system().map(|a| a.name.to_string()).as_deref(), Some("$SYS"));
    let global = registry.global().config();
    assert!(global.service_imports.iter().any(|i| &*i.remote == b"$SYS.REQ.USER.$G.INFO"));
    // The imports' entries are in `$G`'s index, the responses' in `$SYS`'s.
    assert!(!registry.global().sublist.match_subject(b"$SYS.REQ.USER.INFO").psubs.is_empty());
    let none = Options { no_system_account: true, ..Options::default() };
    let registry = AccountRegistry::new(&none, stats, "S1");
    assert!(registry.system().is_none());
    assert!(registry.global().config().service_imports.is_empty());
}
