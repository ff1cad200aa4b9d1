//! The other servers this one hears from (nats-server's `s.sys.servers`,
//! events.go `updateRemoteServer`, `checkRemoteServers`): every peer's
//! `$SYS.SERVER.<id>.STATSZ` adds or refreshes its entry, its SHUTDOWN or
//! LAMEDUCK event removes it, and a sweep every [`CHECK_ORPHANS_EVERY`]
//! drops the peers silent for longer than [`ORPHAN_AFTER`] (gone without a
//! word). STATSZ's `active_servers` is this server plus the entries.
//! A peer's account connections event (`$SYS.SERVER.ACCOUNT.<acc>.CONNS`,
//! sent on every change and as a 30 s heartbeat) refreshes it too, and
//! says which peers have clients in an account (nats-server's `strack`):
//! the servers `$SYS.DEBUG.SUBSCRIBERS` waits for.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use super::heartbeat::HEARTBEAT_EVERY;
use super::SystemTask;

/// nats-server's `orphMax`: five heartbeat intervals.
pub const ORPHAN_AFTER: Duration = HEARTBEAT_EVERY.saturating_mul(5);
/// nats-server's `chkOrph`: three heartbeat intervals.
pub const CHECK_ORPHANS_EVERY: Duration = HEARTBEAT_EVERY.saturating_mul(3);

/// The last update heard from one peer.
#[derive(Debug, Clone, Copy)]
struct Heard {
    /// The `seq` of the peer's `ServerInfo`: it only goes up.
    seq: u64,
    at: Instant,
}

/// What a STATSZ update tells about its sender.
#[derive(Debug, PartialEq, Eq)]
pub enum Update {
    /// A server not heard from before.
    New,
    /// A known server's next update.
    Refreshed,
    /// A `seq` not above the last one: ignored (nats-server logs it as out
    /// of order).
    OutOfOrder,
}

/// The peers heard from, and when the next sweep is due.
#[derive(Debug)]
pub struct RemoteServers {
    servers: HashMap<Box<str>, Heard>,
    /// Per account, per peer id: the peer's clients and leaf nodes in it.
    accounts: HashMap<Box<str>, HashMap<Box<str>, u64>>,
    next_sweep: Instant,
}

impl RemoteServers {
    /// An empty table whose first sweep is one interval after `now`.
    pub fn new(now: Instant) -> RemoteServers {
        RemoteServers { servers: HashMap::new(), accounts: HashMap::new(), next_sweep: now + CHECK_ORPHANS_EVERY }
    }

    /// A STATSZ from server `id` with `seq`, heard at `now`.
    pub fn update(&mut self, id: &str, seq: u64, now: Instant) -> Update {
        match self.servers.get_mut(id) {
            None => {
                self.servers.insert(id.into(), Heard { seq, at: now });
                Update::New
            }
            Some(heard) if seq <= heard.seq => Update::OutOfOrder,
            Some(heard) => {
                *heard = Heard { seq, at: now };
                Update::Refreshed
            }
        }
    }

    /// Server `id` said it is shutting down (or entering lame duck mode).
    pub fn remove(&mut self, id: &str) -> bool {
        for peers in self.accounts.values_mut() {
            peers.remove(id);
        }
        self.accounts.retain(|_, peers| !peers.is_empty());
        self.servers.remove(id).is_some()
    }

    /// Server `id` has `conns` clients and leaf nodes in `account` (each
    /// event says it all: no ordering needed).
    pub fn account_conns(&mut self, account: &str, id: &str, conns: u64) {
        self.accounts.entry(account.into()).or_default().insert(id.into(), conns);
    }

    /// How many peers have clients in `account` (nats-server's
    /// `expectedRemoteResponses`).
    pub fn with_clients_in(&self, account: &str) -> usize {
        self.accounts.get(account).map_or(0, |peers| peers.values().filter(|&&n| n > 0).count())
    }

    /// When [`RemoteServers::sweep`] is due.
    pub fn next_sweep(&self) -> Instant {
        self.next_sweep
    }

