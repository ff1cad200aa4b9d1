//! The ring of recently closed client connections behind
//! `/connz?state=closed`: at most `max_closed_clients` (10000 by default, as
//! nats-server), oldest dropped first, each with its close reason, its
//! counters and subscriptions at the moment it closed, and the user it
//! presented.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::connz::{fill, subscriptions_of, ConnInfo, SubDetail};
use super::gotime::{rfc3339_from_nanos, unix_nanos, uptime};
use crate::server::conn::Connection;
use crate::server::errors::CloseReason;

/// A closed connection as `/connz` shows it.
#[derive(Debug, Clone)]
pub struct ClosedConn {
    /// Complete, `stop` and `reason` included; uptime and idle frozen at
    /// the close.
    pub info: ConnInfo,
    /// Its subscriptions when it closed (with their account, as
    /// nats-server records them).
    pub subs: Vec<SubDetail>,
    pub user: String,
    /// Its account, when not `$G`.
    pub account: String,
}

impl ClosedConn {
    /// Records `conn`, closing now for `reason`.
    pub fn of(conn: &Connection, reason: CloseReason) -> ClosedConn {
        let stop = unix_nanos(SystemTime::now());
        let mut info = fill(conn, stop);
        info.stop = Some(rfc3339_from_nanos(stop));
        info.keys.stop = Some(stop);
        info.reason = reason.as_str();
        info.uptime = uptime(Duration::from_nanos(stop.saturating_sub(info.keys.start)));
        info.idle = uptime(Duration::from_nanos(stop.saturating_sub(info.keys.last)));
        let account = conn.account.name.to_string();
        let subs = subscriptions_of(conn).iter().map(|s| SubDetail::of(s).with_account(&account)).collect();
        let user = conn.meta.lock().unwrap_or_else(|e| e.into_inner()).user.clone();
        let account = if account == crate::server::account::GLOBAL_ACCOUNT { String::new() } else { account };
        ClosedConn { info, subs, user, account }
    }
}

/// The ring. A std mutex: taken once per closed connection and once per
/// `/connz` that asks for closed ones, never on the message path.
#[derive(Debug)]
pub struct ClosedRing {
    capacity: usize,
    entries: Mutex<VecDeque<Arc<ClosedConn>>>,
}

impl ClosedRing {
    /// A ring keeping the last `capacity` connections (none for 0).
    pub fn new(capacity: usize) -> ClosedRing {
        ClosedRing { capacity, entries: Mutex::new(VecDeque::new()) }
    }

    pub fn push(&self, closed: ClosedConn) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() == self.capacity {
            entries.pop_front();
        }
        entries.push_back(Arc::new(closed));
    }

    /// The entries, oldest first.
    pub fn list(&self) -> Vec<Arc<ClosedConn>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(cid: u64) -> ClosedConn {
        ClosedConn {
            info: ConnInfo { cid, ..ConnInfo::default() },
            subs: Vec::new(),
            user: String::new(),
            account: String::new(),
        }
    }

    #[test]
    fn keeps_the_newest_up_to_capacity() {
        let ring = ClosedRing::new(3);
        for cid in 1..=5 {
            ring.push(entry(cid));
        }
        let cids: Vec<u64> = ring.list().iter().map(|c| c.info.cid).collect();
        assert_eq!(cids, [3, 4, 5]);
        let none = ClosedRing::new(0);
        none.push(entry(1));
        assert!(none.is_empty());
    }
}
