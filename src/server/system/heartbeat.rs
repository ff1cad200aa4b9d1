//! The account connections heartbeat (nats-server's `eventsHBInterval`,
//! events.go `sendAccConnsUpdate`): every time an account's `…SERVER.CONNS`
//! event goes out, the account's next one is due 30 s later while it has
//! local connections; an account without any has none due. So an account
//! with clients repeats its event every 30 s after its last change.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// nats-server's `eventsHBInterval`.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);

/// When each account's next connections event is due.
#[derive(Debug, Default)]
pub struct Heartbeats {
    due: HashMap<Box<str>, Instant>,
}

impl Heartbeats {
    /// `account`'s event went out at `now` with `conns` connections: the
    /// next is due one interval later, or never without connections.
    pub fn sent(&mut self, account: &str, conns: u64, now: Instant) {
        if conns == 0 {
            self.due.remove(account);
        } else {
            self.due.insert(account.into(), now + HEARTBEAT_EVERY);
        }
    }

    /// The accounts whose event is due at `now` (they stay scheduled until
    /// [`Heartbeats::sent`] moves them).
    pub fn due(&self, now: Instant) -> Vec<Box<str>> {
        let mut due: Vec<Box<str>> = self.due.iter().filter(|(_, at)| **at <= now).map(|(a, _)| a.clone()).collect();
        due.sort();
        due
    }

    /// The earliest due time, if any account has one.
    pub fn next(&self) -> Option<Instant> {
        self.due.values().min().copied()
    }

    /// Forgets an account (it went away).
    pub fn forget(&mut self, account: &str) {
        self.due.remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_account_with_clients_repeats_every_thirty_seconds_after_its_last_event() {
        let mut hb = Heartbeats::default();
        let t0 = Instant::now();
        hb.sent("A", 1, t0);
        hb.sent("B", 2, t0);
        assert_eq!(hb.next(), Some(t0 + HEARTBEAT_EVERY));
        tokio::time::advance(Duration::from_secs(10)).await;
        // A connect in B moves B's heartbeat 30 s past it.
        hb.sent("B", 3, Instant::now());
        tokio::time::advance(Duration::from_secs(20)).await;
        assert_eq!(hb.due(Instant::now()), vec![Box::from("A")]);
        hb.sent("A", 1, Instant::now());
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(hb.due(Instant::now()), vec![Box::from("B")]);
        assert_eq!(hb.next(), Some(t0 + Duration::from_secs(40)));
    }

    #[tokio::test(start_paused = true)]
    async fn an_account_without_clients_has_no_heartbeat() {
        let mut hb = Heartbeats::default();
        let t0 = Instant::now();
        hb.sent("A", 1, t0);
        hb.sent("A", 0, t0 + Duration::from_secs(5));
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(hb.due(Instant::now()).is_empty());
        assert_eq!(hb.next(), None);
        hb.sent("B", 1, Instant::now());
        hb.forget("B");
        assert_eq!(hb.next(), None);
    }
}
