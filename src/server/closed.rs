//! The ring of recently closed client connections (monitoring's
//! `/connz?state=closed`): at most `max_closed_clients` (10000 by default,
//! as nats-server), oldest dropped first, each with its close reason, its
//! counters and subscriptions at the moment it closed, and the user it
//! presented. The server keeps the facts; monitoring formats them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::clock::unix_nanos;
use super::conn::Connection;
use super::errors::CloseReason;
use super::facts::{subscriptions_of, ConnFacts, SubFacts};

/// A closed connection, frozen when it closed.
#[derive(Debug, Clone)]
pub struct ClosedConn {
    pub facts: ConnFacts,
    /// Unix nanoseconds.
    pub stop: u64,
    pub reason: CloseReason,
    /// Its subscriptions when it closed, in sid order.
    pub subs: Vec<SubFacts>,
    /// Its account's name.
    pub account: String,
}

impl ClosedConn {
    /// Records `conn`, closing now for `reason`.
    pub fn of(conn: &Connection, reason: CloseReason) -> ClosedConn {
        let stop = unix_nanos(SystemTime::now());
        let subs = subscriptions_of(conn).iter().map(|s| SubFacts::of(s)).collect();
        let account = conn.account().name.to_string();
        ClosedConn { facts: ConnFacts::of(conn), stop, reason, subs, account }
    }
}

/// The ring. A std mutex: taken once per closed connection and once per
/// `/connz` that asks for closed ones, never on the message path.
#[derive(Debug)]
pub struct ClosedRing<T = ClosedConn> {
    capacity: usize,
    entries: Mutex<VecDeque<Arc<T>>>,
}

impl<T> ClosedRing<T> {
    /// A ring keeping the last `capacity` connections (none for 0).
    pub fn new(capacity: usize) -> ClosedRing<T> {
        ClosedRing { capacity, entries: Mutex::new(VecDeque::new()) }
    }

    pub fn push(&self, closed: T) {
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
    pub fn list(&self) -> Vec<Arc<T>> {
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

    #[test]
    fn keeps_the_newest_up_to_capacity() {
        let ring = ClosedRing::new(3);
        for cid in 1..=5u64 {
            ring.push(cid);
        }
        let cids: Vec<u64> = ring.list().iter().map(|c| **c).collect();
        assert_eq!(cids, [3, 4, 5]);
        let none = ClosedRing::new(0);
        none.push(1u64);
        assert!(none.is_empty());
    }
}