    /// Drops the servers silent for longer than [`ORPHAN_AFTER`] at `now`,
    /// returns their ids, and schedules the next sweep.
    pub fn sweep(&mut self, now: Instant) -> Vec<Box<str>> {
        let orphans: Vec<Box<str>> = self
            .servers
            .iter()
            .filter(|(_, heard)| now.duration_since(heard.at) > ORPHAN_AFTER)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &orphans {
            self.remove(id);
        }
        self.next_sweep = now + CHECK_ORPHANS_EVERY;
        orphans
    }

    /// How many other servers are known to be up.
    pub fn len(&self) -> usize {
        self.servers.len()
    }
}

/// The `server` of a STATSZ message, the part the table needs.
#[derive(Deserialize)]
struct StatszSender {
    server: SenderInfo,
}

#[derive(Deserialize)]
struct SenderInfo {
    id: String,
    #[serde(default)]
    seq: u64,
}

/// nats-server's `AccountNumConns`, the part the table needs.
#[derive(Deserialize)]
struct AccountConns {
    server: SenderInfo,
    acc: String,
    #[serde(default)]
    conns: u64,
    #[serde(default)]
    leafnodes: u64,
}

/// The sender, its `seq`, the account and its clients and leaf nodes of
/// an account connections event.
pub fn account_conns_sender(payload: &[u8]) -> Option<(String, u64, String, u64)> {
    let m: AccountConns = serde_json::from_slice(payload).ok()?;
    Some((m.server.id, m.server.seq, m.acc, m.conns + m.leafnodes))
}

/// The sender's id and `seq` of a STATSZ payload, `None` when it is not one.
pub fn statsz_sender(payload: &[u8]) -> Option<(String, u64)> {
    let msg: StatszSender = serde_json::from_slice(payload).ok()?;
    Some((msg.server.id, msg.server.seq))
}

/// The server id of `$SYS.SERVER.<id>.SHUTDOWN|LAMEDUCK`, when `payload`
/// is the `ServerInfo` nats-server requires there (an empty or broken one
/// is ignored, as there).
pub fn departing_server<'a>(subject: &'a str, payload: &[u8]) -> Option<&'a str> {
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(payload).ok()?;
    let mut tokens = subject.split('.');
    let id = tokens.nth(2)?;
    tokens.next()?;
    Some(id)
}

impl SystemTask {
    /// A `$SYS.SERVER.<id>.STATSZ` heard (this server's own included: it
    /// listens with echo, as nats-server does, and skips itself).
    pub(super) fn peer_statsz(&mut self, payload: &[u8]) {
        let Some((id, seq)) = statsz_sender(payload) else {
            tracing::debug!("Received bad server info for remote server update");
            return;
        };
        if id != self.server.id() {
            self.heard_from(&id, seq);
        }
    }

    /// Peer `id` sent its message `seq`.
    fn heard_from(&mut self, id: &str, seq: u64) {
        match self.remotes.update(id, seq, Instant::now()) {
            // Announce ourselves to the newcomer (`processNewServer`).
            Update::New => self.statsz_tick(),
            Update::Refreshed => {}
            Update::OutOfOrder => tracing::error!("Received out of order remote server update from: \"{id}\""),
        }
    }

    /// A `$SYS.SERVER.ACCOUNT.<acc>.CONNS` heard: counted only for an
    /// account this server has (nats-server's `remoteConnsUpdate`).
    pub(super) fn peer_account_conns(&mut self, payload: &[u8]) {
        let Some((id, seq, account, conns)) = account_conns_sender(payload) else {
            tracing::debug!("Error unmarshalling account connection event message");
            return;
        };
        if id == self.server.id() || self.server.accounts().get(&account).is_none() {
            return;
        }
        self.remotes.account_conns(&account, &id, conns);
        self.heard_from(&id, seq);
    }

    /// A `$SYS.SERVER.<id>.SHUTDOWN|LAMEDUCK` heard.
    pub(super) fn peer_gone(&mut self, subject: &[u8], payload: &[u8]) {
        let subject = String::from_utf8_lossy(subject);
        match departing_server(&subject, payload) {
            Some(id) => {
                self.remotes.remove(id);
            }
            None => tracing::debug!("Received bad server info for remote server shutdown on {subject}"),
        }
    }

    /// The periodic sweep for peers gone without a word.
    pub(super) fn sweep_remote_servers(&mut self) {
        for id in self.remotes.sweep(Instant::now()) {
            tracing::debug!("Detected orphan remote server: \"{id}\"");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_server_silent_longer_than_orph_max_is_dropped_at_the_next_sweep() {
        let t0 = Instant::now();
        let mut table = RemoteServers::new(t0);
        assert_eq!(table.update("A", 1, t0), Update::New);
        assert_eq!(table.update("B", 1, t0), Update::New);
        // A keeps talking every 10 s; B goes silent.
        for _ in 0..9 {
            tokio::time::advance(Duration::from_secs(10)).await;
            let now = Instant::now();
            let seq = table.servers["A"].seq + 1;
            assert_eq!(table.update("A", seq, now), Update::Refreshed);
            if now >= table.next_sweep() {
                assert!(table.sweep(now).is_empty(), "90 s of silence is not yet orphMax");
            }
        }
        assert_eq!(table.next_sweep(), t0 + 2 * CHECK_ORPHANS_EVERY);
        assert_eq!(table.len(), 2);
        // At 150 s B is exactly orphMax old: still kept (the rule is `>`).
        tokio::time::advance(Duration::from_secs(60)).await;
        let at_150 = Instant::now();
        assert_eq!(at_150 - t0, ORPHAN_AFTER);
        table.update("A", 100, at_150);
        // The sweep at 180 s drops it.
        tokio::time::advance(table.next_sweep() - at_150).await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(180));
        assert_eq!(table.sweep(Instant::now()), vec![Box::from("B")]);
        assert_eq!(table.len(), 1);
        assert_eq!(table.next_sweep(), t0 + Duration::from_secs(270));
    }

    #[tokio::test(start_paused = true)]
    async fn a_sequence_that_does_not_go_up_is_ignored_and_does_not_refresh() {
        let t0 = Instant::now();
        let mut table = RemoteServers::new(t0);
        table.update("A", 5, t0);
        tokio::time::advance(Duration::from_secs(100)).await;
        assert_eq!(table.update("A", 5, Instant::now()), Update::OutOfOrder);
        assert_eq!(table.update("A", 4, Instant::now()), Update::OutOfOrder);
        tokio::time::advance(Duration::from_secs(51)).await;
        assert_eq!(table.sweep(Instant::now()), vec![Box::from("A")]);
        // Heard again after being dropped: a new server.
        assert_eq!(table.update("A", 6, Instant::now()), Update::New);
    }

    #[test]
    fn a_shutdown_removes_the_server_and_names_it_from_the_subject() {
        let mut table = RemoteServers::new(Instant::now());
        table.update("NABC", 1, Instant::now());
        let id = departing_server("$SYS.SERVER.NABC.SHUTDOWN", br#"{"name":"x","id":"NABC"}"#);
        assert_eq!(id, Some("NABC"));
        table.account_conns("A", "NABC", 2);
        table.account_conns("A", "NDEF", 0);
        assert_eq!(table.with_clients_in("A"), 1);
        assert!(table.remove("NABC"));
        assert_eq!(table.len(), 0);
        assert_eq!(table.with_clients_in("A"), 0);
        assert_eq!(departing_server("$SYS.SERVER.NABC.SHUTDOWN", b""), None);
        assert_eq!(departing_server("$SYS.SERVER.NABC", b"{}"), None);
    }

    #[test]
    fn the_sender_of_a_statsz_is_read_from_its_server_info() {
        let payload = br#"{"server":{"name":"n","id":"NX","seq":42,"time":"t"},"statsz":{"active_servers":2}}"#;
        assert_eq!(statsz_sender(payload), Some(("NX".to_string(), 42)));
        assert_eq!(statsz_sender(b"{}"), None);
    }
}
